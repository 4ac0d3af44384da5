"""Sample broken plugin: a chisel whose name is not a valid chisel name."""

from chisel.plugins import Chisel, hookimpl


class BadName(Chisel):
    """Bad name."""

    name = "Bad Name"


@hookimpl
def chisel_register_chisels():
    return [BadName]
