"""Field registry and extractors: lookup, errors, listing, and values checked against sysdig 0.29.3.

The goldens in tests/data/fields/ are sysdig's own `-p` output for the bundled captures (see
tests/data/fields/generate.sh); each test replays a capture through the scap reader and the state
engine, extracts the same fields and compares the text event by event.
"""

import gzip
from pathlib import Path

import pytest

from chisel.core.errors import UsageError
from chisel.core.event import Event, model
from chisel.core.fields import FieldDef, FieldRegistry, registry
from chisel.core.fields_base import BOUND
from chisel.core.threadinfo import FdInfo, ThreadInfo, UserInfo

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "fields"
NA = "<NA>"


# -- replaying a capture ------------------------------------------------------------------------
class _Timeline:
    """Keeps `first_ts` on the state, as the bound-state contract asks, when the state does not."""

    def __init__(self, state):
        self.state = state
        self.own = not hasattr(state, "first_ts")
        if self.own:
            state.first_ts = None

    def process(self, ev):
        st = self.state
        if self.own and st.first_ts is None and ev.info.name != "container":
            st.first_ts = ev.ts
        st.process(ev)


def _replay(name):
    """(events by evt.num, state) for a capture, each event processed and its fields cacheable."""
    from chisel.core.scap_reader import ScapReader  # noqa: PLC0415
    from chisel.core.state import State  # noqa: PLC0415

    reader = ScapReader(DATA / "scap" / f"{name}.scap")
    state = State(reader.snapshot)
    timeline = _Timeline(state)
    registry().bind_state(state, snapshot=reader.snapshot)
    return reader, timeline


def _golden(name, fieldset):
    with gzip.open(GOLDEN / f"{name}.{fieldset}.txt.gz", "rt") as f:
        lines = f.read().splitlines()
    fields = lines[0][2:].split()
    rows = {}
    for line in lines[1:]:
        values = line.split("\t")
        rows[int(values[0])] = values
    return fields, rows


def _text(fields_reg, field, ev):
    fdef, _ = fields_reg.lookup(field)
    value = fields_reg.extract(ev, field)
    if value is None:
        return NA
    if isinstance(value, bytes):
        return value.translate(_DOTS).decode("ascii")
    return fdef.format(value)


_DOTS = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))


def _mismatches(name, fieldset, skip=()):
    """{field: (evt.num, ours, sysdig's)} of the first difference per field."""
    fields, rows = _golden(name, fieldset)
    reader, timeline = _replay(name)
    reg = registry()
    wrong = {}
    seen = 0
    try:
        for ev in reader.events():
            timeline.process(ev)
            want = rows.get(ev.num)
            if want is None:
                continue
            seen += 1
            for i, field in enumerate(fields):
                if field in skip or field in wrong:
                    continue
                got = _text(reg, field, ev)
                if got != want[i]:
                    wrong[field] = (ev.num, got, want[i])
    finally:
        reader.close()
        BOUND.bind(None)
    assert seen == len(rows), f"{name}: replayed {seen} of sysdig's {len(rows)} events"
    return wrong


CAPTURES = ("falco_cat_write", "falco_connect_localhost", "falco_open-multiple-files",
            "falco_ping_sendto", "falco_syscall", "falco_psp_run_as_user_0_container",
            "libs_curl_google", "libs_sample", "libs_single_ipv6_conn", "libs_test_ipv6_client")

# Differences from sysdig that do not come from the field extractors, by reason. A field listed
# for a capture may differ there (on some events); any other difference fails the test.
# state: brk/mmap/switch memory and page-fault updates are not applied
_STATE_MEMORY = ("proc.vmsize", "proc.vmrss", "thread.vmsize", "thread.vmrss", "thread.pfminor",
                 "thread.pfmajor")
