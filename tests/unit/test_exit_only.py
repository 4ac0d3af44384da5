"""Exit-only probes: which syscalls get them, the source they become, and when a session asks for them."""

import re
from types import SimpleNamespace

import pytest

from chisel.chisels.echo_fds import EchoFds
from chisel.chisels.topfiles import TopFiles
from chisel.core.config import RunConfig
from chisel.core.filter import compile_filter, fields_of
from chisel.core.live import engine, probes
from chisel.core.live.engine import plan_for
from chisel.core.live.specs import EXIT_ONLY_SYSCALLS, SEED_SYSCALLS, SPECS, STATE_SYSCALLS
from chisel.core.pushdown import PushDown
from chisel.core.session import Session
from chisel.plugins import Chisel

FAKE_FORMATS = tuple((name, tuple(f"arg{i}" for i in range(6))) for name in sorted(SEED_SYSCALLS))


@pytest.fixture
def supported(monkeypatch):
    monkeypatch.setattr(engine, "exit_only_supported", lambda: True)


def _plan(exit_only=True, pushdown=None, **kw):
    return plan_for(event_types=None, pushdown=pushdown, formats=FAKE_FORMATS, exit_only=exit_only, **kw)


def _program(source, name):
    """The text of the TRACEPOINT_PROBE for tracepoint `name` (None when the source has none)."""
    match = re.search(rf"TRACEPOINT_PROBE\(syscalls, {name}\)\n\{{\n(.*?)\n\}}\n", source, re.S)
    return match.group(1) if match else None


def test_lifecycle_and_waiting_syscalls_keep_their_enter_tracepoint():
    two_hits = {"execve", "execveat", "clone", "clone3", "fork", "vfork", "poll", "ppoll", "select",
                "pselect6", "epoll_wait"}
    assert EXIT_ONLY_SYSCALLS & two_hits == set()
    assert {"read", "write", "openat", "close", "dup2", "connect", "sendmsg", "recvmsg"} <= EXIT_ONLY_SYSCALLS
    assert EXIT_ONLY_SYSCALLS <= SEED_SYSCALLS


def test_plan_lists_the_exit_only_syscalls_it_traces(supported):
    plan = _plan()
    assert plan.exit_only == plan.syscalls & EXIT_ONLY_SYSCALLS
    assert "execve" in plan.syscalls - plan.exit_only
    assert _plan(exit_only=False).exit_only == frozenset()
    # the formats of exit-only syscalls are not needed, so they do not change the source either
    assert {name for name, _ in plan.formats}.isdisjoint(plan.exit_only)


def test_plan_falls_back_to_enter_and_exit_where_the_kernel_cannot(monkeypatch):
    monkeypatch.setattr(engine, "exit_only_supported", lambda: False)
    assert _plan().exit_only == frozenset()


def test_exit_only_source_attaches_no_enter_tracepoint_for_those_syscalls(supported):
    source = probes.generate_source(_plan())
    assert "#define EXIT_ONLY 1" in source
    for name in _plan().exit_only:
        assert _program(source, f"sys_enter_{name}") is None
        assert _program(source, f"sys_exit_{name}") is not None
    assert _program(source, "sys_enter_execve") is not None
    two_hit = probes.generate_source(_plan(exit_only=False))
    assert "#define EXIT_ONLY" not in two_hit
    assert _program(two_hit, "sys_enter_read") is not None


def test_exit_only_program_builds_the_enter_record_then_the_exit_record(supported):
    body = _program(probes.generate_source(_plan()), "sys_exit_read")
    spec = SPECS["read"]
    enter, exit_ = body.index(f"begin(b, {spec.enter_id}, 2)"), body.index(f"begin(b, {spec.exit_id}, 2)")
    assert body.index("syscall_args(&s, regs)") < enter < exit_
    assert "saved." not in body  # nothing waits for an exit in a map


def test_fd_number_is_checked_before_any_helper_call(supported):
    """With an fd filter, the reject path of an exit-only read is: read the fd register, one lookup."""
    body = _program(probes.generate_source(_plan(pushdown=PushDown(fd_names=frozenset({"/etc/passwd"})))),
                    "sys_exit_read")
    order = [body.index(text) for text in ("s.a[0] = SYSCALL_ARG_0(regs)", "fd_number_maybe(s.a[0])",
                                           "bpf_get_current_pid_tgid()", "task_wanted(id)",
                                           "fd_pair_wanted(id >> 32, s.a[0])", "syscall_args(&s, regs)")]
    assert order == sorted(order)


def test_aggregating_exit_only_read_adds_up_and_emits_nothing(supported):
    body = _program(probes.generate_source(_plan(aggregate_io=True)), "sys_exit_read")
    assert "io_add(id >> 32, s.a[0], ret, 0);" in body
    assert "begin(" not in body
    close = _program(probes.generate_source(_plan(aggregate_io=True)), "sys_exit_close")
    assert "put_io_totals(b, off, 1, id >> 32, s.a[0], 1)" in close  # the enter record still carries them


def test_two_hit_exit_skips_the_saved_lookup_when_nothing_is_pending(supported):
    source = probes.generate_source(_plan(exit_only=False))
    assert "pending_maybe(tid) ? saved.lookup(&tid) : 0" in _program(source, "sys_exit_read")
    enter = _program(source, "sys_enter_read")
    assert enter.index("pending_add(tid, 1)") < enter.index("saved.update(&tid, &s)")


def test_fields_of_lists_every_checked_field():
    ast = compile_filter("evt.type=read and not (fd.name contains /etc or evt.latency > 10)").ast
    assert fields_of(ast) == ["evt.type", "fd.name", "evt.latency"]


# -- when a session asks for exit-only probes ----------------------------------------------------


class LatencyChisel(Chisel):
    """A chisel whose declared fields include evt.latency."""

    name = "latency_test"
    fields = ("evt.latency",)


def _session(chisel_cls=EchoFds, filter_text=None, **config):
    entries = [SimpleNamespace(name=chisel_cls.name, cls=chisel_cls)] if chisel_cls else []
    session = Session(RunConfig(**config), plugins=None, chisels=entries)
    session._args = {e.name: e.cls.default_args() for e in entries}
    session.filter = compile_filter(filter_text) if filter_text else None
    return session


def test_chisels_get_exit_only_probes():
    assert _session()._exit_only_exact()
    assert _session(TopFiles)._exit_only_exact()
    assert _session(filter_text="fd.name=/etc/passwd and proc.name=cat")._exit_only_exact()


def test_enter_times_keep_both_tracepoints():
    assert not _session(enter_probes=True)._exit_only_exact()
    assert not _session(write_path="/tmp/x.scap")._exit_only_exact()
    assert not _session(None)._exit_only_exact()  # printing every event shows every enter's time
    assert not _session(LatencyChisel)._exit_only_exact()
    assert not _session(filter_text="evt.latency > 1000")._exit_only_exact()
    assert not _session(filter_text="proc.name=cat or evt.deltatime.ns > 5")._exit_only_exact()
    with_prefilter = _session()
    with_prefilter._prefilters = {"echo_fds": compile_filter("evt.latency.s > 1")}
    assert not with_prefilter._exit_only_exact()


def test_live_options_carry_the_choice():
    assert _session()._live_options()["exit_only"] is True
    assert "exit_only" not in _session(enter_probes=True)._live_options()
