"""echo_fds: the data processes read and write, each chunk under a `------ Read 4.00KB from ...` header."""

import json

from chisel.plugins import IO_EVENTS, Arg, Chisel, format_bytes

class EchoFds(Chisel):
    """Print the data read and written by processes.

    For each successful read or write (any fd: files, sockets, pipes, terminals) a header names the
    direction, the size, the fd name and the process, then the data follows in the current buffer
    format (normal by default; -A ascii, -x hex, -X hex and ascii, -b base64), up to the snaplen
    (2000 bytes unless -s says otherwise). Reads are red and writes blue, on a terminal only;
    --no-color turns colours off. --read or --write shows one direction only. With -j the data
    line is a JSON object, {"evt.arg.data": "..."}, as sysdig prints it.

    Replaces sysdig's echo_fds; its disable_color argument is --no-color here, and --read/--write
    are new. Combine with a filter to narrow it, e.g. `chisel echo_fds proc.name=cat`.
    """

    name = "echo_fds"
    category = "I/O"
    args = (
        Arg("no_color", bool, help="no ANSI colours, even on a terminal (as the global --no-color)"),
        Arg("read", bool, help="show reads only (with --write: both)"),
        Arg("write", bool, help="show writes only (with --read: both)"),
    )
    events = IO_EVENTS
    fields = ("evt.rawarg.data", "evt.is_io_read", "evt.rawarg.res", "fd.name", "proc.name")
    prefilter = "evt.is_io=true and evt.dir=< and evt.rawres>0"
    snaplen = 2000

    def setup(self, args, ctx):
        self.ctx = ctx
        self.out = ctx.out
        # sysdig prints bare colour codes (no reset after each header; one at the end)
        code = (lambda name: "") if args.no_color else ctx.out.color_code
        self.red, self.blue, self.reset = code("red"), code("blue"), code("reset")
        # Neither flag (or both) means both directions, as sysdig shows.
        self.show_reads = args.read or not args.write
        self.show_writes = args.write or not args.read

    def on_event(self, ev):
        res = ev["evt.rawarg.res"]
        if res is None or res <= 0:
            return
        is_read = bool(ev["evt.is_io_read"])
        if not (self.show_reads if is_read else self.show_writes):
            return
        self.out.line(self.header(is_read, res, ev["fd.name"], ev["proc.name"]))
        data = ev["evt.rawarg.data"]
        text = self.ctx.format_buffer(data if data is not None else b"")
        if self.ctx.json:
            # sysdig's -j turns its `%evt.arg.data` formatter into one compact JSON object per event.
            text = json.dumps({"evt.arg.data": text}, separators=(",", ":"), ensure_ascii=False)
        self.out.line(text)

    def header(self, is_read, nbytes, fd_name, proc_name):
        """sysdig's header line; the doubled space is its empty container slot (filled only with -pc)."""
        colour = self.red if is_read else self.blue
        verb, prep = ("Read", "from") if is_read else ("Write", "to")
        fd_name = "<NA>" if fd_name is None else fd_name
        proc_name = "<NA>" if proc_name is None else proc_name
        return f"{colour}------ {verb} {format_bytes(nbytes)} {prep}  {colour} {fd_name} ({proc_name})"

    def on_end(self, summary):
        # sysdig prints the reset code at the end even when it is empty (colours off): one last line.
        self.out.line(self.reset)
