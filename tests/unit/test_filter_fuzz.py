"""Whatever the text, compiling a filter either succeeds or raises FilterError, never anything else."""

import string
import warnings

from filter_fakes import FIELD_TYPES, FakeRegistry, ev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chisel.core.filter import FilterError, compile_filter

REG = FakeRegistry()
VALID = [
    "evt.type=open and proc.name=evilproc and file.name contains /etc",
    "evt.type=connect and fd.port=80", "evt.type=connect and fd.sip!=127.0.0.1",
    "evt.is_io=true", "evt.type in (open, openat)", "not (proc.pid > 0x10 or fd.snet=10.0.0.0/8)",
    "proc.aname[2] startswith 'ba\\tsh' and evt.buffer bcontains 474554",
    "fd.name pmatch (/etc, \"/var/log\") or proc.name regex 'c.*'",
]
TOKENS = sorted(FIELD_TYPES) + [
    "(", ")", ",", "'", '"', "\\", "[", "]", " ", "and", "or", "not", "exists", "=", "==", "!=",
    "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith", "bstartswith",
    "endswith", "glob", "iglob", "regex", "in", "intersects", "pmatch", "0x", "1e9", "-1", "80",
    "127.0.0.1", "::1", "10.0.0.0/8", "true", "false", "/etc", "*", "'\\q'", "[2]", "file.name",
]
SAMPLE_EVENT = ev({"evt.type": "open", "proc.name": "cat", "evt.num": 3, "fd.port": (80, 1),
                   "fd.sip": "127.0.0.1", "evt.buffer": b"GET /", "fd.types": ["file"]})
SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compile_or_filter_error(text):
    try:
        compiled = compile_filter(text, REG)
    except FilterError as e:
        assert 0 <= e.pos <= len(text)
        assert e.detail_lines[1] == " " * e.pos + "^"
        return
    assert compiled.match(SAMPLE_EVENT) in (True, False)


@SETTINGS
@given(st.text(alphabet=string.printable + "éλ\x00", max_size=80))
def test_random_text(text):
    compile_or_filter_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.lists(st.sampled_from(["", " "]), max_size=14))
def test_token_soup(tokens, glue):
    text = "".join(t + (glue[i] if i < len(glue) else " ") for i, t in enumerate(tokens))
    compile_or_filter_error(text)


@SETTINGS
@given(st.sampled_from(VALID), st.integers(0, 200), st.integers(0, 5),
       st.text(alphabet=string.printable, max_size=4))
def test_mutated_valid_filters(base, where, cut, insert):
    where %= len(base) + 1
    compile_or_filter_error(base[:where] + insert + base[where + cut:])


def test_valid_filters_compile():
    for text in VALID:
        assert compile_filter(text, REG).match(SAMPLE_EVENT) in (True, False)


OPERATORS = ["=", "!=", "<", "<=", ">", ">=", " contains ", " icontains ", " bcontains ",
             " startswith ", " bstartswith ", " endswith ", " glob ", " iglob ", " regex ", " in ",
             " intersects ", " pmatch ", " exists"]
VALUES = ["1", "-1", "0x10", "1.5", "1e400", "99999999999999999999", "abc", "/etc", "127.0.0.1",
          "::1", "10.0.0.0/8", "true", "(1, 2)", "(a, 'b')", "()", "'x y'", "474554", "http", "'('"]


def real_field_names():
    from chisel.core.fields import registry

    names = registry().names()
    return names + [n + "[1]" for n in names] + [n + ".fd" for n in names] + [n + "[x]" for n in names]


@SETTINGS
@given(st.data())
def test_real_registry_checks(data):
    """Every real field with every operator and value kind compiles or fails with FilterError."""
    from chisel.core.fields import registry

    field = data.draw(st.sampled_from(real_field_names()))
    op = data.draw(st.sampled_from(OPERATORS))
    text = field + op + ("" if op == " exists" else data.draw(st.sampled_from(VALUES)))
    try:
        compile_filter(text, registry())
    except FilterError as e:
        assert 0 <= e.pos <= len(text)


@SETTINGS
@given(st.text(alphabet="ab*?[]!^\\-/&|~", max_size=12),
       st.sampled_from(["glob", "iglob", "regex"]))
def test_patterns_compile_without_warnings(pattern, op):
    """Glob sets never hand the regex engine '--' or '&&' (which warn); user regexes are quiet."""
    text = f"proc.name {op} '{pattern.replace(chr(92), chr(92) * 2)}'"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_or_filter_error(text)