_STATE_IDS = ("proc.sid", "proc.vpgid", "proc.vpid", "thread.vtid", "proc.sname")  # state/reader:
# ids a capture does not record default to 0 / the pid, where sysdig keeps -1 (vpid/vtid: <NA>)
_STATE_PLACEHOLDER = ("proc.fdlimit", "proc.fdusage")  # placeholder threads: fdlimit 0, sysdig -1
_STATE_LATENCY = ("evt.latency", "evt.latency.ns", "evt.latency.human")  # state: a switch event
# replaces the thread's pending enter event, and the thread's last latency (which sysdig shows on
# switch events) is not kept
_SYSDIG_STALE_HUMAN = ("evt.latency.human",)  # sysdig shows a stale buffer on switch events
_STATE_FD_DEV = ("fd.dev", "fd.dev.major", "fd.dev.minor")  # state: device numbers only for files
_SYSDIG_GID = ("group.gid",)  # sysdig 0.29.3 prints garbage above the gid's 32 bits

KNOWN = {
    "falco_cat_write": _STATE_MEMORY + _STATE_IDS,
    "falco_connect_localhost": _STATE_IDS + _STATE_PLACEHOLDER + _STATE_FD_DEV,
    "falco_open-multiple-files": _STATE_MEMORY + _STATE_IDS + _STATE_LATENCY,
    "falco_ping_sendto": _STATE_IDS + _STATE_PLACEHOLDER,
    "falco_syscall": _STATE_IDS + _STATE_PLACEHOLDER,
    "falco_psp_run_as_user_0_container": _STATE_MEMORY + _STATE_IDS + _STATE_LATENCY
    + _SYSDIG_STALE_HUMAN + _STATE_FD_DEV + _SYSDIG_GID
    # fd 0 of a process from the capture's fd list is missing from the state's table
    + ("evt.buflen", "evt.category"),
    "libs_curl_google": _STATE_MEMORY + _STATE_IDS + _STATE_LATENCY + _STATE_FD_DEV + _SYSDIG_GID
    + ("proc.duration",),  # state: clone does not record the child's start time
    "libs_sample": _STATE_MEMORY + _SYSDIG_STALE_HUMAN + _SYSDIG_GID
    # reader: tty and loginuid of the new-format process list differ from sysdig's reading
    + ("proc.tty", "user.loginuid", "user.loginname"),
    "libs_single_ipv6_conn": _STATE_IDS + _STATE_PLACEHOLDER + _STATE_FD_DEV,
    "libs_test_ipv6_client": _STATE_MEMORY + _STATE_IDS + _STATE_LATENCY + _STATE_FD_DEV
    # fields: sysdig marks the sendto that names a UDP socket as renaming it, not the connect after
    + ("fd.name_changed",),
}


@pytest.fixture
def utc(monkeypatch):
    """The goldens were made with TZ=UTC; local-time fields must use it too."""
    import time  # noqa: PLC0415

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("fieldset", ("evt", "proc", "fd"))
def test_values_match_sysdig(name, fieldset, utc):
    wrong = _mismatches(name, fieldset)
    unexplained = {f: v for f, v in wrong.items() if f not in KNOWN[name]}
    assert unexplained == {}


def test_goldens_cover_every_captured_event():
    """Each golden has one row per event sysdig printed (the default output's count)."""
    for name in CAPTURES:
        default = (DATA / "sysdig-0.29" / f"{name}.default.txt").read_text().splitlines()
        for fieldset in ("evt", "proc", "fd"):
            _, rows = _golden(name, fieldset)
            assert len(rows) == len(default), (name, fieldset)


# -- lookup ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, name, arg", [
    ("fd.name", "fd.name", None),
    ("proc.aname[2]", "proc.aname", 2),
    ("proc.apid[1]", "proc.apid", 1),
    ("proc.apid", "proc.apid", None),
    ("evt.arg[0]", "evt.arg", 0),
    ("evt.arg.fd", "evt.arg", "fd"),
    ("evt.arg[fd]", "evt.arg", "fd"),
    ("evt.rawarg.res", "evt.rawarg", "res"),
    ("evt.type.is.open", "evt.type.is", "open"),
    ("proc.env[HOME]", "proc.env", "HOME"),
    ("proc.env", "proc.env", None),
])
def test_lookup_parses_names_and_arguments(text, name, arg):
    fdef, got = registry().lookup(text)
    assert (fdef.name, got) == (name, arg)


