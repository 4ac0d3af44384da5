"""`FieldDef`, the description of one field, and `BOUND`, the run's state that extractors read.

Kept apart from the registry (`fields.py`) so the modules holding the built-in fields
(`fields_evt.py`, `fields_proc.py`, `fields_fd.py`, `fields_user.py`) can import it without a cycle.

How extractors reach the state: the session creates the `State` and calls
`registry().bind_state(state)`, which stores it here in `BOUND.state`. Extractors that only need
the event's own thread or fd use `ev.thread` / `ev.fd` (set by the state engine) and never touch
`BOUND`; those that walk ancestors, name users or render arguments read `BOUND.state` (None when
nothing is bound: such fields then give None, never raise).
"""

# Print forms for `FieldDef.display`: how `-p` shows an int (sysdig's PF_* print formats).
DEC, PADDED_DEC = "dec", "padded_dec"
# Print form of a DOUBLE that sysdig shows with one decimal (proc.fdusage); of hex ints (fd.dev).
ONE_DECIMAL, HEX = "one_decimal", "hex"


class FieldDef:
    """One field: `name` (sysdig's spelling), `ftype`, one-line `doc`, and `extract`.

    `ftype` uses sysdig's type names: UINT64, INT64, UINT32, INT32, INT16, CHARBUF, BYTEBUF, BOOL,
    IPADDR, IPNET, PORT, RELTIME, ABSTIME, DOUBLE, DYNAMIC. Extracted values are typed Python
    values: `int` for numeric types (PORT, RELTIME and ABSTIME included), `bool` for BOOL, `str`
    for CHARBUF,
    `bytes` for BYTEBUF, `float` for DOUBLE, and for IPADDR the address as *text* ('10.0.0.1',
    '2001:db8::1'; the filter turns text into `ipaddress` objects itself); None when the field does
    not apply to the event (shown as <NA>).

    `extract(ev)` computes the value; a field that takes an argument (`arg` is 'index' for `[N]`,
    'name' for `[TEXT]` or a dotted suffix such as `evt.arg.fd`, 'any' for either) is called as
    `extract(ev, arg)` with the argument already parsed (an int for an index, else a str), or None
    when `arg_required` is False and the user gave none.

    `filter_only` fields (fd.ip, fd.port, fd.net, fd.proto, fd.cnet...) return a *tuple of
    candidate values* (one per endpoint); a filter check matches when any candidate matches, and
    `-p` refuses them. `cls` is the field class shown by `--list-fields` ('evt', 'process', 'fd',
    'user', 'group', or a plugin's own). `display` is the print form of ints for `-p`
    (`PADDED_DEC` pads nanosecond parts to 9 digits as sysdig does; `ONE_DECIMAL` prints a DOUBLE
    with one decimal; `HEX` an int in upper-case hex); use `format(value)` to get the text.

    `stateful` marks an extractor with a memory of the events it was called for (evt.deltatime):
    a filter using one is evaluated check by check in the order written, never folded per type.

    Two optional hints let the compiled filter skip work; both must describe `extract` exactly
    (tests/unit/test_filter_speedpaths.py checks the built-in fields on every bundled capture):
    * `per_type`: True when the value depends only on `ev.info` for every event whose type is not
      the generic `syscall` (evt.dir, evt.is_io...), or a function `per_type(info)` saying so for
      one type (fd.* fields are None for every event whose type has no fd). `extract` must then
      need nothing but `ev.info`, `ev.type` and (as None) `ev.fd` / `ev.fdnum`.
    * `inline`: how generated filter code reads the value without the registry, as a spec or
      as a function of an event type's `EventInfo` giving that type's spec (or None):
      `("event", ATTR)` is `ev.ATTR`; `("thread", ATTR)` is `ev.thread.ATTR` (a third item,
      a Python type, promises the attribute is exactly of it); `("fd", ATTR)` is `ev.fd.ATTR` (only
      from a function: valid on types about an fd); `("param_int64", I)` is raw parameter I read
      as a little-endian int64 when it has 8 bytes; `("call",)` calls `extract` uncached (cheap,
      pure fields). Without a thread, an fd or 8 bytes, `extract` decides. Fields without a spec
      go through `ev.get` (cached for the chisel and output too).
    """

    __slots__ = ("name", "ftype", "doc", "extract", "arg", "filter_only", "cls", "arg_required",
                 "display", "per_type", "inline", "stateful")

    ARG_KINDS = (None, "index", "name", "any")

    def __init__(self, name, ftype, doc, extract, arg=None, filter_only=False, cls="evt", *,
                 arg_required=True, display=DEC, per_type=False, inline=None, stateful=False):
        if arg not in self.ARG_KINDS:
            raise ValueError(f"field {name}: arg must be one of {self.ARG_KINDS}, not {arg!r}")
        self.name = name
        self.ftype = ftype
        self.doc = doc
        self.extract = extract
        self.arg = arg
        self.filter_only = filter_only
        self.cls = cls
        self.arg_required = arg_required
        self.display = display
        self.per_type = per_type
        self.inline = inline
        self.stateful = stateful

    def format(self, value):
        """The text `-p` shows for `value` (None stays None, for <NA>)."""
        if value is None:
            return None
        if value is True or value is False:
            return "true" if value else "false"
        if type(value) is int and self.display != DEC:
            return f"{value:09d}" if self.display == PADDED_DEC else f"{value:X}"
        if isinstance(value, bytes):
            return value.decode("utf-8", "surrogateescape")
        if type(value) is float:
            return f"{value:.1f}" if self.display == ONE_DECIMAL else f"{value:f}"
        return str(value)

    def __repr__(self):
        return f"FieldDef({self.name} {self.ftype})"


