"""`ScapWriter`: write a `Snapshot` and `Event`s as a scap capture file that sysdig 0.29 and our reader read.

Layout as the 0.29 writer makes it (scap-format.md): section header 1.2, machine info, interface
list, user list, process list V9, one fd list per process, then one block per event (EV/EVF V2, the
_LARGE numbers for EF_LARGE_PAYLOAD events). Events are written back from their raw parameter
bytes, unchanged.

Blocks are assembled whole in memory and handed to the file in whole blocks, so a Ctrl-C or a crash
leaves a file that reads cleanly up to the last flushed block (gzip output is sync-flushed at each
`flush()` for the same reason).
"""

import gzip
import os
import socket
import struct
import zlib

from . import scap_meta as meta
from .errors import ChiselRuntimeError, UsageError
from .event import model

_FLUSH_AT = 1 << 20  # bytes buffered before an automatic flush

_BLOCK_HEADER = struct.Struct("<II")
_U32 = struct.Struct("<I")

# sysdig's fd.type names -> scap_fd_type numbers for the fd list (sockets are decided by role).
# sysdig 0.29 refuses a whole file whose fd list holds a type above 16, so newer kinds are written
# the way 0.29's own /proc scan recorded them: memfds as files, other anonymous inodes (bpf,
# userfaultfd, io_uring, pidfd) as 'unsupported'.
_UNSUPPORTED = 10
_FD_TYPE_NUMBERS = {
    "unknown": 0, "file": meta.FD_FILE_V2, "directory": 2, "pipe": 7, "unix": meta.FD_UNIX_SOCK,
    "event": 9, "unsupported": _UNSUPPORTED, "signalfd": 11, "eventpoll": 12, "inotify": 13,
    "timerfd": 14, "netlink": 15, "memfd": meta.FD_FILE_V2, "bpf": _UNSUPPORTED,
    "userfaultfd": _UNSUPPORTED, "io_uring": _UNSUPPORTED, "pidfd": _UNSUPPORTED,
}
_L4PROTO_NUMBERS = {name: n for n, name in meta.L4PROTOS.items()}


def _event_layout(nparams, large, has_flags):
    """(pack, bytes before the values, event length without the values, block type) of an event
    block with `nparams` lengths: block header, cpu (+ flags), event header and lengths are one
    struct, so writing an event packs once."""
    lengths = f"{nparams}{'I' if large else 'H'}"
    if has_flags:
        st = struct.Struct(f"<IIHIQqIHI{lengths}")
        btype = meta.EVF_V2_LARGE if large else meta.EVF_V2
    else:
        st = struct.Struct(f"<IIHQqIHI{lengths}")
        btype = meta.EV_V2_LARGE if large else meta.EV_V2
    elen_base = 26 + struct.calcsize(f"<{lengths}")
    return st.pack, st.size, elen_base, btype


_TAILS = tuple(b"\0" * n for n in range(4))  # zero padding before a block's trailer


def _block(btype, body):
    """One whole block: header, body, zero padding to 4 bytes, trailer."""
    pad = -len(body) % 4
    total = 12 + len(body) + pad
    return b"".join((_BLOCK_HEADER.pack(btype, total), body, b"\0" * pad, _U32.pack(total)))


def _str(text, limit=meta.MAX_PATH_BYTES):
    """A scap "str": u16 length + bytes (no NUL), cut to `limit` bytes so libscap accepts it."""
    if text is None:
        text = ""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    data = data[:limit]
    return struct.pack("<H", len(data)) + data


def _str_list(items):
    """A NUL-separated list (args, env, cgroups), each item NUL-terminated as /proc gives them,
    cut to what libscap accepts."""
    fitted = meta.fit_list(items)
    return _str(b"".join(i.encode("utf-8", "surrogateescape") + b"\0" for i in fitted), meta.MAX_LIST_BYTES)


def _ip_bytes(family, text):
    return socket.inet_pton(family, text or ("0.0.0.0" if family == socket.AF_INET else "::"))


