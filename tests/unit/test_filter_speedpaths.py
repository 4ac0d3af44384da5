"""The compiled filter's fast paths give the answers of the plain closure tree.

`compile_filter` generates one function per event type (core/filter/codegen.py), folding checks the
type decides and reading some fields inline; `compile_filter(..., specialize=False)` is the closure
tree every check goes through `ev.get` in. Both run on every event of every bundled capture for
every filter of the sysdig table (and the benchmark's), and the field hints the fast path trusts
(`FieldDef.per_type`, `FieldDef.inline`) are checked against the extractors on every event.
"""

import functools
import sys
from pathlib import Path

import pytest
from filter_fakes import FakeRegistry, ev

from chisel.core.event import model
from chisel.core.fields import registry
from chisel.core.filter import compile_filter
from chisel.core.filter.codegen import MAX_BRANCHES, FunctionWriter, TypeProbe, inline_spec
from chisel.core.scap_reader import ScapReader
from chisel.core.state import State

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURES = sorted(p.stem for p in (DATA / "scap").glob("*.scap"))
sys.path.insert(0, str(DATA / "filters"))
from bench import FILTERS as BENCH_FILTERS  # noqa: E402

# Arguments to try for per-type fields that take one.
_TYPE_ARGS = ("open", "read", "close", "syscall", "nosuch")


