"""Sample plugin clashing with good/count_events.py: same chisel name."""

from chisel.plugins import Chisel, hookimpl


class OtherCount(Chisel):
    """Another chisel called count_events."""

    name = "count_events"


@hookimpl
def chisel_register_chisels():
    return [OtherCount]
