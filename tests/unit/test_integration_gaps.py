"""Seams between the CLI, the session, the filter, the fields and the output, each pinned to an exact value."""

import io
import os

from chisel.core.cli import main, reads_as_filter
from chisel.core.fields_base import BOUND
from chisel.core.render import extend_string

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CURL = os.path.join(TESTS, "data", "scap", "libs_curl_google.scap")


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, env={})
    return code, out.getvalue(), err.getvalue()


def test_filter_warnings_are_printed_once_on_stderr():
    code, out, err = run("-r", CURL, "-p", "%evt.num %fd.name", "file.name contains /etc")
    assert code == 0
    assert err == "chisel: warning: 'file.name' is not a sysdig field; using 'fd.name'\n"
    assert out.splitlines()[:2] == ["219 /etc/ld.so.cache", "220 /etc/ld.so.cache"]


def test_an_alias_first_word_reads_as_a_filter_not_a_chisel_path():
    assert reads_as_filter("file.name") is True
    assert reads_as_filter("file.name contains /etc") is True
    assert reads_as_filter("./mine.py") is False
    code, out, _err = run("-r", CURL, "-p", "%evt.num", "file.name", "contains", "/etc")
    assert (code, out.splitlines()[0]) == (0, "219")


def test_fields_are_bound_to_the_sources_snapshot():
    code, _out, _err = run("-r", CURL, "-p", "%fd.is_server", "evt.num=1")
    assert code == 0
    assert BOUND.snapshot is not None
    assert BOUND.snapshot is BOUND.state.snapshot


def test_extend_string_with_no_room_is_empty_as_in_sysdig():
    assert extend_string("abc", 0) == ""
    assert extend_string("abc", -3) == ""
    assert extend_string("abc", 1) == " "


def test_p_writes_each_field_in_its_own_format():
    code, out, _err = run("-r", CURL, "-p", "%evt.num %proc.fdusage %fd.dev %fd.type",
                          "evt.num>=960 and evt.num<=961")
    assert code == 0
    # sysdig prints the same fdusage; fd.dev differs (555D) because the state keeps no pipe device
    assert out == "960 0.3 0 pipe\n961 0.3 0 pipe\n"


def test_p_refuses_a_filter_only_field_with_sysdigs_words():
    code, out, err = run("-r", CURL, "-p", "%evt.num %fd.ip")
    assert (code, out) == (2, "")
    assert err == "chisel: error: fd.ip is filter only and cannot be used as a display field\n"


def test_json_with_a_format_writes_the_formats_fields_as_sysdig_does():
    code, out, _err = run("-r", CURL, "-j", "-p", "%evt.num %proc.name %fd.name")
    assert code == 0
    lines = out.splitlines()
    # TZ=UTC sysdig -r libs_curl_google.scap -j -p '%evt.num %proc.name %fd.name'
    assert lines[:2] == ['{"evt.num":219,"fd.name":"/etc/ld.so.cache","proc.name":"curl"}',
                         '{"evt.num":220,"fd.name":"/etc/ld.so.cache","proc.name":"curl"}']
    assert len(lines) == 399


def test_a_running_chisel_sees_whole_buffers_and_plain_output_cuts_at_80():
    run("-r", CURL, "-p", "%evt.num", "evt.num=1")
    assert BOUND.renderer.max_buffer_chars == 80
    run("-r", CURL, "echo_fds", "evt.num=1")
    assert BOUND.renderer.max_buffer_chars is None


def test_color_code_is_a_bare_code_or_nothing():
    from chisel.plugins import Output

    assert Output(io.StringIO(), color=True).color_code("red") == "\x1b[31m"
    assert Output(io.StringIO(), color=True).color_code("reset") == "\x1b[0m"
    assert Output(io.StringIO(), color=False).color_code("red") == ""


def test_output_table_json_writes_table_generators_layout():
    from chisel.plugins import Output

    stream = io.StringIO()
    Output(stream).table_json(1_500_000_000, ["fd.name"], ["Filename"], "evt.rawarg.res", "Bytes",
                              [("/etc/x", 10)])
    assert stream.getvalue() == (
        '{\n  "ts":"1000000000",\n  "data":[["/etc/x",10]],\n  "info":[{\n'
        '      "name":"fd.name",\n      "desc":"Filename",\n      "is_key":true\n    },null,{\n'
        '      "name":"evt.rawarg.res",\n      "desc":"Bytes",\n      "is_key":false\n    }]\n}\n')


def test_count_and_io_events_are_public():
    import pytest

    from chisel.plugins import IO_EVENTS, count

    assert count("0") == 0 and count("12") == 12
    with pytest.raises(ValueError, match="negative count -1"):
        count("-1")
    assert {"read", "sendfile", "pwritev"} <= IO_EVENTS and "open" not in IO_EVENTS


def test_event_argument_fields_are_checked_with_sysdigs_words():
    import pytest

    from chisel.core.errors import UsageError
    from chisel.core.fields import registry

    reg = registry()
    with pytest.raises(UsageError, match=r"^evt.arg fields must be expressed explicitly: 'evt.rawarg\[0\]'"):
        reg.lookup("evt.rawarg[0]")
    with pytest.raises(UsageError) as exc:
        reg.lookup("evt.arg.foo")
    assert exc.value.message == "unknown event argument foo"
    with pytest.raises(UsageError) as exc:
        reg.lookup("evt.rawarg.nme")
    assert exc.value.message == "unknown event argument nme; did you mean 'evt.rawarg.name'?"
    assert reg.lookup("evt.arg.fd")[1] == "fd"
    assert reg.lookup("evt.arg[0]")[1] == 0


def test_thread_cgroup_fields_match_sysdig():
    # TZ=UTC sysdig -r libs_curl_google.scap \
    #     -p '%evt.num %thread.cgroup.blkio %thread.cgroup.pids' evt.num=211
    fmt = "%evt.num %thread.cgroup.blkio %thread.cgroup.pids"
    code, out, _err = run("-r", CURL, "-p", fmt, "evt.num=211")
    assert (code, out) == (0, "211 /user.slice /user.slice/user-1000.slice\n")
    code, out, _err = run("-r", CURL, "-p", "%thread.cgroups", "evt.num=211")
    assert out == ("cpuset=/ cpu=/user.slice cpuacct=/user.slice blkio=/user.slice memory=/user.slice "
                   "devices=/user.slice freezer=/ net_cls=/ perf_event=/ net_prio=/ hugetlb=/ "
                   "pids=/user.slice/user-1000.slice\n")


def test_a_word_followed_by_an_operator_reads_as_a_field():
    from chisel.core.cli import parse_chisel_words

    def no_chisel(ref):
        raise AssertionError(f"{ref} taken as a chisel")

    assert parse_chisel_words(["myplugin.count", ">", "3"], no_chisel) == \
        (None, {}, "myplugin.count > 3")
    assert parse_chisel_words(["file.name", "contains", "/etc"], no_chisel) == \
        (None, {}, "file.name contains /etc")
    # a chisel name followed by a filter starting with `not` stays a chisel
    ref, _values, text = parse_chisel_words(["echo_fds", "not", "proc.name=sh"], lambda r: ((), r))
    assert (ref, text) == ("echo_fds", "not proc.name=sh")
