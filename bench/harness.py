"""Benchmark machinery: build the workload, run it, and start/confirm/stop a tracer around it.

A measurement is the workload's own loop time (it prints it), so neither the tracer's start-up nor
the workload's exec count. A tracer is either *wrapping* (strace runs the workload itself) or
*system-wide* (started first, confirmed ready by a line it prints plus a settle time, then the
workload runs, then SIGINT). Anything that goes wrong becomes `Unavailable(reason)`, which the
report prints as 'n/a (reason)': the chisel CLI is young and a missing scenario must not stop
the others.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
BUILD_DIR = os.path.join(tempfile.gettempdir(), "chisel-bench-build")
STOP_TIMEOUT = 15  # seconds a tracer gets to exit after SIGINT before SIGKILL


class Unavailable(Exception):
    """A scenario cannot run here (tool missing, command failed, never ready); str() says why."""


@dataclass(frozen=True)
class Tracer:
    """How to run one tracing tool around a workload.

    `argv` starts it; with `wraps` the workload command is appended and the tracer runs it.
    Otherwise it is system-wide: we wait for `ready` (a regex) on its stdout or stderr, then
    `settle` seconds more (probes may still be attaching when the line appears), and stop it
    with SIGINT after the workload.
    """

    name: str
    argv: tuple
    wraps: bool = False
    ready: str = None
    settle: float = 0.0
    stdout_to_null: bool = False
    # Before SIGINT, wait until the tracer has caught up (its CPU time stops growing): a tracer
    # stops reading at SIGINT, so whatever it had not read yet would be lost uncounted.
    drain: bool = False


@dataclass
class TracedRun:
    """One workload run: its loop wall and CPU time, syscall count, and what the tracer printed."""

    elapsed_ns: int
    syscalls: int
    cpu_ns: int
    tracer_stdout: str = ""
    tracer_stderr: str = ""
    ready_s: float = None  # seconds from spawning the tracer to its readiness line
    tracer_returncode: int = None
    tracer_killed: bool = False  # it ignored SIGINT for STOP_TIMEOUT seconds
    drain_s: float = 0.0  # seconds the tracer kept working after the workload ended (`drain`)


@dataclass(frozen=True)
class Workload:
    """A workload mode with iteration counts for the full and the --quick run."""

    mode: str
    iterations: int
    quick_iterations: int

    def count(self, quick):
        return self.quick_iterations if quick else self.iterations


def build_workload():
    """Compile bench/workload.c into a build directory outside the repo; return the binary path."""
    source = os.path.join(BENCH_DIR, "workload.c")
    binary = os.path.join(BUILD_DIR, "workload")
    if os.path.exists(binary) and os.path.getmtime(binary) >= os.path.getmtime(source):
        return binary
    if shutil.which("gcc") is None:
        raise Unavailable("gcc not installed; install gcc to build bench/workload.c")
    os.makedirs(BUILD_DIR, exist_ok=True)
    result = subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, source],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise Unavailable(f"gcc failed: {_last_line(result.stderr)}")
    return binary


def private_workload(binary):
    """A hard link to the workload named for this bench process (`wl` + pid), so a tracer
    filtering on proc.name sees only our loops, not another bench running at the same time."""
    link = os.path.join(os.path.dirname(binary), f"wl{os.getpid()}")
    if not os.path.exists(link):
        os.link(binary, link)
    return link


def workload_argv(binary, mode, iterations, rate=0):
    argv = [binary, mode, str(iterations)]
    if rate:
        argv.append(str(rate))
    return argv


def check_tool(argv0):
    """Raise Unavailable unless `argv0` is an executable path or on PATH."""
    if os.path.sep in argv0:
        if not os.access(argv0, os.X_OK):
            raise Unavailable(f"{argv0} not found")
    elif shutil.which(argv0) is None:
        raise Unavailable(f"{argv0} not installed")


def run_untraced(argv, timeout):
    out = _run_checked(argv, timeout, "workload")
    return _parse_workload_line(out)


def run_traced(tracer, argv, timeout, ready_timeout):
    """Run workload `argv` under `tracer`; return a TracedRun or raise Unavailable."""
    check_tool(tracer.argv[0])
    if tracer.wraps:
        out = _run_checked(list(tracer.argv) + argv, timeout, tracer.name)
        return TracedRun(*_parse_workload_line(out))
    with BackgroundTracer(tracer, ready_timeout) as bg:
        elapsed, syscalls, cpu = _parse_workload_line(_run_checked(argv, timeout, "workload"))
        drain_s = wait_until_idle(bg.proc.pid, timeout) if tracer.drain else 0.0
    return TracedRun(elapsed, syscalls, cpu, bg.stdout, bg.stderr, bg.ready_s,
                     bg.proc.returncode, bg.killed, drain_s)


IDLE_WINDOW_S = 0.5  # a tracer using under IDLE_SHARE of a CPU over this window has caught up
IDLE_SHARE = 0.1


def wait_until_idle(pid, timeout):
    """Wait until process `pid` uses less than IDLE_SHARE of a CPU over IDLE_WINDOW_S (or exits,
    or `timeout` seconds pass); return the seconds waited."""
    started = time.monotonic()
    tick = os.sysconf("SC_CLK_TCK")
    last = _cpu_ticks(pid)
    while last is not None and time.monotonic() - started < timeout:
        time.sleep(IDLE_WINDOW_S)
        now = _cpu_ticks(pid)
        if now is None or (now - last) / tick < IDLE_SHARE * IDLE_WINDOW_S:
            break
        last = now
    return time.monotonic() - started


def _cpu_ticks(pid):
    """utime + stime of `pid` in clock ticks, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5), counted after comm


