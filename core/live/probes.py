"""BPF C source generation for the live engine.

The source is a pure function of a `ProbePlan`: the set of syscalls, the snaplen bucket, which
filter axes are enabled, and the tracepoint argument names read from the kernel's format files.
Filter values (pids, names, paths...) never reach this module: they go into BPF maps, so one
compiled program serves any values and a hostile value cannot change the program.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from .specs import AGGREGATED_SYSCALLS, F_DUPFD, F_DUPFD_CLOEXEC, FCNTL_CMD_TO_SCAP, SPECS

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
AXES = ("traced", "pids", "tids", "uids", "comms", "fds")

STR_MAX = 1024  # longest path or string read from user memory (bytes, NUL included)
ARGV_MAX, ARG_MAX, ARGV_CAP = 16, 256, 1024  # execve argv: count, per-arg and total bytes
IOV_MAX = 8  # iovecs copied per readv/writev/sendmsg/recvmsg
FDLIST_MAX = 16  # pollfd entries per poll/ppoll
PATHKEY_LEN = 256  # fd-name pushdown: longer paths cannot match in the kernel
MIN_SNAP_BUCKET, MAX_SNAP_BUCKET = 128, 8192
RB_PAGES = 4096  # 16 MiB ring buffer
IO_TOTALS_MAX = 65536  # (tgid, fd, exec generation) keys an aggregating plan keeps I/O totals for
IO_TOTALS_MAP = "io_totals"  # the map's name, as userspace opens it
FD_HINT_SLOTS = 4096  # fd numbers the fd-name pushdown keeps a may-be-watched count for (bpf_common.c)
FD_HINT_SEEDED = 1 << 24  # what userspace adds to the count of an fd the /proc scan found watched
FD_TOTALS_PARAMS = 6  # parameters added to close/dup2/dup3 enter records: the fd and its totals

# Largest value (bytes) each parameter source kind can write; fixes the record capacity.
_KIND_MAX = {
    "str": STR_MAX, "argv": ARGV_CAP, "sockaddr": 128, "fdlist": FDLIST_MAX * 8, "comm": 16,
    "tuple_connect": 40, "tuple_accept": 40, "tuple_remote": 40, "tuple_remote_lenptr": 40,
    "tuple_msg": 40, "tid": 8, "tgid": 8, "ptid": 8, "uid": 4, "gid": 4, "clone_flags": 4,
    "iovsize": 4, "msgsize": 4, "timespec": 8, "usig": 4, "how": 4, "uint_user": 8, "fcntl_cmd": 1,
}


def snap_bucket(snaplen):
    """The power of two the compiled program is sized for; the exact snaplen is a map value."""
    bucket = MIN_SNAP_BUCKET
    while bucket < min(snaplen, MAX_SNAP_BUCKET):
        bucket *= 2
    return bucket


@dataclass(frozen=True)
class ProbePlan:
    """Everything the generated source depends on, and nothing else.

    `syscalls`: frozenset of seed syscall names; `procexit`: attach sched_process_exit;
    `snap_bucket`: power of two >= snaplen; `axes`: frozenset of enabled filter axes (AXES);
    `formats`: tuple of (syscall, (arg names...)) for the attached syscalls.
    `aggregate_io`: the I/O syscalls in `specs.AGGREGATED_SYSCALLS` add their results to the
    `io_totals` map instead of emitting events; the enter events of close, dup2 and dup3 end with
    FD_TOTALS_PARAMS more parameters, the fd they close and its final totals (see
    `core/live/aggregate.py`).
    `exit_only`: the syscalls traced by their exit tracepoint alone, which emits the enter record
    too (arguments from the entry registers, timestamp of the exit; see `_exit_only_program`).
    """

    syscalls: frozenset
    procexit: bool
    snap_bucket: int
    axes: frozenset
    formats: tuple
    aggregate_io: bool = False
    exit_only: frozenset = frozenset()

    @property
    def sockets(self):
        return bool(self.syscalls & {"connect", "accept", "accept4"})

    def aggregates(self, name):
        """Whether syscall `name` adds to the I/O totals map instead of emitting events."""
        return self.aggregate_io and name in AGGREGATED_SYSCALLS


def read_formats(syscalls, root=None):
    """(formats tuple, missing syscalls): argument names of sys_enter_NAME from tracefs."""
    base = Path(root) if root else next((Path(r) for r in TRACEFS_ROOTS
                                         if Path(r, "events/syscalls").is_dir()), None)
    formats, missing = [], []
    for name in sorted(syscalls):
        try:
            text = (base / "events/syscalls" / f"sys_enter_{name}" / "format").read_text()
        except (OSError, TypeError):
            missing.append(name)
            continue
        names = []
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("field:") or "common_" in line or "__syscall_nr" in line:
                continue
            decl = line.split(";")[0][len("field:"):]
            names.append(decl.replace("*", " ").split()[-1].split("[")[0])
        formats.append((name, tuple(names)))
    return tuple(formats), missing


def _param_max(src, snap):
    kind = src[0]
    if kind in ("int", "res", "zero"):
        return src[-1]
    if kind == "u64":
        return 8
    if kind in ("rdata", "wdata", "iov", "msgiov"):
        return snap
    if kind == "empty":
        return 0
    return _KIND_MAX[kind]


def record_cap(plan):
    """Power-of-two capacity larger than any record the plan's programs can build.

    Values are written at `off & (cap - 1)`; the scratch buffer has MAX_WRITE bytes beyond the
    capacity so the verifier sees every write in bounds (per-CPU values must stay under 32 KiB).
    """
    worst = 24 + 2 * 4 + 8 * 4  # procexit
    for name in plan.syscalls:
        spec = SPECS[name]
        for params in (spec.enter, spec.exit):
            worst = max(worst, 24 + 2 * len(params) + sum(_param_max(p, plan.snap_bucket) for p in params))
    cap = 1024
    while cap <= worst:
        cap *= 2
    return cap


def _param_code(src, spec):
    """C expression writing one parameter at `off` and returning its length."""
    kind = src[0]
    a = "s.a"
    if kind == "int":
        # C int arguments arrive in 64-bit registers: widen the low half with its sign
        return f"put_int(b, off, (u64)(s64)(s32){a}[{src[1]}], {src[2]})"
    if kind == "u64":
        return f"put_int(b, off, {a}[{src[1]}], 8)"
    if kind == "res":
        return f"put_int(b, off, (u64)ret, {src[1]})"
    if kind == "zero":
        return f"put_int(b, off, 0, {src[1]})"
    if kind == "empty":
        return "0"
    if kind == "str":
        return f"put_str(b, off, {a}[{src[1]}])"
    if kind == "rdata":
        return f"put_user(b, off, {a}[{src[1]}], ret)"
    if kind == "wdata":
        return f"put_user(b, off, {a}[{src[1]}], (s64){a}[{src[2]}])"
    if kind == "iov":
        return f"put_iov(b, off, {a}[{src[1]}], {a}[{src[2]}], ret)"
    if kind == "iovsize":
        return f"put_int(b, off, iov_total({a}[{src[1]}], {a}[{src[2]}]), 4)"
    if kind == "msgiov":
        return "put_iov(b, off, m.iov, m.iovlen, ret)"
    if kind == "msgsize":
        return "put_int(b, off, iov_total(m.iov, m.iovlen), 4)"
    if kind == "tuple_msg":
        return "put_tuple_remote(b, off, m.name)"
    if kind == "sockaddr":
        return f"put_sockaddr(b, off, {a}[{src[1]}], {a}[{src[2]}])"
    if kind in ("tuple_remote", "tuple_remote_lenptr"):
        return f"put_tuple_remote(b, off, {a}[{src[1]}])"
    if kind == "tuple_connect":
        return f"put_tuple_connect(b, off, tid, {a}[{src[1]}])"
    if kind == "tuple_accept":
        return f"put_tuple_accept(b, off, {a}[{src[1]}])"
    if kind == "fdlist":
        return f"put_pollfds(b, off, {a}[{src[1]}], {a}[{src[2]}])"
    if kind == "timespec":
        return f"put_timespec_ns(b, off, {a}[{src[1]}])"
    if kind == "usig":
        return f"put_user_u32(b, off, {a}[{src[1]}], 4)"
    if kind == "uint_user":
        return f"put_user_u32(b, off, {a}[{src[1]}] + 4 * {src[2]}, 8)"
    if kind == "how":
        return f"put_user_u64(b, off, {a}[{src[1]}] + 8 * {src[2]}, 4)"
    if kind == "fcntl_cmd":
        return f"put_int(b, off, fcntl_cmd_to_scap({a}[{src[1]}]), 1)"
    if kind == "argv":
        return f"put_argv(b, off, {a}[{src[1]}])"
    if kind == "tid":
        return "put_int(b, off, tid, 8)"
    if kind == "tgid":
        return "put_int(b, off, id >> 32, 8)"
    if kind == "ptid":
        return "put_ptid(b, off, tid)"
    if kind == "comm":
        return "put_comm(b, off)"
    if kind == "uid":
        return "put_int(b, off, (u32)bpf_get_current_uid_gid(), 4)"
    if kind == "gid":
        return "put_int(b, off, bpf_get_current_uid_gid() >> 32, 4)"
    if kind == "clone_flags":
        how = spec.extra["flags"]
        if how == "arg0":
            return f"put_int(b, off, {a}[0], 4)"
        if how == "user0":
            return f"put_user_u64(b, off, {a}[0], 4)"
        # fork() and vfork() take no flags: they behave as clone(SIGCHLD) and clone(VM|VFORK|SIGCHLD)
        return "put_int(b, off, 0x11, 4)" if how == "fork" else "put_int(b, off, 0x4111, 4)"
    raise ValueError(f"unknown parameter source {src!r} in {spec.name}")


def _emit_params(params, spec):
    lines = []
    if any(p[0] in ("msgiov", "msgsize", "tuple_msg") for p in params):
        idx = next(p[1] for p in params if p[0] in ("msgiov", "msgsize", "tuple_msg"))
        lines.append("    struct msghdr_t m = {};")
        lines.append(f"    read_msghdr(s.a[{idx}], &m);")
    for i, src in enumerate(params):
        lines.append(f"    n = {_param_code(src, spec)}; SET_LEN(b, {i}, n); off += n;")
    return lines


def _task_checks(spec, plan):
    """Declare `id` and `tid` and return 0 unless the task and its fd are wanted. A helper call costs
    about 20 ns here, so the fd number, known from the arguments, is checked before the pid is
    fetched: it is what rejects most calls of an fd-filtered session."""
    fd_axis = "fds" in plan.axes and spec.fd_arg is not None
    lines = []
    if fd_axis:
        lines += [f"    if (!fd_number_maybe(s.a[{spec.fd_arg}]))", "        return 0;"]
    lines += ["    u64 id = bpf_get_current_pid_tgid();",
              "    u32 tid = (u32)id;",
              "    if (!task_wanted(id))",
              "        return 0;"]
    if fd_axis:
        lines += [f"    if (!fd_pair_wanted(id >> 32, s.a[{spec.fd_arg}]))", "        return 0;"]
    return lines


def _enter_program(spec, argnames, plan):
    lines = [f"TRACEPOINT_PROBE(syscalls, sys_enter_{spec.name})", "{",
             "    long ret = 0;",
             "    u32 off, n;",
             "    struct saved_t s = {};",
             f"    s.enter_id = {spec.enter_id};"]
    for i, arg in enumerate(argnames[:6]):
        lines.append(f"    s.a[{i}] = (u64)args->{arg};")
    lines += _task_checks(spec, plan)
    lines += ["    pending_add(tid, 1);", "    saved.update(&tid, &s);"]
    if plan.aggregate_io and spec.exit_layout == "execve":
        lines.append("    exec_bump(id >> 32);")
    if plan.aggregates(spec.name):
        # the exit adds up the result; the enter only saves the arguments
        return lines + ["    (void)ret; (void)off; (void)n;", "    return 0;", "}", ""]
    return lines + _enter_record(spec, plan) + ["    (void)ret; (void)n;", "    return 0;", "}", ""]


def _record(event_id, params, spec, tail=()):
    """Lines building one record in a scratch buffer and submitting it (a block of its own, so an
    exit-only program can build its enter and its exit record one after the other)."""
    nparams = len(params) + (FD_TOTALS_PARAMS if tail else 0)
    return (["    {", "    u8 *b = get_buf();", "    if (b) {", f"    off = begin(b, {event_id}, {nparams});"]
            + _emit_params(params, spec) + list(tail) + ["    submit(b, off);", "    }", "    }"])


def _enter_record(spec, plan):
    closes = _closed_fd(spec) if plan.aggregate_io else None
    tail = ()
    if closes:
        fd, take = closes
        tail = (f"    off += put_io_totals(b, off, {len(spec.enter)}, id >> 32, {fd}, {take});",)
    return _record(spec.enter_id, spec.enter, spec, tail)


def _closed_fd(spec):
    """(fd expression, condition) of the fd a syscall closes, whose totals its enter record carries:
    close's fd; dup2/dup3's newfd unless it is oldfd itself. None for other syscalls."""
    return {"close": ("s.a[0]", "1"), "dup2": ("s.a[1]", "s.a[1] != s.a[0]")}.get(spec.fd_role)


def _fd_role_code(spec):
    if spec.fd_role == "open":
        return [f"    fd_learn_open(id >> 32, ret, (const void *)s.a[{spec.path_arg}]);"]
    if spec.fd_role == "close":
        return ["    if (ret == 0)", "        fd_forget(id >> 32, s.a[0]);"]
    if spec.fd_role in ("dup", "dup2"):
        return ["    fd_copy(id >> 32, s.a[0], ret);"]
    if spec.fd_role == "fcntl":
        return [f"    if ((u32)s.a[1] == {F_DUPFD} || (u32)s.a[1] == {F_DUPFD_CLOEXEC})",
                "        fd_copy(id >> 32, s.a[0], ret);"]
    return []


def _exit_program(spec, plan):
    lines = [f"TRACEPOINT_PROBE(syscalls, sys_exit_{spec.name})", "{",
             "    u64 id = bpf_get_current_pid_tgid();",
             "    u32 tid = (u32)id;",
             "    long ret = args->ret;",
             "    u32 off, n;",
             "    struct saved_t s = {};",
             # most exits of a filtered session have nothing saved: skip the hash lookup then
             "    struct saved_t *sp = pending_maybe(tid) ? saved.lookup(&tid) : 0;",
             # an entry left by a syscall whose exit never came (thread killed) is not ours
             f"    if (sp && sp->enter_id != {spec.enter_id})",
             "        sp = 0;",
             "    if (sp) {",
             "        s = *sp;",
             "        if (saved.delete(&tid) == 0)",
             "            pending_add(tid, -1);"]
    if spec.exit_layout == "clone":
        # the new child returns 0 from a syscall it never entered: it is traced if its task is
        lines += ["    } else if (ret != 0 || !task_wanted(id)) {", "        return 0;", "    }"]
    else:
        lines += ["    } else {", "        return 0;", "    }"]
    if "fds" in plan.axes:
        lines += _fd_role_code(spec)
    if plan.aggregates(spec.name):
        return lines + _add_to_totals(spec) + ["    (void)off; (void)n;", "    return 0;", "}", ""]
    return lines + _record(spec.exit_id, spec.exit, spec) + ["    (void)n;", "    return 0;", "}", ""]


def _add_to_totals(spec):
    """An aggregated I/O exit: its result goes to the fd's totals in the kernel, no record."""
    return [f"    io_add(id >> 32, s.a[{spec.fd_arg}], ret, {int(spec.io_dir == 'out')});"]


