"""A BPF ring buffer laid out as the kernel maps it, for reader and decoder tests without BPF."""

import mmap
import struct

from chisel.core.live.ringbuf import RingReader

PAGE = mmap.PAGESIZE
BUSY, DISCARD = 1 << 31, 1 << 30


class Ring:
    """A ring's consumer page and producer mapping: the position page, then `size` data bytes twice
    (a record that wraps reads on into the second copy, as in the kernel's double mapping).

    `mapped`: the producer is an anonymous mapping, whose slices are bytes as the real mapping's are;
    otherwise a bytearray. `start`: the positions the ring starts at."""

    def __init__(self, size=4096, start=0, mapped=False):
        self.size = size
        self.consumer = bytearray(PAGE)
        self.producer = mmap.mmap(-1, PAGE + 2 * size) if mapped else bytearray(PAGE + 2 * size)
        self.prod = start
        struct.pack_into("<Q", self.consumer, 0, start)
        struct.pack_into("<Q", self.producer, 0, start)

    def put(self, payload, flags=0):
        """Append one record (its ring header's length word gets `flags`: BUSY, DISCARD)."""
        record = struct.pack("<II", len(payload) | flags, 0) + payload
        record += bytes(-len(record) % 8)
        pos = self.prod & (self.size - 1)
        first = min(len(record), self.size - pos)
        for copy in (PAGE, PAGE + self.size):
            self.producer[copy + pos:copy + pos + first] = record[:first]
            self.producer[copy:copy + len(record) - first] = record[first:]
        self.prod += len(record)
        struct.pack_into("<Q", self.producer, 0, self.prod)

    @property
    def consumed(self):
        return struct.unpack_from("<Q", self.consumer, 0)[0]

    def reader(self):
        return RingReader.over_buffers(self.consumer, self.producer, self.size)
