"""Signals during a live `-w` run: SIGINT/SIGTERM end it cleanly, SIGKILL leaves a readable file,
and a closed pipe is quiet.

The workload writes numbered 1000-byte records to one file; `chisel -w FILE echo_fds fd.name=FILE`
traces it. After SIGINT or SIGTERM the run must print everything it saw (the same text a replay of
its own -w file gives), exit 0, unload every BPF program it loaded, and leave a file both chisel and
sysdig 0.29 read to its last event. Needs root and BPF; fails, never skips, without.
"""

import ctypes
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from test_cli_live import BANNER, CHISEL, start_chisel

pytestmark = pytest.mark.live

SYS_BPF = 321  # x86_64
BPF_PROG_GET_NEXT_ID = 11
RECORD = 1000  # bytes per workload write: > the 80-byte default, inside echo_fds' 2000
WORKLOAD = ("import os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
            "for i in range(int(sys.argv[2])):\n"
            f"    os.write(fd, b'%0{RECORD - 1}d\\n' % i)\n"
            "    time.sleep(float(sys.argv[3]))\n"
            "os.close(fd)\n")
RECORD_LINE = re.compile(r"^0*(\d+)\.$")  # echo_fds shows the record's newline as '.'



class _NextIdAttr(ctypes.Structure):
    _fields_ = [("start_id", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("open_flags", ctypes.c_uint32)]


def loaded_prog_ids():
    """Every BPF program id loaded in the kernel (what `bpftool prog` lists), without bpftool or bcc."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr, ids = _NextIdAttr(0, 0, 0), set()
    while libc.syscall(SYS_BPF, BPF_PROG_GET_NEXT_ID, ctypes.byref(attr), ctypes.sizeof(attr)) == 0:
        ids.add(attr.next_id)
        attr.start_id = attr.next_id
    return ids


def held_prog_ids(pid):
    """Ids of the BPF programs process `pid` holds an fd on (its /proc/PID/fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids.update(int(m) for m in re.findall(r"^prog_id:\s+(\d+)$", f.read(), re.M))
        except OSError:
            continue
    return ids


def wait_unloaded(ids, timeout=10):
    """The subset of `ids` still loaded after up to `timeout` s (the kernel frees them after RCU)."""
    deadline = time.monotonic() + timeout
    while True:
        left = ids & loaded_prog_ids()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def wait_for_records(path, count, timeout=60):
    """Wait until the workload wrote `count` records (no fixed sleep: the machine may be loaded)."""
    deadline = time.monotonic() + timeout
    while not (os.path.exists(path) and os.path.getsize(path) >= count * RECORD):
        assert time.monotonic() < deadline, f"the workload wrote under {count} records in {timeout} s"
        time.sleep(0.02)


def workload_argv(path, count, pause):
    return [sys.executable, "-S", "-c", WORKLOAD, str(path), str(count), str(pause)]


def run_text(argv):
    """Run a reader (chisel or sysdig); bytes that are not utf-8 come back escaped, not fatal."""
    return subprocess.run(argv, capture_output=True, timeout=120, text=True, errors="surrogateescape",
                          env={**os.environ, "TZ": "UTC"})


def record_numbers(echo_text):
    """The record numbers in echo_fds output, in order (each record is one data line)."""
    return [int(m.group(1)) for ln in echo_text.splitlines() if (m := RECORD_LINE.match(ln))]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_prints_the_report_detaches_and_leaves_a_complete_file(tmp_path, sig):
    data, capture = tmp_path / "data.txt", tmp_path / "run.scap"
    # the workload is chisel's traced command: no other process's events can crowd the ring on a
    # busy machine; ~20 s of writes, so the signal lands mid-stream (the command is killed after)
    proc = start_chisel("-w", str(capture), "echo_fds", f"fd.name={data}", "--", *workload_argv(data, 4000, 0.005))
    held = held_prog_ids(proc.pid)
    assert len(held) >= 10 and held <= loaded_prog_ids()  # the detach check below is not vacuous
    try:
        wait_for_records(data, 60)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, err) == (0, "")
    live = record_numbers(out)
    # the end report: every record seen up to the stop (the ring may hold a few more, never reported)
    assert len(live) >= 30 and live == list(range(len(live))), out[:500]
    assert wait_unloaded(held) == set()
    assert stat_mode(capture) == 0o600
    replay = run_text([CHISEL, "-r", str(capture), "echo_fds"])
    assert (replay.returncode, replay.stderr) == (0, "")
    # the file holds exactly the records the live run reported (the headers differ only in the
    # process name: the workload started after the /proc scan and -w keeps only filtered events)
    assert record_numbers(replay.stdout) == live
    theirs = run_text(["sysdig", "-r", str(capture), "-c", "echo_fds"])
    assert theirs.returncode == 0, theirs.stderr
    assert record_numbers(theirs.stdout) == live  # sysdig reads it to the same last event
    fmt = ["-p", "%evt.num %evt.dir %evt.type %fd.name"]
    ours = run_text([CHISEL, "-r", str(capture), *fmt]).stdout
    assert ours == run_text(["sysdig", "-r", str(capture), *fmt]).stdout
    # the open's exit (its enter has no fd name yet), an enter and an exit per record, and maybe
    # the enter of a write whose exit came after the stop
    assert len(ours.splitlines()) in (1 + 2 * len(live), 2 + 2 * len(live))


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


def test_sigkill_leaves_a_file_readable_to_the_last_flushed_block(tmp_path):
    data, capture = tmp_path / "data.txt", tmp_path / "killed.scap"
    # ~8 MB of events (several automatic 1 MiB flushes), then the command idles until chisel dies
    argv = workload_argv(data, 4000, 0)
    argv[3] += "ppid = os.getppid()\nwhile os.getppid() == ppid:\n    time.sleep(0.05)\n"
    proc = start_chisel("-w", str(capture), "echo_fds", f"fd.name={data}", "--", *argv,
                        stdout=subprocess.DEVNULL)
    try:
        wait_for_records(data, 4000)
        time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    ours = run_text([CHISEL, "-r", str(capture), "echo_fds"])
    # cut at a block boundary or inside one: a clean read, or the events up to the cut and one line
    assert ours.returncode in (0, 1), ours.stderr
    if ours.returncode == 1:
        lines = ours.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("chisel: error: "), lines
    else:
        assert ours.stderr == ""
    seen = record_numbers(ours.stdout)
    assert len(seen) >= 500 and seen == list(range(len(seen)))  # whole records, in order, no gap
    theirs = run_text(["sysdig", "-r", str(capture), "-c", "echo_fds"])
    assert theirs.returncode >= 0  # not killed by a signal: sysdig copes with the cut too
    assert record_numbers(theirs.stdout) == seen


BIG_CAPTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "scap",
                           "falco_psp_run_as_user_0_container.scap")  # 300 kB of text: > any pipe buffer


@pytest.mark.parametrize("argv", [["-r", BIG_CAPTURE], ["-r", BIG_CAPTURE, "-j"]], ids=["text", "json"])
def test_head_closes_the_pipe_and_the_run_ends_quietly(argv):
    """Through a real `| head -1` (test_cli_live.py covers a live run on a closed pipe)."""
    words = " ".join(f"'{w}'" for w in argv)
    result = subprocess.run(["bash", "-c", f"{CHISEL} {words} | head -1; echo \"status=${{PIPESTATUS[0]}}\" >&2"],
                            capture_output=True, text=True, timeout=60)
    assert len(result.stdout.splitlines()) == 1 and result.stdout.strip()
    assert result.stderr == "status=0\n"  # no BrokenPipe, no traceback, not killed by SIGPIPE (141)


def test_a_chisel_writing_to_a_closed_pipe_ends_quietly():
    """The reader is gone before the chisel's first line (what `| head` does, without the race)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    result = subprocess.run([CHISEL, "-r", BIG_CAPTURE, "echo_fds"], stdout=write_end,
                            stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
