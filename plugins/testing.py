"""Run a chisel in-process through the real pipeline, for chisel tests and third-party authors.

    from chisel.plugins.testing import run_chisel

    result = run_chisel("topfiles", capture="tests/data/scap/falco_cat_write.scap", args={"top": 3})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("Bytes")

`run_chisel` goes through the same session as the `chisel` command: state engine, global filter,
the chisel's prefilter, dispatch, end report, and the same one-line errors and exit codes.
"""

import io
from dataclasses import dataclass

from chisel.core.config import RunConfig
from chisel.core.errors import ChiselError
from chisel.plugins.api import Chisel


@dataclass(frozen=True)
class Result:
    """What a run printed and how it ended."""

    stdout: str
    stderr: str
    exit_code: int


class EventListSource:
    """A source over a list of already-built `Event`s (numbered from 1 when their `num` is 0)."""

    live = False

    def __init__(self, events, snapshot=None):
        from chisel.core.threadinfo import Snapshot  # noqa: PLC0415

        self.snapshot = snapshot if snapshot is not None else Snapshot()
        self._events = list(events)
        self.drops = 0

    def events(self):
        for num, ev in enumerate(self._events, 1):
            if not ev.num:
                ev.num = num
            yield ev

    def close(self):
        """Nothing to release."""


def run_chisel(chisel, capture=None, events=None, args=None, filter=None, json=False, *,
               snapshot=None, buffer_format="normal", snaplen=None, plugin_dirs=(),
               color=False):
    """Run `chisel` (a name, alias, or a `Chisel` subclass) over `capture` (a path) or `events` (a list).

    `args` maps argument names to values (or command-line text); `filter` is sysdig filter text;
    `json` is -j; `color` True forces ANSI colours (the output is never a terminal, so the default
    False gives the plain text). Returns a `Result`; errors are reported as the CLI reports them, never raised.
    """
    from chisel.core.cli import report_error  # noqa: PLC0415
    from chisel.core.session import Session  # noqa: PLC0415
    from chisel.plugins.manager import ChiselEntry, PluginSource, load_plugins  # noqa: PLC0415

    if (capture is None) == (events is None):
        raise ValueError("run_chisel needs exactly one of capture= or events=")
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        plugins = load_plugins(plugin_dirs=plugin_dirs, env={})
        if isinstance(chisel, type) and issubclass(chisel, Chisel):
            entry = ChiselEntry(chisel, PluginSource("file", f"<test {chisel.__qualname__}>", chisel.name))
        else:
            entry = plugins.find(chisel)
        config = RunConfig(chisel=entry.name, filter_text=filter or "", read_path=capture, json=json,
                           buffer_format=buffer_format, snaplen=snaplen, color=color)
        source = EventListSource(events, snapshot) if events is not None else None
        session = Session(config, plugins, [entry], {entry.name: dict(args or {})},
                          stdout=stdout, stderr=stderr, source=source)
        code = int(session.run())
    except ChiselError as exc:
        code = report_error(exc, stderr)
    return Result(stdout.getvalue(), stderr.getvalue(), code)
