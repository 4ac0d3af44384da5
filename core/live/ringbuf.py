"""Read a BPF ring buffer straight from its memory mapping, many records per call.

bcc's `ring_buffer_consume` calls a Python callback through ctypes for every record, which costs
more than decoding the record. The kernel's ring buffer is designed to be read from user space
directly (kernel/bpf/ringbuf.c, the same layout libbpf uses): a writable page holding the
consumer position, a read-only page holding the producer position, then the data pages mapped
twice in a row so a record that wraps around the end is still contiguous. Each record starts
with an 8-byte header: u32 length (bit 31: still being written, bit 30: discarded), u32 page
offset; records are 8-byte aligned. x86-64 keeps loads ordered, so plain reads are enough.
"""

import mmap
import struct

_BUSY = 1 << 31
_DISCARD = 1 << 30
_HDR = 8
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class RingReader:
    """Drains the ring buffer map `map_fd` of `size` bytes (a power of two)."""

    def __init__(self, map_fd, size):
        page = mmap.PAGESIZE
        self._size = size
        self._mask = size - 1
        self._consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._producer = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._data_off = page

    @classmethod
    def over_buffers(cls, consumer, producer, size):
        """A reader over plain buffers laid out as the mappings are (tests, benchmarks):
        `consumer` holds the u64 consumer position, `producer` the u64 producer position, then
        from offset PAGESIZE the data, twice."""
        self = cls.__new__(cls)
        self._size, self._mask, self._data_off = size, size - 1, mmap.PAGESIZE
        self._consumer, self._producer = consumer, producer
        return self

    def drain(self, out):
        """Append every complete record (bytes) to `out`; returns how many were appended."""
        cons = _U64.unpack_from(self._consumer, 0)[0]
        prod = _U64.unpack_from(self._producer, 0)[0]
        data, base, mask = self._producer, self._data_off + _HDR, self._mask
        unpack_len = _U32.unpack_from
        append = out.append
        before = len(out)
        while cons < prod:
            start = base + (cons & mask)  # where the record's data starts, after its header
            length = unpack_len(data, start - _HDR)[0]
            if length < _DISCARD:  # neither busy nor discarded: the common case
                append(data[start:start + length])
            elif length & _BUSY:
                break  # the producer has not committed this one yet: take it next time
            else:
                length &= ~_DISCARD
            cons += (length + _HDR + 7) & ~7
        _U64.pack_into(self._consumer, 0, cons)
        return len(out) - before

    def close(self):
        self._consumer.close()
        self._producer.close()
