"""One compiled object per plan shape: it holds, unchanged, the programs of every plan of that shape."""

import re

import pytest

from chisel.core.live import engine, probes
from chisel.core.live.engine import object_plan, plan_for
from chisel.core.live.specs import SEED_SYSCALLS, STATE_SYSCALLS
from chisel.core.pushdown import PushDown

FAKE_FORMATS = tuple((name, tuple(f"arg{i}" for i in range(6))) for name in sorted(SEED_SYSCALLS | STATE_SYSCALLS))
PROGRAM = re.compile(r"^TRACEPOINT_PROBE\((\w+), (\w+)\)\n\{\n.*?\n\}\n", re.M | re.S)


@pytest.fixture(autouse=True)
def supported(monkeypatch):
    monkeypatch.setattr(engine, "exit_only_supported", lambda: True)


def _programs(source):
    return {f"{m.group(1)}:{m.group(2)}": m.group(0) for m in PROGRAM.finditer(source)}


SHAPES = [
    dict(event_types=frozenset({"read"})),
    dict(event_types=frozenset({"connect", "accept"}), exit_only=True),
    dict(event_types=None, exit_only=True, aggregate_io=True),
    dict(event_types=frozenset({"write"}), pushdown=PushDown(fd_names=frozenset({"/etc/passwd"})), exit_only=True),
    dict(event_types=frozenset({"execve"}), pid=1, snaplen=4000),
]


@pytest.mark.parametrize("options", SHAPES)
def test_the_shared_object_holds_each_program_of_the_plan_unchanged(options):
    plan = plan_for(formats=FAKE_FORMATS, **options)
    shared = object_plan(plan, formats=FAKE_FORMATS)
    assert shared.syscalls == SEED_SYSCALLS | STATE_SYSCALLS
    assert (shared.axes, shared.snap_bucket, shared.aggregate_io) == (plan.axes, plan.snap_bucket, plan.aggregate_io)
    assert plan.exit_only <= shared.exit_only and plan.syscalls <= shared.syscalls
    ours, theirs = _programs(probes.generate_source(plan)), _programs(probes.generate_source(shared))
    assert set(ours) == probes.attach_points(probes.generate_source(plan))
    assert set(ours) <= set(theirs)
    for point, text in ours.items():
        assert theirs[point] == text, point


def test_plans_of_one_shape_share_one_object_and_other_shapes_do_not():
    def source(**options):
        return probes.generate_source(object_plan(plan_for(formats=FAKE_FORMATS, **options), formats=FAKE_FORMATS))

    assert source(event_types=frozenset({"read"})) == source(event_types=frozenset({"connect"})) == source()
    assert source(event_types=frozenset({"read"}), exit_only=True) == source(exit_only=True)
    assert source() != source(exit_only=True)
    assert source() != source(pushdown=PushDown(comms=frozenset({"cat"})))
    assert source() != source(snaplen=4000)


def test_a_syscall_this_kernel_lacks_is_left_out_of_the_shared_object():
    formats = tuple(f for f in FAKE_FORMATS if f[0] != "openat2")
    shared = object_plan(plan_for(formats=formats, event_types=frozenset({"read"})), formats=formats)
    assert "openat2" not in shared.syscalls and "read" in shared.syscalls
