"""evt.info rendering and the output formatters, on synthesized events."""

import json
import time

import pytest

from chisel.core.errors import UsageError
from chisel.core.event import Event, model
from chisel.core.evtinfo import (ArgRenderer, BufferFormat, errno_name, format_buffer, rawarg,
                                 render_flags)
from chisel.core.output import (DefaultFormatter, FormatFormatter, JsonFormatter, PrintGate,
                                expand_escapes, parse_format)
from chisel.core.params import encode_params
from chisel.core.state import State
from chisel.core.threadinfo import FdInfo, GroupInfo, Snapshot, ThreadInfo, UserInfo

AF_INET = 2
TS = 1404996934793590564  # 2014-07-10 12:55:34.793590564 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    time.tzset()


def event_id(name, direction):
    ids = [i for i in model().ids_for_name(name) if model().events[i].dir == direction]
    return ids[-1]


@pytest.fixture
def state():
    snap = Snapshot()
    th = ThreadInfo(7896, comm="echo")
    th.fdtable[3] = FdInfo(3, "file", "/etc/passwd")
    sock = FdInfo(5, "ipv4", "10.0.0.1:40112->10.0.0.2:80")
    sock.l4proto = "tcp"
    th.fdtable[5] = sock
    th.fdtable[6] = FdInfo(6, "unix", "")
    snap.threads.append(th)
    snap.users[0] = UserInfo(0, 0, "root")
    snap.groups[0] = GroupInfo(0, "root")
    return State(snap)


def make(state, name, direction, *values, tid=7896, num=34385, cpu=2):
    etype = event_id(name, direction)
    ev = Event(TS, tid, etype, encode_params(etype, values), cpu=cpu, num=num)
    state.process(ev)
    return ev


def test_write_exit_default_line(state):
    ev = make(state, "write", "<", 12, b"hello world\n")
    line = DefaultFormatter(state).format(ev)
    assert line == "34385 12:55:34.793590564 2 echo (7896) < write res=12 data=hello world. "


def test_fd_params_show_type_and_name(state):
    r = ArgRenderer(state)
    assert r.info(make(state, "read", ">", 3, 100)) == "fd=3(<f>/etc/passwd) size=100 "
    assert r.info(make(state, "read", ">", 5, 10)) == (
        "fd=5(<4t>10.0.0.1:40112->10.0.0.2:80) size=10 ")
    assert r.info(make(state, "read", ">", 6, 1)) == "fd=6(<u>) size=1 "
    assert r.info(make(state, "read", ">", 9, 1)) == "fd=9 size=1 "


def test_errors_show_their_names(state):
    r = ArgRenderer(state)
    assert r.info(make(state, "close", "<", -9)) == "res=-9(EBADF) "
    assert r.info(make(state, "close", "<", -514)) == "res=-514(ERESTARTNOHAND) "
    assert r.info(make(state, "close", "<", -11)) == "res=-11(EAGAIN) "
    assert errno_name(-2) == "ENOENT"
    assert errno_name(4000) is None


def test_flags_scan_in_table_order_and_stop_at_an_exact_entry():
    tables = model().flag_tables
    assert render_flags(tables["file_flags"], 0x1001) == "O_RDONLY|O_CLOEXEC"
    assert render_flags(tables["futex_operations"], 128) == "FUTEX_PRIVATE_FLAG"
    assert render_flags(tables["futex_operations"], 129) == "FUTEX_PRIVATE_FLAG|FUTEX_WAKE"
    assert render_flags(tables["futex_operations"], 0) == "FUTEX_WAIT"
    assert render_flags(tables["access_flags"], 0) == "F_OK"
    assert render_flags(tables["socket_families"], 1) == "AF_LOCAL"
    assert render_flags(tables["prot_flags"], 0) == "PROT_NONE"
    assert render_flags(tables["splice_flags"], 16) == ""


