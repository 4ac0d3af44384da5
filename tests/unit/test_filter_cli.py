"""The filter through the real command line: the caret error, and the blog post's examples."""

import io
import json
from pathlib import Path

import pytest

from chisel.core.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"

# The blog post's filters, each with the table filter whose sysdig 0.29.3 answers it must give
# ('file.name' is not a sysdig field: we read it as fd.name, so sysdig answered the fd.name form).
BLOG_EXAMPLES = {
    "evt.type=open and proc.name=evilproc and file.name contains /etc":
        "evt.type=open and proc.name=evilproc and fd.name contains /etc",
    "evt.type=connect and fd.port=80": "evt.type=connect and fd.port=80",
    "evt.type=connect and fd.sip!=127.0.0.1": "evt.type=connect and fd.sip!=127.0.0.1",
    "evt.is_io=true": "evt.is_io=true",
    "evt.type in (open, openat)": "evt.type in (open, openat)",
}
CAPTURES = ("falco_cat_write", "falco_connect_localhost", "libs_curl_google")


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, env={"TZ": "UTC"})
    return code, out.getvalue(), err.getvalue()


def expand(ranges):
    nums = []
    for part in ranges.split():
        first, _, last = part.partition("-")
        nums.extend(range(int(first), int(last or first) + 1))
    return nums


@pytest.mark.parametrize("capture", CAPTURES)
@pytest.mark.parametrize("blog_filter", sorted(BLOG_EXAMPLES))
def test_blog_examples_print_what_sysdig_prints(blog_filter, capture):
    expected = json.loads((DATA / "filters" / "expected" / f"{capture}.json").read_text())
    code, out, _err = run("-r", str(DATA / "scap" / f"{capture}.scap"), "-p", "%evt.num", blog_filter)
    assert code == 0
    assert [int(n) for n in out.split()] == expand(expected[BLOG_EXAMPLES[blog_filter]])


@pytest.mark.parametrize("argv, lines", [
    (["proc.nam=cat"], ["chisel: error: bad filter: unknown field 'proc.nam'; did you mean 'proc.name'?",
                        "proc.nam=cat", "^"]),
    (["evt.type=connect", "and", "fd.port", "contains", "8"],
     ["chisel: error: bad filter: 'contains' not supported for numeric field 'fd.port'",
      "evt.type=connect and fd.port contains 8", "                             ^"]),
    (["evt.type=open", "and"], ["chisel: error: bad filter: unexpected end of filter after 'and'",
                                "evt.type=open and", "                 ^"]),
])
def test_bad_filter_exits_2_with_the_filter_and_a_caret(argv, lines):
    code, out, err = run("-r", str(DATA / "scap" / "falco_cat_write.scap"), *argv)
    assert (code, out, err.splitlines()) == (2, "", lines)
