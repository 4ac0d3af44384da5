"""Sample folder plugin for the tests: counts events per evt.type, no packaging needed."""

from collections import Counter

from chisel.plugins import Arg, Chisel, Column, hookimpl


class CountEvents(Chisel):
    """Count events by type. Prints a table of the busiest types at the end."""

    name = "count_events"
    category = "Misc"
    args = (Arg("top", int, default=3, help="rows to show"),
            Arg("exits_only", bool, help="count only exit events"))
    fields = ("evt.type",)

    def setup(self, args, ctx):
        self.args, self.out, self.counts = args, ctx.out, Counter()

    def on_event(self, ev):
        if not self.args.exits_only or ev.dir == "<":
            self.counts[ev["evt.type"]] += 1

    def on_end(self, summary):
        self.out.table([Column("COUNT"), Column("TYPE")],
                       [(n, t) for t, n in self.counts.most_common(self.args.top)])


@hookimpl
def chisel_register_chisels():
    return [CountEvents]
