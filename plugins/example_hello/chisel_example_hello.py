"""A template third-party chisel: which processes open files, and how many times.

Copy this file and its pyproject.toml to start a chisel of your own: the class declares its metadata,
the hook hands it to chisel, and the entry point in pyproject.toml makes `pip install` enough.
It imports only `chisel.plugins`, as every chisel must.
"""

from collections import Counter

from chisel.plugins import Arg, Chisel, Column, hookimpl


class HelloOpens(Chisel):
    """Count successful file opens per process.

    Each successful open, openat or openat2 adds one to its process's count; the busiest processes
    are printed at the end as a table (or as JSON with -j). Narrow it with a filter, for example
    `chisel hello_opens fd.name contains /etc`.
    """

    name = "hello_opens"
    category = "Misc"
    args = (Arg("top", int, default=10, help="how many processes to show"),)
    events = frozenset({"open", "openat", "openat2"})
    fields = ("proc.name", "evt.failed")
    prefilter = "evt.dir=< and evt.failed=false"

    def setup(self, args, ctx):
        self.top = args.top
        self.ctx = ctx
        self.opens = Counter()

    def on_event(self, ev):
        self.opens[ev.get("proc.name")] += 1

    def on_end(self, summary):
        rows = self.opens.most_common(self.top)
        if self.ctx.json:
            self.ctx.out.json({"opens": [{"proc": p, "count": n} for p, n in rows]})
        else:
            self.ctx.out.table([Column("OPENS"), Column("PROCESS")], [(n, p) for p, n in rows])


@hookimpl
def chisel_register_chisels():
    return [HelloOpens]