def table_filters():
    lines = (DATA / "filters" / "filters.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


# Ten residual filters (one per named type, one for the rest): more than codegen.MAX_BRANCHES,
# so some are called through the dispatcher's `_rest` table.
MANY_RESIDUALS = " and ".join(
    f"(evt.type = {name} or proc.name != {name})"
    for name in ("read", "write", "open", "openat", "close", "mmap", "brk", "fstat", "execve"))

ALL_FILTERS = table_filters() + list(BENCH_FILTERS.values()) + [
    # Fields repeated across branches: the generated code must extract them lazily, once.
    "evt.type = read or proc.name = bash or (evt.num > 100 and proc.name != cat)",
    "not (fd.name exists and evt.dir = '<') or fd.name contains lib",
    "evt.category in (file, net) and not evt.is_io = true",
    "evt.type glob 'open*' and fd.typechar = f",
    "evt.type.is.read = 1 or syscall.type = close or evt.io_dir = write",
    # evt.deltatime remembers the last event it was computed for: skipping its check on the
    # events a folded check rejects would change its later values.
    "evt.deltatime > 100000 and evt.dir = '<'",
    "evt.deltatime.ns < 5000 or evt.is_io = true",
    MANY_RESIDUALS,
]


def each_event(capture, on_event):
    """Replay `capture` through reader and state, calling `on_event(ev)` after `state.process`."""
    reader = ScapReader(str(DATA / "scap" / f"{capture}.scap"))
    state = State(reader.snapshot)
    registry().bind_state(state, snapshot=reader.snapshot)
    try:
        for event in reader.events():
            state.process(event)
            on_event(event)
    finally:
        reader.close()


@functools.cache
def matches(capture, specialize):
    """{filter: [evt.num matched]} over one replay (stateful fields see the same calls in both)."""
    compiled = {text: compile_filter(text, specialize=specialize) for text in ALL_FILTERS}
    hits = {text: [] for text in ALL_FILTERS}

    def on_event(event):
        for text, flt in compiled.items():
            if flt.match(event):
                hits[text].append(event.num)
    each_event(capture, on_event)
    return hits


@pytest.mark.parametrize("capture", CAPTURES)
def test_specialized_filters_match_the_closure_tree_on_every_event(capture):
    fast, plain = matches(capture, True), matches(capture, False)
    for text in ALL_FILTERS:
        assert fast[text] == plain[text], text


def test_the_table_selects_events_on_the_sample_capture():
    # Guards the comparison above against both paths matching nothing.
    hits = matches("libs_sample", True)
    assert len(hits["evt.type != read"]) == 473
    assert len(hits["evt.is_io=true"]) == 10
    assert len(hits[BENCH_FILTERS["10 checks, all evaluated"]]) == 323


def _per_type_fields():
    out = []
    for name in registry().names():
        fdef = registry().get(name)
        if fdef.per_type:
            args = _TYPE_ARGS if fdef.arg is not None else (None,)
            out += [(fdef, arg) for arg in args]
    return out


def _extract(fdef, event, arg):
    return fdef.extract(event) if fdef.arg is None else fdef.extract(event, arg)


@pytest.mark.parametrize("capture", CAPTURES)
def test_per_type_fields_need_only_the_event_type(capture):
    fields = _per_type_fields()
    assert {f.name for f, _ in fields} >= {"evt.type", "evt.dir", "evt.is_io", "fd.name"}
    checked = set()

    def on_event(event):
        info = event.info
        if info.name == "syscall":  # never folded
            return
        for fdef, arg in fields:
            per_type = fdef.per_type(info) if callable(fdef.per_type) else fdef.per_type
            if not per_type:
                continue
            try:
                folded = _extract(fdef, TypeProbe(info), arg)
            except AttributeError:  # the filter then decides it per event (codegen._fold_check)
                continue
            assert _extract(fdef, event, arg) == folded, (fdef.name, arg, event)
            checked.add(fdef.name)
    each_event(capture, on_event)
    assert {"evt.dir", "evt.type", "fd.name", "fd.uid"} <= checked


def _inline_value(spec, fdef, event):
    """What the generated code reads for an `inline` spec (FunctionWriter.extraction's meaning)."""
    kind = spec[0]
    if kind == "event":
        value = getattr(event, spec[1])
        assert len(spec) == 2 or type(value) is spec[2], (fdef.name, event)
        return value
    if kind in ("thread", "fd"):
        owner = getattr(event, kind)  # ev.thread / ev.fd
        if owner is None:
            return fdef.extract(event)
        value = getattr(owner, spec[1])
        assert len(spec) == 2 or type(value) is spec[2], (fdef.name, event)
        return value
    if kind == "param_int64":
        raw = event.raw
        if len(raw) > spec[1] and len(raw[spec[1]]) == 8:
            return int.from_bytes(raw[spec[1]], "little", signed=True)
        return fdef.extract(event)
    assert kind == "call"
    return fdef.extract(event)


@pytest.mark.parametrize("capture", CAPTURES)
def test_inline_fields_read_what_their_extractors_compute(capture):
    fields = [registry().get(n) for n in registry().names() if registry().get(n).inline]
    assert {f.name for f in fields} >= {"evt.num", "proc.name", "proc.pid", "thread.tid",
                                        "fd.name", "evt.rawres"}
    checked = set()

    def on_event(event):
        info = event.info
        for fdef in fields:
            # Specs that depend on the type are used only on events specialized to their type.
            spec = inline_spec(fdef, None, None if info.name == "syscall" else info)
            if spec is not None:
                assert _inline_value(spec, fdef, event) == fdef.extract(event), (fdef.name, event)
                checked.add(fdef.name)
    each_event(capture, on_event)
    assert {"evt.num", "proc.name"} <= checked


# -- generated code, on the fake registry -----------------------------------------------------
class CountingEvent:
    """A fake event counting extractions per field."""

    def __init__(self, fields):
        self.inner = ev(fields)
        self.type = self.inner.type
        self.calls = {}

    def get(self, key):
        self.calls[key] = self.calls.get(key, 0) + 1
        return self.inner.get(key)


REG = FakeRegistry()


def test_each_field_is_extracted_once_per_match():
    flt = compile_filter("proc.name = a or proc.name = b or (proc.pid > 3 and proc.name != c)", REG)
    event = CountingEvent({"proc.name": "x", "proc.pid": 5})
    assert flt.match(event) is True
    assert event.calls == {"proc.name": 1, "proc.pid": 1}


def test_a_field_reached_on_one_branch_only_is_extracted_when_reached():
    flt = compile_filter("(proc.pid = 1 and proc.name = a) or proc.name = x", REG)
    event = CountingEvent({"proc.name": "x", "proc.pid": 2})
    assert flt.match(event) is True
    assert event.calls == {"proc.pid": 1, "proc.name": 1}
    event = CountingEvent({"proc.name": "x", "proc.pid": 1})
    assert flt.match(event) is True
    assert event.calls == {"proc.pid": 1, "proc.name": 1}


def test_checks_the_event_type_decides_cost_no_extraction():
    flt = compile_filter("evt.type in (open, read) and proc.name = cat", REG)
    other = CountingEvent({"evt.type": "close", "proc.name": "cat"})
    assert flt.match(other) is False
    assert other.calls == {}
    hit = CountingEvent({"evt.type": "read", "proc.name": "cat"})
    assert flt.match(hit) is True
    assert hit.calls == {"proc.name": 1}


def test_a_missing_field_makes_every_check_false():
    event = ev({"evt.type": "open"})
    for text in ("proc.name != cat", "proc.pid != 3", "proc.name = cat", "proc.pid < 3",
                 "proc.name contains a", "proc.name in (a, b)", "proc.name exists"):
        assert compile_filter(text, REG).match(event) is False, text
    assert compile_filter("not proc.name = cat", REG).match(event) is True


def test_generated_source_holds_no_user_text():
    text = "proc.name = \"__import__('os')\" or proc.name contains 'ev.get(1)' or evt.num > 7"
    reg = registry()
    from chisel.core.filter import compile as compiler  # noqa: PLC0415

    ast = compiler.parse(text)
    comp = compiler._Compiler(text, reg)
    comp.predicate(ast)
    for i, plan in enumerate(comp.plans.values()):
        plan.index = i
    source = FunctionWriter(comp.plans, compiler._cheap_first).source(ast)
    assert "__import__" not in source and "ev.get(1)" not in source and "proc.name" not in source
    assert source.startswith("def match(ev):\n")


def test_generic_events_are_not_folded():
    syscall_id = model().ids_for_name("syscall")[0]
    flt = compile_filter("evt.type = open", REG)
    event = CountingEvent({"evt.type": "open"})
    event.type = syscall_id  # a generic event whose syscall is open
    assert flt.match(event) is True
    assert event.calls == {"evt.type": 1}


def test_residuals_beyond_the_inline_branches_are_called_through_a_table():
    flt = compile_filter(MANY_RESIDUALS)
    rest = flt.match.__globals__["_rest"]
    assert len(rest) == 10 + 1 - MAX_BRANCHES  # nine types, the generic event, every other type
    hits = matches("libs_sample", True)[MANY_RESIDUALS]
    assert len(hits) == 323  # every event with a known process name (none is named like a type)


def test_runs_of_not_collapse_before_compiling():
    event = ev({"evt.type": "open", "proc.name": "cat"})
    for count in (1000, 1001):
        flt = compile_filter("not " * count + "proc.name = cat", REG)
        assert flt.match(event) is (count % 2 == 0)


def test_nesting_too_deep_for_generated_code_keeps_the_closure_tree():
    # 99 levels of 'not (... or' nest ~200 parentheses in Python source: past its limit.
    text = "".join(f"not (proc.name = a{i} or " for i in range(99)) + "proc.name = z" + ")" * 99
    flt = compile_filter(text, REG)
    assert flt.match(ev({"proc.name": "z"})) is False  # 99 negations of a true 'or'
    assert flt.match(ev({"proc.name": "a0"})) is False
    assert flt.match(ev({"proc.name": "a1"})) is True


def test_a_plugin_field_with_a_call_spec_is_called_directly_and_hints_fold_per_type():
    from chisel.core.event import Event  # noqa: PLC0415
    from chisel.core.fields import FieldDef, FieldRegistry  # noqa: PLC0415

    calls = []

    def value(event):
        calls.append(event.num)
        return event.num * 10

    reg = FieldRegistry()
    reg.register(FieldDef("my.value", "UINT64", "ten times evt.num", value, cls="my",
                          inline=("call",)))
    reg.register(FieldDef("my.isexit", "BOOL", "exit event", lambda e: e.info.dir == "<",
                          cls="my", per_type=True))
    flt = compile_filter("my.isexit = true and my.value > 25", reg)
    read_enter, read_exit = model().ids_for_name("read")
    events = [Event(0, 1, read_exit, [], num=2), Event(0, 1, read_exit, [], num=3),
              Event(0, 1, read_enter, [], num=4)]
    assert [flt.match(e) for e in events] == [False, True, False]
    assert calls == [2, 3]  # the enter event is decided by its type alone
    assert all(e._cache is None for e in events)  # read without ev.get
