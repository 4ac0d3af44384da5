"""Which scap events each traced system call becomes, and where each parameter comes from.

One `SyscallSpec` per seed syscall: the event ids sysdig 0.29's driver would emit for it (for
example pread64 -> 'pread' 112/113, accept4 -> 'accept' 248/249, pipe2 -> 'pipe' 60/61) and, for
the enter and the exit event, the list of parameter *sources* the BPF program fills in table order.
A source is a tuple whose first item names its kind (see `probes.py` for the C each kind becomes);
`a[i]` means syscall argument i, saved at enter and reused at exit. ("int", i, 8) is a C int
argument widened with its sign (fds, pids: AT_FDCWD stays -100); ("u64", i) a 64-bit one.

Most events are emitted by the kernel exactly in scap encoding. A few kinds need a userspace step
(`decode.py`): raw `struct sockaddr` bytes become PT_SOCKADDR, the kernel's tuple record becomes
PT_SOCKTUPLE, raw pollfd arrays become PT_FDLIST, and the clone/execve exits are rebuilt into their
full 0.29 layouts from a compact kernel record (`CLONE_EXIT_LAYOUT`, `EXECVE_EXIT_LAYOUT`).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SyscallSpec:
    """One syscall: its tracepoint name, the scap event ids and the parameter sources.

    `fd_arg`: index of the fd argument for I/O syscalls, which the fd-name pushdown may drop in the
    kernel. `fd_role`: how the syscall changes the kernel's set of interesting (tgid, fd) pairs:
    'open' (learns the pair when argument `path_arg` equals a watched name), 'close', 'dup' or
    'dup2' (copies the pair to the new fd), 'fcntl' (copies it for F_DUPFD and F_DUPFD_CLOEXEC). `exit_layout`: 'clone'/'execve' when the exit record is a
    compact kernel layout rebuilt in userspace, else None (kernel record = table layout).
    """

    name: str
    enter_id: int
    exit_id: int
    enter: tuple = ()
    exit: tuple = ()
    fd_arg: int | None = None
    fd_role: str | None = None
    path_arg: int | None = None
    exit_layout: str | None = None
    io_dir: str | None = None
    extra: dict = field(default_factory=dict)


def _res_fd():
    return ("res", 8)


# Clone family exit, as the kernel writes it; decode.py expands it to the 0.29 clone exit layout.
CLONE_EXIT_LAYOUT = (("res", 8), ("tid",), ("tgid",), ("ptid",), ("comm",), ("clone_flags",),
                     ("uid",), ("gid",))
# execve/execveat exit, as the kernel writes it; argv comes from the enter record's hidden param.
EXECVE_EXIT_LAYOUT = (("res", 8), ("tid",), ("tgid",), ("ptid",), ("comm",))

_IO_READ_EXIT = (("res", 8), ("rdata", 1))
_IO_WRITE_EXIT = (("res", 8), ("wdata", 1, 2))
_MEM_TAIL = (("zero", 4), ("zero", 4), ("zero", 4))  # vm_size, vm_rss, vm_swap: not readable here

SPECS = {s.name: s for s in (
    # process lifecycle
    SyscallSpec("clone", 222, 223, exit=CLONE_EXIT_LAYOUT, exit_layout="clone",
                extra={"flags": "arg0"}),
    SyscallSpec("clone3", 334, 335, exit=CLONE_EXIT_LAYOUT, exit_layout="clone",
                extra={"flags": "user0"}),
    SyscallSpec("fork", 224, 225, exit=CLONE_EXIT_LAYOUT, exit_layout="clone",
                extra={"flags": "fork"}),
    SyscallSpec("vfork", 226, 227, exit=CLONE_EXIT_LAYOUT, exit_layout="clone",
                extra={"flags": "vfork"}),
    SyscallSpec("execve", 292, 293, enter=(("str", 0), ("argv", 1)), exit=EXECVE_EXIT_LAYOUT,
                exit_layout="execve"),
    SyscallSpec("execveat", 330, 331, enter=(("int", 0, 8), ("str", 1), ("int", 4, 4), ("argv", 2)),
                exit=EXECVE_EXIT_LAYOUT, exit_layout="execve"),
    SyscallSpec("chdir", 94, 95, exit=(("res", 8), ("str", 0))),
    SyscallSpec("fchdir", 96, 97, enter=(("int", 0, 8),), exit=(("res", 8),)),
    # files
    SyscallSpec("open", 2, 3, enter=(("str", 0), ("int", 1, 4), ("int", 2, 4)),
                exit=(_res_fd(), ("str", 0), ("int", 1, 4), ("int", 2, 4), ("zero", 4)),
                fd_role="open", path_arg=0),
    SyscallSpec("openat", 306, 307, enter=(("int", 0, 8), ("str", 1), ("int", 2, 4), ("int", 3, 4)),
                exit=(_res_fd(), ("int", 0, 8), ("str", 1), ("int", 2, 4), ("int", 3, 4), ("zero", 4)),
                fd_role="open", path_arg=1),
    SyscallSpec("openat2", 326, 327,
                enter=(("int", 0, 8), ("str", 1), ("how", 2, 0), ("how", 2, 1), ("how", 2, 2)),
                exit=(_res_fd(), ("int", 0, 8), ("str", 1), ("how", 2, 0), ("how", 2, 1), ("how", 2, 2)),
                fd_role="open", path_arg=1),
    SyscallSpec("creat", 58, 59, enter=(("str", 0), ("int", 1, 4)),
                exit=(_res_fd(), ("str", 0), ("int", 1, 4), ("zero", 4)), fd_role="open", path_arg=0),
    SyscallSpec("close", 4, 5, enter=(("int", 0, 8),), exit=(("res", 8),), fd_role="close"),
    SyscallSpec("dup", 124, 125, enter=(("int", 0, 8),), exit=(_res_fd(),), fd_role="dup"),
    # F_DUPFD and F_DUPFD_CLOEXEC make fds too (Python's os.dup, the shells' saved fds)
    SyscallSpec("fcntl", 150, 151, enter=(("int", 0, 8), ("fcntl_cmd", 1)), exit=(_res_fd(),),
                fd_role="fcntl"),
    SyscallSpec("dup2", 124, 125, enter=(("int", 0, 8),), exit=(_res_fd(),), fd_role="dup2"),
    SyscallSpec("dup3", 124, 125, enter=(("int", 0, 8),), exit=(_res_fd(),), fd_role="dup2"),
    SyscallSpec("pipe", 60, 61, exit=(("res", 8), ("uint_user", 0, 0), ("uint_user", 0, 1), ("zero", 8))),
    SyscallSpec("pipe2", 60, 61, exit=(("res", 8), ("uint_user", 0, 0), ("uint_user", 0, 1), ("zero", 8))),
    SyscallSpec("unlink", 300, 301, exit=(("res", 8), ("str", 0))),
    SyscallSpec("unlinkat", 302, 303, exit=(("res", 8), ("int", 0, 8), ("str", 1), ("int", 2, 4))),
    SyscallSpec("rename", 174, 175, exit=(("res", 8), ("str", 0), ("str", 1))),
    SyscallSpec("renameat", 176, 177,
                exit=(("res", 8), ("int", 0, 8), ("str", 1), ("int", 2, 8), ("str", 3))),
    SyscallSpec("renameat2", 318, 319,
                exit=(("res", 8), ("int", 0, 8), ("str", 1), ("int", 2, 8), ("str", 3), ("int", 4, 4))),
    # I/O
    SyscallSpec("read", 6, 7, enter=(("int", 0, 8), ("int", 2, 4)), exit=_IO_READ_EXIT, fd_arg=0,
                io_dir="in"),
    SyscallSpec("write", 8, 9, enter=(("int", 0, 8), ("int", 2, 4)), exit=_IO_WRITE_EXIT, fd_arg=0,
                io_dir="out"),
    SyscallSpec("pread64", 112, 113, enter=(("int", 0, 8), ("int", 2, 4), ("u64", 3)),
                exit=_IO_READ_EXIT, fd_arg=0, io_dir="in"),
    SyscallSpec("pwrite64", 114, 115, enter=(("int", 0, 8), ("int", 2, 4), ("u64", 3)),
                exit=_IO_WRITE_EXIT, fd_arg=0, io_dir="out"),
    SyscallSpec("readv", 116, 117, enter=(("int", 0, 8),),
                exit=(("res", 8), ("iovsize", 1, 2), ("iov", 1, 2)), fd_arg=0, io_dir="in"),
    SyscallSpec("writev", 118, 119, enter=(("int", 0, 8), ("iovsize", 1, 2)),
                exit=(("res", 8), ("iov", 1, 2)), fd_arg=0, io_dir="out"),
    SyscallSpec("preadv", 120, 121, enter=(("int", 0, 8), ("u64", 3)),
                exit=(("res", 8), ("iovsize", 1, 2), ("iov", 1, 2)), fd_arg=0, io_dir="in"),
    SyscallSpec("pwritev", 122, 123, enter=(("int", 0, 8), ("iovsize", 1, 2), ("u64", 3)),
                exit=(("res", 8), ("iov", 1, 2)), fd_arg=0, io_dir="out"),
    # network
    SyscallSpec("socket", 18, 19, enter=(("int", 0, 4), ("int", 1, 4), ("int", 2, 4)), exit=(_res_fd(),)),
    SyscallSpec("bind", 20, 21, enter=(("int", 0, 8),), exit=(("res", 8), ("sockaddr", 1, 2))),
    SyscallSpec("listen", 24, 25, enter=(("int", 0, 8), ("int", 1, 4)), exit=(("res", 8),)),
    SyscallSpec("connect", 22, 23, enter=(("int", 0, 8), ("sockaddr", 1, 2)),
                exit=(("res", 8), ("tuple_connect", 1, 2))),
    SyscallSpec("accept", 246, 247,
                exit=(_res_fd(), ("tuple_accept", 1, 2), ("zero", 1), ("zero", 4), ("zero", 4))),
    SyscallSpec("accept4", 248, 249, enter=(("int", 3, 4),),
                exit=(_res_fd(), ("tuple_accept", 1, 2), ("zero", 1), ("zero", 4), ("zero", 4))),
    SyscallSpec("sendto", 30, 31, enter=(("int", 0, 8), ("int", 2, 4), ("tuple_remote", 4, 5)),
                exit=_IO_WRITE_EXIT, fd_arg=0, io_dir="out"),
    SyscallSpec("recvfrom", 34, 35, enter=(("int", 0, 8), ("int", 2, 4)),
                exit=(("res", 8), ("rdata", 1), ("tuple_remote_lenptr", 4, 5)), fd_arg=0, io_dir="in"),
    SyscallSpec("sendmsg", 48, 49, enter=(("int", 0, 8), ("msgsize", 1), ("tuple_msg", 1)),
                exit=(("res", 8), ("msgiov", 1)), fd_arg=0, io_dir="out"),
    SyscallSpec("recvmsg", 52, 53, enter=(("int", 0, 8),),
                exit=(("res", 8), ("msgsize", 1), ("msgiov", 1), ("tuple_msg", 1)), fd_arg=0, io_dir="in"),
    SyscallSpec("sendmmsg", 50, 51),
    SyscallSpec("recvmmsg", 54, 55),
    # memory
    SyscallSpec("brk", 158, 159, enter=(("u64", 0),), exit=(("res", 8),) + _MEM_TAIL),
    SyscallSpec("mmap", 160, 161,
                enter=(("u64", 0), ("u64", 1), ("int", 2, 4), ("int", 3, 4), ("int", 4, 8), ("u64", 5)),
                exit=(("res", 8),) + _MEM_TAIL),
    SyscallSpec("munmap", 164, 165, enter=(("u64", 0), ("u64", 1)), exit=(("res", 8),) + _MEM_TAIL),
    # waiting
    SyscallSpec("select", 82, 83, exit=(("res", 8),)),
    SyscallSpec("pselect6", 82, 83, exit=(("res", 8),)),
    SyscallSpec("poll", 80, 81, enter=(("fdlist", 0, 1), ("int", 2, 8)), exit=(("res", 8), ("fdlist", 0, 1))),
    SyscallSpec("ppoll", 254, 255, enter=(("fdlist", 0, 1), ("timespec", 2), ("usig", 3)),
                exit=(("res", 8), ("fdlist", 0, 1))),
    SyscallSpec("epoll_wait", 78, 79, enter=(("int", 2, 8),), exit=(("res", 8),)),
    # signals
    SyscallSpec("kill", 128, 129, enter=(("int", 0, 8), ("int", 1, 1)), exit=(("res", 8),)),
    SyscallSpec("tkill", 130, 131, enter=(("int", 0, 8), ("int", 1, 1)), exit=(("res", 8),)),
    SyscallSpec("tgkill", 132, 133, enter=(("int", 0, 8), ("int", 1, 8), ("int", 2, 1)), exit=(("res", 8),)),
)}

SEED_SYSCALLS = frozenset(SPECS)

# The I/O syscalls an aggregating plan adds up in the kernel instead of emitting as events.
AGGREGATED_SYSCALLS = frozenset(name for name, spec in SPECS.items() if spec.io_dir is not None)

# Linux fcntl commands (x86-64 values) -> sysdig's fcntl_commands enum; anything else is 0, UNKNOWN.
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030
FCNTL_CMD_TO_SCAP = {
    F_DUPFD: 1, 1: 2, 2: 3, 3: 4, 4: 5,             # F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL
    5: 6, 6: 8, 7: 9,                               # F_GETLK, F_SETLK, F_SETLKW (64-bit: no *64 forms)
    8: 10, 9: 12, 10: 13, 11: 15, 15: 21, 16: 22,   # F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG, *_EX
    36: 30, 37: 31, 38: 32,                         # F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
    1024: 23, 1025: 24, 1026: 27, 1029: 25,         # F_SETLEASE, F_GETLEASE, F_NOTIFY, F_CANCELLK
    F_DUPFD_CLOEXEC: 26, 1031: 28, 1032: 29,        # F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ
}

# Syscalls an exit-only program can trace (`ProbePlan.exit_only`): every argument the enter record
# carries still reads the same at the exit. Not the process lifecycle (execve replaces the memory
# and registers the arguments lived in; a clone child exits a syscall it never entered), not the
# waiting calls (ppoll and select write the time left back into their arguments, and their enter
# time is the point of tracing them), not exit_group (it never exits).
EXIT_ONLY_SYSCALLS = frozenset(
    {name for name, spec in SPECS.items() if spec.io_dir is not None}
    | {"open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3", "fcntl", "pipe", "pipe2",
       "socket", "bind", "listen", "connect", "accept", "accept4",
       "unlink", "unlinkat", "rename", "renameat", "renameat2", "chdir", "fchdir",
       "brk", "mmap", "munmap", "kill", "tkill", "tgkill"})

# evt.type names the session may ask for that are not syscall names (sysdig 0.29's names).
EVENT_TYPE_SYSCALLS = {
    "pread": ("pread64",), "pwrite": ("pwrite64",),
    "accept": ("accept", "accept4"), "dup": ("dup", "dup2", "dup3"), "pipe": ("pipe", "pipe2"),
    "select": ("select", "pselect6"), "procexit": (),
    # x86-64 has no send/recv syscalls: libc sends them through sendto/recvfrom.
    "send": ("sendto",), "recv": ("recvfrom",),
}

# What the engine attaches whatever the session asks for, so state stays right: process
# lifecycle (threads appear, exec, exit) and fd creation/destruction (fd names and types).
STATE_SYSCALLS = frozenset({
    "clone", "clone3", "fork", "vfork", "execve", "execveat",
    "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3", "fcntl",
    "socket", "accept", "accept4", "connect", "pipe", "pipe2",
})


def syscalls_for_event_types(event_types):
    """The seed syscalls whose events carry one of the evt.type names in `event_types`."""
    out = set()
    for name in event_types:
        if name in EVENT_TYPE_SYSCALLS:
            out.update(EVENT_TYPE_SYSCALLS[name])
        elif name in SPECS:
            out.add(name)
    return frozenset(out)


def untraceable_event_types(event_types, model):
    """evt.type names in `event_types` that no traced syscall (nor procexit) produces live."""
    provided = {"procexit"} | set(EVENT_TYPE_SYSCALLS) | set(SPECS)
    provided |= {model.events[s.enter_id].name for s in SPECS.values()}
    return sorted(set(event_types or ()) - provided)


def wants_procexit(event_types):
    """Whether the session (or the state engine) needs the procexit event."""
    return event_types is None or "procexit" in event_types