class ScapWriter:
    """A capture file being written: `write(ev)`, `flush()`, `close()` (also a context manager).

    The file is created 0600 and never through a symlink planted at `path`.
    """

    def __init__(self, path, snapshot, *, compress=False):
        self.path = str(path)
        self._pending = []
        self._pending_bytes = 0
        self._large = tuple(info.large_payload for info in model().events)
        self._layouts = {}  # (nparams, large, has flags) -> _event_layout
        self._fd = self._create(self.path)
        self._raw = os.fdopen(self._fd, "wb", buffering=0)
        self._out = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6) if compress else self._raw
        self._compress = compress
        self.events_written = 0
        try:
            self._emit(b"".join(self._metadata_blocks(snapshot)))
            self.flush()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _create(path):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            why = "it is a symlink, which is never followed" if e.errno == 40 else e.strerror
            raise UsageError(f"cannot write capture file '{path}': {why}; pick another path") from None
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode under O_CREAT; captures are private
        except OSError:
            pass
        return fd

    # -- metadata ------------------------------------------------------------------------------

    def _metadata_blocks(self, snap):
        yield _block(meta.SHB, struct.pack("<IHHq", meta.SHB_MAGIC, 1, 2, -1))
        yield _block(meta.MI_V1, self._machine_info(snap.machine))
        yield _block(meta.IL_V2, b"".join(self._interface_entry(i) for i in snap.interfaces))
        yield _block(meta.UL_V2, self._user_list(snap))
        yield _block(meta.PL_V9, b"".join(self._process_entry(t) for t in snap.threads))
        seen = set()
        for t in snap.threads:
            if id(t.fdtable) in seen:
                continue
            seen.add(id(t.fdtable))
            entries = b"".join(self._fd_entry(f) for _, f in sorted(t.fdtable.items()))
            yield _block(meta.FDL_V2, struct.pack("<q", t.pid) + entries)

    @staticmethod
    def _machine_info(machine):
        host = machine.get("hostname", "").encode()[:127]
        return struct.pack("<IQQ128s32x", machine.get("num_cpus", 0), machine.get("memory_bytes", 0),
                           machine.get("max_pid", 0), host)

    @staticmethod
    def _interface_entry(iface):
        name, family, addr = iface[0], iface[1], str(iface[2]).split("/")[0]
        data = name.encode()
        if family in ("ipv6", socket.AF_INET6) or ":" in addr:
            iftype, family, size = meta.IF_IPV6, socket.AF_INET6, 16
        else:
            iftype, family, size = meta.IF_IPV4, socket.AF_INET, 4
        # Netmask and broadcast are not kept in a Snapshot (zeros); link speed unknown (0).
        body = (struct.pack("<HH", iftype, len(data)) + _ip_bytes(family, addr) + b"\0" * (2 * size)
                + struct.pack("<Q", 0) + data)
        return _U32.pack(len(body)) + body  # this length does not count itself

    @staticmethod
    def _user_list(snap):
        entries = []
        for u in snap.users.values():
            entries.append(b"\0" + struct.pack("<II", u.uid, u.gid) + _str(u.name, meta.MAX_NAME_BYTES) + _str(u.homedir)
                           + _str(u.shell))
        for g in snap.groups.values():
            entries.append(b"\1" + struct.pack("<I", g.gid) + _str(g.name, meta.MAX_NAME_BYTES))
        return b"".join(_U32.pack(len(e) + 4) + e for e in entries)

    @staticmethod
    def _process_entry(t):
        body = b"".join((
            struct.pack("<qqqqq", t.tid, t.pid, t.ptid, t.sid, t.vpgid),
            _str(t.comm), _str(t.exe), _str(t.exepath), _str_list(t.args), _str(t.cwd),
            struct.pack("<QIII", t.fdlimit, t.flags, t.uid & 0xFFFFFFFF, t.gid & 0xFFFFFFFF),
            struct.pack("<IIIQQ", t.vmsize_kb, t.vmrss_kb, t.vmswap_kb, t.pfmajor, t.pfminor),
            _str_list(t.env), struct.pack("<qq", t.vtid, t.vpid), _str_list(t.cgroups), _str(t.root),
            # The 0.29 tail: loginuid (written as its 32 bits, -1 and 4294967295 alike), exe_writable.
            struct.pack("<IB", t.loginuid & 0xFFFFFFFF, 0),
        ))
        return _U32.pack(len(body) + 4) + body

    @staticmethod
    def _fd_entry(f):
        if f.type in ("ipv4", "ipv6"):
            family, servsock, sock = (
                (socket.AF_INET, meta.FD_IPV4_SERVSOCK, meta.FD_IPV4_SOCK) if f.type == "ipv4"
                else (socket.AF_INET6, meta.FD_IPV6_SERVSOCK, meta.FD_IPV6_SOCK))
            proto = _L4PROTO_NUMBERS.get(f.l4proto, 0)
            if f.is_server and f.cip is None:
                head = struct.pack("<qQB", f.fd, f.ino, servsock)
                body = _ip_bytes(family, f.sip) + struct.pack("<HB", f.sport or 0, proto)
            else:
                # The fd list stores local->remote; the local end is the server when this fd is.
                local, remote = ((f.sip, f.sport), (f.cip, f.cport)) if f.is_server else (
                    (f.cip, f.cport), (f.sip, f.sport))
                head = struct.pack("<qQB", f.fd, f.ino, sock)
                body = (_ip_bytes(family, local[0]) + _ip_bytes(family, remote[0])
                        + struct.pack("<HHB", local[1] or 0, remote[1] or 0, proto))
        else:
            ftype = _FD_TYPE_NUMBERS.get(f.type, _UNSUPPORTED)
            head = struct.pack("<qQB", f.fd, f.ino, ftype)
            if ftype == meta.FD_UNIX_SOCK:
                body = struct.pack("<QQ", f.source, f.dest) + _str(f.name)
            elif ftype == meta.FD_FILE_V2:
                body = _U32.pack(f.flags & 0xFFFFFFFF) + _str(f.name) + _U32.pack(f.dev & 0xFFFFFFFF)
            else:
                body = _str(f.name)
        entry = head + body
        return _U32.pack(len(entry) + 4) + entry

    # -- events --------------------------------------------------------------------------------

    def write(self, ev):
        """Append one event block (kept in memory until the next flush).

        The block goes to the pending list as pieces (header, the raw values, padding and
        trailer) joined only at flush: per event that is one struct pack and no copies.
        """
        raw = ev.raw
        large = self._large[ev.type]
        flags = ev.dump_flags
        key = (len(raw), large, flags != 0)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = _event_layout(*key)
        pack, fixed, elen_base, btype = layout
        sizes = [len(v) for v in raw]
        data = sum(sizes)
        body_end = fixed + data
        pad = -body_end % 4
        total = body_end + pad + 4
        try:
            if flags:
                head = pack(btype, total, ev.cpu, flags, ev.ts, ev.tid, elen_base + data, ev.type,
                            len(raw), *sizes)
            else:
                head = pack(btype, total, ev.cpu, ev.ts, ev.tid, elen_base + data, ev.type, len(raw),
                            *sizes)
        except struct.error:
            raise ChiselRuntimeError(f"event {ev.num} ({ev.info.name}): a parameter is longer "
                                     "than a u16 length can say") from None
        if not large and total > 0x10000:
            raise ChiselRuntimeError(f"event {ev.num} ({ev.info.name}) does not fit a 64 KiB block")
        pending = self._pending
        pending.append(head)
        pending.extend(raw)
        pending.append(_TAILS[pad] + _U32.pack(total))
        self._pending_bytes += total
        self.events_written += 1
        if self._pending_bytes >= _FLUSH_AT:
            self.flush()

    def _emit(self, data):
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_AT:
            self.flush()

    def flush(self):
        """Hand every buffered block to the file; after this the file is valid up to here."""
        if self._out is None:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            if data:
                self._out.write(data)
            if self._compress:
                self._out.flush(zlib.Z_SYNC_FLUSH)
        except OSError as e:
            raise ChiselRuntimeError(f"cannot write capture file '{self.path}': {e.strerror or e}") from None

    def close(self):
        """Flush and close; safe to call more than once."""
        if self._out is None:
            return
        try:
            self.flush()
        finally:
            out, raw = self._out, self._raw
            self._out = self._raw = None
            try:
                if out is not raw:
                    out.close()  # writes the gzip trailer
            finally:
                raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
