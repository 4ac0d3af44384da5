"""`Event`: one captured event, in the project's event model, with lazy and cached field access.

Sources (the scap reader, the live engine) build events from raw parameter bytes exactly as the scap
format stores them; decoding into Python values happens only when someone asks (see `params.py`).
The state engine attaches `thread`, `fd` and `enter`; fields are computed through the field registry
and cached per event, so a filter and a chisel asking for the same field pay once.
"""

from . import eventmodel

_MODEL = None
_EVENTS = None  # model().events, bound once: the constructor runs for every event
# Bound on first use: params and fields import this module, so they cannot be imported at its top.
# Binding once (not importing inside the per-event methods) saves about a microsecond per call.
_decode_param = None
_extract = None
# The registry's live {field text: getter} cache: a hit skips the registry's extract call.
_GETTERS = {}


def model():
    """The event model, loaded on first use."""
    global _MODEL
    if _MODEL is None:
        _MODEL = eventmodel.load()
    return _MODEL


def event_infos():
    """The `EventInfo` of every event id (a tuple indexed by id), loaded on first use."""
    global _EVENTS
    if _EVENTS is None:
        _EVENTS = model().events
    return _EVENTS


def _bind_decoder():
    global _decode_param
    from .params import decode_param  # noqa: PLC0415 - circular at import time

    _decode_param = decode_param
    return decode_param


def _bind_extractor():
    """The registry's extract method (and its getter cache); bound once, on the first miss."""
    global _extract, _GETTERS
    from .fields import registry  # noqa: PLC0415 - circular at import time

    _extract = registry().extract
    _GETTERS = registry().getter_cache
    return _extract


class Event:
    """One event.

    Attributes set by the source: `num` (evt.num), `ts` (ns since the epoch), `tid`, `cpu`, `type`
    (event id), `raw` (list of the parameters' raw bytes, in table order; may hold fewer or more
    than the table lists), `dump_flags` (scap EVF flags).
    Attributes set by the state engine: `thread` (ThreadInfo or None), `fd` (FdInfo or None, for
    events that use or create an fd), `fdnum` (the fd number the event refers to, or None) and
    `enter` (the matching enter event, for exit events, when seen).
    """

    __slots__ = ("num", "ts", "tid", "cpu", "type", "info", "raw", "dump_flags",
                 "thread", "fd", "fdnum", "enter", "_vals", "_cache")

    def __init__(self, ts, tid, etype, raw, cpu=0, num=0, dump_flags=0):
        self.num = num
        self.ts = ts
        self.tid = tid
        self.cpu = cpu
        self.type = etype
        self.info = (_EVENTS or event_infos())[etype]
        self.raw = raw
        self.dump_flags = dump_flags
        self.thread = None
        self.fd = None
        self.fdnum = None
        self.enter = None
        self._vals = None
        self._cache = None

    @classmethod
    def from_source(cls, info, ts, tid, raw, cpu, num):
        """An event whose `EventInfo` the source already looked up (a hot path: no model lookup).

        Equivalent to `Event(ts, tid, info.id, raw, cpu, num)`; the live decoder builds every
        event through it, looking the info up once per event id instead of once per event.
        """
        self = _new(cls)
        self.num = num
        self.ts = ts
        self.tid = tid
        self.cpu = cpu
        self.type = info.id
        self.info = info
        self.raw = raw
        self.dump_flags = 0
        self.thread = None
        self.fd = None
        self.fdnum = None
        self.enter = None
        self._vals = None
        self._cache = None
        return self

    @property
    def name(self):
        """evt.type as the table names it (generic events are resolved by the `evt.type` field)."""
        return self.info.name

    @property
    def dir(self):
        return self.info.dir

    def param(self, i):
        """Parameter `i` decoded to a Python value, or None when the event does not carry it."""
        vals = self._vals
        if vals is None:
            vals = self._vals = {}
        elif i in vals:
            return vals[i]
        v = (_decode_param or _bind_decoder())(self, i)
        vals[i] = v
        return v

    def arg(self, name):
        """Parameter named `name` decoded, or None when this event has no such parameter."""
        i = self.info.param_index.get(name)
        if i is None:
            return None
        return self.param(i)

    def get(self, field):
        """The value of a field such as 'fd.name' or 'proc.aname[2]', or None when it does not apply."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        elif field in cache:
            return cache[field]
        getter = _GETTERS.get(field)
        v = getter(self) if getter is not None else (_extract or _bind_extractor())(self, field)
        cache[field] = v
        return v

    __getitem__ = get

    def __repr__(self):
        return f"Event(num={self.num} ts={self.ts} tid={self.tid} {self.info.dir} {self.info.name})"


_new = object.__new__