@pytest.mark.parametrize("text, message", [
    ("fd.nam", "unknown field 'fd.nam'; did you mean 'fd.name'?"),
    ("proc.nmae", "unknown field 'proc.nmae'; did you mean 'proc.name'?"),
    ("zzz.qqq", "unknown field 'zzz.qqq'; see chisel --list-fields"),
    ("evt.arg", "field 'evt.arg' needs an argument, as in evt.arg.fd"),
    ("evt.type.is", "field 'evt.type.is' needs an argument, as in evt.type.is.open"),
    ("proc.aname[x]", "bad argument for field 'proc.aname': 'x' is not a number; "
                      "write it as proc.aname[1]"),
    ("proc.aname[]", "field 'proc.aname' needs an argument in 'proc.aname[]', as in proc.aname[1]"),
    ("fd.name[1]", "field 'fd.name' takes no argument; drop the brackets in 'fd.name[1]'"),
    ("fd.nam[1]", "unknown field 'fd.nam'; did you mean 'fd.name'?"),
    ("evt.rawarg[0]", "evt.arg fields must be expressed explicitly: 'evt.rawarg[0]' takes a name, "
                      "not an index; write it as evt.rawarg.fd"),
])
def test_lookup_errors_are_usage_errors_with_a_hint(text, message):
    with pytest.raises(UsageError) as err:
        registry().lookup(text)
    assert err.value.message == message
    assert err.value.exit_code == 2


def test_register_rejects_a_taken_name_naming_both_classes():
    reg = FieldRegistry()
    reg.register(FieldDef("my.field", "UINT64", "one", lambda ev: 1, cls="mine"))
    with pytest.raises(UsageError) as err:
        reg.register(FieldDef("my.field", "CHARBUF", "two", lambda ev: "x", cls="theirs"))
    assert err.value.message == ("field 'my.field' (class theirs) is already defined (class mine); "
                                 "rename the plugin's field")


@pytest.mark.parametrize("name", ("nodot", "my field.x", "9x.y", "my.field[0]", "my."))
def test_register_rejects_names_a_filter_cannot_spell(name):
    with pytest.raises(UsageError) as err:
        FieldRegistry().register(FieldDef(name, "UINT64", "doc", lambda ev: 1, cls="mine"))
    assert err.value.message == (f"bad field name '{name}' (class mine): a field is dotted words "
                                 "such as 'myplugin.latency'; rename it")


def test_plugin_field_is_listed_and_extracted():
    reg = FieldRegistry()
    reg.register(FieldDef("my.double", "INT64", "twice the tid", lambda ev: ev.tid * 2, cls="mine"),
                 class_doc="A plugin's fields.")
    ev = _event("close", ">", [7], tid=21)
    assert reg.extract(ev, "my.double") == 42
    assert list(reg.classes()) == ["mine"]
    assert reg.format_field_list() == ("-------------------------------\n"
                                       "Field Class:                  mine\n"
                                       "Description:                  A plugin's fields.\n"
                                       "\n"
                                       "my.double                     twice the tid\n")


def test_text_getter_prints_as_sysdig():
    fd = FdInfo(3, "file", "/x", dev=0x55EA)
    ev = _event("close", ">", [3], fd=fd, fdnum=3)
    ev.enter = None
    reg = registry()
    assert [reg.text_getter(f)(ev) for f in ("fd.dev", "evt.latency.ns", "evt.is_io", "fd.sip")] \
        == ["55EA", "000000000", "false", None]


def test_getter_is_resolved_once_per_text():
    reg = registry()
    assert reg.getter("proc.aname[2]") is reg.getter("proc.aname[2]")


# -- listing --------------------------------------------------------------------------------------
def test_field_list_is_sysdig_style_by_class():
    text = registry().format_field_list(verbose=True)
    lines = text.splitlines()
    classes = [line.split()[-1] for line in lines if line.startswith("Field Class:")]
    assert classes == ["evt", "process", "user", "group", "fd"]
    col = " " * 23  # names are padded to 30 columns, as sysdig -l does
    assert f"evt.num{col}(Type: UINT64) sequence number of the event in the capture" in lines
    assert f"proc.aname[N]{col[6:]}(Type: CHARBUF) name of the Nth ancestor (proc.aname[0] is " \
        "the process)" in lines
    assert f"fd.ip{col}  (Type: IPADDR) (filter only) either endpoint's IP address" in lines


