"""Sample quick script: a Chisel subclass with no hook at all, found because it is defined here."""

from chisel.plugins import Chisel


class FirstEvent(Chisel):
    """Print the first event's number and type, then nothing."""

    name = "first_event"
    category = "Misc"

    def setup(self, args, ctx):
        self.out, self.done = ctx.out, False

    def on_event(self, ev):
        if not self.done:
            self.out.line(f"first: {ev.num} {ev.name}")
            self.done = True
