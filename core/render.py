"""Shared rendering helpers: byte and time formatting, sysdig's tables, colours and JSON writers.

Chisels render through these so every report looks the same and matches sysdig's `common.lua` and
`table_generator.lua` to the character. This module is on the `--list`/`--info` path (through
`chisel.plugins`), so it imports nothing heavy.
"""

import json as _json
import sys

KIB = 1024
_BYTE_UNITS = ((KIB ** 5, "P"), (KIB ** 4, "T"), (KIB ** 3, "G"), (KIB ** 2, "M"), (KIB, "KB"))

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000

TABLE_COLUMN_WIDTH = 20  # table_generator pads every column to 20
TABLE_RULE = "-" * 80

ANSI = {
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "blue": "\x1b[34m",
    "magenta": "\x1b[35m",
    "cyan": "\x1b[36m",
    "bold": "\x1b[1m",
    "reset": "\x1b[0m",
}
CLEAR_SCREEN = "\x1b[2J\x1b[H"


def format_bytes(n):
    """A byte count as sysdig prints it: strict `>` thresholds, only KB carries a B.

    1024 → '1024B', 4096 → '4.00KB', 1.5 MiB → '1.50M'.
    """
    for size, unit in _BYTE_UNITS:
        if n > size:
            return f"{n / size:.2f}{unit}"
    return f"{int(n)}B"


def format_time_interval(ns):
    """A duration in nanoseconds as sysdig prints it: '1.10s', '15ms', '2.05ms', '12us', '3.40us', '7ns'.

    Hundredths are truncated, not rounded, as `common.lua` does with integer arithmetic.
    """
    ns = int(ns)
    if ns >= NS_PER_S:
        return f"{ns // NS_PER_S}.{ns % NS_PER_S // 10_000_000:02d}s"
    if ns >= NS_PER_S // 100:
        return f"{ns // NS_PER_MS}ms"
    if ns >= NS_PER_MS:
        return f"{ns // NS_PER_MS}.{ns % NS_PER_MS // 10_000:02d}ms"
    if ns >= 10 * NS_PER_US:
        return f"{ns // NS_PER_US}us"
    if ns >= NS_PER_US:
        return f"{ns // NS_PER_US}.{ns % NS_PER_US // 10:02d}us"
    return f"{ns}ns"


def extend_string(s, n):
    """Pad `s` to `n` characters; a longer string keeps n-1 characters and a space, so columns never touch.
    A width of 0 or less gives "" (as sysdig's extend_string does)."""
    if n <= 0:
        return ""
    s = str(s)
    if len(s) < n:
        return s.ljust(n)
    return s[: n - 1] + " "


class Column:
    """One table column: an UPPERCASE `header`, a `fmt` callable for cell values, a `width` and `align`.

    `fmt` None shows the value with `str()`; a None value shows as `<NA>`. The last column of a table is
    never cut or padded, as in sysdig's table_generator.
    """

    def __init__(self, header, fmt=None, width=TABLE_COLUMN_WIDTH, align="<"):
        if align not in ("<", ">"):
            raise ValueError(f"align must be '<' or '>', not {align!r}")
        self.header = header
        self.fmt = fmt
        self.width = width
        self.align = align

    def cell(self, value):
        """The text of one cell, before padding."""
        if value is None:
            return "<NA>"
        return self.fmt(value) if self.fmt is not None else str(value)

    def pad(self, text, last):
        """`text` fitted to this column: cut and padded like `extend_string`, right-aligned if asked."""
        if last:
            return text
        if self.align == ">":
            fitted = text[-(self.width - 1):] if len(text) >= self.width else text
            return fitted.rjust(self.width - 1) + " "
        return extend_string(text, self.width)


def table_lines(columns, rows):
    """The lines of a table in sysdig's layout: padded headers, an 80-dash rule, then one line per row.

    The header line pads every column, the last included, as table_generator does; rows leave the last
    cell as it is.
    """
    lines = ["".join(extend_string(c.header, c.width) for c in columns), TABLE_RULE]
    last = len(columns) - 1
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row has {len(row)} cells for {len(columns)} columns: {row!r}")
        lines.append("".join(c.pad(c.cell(v), i == last) for i, (c, v) in enumerate(zip(columns, row))))
    return lines


