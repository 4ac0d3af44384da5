"""Compiled filters on synthesized events: operators by field type, None rules, types, push-down."""

import pytest
from filter_fakes import FakeRegistry, ev

from chisel.core.filter import FilterError, compile_filter
from chisel.core.pushdown import PushDown

REG = FakeRegistry()


def matches(text, fields):
    return compile_filter(text, REG).match(ev(fields))


@pytest.mark.parametrize("text, fields, expected", [
    ("proc.name=cat", {"proc.name": "cat"}, True),
    ("proc.name==cat", {"proc.name": "cats"}, False),
    ("proc.name!=cat", {"proc.name": "dog"}, True),
    ("proc.name contains at", {"proc.name": "cat"}, True),
    ("proc.name icontains AT", {"proc.name": "cat"}, True),
    ("proc.name startswith ca", {"proc.name": "cat"}, True),
    ("proc.name endswith ca", {"proc.name": "cat"}, False),
    ("fd.name glob '/etc/*d'", {"fd.name": "/etc/x/passwd"}, True),
    ("fd.name glob '/etc/?'", {"fd.name": "/etc/ab"}, False),
    ("fd.name iglob '/ETC/*'", {"fd.name": "/etc/passwd"}, True),
    # glob is fnmatch(3): '^' negates a set like '!', ']' first is literal, '\\' escapes.
    ("proc.name glob 'c[^x]t'", {"proc.name": "cat"}, True),
    ("proc.name glob 'c[!a]t'", {"proc.name": "cat"}, False),
    ("proc.name glob '[]c]at'", {"proc.name": "]at"}, True),
    (r"proc.name glob 'c\\?t'", {"proc.name": "cat"}, False),
    (r"proc.name glob 'c\\?t'", {"proc.name": "c?t"}, True),
    ("proc.name glob 'c[at'", {"proc.name": "c[at"}, True),
    ("fd.name glob '*a*a*a*a*a*a*b'", {"fd.name": "a" * 5000}, False),  # linear, not exponential
    ("proc.name regex 'c.t'", {"proc.name": "cat"}, True),
    ("proc.name regex 'c.'", {"proc.name": "cat"}, False),
    ("proc.name in (bash, cat)", {"proc.name": "cat"}, True),
    ("proc.name intersects (bash, cat)", {"proc.name": "sh"}, False),
    ("fd.name pmatch (/etc, /var/log)", {"fd.name": "/var/log/syslog"}, True),
    ("fd.name pmatch (/etc, /var/log)", {"fd.name": "/etcx/passwd"}, False),
    ("fd.name pmatch (/etc/)", {"fd.name": "/etc"}, True),
    ("fd.name pmatch (/)", {"fd.name": "/tmp/x"}, True),
    ("proc.name > 5", {"proc.name": "cat"}, True),
    ("proc.name < 5", {"proc.name": "cat"}, False),
    ("proc.name exists", {"proc.name": "cat"}, True),
    ("evt.num=10", {"evt.num": 10}, True),
    ("evt.num=0x0a", {"evt.num": 10}, True),
    ("evt.num=1e1", {"evt.num": 10}, True),
    ("evt.num < 10.5", {"evt.num": 10}, True),
    ("evt.rawres <= -2", {"evt.rawres": -2}, True),
    ("evt.rawres > -2", {"evt.rawres": -2}, False),
    ("evt.num >= +10", {"evt.num": 10}, True),
    ("evt.num in (1, 10)", {"evt.num": 10}, True),
    ("thread.cpu > 0.25", {"thread.cpu": 0.5}, True),
    ("evt.is_io=true", {"evt.is_io": True}, True),
    ("evt.is_io=false", {"evt.is_io": True}, False),
    ("evt.is_io!=false", {"evt.is_io": 1}, True),
    ("fd.sip=127.0.0.1", {"fd.sip": "127.0.0.1"}, True),
    ("fd.sip=::1", {"fd.sip": "0:0::1"}, True),
    ("fd.sip=10.0.0.1", {"fd.sip": "::ffff:10.0.0.1"}, True),
    ("fd.sip=::ffff:10.0.0.1", {"fd.sip": "10.0.0.1"}, True),
    ("fd.sip in (10.0.0.1, 10.0.0.2)", {"fd.sip": "10.0.0.2"}, True),
    ("fd.snet=10.0.0.0/8", {"fd.snet": "10.1.2.3"}, True),
    ("fd.snet!=10.0.0.0/8", {"fd.snet": "10.1.2.3"}, False),
    ("fd.snet=10.0.0.0/8", {"fd.snet": "::1"}, False),
    ("fd.port=http", {"fd.port": (80, 40000)}, True),
    ("fd.sport < 1024", {"fd.sport": 443}, True),
    ("evt.buffer contains GET", {"evt.buffer": b"xGETy"}, True),
    ("evt.buffer icontains get", {"evt.buffer": b"xGETy"}, True),
    ("evt.buffer bcontains 474554", {"evt.buffer": b"xGETy"}, True),
    ("evt.buffer bstartswith 4745", {"evt.buffer": b"xGETy"}, False),
    ("evt.buffer = abc", {"evt.buffer": b"abc"}, True),
    ("proc.name bcontains 6174", {"proc.name": "cat"}, True),
    ("proc.aname[2]=bash", {"proc.aname[2]": "bash"}, True),
    ("proc.env[HOME]=/root", {"proc.env[HOME]": "/root"}, True),
    ("evt.arg.fd=3", {"evt.arg.fd": 3}, True),
])
def test_operator_on_field_type(text, fields, expected):
    assert matches(text, fields) is expected


