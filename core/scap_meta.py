"""scap block type numbers and the metadata blocks: machine info, process, fd, interface and user lists.

Shared by the capture reader (which parses these blocks into a `Snapshot`) and the writer (which
emits them). Layouts follow scap-format.md; every version the 0.29-era and newer writers produced is
read. Parsing is not on the hot path (it runs once per file), so it favours clarity.
"""

import functools
import socket
import struct

from .threadinfo import FdInfo, GroupInfo, Snapshot, ThreadInfo, UserInfo

# libscap reads process-list strings into fixed buffers and refuses the whole file when one is
# longer (scap_limits.h: paths 1024, args/env/cgroups 4096, user names 256; some versions test with
# >=). A real /proc holds longer command lines (a CI runner's was 25 kB), so writers cut to these.
MAX_PATH_BYTES = 1023
MAX_LIST_BYTES = 4095
MAX_NAME_BYTES = 255


def fit_list(items):
    """`items` (args, env, cgroups) cut so their NUL-terminated join fits MAX_LIST_BYTES.

    The first item that overflows keeps its prefix, later ones are dropped, as sysdig's own /proc
    scan keeps the first 4 kB of a command line. Idempotent: a fitted list fits.
    """
    room, kept = MAX_LIST_BYTES, []
    for item in items:
        data = item.encode("utf-8", "surrogateescape")
        if len(data) + 1 > room:
            if room > 1:
                kept.append(data[:room - 1].decode("utf-8", "surrogateescape"))
            break
        kept.append(item)
        room -= len(data) + 1
    return kept


SHB = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D

MI_BLOCKS = (0x201, 0x8002ABCD)
# Process list block type -> layout version (1..9).
PL_VERSIONS = {
    0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3,
    0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9,
}
FDL_VERSIONS = {0x203: 1, 0x8001ABCD: 1, 0x218: 2}
IL_VERSIONS = {0x205: 1, 0x8011ABCD: 1, 0x219: 2}
UL_VERSIONS = {0x206: 1, 0x8012ABCD: 1, 0x220: 2}

# Event block type -> (has dump flags, v2 header with nparams).
EVENT_BLOCKS = {
    0x204: (False, False), 0x8010ABCD: (False, False), 0x208: (True, False),
    0x216: (False, True), 0x217: (True, True), 0x221: (False, True), 0x222: (True, True),
}
EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE = 0x216, 0x217, 0x221, 0x222
MI_V1, IL_V2, UL_V2, PL_V9, FDL_V2 = 0x201, 0x219, 0x220, 0x215, 0x218

# scap_fd_type numbers -> sysdig's fd.type names.
SCAP_FD_TYPES = {
    0: "unknown", 1: "file", 2: "directory", 3: "ipv4", 4: "ipv6", 5: "ipv4", 6: "ipv6",
    7: "pipe", 8: "unix", 9: "event", 10: "unsupported", 11: "signalfd", 12: "eventpoll",
    13: "inotify", 14: "timerfd", 15: "netlink", 16: "file", 17: "bpf", 18: "userfaultfd",
    19: "io_uring", 20: "memfd", 21: "pidfd",
}
FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK = 3, 4, 5, 6
FD_UNIX_SOCK, FD_FILE_V2 = 8, 16
# scap l4 protocol codes -> fd.l4proto names.
L4PROTOS = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}

# Interface list entry types: 1/3 IPv4, 2/4 IPv6 (3 and 4 carry no link speed).
IF_IPV4, IF_IPV6, IF_IPV4_NOLINKSPEED, IF_IPV6_NOLINKSPEED = 1, 2, 3, 4


@functools.cache
def _structs(fmt):
    return struct.Struct("<" + fmt)


class Cursor:
    """Sequential little-endian reads over a memoryview; running past its end raises IndexError."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def left(self):
        return self.end - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > self.end:
            raise IndexError(f"needs {n} bytes at {self.pos}, only {self.end - self.pos} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        st = _structs(fmt)
        return st.unpack(self.take(st.size))

    def u8(self):
        return self.unpack("B")[0]

    def u16(self):
        return self.unpack("H")[0]

    def u32(self):
        return self.unpack("I")[0]

    def i32(self):
        return self.unpack("i")[0]

    def u64(self):
        return self.unpack("Q")[0]

    def i64(self):
        return self.unpack("q")[0]

    def raw_str(self):
        """A scap "str": u16 length and the bytes (no NUL)."""
        return bytes(self.take(self.u16()))

    def string(self):
        """A scap "str" decoded to text."""
        return text(self.raw_str())

    def sub(self, length):
        """A cursor over the next `length` bytes; this cursor moves past them."""
        start = self.pos
        self.take(length)
        return Cursor(self.data, start, start + length)


def text(data):
    """Capture bytes as str: utf-8, keeping undecodable bytes (surrogateescape), cut at a NUL."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    return data.decode("utf-8", "surrogateescape")