def test_field_list_markdown_has_a_table_per_class():
    text = registry().format_field_list(markdown=True)
    assert text.count("| Field | Type | Description |") == 5
    assert "| `evt.arg.NAME|[N]` | CHARBUF |" in text
    assert "| `fd.sip` | IPADDR | server IP address |" in text


def test_every_builtin_field_has_a_type_doc_and_class():
    builtin = [f for fdefs in registry().classes().values() for f in fdefs
               if f.cls in ("evt", "process", "user", "group", "fd")]
    assert len(builtin) == 148
    for fdef in builtin:
        assert fdef.ftype and fdef.doc and fdef.name.split(".")[0] in (
            "evt", "syscall", "proc", "thread", "user", "group", "fd")


# -- synthesized events ---------------------------------------------------------------------------
class _FakeState:
    """The part of State the fields use."""

    def __init__(self, threads, users=(), first_ts=None):
        self.threads = {t.tid: t for t in threads}
        self.users = {u.uid: u for u in users}
        self.groups = {}
        self.first_ts = first_ts

    def parent(self, thread):
        return self.threads.get(thread.ptid)


def _event(name, direction, values, tid=100, ts=1_000_000_000, thread=None, fd=None, fdnum=None):
    from chisel.core.params import encode_params  # noqa: PLC0415

    etype = next(i for i in model().ids_for_name(name) if model().events[i].dir == direction
                 and len(model().events[i].params) == len(values))
    ev = Event(ts, tid, etype, encode_params(etype, values), num=7)
    ev.thread, ev.fd, ev.fdnum = thread, fd, fdnum
    return ev


def _family():
    """init(1) -> bash(10) -> curl(20, with thread 21)."""
    init = ThreadInfo(1, ptid=0, comm="systemd")
    bash = ThreadInfo(10, ptid=1, comm="bash")
    bash.args, bash.exepath, bash.sid = ["-l"], "/bin/bash", 10
    curl = ThreadInfo(20, ptid=10, comm="curl")
    curl.exe, curl.args, curl.exepath = "curl", ["-6", "http://x"], "/usr/bin/curl"
    curl.env, curl.uid, curl.sid, curl.clone_ts = ["HOME=/home/u", "TERM=dumb"], 1000, 10, 500
    worker = ThreadInfo(21, pid=20, ptid=20, comm="worker")
    worker.fdtable = curl.fdtable
    return init, bash, curl, worker


@pytest.fixture
def family():
    threads = _family()
    registry().bind_state(_FakeState(threads, [UserInfo(1000, 1000, "u", "/home/u", "/bin/sh")],
                                     first_ts=400))
    yield threads
    BOUND.bind(None)


def test_proc_fields_walk_ancestors_from_the_main_thread(family):
    _, _, curl, worker = family
    ev = _event("close", ">", [3], tid=21, thread=worker)
    got = {f: ev.get(f) for f in ("proc.pid", "proc.ppid", "proc.name", "proc.pname",
                                  "proc.aname[0]", "proc.aname[1]", "proc.aname[2]",
                                  "proc.aname[3]", "proc.apid", "proc.apid[2]", "proc.aexe[1]",
                                  "proc.pexepath", "proc.acmdline[1]", "proc.sname",
                                  "proc.loginshellid", "proc.nthreads", "proc.nchilds",
                                  "thread.ismain", "thread.tid")}
    assert got == {"proc.pid": 20, "proc.ppid": 10, "proc.name": "worker", "proc.pname": "curl",
                   "proc.aname[0]": "curl", "proc.aname[1]": "bash", "proc.aname[2]": "systemd",
                   "proc.aname[3]": None, "proc.apid": (10, 1), "proc.apid[2]": 1,
                   "proc.aexe[1]": "bash", "proc.pexepath": "/usr/bin/curl",
                   "proc.acmdline[1]": "bash -l", "proc.sname": "bash", "proc.loginshellid": 10,
                   "proc.nthreads": 2, "proc.nchilds": 0, "thread.ismain": False,
                   "thread.tid": 21}


