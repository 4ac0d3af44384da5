"""The /proc scan that seeds live state: every process and thread, their fds, users, groups, machine.

`scan_proc()` builds the `Snapshot` a live source hands to the state engine before the first event,
the way sysdig's /proc scan does (sysdig-model.md §6), so a read on an fd opened before the capture
already has its fd.name. `lookup_thread(tid)` reads one thread on demand, for a tid the state engine
meets in an event without having seen it born.

Processes come and go while we read: any entry may vanish between two reads (ENOENT, ESRCH) or be
unreadable (EACCES). A process whose stat cannot be read is skipped; any other missing piece keeps
its default. Values are stored raw, as a capture file's process list stores them (cwd without a
trailing '/', loginuid -1 when unset), so live and replayed state look the same to later stages.

Cost: one stat and one status read per thread; cmdline, environ, exe, cwd, root, limits, loginuid,
cgroup and the fd directory once per process (threads share them); one readlink, one fdinfo read
and, for paths only, one stat per fd; the /proc/net tables once per network namespace.
"""

import grp
import os
import pwd
import socket

from . import procnet, scap_meta
from .threadinfo import FdInfo, GroupInfo, Snapshot, ThreadInfo, UserInfo

# sysdig's clone flags for a thread found in /proc: it assumes a thread shares its process's fds.
PPM_CL_CLONE_FILES = 0x1
PPM_CL_CLONE_THREAD = 0x2000

# Linux open(2) flag bits (octal, as /proc/PID/fdinfo prints them) -> sysdig's PPM_O_* bits.
_OPEN_FLAG_MAP = (
    (0o100, 0x4),          # O_CREAT
    (0o200, 0x20),         # O_EXCL
    (0o1000, 0x100),       # O_TRUNC
    (0o2000, 0x8),         # O_APPEND
    (0o4000, 0x40),        # O_NONBLOCK
    (0o10000, 0x10),       # O_DSYNC
    (0o4000000, 0x80),     # __O_SYNC (O_SYNC is __O_SYNC | O_DSYNC)
    (0o40000, 0x200),      # O_DIRECT
    (0o100000, 0x800),     # O_LARGEFILE
    (0o200000, 0x400),     # O_DIRECTORY
    (0o2000000, 0x1000),   # O_CLOEXEC
    (0o20000000, 0x2000),  # __O_TMPFILE
)
_ACCESS_MODE_MAP = {0: 0x1, 1: 0x2, 2: 0x3}  # O_RDONLY, O_WRONLY, O_RDWR
LINUX_O_CLOEXEC = 0o2000000

# anon_inode link text -> fd.type. Anything else behind anon_inode: is 'unknown'.
_ANON_INODE_TYPES = {
    "[eventfd]": "event", "[signalfd]": "signalfd", "[eventpoll]": "eventpoll",
    "inotify": "inotify", "[timerfd]": "timerfd", "[io_uring]": "io_uring",
    "[userfaultfd]": "userfaultfd", "[pidfd]": "pidfd",
}

_UNSET_LOGINUID = 4294967295
_READ_ERRORS = (OSError,)  # ENOENT/ESRCH when a process exits, EACCES when unreadable


def scan_proc(root="/proc"):
    """Read every process and thread under `root` into a `Snapshot` (threads, fds, users, machine)."""
    scanner = _Scanner(root)
    snapshot = Snapshot()
    for name in _listdir(root):
        if name.isdigit():
            snapshot.threads.extend(scanner.process(int(name)))
    snapshot.users, snapshot.groups = read_users(), read_groups()
    snapshot.machine = read_machine_info(root)
    snapshot.interfaces = read_interfaces(root)
    return snapshot


def lookup_thread(tid, root="/proc"):
    """Read one thread (any tid, not only a process's main thread) from /proc, or None if gone.

    The result has its process's fdtable freshly scanned; a state engine that already knows the
    main thread should point the new thread's `fdtable` at the main thread's dict instead.
    """
    status = _read_status(f"{root}/{tid}/status")
    if status is None or "Tgid" not in status:
        return None
    pid = int(status["Tgid"].split()[0])
    scanner = _Scanner(root)
    main = scanner.main_thread(pid)
    if main is None:
        return None
    if tid == pid:
        return main
    return scanner.thread(pid, tid, main)


