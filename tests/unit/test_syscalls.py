"""PPM_SC and x86_64 syscall tables, checked against the generic events of the real captures."""

import re
from pathlib import Path

import pytest

from chisel.core.scap_reader import ScapReader
from chisel.core.syscalls import (
    PPM_SC_NAMES, UNKNOWN, native_name, native_number, ppm_sc_name,
)

DATA = Path(__file__).parent.parent / "data"
LINE = re.compile(r"^(\d+) \S+ \d+ .*? \(\d+\) [<>] (\S+)")


def test_table_landmarks():
    assert len(PPM_SC_NAMES) == 320
    assert (ppm_sc_name(0), ppm_sc_name(3), ppm_sc_name(176), ppm_sc_name(298)) == (
        UNKNOWN, "read", "clock_gettime", "sigreturn")
    assert (ppm_sc_name(240), ppm_sc_name(313), ppm_sc_name(5000), ppm_sc_name(None)) == (
        "getdents64", "getresgid", UNKNOWN, UNKNOWN)


def test_native_x86_64():
    assert (native_name(0), native_name(228), native_name(435), native_name(400)) == (
        "read", "clock_gettime", "clone3", None)
    assert (native_number("openat"), native_number("nope")) == (257, None)


def test_generic_enter_codes_agree_with_native_numbers():
    """Both codes of every generic enter event in the captures name the same syscall."""
    pairs = set()
    for path in sorted((DATA / "scap").glob("*.scap")):
        pairs |= {(ev.param(0), ev.param(1)) for ev in ScapReader(path).events() if ev.type == 0}
    assert len(pairs) == 26
    renamed = {"rt_sigreturn": "sigreturn"}  # the PPM_SC table's own spelling
    for code, nr in pairs:
        if code == 0:
            continue  # the driver had no PPM_SC code for it (fadvise64): printed '<unknown>'
        assert ppm_sc_name(code) == renamed.get(native_name(nr), native_name(nr)), (code, nr)


@pytest.mark.parametrize("path", sorted((DATA / "scap").glob("*.scap")), ids=lambda p: p.stem)
def test_every_generic_name_sysdig_printed(path):
    events = {ev.num: ev for ev in ScapReader(path).events() if ev.type in (0, 1)}
    text = (DATA / "sysdig-0.29" / f"{path.stem}.default.txt").read_text(errors="replace")
    for m in filter(None, map(LINE.match, text.split("\n"))):
        ev = events.get(int(m[1]))
        if ev is not None:
            assert ppm_sc_name(ev.param(0)) == m[2], m[0]
