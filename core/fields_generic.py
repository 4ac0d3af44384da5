"""evt.category of generic events: the class of the syscall a generic event stands for.

sysdig keeps a category per syscall in its syscall table and shows it for generic events (whose
own table entry says only 'other'). The classes below are those sysdig 0.29.3 prints for the
bundled captures, extended to the neighbouring syscalls of each family; a syscall not listed
falls back to the category of the model's own event of that name, then to 'other'.
"""

import functools

from .event import model

_BY_CATEGORY = {
    "process": (
        "arch_prctl", "exit", "getpid", "getppid", "gettid", "set_tid_address", "set_robust_list",
        "get_robust_list", "getrusage", "getrlimit", "setrlimit", "prlimit64", "prctl",
        "getpgid", "getpgrp", "getsid", "setsid", "setpgid", "sched_getaffinity",
        "sched_setaffinity", "sched_yield", "sched_getparam", "sched_setparam",
        "sched_getscheduler", "sched_setscheduler", "capget", "capset", "personality",
        "unshare", "setns", "uname", "times", "getpriority", "setpriority", "rseq",
    ),
    "memory": ("mprotect", "madvise", "mlock", "munlock", "mlockall", "munlockall", "mremap",
               "msync", "mincore", "brk", "mmap", "munmap", "membarrier"),
    "signal": ("rt_sigaction", "rt_sigprocmask", "sigreturn", "rt_sigreturn", "rt_sigpending",
               "rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack", "kill",
               "tkill", "tgkill"),
    "time": ("clock_gettime", "clock_settime", "clock_getres", "gettimeofday", "settimeofday",
             "time", "alarm", "timerfd_settime", "timerfd_gettime", "timer_create",
             "timer_settime", "timer_gettime", "timer_delete", "setitimer", "getitimer",
             "adjtimex"),
    "wait": ("pselect6", "epoll_pwait", "wait4", "waitid", "pause", "epoll_wait", "poll",
             "ppoll", "select"),
    "sleep": ("clock_nanosleep", "nanosleep"),
    "file": ("ftruncate", "truncate", "statfs", "fstatfs", "fsync", "fdatasync", "fadvise64",
             "fallocate", "sync", "syncfs", "getdents", "getdents64", "utime", "utimes",
             "utimensat", "futimesat", "readlink", "readlinkat", "statx", "newfstatat"),
    "IPC": ("inotify_add_watch", "inotify_rm_watch", "futex", "msgget", "msgsnd", "msgrcv",
            "msgctl", "semget", "semop", "semctl", "shmget", "shmat", "shmdt", "shmctl"),
    "unknown": ("exit_group",),
}

_CATEGORY_OF = {name: cat for cat, names in _BY_CATEGORY.items() for name in names}


@functools.cache
def generic_category(syscall):
    """evt.category for a generic event standing for `syscall` (a name such as 'arch_prctl')."""
    cat = _CATEGORY_OF.get(syscall)
    if cat is not None:
        return cat
    ids = model().ids_for_name(syscall)
    return model().events[ids[0]].category if ids else "other"
