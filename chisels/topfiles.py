"""topfiles: the files with the most I/O (bytes, time, errors or operations), in sysdig's table layout.

Replaces sysdig's topfiles_bytes, topfiles_time and topfiles_errors (all three built on its
table_generator): the same table, the same JSON, one chisel with `--by`. The sysdig names stay
available as chisels of their own that only change the default of `--by` (and, for errors, which
calls count), so `chisel topfiles_time` does what `sysdig -c topfiles_time` did.
"""

from collections import Counter

from chisel.plugins import IO_EVENTS, Arg, Chisel, Column, count, format_bytes, format_time_interval


# --by mode -> (value header, value field named in the JSON info, cell formatter): sysdig's
# table_generator arguments for the matching topfiles_* chisel.
_MODES = {
    "bytes": ("Bytes", "evt.rawarg.res", format_bytes),
    "time": ("Time", "evt.latency", format_time_interval),
    "errors": ("#Errors", "evt.count", str),
    "ops": ("Ops", "evt.count", str),
}
_KEY_FIELD, _KEY_HEADER = "fd.name", "Filename"
# --by modes a per-fd sum of bytes or calls answers, so a live run may add them up in the kernel
_TOTALS_MODES = {"bytes": lambda t: t.bytes, "ops": lambda t: t.ops}


def _by_arg(default):
    return Arg("by", str, default=default, choices=tuple(_MODES),
               help="what to rank files by: bytes (read+written), time (latency of the calls, "
                    "from enter to exit), errors (failed calls) or ops (number of calls)")


_COMMON_ARGS = (
    Arg("top", count, default=10, help="rows to show (0: all)"),
    Arg("interval", float, default=1.0,
        help="live only: seconds between redraws; each redraw shows that interval's totals"),
)


class TopFiles(Chisel):
    """Top files by bytes read + written.

    One row per file name, highest first: the value padded to 20 columns, then the file name, under
    sysdig's header and 80-dash rule. From a capture file: one table of totals at the end. Live: a
    table of the last interval every --interval seconds (the screen is cleared first on a terminal),
    then the counts restart. With -j: one JSON object per table, as sysdig's table_generator prints
    it ({"ts", "data": [[file, value], ...], "info"}). When a live run ends, the last partial
    interval is shown too (sysdig drops it).

    --by ranks by bytes (read + written, the default), time (the real latency of each call,
    measured from its enter to its exit event), errors (failed calls) or ops (calls).
    Only fds of type file count (fd.type=file); bytes are the positive results of I/O calls.
    Live, --by bytes and --by ops let the kernel add up reads and writes per fd (the same totals,
    without an event per call); --no-kernel-agg turns that off.
    Aliases: topfiles_bytes. The chisels topfiles_time and topfiles_errors are this one with
    --by time / --by errors.
    """

    name = "topfiles"
    aliases = ("topfiles_bytes",)
    category = "I/O"
    args = (_by_arg("bytes"), *_COMMON_ARGS)
    events = IO_EVENTS
    fields = ("fd.name", "evt.rawarg.res", "evt.failed")
    prefilter = "fd.type=file and evt.is_io=true"
    io_totals = True

    @classmethod
    def takes_io_totals(cls, args):
        return cls.io_totals and args.by in _TOTALS_MODES

    def setup(self, args, ctx):
        self.ctx = ctx
        self.out = ctx.out
        self.by = args.by
        self.top = args.top
        self.totals = Counter()
        self.last_tick_ns = None
        if ctx.live:
            ctx.set_interval(args.interval)

    def value_of(self, ev):
        """What `ev` adds to its file's total under the current --by mode (0 or None: nothing)."""
        if self.by == "bytes":
            return ev["evt.rawarg.res"]
        if self.by == "errors":
            return 1 if ev["evt.failed"] else 0
        if ev.dir != "<":
            return 0  # time and ops count each call once, at its exit
        if self.by == "ops":
            return 1
        enter = ev.enter
        return ev.ts - enter.ts if enter is not None else 0

    def on_event(self, ev):
        name = ev[_KEY_FIELD]
        if name is None:
            return  # table_generator skips events whose key is missing
        value = self.value_of(ev)
        if value is not None and value > 0:
            self.totals[name] += value

    def on_io_totals(self, totals):
        value_of = _TOTALS_MODES[self.by]
        for record in totals:
            fd = record.fd
            if fd is None or fd.type != "file" or fd.name is None:
                continue  # what the prefilter (fd.type=file) and a missing key leave out
            value = value_of(record)
            if value > 0:
                self.totals[fd.name] += value

    def on_interval(self, now_ns, delta_ns):
        self.ctx.out.clear_screen()
        self.report(now_ns)
        self.totals = Counter()

    def on_end(self, summary):
        # From a file: the one table of totals. Live, sysdig only clears the screen here and loses the
        # last partial interval; we show it when it counted anything, so a short command's I/O is seen.
        if self.ctx.live and not self.totals:
            return
        if self.ctx.live:
            self.ctx.out.clear_screen()
        self.report(summary.last_ts)

    def ranked(self):
        """(file, value) pairs, highest value first, cut at --top (0: all)."""
        return self.totals.most_common(self.top or None)

    def report(self, ts_ns):
        """Print one table (or one JSON object with -j) of the current totals."""
        header, field, fmt = _MODES[self.by]
        rows = self.ranked()
        if self.ctx.json:
            self.out.table_json(ts_ns, [_KEY_FIELD], [_KEY_HEADER], field, header, rows)
            return
        self.out.table([Column(header, fmt), Column(_KEY_HEADER)], [(v, k) for k, v in rows])


class TopFilesTime(TopFiles):
    """Top files by time spent in I/O calls on them.

    topfiles with --by time by default: the latency of each read/write call on a file (from its
    enter to its exit event), summed per file. See topfiles for the options and the layout.
    """

    name = "topfiles_time"
    aliases = ()
    args = (_by_arg("time"), *_COMMON_ARGS)


class TopFilesErrors(TopFiles):
    """Top files by number of failed calls.

    topfiles with --by errors by default and sysdig's topfiles_errors filter: every failed call on
    an fd of type file counts, not only reads and writes. See topfiles for the options and the layout.
    """

    name = "topfiles_errors"
    aliases = ()
    args = (_by_arg("errors"), *_COMMON_ARGS)
    events = None  # any failing call on a file fd counts (close, fstat, lseek, ...), as in sysdig
    prefilter = "fd.type=file and evt.failed=true"
    io_totals = False  # its errors come from every call, not from the I/O totals
