"""plugins.testing.run_chisel: the real pipeline in process, over a capture or a list of events."""

import importlib.util
import os

import pytest

from chisel.plugins import Chisel
from chisel.plugins.testing import Result, run_chisel

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAT_WRITE = os.path.join(TESTS, "data", "scap", "falco_cat_write.scap")


def load_sample(name):
    path = os.path.join(TESTS, "plugins", "good", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"sample_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COUNT_EVENTS = load_sample("count_events").CountEvents
# sysdig 0.29.3: `sysdig -r falco_cat_write.scap -p %evt.type "evt.dir=<" | sort | uniq -c`
EXPECTED_TOP_EXITS = [
    "COUNT               TYPE                ",
    "-" * 80,
    "10                  mmap",
    "6                   close",
    "5                   fstat",
]


def test_a_chisel_class_over_a_capture_with_args():
    result = run_chisel(COUNT_EVENTS, capture=CAT_WRITE, args={"top": 3, "exits_only": True})
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == EXPECTED_TOP_EXITS


def test_a_list_of_events_gives_what_the_capture_gives():
    from chisel.core.scap_reader import ScapReader

    reader = ScapReader(CAT_WRITE)
    events, snapshot = list(reader.events()), reader.snapshot
    reader.close()
    result = run_chisel(COUNT_EVENTS, events=events, snapshot=snapshot, args={"top": "3", "exits_only": "yes"})
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == EXPECTED_TOP_EXITS


def test_a_filter_narrows_what_the_chisel_sees():
    result = run_chisel(COUNT_EVENTS, capture=CAT_WRITE, args={"top": 5}, filter="evt.type=open")
    assert result.stdout.splitlines()[2:] == ["8                   open"]  # 4 enters + 4 exits


def test_errors_come_back_as_the_cli_prints_them():
    result = run_chisel(COUNT_EVENTS, capture=CAT_WRITE, args={"top": "many"})
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("chisel: error: bad value for --top: 'many' is not an integer; "
                             "pass a value such as --top 10\n")


def test_a_crashing_chisel_exits_1_with_one_line():
    class Boom(Chisel):
        """Fails at the end."""
        name = "boom"

        def on_end(self, summary):
            raise KeyError("report")

    result = run_chisel(Boom, capture=CAT_WRITE)
    assert result.exit_code == 1
    assert result.stderr == ("chisel: error: chisel boom stopped: KeyError: 'report'; "
                             "the other chisels went on\n")


def test_summary_reaches_on_end():
    seen = {}

    class Summ(Chisel):
        """Keeps the summary."""
        name = "summ"

        def on_end(self, summary):
            seen.update(vars(summary))

    assert run_chisel(Summ, capture=CAT_WRITE).exit_code == 0
    assert seen["events"] == 345 and seen["drops"] == 0 and seen["live"] is False  # every event read
    assert seen["first_ts"] <= seen["last_ts"]


def test_exactly_one_input_is_required():
    with pytest.raises(ValueError, match="exactly one of capture= or events="):
        run_chisel(COUNT_EVENTS)


def test_a_chisel_subscribed_to_a_syscall_gets_its_generic_events_too():
    class Mprotects(Chisel):
        """Counts mprotect events."""
        name = "mprotects"
        events = frozenset({"mprotect"})

        def setup(self, args, ctx):
            self.n, self.out = 0, ctx.out

        def on_event(self, ev):
            self.n += 1

        def on_end(self, summary):
            self.out.line(str(self.n))

    # libs_curl_google records mprotect as generic events; sysdig -r ... evt.type=mprotect | wc -l -> 156
    curl = os.path.join(TESTS, "data", "scap", "libs_curl_google.scap")
    assert run_chisel(Mprotects, capture=curl) == Result("156\n", "", 0)