class _Scanner:
    """One pass over /proc: caches per-scan constants and one socket table per network namespace."""

    def __init__(self, root):
        self.root = root
        self.clk_tck = os.sysconf("SC_CLK_TCK")
        self.boot_ns = _boot_time_ns(root)
        self._sockets = {}  # netns link text -> procnet.SocketTable
        self._reloaded = set()  # namespaces whose tables were re-read once after a miss

    def process(self, pid):
        """The threads of process `pid`, main thread first, sharing one fdtable; [] if it vanished."""
        main = self.main_thread(pid)
        if main is None:
            return []
        threads = [main]
        for name in _listdir(f"{self.root}/{pid}/task"):
            if name.isdigit() and int(name) != pid:
                thread = self.thread(pid, int(name), main)
                if thread is not None:
                    threads.append(thread)
        return threads

    def main_thread(self, pid):
        """The main thread with the process-wide state (command line, environment, cwd, fds)."""
        base = f"{self.root}/{pid}"
        main = self._task(base, pid, pid)
        if main is None:
            return None
        cmdline = _read_bytes(f"{base}/cmdline")
        argv = _split_nul(cmdline) if cmdline else []
        # Kernel threads have an empty cmdline: sysdig shows their comm as exe.
        main.exe = argv[0] if argv else main.comm
        # Cut as sysdig's scan cuts them, so a snapshot holds what a capture file can hold.
        main.args = scap_meta.fit_list(argv[1:])
        main.exepath = _readlink(f"{base}/exe") or ""
        environ = _read_bytes(f"{base}/environ")
        main.env = scap_meta.fit_list(_split_nul(environ)) if environ else []
        main.cwd = _readlink(f"{base}/cwd") or main.cwd
        main.root = _readlink(f"{base}/root") or main.root
        main.fdlimit = _read_fd_limit(f"{base}/limits")
        main.loginuid = _read_loginuid(f"{base}/loginuid")
        main.cgroups = scap_meta.fit_list(_read_cgroups(f"{base}/cgroup"))
        main.fdtable = self.fdtable(pid)
        return main

    def thread(self, pid, tid, main):
        """A secondary thread: its own stat and status, everything process-wide shared with `main`."""
        thread = self._task(f"{self.root}/{pid}/task/{tid}", tid, pid)
        if thread is None:
            return None
        for attr in ("exe", "exepath", "args", "env", "cwd", "root", "fdlimit", "loginuid",
                     "cgroups", "fdtable"):
            setattr(thread, attr, getattr(main, attr))
        thread.flags = PPM_CL_CLONE_THREAD | PPM_CL_CLONE_FILES
        return thread

    def _task(self, task_dir, tid, pid):
        """A ThreadInfo from a task's stat and status, or None when the task is gone."""
        stat = _read_bytes(f"{task_dir}/stat")
        if not stat:
            return None
        fields = _parse_stat(stat)
        if fields is None:
            return None
        comm, rest = fields
        thread = ThreadInfo(tid, pid, comm=comm)
        # rest[0] is field 3 (state) of proc(5) stat; field N is rest[N - 3].
        thread.vpgid = int(rest[2])
        thread.sid = int(rest[3])
        thread.tty = int(rest[4])
        thread.pfminor = int(rest[7])
        thread.pfmajor = int(rest[9])
        thread.clone_ts = self.boot_ns + int(rest[19]) * 1_000_000_000 // self.clk_tck
        thread.ptid = int(rest[1])
        status = _read_status(f"{task_dir}/status")
        if status:
            _apply_status(thread, status)
        return thread

    def fdtable(self, pid):
        """{fd: FdInfo} of process `pid`; fds that close while we read are left out."""
        fd_dir = f"{self.root}/{pid}/fd"
        table = {}
        for name in _listdir(fd_dir):
            if not name.isdigit():
                continue
            fd = int(name)
            link = _readlink(f"{fd_dir}/{name}")
            if link is None:
                continue
            info = self._fd_from_link(pid, fd, link, f"{fd_dir}/{name}")
            if info is None:
                continue
            flags = _read_fdinfo_flags(f"{self.root}/{pid}/fdinfo/{name}")
            if flags is not None:
                info.flags = open_flags_to_ppm(flags)
                info.cloexec = bool(flags & LINUX_O_CLOEXEC)
            table[fd] = info
        return table

    def _fd_from_link(self, pid, fd, link, path):
        if link.startswith("socket:["):
            inode = _bracketed_number(link)
            return None if inode is None else self._socket_fd(pid, fd, inode)
        if link.startswith("pipe:["):
            return FdInfo(fd, "pipe", link, ino=_bracketed_number(link) or 0)
        if link.startswith("anon_inode:"):
            return FdInfo(fd, classify_anon_inode(link[len("anon_inode:"):]), "")
        if link.startswith("/memfd:"):
            return FdInfo(fd, "memfd", link)
        # A path (or a pseudo-file such as net:[4026531993]): stat says directory, FIFO or file.
        try:
            st = os.stat(path)
        except _READ_ERRORS:
            return FdInfo(fd, "file", link)
        mode = st.st_mode & 0o170000
        fdtype = "directory" if mode == 0o040000 else "pipe" if mode == 0o010000 else "file"
        return FdInfo(fd, fdtype, link, ino=st.st_ino, dev=st.st_dev)

    def _socket_fd(self, pid, fd, inode):
        """An FdInfo for socket `inode` from its namespace's tables; None if no table lists it
        (sysdig leaves such sockets out: packet, vsock and other families it does not parse)."""
        netns = _readlink(f"{self.root}/{pid}/ns/net") or ""
        table = self._sockets.get(netns)
        if table is None:
            table = self._sockets[netns] = procnet.read_socket_table(f"{self.root}/{pid}/net")
        sock = table.get(inode)
        if sock is None and netns not in self._reloaded:
            # The tables may predate a socket opened since: re-read once per namespace and scan.
            self._reloaded.add(netns)
            table = self._sockets[netns] = procnet.read_socket_table(f"{self.root}/{pid}/net")
            sock = table.get(inode)
        if sock is None:
            return None
        return socket_fd(fd, inode, sock, table.server_ports)