def text_list(data):
    """A NUL-separated list (args, env, cgroups) as a list of str; a trailing NUL ends the last item."""
    if not data:
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return [item.decode("utf-8", "surrogateescape") for item in data.split(b"\0")]


class SnapshotBuilder:
    """Collects metadata blocks in any order and links threads to their process's fd table."""

    def __init__(self):
        self.snapshot = Snapshot()
        self.fdtables = {}  # pid -> the fdtable dict every thread of that process shares

    def fdtable(self, pid):
        return self.fdtables.setdefault(pid, {})

    def finish(self):
        """The snapshot, with connected IP sockets oriented client->server as sysdig shows them."""
        self._route_thread_fd_lists()
        _orient_connections(self.fdtables.values())
        return self.snapshot

    def _route_thread_fd_lists(self):
        """An fd list filed under a secondary thread's tid belongs to its process's shared table."""
        pid_of = {t.tid: t.pid for t in self.snapshot.threads}
        for tid in list(self.fdtables):
            pid = pid_of.get(tid, tid)
            if pid != tid:
                for fd, info in self.fdtables.pop(tid).items():
                    self.fdtables.setdefault(pid, {}).setdefault(fd, info)


def _orient_connections(fdtables):
    """Give connected sockets their roles: the end whose local port some process listens on is the server.

    The fd list stores connected sockets as local->remote. sysdig names them client->server, and
    decides the server side from the ports of the listening sockets it saw in the same lists
    (an sshd session reads '10.0.2.2:50879->10.0.2.15:22', not the other way round).
    """
    tables = list(fdtables)
    listening = {f.sport for t in tables for f in t.values() if f.is_server}
    for table in tables:
        for f in table.values():
            if f.is_server is False and f.cport in listening:
                f.cip, f.cport, f.sip, f.sport = f.sip, f.sport, f.cip, f.cport
                f.is_server = True
                f.name = f"{_endpoint(f.cip, f.cport)}->{_endpoint(f.sip, f.sport)}"


def parse_metadata_block(btype, body, builder):
    """Parse one metadata block body into `builder`; unknown types are skipped, as libscap does."""
    if btype in MI_BLOCKS:
        _parse_machine_info(Cursor(body), builder.snapshot)
    elif btype in PL_VERSIONS:
        _parse_process_list(Cursor(body), PL_VERSIONS[btype], builder)
    elif btype in FDL_VERSIONS:
        _parse_fd_list(Cursor(body), FDL_VERSIONS[btype], builder)
    elif btype in IL_VERSIONS:
        _parse_interface_list(Cursor(body), IL_VERSIONS[btype], builder.snapshot)
    elif btype in UL_VERSIONS:
        _parse_user_list(Cursor(body), UL_VERSIONS[btype], builder.snapshot)


def _parse_machine_info(cur, snapshot):
    num_cpus, memory, max_pid = cur.unpack("IQQ")
    hostname = text(bytes(cur.take(128)))
    snapshot.machine = {"num_cpus": num_cpus, "memory_bytes": memory, "max_pid": max_pid,
                        "hostname": hostname}


# -- process list -------------------------------------------------------------------------------


def _parse_process_list(cur, version, builder):
    while cur.left() >= 4:
        if version >= 9:
            entry_len = cur.u32()
            entry = cur.sub(entry_len - 4)
        else:
            entry = cur
        thread = _parse_process_entry(entry, version)
        thread.fdtable = builder.fdtable(thread.pid)
        builder.snapshot.threads.append(thread)


def _parse_process_entry(cur, version):
    tid, pid, ptid = cur.unpack("qqq")  # signed, like event tids (-1 = none)
    t = ThreadInfo(tid, pid, ptid)
    if version >= 6:
        t.sid = cur.i64()
    if version >= 8:
        t.vpgid = cur.i64()
    t.comm = cur.string()
    t.exe = cur.string()
    if version >= 7:
        t.exepath = cur.string()
    t.args = text_list(cur.raw_str())
    t.cwd = cur.string()
    t.fdlimit, t.flags, t.uid, t.gid = cur.unpack("QIII")
    if version >= 2:
        t.vmsize_kb, t.vmrss_kb, t.vmswap_kb, t.pfmajor, t.pfminor = cur.unpack("IIIQQ")
    if version >= 3:
        t.env = text_list(cur.raw_str())
    if version >= 4:
        t.vtid, t.vpid = cur.unpack("qq")
        t.cgroups = text_list(cur.raw_str())
    if version >= 5:
        t.root = cur.string()
    if version >= 9:
        _parse_v9_tail(cur, t)
    return t


