"""fds made by fcntl(F_DUPFD / F_DUPFD_CLOEXEC) live: traced, named, and kept by the kernel's fd filter.

Python's os.dup and the shells' saved fds are made this way, not by dup(2). Needs root and BPF.
"""

import os
import struct
import subprocess
import sys

import pytest

from chisel.core.live.engine import LiveSource
from chisel.core.pushdown import PushDown

pytestmark = pytest.mark.live

CHISEL = os.path.join(os.path.dirname(sys.executable), "chisel")
I64 = struct.Struct("<q")
PROGRAM = ("import fcntl, os, sys\n"
           "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
           "cloexec = os.dup(fd)\n"                       # fcntl(fd, F_DUPFD_CLOEXEC, 0)
           "high = fcntl.fcntl(fd, fcntl.F_DUPFD, 50)\n"
           "fcntl.fcntl(fd, fcntl.F_GETFL)\n"
           "os.close(fd)\n"
           "os.read(cloexec, 5)\n"
           "os.pread(high, 4, 5)\n")


@pytest.mark.parametrize("exit_only", [True, False])
def test_fcntl_dup_events_and_the_kernel_fd_filter(tmp_path, exit_only):
    path = tmp_path / "dup.txt"
    path.write_bytes(b"hello world")
    src = LiveSource(event_types=frozenset({"fcntl", "read", "pread"}), exit_only=exit_only,
                     pushdown=PushDown(fd_names=frozenset({str(path)})),
                     command=[sys.executable, "-S", "-c", PROGRAM, str(path)])
    try:
        events = [ev for ev in src.events() if ev is not None and ev.tid == src.child_pid]
    finally:
        src.close()
    fcntls = [(ev.dir, ev.raw[1][0] if ev.dir == ">" else I64.unpack(ev.raw[0])[0])
              for ev in events if ev.name == "fcntl"][-6:]
    # sysdig's command numbers: 26 F_DUPFD_CLOEXEC, 1 F_DUPFD, 4 F_GETFL
    assert [cmd for direction, cmd in fcntls if direction == ">"] == [26, 1, 4]
    cloexec, high, flags = [res for direction, res in fcntls if direction == "<"]
    assert cloexec >= 3 and high == 50 and flags & os.O_ACCMODE == os.O_RDONLY
    data = [ev.raw[1] for ev in events if ev.name in ("read", "pread") and ev.dir == "<"]
    assert data[-2:] == [b"hello", b" wor"]  # the dup'd fds passed the kernel's fd-name filter


def test_echo_fds_names_fds_made_by_fcntl(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_bytes(b"hello world")
    done = subprocess.run([CHISEL, "echo_fds", f"fd.name={path}", "--", sys.executable, "-S", "-c", PROGRAM,
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    headers = [line for line in lines if line.startswith("------")]
    assert [h.split()[1:3] for h in headers] == [["Read", "5B"], ["Read", "4B"]]
    assert all(h.split()[-2] == str(path) for h in headers)
    assert "hello" in lines and " wor" in lines
