"""Turn the kernel's ring-buffer records into `Event`s, many records per pass.

A record is a 24-byte header (u64 monotonic ts, u32 tid, u16 event id, u16 nparams, u32 cpu,
u32 reserved), nparams u16 lengths, then the values back to back. Most values are already in scap
encoding and become `Event.raw` slices untouched. A few kernel sources need a userspace step
(see `specs.py`): raw sockaddrs, tuples, pollfd arrays, Linux open/clone/poll flag bits (scap
stores its own PPM bit values), and the clone/execve exits, rebuilt to their 0.29 layouts.
"""

import os
import struct

from ..event import Event, event_infos
from .ringbuf import RING_HEADER
from .specs import CLONE_EXIT_LAYOUT, SPECS

_HDR = struct.Struct("<QIHHII")
_PROCEXIT_ID = 186
_HDR_SIZE = _HDR.size
_LENS = {}  # nparams -> Struct of that many u16 lengths
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_I64 = struct.Struct("<q")

# Linux bit -> scap PPM bit, for the flags scap stores in its own encoding.
_OPEN_FLAGS = ((0o100, 4), (0o200, 32), (0o1000, 256), (0o2000, 8), (0o4000, 64),
               (0o10000, 16), (0o40000, 512), (0o100000, 2048), (0o200000, 1024),
               (0o2000000, 4096), (0o4000000, 128), (0o20000000, 8192))
_CLONE_FLAGS = ((0x400, 1), (0x200, 2), (0x80000000, 4), (0x08000000, 8), (0x40000000, 16),
                (0x20000, 32), (0x20000000, 64), (0x04000000, 128), (0x8000, 256),
                (0x100000, 512), (0x2000, 1024), (0x800, 2048), (0x40000, 4096),
                (0x10000, 8192), (0x800000, 16384), (0x100, 32768), (0x10000000, 1048576),
                (0x200000, 8388608), (0x01000000, 16777216), (0x80000, 33554432),
                (0x4000, 134217728), (0x02000000, 268435456))
_POLL_FLAGS = ((1, 1), (2, 2), (4, 4), (8, 16), (0x10, 32), (0x20, 64), (0x40, 128),
               (0x80, 256), (0x100, 512), (0x200, 1024), (0x2000, 8))
_MMAP_FLAGS = ((1, 1), (2, 2), (0x10, 4), (0x20, 8), (0x40, 16), (0x4000, 64), (0x8000, 128),
               (0x10000, 256), (0x100, 512), (0x800, 1024), (0x1000, 2048), (0x2000, 16384))
_PROT_FLAGS = ((1, 1), (2, 2), (4, 4), (8, 8), (0x01000000, 16), (0x02000000, 32))
_RESOLVE_FLAGS = ((0x08, 1), (0x10, 2), (0x02, 4), (0x04, 8), (0x01, 16), (0x20, 32))
# Which tuple end comes first in scap: the local end for the side that sends or connects.
_TUPLE_LOCAL_FIRST = {"tuple_connect": True, "tuple_remote": True, "tuple_msg": None,
                      "tuple_accept": False, "tuple_remote_lenptr": False}


# One splitter per parameter count: unrolled, because this loop is the consumer's hot path
# (about 1.4x faster than a generic loop). Each takes the record at data[start:stop] and returns
# its raw values, or None when the lengths do not add up to the record size.
_P = _HDR_SIZE


def _split0(data, start, stop):
    return [] if start + _P == stop else None


def _split1(data, start, stop, u=struct.Struct("<H").unpack_from):
    (a,) = u(data, start + _P)
    p0 = start + _P + 2
    return [data[p0:stop]] if p0 + a == stop else None


def _split2(data, start, stop, u=struct.Struct("<2H").unpack_from):
    a, b = u(data, start + _P)
    p0 = start + _P + 4
    p1 = p0 + a
    return [data[p0:p1], data[p1:stop]] if p1 + b == stop else None


def _split3(data, start, stop, u=struct.Struct("<3H").unpack_from):
    a, b, c = u(data, start + _P)
    p0 = start + _P + 6
    p1 = p0 + a
    p2 = p1 + b
    return [data[p0:p1], data[p1:p2], data[p2:stop]] if p2 + c == stop else None


