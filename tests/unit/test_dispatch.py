"""The dispatcher: subscriptions, prefilters, event-time ticks and chisel isolation."""

from types import SimpleNamespace

import pytest

from chisel.core.dispatch import Dispatcher

IDS = {"read": (6, 7), "write": (8, 9), "open": (2, 3)}


def ev(etype, ts=0, **fields):
    return SimpleNamespace(type=etype, ts=ts, **fields)


class Recorder:
    """A chisel double that records every call."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.fail_on = fail_on

    def setup(self, args, ctx):
        self.calls.append(("setup",))

    def on_event(self, e):
        if self.fail_on is not None and e.type == self.fail_on:
            raise RuntimeError(f"boom on {e.type}")
        self.calls.append(("event", e.type, e.ts))

    def on_interval(self, now, delta):
        self.calls.append(("tick", now, delta))

    def on_end(self, summary):
        self.calls.append(("end", summary))


class PortFilter:
    def match(self, e):
        return getattr(e, "port", None) == 80


@pytest.fixture
def failures():
    return []


@pytest.fixture
def dispatcher(failures):
    return Dispatcher(lambda name: IDS.get(name, ()), lambda name, exc: failures.append((name, str(exc))))


def test_each_event_reaches_only_subscribed_chisels(dispatcher):
    reads, everything = Recorder(), Recorder()
    dispatcher.add(reads, "reads", frozenset({"read"}))
    dispatcher.add(everything, "all", None)
    for e in (ev(6, 1), ev(8, 2), ev(7, 3), ev(3, 4)):
        dispatcher.dispatch(e)
    assert reads.calls == [("event", 6, 1), ("event", 7, 3)]
    assert everything.calls == [("event", 6, 1), ("event", 8, 2), ("event", 7, 3), ("event", 3, 4)]


def test_global_filter_and_prefilter_both_apply(dispatcher):
    chisel = Recorder()
    dispatcher.add(chisel, "web", frozenset({"read", "write"}), PortFilter())
    dispatcher.dispatch(ev(7, 1, port=80))
    dispatcher.dispatch(ev(7, 2, port=22))
    dispatcher.dispatch(ev(9, 3, port=80), passed_filter=False)
    assert chisel.calls == [("event", 7, 1)]


def test_subscribed_types_is_the_union(dispatcher):
    dispatcher.add(Recorder(), "a", frozenset({"read"}))
    dispatcher.add(Recorder(), "b", frozenset({"open"}))
    assert dispatcher.subscribed_types == frozenset({2, 3, 6, 7})
    dispatcher.add(Recorder(), "c", None)
    assert dispatcher.subscribed_types is None


def test_ticks_follow_event_time_aligned_to_the_interval(dispatcher):
    chisel = Recorder()
    handler = dispatcher.add(chisel, "t", frozenset({"read"}))
    dispatcher.set_interval(handler, 1000)
    # first event seeds slot 1000; 1999 stays in it; 2500 opens slot 2000; 5100 skips to slot 5000 once
    for ts in (1200, 1999, 2500, 2600, 5100):
        dispatcher.dispatch(ev(6, ts))
    ticks = [c for c in chisel.calls if c[0] == "tick"]
    assert ticks == [("tick", 2500, 1500), ("tick", 5100, 3100)]
    # the tick comes before the event that triggered it
    assert chisel.calls.index(("tick", 2500, 1500)) == chisel.calls.index(("event", 6, 2500)) - 1


def test_ticks_also_fire_on_events_the_global_filter_dropped(dispatcher):
    chisel = Recorder()
    handler = dispatcher.add(chisel, "t", frozenset({"read"}))
    dispatcher.set_interval(handler, 1000)
    dispatcher.dispatch(ev(8, 100), passed_filter=False)
    dispatcher.dispatch(ev(8, 1100), passed_filter=False)
    assert chisel.calls == [("tick", 1100, 1100)]


def test_idle_advance_ticks_on_the_clock(dispatcher):
    chisel = Recorder()
    handler = dispatcher.add(chisel, "t", None)
    dispatcher.set_interval(handler, 1000)
    dispatcher.advance(500)
    dispatcher.advance(900)
    dispatcher.advance(1000)
    assert chisel.calls == [("tick", 1000, 1000)]


def test_a_failing_chisel_is_stopped_and_others_go_on(dispatcher, failures):
    bad, good = Recorder(fail_on=8), Recorder()
    dispatcher.add(bad, "bad", None)
    dispatcher.add(good, "good", None)
    for e in (ev(6, 1), ev(8, 2), ev(6, 3)):
        dispatcher.dispatch(e)
    dispatcher.end("S")
    assert failures == [("bad", "boom on 8")]
    assert [n for n, _ in dispatcher.failed] == ["bad"]
    assert bad.calls == [("event", 6, 1)]
    assert good.calls == [("event", 6, 1), ("event", 8, 2), ("event", 6, 3), ("end", "S")]
    assert dispatcher.active


def test_a_failing_setup_or_end_is_isolated_too(dispatcher, failures):
    class BadEnd(Recorder):
        def on_end(self, summary):
            raise ValueError("no report")

    chisel = BadEnd()
    handler = dispatcher.add(chisel, "badend", None)
    dispatcher.setup(handler, None, None)
    dispatcher.end(None)
    assert failures == [("badend", "no report")]
    assert not dispatcher.active


def test_generic_events_reach_chisels_subscribed_to_their_syscall_name(failures):
    generic = Dispatcher(lambda name: IDS.get(name, ()), lambda n, e: failures.append(n),
                         generic_ids=(0, 1), generic_name=lambda e: e.syscall)
    reads, mlocks, everything = Recorder(), Recorder(), Recorder()
    generic.add(reads, "reads", frozenset({"read"}))
    generic.add(mlocks, "mlocks", frozenset({"mlock"}))
    generic.add(everything, "all", None)
    info = SimpleNamespace(name="syscall")
    for e in (ev(0, 1, syscall="mlock", info=info), ev(1, 2, syscall="read", info=info), ev(6, 3)):
        generic.dispatch(e)
    assert reads.calls == [("event", 1, 2), ("event", 6, 3)]
    assert mlocks.calls == [("event", 0, 1)]
    assert [c[2] for c in everything.calls] == [1, 2, 3]
    assert generic.subscribed_types is None
