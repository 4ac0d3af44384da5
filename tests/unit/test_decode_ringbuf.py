"""RingReader.drain over a ring laid out as the kernel maps it: committed, discarded, busy and
wrapped records."""

import mmap
import struct

from chisel.core.live.ringbuf import RingReader

PAGE = mmap.PAGESIZE
SIZE = 4096  # ring data bytes (a power of two)
BUSY, DISCARD = 1 << 31, 1 << 30


class Ring:
    """A ring's consumer page and producer mapping (data twice, as the kernel maps it)."""

    def __init__(self, start=0):
        self.consumer = bytearray(PAGE)
        self.producer = bytearray(PAGE + 2 * SIZE)
        self.prod = start
        struct.pack_into("<Q", self.consumer, 0, start)

    def put(self, payload, flags=0):
        pos = self.prod & (SIZE - 1)
        record = struct.pack("<II", len(payload) | flags, 0) + payload
        record += bytes(-len(record) % 8)
        for i, b in enumerate(record):
            offset = (pos + i) % SIZE
            self.producer[PAGE + offset] = b  # the data pages...
            self.producer[PAGE + SIZE + offset] = b  # ...and their second mapping
        self.prod += len(record)
        struct.pack_into("<Q", self.producer, 0, self.prod)

    @property
    def consumed(self):
        return struct.unpack_from("<Q", self.consumer, 0)[0]

    def reader(self):
        return RingReader.over_buffers(self.consumer, self.producer, SIZE)


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
