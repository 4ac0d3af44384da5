"""A tiny field registry and event for the filter's unit tests (no capture, no state engine)."""

import difflib
from collections import namedtuple

from chisel.core.errors import UsageError
from chisel.core.event import model

FakeField = namedtuple("FakeField", "name ftype")

FIELD_TYPES = {
    "evt.num": "UINT64", "evt.type": "CHARBUF", "evt.is_io": "BOOL", "evt.buffer": "BYTEBUF",
    "evt.rawres": "INT64", "evt.latency": "RELTIME", "proc.name": "CHARBUF", "proc.pid": "INT64",
    "thread.tid": "INT64", "user.uid": "UINT32", "fd.name": "CHARBUF", "fd.port": "PORT",
    "fd.sport": "PORT", "fd.sip": "IPADDR", "fd.ip": "IPADDR", "fd.net": "IPNET",
    "fd.snet": "IPNET", "fd.types": "CHARBUF", "proc.aname": "CHARBUF", "proc.env": "CHARBUF",
    "evt.arg.fd": "CHARBUF", "evt.arg": "CHARBUF", "evt.type.is.open": "UINT32",
    "thread.cpu": "DOUBLE",
}


class FakeRegistry:
    """`lookup` like the real registry: 'proc.aname[2]' → (FakeField, '2'), unknown → UsageError."""

    def lookup(self, text):
        name, _, arg = text.partition("[")
        if name not in FIELD_TYPES:
            near = difflib.get_close_matches(name, FIELD_TYPES, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise UsageError(f"unknown field '{name}'{hint}")
        return FakeField(name, FIELD_TYPES[name]), (arg[:-1] or None)


class FakeEvent:
    """An event whose fields are a dict; missing keys extract as None.

    `type` is the event id the real model gives its evt.type (the filter decides evt.type checks
    on it); an event without a known evt.type gets a generic event's id, which makes the filter
    extract evt.type like any other field.
    """

    def __init__(self, fields):
        self.fields = dict(fields)
        ids = model().ids_for_name(self.fields.get("evt.type") or "")
        self.type = ids[0] if ids else model().ids_for_name("syscall")[0]

    def get(self, key):
        return self.fields.get(key)


def ev(mapping):
    return FakeEvent(mapping)