def colorize(text, name, enabled):
    """`text` wrapped in the ANSI colour `name` when `enabled`, else unchanged."""
    if not enabled:
        return text
    try:
        code = ANSI[name]
    except KeyError:
        raise ValueError(f"unknown colour {name!r}; use one of {', '.join(sorted(ANSI))}") from None
    return f"{code}{text}{ANSI['reset']}"


def table_json(ts_ns, key_fields, key_descs, value_field, value_desc, rows):
    """One sysdig table_generator JSON object, as its chisels print with -j:
    {"ts", "data": [[key..., value], ...], "info"}, indented two spaces per level.

    `rows` are (key, value) pairs (a tuple key spreads over several key columns); `ts_ns` is cut
    to whole seconds. table_generator's quirk is kept: the value's info entry always sits at
    index 2 (so with one key, index 1 is null).
    """
    info = [{"name": f, "desc": d, "is_key": True} for f, d in zip(key_fields, key_descs)]
    while len(info) < 2:
        info.append(None)
    info[2:3] = [{"name": value_field, "desc": value_desc, "is_key": False}]
    data = [[*(key if isinstance(key, tuple) else (key,)), value] for key, value in rows]
    ts = str((ts_ns or 0) // 1_000_000_000 * 1_000_000_000)
    return sysdig_json({"ts": ts, "data": data, "info": info})


def sysdig_json(value, level=0):
    """`value` as sysdig's Lua chisels print JSON (dkjson, indent on): objects one member a line,
    arrays on one line, no space after ':'."""
    if isinstance(value, dict):
        pad = "  " * (level + 1)
        members = ",".join(f"\n{pad}{_json.dumps(k)}:{sysdig_json(v, level + 1)}" for k, v in value.items())
        return "{" + members + "\n" + "  " * level + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(sysdig_json(v, level + 1) for v in value) + "]"
    if value is None:
        return "null"
    return _json.dumps(value, ensure_ascii=False)


def to_json(obj, indent=None):
    """`obj` as JSON text: bytes are decoded (invalid bytes escaped), sets become sorted lists."""
    return _json.dumps(obj, indent=indent, default=_json_default, ensure_ascii=False)


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Output:
    """Where a chisel writes: plain text, sysdig tables, JSON, colours (terminal only), screen clearing.

    `stream` is a text stream (stdout by default); `color` None means "only when the stream is a
    terminal". Writes go straight to the stream; the session flushes at the end.
    """

    def __init__(self, stream=None, color=None, is_tty=None):
        self.stream = stream if stream is not None else sys.stdout
        if is_tty is None:
            isatty = getattr(self.stream, "isatty", None)
            is_tty = bool(isatty and isatty())
        self.is_tty = is_tty
        self.color_enabled = is_tty if color is None else bool(color)

    def write(self, text):
        """Write `text` as it is."""
        self.stream.write(text)

    def line(self, text=""):
        """Write `text` and a newline."""
        self.stream.write(f"{text}\n")

    def table(self, columns, rows):
        """Write a table in sysdig's 20-column layout (see `table_lines`)."""
        self.stream.write("".join(f"{ln}\n" for ln in table_lines(columns, rows)))

    def json(self, obj, indent=None):
        """Write `obj` as one JSON document followed by a newline."""
        self.stream.write(to_json(obj, indent) + "\n")

    def color(self, text, name):
        """`text` in colour `name` (red, green, blue, ...) when colours are on; does not write."""
        return colorize(text, name, self.color_enabled)

    def color_code(self, name):
        """The bare ANSI code for colour `name` ("reset" included), with no reset after it, or ""
        when colours are off: sysdig's chisels print such codes and reset once at the end."""
        if name not in ANSI:
            raise ValueError(f"unknown colour {name!r}; use one of {', '.join(sorted(ANSI))}")
        return ANSI[name] if self.color_enabled else ""

    def table_json(self, ts_ns, key_fields, key_descs, value_field, value_desc, rows):
        """Write one table as sysdig's table_generator JSON (see `table_json`)."""
        self.stream.write(table_json(ts_ns, key_fields, key_descs, value_field, value_desc, rows) + "\n")

    def clear_screen(self):
        """Clear the terminal and home the cursor; does nothing when not writing to a terminal."""
        if self.is_tty:
            self.stream.write(CLEAR_SCREEN)

    def flush(self):
        """Flush the underlying stream."""
        self.stream.flush()
