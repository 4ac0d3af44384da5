"""Live capture engine against real processes: needs root and BPF, and fails (never skips) without."""

import contextlib
import os
import struct
import subprocess
import sys
import threading
import time

import pytest

from chisel.core.live.engine import LiveSource
from chisel.core.pushdown import PushDown

pytestmark = pytest.mark.live

I64 = struct.Struct("<q")


def _res(ev):
    return I64.unpack(ev.raw[0])[0]


def _run(**kw):
    src = LiveSource(**kw)
    try:
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    return src, events


def _wait_exited(pid, timeout=60):
    """Wait until `pid` is a zombie (exited, not yet reaped by its Popen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        time.sleep(0.01)
    raise AssertionError(f"workload {pid} did not finish")


@contextlib.contextmanager
def stdout_to_devnull():
    """GNU cat copies with copy_file_range when stdout is a regular file (pytest's capture file).

    A context manager, not a fixture: pytest re-points fd 1 at its capture file after setup.
    """
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def test_gated_cat_reads_etc_passwd():
    with open("/etc/passwd", "rb") as f:
        head = f.read(80)
    with stdout_to_devnull():
        src, events = _run(event_types=frozenset({"open", "openat", "read"}), snaplen=80,
                           pushdown=PushDown(fd_names=frozenset({"/etc/passwd"})),
                           command=["cat", "/etc/passwd"])
    assert src.child_exit_code == 0
    assert src.drops == 0
    assert {ev.tid for ev in events} == {src.child_pid}
    execs = [ev for ev in events if ev.name == "execve" and ev.dir == "<"]
    assert len(execs) == 1
    assert execs[0].raw[1] == b"cat\0"                     # exe
    assert execs[0].raw[2] == b"/etc/passwd\0"             # args
    assert execs[0].raw[13] == b"cat\0"                    # comm
    reads = [ev for ev in events if ev.name == "read" and ev.dir == "<"]
    # only reads on the /etc/passwd fd leave the kernel: the data read, then end of file
    assert [_res(ev) for ev in reads] == [os.path.getsize("/etc/passwd"), 0]
    assert reads[0].raw[1] == head
    opens = [ev for ev in events if ev.name == "openat" and ev.dir == "<" and ev.raw[2] == b"/etc/passwd\0"]
    assert len(opens) == 1 and _res(opens[0]) >= 0
    assert [ev.num for ev in events] == list(range(1, len(events) + 1))


def test_exact_read_count_of_a_deterministic_program(tmp_path):
    data = bytes(range(256)) * 100  # 25600 bytes
    path = tmp_path / "known.bin"
    path.write_bytes(data)
    prog = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "for _ in range(23):\n"
            "    os.read(fd, 1000)\n"
            "os._exit(7)\n")
    src, events = _run(event_types=frozenset({"read"}), snaplen=2000,
                       pushdown=PushDown(fd_names=frozenset({str(path)})),
                       command=[sys.executable, "-S", "-c", prog, str(path)])
    assert src.child_exit_code == 7
    assert src.drops == 0
    enters = [ev for ev in events if ev.name == "read" and ev.dir == ">"]
    exits = [ev for ev in events if ev.name == "read" and ev.dir == "<"]
    assert len(enters) == 23 and len(exits) == 23
    assert [_res(ev) for ev in exits] == [1000] * 23
    assert [ev.raw[1] for ev in exits] == [data[i * 1000:(i + 1) * 1000] for i in range(23)]
    assert all(struct.unpack("<I", ev.raw[1])[0] == 1000 for ev in enters)
    # real latency: every exit follows its enter
    assert all(x.ts > e.ts for e, x in zip(enters, exits))
    procexit = [ev for ev in events if ev.name == "procexit"]
    assert len(procexit) == 1 and _res(procexit[0]) == 7 << 8


def test_overload_received_plus_drops_equals_generated():
    writes = 600_000  # 1.2 M events: far more than the 16 MiB ring holds while nobody drains it
    prog = ("import os\n"
            "fd = os.open('/dev/null', os.O_WRONLY)\n"
            f"for _ in range({writes}):\n"
            "    os.write(fd, b'x')\n"
            "os._exit(0)\n")
    src = LiveSource(event_types=frozenset({"write"}), pushdown=PushDown(fd_names=frozenset({"/dev/null"})),
                     command=[sys.executable, "-S", "-c", prog])
    try:
        _wait_exited(src.child_pid)  # the consumer sleeps while the workload runs
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    writes_seen = sum(1 for ev in events if ev.name == "write")
    procexits = sum(1 for ev in events if ev.name == "procexit")
    assert src.drops > 0
    # nothing is lost silently: after the loop only the procexit can still be dropped
    assert writes_seen + procexits + src.drops == 2 * writes + 1
    # and the cause is known: a full ring, nothing else
    causes = src.drop_causes
    assert set(causes) == {"ring", "scratch", "totals", "recursion", "corrupt"}
    assert causes["ring"] == src.drops and sum(causes.values()) == src.drops


def test_pid_traces_one_running_process_until_stop(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"z" * 5000)
    prog = ("import os, sys\n"
            "sys.stdin.buffer.read(1)\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "for _ in range(5):\n"
            "    os.read(fd, 1000)\n")
    proc = subprocess.Popen([sys.executable, "-S", "-c", prog, str(path)], stdin=subprocess.PIPE)
    other = subprocess.Popen([sys.executable, "-S", "-c", prog, str(path)], stdin=subprocess.PIPE)
    src = LiveSource(event_types=frozenset({"read"}), pid=proc.pid,
                     pushdown=PushDown(fd_names=frozenset({str(path)})))
    try:
        for p in (proc, other):
            p.stdin.write(b"g")
            p.stdin.close()

        def stop_when_done():
            proc.wait()
            other.wait()
            src.stop()

        threading.Thread(target=stop_when_done).start()
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    reads = [ev for ev in events if ev.name == "read" and ev.dir == "<"]
    assert {ev.tid for ev in events} == {proc.pid}
    assert [_res(ev) for ev in reads] == [1000] * 5
    assert src.child_exit_code is None


def test_idle_source_yields_none_then_stops():
    sleeper = subprocess.Popen(["sleep", "30"])
    src = LiveSource(event_types=frozenset({"read"}), pid=sleeper.pid)
    try:
        seen = []
        for ev in src.events():
            seen.append(ev)
            if len(seen) == 3:
                src.stop()
    finally:
        src.close()
        sleeper.kill()
        sleeper.wait()
    assert seen == [None, None, None]


@pytest.mark.parametrize("exit_only", [False, True], ids=["enter-and-exit", "exit-only"])
def test_fd_opened_before_the_start_is_seeded_from_proc(tmp_path, exit_only):
    """The /proc scan's watched fds reach the kernel's pair map and its fd-number hint; reads of
    /dev/null, open as well, never leave the kernel."""
    path = tmp_path / "early.bin"
    path.write_bytes(b"e" * 3000)
    prog = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "null = os.open('/dev/null', os.O_RDONLY)\n"
            "print('ready', flush=True)\n"
            "sys.stdin.buffer.read(1)\n"
            "for _ in range(3):\n"
            "    os.read(fd, 1000)\n"
            "    os.read(null, 1000)\n")
    proc = subprocess.Popen([sys.executable, "-S", "-c", prog, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"  # the file is open before the capture starts
    src = LiveSource(event_types=frozenset({"read"}), pid=proc.pid, exit_only=exit_only,
                     pushdown=PushDown(fd_names=frozenset({str(path)})))
    try:
        proc.stdin.write(b"g")
        proc.stdin.close()
        threading.Thread(target=lambda: (proc.wait(), src.stop())).start()
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    assert [(ev.dir, ev.raw[1] if ev.dir == "<" else None) for ev in events if ev.name == "read"] == [
        (">", None), ("<", b"e" * 80)] * 3


def test_command_that_cannot_run_ends_with_127():
    src, events = _run(event_types=frozenset({"read"}), command=["/nonexistent/chisel-test-cmd"])
    assert src.child_exit_code == 127
    assert [ev.name for ev in events if ev.dir == "<" and ev.name == "execve"] == ["execve"]
    failed = next(ev for ev in events if ev.dir == "<" and ev.name == "execve")
    assert _res(failed) == -2  # ENOENT


def test_relative_and_uncanonical_opens_of_a_watched_file_are_kept(tmp_path):
    path = tmp_path / "rel.bin"
    path.write_bytes(b"r" * 100)
    (tmp_path / "sub").mkdir()
    prog = ("import os, sys\n"
            "os.chdir(sys.argv[1])\n"
            "for name in ('rel.bin', sys.argv[1] + '/sub/../rel.bin', sys.argv[1] + '//rel.bin'):\n"
            "    fd = os.open(name, os.O_RDONLY)\n"
            "    os.read(fd, 10)\n"
            "    os.close(fd)\n"
            "fd = os.open('/etc/hostname', os.O_RDONLY)\n"
            "os.read(fd, 10)\n")
    src, events = _run(event_types=frozenset({"read"}), pushdown=PushDown(fd_names=frozenset({str(path)})),
                       command=[sys.executable, "-S", "-c", prog, str(tmp_path)])
    reads = [ev for ev in events if ev.name == "read" and ev.dir == "<"]
    assert [ev.raw[1] for ev in reads] == [b"r" * 10] * 3  # /etc/hostname never leaves the kernel


@pytest.mark.parametrize("pushdown, kept", [
    (PushDown(uids=frozenset({65534})), False),      # the command runs as root: nothing leaves the kernel
    (PushDown(comms=frozenset({"nosuchcomm"})), False),
    (PushDown(comms=frozenset({"cat"})), True),
    (PushDown(uids=frozenset({0}), comms=frozenset({"cat"})), True),
])
def test_uid_and_comm_pushdown_filter_in_the_kernel(pushdown, kept):
    with stdout_to_devnull():
        src, events = _run(event_types=frozenset({"read"}), pushdown=pushdown,
                           command=["cat", "/etc/hostname"])
    assert src.child_exit_code == 0
    reads = [ev for ev in events if ev.name == "read" and ev.dir == "<"]
    if kept:
        assert {ev.tid for ev in events} == {src.child_pid}
        with open("/etc/hostname", "rb") as f:
            assert any(ev.raw[1] == f.read() for ev in reads)
    else:
        assert events == []