class BackgroundTracer:
    """A system-wide tracer running for the duration of a `with` block.

    Its output goes to temp files (a pipe could fill and stall it); readiness is found by polling
    them. On exit it gets SIGINT, and its own process group SIGKILL if it ignores that.
    """

    def __init__(self, tracer, ready_timeout):
        self.tracer, self.ready_timeout = tracer, ready_timeout
        self.stdout = self.stderr = ""
        self.ready_s = None
        self.stop_s = None  # SIGINT to exit, when it exited by itself
        self.exited_early = self.killed = False

    def __enter__(self):
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            list(self.tracer.argv), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if self.tracer.stdout_to_null else self._out,
            stderr=self._err, start_new_session=True, preexec_fn=_default_sigint)
        try:
            self._wait_ready(started)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc):
        self._stop()
        # A tracer that died while the workload ran measured nothing. One that had to be
        # killed after SIGINT did trace the workload: the run counts, flagged as `killed`.
        if exc[0] is None and self.exited_early:
            raise Unavailable(f"{self.tracer.name} exited {self.proc.returncode} during the "
                              f"run: {_last_line(self.stderr) or _last_line(self.stdout)}")
        return False

    def _wait_ready(self, started):
        pattern = re.compile(self.tracer.ready) if self.tracer.ready else None
        deadline = started + self.ready_timeout
        while pattern is not None:
            if pattern.search(_read_all(self._err)) or pattern.search(_read_all(self._out)):
                self.ready_s = time.monotonic() - started
                break
            if self.proc.poll() is not None:
                err = _read_all(self._err) or _read_all(self._out)
                raise Unavailable(f"{self.tracer.name} exited {self.proc.returncode} before "
                                  f"ready: {_last_line(err) or 'no output'}")
            if time.monotonic() > deadline:
                raise Unavailable(f"{self.tracer.name} printed no {self.tracer.ready!r} "
                                  f"within {self.ready_timeout:.0f} s")
            time.sleep(0.01)
        time.sleep(self.tracer.settle)
        if self.proc.poll() is not None:
            raise Unavailable(f"{self.tracer.name} exited {self.proc.returncode} while settling: "
                              f"{_last_line(_read_all(self._err))}")

    def _stop(self):
        self.exited_early = self.proc.poll() is not None
        if not self.exited_early:
            stopping = time.monotonic()
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
                self.stop_s = time.monotonic() - stopping
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.killed = True
        self.stdout, self.stderr = _read_all(self._out), _read_all(self._err)
        self._out.close()
        self._err.close()


def _default_sigint():
    """In the tracer's child: take SIGINT's default back. A harness started in the background
    by a shell inherits SIGINT ignored, and so would every tracer, which then never stops."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def time_command(argv, timeout, stdout=subprocess.DEVNULL):
    """Wall seconds of one run of `argv` (output discarded); Unavailable if it fails."""
    return measure_command(argv, timeout, stdout)[0]


def measure_command(argv, timeout, stdout=subprocess.DEVNULL):
    """(wall seconds, CPU seconds user + system) of one run of `argv`; Unavailable if it fails.

    CPU time suffers less than wall time from other load on the machine."""
    check_tool(argv[0])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        result = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{os.path.basename(argv[0])} took over {timeout} s") from None
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise Unavailable(f"{' '.join(os.path.basename(a) for a in argv[:2])} exited "
                          f"{result.returncode}: {_last_line(result.stderr)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def time_start_and_stop(tracer, ready_timeout):
    """(seconds from spawning `tracer` to its readiness line, seconds from SIGINT to its exit)."""
    check_tool(tracer.argv[0])
    with BackgroundTracer(tracer, ready_timeout) as bg:
        pass
    if bg.stop_s is None:
        raise Unavailable(f"{tracer.name} did not exit on SIGINT")
    return bg.ready_s, bg.stop_s


def run_command_output(argv, timeout):
    """stdout of one successful run of `argv`; Unavailable if it fails."""
    check_tool(argv[0])
    return _run_checked(argv, timeout, os.path.basename(argv[0]))


def resident_mb(pid):
    """(VmRSS, VmHWM) of process `pid` in MB, from /proc/PID/status."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
    except OSError as e:
        raise Unavailable(f"cannot read /proc/{pid}/status: {e.strerror}") from None
    if len(values) != 2:
        raise Unavailable(f"process {pid} has no resident set (exited?)")
    return values["VmRSS"], values["VmHWM"]


def _run_checked(argv, timeout, what):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} took over {timeout} s") from None
    if result.returncode != 0:
        raise Unavailable(f"{what} exited {result.returncode}: {_last_line(result.stderr)}")
    return result.stdout


def _parse_workload_line(out):
    """(elapsed_ns, syscalls, cpu_ns) from the workload's line 'MODE ITER SYSCALLS NS CPU_NS'."""
    for line in reversed(out.splitlines()):
        parts = line.split()
        if len(parts) == 5 and all(p.isdigit() for p in parts[1:]):
            return int(parts[3]), int(parts[2]), int(parts[4])
    raise Unavailable("workload printed no result line")


def _read_all(tmpfile):
    tmpfile.seek(0)
    return tmpfile.read().decode("utf-8", "replace")


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:150] if lines else ""
