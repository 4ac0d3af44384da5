"""Session behaviour around the loop: progress, drops, Ctrl-C during a replay, -w, --debug."""

import io
import os
import signal

import pytest

from chisel.core.cli import main
from chisel.core.config import RunConfig
from chisel.core.session import Session
from chisel.plugins import Chisel
from chisel.plugins.manager import ChiselEntry, PluginManager, PluginSource
from chisel.plugins.testing import EventListSource, run_chisel

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAT_WRITE = os.path.join(TESTS, "data", "scap", "falco_cat_write.scap")


def entry(cls):
    return ChiselEntry(cls, PluginSource("file", "<test>", cls.name))


class Counter(Chisel):
    """Counts events and prints the count at the end."""

    name = "counter"

    def setup(self, args, ctx):
        self.n, self.out = 0, ctx.out

    def on_event(self, ev):
        self.n += 1

    def on_end(self, summary):
        self.out.line(f"{self.n} events, {summary.events} read")


def test_progress_line_when_asked():
    out, err = io.StringIO(), io.StringIO()
    config = RunConfig(read_path=CAT_WRITE, progress=True)
    code = Session(config, PluginManager(), [entry(Counter)], stdout=out, stderr=err).run()
    assert (code, out.getvalue()) == (0, "345 events, 345 read\n")
    assert err.getvalue() == "\rreading falco_cat_write.scap: 100%\n"


def test_drops_are_reported_at_the_end():
    source = EventListSource([])
    source.drops = 3
    out, err = io.StringIO(), io.StringIO()
    session = Session(RunConfig(), PluginManager(), [entry(Counter)], stdout=out, stderr=err,
                      source=source)
    assert session.run() == 0
    assert (out.getvalue(), err.getvalue()) == ("0 events, 0 read\n", "3 events dropped\n")


def test_ctrl_c_during_a_replay_still_prints_the_end_report():
    class Interrupted(Counter):
        name = "interrupted"

        def on_event(self, ev):
            super().on_event(ev)
            if self.n == 10:
                os.kill(os.getpid(), signal.SIGINT)

    result = run_chisel(Interrupted, capture=CAT_WRITE)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "10 events, 10 read\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_write_then_read_back_gives_the_same_events(tmp_path):
    target = str(tmp_path / "out.scap")
    first, second = io.StringIO(), io.StringIO()
    fmt = "%evt.rawtime %thread.tid %evt.dir %evt.type"  # what survives: the file has only these events
    assert main(["-r", CAT_WRITE, "-w", target, "-p", fmt, "evt.type=open"], stdout=first,
                stderr=io.StringIO(), env={}) == 0
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert main(["-r", target, "-p", fmt], stdout=second, stderr=io.StringIO(), env={}) == 0
    assert second.getvalue() == first.getvalue()
    assert len(first.getvalue().splitlines()) == 8  # sysdig: 4 open enters + 4 exits


def test_debug_shows_the_traceback_of_a_crashing_chisel():
    class Crash(Chisel):
        """Crashes."""
        name = "crash"

        def on_event(self, ev):
            raise RuntimeError("bad")

    err = io.StringIO()
    config = RunConfig(read_path=CAT_WRITE, debug=True)
    code = Session(config, PluginManager(), [entry(Crash)], stdout=io.StringIO(), stderr=err).run()
    lines = err.getvalue().splitlines()
    assert code == 1
    assert lines[0] == "chisel: error: chisel crash stopped: RuntimeError: bad; the other chisels went on"
    assert lines[1] == "Traceback (most recent call last):"


