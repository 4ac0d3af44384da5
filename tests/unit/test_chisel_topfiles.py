"""topfiles on hand-made events: sysdig's table, the --by modes, --top, intervals and JSON."""

import pytest

from chisel.chisels.topfiles import TopFiles, TopFilesErrors, TopFilesTime
from chisel.plugins import table_json
from chisel.plugins import Chisel

from chisel_fakes import FakeEvent, run

HEADER = "Bytes               Filename            \n" + "-" * 80 + "\n"


def io(name, res, ts=0, enter_ts=None, dir="<", failed=False):
    enter = FakeEvent(ts=enter_ts, dir=">") if enter_ts is not None else None
    return FakeEvent(ts=ts, dir=dir, enter=enter, fd__name=name, evt__rawarg__res=res, evt__failed=failed)


def test_bytes_table_as_sysdig_prints_it():
    events = [io("/etc/passwd", 4096), io("/etc/group", 100), io("/etc/passwd", 10), io("/x", -2),
              io(None, 50), FakeEvent(dir=">", fd__name="/etc/group")]
    out, _, _ = run(TopFiles, events)
    assert out == HEADER + "4.01KB              /etc/passwd\n100B                /etc/group\n"


def test_top_cuts_and_zero_shows_all():
    events = [io(f"/f{i}", 100 + i) for i in range(12)]
    assert len(run(TopFiles, events)[0].splitlines()) == 2 + 10
    assert len(run(TopFiles, events, args={"top": "0"})[0].splitlines()) == 2 + 12
    assert run(TopFiles, events, args={"top": 1})[0] == HEADER + "111B                /f11\n"


def test_time_is_the_latency_from_enter_to_exit():
    events = [io("/a", 5, ts=3_000_000, enter_ts=1_000_000), io("/a", 5, ts=10_500, enter_ts=10_000),
              io("/b", 5, ts=7_000, enter_ts=6_000), io("/b", 5, dir=">", ts=6_000), io("/c", 5, ts=9)]
    out, _, _ = run(TopFiles, events, args={"by": "time"})
    assert out == ("Time                Filename            \n" + "-" * 80 + "\n"
                   "2.00ms              /a\n1.00us              /b\n")


def test_ops_counts_exits_and_errors_counts_failures():
    events = [io("/a", 1), io("/a", 1, dir=">"), io("/a", -2, failed=True), io("/b", 7)]
    ops, _, _ = run(TopFiles, events, args={"by": "ops"})
    errors, _, _ = run(TopFiles, events, args={"by": "errors"})
    assert ops.splitlines()[2:] == ["2                   /a", "1                   /b"]
    assert errors.splitlines()[2:] == ["1                   /a"]
    assert errors.splitlines()[0] == "#Errors             Filename            "


def test_sysdig_names_select_the_mode():
    assert TopFiles.aliases == ("topfiles_bytes",)
    assert TopFiles.default_args().by == "bytes"
    assert TopFilesTime.name == "topfiles_time" and TopFilesTime.default_args().by == "time"
    assert TopFilesErrors.name == "topfiles_errors" and TopFilesErrors.default_args().by == "errors"
    assert TopFilesErrors.prefilter == "fd.type=file and evt.failed=true"
    assert TopFilesErrors.events is None


def test_negative_top_is_a_usage_error():
    from chisel.core.errors import UsageError

    with pytest.raises(UsageError, match="--top"):
        TopFiles.build_args({"top": "-1"})


def test_live_redraws_each_interval_with_that_intervals_totals():
    out, chisel, ctx = run(TopFiles, [], live=True, args={"interval": "2"})
    assert ctx.intervals == [2.0] and out == ""
    chisel.on_event(io("/a", 10))
    chisel.on_interval(2_000_000_000, 2_000_000_000)
    chisel.on_event(io("/b", 20))
    chisel.on_interval(4_000_000_000, 2_000_000_000)
    text = ctx.buffer.getvalue()
    clear = "\x1b[2J\x1b[H"
    assert text == (clear + HEADER + "10B                 /a\n" + clear + HEADER + "20B                 /b\n")


def test_json_has_table_generators_shape():
    out, _, _ = run(TopFiles, [io("/etc/passwd", 832)], json=True, last_ts=1534527348588309095)
    assert out == ('{\n  "ts":"1534527348000000000",\n  "data":[["/etc/passwd",832]],\n'
                   '  "info":[{\n      "name":"fd.name",\n      "desc":"Filename",\n      "is_key":true\n'
                   '    },null,{\n      "name":"evt.rawarg.res",\n      "desc":"Bytes",\n'
                   '      "is_key":false\n    }]\n}\n')


def test_json_with_two_keys_has_no_null():
    text = table_json(0, ["fd.l4proto", "fd.name"], ["Proto", "Conn"], "evt.rawarg.res", "Bytes",
                      [(("tcp", "a->b"), 5)])
    assert '"data":[["tcp","a->b",5]]' in text and "null" not in text


def test_every_option_has_help():
    for cls in (TopFiles, TopFilesTime, TopFilesErrors):
        assert issubclass(cls, Chisel)
        assert [a.option for a in cls.args] == ["--by", "--top", "--interval"]
        assert all(a.help for a in cls.args)
