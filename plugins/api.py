"""The chisel API: `Chisel` (what a chisel is), `Arg` (its typed options) and `Context` (its handle on the run).

A chisel is a class: metadata as class attributes (readable without running anything, so `--list` and
`--info` stay fast) and four callbacks. Per-event calls go straight to `on_event`; nothing here goes
through pluggy. This module imports nothing heavy: no event model, no bcc.
"""

from types import SimpleNamespace

from chisel.core.errors import UsageError
from chisel.core.render import Output

# The evt.type names sysdig marks as reads or writes (evt.is_io): the events an I/O chisel asks for.
IO_EVENTS = frozenset({
    "read", "readv", "pread", "preadv", "recv", "recvfrom", "recvmsg", "recvmmsg",
    "write", "writev", "pwrite", "pwritev", "send", "sendto", "sendmsg", "sendmmsg", "sendfile",
})


def count(text):
    """An `Arg` type: an integer of 0 or more (a row count where 0 means every row)."""
    value = int(text)
    if value < 0:
        raise ValueError(f"negative count {value}")
    return value


# How each Arg type reads text from the command line, and the example shown when it fails.
_TYPE_WORDS = {int: ("an integer", "10"), float: ("a number", "1.5"), str: ("a string", "text")}
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class Arg:
    """A typed chisel argument; on the command line it becomes `--name VALUE` (a flag when `type` is bool).

    `type` is int, float, str or bool (or any callable taking the text and raising ValueError);
    `default` is used when the option is absent; `choices` limits the accepted values; `required`
    makes the option mandatory. Underscores in `name` become dashes in the option (`--max-depth`).
    """

    def __init__(self, name, type=str, default=None, choices=None, help="", required=False):
        if not name.isidentifier():
            raise ValueError(f"Arg name {name!r} must be a Python identifier")
        self.name = name
        self.type = type
        self.default = False if type is bool and default is None else default
        self.choices = tuple(choices) if choices is not None else None
        self.help = help
        self.required = required

    def __repr__(self):
        return f"Arg({self.name!r}, {getattr(self.type, '__name__', self.type)}, default={self.default!r})"

    @property
    def option(self):
        """The command-line spelling, e.g. `--max-depth`."""
        return "--" + self.name.replace("_", "-")

    @property
    def is_flag(self):
        """True when the option takes no value (bool args)."""
        return self.type is bool

    @property
    def type_name(self):
        """A short word for the type, for `--info` (`int`, `float`, `str`, `flag`)."""
        return "flag" if self.is_flag else getattr(self.type, "__name__", "value")

    def convert(self, text):
        """The value of `text` for this arg; a bad value raises `UsageError` naming the option."""
        if self.type is bool:
            value = self._convert_bool(text)
        else:
            try:
                value = self.type(text)
            except (TypeError, ValueError):
                what, example = _TYPE_WORDS.get(self.type, (f"a valid {self.type_name}", "VALUE"))
                raise UsageError(f"bad value for {self.option}: {text!r} is not {what}; "
                                 f"pass a value such as {self.option} {example}") from None
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"bad value for {self.option}: {text!r} is not a choice; "
                             f"use one of {', '.join(map(str, self.choices))}")
        return value

    def _convert_bool(self, text):
        if isinstance(text, bool):
            return text
        word = str(text).lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise UsageError(f"bad value for {self.option}: {text!r} is not a boolean; use true or false")


def _first_sentence(text):
    """The docstring's first sentence (up to the first '. ' or the first blank line), one line."""
    para = " ".join((text or "").strip().split("\n\n", 1)[0].split())
    end = para.find(". ")
    return para[: end + 1] if end >= 0 else para


