"""Shared rendering helpers against sysdig's common.lua and table_generator output."""

import io

import pytest

from chisel.core.render import (
    Column,
    Output,
    extend_string,
    format_bytes,
    format_time_interval,
    table_lines,
)

KB, MB, GB, TB, PB = 1024, 1024 ** 2, 1024 ** 3, 1024 ** 4, 1024 ** 5


@pytest.mark.parametrize("n, text", [
    (0, "0B"),
    (92, "92B"),
    (832, "832B"),
    (1024, "1024B"),          # strict '>': exactly 1 KiB stays in bytes
    (1025, "1.00KB"),
    (4096, "4.00KB"),
    (11582, "11.31KB"),       # libs_curl_google topconns row
    (MB, "1024.00KB"),
    (MB + 1, "1.00M"),
    (int(1.5 * MB), "1.50M"),
    (GB, "1024.00M"),
    (3 * GB, "3.00G"),
    (2 * TB, "2.00T"),
    (5 * PB, "5.00P"),
])
def test_format_bytes_matches_sysdig(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("ns, text", [
    (0, "0ns"),
    (999, "999ns"),
    (1000, "1.00us"),
    (3409, "3.40us"),          # truncated, not rounded
    (10_000, "10us"),
    (999_999, "999us"),
    (1_000_000, "1.00ms"),
    (2_059_000, "2.05ms"),
    (10_000_000, "10ms"),
    (999_999_999, "999ms"),
    (1_000_000_000, "1.00s"),
    (1_109_999_999, "1.10s"),
    (61_500_000_000, "61.50s"),
])
def test_format_time_interval_matches_sysdig(ns, text):
    assert format_time_interval(ns) == text


def test_extend_string_pads_and_keeps_a_separating_space():
    assert extend_string("tcp", 6) == "tcp   "
    assert extend_string("abcdef", 6) == "abcde "
    assert extend_string("abcdefgh", 6) == "abcde "


def test_table_lines_reproduce_topconns_layout():
    cols = [Column("Bytes", format_bytes), Column("Proto"), Column("Conn")]
    lines = table_lines(cols, [(11582, "tcp", "a:1->b:80"), (92, "udp", None)])
    assert lines == [
        "Bytes               Proto               Conn                ",
        "-" * 80,
        "11.31KB             tcp                 a:1->b:80",
        "92B                 udp                 <NA>",
    ]


def test_table_lines_cut_long_cells_but_not_the_last_column():
    cols = [Column("NAME", width=6), Column("PATH")]
    assert table_lines(cols, [("abcdefgh", "/very/long/path/name")])[2] == "abcde /very/long/path/name"


def test_right_aligned_column():
    assert table_lines([Column("N", width=6, align=">"), Column("X")], [(42, "x")])[2] == "   42 x"


def test_table_rejects_a_row_of_the_wrong_length():
    with pytest.raises(ValueError, match="row has 1 cells for 2 columns"):
        table_lines([Column("A"), Column("B")], [(1,)])


def test_output_colours_only_on_a_terminal():
    plain = Output(io.StringIO(), is_tty=False)
    tty = Output(io.StringIO(), is_tty=True)
    forced_off = Output(io.StringIO(), is_tty=True, color=False)
    assert plain.color("x", "red") == "x"
    assert tty.color("x", "red") == "\x1b[31mx\x1b[0m"
    assert forced_off.color("x", "blue") == "x"


def test_output_clear_screen_and_json():
    buf = io.StringIO()
    out = Output(buf, is_tty=False)
    out.clear_screen()
    out.json({"data": [["a", 1]], "raw": b"\xffok"})
    out.line("done")
    assert buf.getvalue() == '{"data": [["a", 1]], "raw": "\\\\xffok"}\ndone\n'
