"""`ScapReader`: read a sysdig/falco `.scap` capture file (plain or gzip) into a `Snapshot` and `Event`s.

The file is a series of blocks (`u32 type, u32 total length, body, padding, u32 total length`, see
scap-format.md). The metadata blocks before the first event (section header, machine info, process,
fd, interface and user lists) become `reader.snapshot` as soon as the reader is built; the event blocks
are then decoded one by one by `reader.events()`.

Events are numbered exactly as sysdig 0.29 numbers them: every event whose type 0.29 knows (id < 336)
counts, printed or not; newer types are dropped before numbering.

The reader holds at most one read chunk plus the largest block in memory, refuses block lengths above
`MAX_BLOCK` as corruption, and reports a damaged or truncated file with `CaptureFormatError` only after
it has yielded every good event before the damage. Offsets in errors count bytes of the uncompressed
stream (for a gzip file that is not the position in the file on disk).
"""

import gzip
import os
import stat
import struct
import zlib
from itertools import accumulate

from . import scap_meta as blk
from .errors import CaptureFormatError, ChiselRuntimeError, UsageError
from .event import Event, model


# sysdig 0.29 knows event ids below this; it skips newer ones before numbering events.
FIRST_UNKNOWN_TO_029 = 336

MAX_BLOCK = 64 * 1024 * 1024  # larger lengths are corruption, never an allocation
_CHUNK = 1 << 20

_BLOCK_HEADER = struct.Struct("<II")
_TRAILER = struct.Struct("<I")
_CPU = struct.Struct("<H")
_CPU_FLAGS = struct.Struct("<HI")
# tid is read signed, as sysdig shows it: container events carry tid -1.
_EVT_HEADER_V2 = struct.Struct("<QqIHI")  # ts, tid, len, type, nparams: 26 bytes
_EVT_HEADER_V1 = struct.Struct("<QqIH")
_CPU_EVT_HEADER_V2 = struct.Struct("<HQqIHI")  # an EV_V2 block's cpu, then the v2 event header  # ts, tid, len, type: 22 bytes, no nparams

_GZIP_MAGIC = b"\x1f\x8b"

# Old NOTIFICATION_E and INFRASTRUCTURE_EVENT_E records state a len 3 bytes larger than their content.
_OLD_LEN_SLACK = {280: 3, 286: 3}

_LENGTHS_CACHE = {}


def _lengths_struct(n, large):
    """A cached struct reading `n` parameter lengths (u16, or u32 for EF_LARGE_PAYLOAD events)."""
    key = (n, large)
    st = _LENGTHS_CACHE.get(key)
    if st is None:
        st = _LENGTHS_CACHE[key] = struct.Struct(f"<{n}{'I' if large else 'H'}")
    return st


def _split_any(buf, p, nparams, large):
    """(raw values, end offset) of `nparams` parameters whose lengths start at `buf[p]`."""
    st = _lengths_struct(nparams, large)
    lens = st.unpack_from(buf, p)
    p += st.size
    raw = [buf[a:a + n] for a, n in zip(accumulate(lens, initial=p), lens)]
    return raw, p + sum(lens)


# Unrolled splitters for the common small parameter counts (u16 lengths): the reader's hot path,
# with no zip/accumulate machinery per event. Each returns (raw values, end offset).
def _split0(buf, p):
    return [], p


def _split1(buf, p, u=struct.Struct("<H").unpack_from):
    (a,) = u(buf, p)
    p += 2
    return [buf[p:p + a]], p + a


def _split2(buf, p, u=struct.Struct("<2H").unpack_from):
    a, b = u(buf, p)
    p += 4
    q = p + a
    return [buf[p:q], buf[q:q + b]], q + b


def _split3(buf, p, u=struct.Struct("<3H").unpack_from):
    a, b, c = u(buf, p)
    p += 6
    q = p + a
    r = q + b
    return [buf[p:q], buf[q:r], buf[r:r + c]], r + c


def _split4(buf, p, u=struct.Struct("<4H").unpack_from):
    a, b, c, d = u(buf, p)
    p += 8
    q = p + a
    r = q + b
    t = r + c
    return [buf[p:q], buf[q:r], buf[r:t], buf[t:t + d]], t + d


_SPLITTERS = {0: _split0, 1: _split1, 2: _split2, 3: _split3, 4: _split4}