def test_proc_command_line_env_and_times(family):
    curl = family[2]
    ev = _event("close", ">", [3], tid=20, ts=1500, thread=curl)
    got = {f: ev.get(f) for f in ("proc.args", "proc.cmdline", "proc.exeline", "proc.cmdnargs",
                                  "proc.cmdlenargs", "proc.env", "proc.env[HOME]",
                                  "proc.env[NOPE]", "proc.duration", "proc.pid.ts",
                                  "proc.nchilds", "evt.reltime", "user.name", "user.shell",
                                  "user.loginuid", "group.name")}
    assert got == {"proc.args": "-6 http://x", "proc.cmdline": "curl -6 http://x",
                   "proc.exeline": "curl -6 http://x", "proc.cmdnargs": 2, "proc.cmdlenargs": 10,
                   "proc.env": "HOME=/home/u TERM=dumb", "proc.env[HOME]": "/home/u",
                   "proc.env[NOPE]": None, "proc.duration": 1000, "proc.pid.ts": 500,
                   "proc.nchilds": 1, "evt.reltime": 1100, "user.name": "u",
                   "user.shell": "/bin/sh", "user.loginuid": -1, "group.name": None}


def test_fields_without_a_thread_are_none_except_thread_tid():
    ev = _event("close", ">", [3], tid=55)
    assert [ev.get(f) for f in ("proc.name", "proc.apid", "user.uid", "fd.name", "thread.tid")] \
        == [None, None, None, None, 55]


def _socket(cip="10.0.0.1", cport=40000, sip="10.0.0.2", sport=80, is_server=False):
    fd = FdInfo(5, "ipv4", f"{cip}:{cport}->{sip}:{sport}")
    fd.cip, fd.cport, fd.sip, fd.sport, fd.l4proto, fd.is_server = cip, cport, sip, sport, "tcp", \
        is_server
    return fd


def test_filter_only_fields_give_both_endpoints_as_a_tuple():
    ev = _event("read", ">", [5, 100], fd=_socket(), fdnum=5)
    got = {f: ev.get(f) for f in ("fd.ip", "fd.port", "fd.net", "fd.proto", "fd.cnet", "fd.snet")}
    assert got == {"fd.ip": ("10.0.0.1", "10.0.0.2"), "fd.port": (40000, 80),
                   "fd.net": ("10.0.0.1", "10.0.0.2"), "fd.proto": (40000, 80),
                   "fd.cnet": ("10.0.0.1",), "fd.snet": ("10.0.0.2",)}
    for name in got:
        assert registry().lookup(name)[0].filter_only


def test_filter_only_fields_see_unknown_endpoints_as_zero():
    fd = FdInfo(5, "ipv6", "")
    ev = _event("close", ">", [5], fd=fd, fdnum=5)
    assert (ev.get("fd.ip"), ev.get("fd.port"), ev.get("fd.cip"), ev.get("fd.lnet")) == \
        (("::", "::"), (0, 0), None, ())
    fd.sip, fd.sport = "::1", 1234  # listening: only the server side is compared
    ev = _event("close", ">", [5], fd=fd, fdnum=5)
    assert (ev.get("fd.ip"), ev.get("fd.port")) == (("::1",), (1234,))


def test_socket_fields_and_local_end_from_the_role_without_interfaces():
    ev = _event("read", ">", [5, 100], fd=_socket(), fdnum=5, thread=ThreadInfo(100))
    got = {f: ev.get(f) for f in ("fd.num", "fd.type", "fd.typechar", "fd.l4proto", "fd.lip",
                                  "fd.rip", "fd.lport", "fd.rport", "fd.sockfamily",
                                  "fd.is_server", "fd.connected", "fd.uid", "fd.directory")}
    assert got == {"fd.num": 5, "fd.type": "ipv4", "fd.typechar": "4", "fd.l4proto": "tcp",
                   "fd.lip": "10.0.0.1", "fd.rip": "10.0.0.2", "fd.lport": 40000,
                   "fd.rport": 80, "fd.sockfamily": "ip", "fd.is_server": False,
                   "fd.connected": True, "fd.uid": "1005", "fd.directory": None}


