"""Long runs reuse PIDs: a process that takes the PID of an exited member of the traced tree must not
become traced. The soak found this (bench/soak.py, 10 minutes at 80 PIDs/s wraps pid_max 32768):
after the wrap, unrelated processes flooded a `--pid` run with events and drops.

The test forces the reuse in a second instead of waiting for a wrap: it writes the dead child's PID
minus one to /proc/sys/kernel/ns_last_pid (root) and starts an unrelated process, which the kernel
then gives that PID. Needs root and BPF; fails, never skips, without.
"""

import os
import subprocess
import sys
import time

import pytest

from chisel.core.live.engine import LiveSource

pytestmark = pytest.mark.live

TRACED = ("import os, sys, time\n"
          "pid = os.fork()\n"
          "if pid == 0:\n"
          "    os._exit(0)\n"
          "os.waitpid(pid, 0)\n"
          "with open(sys.argv[1] + '/child', 'w') as f:\n"
          "    f.write(str(pid))\n"
          "while not os.path.exists(sys.argv[1] + '/go'):\n"
          "    time.sleep(0.01)\n")
UNRELATED = "pass"  # python start-up alone makes plenty of syscalls


def start_with_pid(pid, attempts=50):
    """An unrelated process that got exactly `pid`, or None if other forks kept winning the race."""
    for _ in range(attempts):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        proc = subprocess.Popen([sys.executable, "-S", "-c", UNRELATED])
        if proc.pid == pid:
            return proc
        proc.wait()
    return None


def wait_file(path, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) or not open(path).read():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_a_process_reusing_a_dead_members_pid_is_not_traced(tmp_path):
    src = LiveSource(command=[sys.executable, "-S", "-c", TRACED, str(tmp_path)])
    try:
        wait_file(tmp_path / "child")
        dead = int((tmp_path / "child").read_text())
        unrelated = start_with_pid(dead)
        assert unrelated is not None, f"could not get PID {dead} back (a busy machine); rerun"
        unrelated.wait()
        (tmp_path / "go").touch()
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    mine = [ev for ev in events if ev.tid == dead]
    exits = [i for i, ev in enumerate(mine) if ev.name == "procexit"]
    assert exits, "the traced child's own exit was not seen"
    after = mine[exits[0] + 1:]
    assert after == [], f"{len(after)} events of the unrelated process {dead}, e.g. {after[:3]}"
