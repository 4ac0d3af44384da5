"""decode_param / encode_param: every wire type decodes to the documented Python value and back."""

import pytest

from chisel.core.event import Event, model
from chisel.core.params import (
    AF_INET, AF_INET6, AF_UNIX, decode_value, encode_param, encode_params,
)

OPEN_X = model().ids_for_name("open")[1]


def test_open_exit_decodes_each_param():
    ev = Event(1, 2, OPEN_X, encode_params(OPEN_X, [3, "/etc/passwd", 0x1, 0o644, 0x803]))
    assert [ev.param(i) for i in range(5)] == [3, "/etc/passwd", 1, 0o644, 0x803]
    assert ev.arg("name") == "/etc/passwd"


def test_missing_param_is_none():
    ev = Event(1, 2, OPEN_X, [encode_param("PT_FD", -2)])
    assert ev.param(0) == -2
    assert ev.param(1) is None
    assert ev.param(99) is None


@pytest.mark.parametrize(("ptype", "value", "wire"), [
    ("PT_INT8", -1, b"\xff"),
    ("PT_INT16", -2, b"\xfe\xff"),
    ("PT_UINT16", 65535, b"\xff\xff"),
    ("PT_INT32", -3, b"\xfd\xff\xff\xff"),
    ("PT_UINT32", 0xDEADBEEF, b"\xef\xbe\xad\xde"),
    ("PT_ERRNO", -2, b"\xfe" + b"\xff" * 7),
    ("PT_FD", -100, (-100).to_bytes(8, "little", signed=True)),
    ("PT_PID", 1234, (1234).to_bytes(8, "little")),
    ("PT_UINT64", 2**64 - 1, b"\xff" * 8),
    ("PT_FLAGS32", 0x241, b"\x41\x02\x00\x00"),
    ("PT_MODE", 0o755, (0o755).to_bytes(4, "little")),
    ("PT_SIGSET", 1 << 16, (1 << 16).to_bytes(4, "little")),
    ("PT_SYSCALLID", 260, b"\x04\x01"),
    ("PT_CHARBUF", "héllo", "héllo".encode() + b"\0"),
    ("PT_FSPATH", "/tmp/x", b"/tmp/x\0"),
    ("PT_CHARBUF", "(NULL)", b"(NULL)\0"),
    ("PT_BYTEBUF", b"a\0b", b"a\0b"),
    ("PT_SOCKADDR", (AF_INET, "10.1.2.3", 80), b"\x02\x0a\x01\x02\x03\x50\x00"),
    ("PT_SOCKADDR", (AF_INET6, "::1", 443), b"\x0a" + b"\0" * 15 + b"\x01\xbb\x01"),
    ("PT_SOCKADDR", (AF_UNIX, "/run/s"), b"\x01/run/s\0"),
    ("PT_SOCKTUPLE", (AF_INET, "127.0.0.1", 40000, "127.0.0.1", 8080),
     b"\x02\x7f\0\0\x01\x40\x9c\x7f\0\0\x01\x90\x1f"),
    ("PT_SOCKTUPLE", (AF_UNIX, 0xFFFF1, 0xFFFF2, "/x"),
     b"\x01" + (0xFFFF1).to_bytes(8, "little") + (0xFFFF2).to_bytes(8, "little") + b"/x\0"),
    ("PT_FDLIST", ((3, 1), (-1, 4)),
     b"\x02\x00" + (3).to_bytes(8, "little") + b"\x01\x00" + b"\xff" * 8 + b"\x04\x00"),
    ("PT_IPV4ADDR", "192.168.0.1", b"\xc0\xa8\x00\x01"),
    ("PT_BOOL", True, b"\x01\0\0\0"),
])
def test_round_trip_exact_wire(ptype, value, wire):
    assert encode_param(ptype, value) == wire
    assert decode_value(ptype, wire) == value


def test_text_keeps_undecodable_bytes():
    raw = b"a\xffb\0"
    assert decode_value("PT_CHARBUF", raw) == "a\udcffb"
    assert encode_param("PT_CHARBUF", "a\udcffb") == raw


def test_text_stops_at_first_nul_like_sysdig():
    assert decode_value("PT_CHARBUF", b"ab\0cd\0") == "ab"


def test_empty_values():
    assert decode_value("PT_CHARBUF", b"") == ""
    assert decode_value("PT_SOCKADDR", b"") is None
    assert decode_value("PT_SOCKTUPLE", b"") is None
    assert decode_value("PT_FD", b"") is None
    assert decode_value("PT_FDLIST", b"") == ()


def test_odd_width_integer_still_decodes():
    assert decode_value("PT_FD", b"\xff\xff\xff\xff") == -1
    assert decode_value("PT_UINT32", b"\x01\x02") == 0x201


def test_unknown_family_keeps_bytes():
    assert decode_value("PT_SOCKADDR", b"\x10abc") == (16, b"abc")


def test_truncated_fdlist_is_cut_to_present_entries():
    wire = encode_param("PT_FDLIST", ((3, 1), (4, 1)))
    assert decode_value("PT_FDLIST", wire[:-3]) == ((3, 1),)


def test_dyn_param_uses_its_table():
    setsockopt_x = model().ids_for_name("setsockopt")[1]
    info = model().events[setsockopt_x]
    i = info.param_index["val"]
    table = info.params[i].table
    wire = encode_param("PT_DYN", (2, 4096), table)
    assert wire == b"\x02\x00\x10\x00\x00"
    assert decode_value("PT_DYN", wire, table) == (2, 4096)
    assert decode_value("PT_DYN", b"\x07zz", table) == (7, b"zz")
    raw = [b""] * len(info.params)
    raw[i] = wire
    assert Event(0, 1, setsockopt_x, raw).param(i) == (2, 4096)


def test_every_parameter_of_the_real_captures_decodes_to_its_documented_type():
    from pathlib import Path

    from chisel.core.scap_reader import ScapReader

    kinds = {"PT_CHARBUF": str, "PT_FSPATH": str, "PT_FSRELPATH": str, "PT_BYTEBUF": bytes,
             "PT_FD": int, "PT_ERRNO": int, "PT_PID": int, "PT_FLAGS32": int, "PT_UINT64": int,
             "PT_SOCKTUPLE": (tuple, type(None)), "PT_SOCKADDR": (tuple, type(None)),
             "PT_FDLIST": tuple, "PT_DYN": tuple}
    seen = set()
    total = 0
    for path in sorted((Path(__file__).parent.parent / "data" / "scap").glob("*.scap")):
        for ev in ScapReader(path).events():
            params = ev.info.params + ev.info.extra_params
            for i in range(len(ev.raw)):
                value = ev.param(i)
                total += 1
                ptype = params[i].ptype if i < len(params) else None
                if ptype in kinds and ev.raw[i]:
                    assert isinstance(value, kinds[ptype]), (path.stem, ev, i, value)
                    seen.add(ptype)
    assert total == 37586
    assert seen == set(kinds) - {"PT_DYN", "PT_FSRELPATH"}  # no capture here carries those two