def _exit_only_program(spec, plan):
    """One program on sys_exit_NAME that does the work of both: the arguments come from the
    registers the task entered the syscall with (`syscall_args`), the fd filter runs on them, and
    the enter record is built just before the exit record, with the exit's timestamp. Half the
    tracepoint hits of an enter/exit pair, which is most of what an excluded call costs."""
    lines = [f"TRACEPOINT_PROBE(syscalls, sys_exit_{spec.name})", "{",
             "    long ret = args->ret;",
             "    u32 off, n;",
             "    struct saved_t s = {};",
             "    struct pt_regs *regs = syscall_regs();"]
    if spec.fd_arg is not None:  # what the first check needs, before the other registers
        lines.append(f"    s.a[{spec.fd_arg}] = SYSCALL_ARG_{spec.fd_arg}(regs);")
    lines += _task_checks(spec, plan)
    lines.append("    syscall_args(&s, regs);")
    if plan.aggregates(spec.name):
        return lines + _add_to_totals(spec) + ["    (void)tid; (void)off; (void)n;", "    return 0;", "}", ""]
    lines += _enter_record(spec, plan)
    if "fds" in plan.axes:
        lines += _fd_role_code(spec)
    return lines + _record(spec.exit_id, spec.exit, spec) + ["    (void)tid; (void)n;", "    return 0;", "}", ""]