def socket_fd(fd, inode, sock, server_ports):
    """FdInfo for a socket found in /proc/net, named and oriented as sysdig does.

    Listening (and unconnected UDP) sockets keep only server fields and are named 'ip:port'.
    A connected socket whose local port is some listening socket's port is the server end of
    an accepted connection; otherwise it is the client. Either way fd.name reads
    'cip:cport->sip:sport'. IPv6 sockets whose both ends are IPv4-mapped become ipv4, as in sysdig.
    """
    if isinstance(sock, procnet.UnixSocket):
        info = FdInfo(fd, "unix", sock.path, ino=inode)
        info.source = sock.address
        return info
    if isinstance(sock, procnet.NetlinkSocket):
        return FdInfo(fd, "netlink", "", ino=inode)
    family, local, remote = sock.family, sock.local, sock.remote
    if family == "ipv6" and procnet.is_v4_mapped(local[0]) and procnet.is_v4_mapped(remote[0]):
        family = "ipv4"
        local = (procnet.v4_of_mapped(local[0]), local[1])
        remote = (procnet.v4_of_mapped(remote[0]), remote[1])
    info = FdInfo(fd, family, ino=inode)
    info.l4proto = sock.l4proto
    if sock.listening:
        info.sip, info.sport = local
        info.is_server = True
        info.name = f"{local[0]}:{local[1]}"
        return info
    info.is_server = local[1] in server_ports
    client, server = (remote, local) if info.is_server else (local, remote)
    info.cip, info.cport = client
    info.sip, info.sport = server
    info.name = f"{client[0]}:{client[1]}->{server[0]}:{server[1]}"
    return info


def classify_anon_inode(kind):
    """fd.type for the text after 'anon_inode:' in an fd link ('[eventfd]' -> 'event')."""
    fdtype = _ANON_INODE_TYPES.get(kind)
    if fdtype is not None:
        return fdtype
    if kind.startswith("bpf-") or kind.startswith("[bpf-"):
        return "bpf"
    return "unknown"


def open_flags_to_ppm(flags):
    """Linux open flags (as in /proc/PID/fdinfo) -> sysdig's PPM_O_* bits (fd.flags, evt.arg.flags)."""
    ppm = _ACCESS_MODE_MAP.get(flags & 0o3, 0)
    for linux_bit, ppm_bit in _OPEN_FLAG_MAP:
        if flags & linux_bit:
            ppm |= ppm_bit
    return ppm


def read_users():
    """{uid: UserInfo} from the password database (/etc/passwd, NSS)."""
    return {u.pw_uid: UserInfo(u.pw_uid, u.pw_gid, u.pw_name, u.pw_dir, u.pw_shell)
            for u in pwd.getpwall()}


def read_groups():
    """{gid: GroupInfo} from the group database (/etc/group, NSS)."""
    return {g.gr_gid: GroupInfo(g.gr_gid, g.gr_name) for g in grp.getgrall()}