def test_open_exit_renders_flags_octal_mode_and_hex_dev(state):
    ev = make(state, "open", "<", 4, "/tmp/test", 262, 0o666, 0x2D)
    assert ArgRenderer(state).info(ev) == (
        "fd=4(<f>/tmp/test) name=/tmp/test flags=262(O_TRUNC|O_CREAT|O_WRONLY) mode=0666 "
        "dev=2D ")


def test_pids_users_signals_and_durations_resolve(state):
    r = ArgRenderer(state)
    assert r.info(make(state, "switch", ">", 7896, 0, 0, 0, 0, 0)).startswith("next=7896(echo) ")
    assert r.info(make(state, "getuid", "<", 0)) == "uid=0(root) "
    assert r.info(make(state, "getuid", "<", 4242)) == "uid=4242(<NA>) "
    assert r.info(make(state, "getuid", "<", 0xFFFFFFFF)) == "uid=-1(<NONE>) "
    assert r.info(make(state, "signaldeliver", ">", 1, 2, 14)) == "spid=1 dpid=2 sig=14(SIGALRM) "
    assert r.info(make(state, "nanosleep", ">", 1_000_000_000)) == "interval=1000000000(1s) "
    assert r.info(make(state, "nanosleep", ">", 1500)) == "interval=1500(1.5e-06s) "
    assert r.info(make(state, "ppoll", ">", [], 0, 0x80000003)) == (
        "fds= timeout=0(0s) sigmask=SIGHUP SIGINT ")


def test_socktuple_and_fdlist(state):
    r = ArgRenderer(state)
    ev = make(state, "connect", "<", -115, (AF_INET, "127.0.0.1", 47192, "127.0.0.1", 80), 5)
    assert r.arg(ev, "tuple") == "127.0.0.1:47192->127.0.0.1:80"
    assert r.arg(ev, "res") == "-115(EINPROGRESS)"
    ev = make(state, "poll", ">", [(3, 1), (9, 4)], 16)
    assert r.arg(ev, "fds") == "3:f1 9:?4"
    assert r.arg(ev, "nope") is None


def test_relative_paths_show_their_resolution(state):
    state.thread(7896).cwd = "/home/user/"
    r = ArgRenderer(state)
    ev = make(state, "open", "<", 4, "../x", 1, 0, 0)
    assert r.info(ev).startswith("fd=4(<f>/home/x) name=../x(/home/x) ")
    assert r.arg(ev, "name") == "/home/x"
    assert r.arg_at(ev, 1) == "/home/x"


def test_path_resolution_follows_sysdigs_concatenation(state):
    r = ArgRenderer(state)
    th = state.thread(7896)
    th.cwd = ""
    assert r.info(make(state, "stat", "<", 0, "a b")) == "res=0 path=a b(a b) "
    th.cwd = "/srv/"
    assert r.info(make(state, "chroot", "<", 0, "")) == "res=0 path=(/srv) "
    ev = make(state, "mkdirat", "<", 0, 99, "rel", 0)
    assert r.arg(ev, "path") == "rel"  # unknown dirfd: no directory to resolve against


def test_hex_numbers_show_their_bits():
    from chisel.core.eventmodel import ParamInfo  # noqa: PLC0415
    r = ArgRenderer()
    assert r._number(None, (-1).to_bytes(4, "little", signed=True),
                     ParamInfo("key", "PT_INT32", "PF_HEX")) == "FFFFFFFF"


def test_generic_events_show_no_arguments(state):
    ev = make(state, "syscall", ">", 209, 28)
    assert ArgRenderer(state).info(ev) == ""


def test_long_buffers_are_cut_to_80_characters(state):
    r = ArgRenderer(state)
    ev = make(state, "write", "<", 100, b"a" * 100)
    assert r.arg(ev, "data") == "a" * 77 + "..."
    assert ArgRenderer(state, max_buffer_chars=None).arg(ev, "data") == "a" * 100


