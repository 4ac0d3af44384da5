"""Completeness: per-syscall counts of a program exercising every seed syscall equal strace's."""

import collections
import shutil
import subprocess
from pathlib import Path

import pytest

from chisel.core.live.engine import LiveSource
from chisel.core.live.specs import SPECS

pytestmark = pytest.mark.live

PROGRAM = Path(__file__).with_name("programs") / "seed_syscalls.c"


@pytest.fixture(scope="module")
def seed_program(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed") / "seed_syscalls"
    subprocess.run(["gcc", "-O1", "-o", str(out), str(PROGRAM)], check=True)
    return out


def _strace_counts(program, workdir, tmp_path):
    report = tmp_path / "strace.txt"
    subprocess.run([shutil.which("strace"), "-f", "-c", "-o", str(report), str(program), str(workdir)],
                   check=True)
    counts = {}
    for line in report.read_text().splitlines():
        cols = line.split()
        if len(cols) >= 5 and cols[-1] in SPECS and cols[3].isdigit():
            counts[cols[-1]] = int(cols[3])
    return counts


def _by_enter_id(counts):
    out = collections.Counter()
    for name, n in counts.items():
        out[SPECS[name].enter_id] += n
    return out


@pytest.mark.parametrize("exit_only", [False, True], ids=["enter-and-exit", "exit-only"])
def test_enter_counts_match_strace(seed_program, tmp_path, exit_only):
    (tmp_path / "s").mkdir()
    (tmp_path / "l").mkdir()
    expected = _strace_counts(seed_program, tmp_path / "s", tmp_path)
    assert set(expected) == set(SPECS) - {"send", "recv"}  # the program reaches every seed syscall
    src = LiveSource(event_types=None, exit_only=exit_only, command=[str(seed_program), str(tmp_path / "l")])
    assert bool(src.plan.exit_only) == exit_only
    try:
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    assert src.child_exit_code == 0
    assert src.drops == 0
    # The gate's trampoline closes its pipe, then execs the program: count from that execve on.
    start = next(i for i, ev in enumerate(events) if ev.type == SPECS["execve"].enter_id)
    got = collections.Counter(ev.type for ev in events[start:] if ev.dir == ">" and ev.type != 186)
    assert dict(got) == dict(_by_enter_id(expected))
    exits = [ev for ev in events if ev.name == "procexit"]
    assert len(exits) == 5  # the program and its fork, vfork, clone and clone3 children
