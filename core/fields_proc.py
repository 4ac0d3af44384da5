"""The `proc.*` and `thread.*` fields: ids, names, command lines, ancestors, resources.

Everything starts from `ev.thread` (set by the state engine); ancestors, the main thread and
thread counts need the bound state (`BOUND.state`: `threads`, `parent(thread)`). Ancestor fields
take an index: `proc.aname[0]` is the process itself, `[1]` its parent, and so on; without an
index, `proc.apid` / `proc.aname` give the tuple of every ancestor (parent first), which a filter
treats as "any ancestor matches".
"""

from .fields_base import BOUND, ONE_DECIMAL, FieldDef

# Shells proc.loginshellid looks for among the ancestors.
SHELLS = frozenset({"sh", "bash", "zsh", "ksh", "csh", "tcsh", "dash", "ash", "fish"})

# Guard against loops in a corrupt parent chain.
_MAX_DEPTH = 1024


# -- the thread, its process and its ancestors -----------------------------------------------
def main_thread(th):
    """The main thread of `th`'s process (th itself when the state does not know it)."""
    state = BOUND.state
    if state is None or th.tid == th.pid:
        return th
    return state.threads.get(th.pid) or th


def parent(th):
    """The parent process's main thread, or None."""
    state = BOUND.state
    if state is None:
        return None
    return state.parent(th)


def ancestors(th):
    """The ancestors of the thread's process, parent first (never the process itself).

    As sysdig does, the walk starts at the process's main thread, so every thread of a process has
    the same ancestors.
    """
    th = main_thread(th)
    out = []
    seen = {th.tid}
    p = parent(th)
    while p is not None and p.tid not in seen and len(out) < _MAX_DEPTH:
        out.append(p)
        seen.add(p.tid)
        p = parent(p)
    return out


def ancestor(th, n):
    """The Nth ancestor (0: the process's main thread), or None; walks only N steps."""
    a = main_thread(th)
    seen = {a.tid}
    for _ in range(n):
        a = parent(a)
        if a is None or a.tid in seen:
            return None
        seen.add(a.tid)
    return a


def _of_thread(get):
    """An extractor applying `get` to the event's thread."""
    def extract(ev):
        th = ev.thread
        return None if th is None else get(th)
    return extract


def _of_parent(get):
    def extract(ev):
        th = ev.thread
        if th is None:
            return None
        p = parent(th)
        return None if p is None else get(p)
    return extract


def _of_ancestor(get):
    """`proc.aX[N]`: `get` of the Nth ancestor; without N, the tuple for every ancestor."""
    def extract(ev, n):
        th = ev.thread
        if th is None:
            return None
        if n is None:
            return tuple(get(a) for a in ancestors(th))
        a = ancestor(th, n)
        return None if a is None else get(a)
    return extract


# -- per-thread values -----------------------------------------------------------------------
def _args(th):
    return " ".join(th.args)


def _cmdline(th):
    return " ".join([th.comm, *th.args])


def _exeline(th):
    # sysdig always puts a blank after argv[0], even when there are no arguments.
    return f"{th.exe} {' '.join(th.args)}"


def _env(ev, var):
    th = ev.thread
    if th is None:
        return None
    env = main_thread(th).env or th.env
    if var is None:
        return " ".join(env)
    prefix = var + "="
    for item in env:
        if item.startswith(prefix):
            return item[len(prefix):]
    return None


def _cwd(th):
    cwd = main_thread(th).cwd if th.tid != th.pid else th.cwd
    if cwd and not cwd.endswith("/"):
        return cwd + "/"
    return cwd


def _sname(th):
    """Name of the session leader: the highest ancestor, in an unbroken chain, sharing the sid."""
    th = main_thread(th)
    leader = th
    for a in ancestors(th):
        if a.sid != th.sid:
            break
        leader = a
    return leader.comm


def _loginshellid(th):
    """Pid of the oldest shell among the thread's process and its ancestors, or None."""
    found = None
    for t in [th, *ancestors(th)]:
        if t.comm in SHELLS:
            found = t.pid
    return found


def _duration(ev):
    th = ev.thread
    if th is None:
        return None
    start = main_thread(th).clone_ts
    return ev.ts - start if start else None


def _pid_ts(th):
    return main_thread(th).clone_ts or None


def _process_threads(th):
    state = BOUND.state
    if state is None:
        return [th]
    pid = th.pid
    # An exiting thread still counts until the state drops it (after its procexit event).
    return [t for t in state.threads.values() if t.pid == pid]