def test_buffer_formats():
    data = b"GET /\r\n\x00"
    assert format_buffer(data) == "GET /..."
    assert format_buffer(data, BufferFormat.BASE64) == "R0VUIC8NCgA="
    assert format_buffer(data, BufferFormat.HEX) == "\n\t0x0000: 4745 5420 2f0d 0a00\n"
    assert format_buffer(b"ABC", BufferFormat.HEXASCII) == (
        "\n\t0x0000: 4142 43" + " " * 32 + "ABC\n")
    assert format_buffer(b"", BufferFormat.HEX) == ""


@pytest.mark.parametrize("data, text", [(b"GET /\r\nHost\r\n", "\nGET /\nHost\n"),
                                        (b"\n", "\n"), (b"\nab\n\ncd\r", "\nab\n\ncd\n"),
                                        (b"a\tb\x00c", "\nabc"), (b"", "")])
def test_ascii_buffer_mode_keeps_line_breaks_as_sysdig(data, text):
    assert format_buffer(data, BufferFormat.ASCII) == text


def test_only_the_default_buffer_form_is_cut(state):
    ev = make(state, "write", "<", 100, b"a" * 100)
    assert ArgRenderer(state, BufferFormat.BASE64).arg(ev, "data") == "YWFh" * 33 + "YQ=="


def test_rawarg_gives_typed_values(state):
    ev = make(state, "open", "<", 4, "/tmp/test", 262, 0o666, 0x2D)
    assert rawarg(ev, "fd") == 4
    assert rawarg(ev, "name") == "/tmp/test"
    assert rawarg(ev, "flags") == 262
    assert rawarg(ev, "missing") is None


def test_json_line_is_compact_sorted_and_typed(state):
    ev = make(state, "write", "<", 12, b"hello world\n")
    line = JsonFormatter(state=state).format(ev)
    assert line == ('{"evt.cpu":2,"evt.dir":"<","evt.info":"res=12 data=hello world. ",'
                    '"evt.num":34385,"evt.outputtime":1404996934793590564,"evt.type":"write",'
                    '"proc.name":"echo","thread.tid":7896}')


def test_json_default_fields_written_directly_equal_the_encoded_record(state):
    state.thread(7896).comm = 'é"x\\'
    ev = make(state, "write", "<", 3, b'a"\n')
    fmt = JsonFormatter(state=state)
    assert fmt.format(ev) == json.dumps(fmt.record(ev), separators=(",", ":"), sort_keys=True,
                                        ensure_ascii=False)
    picked = JsonFormatter(fields=("evt.num", "proc.name"), state=state)
    assert picked.format(ev) == '{"evt.num":34385,"proc.name":"é\\"x\\\\"}'


def test_json_shows_a_missing_thread_as_null(state):
    ev = make(state, "switch", ">", 0, 0, 0, 0, 0, 0, tid=0)
    obj = json.loads(JsonFormatter(state=state).format(ev))
    assert obj["proc.name"] is None
    assert obj["thread.tid"] == 0


def test_internal_events_and_head_container_events_are_not_printed(state):
    gate = PrintGate()
    container = make(state, "container", ">", '{"container":{"id":"abc"}}', tid=(1 << 64) - 1)
    procinfo = make(state, "procinfo", ">", 1, 2)
    assert gate.allows(container) is False
    assert gate.allows(procinfo) is False
    assert gate.allows(container) is True
    line = DefaultFormatter(state).format(make(state, "write", "<", 1, b"x"))
    assert line.startswith("34385 ")


def test_parse_format_tokens_and_widths():
    assert parse_format("%evt.num:%5proc.name %evt.arg.fd [%proc.aname[2]]") == [
        ("evt.num", None), ":", ("proc.name", 5), " ", ("evt.arg.fd", None), " [",
        ("proc.aname[2]", None), "]"]


