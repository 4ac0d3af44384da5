"""Sample plugin whose chisel raises in on_event: stopped with one line, the run exits 1."""

from chisel.plugins import Chisel, hookimpl


class Crashes(Chisel):
    """Raise on the third event."""

    name = "crashes"
    category = "Misc"

    def setup(self, args, ctx):
        self.seen = 0

    def on_event(self, ev):
        self.seen += 1
        if self.seen == 3:
            raise ZeroDivisionError("third event")


@hookimpl
def chisel_register_chisels():
    return [Crashes]