def _nthreads(th):
    return len(_process_threads(th))


def _nchilds(th):
    """On the main thread, the process's other threads; 0 on other threads (as sysdig counts)."""
    if th.tid != th.pid:
        return 0
    return sum(1 for t in _process_threads(th) if t.tid != t.pid)


def _fdopencount(ev):
    """Open fds of the process; the fd a close event closes still counts during that event,
    as sysdig removes it only after the event."""
    th = ev.thread
    if th is None:
        return None
    count = len(main_thread(th).fdtable)
    fd = ev.fd
    if fd is not None and ev.info.name == "close" and main_thread(th).fdtable.get(fd.fd) is not fd:
        count += 1
    return count


def _fdlimit(th):
    return main_thread(th).fdlimit


def _fdusage(ev):
    th = ev.thread
    if th is None:
        return None
    limit = main_thread(th).fdlimit
    if not limit:
        return None
    return _fdopencount(ev) * 100.0 / limit


def _main_only(get):
    """thread.vmsize / thread.vmrss: the process value on the main thread, 0 on other threads."""
    def value(th):
        return get(th) if th.tid == th.pid else 0
    return value


def _known(v):
    """An id, or None for -1 (what the state keeps when a capture does not record it)."""
    return None if v == -1 else v


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _cgroups(th):
    """The thread's "subsystem=path" list; a thread without its own (procscan fills the main
    thread only) reports its process's. cgroup v2's "io" shows as "blkio", as sysdig names it."""
    return [_V1_NAME_OF_IO + item[2:] if item.startswith("io=") else item
            for item in th.cgroups or main_thread(th).cgroups]


_V1_NAME_OF_IO = "blkio"


def _cgroup(ev, subsystem):
    """thread.cgroup.SUBSYSTEM: the cgroup path for one subsystem (cpu, memory, pids...)."""
    th = ev.thread
    if th is None:
        return None
    prefix = subsystem + "="
    for item in _cgroups(th):
        if item.startswith(prefix):
            return item[len(prefix):]
    return None


def _field(name, ftype, doc, extract, **kw):
    return FieldDef(name, ftype, doc, extract, cls="process", **kw)


_ANCESTOR = {"arg": "index", "arg_required": False}