class ScapReader:
    """A capture file opened for reading: `.snapshot`, `.events()`, `.close()`.

    `bytes_read` / `total_bytes` give progress in bytes of the file on disk (compressed bytes for
    gzip files). `version` is the section header's (major, minor).
    """

    def __init__(self, path):
        self.path = str(path)
        self.snapshot = None
        self.version = None
        self.total_bytes = 0
        self._disk = None  # the file on disk
        self._file = None  # what we read blocks from (the disk file or a gzip stream over it)
        self._buf = b""
        self._pos = 0
        self._base = 0  # stream offset of _buf[0]
        self._eof = False
        self._read = None
        self._events_started = False
        self._open()
        try:
            self._read_metadata()
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _open(self):
        path = self.path
        try:
            # O_NONBLOCK: opening a fifo must not hang; it is refused below by the fstat check.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise UsageError(f"cannot read capture file '{path}': no such file; "
                             "check the path given to -r") from None
        except PermissionError:
            raise UsageError(f"cannot read capture file '{path}': permission denied; "
                             "check the file's permissions") from None
        except IsADirectoryError:
            raise UsageError(f"cannot read capture file '{path}': it is a directory; "
                             "pass a .scap file") from None
        except OSError as e:
            raise UsageError(f"cannot read capture file '{path}': {e.strerror}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise UsageError(f"cannot read capture file '{path}': it is {kind}; pass a .scap file")
        os.set_blocking(fd, True)
        self.total_bytes = st.st_size
        self._disk = os.fdopen(fd, "rb", buffering=0)
        magic = os.pread(fd, 2, 0)
        if magic == _GZIP_MAGIC:
            self._file = gzip.GzipFile(fileobj=self._disk, mode="rb")
            # read1: one decompression step per call, so a stream cut short (EOFError) loses nothing
            # already decompressed, as a buffered read() spanning the cut would.
            self._read = self._file.read1
        else:
            self._file = self._disk
            self._read = self._disk.read

    def close(self):
        """Release the file; safe to call more than once."""
        for f in (self._file, self._disk):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._file = self._disk = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def bytes_read(self):
        """Bytes of the file on disk consumed so far."""
        if self._disk is None:
            return self.total_bytes
        try:
            return self._disk.tell()
        except (OSError, ValueError):
            return self.total_bytes

    # -- buffered block access -------------------------------------------------------------------

    def _error(self, offset, why):
        return CaptureFormatError(self.path, offset, why)

    def _fill(self, need):
        """Make `need` bytes available at `_pos`; False if the stream ends first."""
        buf, pos = self._buf, self._pos
        have = len(buf) - pos
        if have >= need:
            return True
        parts = [buf[pos:]]
        self._base += pos
        while have < need and not self._eof:
            try:
                chunk = self._read(_CHUNK)  # bounded: a claimed length is never allocated up front
            except EOFError:
                # A gzip stream cut short (a capture interrupted before its trailer): like libscap,
                # use what it held; a block cut in half is still reported by the caller.
                chunk = b""
            except (gzip.BadGzipFile, zlib.error) as e:
                self._eof = True
                self._buf, self._pos = b"".join(parts), 0
                raise self._error(self._base + have, f"damaged gzip data ({e})") from None
            except OSError as e:
                raise ChiselRuntimeError(f"cannot read capture file '{self.path}': {e}") from None
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf, self._pos = b"".join(parts), 0
        return have >= need

    def _next_block(self):
        """(type, offset in _buf, total length) of the next whole block, or None at a clean end."""
        if not self._fill(8):
            if len(self._buf) - self._pos:
                raise self._error(self._base + self._pos, "file ends inside a block header")
            return None
        pos = self._pos
        btype, blen = _BLOCK_HEADER.unpack_from(self._buf, pos)
        if blen < 12 or blen > MAX_BLOCK:
            raise self._error(self._base + pos, f"block 0x{btype:x} has an impossible length {blen}")
        if not self._fill(blen):
            raise self._error(self._base + self._pos,
                              f"file ends inside block 0x{btype:x} of {blen} bytes")
        pos = self._pos
        if _TRAILER.unpack_from(self._buf, pos + blen - 4)[0] != blen:
            raise self._error(self._base + pos,
                              f"block 0x{btype:x} trailer does not repeat its length {blen}")
        return btype, pos, blen

    # -- metadata ------------------------------------------------------------------------------

    def _read_metadata(self):
        first = self._next_block()
        if first is None:
            raise self._error(0, "empty file: no section header block")
        btype, pos, blen = first
        if btype != blk.SHB:
            raise self._error(0, "not a scap capture: no section header block at the start")
        self._check_section_header(pos, blen)
        self._pos = pos + blen
        builder = blk.SnapshotBuilder()
        while True:
            nxt = self._next_block()
            if nxt is None:
                break
            btype, pos, blen = nxt
            if btype in blk.EVENT_BLOCKS:
                break  # left in place for events()
            body = memoryview(self._buf)[pos + 8:pos + blen - 4]
            try:
                if btype == blk.SHB:
                    self._check_section_header(pos, blen)
                else:
                    blk.parse_metadata_block(btype, body, builder)
            except (struct.error, IndexError, ValueError) as e:
                raise self._error(self._base + pos, f"damaged metadata block 0x{btype:x} ({e})") from None
            finally:
                body.release()
            self._pos = pos + blen
        self.snapshot = builder.finish()

    def _check_section_header(self, pos, blen):
        if blen < 28:
            raise self._error(self._base + pos, "section header block too short")
        magic, major, minor = struct.unpack_from("<IHH", self._buf, pos + 8)
        if magic != blk.SHB_MAGIC:
            raise self._error(self._base + pos,
                              f"bad byte-order magic 0x{magic:08x} (other-endian or not scap)")
        if major != 1:
            raise self._error(self._base + pos, f"unsupported scap version {major}.{minor}")
        if self.version is None:
            self.version = (major, minor)

    # -- events --------------------------------------------------------------------------------

    def events(self):
        """Yield every event in file order with `num` as sysdig 0.29 assigns it.

        Raises CaptureFormatError after the last good event when the rest of the file is damaged.
        """
        if self._events_started:
            raise ChiselRuntimeError(f"capture file '{self.path}' can be iterated only once")
        self._events_started = True
        infos = model().events
        ninfos = len(infos)
        make = Event.from_source
        ev_v2 = blk.EV_V2
        event_blocks = blk.EVENT_BLOCKS
        num = 0
        buf, pos = self._buf, self._pos
        end = len(buf)
        while self._file is not None:
            # Fast path: the whole block is already buffered. Otherwise let _next_block refill
            # (and report truncation or absurd lengths).
            if pos + 8 <= end:
                btype, blen = _BLOCK_HEADER.unpack_from(buf, pos)
                whole = 12 <= blen <= MAX_BLOCK and pos + blen <= end
            else:
                whole = False
            if not whole:
                self._pos = pos
                nxt = self._next_block()
                if nxt is None:
                    return
                btype, pos, blen = nxt
                buf = self._buf
                end = len(buf)
            elif _TRAILER.unpack_from(buf, pos + blen - 4)[0] != blen:
                self._pos = pos
                raise self._error(self._base + pos,
                                  f"block 0x{btype:x} trailer does not repeat its length {blen}")
            block_pos = pos
            pos += blen
            self._pos = pos
            kind = event_blocks.get(btype)
            if kind is None:
                if btype == blk.SHB:
                    self._check_section_header(block_pos, blen)
                continue  # a metadata or unknown block between events: sysdig skips it too
            if btype == ev_v2 and blen >= 40:
                # The common block: cpu and event header in one read (10 + 26 bytes + trailer).
                cpu, ts, tid, elen, etype, nparams = _CPU_EVT_HEADER_V2.unpack_from(buf, block_pos + 8)
                flags = 0
                rec = block_pos + 10
                room = blen - 14
                hsize = 26
            else:
                cpu, flags, rec, room, hsize, ts, tid, elen, etype, nparams = self._event_header(
                    buf, block_pos, blen, kind)
            if elen > room or elen < hsize:
                raise self._error(self._base + block_pos, f"event length {elen} does not fit its block")
            if etype >= FIRST_UNKNOWN_TO_029 or etype >= ninfos:
                continue  # newer than sysdig 0.29: dropped before numbering, as 0.29 does
            info = infos[etype]
            large = info.large_payload
            if nparams is None:
                nparams = self._infer_nparams(buf, rec, elen, etype, len(info.params), block_pos)
            elif hsize + nparams * (4 if large else 2) > elen:
                raise self._error(self._base + block_pos,
                                  f"event claims {nparams} parameters in {elen} bytes")
            split = _SPLITTERS.get(nparams) if not large else None
            raw, values_end = (split(buf, rec + hsize) if split is not None
                               else _split_any(buf, rec + hsize, nparams, large))
            if values_end > rec + elen:
                raise self._error(self._base + block_pos,
                                  "event parameter lengths exceed the event length")
            num += 1
            ev = make(info, ts, tid, raw, cpu, num)
            if flags:
                ev.dump_flags = flags
            yield ev

    def _event_header(self, buf, block_pos, blen, kind):
        """Any event block's (cpu, flags, record offset, room, header size, ts, tid, len, type,
        nparams); nparams is None for v1 headers, which do not carry it."""
        has_flags, v2 = kind
        if has_flags:
            cpu, flags = _CPU_FLAGS.unpack_from(buf, block_pos + 8)
            rec = block_pos + 14
        else:
            cpu = _CPU.unpack_from(buf, block_pos + 8)[0]
            flags = 0
            rec = block_pos + 10
        room = block_pos + blen - 4 - rec  # bytes of the block left for the record
        hsize = 26 if v2 else 22
        if room < hsize:
            raise self._error(self._base + block_pos, "event block too short for an event header")
        if v2:
            ts, tid, elen, etype, nparams = _EVT_HEADER_V2.unpack_from(buf, rec)
        else:
            ts, tid, elen, etype = _EVT_HEADER_V1.unpack_from(buf, rec)
            nparams = None
        return cpu, flags, rec, room, hsize, ts, tid, elen, etype, nparams

    def _infer_nparams(self, buf, rec, elen, etype, table_count, pos):
        """Old blocks omit nparams: the largest n <= the table's count whose lengths fill the event."""
        slack = _OLD_LEN_SLACK.get(etype, 0)
        for n in range(table_count, -1, -1):
            if 22 + 2 * n > elen:
                continue
            total = 22 + 2 * n + sum(_lengths_struct(n, False).unpack_from(buf, rec + 22))
            if total == elen or (slack and total == elen - slack):
                return n
            if n == table_count and total < elen - slack:
                break  # more bytes than the table's params can explain
        raise self._error(self._base + pos, f"cannot work out the parameters of old event type {etype}")
