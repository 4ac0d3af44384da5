"""The benchmark's workload generator and tracer harness, with stand-in tracers (no root, no BPF)."""

import os
import shutil
import signal
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
sys.path.insert(0, os.path.abspath(BENCH))

import harness  # noqa: E402  (bench/ is a folder of scripts, not a package)
import run  # noqa: E402

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the workload")

# A stand-in system-wide tracer: announces readiness on stderr, reports on SIGINT.
FAKE_TRACER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, lambda *a: (print('3 events dropped', file=sys.stderr),"
    " sys.exit(0)))\n"
    "print('Tracing... Ctrl-C to end', file=sys.stderr, flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.fixture(scope="module")
def workload():
    return harness.build_workload()


@needs_gcc
@pytest.mark.parametrize("mode, per_iteration", [
    ("rw", 2), ("openclose", 2), ("getpid", 3), ("connect", 5), ("forkexec", 3)])
def test_workload_counts_its_syscalls(workload, mode, per_iteration):
    elapsed, syscalls, cpu = harness.run_untraced(harness.workload_argv(workload, mode, 23), 30)
    assert syscalls == 23 * per_iteration
    assert elapsed > 0 and cpu > 0


@needs_gcc
def test_workload_rejects_bad_arguments(workload):
    with pytest.raises(harness.Unavailable, match="workload exited 2: usage: workload"):
        harness.run_untraced([workload, "nosuchmode", "5"], 30)


@needs_gcc
def test_background_tracer_waits_for_ready_and_collects_output(workload):
    tracer = harness.Tracer("fake", (sys.executable, "-c", FAKE_TRACER), ready=r"Tracing")
    result = harness.run_traced(tracer, harness.workload_argv(workload, "rw", 23), 30, 20)
    assert result.syscalls == 46
    assert result.ready_s is not None
    assert run._drops(result.tracer_stderr) == 3


@needs_gcc
def test_wrapping_tracer_runs_the_workload_itself(workload):
    tracer = harness.Tracer("env", ("/usr/bin/env",), wraps=True)
    result = harness.run_traced(tracer, harness.workload_argv(workload, "getpid", 23), 30, 20)
    assert result.syscalls == 69


def test_tracer_that_fails_at_start_is_unavailable_with_its_message():
    failing = harness.Tracer("broken", (sys.executable, "-c",
                                        "import sys; sys.exit('chisel: error: no BPF')"),
                             ready=r"Tracing")
    with pytest.raises(harness.Unavailable, match="broken exited 1 before ready: chisel: error: no BPF"):
        harness.run_traced(failing, ["/bin/true"], 30, 20)


def test_tracer_never_ready_times_out():
    silent = harness.Tracer("silent", (sys.executable, "-c", "import time; time.sleep(30)"),
                            ready=r"Tracing")
    with pytest.raises(harness.Unavailable, match=r"silent printed no 'Tracing' within 0 s"):
        harness.run_traced(silent, ["/bin/true"], 30, 0.2)


def test_missing_tool_is_unavailable():
    with pytest.raises(harness.Unavailable, match="/nonexistent/chisel not found"):
        harness.check_tool("/nonexistent/chisel")
    with pytest.raises(harness.Unavailable, match="no-such-tracer-here not installed"):
        harness.check_tool("no-such-tracer-here")


def test_table_and_number_formatting(capsys):
    run._print_table([("A", "LONGER", "NOTE"), ("xyz", "1", "a note")])
    assert capsys.readouterr().out == "A    LONGER  NOTE\nxyz  1       a note\n"
    assert [run._si(v) for v in (999, 1500, 2_500_000)] == ["999", "1.50k", "2.50M"]
    assert run._drops("0 events dropped\n") == 0 and run._drops("nothing") is None


@needs_gcc
def test_tracer_stops_on_sigint_even_when_the_harness_ignores_it(workload):
    # A shell's background job starts with SIGINT ignored; tracers must not inherit that.
    tracer = harness.Tracer("sleeper", ("/bin/sh", "-c", "echo Tracing >&2; exec sleep 60"),
                            ready=r"Tracing")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = harness.run_traced(tracer, harness.workload_argv(workload, "rw", 23), 30, 20)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.tracer_returncode == -signal.SIGINT  # not the SIGKILL fallback
