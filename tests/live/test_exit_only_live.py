"""Exit-only probes against real processes: the same events as enter + exit probes, one hit per call.

Needs root and BPF, and fails (never skips) without.
"""

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from chisel.core.live.engine import LiveSource, exit_only_supported
from chisel.core.pushdown import PushDown

pytestmark = pytest.mark.live

I64 = struct.Struct("<q")

# File, pipe and fd-table calls with deterministic arguments and results, between two marker opens.
PROGRAM = """\
import os, sys
d = sys.argv[1]
os.close(os.open(d + '/begin', os.O_CREAT | os.O_WRONLY, 0o644))
fd = os.open(d + '/data', os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
os.write(fd, b'hello world')
os.pwrite(fd, b'XY', 3)
os.pread(fd, 4, 6)
os.writev(fd, [b'ab', b'cd'])
os.lseek(fd, 1, 0)
os.readv(fd, [bytearray(3), bytearray(2)])
copy = os.dup(fd)
os.dup2(fd, 40)
os.close(copy)
os.close(40)
r, w = os.pipe()
os.write(w, b'through the pipe')
os.read(r, 100)
os.close(r)
os.close(w)
os.rename(d + '/data', d + '/data2')
os.unlink(d + '/data2')
os.read(fd, 10)
os.close(fd)
os.close(os.open(d + '/end', os.O_CREAT | os.O_WRONLY, 0o644))
"""


def _events(tmp_path, **options):
    src = LiveSource(command=[sys.executable, "-S", "-c", PROGRAM, str(tmp_path)], **options)
    try:
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    assert src.child_exit_code == 0 and src.drops == 0
    return src, events


def _between_markers(events, tmp_path):
    """(name, dir, params) of every event from the 'begin' open's enter to the 'end' open's exit."""
    def opens(marker):
        return [i for i, ev in enumerate(events)
                if ev.name == "openat" and any(p == f"{tmp_path}/{marker}\0".encode() for p in ev.raw)]
    begin, end = opens("begin")[0], opens("end")[-1]
    return [(ev.name, ev.dir, tuple(ev.raw)) for ev in events[begin:end + 1]]


def test_this_kernel_runs_exit_only_probes():
    assert exit_only_supported()  # x86-64, BTF, Linux >= 5.15: CI must exercise the exit-only path


def test_exit_only_emits_exactly_what_enter_and_exit_probes_do(tmp_path):
    one_hit, fused = _events(tmp_path, exit_only=True)
    two_hits, plain = _events(tmp_path, exit_only=False)
    assert one_hit.plan.exit_only and not two_hits.plan.exit_only
    ours, theirs = _between_markers(fused, tmp_path), _between_markers(plain, tmp_path)
    assert ours == theirs
    names = {name for name, _, _ in ours}
    assert {"openat", "write", "pwrite", "pread", "writev", "readv", "dup", "close", "pipe", "read",
            "rename", "unlink"} <= names
    reads = [params for name, direction, params in ours if name == "read" and direction == "<"]
    assert [(I64.unpack(p[0])[0], p[1]) for p in reads] == [(16, b"through the pipe"), (9, b"worldabcd")]


def test_exit_only_enter_event_takes_the_exit_time(tmp_path):
    """The one visible difference: an exit-only enter event is stamped as its call returns."""
    prog = ("import os, time\n"
            "r, w = os.pipe()\n"
            "if os.fork() == 0:\n"
            "    time.sleep(0.3)\n"
            "    os.write(w, b'x')\n"
            "    os._exit(0)\n"
            "os.read(r, 1)\n"
            "os.wait()\n")

    def blocked_read(exit_only):
        src = LiveSource(command=[sys.executable, "-S", "-c", prog], event_types=frozenset({"read"}),
                         exit_only=exit_only)
        try:
            events = [ev for ev in src.events() if ev is not None]
        finally:
            src.close()
        enter, exit_ = [ev for ev in events if ev.name == "read" and ev.tid == src.child_pid][-2:]
        assert (enter.dir, exit_.dir) == (">", "<") and exit_.raw[1] == b"x"
        return exit_.ts - enter.ts

    assert blocked_read(False) > 250_000_000
    assert 0 <= blocked_read(True) < 10_000_000


def test_exit_only_fd_filter_passes_every_fd_for_a_name_the_kernel_cannot_compare(tmp_path):
    deep = tmp_path / ("d" * 200) / ("e" * 100)
    deep.parent.mkdir()
    deep.write_bytes(b"long")
    prog = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "os.read(fd, 10)\n"
            "os.read(os.open('/etc/hostname', os.O_RDONLY), 10)\n")
    src = LiveSource(event_types=frozenset({"read"}), exit_only=True,
                     pushdown=PushDown(fd_names=frozenset({str(deep)})),
                     command=[sys.executable, "-S", "-c", prog, str(deep)])
    try:
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    data = [ev.raw[1] for ev in events if ev.name == "read" and ev.dir == "<" and ev.tid == src.child_pid]
    with open("/etc/hostname", "rb") as f:
        hostname = f.read(10)
    assert b"long" in data and hostname in data  # 300 bytes: userspace filters, the kernel passes all


UNDECLARED = '''
from chisel.plugins import Chisel, hookimpl


class Undeclared(Chisel):
    """Reads evt.latency without listing it in its fields."""

    name = "undeclared_latency"
    events = ("read",)

    def setup(self, args, ctx):
        self.out = ctx.out
        self.latencies = []

    def on_event(self, ev):
        if ev.get("evt.dir") == "<":
            self.latencies.append(ev.get("evt.latency"))

    def on_end(self, summary):
        self.out.line(f"{len(self.latencies)} latencies")


@hookimpl
def chisel_register_chisels():
    return [Undeclared]
'''


def test_a_chisel_reading_an_undeclared_latency_is_warned_once(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "undeclared.py").write_text(UNDECLARED)
    chisel = str(Path(sys.executable).with_name("chisel"))
    command = [sys.executable, "-S", "-c", "import os; [os.read(os.open('/etc/hostname', 0), 4) for _ in range(3)]"]
    done = subprocess.run([chisel, "--plugin-dir", str(tmp_path / "plugins"), "undeclared_latency", "--", *command],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("chisel: warning:")]
    assert warnings == ["chisel: warning: a chisel reads evt.latency without listing it in its fields: this "
                        "run's enter events carry their exit's time, so evt.latency is about 0; list the "
                        "field, or run with --enter-probes"]
    again = subprocess.run([chisel, "--plugin-dir", str(tmp_path / "plugins"), "--enter-probes",
                            "undeclared_latency", "--", *command], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "warning" not in again.stderr