class Chisel:
    """Base class of every chisel; subclass it, set the metadata, override the callbacks you need.

    Metadata: `name` (lowercase snake_case), `aliases` (sysdig names this chisel covers), `category`
    (sysdig's: I/O, Net, Security, ...), `args` (tuple of `Arg`), `events` (frozenset of evt.type names;
    None means every event), `fields` (field names checked at load), `prefilter` (sysdig filter text
    ANDed with the user's; None for none), `snaplen` (bytes of I/O data wanted; `-s` wins),
    `io_totals` (True: the chisel can take byte totals per fd through `on_io_totals` instead of
    its read/write events, so a live run may add them up in the kernel; see `takes_io_totals`).
    The docstring's first sentence is the `--list` summary; the whole docstring is `--info`.
    """

    name = None
    aliases = ()
    category = "Misc"
    args = ()
    events = None
    fields = ()
    prefilter = None
    snaplen = None
    io_totals = False

    def setup(self, args, ctx):
        """Called once before the first event; `args` is a namespace of Arg values, `ctx` a `Context`."""

    def on_event(self, ev):
        """Called for each event of `events` that passed the global filter and `prefilter`."""

    def on_interval(self, now_ns, delta_ns):
        """Called once per interval slot (after `ctx.set_interval`), on event time.

        `now_ns` is the timestamp of the event that opened the new slot; `delta_ns` the time since the
        previous slot started (sysdig's on_interval arguments).
        """

    def on_end(self, summary):
        """Called at the end of the capture; `summary` has first_ts, last_ts, events, drops, live."""

    def on_io_totals(self, totals):
        """Called, in a run that adds up I/O in the kernel, with a list of `IoTotals` records.

        They stand for the exit events of the aggregated calls (read, write, pread, pwrite, readv,
        writev, preadv, pwritev, recvfrom, sendto, recvmsg, sendmsg), which `on_event` then never
        sees; every other subscribed event still arrives there. Records come when an fd is closed,
        when its process exits, just before each `on_interval` (every second of event time when no
        chisel ticks) and a last time before `on_end`. Neither the prefilter
        nor the global filter applies to them: check `fd.type` and the like yourself.
        """

    @classmethod
    def takes_io_totals(cls, args):
        """Whether this run of the chisel (its parsed `args`) can take `on_io_totals` instead of I/O
        events; `io_totals` by default. Override when some options need the events themselves."""
        return bool(cls.io_totals)

    @classmethod
    def summary(cls):
        """The one-line description: the docstring's first sentence."""
        return _first_sentence(cls.__doc__)

    @classmethod
    def description(cls):
        """The long help: the whole docstring, dedented."""
        import inspect  # noqa: PLC0415 - only --info needs it

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def default_args(cls):
        """A namespace holding every Arg's default (what `setup` receives when no option is given)."""
        return SimpleNamespace(**{a.name: a.default for a in cls.args})

    @classmethod
    def build_args(cls, values):
        """A namespace from `values` {name: value or text}; text is converted, unknown names are an error."""
        known = {a.name: a for a in cls.args}
        ns = cls.default_args()
        for key, value in values.items():
            arg = known.get(key.replace("-", "_"))
            if arg is None:
                raise UsageError(f"chisel {cls.name} has no argument {key!r}; "
                                 f"see 'chisel --info {cls.name}'")
            setattr(ns, arg.name, arg.convert(value) if isinstance(value, str) else value)
        missing = [a.option for a in cls.args if a.required and getattr(ns, a.name) is None]
        if missing:
            raise UsageError(f"chisel {cls.name} needs {', '.join(missing)}; "
                             f"see 'chisel --info {cls.name}'")
        return ns


class IoTotals:
    """What the aggregated I/O calls on one fd of one process added since the previous record.

    `ts`: event time of the flush (ns); `thread`: the process's main `ThreadInfo` (None when the
    state does not know it); `fdnum`: the fd number; `fd`: its `FdInfo` resolved through the state
    at the flush (None when unknown); `bytes_in` / `bytes_out`: positive results of reads / writes;
    `ops_in` / `ops_out`: calls, failed ones included; `closed`: the fd's last record (its close).
    """

    __slots__ = ("ts", "thread", "fdnum", "fd", "bytes_in", "bytes_out", "ops_in", "ops_out", "closed")

    def __init__(self, ts, thread, fdnum, fd, bytes_in=0, bytes_out=0, ops_in=0, ops_out=0, closed=False):
        self.ts, self.thread, self.fdnum, self.fd = ts, thread, fdnum, fd
        self.bytes_in, self.bytes_out = bytes_in, bytes_out
        self.ops_in, self.ops_out = ops_in, ops_out
        self.closed = closed

    @property
    def bytes(self):
        """Bytes read plus bytes written."""
        return self.bytes_in + self.bytes_out

    @property
    def ops(self):
        """Calls of either direction."""
        return self.ops_in + self.ops_out

    def __repr__(self):
        name = self.fd.name if self.fd is not None else None
        return (f"IoTotals(fd={self.fdnum} {name!r} in={self.bytes_in} out={self.bytes_out} "
                f"ops={self.ops_in}/{self.ops_out}{' closed' if self.closed else ''})")


class Summary(SimpleNamespace):
    """What `on_end` receives: `first_ts`, `last_ts` (ns or None), `events` (count seen), `drops`, `live`."""


class Context:
    """A chisel's only handle on the run.

    `live` (capturing now, not replaying), `json` (-j given), `is_tty` (stdout is a terminal),
    `buffer_format` ('normal', 'ascii' -A, 'hex' -x, 'hexascii' -X, 'base64' -b), `snaplen`,
    `out` (an `Output`), `state` (the state engine's tables, read only; None before the run).
    """

    def __init__(self, *, out=None, live=False, json=False, buffer_format="normal", snaplen=None,
                 state=None, interval_setter=None):
        self.out = out if out is not None else Output()
        self.live = live
        self.json = json
        self.is_tty = self.out.is_tty
        self.buffer_format = buffer_format
        self.snaplen = snaplen
        self.state = state
        self._interval_setter = interval_setter
        self.interval_ns = None

    def set_interval(self, seconds):
        """Ask for `on_interval` every `seconds` of event time (slots aligned to multiples of it)."""
        if not seconds or seconds <= 0:
            raise UsageError(f"bad interval {seconds!r}: it must be a positive number of seconds; "
                             "pass a value such as --interval 1")
        self.interval_ns = int(round(seconds * 1_000_000_000))
        if self._interval_setter is not None:
            self._interval_setter(self.interval_ns)

    def format_buffer(self, data):
        """I/O data rendered in the current buffer format, as sysdig prints `evt.arg.data`."""
        from chisel.core.evtinfo import format_buffer  # noqa: PLC0415 - keep it off the --list path

        return format_buffer(data, self.buffer_format)
