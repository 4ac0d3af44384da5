"""The streaming section's verdicts: a run is sustained only with zero drops and a short catch-up,
so a burst the ring buffer absorbed (long catch-up) cannot pass as sustained."""

import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
sys.path.insert(0, os.path.abspath(BENCH))

import harness  # noqa: E402  (bench/ is a folder of scripts, not a package)
import run  # noqa: E402
import scenarios  # noqa: E402


def _bench_with(monkeypatch, drops, drain_s, seen):
    def fake_run_traced(tracer, argv, timeout, ready_timeout):
        seen.append(argv)
        stderr = f"{drops} events dropped\n" if drops else ""
        # 2 syscalls per loop iteration: the workload's count for argv's iterations, in 2 s
        return harness.TracedRun(2_000_000_000, int(argv[2]) * 2, 1, tracer_stderr=stderr,
                                 drain_s=drain_s)

    monkeypatch.setattr(harness, "run_traced", fake_run_traced)
    bench = run.Bench(quick=False, runs=1)
    bench.private_binary = "/bin/wl-test"
    return bench


@pytest.mark.parametrize("drops, drain_s, verdict", [
    (0, 0.5, "sustained"), (0, 1.0, "sustained"), (0, 1.5, "backlog"), (7, 0.5, "drops")])
def test_sustained_verdict_needs_zero_drops_and_a_short_catch_up(monkeypatch, drops, drain_s, verdict):
    seen = []
    bench = _bench_with(monkeypatch, drops, drain_s, seen)
    row = bench._stream(scenarios.chisel_json("wl-test"), 300_000, 10.0,
                        catch_up_limit=scenarios.SUSTAINED_MAX_CATCH_UP_S)
    assert row == ("300.00k", "10", "1.50M", str(drops), f"{drain_s:.1f}", verdict)
    # 300 k events/s for 10 s at 4 events an iteration, paced at 75 k iterations/s
    assert seen == [["/bin/wl-test", "rw", "750000", "75000"]]


def test_ladder_verdict_ignores_the_catch_up(monkeypatch):
    bench = _bench_with(monkeypatch, 0, 2.5, [])
    row = bench._stream(scenarios.chisel_json("wl-test"), 400_000, 2.0)
    assert row[-1] == "ok" and row[4] == "2.5"


def test_sustained_table_reports_the_highest_sustained_rate(monkeypatch, capsys):
    bench = _bench_with(monkeypatch, 0, 0.5, [])
    bench._sustained_streaming(scenarios.chisel_json("wl-test"))
    out = capsys.readouterr().out
    assert sum(line.endswith(" sustained") for line in out.splitlines()) == len(scenarios.STREAM_SUSTAINED_RATES)
    assert "highest rate sustained for 10 s: 400.00k events/s (goal >= 300k)" in out