_PROCEXIT = """\
TRACEPOINT_PROBE(syscalls, sys_enter_exit_group)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32;
    u32 code = (u32)args->error_code;
    if (task_wanted(id))
        exit_code.update(&tgid, &code);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tgid = id >> 32;
    u32 off;
    if (task_wanted(id)) {
        u32 *cp = exit_code.lookup(&tgid);
        u64 code = cp ? (*cp & 0xff) : 0;
        u8 *b = get_buf();
        if (b) {
            off = begin(b, 186, 4);
            SET_LEN(b, 0, 8); off += put_int(b, off, code << 8, 8);
            SET_LEN(b, 1, 8); off += put_int(b, off, code, 8);
            SET_LEN(b, 2, 1); off += put_int(b, off, 0, 1);
            SET_LEN(b, 3, 1); off += put_int(b, off, 0, 1);
            submit(b, off);
        }
    }
    /* The main thread's exit ends the tgid for us (tracepoint args cannot tell whether other threads
     * live on, and a main thread rarely exits first): forget it, or a process that later reuses the
     * pid would be traced too. */
    if ((u32)id == tgid) {
#ifdef AXIS_TRACED
        traced.delete(&tgid);
#endif
#ifdef AGGREGATE_IO
        exec_gen.delete(&tgid);
#endif
        exit_code.delete(&tgid);
    }
    return 0;
}
"""

