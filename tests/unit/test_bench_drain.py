"""Bench harness: waiting for a tracer to catch up, and the workload under a private name."""

import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
sys.path.insert(0, os.path.abspath(BENCH))

import harness  # noqa: E402  (bench/ is a folder of scripts, not a package)

BUSY_FOR_A_SECOND = "import time\nend = time.monotonic() + 1.0\nwhile time.monotonic() < end: pass\n" \
                    "time.sleep(30)\n"


def test_wait_until_idle_returns_once_the_process_stops_using_cpu():
    proc = subprocess.Popen([sys.executable, "-c", BUSY_FOR_A_SECOND])
    try:
        waited = harness.wait_until_idle(proc.pid, timeout=20)
    finally:
        proc.kill()
        proc.wait()
    # busy for about a second, then one quiet window of IDLE_WINDOW_S (start-up can add a little)
    assert 0.5 <= waited < 10


def test_wait_until_idle_of_a_finished_process_returns_at_once():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert harness.wait_until_idle(proc.pid, timeout=20) < 0.1
    assert harness._cpu_ticks(proc.pid) is None


def test_private_workload_is_a_link_named_for_this_process(tmp_path):
    binary = tmp_path / "workload"
    binary.write_bytes(b"#!/bin/sh\n")
    link = harness.private_workload(str(binary))
    assert os.path.basename(link) == f"wl{os.getpid()}"
    assert len(os.path.basename(link)) <= 15  # proc.name is the kernel's 15-character comm
    assert os.path.samefile(link, binary)
    assert harness.private_workload(str(binary)) == link  # a second call reuses it