@pytest.mark.parametrize("fmt, message", [
    ("%evt.num %", "invalid formatting syntax: formatting cannot end with a %"),
    ("%evt.num %12", "invalid formatting syntax: formatting cannot end with a number"),
    ("a %evt.num %%x y", "invalid formatting token %x y"),
    ("%evt.num %-5 abc", "invalid formatting token -5 abc"),
    ("%evt.num % x", "invalid formatting token  x")])
def test_parse_format_errors_are_sysdigs(fmt, message):
    with pytest.raises(UsageError) as exc:
        parse_format(fmt)
    assert exc.value.message == message


def test_unknown_field_in_a_format_is_an_invalid_token_with_a_hint():
    def lookup(name):
        if name not in ("proc.name", "evt.num"):
            raise UsageError(f"unknown field '{name}'; did you mean 'proc.name'?")

    with pytest.raises(UsageError) as exc:
        parse_format("%evt.num %3proc.nam abc", lookup)
    assert exc.value.message == ("invalid formatting token proc.nam abc; "
                                 "did you mean 'proc.name'?")


def test_expand_escapes():
    assert expand_escapes(r"a\tb\nc\\d\e\q") == "a\tb\nc\\d\x1b\\q"


class _FakeEvent:
    """Stands in for an event whose fields come from a dict (the -p formatter only calls get)."""

    def __init__(self, values):
        self.values = values
        self.ts = TS
        self.type = event_id("write", "<")
        self.info = model().events[self.type]

    def get(self, field):
        return self.values.get(field)


def test_format_formatter_pads_truncates_and_skips_missing():
    ev = _FakeEvent({"proc.name": "nginx-worker", "evt.num": 3, "evt.failed": False})
    assert FormatFormatter("%8proc.name|%evt.num|%evt.failed").format(ev) == "nginx-wo|3|false"
    assert FormatFormatter("%3evt.num|").format(ev) == "3  |"
    assert FormatFormatter("%proc.name %fd.name").format(ev) is None
    assert FormatFormatter("*%proc.name %fd.name").format(ev) == "nginx-worker <NA>"
    assert FormatFormatter("%evt.outputtime").format(ev) == "12:55:34.793590564"


def test_format_formatter_shows_buffers_in_the_buffer_format():
    ev = _FakeEvent({"evt.buffer": b"GET /\r\n"})
    assert FormatFormatter("%evt.buffer|").format(ev) == "GET /..|"
    hex_fmt = FormatFormatter("%evt.buffer|", buffer_format=BufferFormat.HEX)
    assert hex_fmt.format(ev) == "\n\t0x0000: 4745 5420 2f0d 0a\n|"


def test_numbers_print_as_sysdig_0_29_does(state):
    """32/64-bit unsigned values through signed formats; flags without a table in decimal;
    modes in octal with names; flag names added after 0.29 left out."""
    r = ArgRenderer(state)
    ev = make(state, "switch", ">", 1, 2**64 - 1, 0, 2**32 - 1, 2**31, 0)
    assert r.info(ev) == ("next=1 pgft_maj=-1 pgft_min=0 vm_size=-1 vm_rss=-2147483648 "
                          "vm_swap=0 ")
    assert r.info(make(state, "eventfd", ">", 5, 26)) == "initval=5 flags=26 "
    assert r.arg(make(state, "chmod", "<", 0, "/x", 0o4755), "mode") == (
        "04755(S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID)")
    assert r.arg(make(state, "open", ">", "/x", 0x4001, 0), "flags") == "16385(O_RDONLY)"


def test_json_from_a_format_keeps_its_fields_times_as_ns_and_skips_missing():
    ev = _FakeEvent({"evt.buffer": b"a\x00b", "fd.name": None})
    ev.num, ev.thread = 7, None
    fmt = JsonFormatter.from_format("*%evt.num %evt.time %evt.buffer %fd.name")
    assert fmt.format(ev) == (
        '{"evt.buffer":"a.b","evt.num":7,"evt.time":1404996934793590564,"fd.name":null}')
    assert JsonFormatter.from_format("%evt.num %fd.name").format(ev) is None
