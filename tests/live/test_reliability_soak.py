"""The soak in CI: 30 seconds of bench/soak.py (the 10-minute run is `make soak`), same assertions.

A live chisel traces a workload that creates and reaps 40 processes a second, each with files,
pipes, sockets and a thread; its RSS must not grow after warm-up and its state must hold only the
processes and fds still alive. Needs root and BPF; fails, never skips, without.
"""

import importlib.util
import os

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", os.path.join(REPO, "bench", "soak.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_thirty_second_soak_keeps_memory_flat_and_state_exact():
    fig = load_soak().soak(30, rate=40, warmup_s=10, sample_s=2, every_s=2)
    print({k: v for k, v in fig.items() if k != "rss_kb"})
    assert fig["rounds"] >= 30 * 40 * 0.8  # the workload kept its rate under the tracer
    # a shared 2-core CI box may starve the consumer for a moment: a rare drop is reported, not hidden
    assert fig["drops"] <= fig["events"] // 1000
    assert fig["rss_growth_pct"] < 10, fig["rss_kb"]
    assert fig["leaked_threads"] == []
    assert fig["workload_fds_state"] == fig["workload_fds_proc"] == [0, 1, 2]
    dropped_line = f"{fig['drops']} events dropped\n" if fig["drops"] else ""
    assert (fig["chisel_exit"], fig["chisel_stderr"]) == (0, dropped_line)
    assert fig["ok"], fig["problems"]
    # the state's size per interval saws up and down with the purge but does not trend upward:
    # the last third never exceeds the first third's peak by more than a handful
    threads = [t for t, _fds in fig["state_sizes"]]
    third = len(threads) // 3
    assert third >= 3 and max(threads[-third:]) <= max(threads[:third]) + 10, threads