def _split4(data, start, stop, u=struct.Struct("<4H").unpack_from):
    a, b, c, d = u(data, start + _P)
    p0 = start + _P + 8
    p1 = p0 + a
    p2 = p1 + b
    p3 = p2 + c
    return [data[p0:p1], data[p1:p2], data[p2:p3], data[p3:stop]] if p3 + d == stop else None


def _split_any(data, start, stop, nparams):
    lens = _LENS.get(nparams)
    if lens is None:
        lens = _LENS[nparams] = struct.Struct(f"<{nparams}H")
    if start + _P + 2 * nparams > stop:
        return None
    pos = start + _P + 2 * nparams
    raw = []
    for n in lens.unpack_from(data, start + _P):
        raw.append(data[pos:pos + n])
        pos += n
    return raw if pos == stop else None


_SPLITTERS = {0: _split0, 1: _split1, 2: _split2, 3: _split3, 4: _split4}
_TWO_LENS = struct.Struct("<2H")
# The ring's 8-byte record header (length, page offset) and ours after it, read in one call.
_RING_AND_RECORD_HEADER = struct.Struct("<I4xQIHHII")


def _map_bits(value, table):
    out = 0
    for linux_bit, ppm_bit in table:
        if value & linux_bit == linux_bit:
            out |= ppm_bit
    return out


def open_flags_to_scap(flags):
    """Linux open(2) flags -> scap's PPM_O_* bits (access mode: RDONLY 1, WRONLY 2, RDWR 3)."""
    return (flags & 3) + 1 | _map_bits(flags & ~3, _OPEN_FLAGS)


def clone_flags_to_scap(flags):
    """Linux CLONE_* bits -> scap's PPM_CL_* bits."""
    return _map_bits(flags, _CLONE_FLAGS)


def _u32_converter(convert):
    def fix(raw):
        return _U32.pack(convert(_U32.unpack(raw)[0])) if len(raw) == 4 else raw
    return fix


_OPEN_FIX = _u32_converter(open_flags_to_scap)
_RESOLVE_FIX = _u32_converter(lambda v: _map_bits(v, _RESOLVE_FLAGS))
# (event id) -> {param index: converter} for u32 flags scap stores as its own PPM bits
_FLAG_FIXUPS = {
    2: {1: _OPEN_FIX}, 3: {2: _OPEN_FIX}, 306: {2: _OPEN_FIX}, 307: {3: _OPEN_FIX},
    326: {2: _OPEN_FIX, 4: _RESOLVE_FIX}, 327: {3: _OPEN_FIX, 5: _RESOLVE_FIX},
    160: {2: _u32_converter(lambda v: _map_bits(v, _PROT_FLAGS)),
          3: _u32_converter(lambda v: _map_bits(v, _MMAP_FLAGS))},
}


def sockaddr_to_scap(raw):
    """A user `struct sockaddr` -> PT_SOCKADDR (family byte, address, host-order port)."""
    if len(raw) < 2:
        return b""
    family = _U16.unpack_from(raw)[0]
    if family == 2 and len(raw) >= 8:
        return b"\x02" + raw[4:8] + _U16.pack(int.from_bytes(raw[2:4], "big"))
    if family == 10 and len(raw) >= 24:
        return b"\x0a" + raw[8:24] + _U16.pack(int.from_bytes(raw[2:4], "big"))
    if family == 1:
        return b"\x01" + raw[2:].split(b"\0", 1)[0] + b"\0"
    return b""


def tuple_to_scap(raw, local_first):
    """The kernel's 40-byte tuple record -> PT_SOCKTUPLE, in the order sysdig writes it."""
    if len(raw) < 40:
        return b""
    family, sport, dport = struct.unpack_from("<HHH", raw)
    if family == 1:
        return b"\x01" + bytes(16) + b"\0"  # unix peers' kernel pointers are not readable here
    width = 4 if family == 2 else 16 if family == 10 else 0
    if not width:
        return b""
    local = raw[8:8 + width] + _U16.pack(sport)
    remote = raw[24:24 + width] + _U16.pack(dport)
    body = local + remote if local_first else remote + local
    return bytes((family,)) + body


def pollfds_to_scap(raw, is_exit):
    """Raw pollfd entries -> PT_FDLIST; an exit lists only the fds with returned events."""
    entries = []
    for off in range(0, len(raw) - 7, 8):
        fd, events, revents = struct.unpack_from("<ihh", raw, off)
        flags = revents if is_exit else events
        if is_exit and not revents:
            continue
        entries.append(_I64.pack(fd) + struct.pack("<h", _map_bits(flags & 0xFFFF, _POLL_FLAGS)))
    return _U16.pack(len(entries)) + b"".join(entries)