def test_file_fields_and_open_flags():
    fd = FdInfo(3, "file", "/etc/passwd", ino=42, dev=(8 << 20) | 1)
    ev = _event("open", "<", [3, "/etc/passwd", 1 | 4, 0o755, 0], fd=fd, fdnum=3)
    got = {f: ev.get(f) for f in ("fd.name", "fd.directory", "fd.filename", "fd.ino",
                                  "fd.dev.major", "fd.dev.minor", "fd.name_changed",
                                  "evt.is_open_read", "evt.is_open_write", "evt.is_open_create",
                                  "evt.is_open_exec", "evt.res", "evt.rawres", "evt.failed",
                                  "evt.category", "evt.count.exit")}
    assert got == {"fd.name": "/etc/passwd", "fd.directory": "/etc", "fd.filename": "passwd",
                   "fd.ino": 42, "fd.dev.major": 8, "fd.dev.minor": 1, "fd.name_changed": True,
                   "evt.is_open_read": True, "evt.is_open_write": False,
                   "evt.is_open_create": True, "evt.is_open_exec": True, "evt.res": "SUCCESS",
                   "evt.rawres": 3, "evt.failed": False, "evt.category": "file",
                   "evt.count.exit": 1}
    assert registry().lookup("fd.dev")[0].format((8 << 20) | 1) == "800001"


def test_failed_open_names_the_path_it_tried():
    th = ThreadInfo(100)
    th.cwd = "/home/u"
    ev = _event("open", "<", [-2, "notes.txt", 1, 0, 0], thread=th)
    got = {f: ev.get(f) for f in ("fd.name", "fd.directory", "fd.filename", "fd.typechar",
                                  "evt.res", "evt.count.error", "evt.count.error.file")}
    assert got == {"fd.name": "/home/u/notes.txt", "fd.directory": "/home/u",
                   "fd.filename": None, "fd.typechar": "f", "evt.res": "ENOENT",
                   "evt.count.error": 1, "evt.count.error.file": 1}


def test_io_fields_on_a_read_exit():
    fd = FdInfo(4, "pipe", "")
    ev = _event("read", "<", [5, b"hello"], fd=fd, fdnum=4)
    got = {f: ev.get(f) for f in ("evt.buffer", "evt.buflen", "evt.is_io", "evt.is_io_read",
                                  "evt.is_io_write", "evt.io_dir", "evt.category", "evt.dir",
                                  "evt.type", "evt.type.is.read", "evt.type.is.open",
                                  "syscall.type", "evt.rawarg.res", "evt.source")}
    assert got == {"evt.buffer": b"hello", "evt.buflen": 5, "evt.is_io": True,
                   "evt.is_io_read": True, "evt.is_io_write": False, "evt.io_dir": "read",
                   "evt.category": "ipc", "evt.dir": "<", "evt.type": "read",
                   "evt.type.is.read": 1, "evt.type.is.open": 0, "syscall.type": "read",
                   "evt.rawarg.res": 5, "evt.source": "syscall"}


def test_evt_arg_shows_the_resolved_form():
    th = ThreadInfo(100)
    th.fdtable[3] = FdInfo(3, "file", "/etc/passwd")
    ev = _event("read", ">", [3, 100], thread=th, fd=th.fdtable[3], fdnum=3)
    assert (ev.get("evt.arg.fd"), ev.get("evt.arg[1]"), ev.get("evt.arg.name")) == \
        ("<f>/etc/passwd", "100", None)


def test_latency_and_its_forms():
    enter = _event("read", ">", [3, 100], ts=1_000)
    ev = _event("read", "<", [0, b""], ts=1_000 + 4_797)
    ev.enter = enter
    assert [ev.get(f) for f in ("evt.latency", "evt.latency.s", "evt.latency.ns",
                                "evt.latency.human")] == [4797, 0, 4797, "4.79us"]
    assert registry().lookup("evt.latency.ns")[0].format(4797) == "000004797"
    assert enter.get("evt.latency") == 0


@pytest.mark.parametrize("ns, text", [(0, "0ns"), (835, "835ns"), (1_000, "1.00us"),
                                      (56_060, "56us"), (1_006_181_253, "1.00s"),
                                      (214_000_000, "214ms")])
def test_human_duration(ns, text):
    from chisel.core.fields_evt import human_duration  # noqa: PLC0415

    assert human_duration(ns) == text


def test_deltatime_counts_from_the_previous_event_it_saw():
    registry().bind_state(None)
    events = [_event("close", ">", [3], ts=ts) for ts in (1_000, 1_250, 2_000)]
    assert [ev.get("evt.deltatime") for ev in events] == [0, 250, 750]


