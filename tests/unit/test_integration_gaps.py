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