FIELDS = (
    _field("proc.pid", "INT64", "id of the process (thread group) of the event",
           _of_thread(lambda th: th.pid), inline=("thread", "pid", int)),
    _field("proc.ppid", "INT64", "pid of the parent process",
           _of_thread(lambda th: main_thread(th).ptid)),
    _field("proc.vpid", "INT64", "pid of the process inside its pid namespace (<NA> when the "
           "capture does not record it)", _of_thread(lambda th: _known(th.vpid))),
    _field("proc.pvpid", "INT64", "namespace pid of the parent process",
           _of_parent(lambda p: p.vpid)),
    _field("proc.apid", "INT64", "pid of the Nth ancestor (proc.apid[1] is the parent); "
           "without [N] any ancestor matches", _of_ancestor(lambda a: a.pid), **_ANCESTOR),
    _field("proc.name", "CHARBUF", "process name (comm, at most 15 characters)",
           _of_thread(lambda th: th.comm), inline=("thread", "comm", str)),
    _field("proc.pname", "CHARBUF", "name of the parent process", _of_parent(lambda p: p.comm)),
    _field("proc.aname", "CHARBUF", "name of the Nth ancestor (proc.aname[0] is the process)",
           _of_ancestor(lambda a: a.comm), **_ANCESTOR),
    _field("proc.exe", "CHARBUF", "first command-line argument (argv[0])",
           _of_thread(lambda th: th.exe), inline=("thread", "exe", str)),
    _field("proc.pexe", "CHARBUF", "argv[0] of the parent process", _of_parent(lambda p: p.exe)),
    _field("proc.aexe", "CHARBUF", "argv[0] of the Nth ancestor",
           _of_ancestor(lambda a: a.exe), **_ANCESTOR),
    _field("proc.exepath", "CHARBUF", "full path of the executable",
           _of_thread(lambda th: th.exepath), inline=("thread", "exepath", str)),
    _field("proc.pexepath", "CHARBUF", "full executable path of the parent process",
           _of_parent(lambda p: p.exepath)),
    _field("proc.args", "CHARBUF", "command-line arguments, without argv[0]", _of_thread(_args)),
    _field("proc.cmdline", "CHARBUF", "process name and arguments", _of_thread(_cmdline)),
    _field("proc.exeline", "CHARBUF", "argv[0] and arguments", _of_thread(_exeline)),
    _field("proc.pcmdline", "CHARBUF", "command line of the parent process", _of_parent(_cmdline)),
    _field("proc.acmdline", "CHARBUF", "command line of the Nth ancestor",
           _of_ancestor(_cmdline), **_ANCESTOR),
    _field("proc.cmdnargs", "UINT64", "number of command-line arguments",
           _of_thread(lambda th: len(th.args))),
    _field("proc.cmdlenargs", "UINT64", "total characters of the command-line arguments",
           _of_thread(lambda th: sum(len(a) for a in th.args))),
    _field("proc.env", "CHARBUF", "environment ('K=V' items joined by spaces); proc.env[VAR] "
           "is one variable's value", _env, arg="name", arg_required=False),
    _field("proc.cwd", "CHARBUF", "current working directory, with a final '/' as sysdig shows it",
           _of_thread(_cwd)),
    _field("proc.tty", "INT32", "controlling terminal (0 for none)", _of_thread(lambda th: th.tty)),
    _field("proc.sid", "INT64", "session id", _of_thread(lambda th: th.sid)),
    _field("proc.sname", "CHARBUF", "name of the session leader", _of_thread(_sname)),
    _field("proc.vpgid", "INT64", "process group id inside the pid namespace",
           _of_thread(lambda th: th.vpgid)),
    _field("proc.loginshellid", "INT64", "pid of the oldest shell among the process and its "
           "ancestors", _of_thread(_loginshellid)),
    _field("proc.duration", "RELTIME", "nanoseconds since the process started", _duration),
    _field("proc.pid.ts", "ABSTIME", "start time of the process, ns since the epoch",
           _of_thread(_pid_ts)),
    _field("proc.nthreads", "UINT32", "number of live threads of the process, main included",
           _of_thread(_nthreads)),
    _field("proc.nchilds", "UINT32", "on the main thread, the number of the process's other "
           "threads (0 on other threads)",
           _of_thread(_nchilds)),
    _field("proc.fdopencount", "UINT64", "number of open fds of the process",
           _fdopencount),
    _field("proc.fdlimit", "INT64", "most fds the process may open", _of_thread(_fdlimit)),
    _field("proc.fdusage", "DOUBLE", "open fds as a percentage of proc.fdlimit", _fdusage,
           display=ONE_DECIMAL),
    _field("proc.vmsize", "UINT64", "virtual memory of the process, KB",
           _of_thread(lambda th: main_thread(th).vmsize_kb)),
    _field("proc.vmrss", "UINT64", "resident memory of the process, KB",
           _of_thread(lambda th: main_thread(th).vmrss_kb)),
    _field("proc.vmswap", "UINT64", "swapped memory of the process, KB",
           _of_thread(lambda th: main_thread(th).vmswap_kb)),
    _field("thread.cgroups", "CHARBUF", "the thread's cgroups, as space-separated "
           "subsystem=path pairs", _of_thread(lambda th: " ".join(_cgroups(th)))),
    _field("thread.cgroup", "CHARBUF", "the thread's cgroup for one subsystem, as in "
           "thread.cgroup.cpu", _cgroup, arg="name"),
    _field("thread.tid", "INT64", "id of the thread (known even without thread state)",
           lambda ev: ev.thread.tid if ev.thread is not None else _signed64(ev.tid),
           inline=("thread", "tid", int)),
    _field("thread.vtid", "INT64", "thread id inside the pid namespace (<NA> when the capture "
           "does not record it)", _of_thread(lambda th: _known(th.vtid))),
    _field("thread.ismain", "BOOL", "true for the process's main thread",
           _of_thread(lambda th: th.tid == th.pid)),
    _field("thread.vmsize", "UINT64", "virtual memory, KB, on the main thread (0 on others)",
           _of_thread(_main_only(lambda th: th.vmsize_kb))),
    _field("thread.vmrss", "UINT64", "resident memory, KB, on the main thread (0 on others)",
           _of_thread(_main_only(lambda th: th.vmrss_kb))),
    _field("thread.pfmajor", "UINT64", "major page faults of the thread",
           _of_thread(lambda th: th.pfmajor)),
    _field("thread.pfminor", "UINT64", "minor page faults of the thread",
           _of_thread(lambda th: th.pfminor)),
)

CLASS_DOC = "Process and thread fields: ids, names, command lines, ancestors and resources."
