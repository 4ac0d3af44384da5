"""Test-only chisel for the soak: reports the state engine's table sizes while a live run goes on.

Every `--every` seconds of event time it prints one JSON line with the number of threads the state
holds and the fds their processes hold. At the
end it prints every thread it still holds and each process's fd numbers, so the soak harness can
compare the state with /proc: a thread or fd the state keeps after its process is gone is a leak.
"""

import json

from chisel.plugins import Arg, Chisel, hookimpl


class SoakProbe(Chisel):
    """Print the state table sizes every interval and the full tables at the end (soak test only)."""

    name = "soak_probe"
    category = "Misc"
    args = (Arg("every", float, default=10.0, help="seconds between size lines"),
            Arg("purge_s", float, default=0.0,
                help="test knob: drop gone threads every N s of event time (0: the state's 60 s)"))
    # I/O and fd events keep the event rate up; state-changing syscalls are attached anyway.
    events = frozenset({"openat", "read", "write", "close"})

    def setup(self, args, ctx):
        self.state, self.out = ctx.state, ctx.out
        self.events_seen = 0
        if args.purge_s:
            # Test-only: like sysdig, the state keeps a main thread that exits before its other
            # threads until its periodic purge; a short purge lets a short soak check the tables.
            self.state.PURGE_INTERVAL_NS = int(args.purge_s * 1e9)
        if ctx.live:
            ctx.set_interval(args.every)

    def on_event(self, ev):
        self.events_seen += 1

    def on_interval(self, now_ns, delta_ns):
        threads = self.state.threads
        tables = {id(th.fdtable): th.fdtable for th in threads.values()}
        self.out.line(json.dumps({"kind": "sizes", "ts": now_ns, "threads": len(threads),
                                  "fds": sum(len(t) for t in tables.values()),
                                  "events": self.events_seen}))

    def on_end(self, summary):
        threads = self.state.threads
        self.out.line(json.dumps({
            "kind": "final", "events": self.events_seen, "drops": summary.drops,
            "threads": [[th.tid, th.pid, th.ptid] for th in threads.values()],
            "fds": {str(th.pid): sorted(th.fdtable) for th in threads.values() if th.tid == th.pid},
        }))


@hookimpl
def chisel_register_chisels():
    return [SoakProbe]
