"""Syscall names: libs' PPM_SC codes (carried by generic events) and x86_64 native syscall numbers.

Generic events (ids 0/1, evt.type 'syscall') carry a PT_SYSCALLID in the PPM_SC numbering of the
libs version that wrote the file; sysdig prints the name it finds at that index in its syscall
info table as evt.type, and '<unknown>' for index 0 or anything past the table's end.
`PPM_SC_NAMES` is that table as sysdig 0.29 (libs e5c53d64) has it, checked against the captures:
every generic enter event carries both codes, and their names agree (tests/unit/test_syscalls.py).
"""

UNKNOWN = "<unknown>"

# Index = PPM_SC code. Some 32-bit-only codes repeat a name (PPM_SC_SETUID32 is printed 'setuid').
PPM_SC_NAMES = (
    UNKNOWN, "restart_syscall", "exit", "read", "write", "open", "close", "creat", "link", "unlink",
    "chdir", "time", "mknod", "chmod", "stat", "lseek", "getpid", "mount", "ptrace", "alarm",
    "fstat", "pause", "utime", "access", "sync", "kill", "rename", "mkdir", "rmdir", "dup",
    "pipe", "times", "brk", "acct", "ioctl", "fcntl", "setpgid", "umask", "chroot", "ustat",
    "dup2", "getppid", "getpgrp", "setsid", "sethostname", "setrlimit", "getrusage",
    "gettimeofday", "settimeofday", "symlink", "lstat", "readlink", "uselib", "swapon", "reboot",
    "mmap", "munmap", "truncate", "ftruncate", "fchmod", "getpriority", "setpriority", "statfs",
    "fstatfs", "syslog", "setitimer", "getitimer", "uname", "vhangup", "wait4", "swapoff",
    "sysinfo", "fsync", "setdomainname", "adjtimex", "mprotect", "init_module", "delete_module",
    "quotactl", "getpgid", "fchdir", "sysfs", "personality", "getdents", "select", "flock",
    "msync", "readv", "writev", "getsid", "fdatasync", "mlock", "munlock", "mlockall",
    "munlockall", "sched_setparam", "sched_getparam", "sched_setscheduler", "sched_getscheduler",
    "sched_yield", "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "nanosleep", "mremap", "poll", "prctl", "rt_sigaction", "rt_sigprocmask", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "getcwd", "capget", "capset",
    "sendfile", "getrlimit", "lchown", "getuid", "getgid", "geteuid", "getegid", "setreuid",
    "setregid", "getgroups", "setgroups", "fchown", "setresuid", "getresuid", "setresgid",
    "getresgid", "chown", "setuid", "setgid", "setfsuid", "setfsgid", "pivot_root", "mincore",
    "madvise", "gettid", "setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr",
    "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
    "fremovexattr", "tkill", "futex", "sched_setaffinity", "sched_getaffinity", "set_thread_area",
    "get_thread_area", "io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel",
    "exit_group", "epoll_create", "epoll_ctl", "epoll_wait", "remap_file_pages",
    "set_tid_address", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "clock_settime", "clock_gettime", "clock_getres", "clock_nanosleep", "tgkill",
    "utimes", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr", "kexec_load", "waitid", "add_key", "request_key", "keyctl", "ioprio_set",
    "ioprio_get", "inotify_init", "inotify_add_watch", "inotify_rm_watch", "openat", "mkdirat",
    "mknodat", "fchownat", "futimesat", "unlinkat", "renameat", "linkat", "symlinkat",
    "readlinkat", "fchmodat", "faccessat", "pselect6", "ppoll", "unshare", "set_robust_list",
    "get_robust_list", "splice", "tee", "vmsplice", "getcpu", "epoll_pwait", "utimensat",
    "signalfd", "timerfd_create", "eventfd", "timerfd_settime", "timerfd_gettime", "signalfd4",
    "eventfd2", "epoll_create1", "dup3", "pipe2", "inotify_init1", "preadv", "pwritev",
    "rt_tgsigqueueinfo", "perf_event_open", "fanotify_init", "prlimit64", "clock_adjtime",
    "syncfs", "setns", "getdents64",
    # The socket family, once multiplexed through socketcall.
    "socket", "bind", "connect", "listen", "accept", "getsockname", "getpeername", "socketpair",
    "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg", "sendmmsg",
    "recvmsg", "recvmmsg", "accept4",
    # The IPC family, once multiplexed through ipc.
    "semop", "semget", "semctl", "msgsnd", "msgrcv", "msgget", "msgctl", "shmdt", "shmget",
    "shmctl",
    # 32-bit and legacy entry points.
    "statfs64", "fstatfs64", "fstatat64", "sendfile64", "ugetrlimit", "bdflush", "sigprocmask",
    "ipc", "socketcall", "stat64", "lstat64", "fstat64", "fcntl64", "mmap2", "newselect",
    "sgetmask", "ssetmask", "sigpending", "olduname", "umount", "signal", "nice", "stime",
    "llseek", "waitpid", "pread64", "pwrite64", "arch_prctl", "shmat", "sigreturn", "fallocate",
    "newfstatat", "process_vm_readv", "process_vm_writev", "fork", "vfork", "setuid", "getuid",
    "setgid", "geteuid", "getgid", "setresuid", "setresgid", "getresuid", "getresgid",
    # Appended later in the libs era; no capture here shows which of these 0.29 itself names.
    "finit_module", "bpf", "seccomp", "sigaltstack", "getrandom", "fadvise64",
)


# x86_64 native syscall numbers (Linux uapi asm/unistd_64.h), index = number, '-' = unassigned.
_X86_64 = """
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield
mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm
setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind
listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve exit
wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync
fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink
symlink readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo
times ptrace getuid syslog getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid
setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid setfsuid
setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend
sigaltstack utime mknod uselib personality ustat statfs fstatfs sysfs getpriority setpriority
sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max
sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup
modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct settimeofday
mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm create_module
init_module delete_module get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg
afs_syscall tuxcall security gettid readahead setxattr lsetxattr fsetxattr getxattr lgetxattr
fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill time futex
sched_setaffinity sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit
io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old
remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 timer_create
timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime
clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver mbind
set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify
mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set ioprio_get inotify_init
inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat
newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll
unshare set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat
epoll_pwait signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4
signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo
perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at
open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu process_vm_readv process_vm_writev
kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create
kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2
pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq - - - - - - - - - - - - - - - - - -
- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
- - - - - - - - - - - - - - - - - - - - - - - pidfd_send_signal io_uring_setup io_uring_enter
io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3
close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr
quotactl_fd landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret
process_mrelease futex_waitv set_mempolicy_home_node
""".split()

X86_64_SYSCALLS = {nr: name for nr, name in enumerate(_X86_64) if name != "-"}
X86_64_NUMBERS = {name: nr for nr, name in X86_64_SYSCALLS.items()}


def ppm_sc_name(code):
    """evt.type of a generic event whose ID parameter is `code` ('<unknown>' when out of the table)."""
    if code is None or not 0 <= code < len(PPM_SC_NAMES):
        return UNKNOWN
    return PPM_SC_NAMES[code]


def native_name(nr):
    """The x86_64 syscall name for number `nr`, or None when the number is unassigned."""
    return X86_64_SYSCALLS.get(nr)


def native_number(name):
    """The x86_64 syscall number of `name`, or None when x86_64 has no such syscall."""
    return X86_64_NUMBERS.get(name)
