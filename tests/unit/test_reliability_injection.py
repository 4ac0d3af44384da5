"""Filter values reach the kernel only as map data, end to end: filter text → compiled filter →
pushdown → `LiveSource` → the program text it loads and the map writes, with the loader replaced by a
recorder.

tests/unit/test_live_source_gen.py already proves `generate_source` ignores the values of a
hand-built `PushDown`; this covers the path a user's filter really takes, including the quoting and
escapes of the filter language and the map keys the engine writes.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chisel.core.fields import registry
from chisel.core.filter import compile_filter
from chisel.core.live import engine, probes
from chisel.core.live.specs import SEED_SYSCALLS, STATE_SYSCALLS
from chisel.core.threadinfo import Snapshot

HOSTILE_COMMS = ['"; }\n#include', "a\0b", "*/ int x; /*", "\\", "'", '"', "%s%n", "x;y", "\r\n#if 0"]
HOSTILE = ['"; } #include </etc/shadow>\n', "a\0b", "*/ int x; /*", "\\", "'", '"', "%s%n",
           "x;y", "\r\n#define AXIS_FDS 0", "é" * 300, "/tmp/" + "p" * 300]
FAKE_FORMATS = tuple((name, tuple(f"arg{i}" for i in range(6)))
                     for name in sorted(SEED_SYSCALLS | STATE_SYSCALLS))


_KEY_SIZES = {"f_comms": 16, "fd_names": probes.PATHKEY_LEN}


class _Table:
    """A BPF map that records the keys the engine writes into it (the bytes the kernel would get)."""

    def __init__(self, name):
        self.name, self.writes, self.fd = name, [], -1
        self.key_size = _KEY_SIZES.get(name, 4)

    def update(self, key, value):
        assert len(key) == self.key_size
        self.writes.append(int.from_bytes(key, "little") if len(key) == 4 else key.rstrip(b"\0"))

    def lookup(self, key):
        return [bytes(8), bytes(8)]  # drop_count: one counter per CPU


class _Tables(dict):
    def __missing__(self, name):
        self[name] = _Table(name)
        return self[name]


class _RecordingBPF:
    """Stands in for the engine's program loader: keeps the program text and every map write."""

    last = None

    def __init__(self, text, timings, warnings, attach=None, shared=None):
        self.text = text
        self.tables = self.maps = _Tables()
        _RecordingBPF.last = self

    def recursion_misses(self):
        return 0

    def close(self):
        pass


class _NoRing:
    def __init__(self, fd, size):
        pass

    def close(self):
        pass


@pytest.fixture(autouse=True)
def recording_bcc(monkeypatch):
    monkeypatch.setattr(engine, "check_environment", lambda: None)
    monkeypatch.setattr(engine, "_load_object", _RecordingBPF)
    monkeypatch.setattr(engine, "RingReader", _NoRing)
    monkeypatch.setattr(engine, "_initial_snapshot", Snapshot)
    monkeypatch.setattr(engine, "_kernel_formats", lambda: (FAKE_FORMATS, ()))  # tracefs, faked


def quote(value):
    """`value` as a double-quoted filter string, with the filter language's escapes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\r", "\\r").replace("\t", "\\t") + '"'


def kernel_view(comms, names):
    """(program text, {map: written keys}) for a user filter naming these comms and fd names."""
    text = (f"evt.type=read and proc.name in ({', '.join(quote(c) for c in comms)}) "
            f"and fd.name in ({', '.join(quote(n) for n in names)})")
    compiled = compile_filter(text, registry())
    # the values arrived whole, as data; a proc.name longer than the kernel's 15-byte comm is
    # left to userspace (it can come from the executable's path)
    fits = all(len(c.encode()) <= 15 for c in comms)
    assert compiled.pushdown.comms == (frozenset(comms) if fits else None)
    assert compiled.pushdown.fd_names == frozenset(names)
    source = engine.LiveSource(event_types=compiled.event_types, pushdown=compiled.pushdown)
    bpf = _RecordingBPF.last
    writes = {name: table.writes for name, table in bpf.tables.items() if table.writes}
    source.close()
    return bpf.text, writes


def _as_key(comm):
    return comm.encode().split(b"\0")[0]


_BENIGN = {}


def benign(comm="cat"):
    """The program text for plain values on the same axes (a long comm switches its axis off)."""
    if comm not in _BENIGN:
        _BENIGN[comm] = kernel_view([comm], ["/etc/passwd"])
    return _BENIGN[comm][0]


def test_hostile_values_change_only_map_keys():
    text, writes = kernel_view(HOSTILE_COMMS, HOSTILE)
    assert text == benign()
    for value in HOSTILE + HOSTILE_COMMS:
        if len(value) > 3:
            assert value[:15] not in text
    # a char-array key ends at its first NUL, as C reads it: "a\0b" lets comm "a" through the kernel, a
    # superset the userspace filter (which always runs) narrows again; never a wider program
    assert sorted(writes["f_comms"]) == sorted(_as_key(v) for v in HOSTILE_COMMS)
    # names too long or holding a NUL cannot be matched by the kernel, which then passes every
    # fd (config slot 2) and leaves the filter to userspace
    assert sorted(writes["fd_names"]) == sorted(
        _as_key(v) for v in HOSTILE if len(v.encode()) < probes.PATHKEY_LEN)
    assert 1 in writes["config"]  # the "pass every fd" switch
    plain_writes = _BENIGN["cat"][1]
    assert plain_writes["f_comms"] == [b"cat"] and plain_writes["fd_names"] == [b"/etc/passwd"]


VALUES = st.text(st.characters(codec="utf-8", blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=4), st.lists(VALUES, min_size=1, max_size=4))
def test_any_values_leave_the_program_text_unchanged(comms, names):
    text, writes = kernel_view(comms, names)
    fits = all(len(c.encode()) <= 15 for c in comms)
    assert text == benign("cat" if fits else "a_comm_too_long_for_the_kernel")
    if fits:
        assert sorted(writes["f_comms"]) == sorted({_as_key(c) for c in comms})
    else:
        assert "f_comms" not in writes
