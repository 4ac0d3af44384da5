"""The public chisel API: everything a chisel (built-in or third-party) imports.

    from chisel.plugins import Arg, Chisel, Column, format_bytes, hookimpl

Importing this package is cheap: it pulls in no event model, no bcc.
"""

from chisel.core.render import (
    Column,
    Output,
    extend_string,
    format_bytes,
    format_time_interval,
    table_json,
)
from chisel.plugins.api import IO_EVENTS, Arg, Chisel, Context, IoTotals, Summary, count
from chisel.plugins.hookspecs import hookimpl

__all__ = [
    "IO_EVENTS",
    "Arg",
    "Chisel",
    "Column",
    "Context",
    "IoTotals",
    "Output",
    "Summary",
    "count",
    "extend_string",
    "format_bytes",
    "format_time_interval",
    "hookimpl",
    "table_json",
]
