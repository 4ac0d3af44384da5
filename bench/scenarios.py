"""What the benchmark measures: the tracers, the workloads, and which tracer runs over which loop.

Goals from issue 7 are noted next to the scenarios that check them.
"""

import os

from harness import REPO, Tracer, Workload

CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
SYSDIG = "sysdig"
FALLBACK_CAPTURE = os.path.join(REPO, "tests", "data", "scap", "libs_sample.scap")

STRACE = Tracer("strace -f", ("strace", "-f", "-qq", "-o", "/dev/null"), wraps=True)
SYSCOUNT = Tracer("syscount-bpfcc", ("/usr/sbin/syscount-bpfcc",), ready=r"Tracing", settle=0.2)
BPFTRACE = Tracer("bpftrace count", ("bpftrace", "-e",
                                     "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
                  ready=r"Attaching", settle=1.0)  # it prints the line before attaching
# A single syscall tracepoint whose in-kernel filter rejects every event: what excluded work
# costs with bcc's own tools, the floor for `chisel echo_fds fd.name=...`.
TRACE_FILTERED = Tracer("trace-bpfcc read fd==9999",
                        ("/usr/sbin/trace-bpfcc", "t:syscalls:sys_enter_read (args->fd == 9999)"),
                        ready=r"PID", settle=0.2)
# One tracepoint on a syscall the loop never makes: the kernel then sends every task's syscalls
# through its tracing slow path, whatever is attached. The floor for "nothing attached".
TRACE_UNRELATED = Tracer("trace-bpfcc sync (never called)", ("/usr/sbin/trace-bpfcc", "t:syscalls:sys_enter_sync"),
                         ready=r"PID", settle=0.2)
CHISEL_ECHO_FDS = Tracer("chisel echo_fds fd.name=/etc/passwd",
                         (CHISEL, "echo_fds", "fd.name=/etc/passwd"), ready=r"Tracing", settle=0.2)
# The same with both tracepoints of every call attached (what -w, printing or evt.latency get):
# the A/B for exit-only programs.
CHISEL_ECHO_FDS_ENTER = Tracer("chisel echo_fds --enter-probes",
                               (CHISEL, "echo_fds", "--enter-probes", "fd.name=/etc/passwd"),
                               ready=r"Tracing", settle=0.2)
CHISEL_TOPFILES = Tracer("chisel topfiles", (CHISEL, "topfiles"), ready=r"Tracing", settle=0.2)
# The same start with the compiled-program cache off: what the first run of a new probe plan pays.
CHISEL_TOPFILES_UNCACHED = Tracer("chisel topfiles (cache off)", ("env", "CHISEL_BPF_CACHE=off", CHISEL, "topfiles"),
                                  ready=r"Tracing", settle=0.2)


def chisel_json(comm):
    """Every event of the workload named `comm` decoded, state kept, printed as JSON to /dev/null.
    `drain`: the catch-up time after the loop shows a consumer falling behind before the ring
    buffer overflows (a backlog is not a drop yet)."""
    return Tracer("chisel -j", (CHISEL, "-j", f"proc.name={comm}"), ready=r"Tracing",
                  settle=0.2, stdout_to_null=True, drain=True)


def chisel_writer(path, comm):
    """`chisel -w` recording the workload named `comm`; it gets time to catch up before SIGINT."""
    return Tracer("chisel -w", (CHISEL, "-w", path, f"proc.name={comm}"), ready=r"Tracing",
                  settle=0.2, drain=True)


RW = Workload("rw", 500_000, 20_000)
RW_SLOW = Workload("rw", 50_000, 5_000)  # for strace, which is 20-600x slower
OPENCLOSE = Workload("openclose", 200_000, 10_000)
OPENCLOSE_SLOW = Workload("openclose", 20_000, 2_000)
GETPID = Workload("getpid", 200_000, 10_000)
CONNECT = Workload("connect", 3_000, 100)
FORKEXEC = Workload("forkexec", 200, 10)

# (workload, tracer or None for untraced, goal note). The untraced baseline of each distinct
# workload size is added automatically.
OVERHEAD = (
    (RW, SYSCOUNT, "peer: in-kernel counting"),
    (RW, BPFTRACE, "peer"),
    (RW, TRACE_FILTERED, "peer: in-kernel filter, nothing passes"),
    (RW, CHISEL_ECHO_FDS, "goal: <= syscount on rw"),
    (RW, CHISEL_ECHO_FDS_ENTER, "same, enter and exit probes"),
    (RW_SLOW, STRACE, "peer"),
    (OPENCLOSE, SYSCOUNT, "peer"),
    (OPENCLOSE, BPFTRACE, "peer"),
    (OPENCLOSE_SLOW, STRACE, "peer"),
    (GETPID, SYSCOUNT, "peer"),
    (GETPID, BPFTRACE, "peer"),
    (GETPID, TRACE_UNRELATED, "peer: one unrelated tracepoint, the kernel's floor"),
    (GETPID, CHISEL_TOPFILES, "goal: <= 1.05 (nothing attached)"),
    (CONNECT, STRACE, "peer"),
    (CONNECT, SYSCOUNT, "peer"),
    (FORKEXEC, STRACE, "peer"),
    (FORKEXEC, SYSCOUNT, "peer"),
)

# Peers left out of --quick: each start costs seconds and the smoke run must stay under a minute.
SKIPPED_WHEN_QUICK = frozenset({BPFTRACE, TRACE_FILTERED, TRACE_UNRELATED, CHISEL_ECHO_FDS_ENTER})

# Offered event rates for the streaming ladder (events/s, enter and exit both count). The rw
# loop makes 2 syscalls = 4 events per iteration. Each rung runs about STREAM_SECONDS.
STREAM_RATES = (100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_200_000)
STREAM_RATES_QUICK = (100_000,)
EVENTS_PER_RW_ITERATION = 4
STREAM_SECONDS, STREAM_SECONDS_QUICK = 2.0, 0.3
# Sustained streaming: the rates around the goal (300 k events/s), each held long enough to fill
# the 16 MiB ring several times over (about 80 bytes a record: 200 k records) if chisel fell
# behind. A run is sustained with zero drops and at most SUSTAINED_MAX_CATCH_UP_S of catch-up
# (0.5 s = none, one idle check; 1.0 s = less than half a second of backlog).
STREAM_SUSTAINED_RATES = (300_000, 350_000, 400_000)
STREAM_SUSTAINED_RATES_QUICK = (100_000,)
STREAM_SUSTAINED_SECONDS, STREAM_SUSTAINED_SECONDS_QUICK = 10.0, 0.5
SUSTAINED_MAX_CATCH_UP_S = 1.0

# Replay: a capture of at least a million events written by `chisel -w` (rw loop of the
# workload, 4 events per iteration).
REPLAY_ITERATIONS = 275_000
REPLAY_RATE = 150_000  # events/s offered while writing it: about 7.5 s (plus the pacing calls)

# Memory: a live topfiles under a steady open/close loop for a minute (issue 7: RSS < 150 MB).
MEMORY_SECONDS, MEMORY_SECONDS_QUICK = 60.0, 2.0
MEMORY_RATE = 20_000  # open/close iterations per second