_FD_FLAGS = frozenset({"EF_USES_FD", "EF_CREATES_FD", "EF_DESTROYS_FD"})


def has_fd(info):
    """Whether events of this type are about an fd (sysdig shows fd fields only for those)."""
    return not _FD_FLAGS.isdisjoint(info.flags)


def event_fd(ev):
    """The FdInfo the fd fields describe: `ev.fd` for events that use, create or close an fd;
    None for others (mmap's fd argument, for instance, is not resolved by sysdig)."""
    fd = ev.fd
    if fd is None or not has_fd(ev.info):
        return None
    return fd


class Binding:
    """What the extractors of one run share: the bound `state`, its argument renderer, and the
    source's `snapshot` (host name, interface addresses)."""

    def __init__(self):
        self.state = None
        self.renderer = None
        self.snapshot = None
        self.local_addresses = frozenset()
        # A new object per bind, so extractors with a memory (evt.deltatime) know to forget it.
        self.generation = object()
        # Called with the field's name by the first evt.latency*/evt.deltatime* computed while
        # enter events carry their exit's time (exit-only probes); the session sets it.
        self.enter_time_warning = None

    def bind(self, state, renderer=None, snapshot=None):
        self.state = state
        self.generation = object()
        self.enter_time_warning = None
        self.snapshot = snapshot if snapshot is not None else getattr(state, "snapshot", None)
        interfaces = getattr(self.snapshot, "interfaces", None) or ()
        # (name, family, address) tuples; sysdig decides which socket end is local with them.
        self.local_addresses = frozenset(str(i[2]).split("/")[0] for i in interfaces if len(i) > 2)
        if renderer is None:
            from .evtinfo import ArgRenderer  # noqa: PLC0415 - only runs that render need it

            renderer = ArgRenderer(state)
        self.renderer = renderer


BOUND = Binding()


def arg_renderer():
    """The run's `ArgRenderer` (an unbound one when no state is bound, e.g. in unit tests)."""
    if BOUND.renderer is None:
        BOUND.bind(BOUND.state)
    return BOUND.renderer