def test_an_idle_live_run_still_ticks_on_the_clock():
    """The source blocks after its first event until a tick happens: only the clock can produce it."""
    import threading
    import time

    from chisel.core.event import Event, model

    brk_exit = model().ids_for_name("brk")[1]
    ticked = threading.Event()

    class BlockingLiveSource(EventListSource):
        live = True

        def events(self):
            yield Event(time.time_ns(), 1, brk_exit, [], num=1)
            assert ticked.wait(10), "no idle tick within 10 s"
            yield Event(time.time_ns(), 1, brk_exit, [], num=2)

        def stop(self):
            ticked.set()

    class Ticker(Chisel):
        """Records ticks."""
        name = "ticker"

        def setup(self, args, ctx):
            self.out = ctx.out
            ctx.set_interval(0.001)

        def on_interval(self, now_ns, delta_ns):
            ticked.set()

        def on_end(self, summary):
            self.out.line(f"{summary.events} events, ticked={ticked.is_set()}")

    out, err = io.StringIO(), io.StringIO()
    session = Session(RunConfig(), PluginManager(), [entry(Ticker)], stdout=out, stderr=err,
                      source=BlockingLiveSource([]))
    session.idle_tick_s = 0.01
    assert session.run() == 0
    assert out.getvalue() == "2 events, ticked=True\n"
    assert err.getvalue() == "Tracing... Ctrl-C to end.\n"


def test_a_damaged_capture_still_gets_its_end_report_then_one_error_line(tmp_path):
    damaged = tmp_path / "cut.scap"
    with open(CAT_WRITE, "rb") as fh:
        damaged.write_bytes(fh.read()[:10000])
    from chisel.core.errors import CaptureFormatError
    from chisel.core.scap_reader import ScapReader

    good = 0
    try:
        for _ in ScapReader(str(damaged)).events():
            good += 1
    except CaptureFormatError:
        pass
    assert good > 0
    result = run_chisel(Counter, capture=str(damaged))
    assert result.exit_code == 1
    assert result.stdout == f"{good} events, {good} read\n"
    assert result.stderr.startswith(f"chisel: error: {damaged}: corrupt capture at byte offset ")
    assert len(result.stderr.splitlines()) == 1


def test_a_live_source_failing_on_the_helper_thread_is_reported_in_the_session():
    import time

    from chisel.core.errors import ChiselRuntimeError
    from chisel.core.event import Event, model

    brk_exit = model().ids_for_name("brk")[1]

    class FailingLiveSource(EventListSource):
        live = True

        def events(self):
            yield Event(time.time_ns(), 1, brk_exit, [], num=1)
            raise ChiselRuntimeError("ring buffer lost: the kernel unmapped it; restart the capture")

    class Ticking(Counter):
        name = "ticking"

        def setup(self, args, ctx):
            super().setup(args, ctx)
            ctx.set_interval(1)

    session = Session(RunConfig(), PluginManager(), [entry(Ticking)], stdout=io.StringIO(),
                      stderr=io.StringIO(), source=FailingLiveSource([]))
    with pytest.raises(ChiselRuntimeError) as err:
        session.run()  # raised in the session's thread, not lost with the helper thread
    assert err.value.message == "ring buffer lost: the kernel unmapped it; restart the capture"


@pytest.mark.parametrize("signals, seen", [(1, 5), (2, 1)], ids=["one Ctrl-C drains", "second Ctrl-C abandons"])
def test_a_stopped_live_source_is_drained_unless_stopped_twice(signals, seen):
    """Ctrl-C asks a live source to finish what the kernel already wrote: those events still reach
    the chisel (and a -w file); a second Ctrl-C stops at once."""
    from chisel.core.event import Event, model

    brk_exit = model().ids_for_name("brk")[1]

    class DrainingLiveSource(EventListSource):
        live = True
        stops = 0

        def events(self):
            for num in range(1, 6):  # the ring's backlog when the stop arrives: five events
                if num == 2:
                    for _ in range(signals):
                        os.kill(os.getpid(), signal.SIGINT)
                yield Event(1_000 + num, 1, brk_exit, [], num=num)

        def stop(self):
            self.stops += 1

    source = DrainingLiveSource([])
    out, err = io.StringIO(), io.StringIO()
    code = Session(RunConfig(), PluginManager(), [entry(Counter)], stdout=out, stderr=err,
                   source=source).run()
    assert (code, out.getvalue(), source.stops) == (0, f"{seen} events, {seen} read\n", signals)
