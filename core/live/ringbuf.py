"""Read a BPF ring buffer straight from its memory mapping, many records per call.

bcc's `ring_buffer_consume` calls a Python callback through ctypes for every record, which costs
more than decoding the record. The kernel's ring buffer is designed to be read from user space
directly (kernel/bpf/ringbuf.c, the same layout libbpf uses): a writable page holding the
consumer position, a read-only page holding the producer position, then the data pages mapped
twice in a row so a record that wraps around the end is still contiguous. Each record starts
with an 8-byte header: u32 length (bit 31: still being written, bit 30: discarded), u32 page
offset; records are 8-byte aligned. x86-64 keeps loads ordered, so plain reads are enough.

Records are handed out in place: `records()` gives where each one's ring header is in the
mapping (`data`), so a decoder reads header and values straight from there instead of through a
copy of each record; `commit()` then gives their room back to the kernel. `drain` is the
copying form.
"""

import mmap
import struct

_BUSY = 1 << 31
_DISCARD = 1 << 30
RING_HEADER = struct.Struct("<II")  # length (with the busy and discard bits), page offset
_HDR = RING_HEADER.size
_U32 = struct.Struct("<I")


class RingReader:
    """Drains the ring buffer map `map_fd` of `size` bytes (a power of two)."""

    def __init__(self, map_fd, size):
        page = mmap.PAGESIZE
        self._size = size
        self._mask = size - 1
        self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._producer = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._data_off = page
        self._next = None  # consumer position after the last records handed out, until commit()
        self._words()

    @classmethod
    def over_buffers(cls, consumer, producer, size):
        """A reader over plain buffers laid out as the mappings are (tests, benchmarks):
        `consumer` holds the u64 consumer position, `producer` the u64 producer position, then
        from offset PAGESIZE the data, twice."""
        self = cls.__new__(cls)
        self._size, self._mask, self._data_off = size, size - 1, mmap.PAGESIZE
        self._consumer, self._producer = consumer, producer
        self._next = None
        self._words()
        return self

    def _words(self):
        # The positions as native u64 words: memoryview reads and writes them with one 8-byte load or
        # store. struct's "<Q" goes byte by byte, and the kernel reads the consumer position while
        # we write it: half-written, it can read as 16 MiB behind, and the ring as full.
        self._cons_word = memoryview(self._consumer).cast("B")[:8].cast("Q")
        self._prod_word = memoryview(self._producer).cast("B")[:8].cast("Q")

    @property
    def data(self):
        """The buffer `records` points into (the producer mapping)."""
        return self._producer

    def producer_position(self):
        """How far the kernel has written: pass it as `records(end=)` to read only up to here."""
        return self._prod_word[0]

    def records(self, limit, end=None):
        """Where the next committed records are in `data`: the offset of each one's 8-byte ring
        header (u32 length, u32 page offset; the record follows it). At most `limit` records (-1:
        no limit), none written after producer position `end` (default: now); discarded records
        are skipped, one still being written ends the list. Valid until `commit()`, which must
        follow: the kernel may reuse their room after it."""
        cons = self._next
        if cons is None:
            cons = self._cons_word[0]
        prod = self.producer_position() if end is None else end
        data, base, mask = self._producer, self._data_off, self._mask
        unpack_len = _U32.unpack_from
        out = []
        append = out.append
        left = limit
        while cons < prod and left:
            at = base + (cons & mask)
            length = unpack_len(data, at)[0]
            if length < _DISCARD:  # neither busy nor discarded: the common case
                append(at)
                left -= 1
            elif length & _BUSY:
                break  # the producer has not committed this one yet: take it next time
            else:
                length &= ~_DISCARD
            cons += (length + _HDR + 7) & ~7
        self._next = cons
        return out

    def commit(self):
        """Give the room of every record handed out by `records` back to the kernel."""
        if self._next is not None:
            self._cons_word[0] = self._next
            self._next = None

    def drain(self, out):
        """Append every complete record (bytes) to `out`; returns how many were appended."""
        data = self._producer
        unpack_len = _U32.unpack_from
        before = len(out)
        for at in self.records(-1):
            out.append(data[at + _HDR:at + _HDR + unpack_len(data, at)[0]])
        self.commit()
        return len(out) - before

    def close(self):
        self._cons_word.release()  # a mapping with views into it cannot be closed
        self._prod_word.release()
        self._consumer.close()
        self._producer.close()