def test_times_are_local_text_and_iso8601_is_utc(utc):
    ev = _event("close", ">", [3], ts=1_690_557_262_753_887_343)
    got = {f: ev.get(f) for f in ("evt.time", "evt.time.s", "evt.datetime", "evt.datetime.s",
                                  "evt.time.iso8601", "evt.rawtime.s", "evt.rawtime.ns")}
    assert got == {"evt.time": "15:14:22.753887343", "evt.time.s": "15:14:22",
                   "evt.datetime": "2023-07-28 15:14:22.753887343",
                   "evt.datetime.s": "2023-07-28 15:14:22",
                   "evt.time.iso8601": "2023-07-28T15:14:22.753887343+0000",
                   "evt.rawtime.s": 1690557262, "evt.rawtime.ns": 753887343}


def test_abspath_resolves_dirfd_and_cwd():
    th = ThreadInfo(100)
    th.cwd = "/home/u"
    th.fdtable[5] = FdInfo(5, "directory", "/tmp")
    at_cwd = _event("openat", "<", [3, -100, "a/../b.txt", 1, 0, 0], thread=th)
    at_dir = _event("openat", "<", [4, 5, "x", 2, 0, 0], thread=th)
    absolute = _event("openat", "<", [6, 5, "/etc//hosts", 1, 0, 0], thread=th)
    unknown_dir = _event("openat", "<", [7, 9, "y", 1, 0, 0], thread=th)
    assert [e.get("evt.abspath") for e in (at_cwd, at_dir, absolute, unknown_dir)] == \
        ["/home/u/b.txt", "/tmp/x", "/etc/hosts", None]
    assert [e.get("evt.is_open_write") for e in (at_cwd, at_dir)] == [False, True]
    assert _event("close", ">", [3], thread=th).get("evt.abspath") is None


# -- through the filter ---------------------------------------------------------------------------
def _filter_goldens():
    rows = {}
    for line in (GOLDEN / "filters.txt").read_text().splitlines():
        name, text, nums = line.split("\t")
        rows.setdefault(name, []).append((text, [int(n) for n in nums.split()]))
    return rows


@pytest.mark.parametrize("name", sorted(_filter_goldens()))
def test_filters_on_fields_match_sysdig(name, utc):
    """Filter-only tuples, ancestors, socket ends... select the events sysdig selects."""
    from chisel.core.filter import compile_filter  # noqa: PLC0415
    from chisel.core.output import PrintGate  # noqa: PLC0415

    cases = _filter_goldens()[name]
    compiled = [(text, compile_filter(text, registry()), want) for text, want in cases]
    hits = {text: [] for text, _ in cases}
    reader, timeline = _replay(name)
    gate = PrintGate()  # sysdig never prints its internal events
    try:
        for ev in reader.events():
            timeline.process(ev)
            if gate.allows(ev):
                for text, flt, _ in compiled:
                    if flt.match(ev):
                        hits[text].append(ev.num)
    finally:
        reader.close()
        BOUND.bind(None)
    assert {text: hits[text] for text, _ in cases} == dict(cases)


def _every_field_spelling():
    """Each registered field, with typical arguments for those that take one."""
    out = []
    for fdefs in registry().classes().values():
        for f in fdefs:
            if f.arg is None or not f.arg_required:
                out.append(f.name)
            if f.arg in ("index", "any"):
                out += [f"{f.name}[0]", f"{f.name}[1]", f"{f.name}[9]"]
            if f.arg in ("name", "any"):
                out += [f"{f.name}.fd", f"{f.name}.res", f"{f.name}[name]"]
    return out


@pytest.mark.parametrize("name", ("falco_cat_write", "libs_curl_google", "libs_single_ipv6_conn",
                                  "falco_empty_2016"))
def test_every_field_extracts_on_every_event_without_raising(name):
    spellings = _every_field_spelling()
    reader, timeline = _replay(name)
    count = 0
    try:
        for ev in reader.events():
            timeline.process(ev)
            for field in spellings:
                registry().extract(ev, field)
                count += 1
    finally:
        reader.close()
        BOUND.bind(None)
    assert count > 0
