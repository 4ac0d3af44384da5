"""Hand-made events and a tiny runner for the built-in chisels' unit tests (no capture, no state engine)."""

import io
from types import SimpleNamespace

from chisel.plugins import Context, Output, Summary


class FakeEvent:
    """An event whose fields are given as a dict; `ev[name]` answers None for a field not given."""

    def __init__(self, ts=0, dir="<", enter=None, **fields):
        self.ts = ts
        self.dir = dir
        self.enter = enter
        self.fields = {k.replace("__", "."): v for k, v in fields.items()}

    def __getitem__(self, name):
        return self.fields.get(name)

    get = __getitem__


class FakeThread(SimpleNamespace):
    """A ThreadInfo stand-in: tid, pid, comm and fdtable."""


class RecordingContext(Context):
    """A Context writing to a string; buffers are shown as latin-1 text, marked so tests see the call."""

    def __init__(self, color=True, **kw):
        self.buffer = io.StringIO()
        super().__init__(out=Output(self.buffer, color=color, is_tty=color), **kw)
        self.intervals = []

    def format_buffer(self, data):
        return "<" + data.decode("latin-1") + ">"

    def set_interval(self, seconds):
        self.intervals.append(seconds)


def run(chisel_cls, events, args=None, color=True, live=False, json=False, state=None, last_ts=0):
    """Set up `chisel_cls` with `args`, feed it `events`, end it; returns (stdout text, chisel, ctx)."""
    ctx = RecordingContext(color=color, live=live, json=json, state=state)
    chisel = chisel_cls()
    chisel.setup(chisel_cls.build_args(args or {}), ctx)
    for ev in events:
        chisel.on_event(ev)
    chisel.on_end(Summary(first_ts=0, last_ts=last_ts, events=len(events), drops=0, live=live))
    return ctx.buffer.getvalue(), chisel, ctx
