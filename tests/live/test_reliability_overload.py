"""Overload at the command line: a stalled consumer never stalls the traced workload, every event is
either received or counted as dropped, and memory does not grow with the size of the flood.

The workload writes one byte to /dev/null N times (2N events) and records how long its loop took.
`chisel -p FORMAT -- WORKLOAD` traces it, and the test freezes chisel (SIGSTOP) while
the workload runs: the ring buffer fills and the kernel must drop, not wait. Needs root and BPF;
fails, never skips, without.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from test_cli_live import CHISEL, start_chisel

pytestmark = pytest.mark.live

WORKLOAD = ("import os, sys, time\n"
            "fd = os.open('/dev/null', os.O_WRONLY)\n"
            "start = time.perf_counter()\n"
            "for _ in range(int(sys.argv[1])):\n"
            "    os.write(fd, b'x')\n"
            "took = time.perf_counter() - start\n"
            "with open(sys.argv[2], 'w') as f:\n"
            "    f.write(repr(took))\n"
            "os._exit(0)\n")
DROPS = re.compile(r"^(\d+) events dropped$", re.M)


def traced_run(tmp_path, writes, freeze):
    """(events printed, write events printed, drops, workload loop seconds, chisel peak RSS kB)."""
    took = tmp_path / f"took_{writes}"
    # no filter: every event received is printed, so printed + dropped can be checked exactly
    argv = ["-p", "%evt.num %evt.type", "--",
            sys.executable, "-S", "-c", WORKLOAD, str(writes), str(took)]
    proc = start_chisel(*argv)
    if freeze:
        proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(took)  # the workload finishes while its tracer is frozen: it never waits for us
    finally:
        proc.send_signal(signal.SIGCONT)
    out_text, err_text = proc.communicate(timeout=180)  # reaped by wait4: its own peak RSS
    assert proc.returncode == 0, err_text
    lines = out_text.splitlines()
    drops = [int(n) for n in DROPS.findall(err_text)]
    assert err_text == "".join(f"{n} events dropped\n" for n in drops)  # nothing else on stderr
    return (len(lines), sum(ln.endswith(" write") for ln in lines), sum(drops),
            float(took.read_text()), proc.peak_rss_kb)


def wait_for(path, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"the traced workload stalled: no result in {timeout} s"
        time.sleep(0.05)


class _PeakRssPopen(subprocess.Popen):
    """Popen whose reaping keeps the child's own peak RSS (`wait4`), as `peak_rss_kb`."""

    peak_rss_kb = None

    # CPython's Popen reaps through _try_wait (3.11): overriding it is the one place that sees
    # this child's own rusage; RUSAGE_CHILDREN would mix in every earlier child.
    def _try_wait(self, wait_flags):
        pid, status, usage = os.wait4(self.pid, wait_flags)
        if pid:
            self.peak_rss_kb = usage.ru_maxrss
        return pid, status


@pytest.fixture(autouse=True)
def record_peak_rss(monkeypatch):
    import test_cli_live  # noqa: PLC0415

    monkeypatch.setattr(test_cli_live.subprocess, "Popen", _PeakRssPopen)


def test_a_frozen_consumer_drops_counts_and_never_stalls_the_workload(tmp_path):
    small = 20_000  # fits the ring: the reference run, nothing dropped
    printed_s, writes_s, drops_s, took_s, rss_s = traced_run(tmp_path, small, freeze=False)
    assert drops_s == 0 and writes_s >= 2 * small
    overhead = printed_s - 2 * small  # the workload's other events (start-up, open, exit)

    big = 300_000
    printed, writes, drops, took, rss = traced_run(tmp_path, big, freeze=True)
    assert drops > 0
    # every event is accounted for: received + dropped = generated
    assert printed + drops == 2 * big + overhead, (printed, drops, 2 * big + overhead)
    # the workload ran at the speed of a lightly traced one: the kernel dropped, never waited
    assert took / big < 3 * took_s / small, (took, took_s)

    bigger = 900_000
    printed3, _, drops3, took3, rss3 = traced_run(tmp_path, bigger, freeze=True)
    assert printed3 + drops3 == 2 * bigger + overhead
    assert took3 / bigger < 3 * took_s / small
    # a frozen consumer receives at most a ring's worth: memory does not follow the flood's size
    assert rss3 < 1.2 * rss, (rss, rss3)
    print(f"overload: {2 * big} and {2 * bigger} events; dropped {drops} and {drops3}; "
          f"peak RSS {rss} and {rss3} kB; per write {took_s / small * 1e6:.2f} us light, "
          f"{took / big * 1e6:.2f} and {took3 / bigger * 1e6:.2f} us frozen")