@pytest.mark.parametrize("text", [
    "fd.name=/x", "fd.name!=/x", "fd.name contains x", "fd.name in (/x)", "fd.port!=80",
    "fd.port<80", "fd.sip!=1.2.3.4", "fd.snet!=10.0.0.0/8", "evt.is_io!=true",
    "evt.buffer bcontains 00", "fd.name pmatch (/)", "fd.name regex '.*'", "fd.name glob '*'",
])
def test_a_missing_field_makes_every_check_false(text):
    assert matches(text, {}) is False
    assert matches(f"not {text}", {}) is True


def test_either_endpoint_candidates():
    socket_to_80 = {"fd.port": (40000, 80), "fd.ip": ("10.0.0.1", "127.0.0.1")}
    socket_to_53 = {"fd.port": (40000, 53), "fd.ip": ("10.0.0.1", "10.0.0.2")}
    # '!=' is true only when no candidate equals, so '=' and '!=' split the socket events.
    assert [matches("fd.port=80", f) for f in (socket_to_80, socket_to_53)] == [True, False]
    assert [matches("fd.port!=80", f) for f in (socket_to_80, socket_to_53)] == [False, True]
    assert [matches("fd.ip!=127.0.0.1", f) for f in (socket_to_80, socket_to_53)] == [False, True]
    assert matches("fd.port!=80", {"fd.port": ()}) is False
    assert matches("fd.port > 50000", socket_to_80) is False


def test_list_fields_in_needs_all_intersects_needs_any():
    fields = {"fd.types": ["file", "ipv4"]}
    assert matches("fd.types in (file, ipv4, pipe)", fields) is True
    assert matches("fd.types in (file)", fields) is False
    assert matches("fd.types intersects (ipv4)", fields) is True
    assert matches("fd.types intersects (unix)", fields) is False


def test_boolean_logic_and_short_circuit():
    fields = {"proc.name": "cat", "evt.num": 5}
    assert matches("proc.name=cat and evt.num=5 and not evt.num=6", fields) is True
    assert matches("proc.name=dog or evt.num=5 or evt.num=7", fields) is True
    assert matches("not (proc.name=dog or evt.num=5)", fields) is False
    assert matches("not not proc.name=cat", fields) is True


def test_blog_examples_compile_and_file_name_warns():
    for text in ("evt.type=connect and fd.port=80", "evt.type=connect and fd.sip!=127.0.0.1",
                 "evt.is_io=true", "evt.type in (open, openat)"):
        assert compile_filter(text, REG).warnings == ()
    compiled = compile_filter("evt.type=open and proc.name=evilproc and file.name contains /etc", REG)
    assert compiled.warnings == ("'file.name' is not a sysdig field; using 'fd.name'",)
    assert compiled.match(ev({"evt.type": "open", "proc.name": "evilproc", "fd.name": "/etc/passwd"}))
    assert not compiled.match(ev({"evt.type": "open", "proc.name": "evilproc", "fd.name": "/tmp"}))