def _cstr(raw):
    return raw.split(b"\0", 1)[0]


def _parent_from_proc(tid):
    """ptid for a thread forked before the probes were attached (the kernel map cannot know it)."""
    stat = _read_proc(f"/proc/{tid}/stat")
    try:
        return int(stat.rsplit(b")", 1)[1].split()[1]) if stat else 0
    except (IndexError, ValueError):
        return 0


def _read_proc(path, link=False):
    try:
        return os.readlink(path).encode() if link else open(path, "rb").read()
    except OSError:
        return None


class Decoder:
    """Decodes batches of raw records; keeps what it needs across events (argv, process images).

    `boot_offset_ns` is added to the kernel's monotonic timestamps to get epoch ns. `snapshot`
    seeds the per-thread (exe, args, cwd) cache the clone exits are filled from.
    """

    def __init__(self, boot_offset_ns, snapshot=None):
        self.boot_offset_ns = boot_offset_ns
        self.num = 0
        self.corrupt = 0  # records whose lengths did not add up (counted as drops by the engine)
        self._argv = {}  # tid -> argv list from the execve enter, until its exit
        self._images = {}  # tid -> (exe, args bytes, cwd) as last known
        self._ptids = {}  # tid -> parent tid, for threads forked before the probes were attached
        if snapshot is not None:
            for t in snapshot.threads:
                self._ptids[t.tid] = t.ptid
                args = b"".join(a.encode(errors="surrogateescape") + b"\0" for a in t.args)
                self._images[t.tid] = (t.exe.encode(errors="surrogateescape"), args,
                                       t.cwd.encode(errors="surrogateescape"))
        self._fixups = self._build_fixups()

    def _build_fixups(self):
        fixups = {}
        for spec in SPECS.values():
            for eid, params, is_exit in ((spec.enter_id, spec.enter, False), (spec.exit_id, spec.exit, True)):
                steps = []
                for i, src in enumerate(params):
                    kind = src[0]
                    if kind == "sockaddr":
                        steps.append((i, sockaddr_to_scap))
                    elif kind in _TUPLE_LOCAL_FIRST:
                        local_first = _TUPLE_LOCAL_FIRST[kind]
                        if local_first is None:  # sendmsg: local first; recvmsg: remote first
                            local_first = spec.name == "sendmsg"
                        steps.append((i, lambda r, lf=local_first: tuple_to_scap(r, lf)))
                    elif kind == "fdlist":
                        steps.append((i, lambda r, x=is_exit: pollfds_to_scap(r, x)))
                steps += sorted(_FLAG_FIXUPS.get(eid, {}).items())
                if steps:
                    fixups[eid] = self._steps_fixup(steps)
                if spec.exit_layout == "clone":
                    fixups[spec.exit_id] = self._clone_exit
                elif spec.exit_layout == "execve":
                    fixups[spec.exit_id] = self._execve_exit
                    fixups[spec.enter_id] = self._execve_enter
        fixups[_PROCEXIT_ID] = self._procexit
        return fixups

    @staticmethod
    def _steps_fixup(steps):
        def fix(tid, raw):
            for i, fn in steps:
                if i < len(raw):
                    raw[i] = fn(raw[i])
            return raw
        return fix

    def decode(self, records):
        """Events for a list of raw records (bytes), in order; numbering continues across calls."""
        parts, starts, at = [], [], 0
        for rec in records:
            pad = -len(rec) % 8
            parts += (RING_HEADER.pack(len(rec), 0), rec, bytes(pad))
            starts.append(at)
            at += RING_HEADER.size + len(rec) + pad
        parts.append(bytes(_RING_AND_RECORD_HEADER.size))  # a short last record's header read stays inside
        return self.decode_ring_records(b"".join(parts), starts)

    def decode_ring_records(self, data, starts):
        """Events for the records whose ring headers start at each offset of `starts` in `data`
        (`RingReader.records`: records read in place, header and values in one pass)."""
        out = []
        append = out.append
        offset = self.boot_offset_ns
        fixups = self._fixups
        unpack_head = _RING_AND_RECORD_HEADER.unpack_from
        unpack_two = _TWO_LENS.unpack_from
        splitters = _SPLITTERS
        infos = event_infos()
        known = len(infos)
        make = Event.from_source
        num = self.num
        skip = RING_HEADER.size
        for at in starts:
            length, ts, tid, etype, nparams, cpu, _ = unpack_head(data, at)
            start = at + skip
            stop = start + length
            if length < _HDR_SIZE:
                self.corrupt += 1
                continue
            if nparams == 2:  # most system calls' enters and exits: split here, without a call
                a, b = unpack_two(data, start + _HDR_SIZE)
                p1 = start + _HDR_SIZE + 4 + a
                raw = [data[start + _HDR_SIZE + 4:p1], data[p1:stop]] if p1 + b == stop else None
            else:
                split = splitters.get(nparams)
                raw = split(data, start, stop) if split is not None else _split_any(data, start, stop, nparams)
            if raw is None or etype >= known:
                self.corrupt += 1
                continue
            fix = fixups.get(etype)
            if fix is not None:
                raw = fix(tid, raw)
            num += 1
            append(make(infos[etype], ts + offset, tid, raw, cpu, num))
        self.num = num
        return out

    # --- process events: rebuilt from compact kernel records -------------------------------

    def _procexit(self, tid, raw):
        # The thread is gone: forget what was kept for it, so long runs do not grow without bound.
        self._images.pop(tid, None)
        self._ptids.pop(tid, None)
        self._argv.pop(tid, None)
        return raw

    def _ptid(self, tid):
        return self._ptids.get(tid) or _parent_from_proc(tid)

    def _image(self, tid, ptid=0):
        img = self._images.get(tid) or (ptid and self._images.get(ptid))
        if img:
            return img
        cmdline = _read_proc(f"/proc/{tid}/cmdline")
        if cmdline:
            exe, _, rest = cmdline.partition(b"\0")
            return exe, rest, _read_proc(f"/proc/{tid}/cwd", link=True) or b""
        return None

    def _execve_enter(self, tid, raw):
        # The enter carries argv as one extra kernel-only parameter: keep it for the exit.
        # The kernel always writes it last (specs.py), after the table's own parameters.
        if raw:
            blob = raw.pop()
            self._argv[tid] = blob.split(b"\0")[:-1] if blob else []
        return raw

    def _execve_exit(self, tid, raw):
        res, tid_b, pid_b, ptid_b, comm = raw
        tid_v = _U64.unpack(tid_b)[0]
        if ptid_b == bytes(8):
            ptid_b = _U64.pack(self._ptid(tid_v))
        argv = self._argv.pop(tid, None)
        ok = _I64.unpack(res)[0] >= 0
        old = self._images.get(tid_v) or (b"", b"", b"")
        cwd = old[2] or _read_proc(f"/proc/{tid_v}/cwd", link=True) or b""
        if ok and argv is not None:
            exe = argv[0] if argv else _cstr(comm)
            args = b"".join(a + b"\0" for a in argv[1:])
        else:
            exe, args = old[0], old[1]
        if ok:
            self._images[tid_v] = (exe, args, cwd)
        zero4, zero8 = bytes(4), bytes(8)
        return [res, exe + b"\0", args, tid_b, pid_b, ptid_b, cwd + b"\0", zero8, zero8, zero8,
                zero4, zero4, zero4, _cstr(comm) + b"\0", b"", b"", zero4, pid_b,
                _I64.pack(-1)[:4], zero4]

    def _clone_exit(self, tid, raw):
        if len(raw) != len(CLONE_EXIT_LAYOUT):
            return raw
        res, tid_b, pid_b, ptid_b, comm, flags, uid, gid = raw
        res_v, tid_v, ptid_v = _I64.unpack(res)[0], _U64.unpack(tid_b)[0], _U64.unpack(ptid_b)[0]
        if not ptid_v:
            ptid_v = self._ptid(tid_v)
            ptid_b = _U64.pack(ptid_v)
        img = self._image(tid_v, ptid_v)
        if img and res_v > 0:
            self._images.setdefault(res_v, img)  # the child starts as a copy of the parent
        exe, args, cwd = img or (_cstr(comm), b"", b"")
        zero4, zero8 = bytes(4), bytes(8)
        return [res, exe + b"\0", args, tid_b, pid_b, ptid_b, cwd + b"\0", zero8, zero8, zero8,
                zero4, zero4, zero4, _cstr(comm) + b"\0", b"",
                _U32.pack(clone_flags_to_scap(_U32.unpack(flags)[0])), uid, gid, tid_b, pid_b]