_SOCK_STATE = """\
#define CHISEL_TCP_ESTABLISHED 1
#define CHISEL_TCP_SYN_SENT 2
#define CHISEL_TCP_SYN_RECV 3
/* TCP tuples from the tracepoint's own arguments: the connecting task sets SYN_SENT in its own
 * context, ESTABLISHED arrives later (softirq) and is matched back through skaddr; a server-side
 * SYN_RECV -> ESTABLISHED is remembered by peer address for accept() to pick up. */
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    u64 sk = (u64)args->skaddr;
    if (args->protocol != 6)
        return 0;
    if (args->newstate == CHISEL_TCP_SYN_SENT) {
        u64 id = bpf_get_current_pid_tgid();
        sk_owner.update(&sk, &id);
        return 0;
    }
    if (args->newstate != CHISEL_TCP_ESTABLISHED)
        return 0;
    struct rawtuple_t t = {};
    t.family = args->family;
    t.sport = args->sport;
    t.dport = args->dport;
    if (args->family == CHISEL_AF_INET) {
        __builtin_memcpy(t.saddr, args->saddr, 4);
        __builtin_memcpy(t.daddr, args->daddr, 4);
    } else {
        __builtin_memcpy(t.saddr, args->saddr_v6, 16);
        __builtin_memcpy(t.daddr, args->daddr_v6, 16);
    }
    if (args->oldstate == CHISEL_TCP_SYN_SENT) {
        u64 *owner = sk_owner.lookup(&sk);
        if (owner) {
            u32 tid = (u32)*owner;
            tuple_by_tid.update(&tid, &t);
            sk_owner.delete(&sk);
        }
    } else if (args->oldstate == CHISEL_TCP_SYN_RECV) {
        struct peerkey_t k = {};
        k.family = t.family;
        k.port = t.dport;
        __builtin_memcpy(k.addr, t.daddr, 16);
        accepted.update(&k, &t);
    }
    return 0;
}
"""


