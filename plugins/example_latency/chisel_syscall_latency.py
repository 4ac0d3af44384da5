"""A third-party chisel: per-process system-call latency histograms, drawn in the terminal.

sysdig's catalogue has `spectrogram` (a colour heat map) and `topscalls_time` (totals), but nothing that
shows the *distribution* of latencies per process. This chisel keeps a power-of-two histogram per
(process, syscall) from the real enter→exit latency and draws it the way bcc's tools do.

It imports only `chisel.plugins`, as every chisel must.
"""

from chisel.plugins import Arg, Chisel, format_time_interval, hookimpl

BAR_WIDTH = 40


def bucket_of(latency_ns):
    """The power-of-two bucket of a latency: 0 holds 0-1 ns, k holds [2^(k-1), 2^k) ns."""
    return int(latency_ns).bit_length()


def bucket_label(k):
    """The '[low, high)' range of bucket k, in sysdig's time format."""
    low = 0 if k == 0 else 1 << (k - 1)
    return f"{format_time_interval(low)} .. {format_time_interval(1 << k)}"


class SyscallLatency(Chisel):
    """Histograms of system-call latency per process, drawn in the terminal.

    Each exit event paired with its enter adds its latency (exit time minus enter time) to a
    power-of-two histogram keyed by process name and, with --by-syscall, by system call too. The
    histograms are printed at the end of the capture, and every --interval seconds when asked.
    Narrow it with a filter: `chisel syscall_latency proc.name=nginx and evt.type=read`.
    """

    name = "syscall_latency"
    category = "Performance"
    args = (
        Arg("by_syscall", bool, help="one histogram per process and system call"),
        Arg("top", int, default=5, help="how many histograms to draw, busiest first"),
        Arg("interval", float, default=0.0, help="also draw every INTERVAL seconds (0: only at the end)"),
    )
    events = None  # every system call; the user's filter narrows it
    fields = ("proc.name", "evt.type", "evt.latency")
    prefilter = "evt.dir=<"

    def setup(self, args, ctx):
        self.by_syscall = args.by_syscall
        self.top = args.top
        self.out = ctx.out
        self.json = ctx.json
        self.histograms = {}
        if args.interval > 0:
            ctx.set_interval(args.interval)

    def on_event(self, ev):
        latency = ev.get("evt.latency")
        if not latency:
            return  # no paired enter event: the latency is unknown, not zero
        key = (ev.get("proc.name") or "<NA>",)
        if self.by_syscall:
            key += (ev.get("evt.type"),)
        hist = self.histograms.get(key)
        if hist is None:
            hist = self.histograms[key] = {}
        k = bucket_of(latency)
        hist[k] = hist.get(k, 0) + 1

    def on_interval(self, now_ns, delta_ns):
        self._draw()
        self.histograms.clear()

    def on_end(self, summary):
        self._draw()

    def _busiest(self):
        ranked = sorted(self.histograms.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        return ranked[: self.top] if self.top > 0 else ranked

    def _draw(self):
        busiest = self._busiest()
        if self.json:
            self.out.json([{"key": list(key), "buckets": {bucket_label(k): n for k, n in sorted(h.items())}}
                           for key, h in busiest])
            return
        for key, hist in busiest:
            self.out.line(f"{' '.join(key)}: {sum(hist.values())} calls")
            peak = max(hist.values())
            for k in range(min(hist), max(hist) + 1):
                n = hist.get(k, 0)
                bar = "*" * (n * BAR_WIDTH // peak) if n else ""
                self.out.line(f"  {bucket_label(k):>22} : {n:<8} |{bar:<{BAR_WIDTH}}|")
            self.out.line()


@hookimpl
def chisel_register_chisels():
    return [SyscallLatency]