def _parse_v9_tail(cur, t):
    left = cur.left()
    if 4 <= left <= 29:
        # The 0.29 writer's tail: i32 loginuid, u8 exe_writable.
        t.loginuid = cur.i32()
    elif left > 29:
        # libs 0.10 and later: u64 pidns_init_start_ts, u32 tty, u32 loginuid, then more we skip.
        cur.u64()
        t.tty = cur.u32()
        t.loginuid = cur.i32()


# -- fd list ----------------------------------------------------------------------------------


def _parse_fd_list(cur, version, builder):
    tid = cur.i64()
    table = builder.fdtable(tid)
    while cur.left() >= 4:
        if version >= 2:
            entry_len = cur.u32()
            entry = cur.sub(entry_len - 4)
        else:
            entry = cur
        fdinfo = _parse_fd_entry(entry, sized=version >= 2)
        table[fdinfo.fd] = fdinfo


def _ip_text(family, data):
    return socket.inet_ntop(family, bytes(data))


def _endpoint(addr, port):
    """'addr:port' as sysdig prints an endpoint (IPv6 addresses unbracketed)."""
    return f"{addr}:{port}"


def _parse_fd_entry(cur, sized):
    """One fd entry; `sized` entries (v2) carry their own length, so optional tails can be seen."""
    fd, ino, ftype = cur.unpack("qQB")
    name = SCAP_FD_TYPES.get(ftype, "unknown")
    f = FdInfo(fd, name, ino=ino)
    if ftype in (FD_IPV4_SOCK, FD_IPV6_SOCK):
        family, size = (socket.AF_INET, 4) if ftype == FD_IPV4_SOCK else (socket.AF_INET6, 16)
        # Stored local->remote; taken as client->server until `_orient_connections` knows better.
        f.cip = _ip_text(family, cur.take(size))
        f.sip = _ip_text(family, cur.take(size))
        f.cport, f.sport, proto = cur.unpack("HHB")
        f.l4proto = L4PROTOS.get(proto)
        f.is_server = False
        f.name = f"{_endpoint(f.cip, f.cport)}->{_endpoint(f.sip, f.sport)}"
    elif ftype in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
        family, size = (socket.AF_INET, 4) if ftype == FD_IPV4_SERVSOCK else (socket.AF_INET6, 16)
        f.sip = _ip_text(family, cur.take(size))
        f.sport, proto = cur.unpack("HB")
        f.l4proto = L4PROTOS.get(proto)
        f.is_server = True
        f.name = _endpoint(f.sip, f.sport)
    elif ftype == FD_UNIX_SOCK:
        f.source, f.dest = cur.unpack("QQ")
        # Paths copied from /proc/net/unix keep their line's newline; sysdig shows them without it.
        f.name = cur.string().rstrip("\n")
    elif ftype == FD_FILE_V2:
        f.flags = cur.u32()
        f.name = cur.string()
        if sized and cur.left() >= 4:
            f.dev = cur.u32()
    else:
        f.name = cur.string()
    return f


# -- interface and user lists --------------------------------------------------------------------


def _parse_interface_list(cur, version, snapshot):
    while cur.left() >= 4:
        if version >= 2:
            entry = cur.sub(cur.u32())  # this length does not count itself
        else:
            entry = cur
        iftype, namelen = entry.unpack("HH")
        if iftype in (IF_IPV4, IF_IPV4_NOLINKSPEED):
            family, size = socket.AF_INET, 4
        elif iftype in (IF_IPV6, IF_IPV6_NOLINKSPEED):
            family, size = socket.AF_INET6, 16
        else:
            raise ValueError(f"unknown interface entry type {iftype}")
        addr = _ip_text(family, entry.take(size))
        entry.take(2 * size)  # netmask, broadcast
        if iftype in (IF_IPV4, IF_IPV6):
            entry.u64()  # link speed
        name = text(bytes(entry.take(namelen)))
        # Family as text, the same spelling the live /proc scan uses.
        snapshot.interfaces.append((name, "ipv4" if family == socket.AF_INET else "ipv6", addr))


def _parse_user_list(cur, version, snapshot):
    while cur.left() >= 4:
        if version >= 2:
            entry = cur.sub(cur.u32() - 4)
        else:
            entry = cur
        kind = entry.u8()
        if kind == 0:
            uid, gid = entry.unpack("II")
            name, home, shell = entry.string(), entry.string(), entry.string()
            snapshot.users[uid] = UserInfo(uid, gid, name, home, shell)
        else:
            gid = entry.u32()
            snapshot.groups[gid] = GroupInfo(gid, entry.string())