def _fcntl_translation():
    cases = [f"    case {linux}: return {scap};" for linux, scap in sorted(FCNTL_CMD_TO_SCAP.items())]
    return ["static __always_inline u8 fcntl_cmd_to_scap(u64 cmd)", "{", "    switch ((u32)cmd) {",
            *cases, "    default: return 0;", "    }", "}", ""]


_TRACEPOINT_PROBE = re.compile(r"^TRACEPOINT_PROBE\((\w+), (\w+)\)$", re.M)


def attach_points(source):
    """The tracepoints ('category:event') the programs of a generated `source` attach to."""
    return frozenset(f"{category}:{event}" for category, event in _TRACEPOINT_PROBE.findall(source))


def generate_source(plan):
    """The complete BPF C program for `plan` (deterministic: same plan, same bytes)."""
    snap = plan.snap_bucket
    cap = record_cap(plan)
    defines = [
        f"#define REC_CAP {cap}", f"#define REC_MASK {cap - 1}", f"#define SNAP_MAX {snap}",
        f"#define MAX_WRITE {max(snap, STR_MAX, 256)}", f"#define STR_MAX {STR_MAX}", f"#define IOV_MAX {IOV_MAX}",
        f"#define ARGV_MAX {ARGV_MAX}", f"#define ARGV_ARG_MAX {ARG_MAX}", f"#define ARGV_CAP {ARGV_CAP}",
        f"#define FDLIST_MAX {FDLIST_MAX}", f"#define PATHKEY_LEN {PATHKEY_LEN}",
        f"#define RB_PAGES {RB_PAGES}", f"#define FD_HINT_SLOTS {FD_HINT_SLOTS}",
    ]
    defines += [f"#define AXIS_{axis.upper()} 1" for axis in AXES if axis in plan.axes]
    if plan.exit_only:
        defines.append("#define EXIT_ONLY 1")
    if plan.aggregate_io:
        defines += ["#define AGGREGATE_IO 1", f"#define IO_TOTALS_MAX {IO_TOTALS_MAX}"]
    common = Path(__file__).with_name("bpf_common.c").read_text()
    out = defines + ["", common]
    formats = dict(plan.formats)
    if "fcntl" in plan.syscalls:
        out += _fcntl_translation()
    for name in sorted(plan.syscalls):
        spec = SPECS[name]
        if name in plan.exit_only:
            out += _exit_only_program(spec, plan)
        else:
            out += _enter_program(spec, formats.get(name, ()), plan)
            out += _exit_program(spec, plan)
    if plan.procexit:
        out.append(_PROCEXIT)
    if plan.sockets:
        out.append(_SOCK_STATE)
    return "\n".join(out)