@pytest.mark.parametrize("text, pos, why", [
    ("proc.nam=cat", 0, "unknown field 'proc.nam'; did you mean 'proc.name'?"),
    ("evt.type=open and fd.nme=x", 18, "unknown field 'fd.nme'; did you mean 'fd.name'?"),
    ("fd.port contains 8", 8, "'contains' not supported for numeric field 'fd.port'"),
    ("evt.num contains 8", 8, "'contains' not supported for numeric field 'evt.num'"),
    ("evt.buffer < 3", 11, "'<' not supported for buffer field 'evt.buffer'"),
    ("evt.is_io glob x", 10, "'glob' not supported for boolean field 'evt.is_io'"),
    ("fd.sip pmatch (x)", 7, "'pmatch' not supported for IP address field 'fd.sip'"),
    ("evt.num=abc", 8, "'abc' is not a number, as numeric field 'evt.num' needs"),
    ("evt.num in (1, x)", 15, "'x' is not a number, as numeric field 'evt.num' needs"),
    ("fd.port=nosuchservice", 8, "'nosuchservice' is neither a port number nor a service name such as http"),
    ("evt.is_io=1", 10, "'1' is not a boolean; use true or false"),
    ("fd.sip=1.2.3", 7, "'1.2.3' is not an IPv4 or IPv6 address"),
    ("fd.snet=10.0.0.0/33", 8, "'10.0.0.0/33' is not a network such as 10.0.0.0/8"),
    ("evt.buffer bcontains 4G", 21, "'bcontains' takes hex bytes such as 474554, not '4G'"),
    ("evt.buffer bcontains 474", 21, "'bcontains' takes hex bytes such as 474554, not '474'"),
    ("proc.name glob '[z-a]'", 15, "bad glob pattern: bad character range z-a"),
    ("proc.name regex '('", 16, "bad regular expression: missing ), unterminated subpattern at position 0"),
])
def test_compile_errors_point_at_the_token(text, pos, why):
    with pytest.raises(FilterError) as info:
        compile_filter(text, REG)
    assert (info.value.pos, info.value.why) == (pos, why)
    assert info.value.detail_lines == (text, " " * pos + "^")


@pytest.mark.parametrize("text, expected", [
    ("evt.type=open", {"open"}),
    ("evt.type in (open, openat)", {"open", "openat"}),
    ("evt.type.is.open=1", {"open"}),
    ("evt.type=open or evt.type=read", {"open", "read"}),
    ("evt.type in (open, read) and evt.type in (read, write)", {"read"}),
    ("evt.type=open and proc.name=cat", {"open"}),
    ("not not evt.type=open", {"open"}),
    ("evt.type startswith open", {"open", "openat", "openat2", "open_by_handle_at"}),
    ("evt.type regex '(read|write)v?' and proc.name=cat", {"read", "readv", "write", "writev"}),
    ("evt.type contains unknown", {"syscall"}),  # generic events of unnamed syscalls
    ("not evt.type startswith open", None),
    ("evt.type=open or proc.name=cat", None),
    ("not (evt.type=open and proc.name=cat)", None),
    ("proc.name=cat", None),
    ("not proc.name=cat", None),
])
def test_event_types(text, expected):
    types = compile_filter(text, REG).event_types
    assert types == (None if expected is None else frozenset(expected))


def test_not_event_type_is_the_complement_with_generic_syscall_names():
    from chisel.core.event import model
    from chisel.core.syscalls import PPM_SC_NAMES

    types = compile_filter("evt.type!=read", REG).event_types
    assert "read" not in types and "write" in types and "syscall" in types and "getuid" in types
    assert types == ((model().names | set(PPM_SC_NAMES[1:])) - {"read"}) | {"syscall"}
    assert compile_filter("not evt.type=read", REG).event_types == types
    assert compile_filter("evt.type=read and not evt.type=read", REG).event_types == frozenset()