def read_machine_info(root="/proc"):
    """{num_cpus, memory_bytes, max_pid, hostname}, as sysdig's machine info block holds them."""
    memory = 0
    for line in (_read_text(f"{root}/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
            break
    max_pid = (_read_text(f"{root}/sys/kernel/pid_max") or "0").strip()
    hostname = (_read_text(f"{root}/sys/kernel/hostname") or "").strip() or socket.gethostname()
    return {"num_cpus": os.cpu_count() or 1, "memory_bytes": memory,
            "max_pid": int(max_pid) if max_pid.isdigit() else 0, "hostname": hostname}


def read_interfaces(root="/proc"):
    """[(name, family, address)] for the IPv6 addresses in /proc/net/if_inet6 and the host's IPv4
    interface addresses (the kernel lists no IPv4 addresses under /proc in a parseable form)."""
    interfaces = list(_ipv4_interfaces()) if root == "/proc" else []
    for line in (_read_text(f"{root}/net/if_inet6") or "").splitlines():
        cols = line.split()
        if len(cols) >= 6 and len(cols[0]) == 32:
            address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(cols[0]))
            interfaces.append((cols[5], "ipv6", address))
    return interfaces


def _ipv4_interfaces():
    import fcntl  # only the live host path needs it
    import struct
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                reply = fcntl.ioctl(sock.fileno(), siocgifaddr,
                                    struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on this interface
                continue
            yield name, "ipv4", socket.inet_ntoa(reply[20:24])


def _parse_stat(data):
    """(comm, [fields from 3 on]) from a stat file; comm may hold blanks and parentheses."""
    text = data.decode("utf-8", "surrogateescape")
    open_paren, close_paren = text.find("("), text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    rest = text[close_paren + 2:].split()
    if len(rest) < 22:
        return None
    return text[open_paren + 1:close_paren], rest


def _read_status(path):
    """{key: value text} from a status file, or None."""
    text = _read_text(path)
    if text is None:
        return None
    status = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return status


def _apply_status(thread, status):
    # Uid/Gid lines are: real effective saved fs; sysdig keeps the effective ids.
    if "Uid" in status:
        thread.uid = int(status["Uid"].split()[1])
    if "Gid" in status:
        thread.gid = int(status["Gid"].split()[1])
    thread.vmsize_kb = _kb(status.get("VmSize"))
    thread.vmrss_kb = _kb(status.get("VmRSS"))
    thread.vmswap_kb = _kb(status.get("VmSwap"))
    if "PPid" in status:
        thread.ptid = int(status["PPid"])
    # NSpid/NStgid list the ids from the outermost pid namespace inward: the last is the vtid.
    if status.get("NSpid"):
        thread.vtid = int(status["NSpid"].split()[-1])
    if status.get("NStgid"):
        thread.vpid = int(status["NStgid"].split()[-1])


def _kb(value):
    return int(value.split()[0]) if value else 0


def _read_fd_limit(path):
    for line in (_read_text(path) or "").splitlines():
        if line.startswith("Max open files"):
            soft = line[len("Max open files"):].split()[0]
            return int(soft) if soft.isdigit() else -1  # 'unlimited'
    return 0


def _read_loginuid(path):
    text = (_read_text(path) or "").strip()
    if not text.isdigit() or int(text) == _UNSET_LOGINUID:
        return -1
    return int(text)


def _read_cgroups(path):
    """['subsys=path', ...] from /proc/PID/cgroup, one entry per cgroup v1 controller
    ('name=systemd' becomes 'systemd'). sysdig 0.29 knows only v1 controllers: the cgroup v2
    line ('0::/path') names none and is skipped."""
    cgroups = []
    for line in (_read_text(path) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[1]:
            continue
        for subsys in parts[1].split(","):
            cgroups.append(f"{subsys.removeprefix('name=')}={parts[2]}")
    return cgroups


def _read_fdinfo_flags(path):
    text = _read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("flags:"):
            return int(line[6:].strip(), 8)
    return None


def _boot_time_ns(root):
    for line in (_read_text(f"{root}/stat") or "").splitlines():
        if line.startswith("btime "):
            return int(line.split()[1]) * 1_000_000_000
    return 0


def _bracketed_number(link):
    """4321 from 'socket:[4321]' or 'pipe:[4321]'; None if malformed."""
    inner = link[link.find("[") + 1:-1]
    return int(inner) if inner.isdigit() else None


def _split_nul(data):
    return [part.decode("utf-8", "surrogateescape") for part in data.rstrip(b"\0").split(b"\0")]


def _listdir(path):
    try:
        return os.listdir(path)
    except _READ_ERRORS:
        return []


def _readlink(path):
    try:
        return os.readlink(path)
    except _READ_ERRORS:
        return None


def _read_bytes(path):
    # Plain os.open/os.read: a buffered file object costs more than the read itself here, and
    # the scan makes a few thousand of them.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except _READ_ERRORS:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except _READ_ERRORS:
        return None
    finally:
        os.close(fd)


def _read_text(path):
    data = _read_bytes(path)
    return None if data is None else data.decode("utf-8", "surrogateescape")
