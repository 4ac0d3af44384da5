"""`Event.from_source`, the live decoder's constructor, builds exactly what `Event(...)` builds."""

import struct

from chisel.core.event import Event, event_infos, model
from chisel.core.live.decode import Decoder

READ_X = 7  # PPME_SYSCALL_READ_X: res, data


def _slots(ev):
    return {name: getattr(ev, name) for name in Event.__slots__}


def test_from_source_equals_the_public_constructor():
    raw = [struct.pack("<q", 3), b"abc"]
    slow = Event(1_000, 42, READ_X, raw, cpu=1, num=9)
    fast = Event.from_source(event_infos()[READ_X], 1_000, 42, raw, 1, 9)
    assert _slots(fast) == _slots(slow)
    assert type(fast) is Event
    assert fast.name == "read" and fast.dir == "<"
    assert fast.arg("res") == 3


def test_event_infos_is_the_model_table():
    assert event_infos() is model().events


def test_decoder_builds_events_through_the_fast_path():
    data = b"hello"
    rec = (struct.pack("<QIHHII", 500, 77, READ_X, 2, 1, 0) + struct.pack("<2H", 8, len(data))
           + struct.pack("<q", len(data)) + data)
    (ev,) = Decoder(boot_offset_ns=10).decode([rec])
    expected = Event(510, 77, READ_X, [struct.pack("<q", 5), data], cpu=1, num=1)
    assert _slots(ev) == _slots(expected)