@pytest.mark.parametrize("text, expected", [
    ("proc.pid=42", PushDown(pids=frozenset({42}))),
    ("proc.pid in (1, 2) and thread.tid=3 and user.uid=0",
     PushDown(pids=frozenset({1, 2}), tids=frozenset({3}), uids=frozenset({0}))),
    ("evt.type=open and proc.name=cat and fd.name in (/etc/passwd, /etc/group)",
     PushDown(event_types=frozenset({"open"}), comms=frozenset({"cat"}),
              fd_names=frozenset({"/etc/passwd", "/etc/group"}))),
    ("file.name=/etc/passwd", PushDown(fd_names=frozenset({"/etc/passwd"}))),
    ("proc.pid=1 or proc.pid=2", PushDown(pids=frozenset({1, 2}))),
    ("(proc.pid=1 and proc.name=a) or proc.pid=2", PushDown(pids=frozenset({1, 2}))),
    ("proc.pid in (1, 2) and proc.pid in (2, 3)", PushDown(pids=frozenset({2}))),
    ("proc.pid=1 or proc.name=cat", PushDown()),
    ("not proc.pid=1", PushDown()),
    ("proc.pid!=1", PushDown()),
    ("proc.pid=0x10", PushDown(pids=frozenset({16}))),
    ("proc.pid=1.5", PushDown()),
    ("proc.name=a_very_long_process_name", PushDown()),
])
def test_pushdown(text, expected):
    assert compile_filter(text, REG).pushdown == expected


def test_event_type_checks_use_the_event_id_and_extract_only_for_generic_events():
    class CountingEvent:
        def __init__(self, name, etype):
            self.type, self.name, self.calls = etype, name, 0

        def get(self, key):
            self.calls += 1
            return self.name if key == "evt.type" else None

    from chisel.core.event import model

    open_event = CountingEvent("open", model().ids_for_name("open")[0])
    getuid_event = CountingEvent("getuid", model().ids_for_name("syscall")[0])  # generic
    for text, expected in (("evt.type=open", [True, False]), ("evt.type!=open", [False, True]),
                           ("evt.type in (getuid, open)", [True, True])):
        flt = compile_filter(text, REG)
        assert [flt.match(open_event), flt.match(getuid_event)] == expected
    assert (open_event.calls, getuid_event.calls) == (0, 3)


@pytest.mark.parametrize("text, pos, why", [
    # sysdig 0.29 silently accepts these and matches nothing (tests/data/README.md).
    ("notproc.name=cat", 0, "unknown field 'notproc.name'; did you mean 'proc.name'?"),
    ("proc.name=cat andproc.name=x", 17, "expected a blank or '(' after 'and'"),
])
def test_sysdig_029_silent_acceptances_are_errors(text, pos, why):
    with pytest.raises(FilterError) as info:
        compile_filter(text, REG)
    assert (info.value.pos, info.value.why) == (pos, why)


def test_conjunctions_test_event_type_first():
    class RecordingEvent:
        def __init__(self):
            self.type, self.asked = model_ids("read")[0], []

        def get(self, key):
            self.asked.append(key)
            return "cat" if key == "proc.name" else None

    event = RecordingEvent()
    assert compile_filter("proc.name=cat and fd.name exists and evt.type=open", REG).match(event) is False
    assert event.asked == []  # evt.type (decided on the id) rejected it before any extraction


def model_ids(name):
    from chisel.core.event import model

    return model().ids_for_name(name)


@pytest.mark.parametrize("text, fields, expected", [
    # sysdig casts the right side to the field's C type (checked with sysdig 0.29.3).
    ("evt.num > -1", {"evt.num": 5}, False),          # UINT64: -1 is 2**64-1
    ("user.uid = -1", {"user.uid": 4294967295}, True),  # UINT32
    ("evt.rawres > -5", {"evt.rawres": -2}, True),     # INT64 keeps its sign
    ("evt.num < 1.5", {"evt.num": 1}, True),           # fractions are not cast
])
def test_numbers_take_the_field_width(text, fields, expected):
    assert matches(text, fields) is expected
