"""The records the state engine keeps: threads (`ThreadInfo`), fds (`FdInfo`), users and groups.

Sources of initial state (a capture's process/fd/user lists, or the /proc scan when live) build
these same objects, so the state engine does not know where they came from.
"""

# fd.type names and their one-letter fd.typechar, as sysdig shows them.
FD_TYPECHARS = {
    "file": "f", "directory": "d", "ipv4": "4", "ipv6": "6", "unix": "u", "pipe": "p",
    "event": "e", "signalfd": "s", "eventpoll": "l", "inotify": "i", "timerfd": "t",
    "netlink": "n", "bpf": "b", "userfaultfd": "u", "io_uring": "r", "memfd": "m", "pidfd": "P",
    "unknown": "o", "unsupported": "X",
}


class FdInfo:
    """One open fd: `type` is sysdig's fd.type ('file', 'ipv4', 'unix', ...).

    Sockets: `l4proto` ('tcp', 'udp', 'icmp', 'raw' or None), `cip`/`cport` (client) and
    `sip`/`sport` (server) as text addresses and ints, `is_server` (role of this end, None when
    unknown), `family` ('ip'/'unix'); unix sockets keep `source`/`dest` kernel pointers.
    `name` is what fd.name shows: a path, or 'cip:cport->sip:sport' for connected IP sockets.
    """

    __slots__ = ("fd", "type", "name", "flags", "ino", "dev", "l4proto", "cip", "cport",
                 "sip", "sport", "is_server", "source", "dest", "cloexec", "stats")

    def __init__(self, fd, fdtype, name="", *, flags=0, ino=0, dev=0):
        self.fd = fd
        self.type = fdtype
        self.name = name
        self.flags = flags
        self.ino = ino
        self.dev = dev
        self.l4proto = None
        self.cip = self.sip = None
        self.cport = self.sport = None
        self.is_server = None
        self.source = self.dest = 0
        self.cloexec = False
        self.stats = None  # free slot for per-fd accounting (bytes in/out) by the state engine

    @property
    def typechar(self):
        return FD_TYPECHARS.get(self.type, "o")

    def copy(self, fd=None):
        """A duplicate (dup family, fork): same object state, optionally a new number."""
        new = FdInfo.__new__(FdInfo)
        for slot in FdInfo.__slots__:
            setattr(new, slot, getattr(self, slot))
        if fd is not None:
            new.fd = fd
        return new

    def __repr__(self):
        return f"FdInfo({self.fd} {self.type} {self.name!r})"


class ThreadInfo:
    """One thread. Threads of one process share `fdtable` (a dict fd -> FdInfo) and `cwd` holder.

    `comm` is proc.name, `exe` argv[0], `exepath` the full executable path, `args` the argument
    list (without argv[0]), `env` a list of 'K=V' strings. `pid` is the process (thread group) id,
    `ptid` the parent thread id. `clone_ts` is the creation time (ns), 0 when unknown.
    """

    __slots__ = ("tid", "pid", "ptid", "sid", "vpgid", "vtid", "vpid", "comm", "exe", "exepath",
                 "args", "env", "cwd", "fdlimit", "flags", "uid", "gid", "loginuid", "tty",
                 "vmsize_kb", "vmrss_kb", "vmswap_kb", "pfmajor", "pfminor", "cgroups", "root",
                 "clone_ts", "fdtable", "last_enter", "exited", "extra")

    def __init__(self, tid, pid=None, ptid=0, comm=""):
        self.tid = tid
        self.pid = tid if pid is None else pid
        self.ptid = ptid
        self.sid = 0
        self.vpgid = 0
        self.vtid = tid
        self.vpid = self.pid
        self.comm = comm
        self.exe = comm
        self.exepath = ""
        self.args = []
        self.env = []
        self.cwd = "/"
        self.fdlimit = 0
        self.flags = 0
        self.uid = 0
        self.gid = 0
        self.loginuid = -1
        self.tty = 0
        self.vmsize_kb = self.vmrss_kb = self.vmswap_kb = 0
        self.pfmajor = self.pfminor = 0
        self.cgroups = []
        self.root = "/"
        self.clone_ts = 0
        self.fdtable = {}
        self.last_enter = None  # the last enter event of this thread, paired with its exit
        self.exited = False
        self.extra = None  # free slot for plugins (dict), so ThreadInfo stays slotted

    @property
    def is_main_thread(self):
        return self.tid == self.pid

    def __repr__(self):
        return f"ThreadInfo(tid={self.tid} pid={self.pid} comm={self.comm!r})"


class UserInfo:
    """A user: uid, gid, name, home directory and shell."""

    __slots__ = ("uid", "gid", "name", "homedir", "shell")

    def __init__(self, uid, gid, name, homedir="", shell=""):
        self.uid, self.gid, self.name, self.homedir, self.shell = uid, gid, name, homedir, shell


class GroupInfo:
    """A group: gid and name."""

    __slots__ = ("gid", "name")

    def __init__(self, gid, name):
        self.gid, self.name = gid, name


class Snapshot:
    """Initial state handed by a source to the state engine before the first event.

    `threads` (list of ThreadInfo; threads of one process share one fdtable dict, owned by the
    main thread), `users` {uid: UserInfo}, `groups` {gid: GroupInfo}, `interfaces` (list of
    (name, family, address) tuples), `machine` (dict: num_cpus, memory_bytes, max_pid, hostname).
    """

    def __init__(self):
        self.threads = []
        self.users = {}
        self.groups = {}
        self.interfaces = []
        self.machine = {}
