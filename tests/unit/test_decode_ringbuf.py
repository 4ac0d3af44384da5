"""RingReader.drain over a ring laid out as the kernel maps it: committed, discarded, busy and
wrapped records."""

import struct

from ring_fakes import BUSY, DISCARD, PAGE, Ring

SIZE = 4096  # the fake ring's data bytes (its default)


def test_committed_records_come_out_in_order_and_discarded_ones_are_skipped():
    ring = Ring()
    ring.put(b"first")
    ring.put(b"gone", DISCARD)
    ring.put(b"second record")
    out = []
    assert ring.reader().drain(out) == 2
    assert out == [b"first", b"second record"]
    assert ring.consumed == ring.prod == 16 + 16 + 24


def test_a_busy_record_stops_the_drain_until_it_is_committed():
    ring = Ring()
    ring.put(b"a")
    busy_at = ring.prod
    ring.put(b"bb", BUSY)
    ring.put(b"ccc")
    out = []
    reader = ring.reader()
    assert reader.drain(out) == 1
    assert ring.consumed == busy_at
    struct.pack_into("<I", ring.producer, PAGE + busy_at, 2)  # the producer commits it
    assert reader.drain(out) == 2
    assert out == [b"a", b"bb", b"ccc"]
    assert ring.consumed == ring.prod


def test_a_record_wrapping_past_the_end_is_read_whole_from_the_second_mapping():
    ring = Ring(start=SIZE - 8)  # one header's room before the end: the payload wraps
    payload = bytes(range(40))
    ring.put(payload)
    out = []
    assert ring.reader().drain(out) == 1
    assert out == [payload]
    assert ring.consumed == SIZE - 8 + 48
