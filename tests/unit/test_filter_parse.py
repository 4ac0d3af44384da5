"""The filter grammar: precedence, blank rules, values, lists, escapes and positioned errors."""

import pytest

from chisel.core.errors import UsageError
from chisel.core.filter import FilterError, parse
from chisel.core.filter.parse import And, Check, Not, Or, Value


def test_precedence_is_or_then_and_then_not():
    tree = parse("a.b=1 or not c.d=2 and e.f=3")
    assert tree == Or((
        Check("a.b", 0, "=", 3, Value("1", 4)),
        And((Not(Check("c.d", 13, "=", 16, Value("2", 17)), 9),
             Check("e.f", 23, "=", 26, Value("3", 27))), 9),
    ), 0)


def test_parentheses_and_not_without_blank():
    tree = parse("not(a.b=1 or c.d=2)")
    assert isinstance(tree, Not) and isinstance(tree.child, Or)
    assert parse("a.b=1 and(c.d=2)") == And((Check("a.b", 0, "=", 3, Value("1", 4)),
                                            Check("c.d", 10, "=", 13, Value("2", 14))), 0)


def test_each_not_flips():
    tree = parse("not not a.b=1")
    assert tree == Not(Not(Check("a.b", 8, "=", 11, Value("1", 12)), 4), 0)


def test_field_arguments_and_dotted_suffixes():
    assert parse("proc.aname[2]=bash").field == "proc.aname[2]"
    assert parse("proc.env['HOME'] = /root").field == "proc.env[HOME]"
    assert parse("evt.arg.fd exists") == Check("evt.arg.fd", 0, "exists", 11, None)
    assert parse("evt.type.is.open=1").field == "evt.type.is.open"


def test_values_bare_quoted_and_escaped():
    assert parse("proc.name=tmux").value == Value("tmux", 10)
    assert parse("proc.name='tmux: client'").value == Value("tmux: client", 10, True)
    assert parse(r'fd.name="a\"b\tc\\d\/e"').value.text == 'a"b\tc\\d/e'
    assert parse(r"fd.name='it\'s'").value.text == "it's"


def test_bare_value_ends_at_blank_paren_quote_equals_or_comma():
    tree = parse("(proc.name=cat)")
    assert tree.value == Value("cat", 11)


def test_lists_with_optional_blanks_and_empty_list():
    tree = parse("evt.type in (open,openat , 'openat2')")
    assert [v.text for v in tree.value] == ["open", "openat", "openat2"]
    assert parse("evt.type in ()").value == ()
    assert parse("evt.type in (open, )").value == (Value("open", 13),)
    assert parse("fd.name pmatch(/etc)").value == (Value("/etc", 15),)


def test_numbers_for_ordering_operators():
    for number in ("10", "-3", "+2.5", "1e9", "2.5E-3", "0x1F"):
        assert parse(f"evt.num < {number}").value.text == number


@pytest.mark.parametrize("text, pos, why", [
    ("", 0, "the filter is empty"),
    ("   ", 3, "the filter is empty"),
    ("x", 0, "unexpected identifier 'x'; a field name such as 'proc.name' was expected"),
    ("a.b=1 andc.d=2", 9, "expected a blank or '(' after 'and'"),
    ("a.b=1 orc.d=2", 8, "expected a blank or '(' after 'or'"),
    ("a.b=1 and", 9, "unexpected end of filter after 'and'"),
    ("(a.b=1", 6, "expected a ')' to close the '(' at index 0"),
    ("a.b=1)", 5, "unexpected ')'; expecting 'and', 'or' or the end of the filter"),
    ("a.b contains(x)", 12, "expected a blank after 'contains'"),
    ("a.b in x", 7, "expected a '(' list after 'in', such as in (a, b)"),
    ("a.b in (x y)", 10, "expected ',' or ')' in the value list"),
    ("evt.time > 10:00", 11, "expected a number after the comparison but found '10:00'"),
    ("a.b='x\\qy'", 6, "unsupported string escape sequence '\\q'"),
    ("a.b=\"it\\'s\"", 7, "unsupported string escape sequence '\\''"),
    ("a.b='open", 4, "unterminated string starting with '"),
    ("a.b=", 4, "expected a value but the filter ended"),
    ("proc.aname[]=x", 11, "expected a field argument inside '[ ]'"),
])
def test_errors_name_the_position(text, pos, why):
    with pytest.raises(FilterError) as info:
        parse(text)
    assert (info.value.pos, info.value.why) == (pos, why)
    assert info.value.message == f"bad filter: {why}"
    assert info.value.detail_lines == (text, " " * pos + "^")


def test_unknown_operator_lists_the_operators():
    with pytest.raises(FilterError) as info:
        parse("proc.name ~ x")
    assert info.value.pos == 10
    assert info.value.why.startswith(
        "expected an operator after 'proc.name' but found '~'; operators are exists, <=")


def test_error_is_a_usage_error_and_caret_ignores_tabs():
    with pytest.raises(UsageError) as info:
        parse("a.b=1\tand\tx")
    assert info.value.exit_code == 2
    assert info.value.detail_lines == ("a.b=1 and x", "          ^")


def test_depth_cap_is_100():
    parse("(" * 100 + "a.b=1" + ")" * 100)
    with pytest.raises(FilterError) as info:
        parse("(" * 101 + "a.b=1" + ")" * 101)
    assert info.value.why == "parentheses nest deeper than 100"
    assert info.value.pos == 100
