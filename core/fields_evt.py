"""The `evt.*` and `syscall.type` fields: time, type, direction, arguments, result and I/O class.

Semantics follow what sysdig 0.29.3 prints for the bundled captures (tests/data/fields/):
* times are local time (sysdig honours TZ), except evt.time.iso8601 which is always UTC;
* evt.reltime counts from the capture's first event other than container events (the bound
  state's `first_ts`); evt.deltatime from the previous event the field was computed for;
* evt.latency is exit minus enter on exit events (`ev.enter`, paired by the state), 0 on enter
  events and signaldeliver, and on other events that are not syscalls (switch, procexit...) the
  latency of the thread's last syscall (`thread.latency` when the state keeps it, else 0). This
  model reproduces sysdig on all 5726 printed events of the bundled captures when the state pairs
  an exit with the thread's last *syscall* enter and keeps `thread.latency`;
* evt.res/evt.rawres/evt.count.exit apply to exit events only; evt.failed is false on enter events.
"""

import re
import time

from .evtinfo import AT_FDCWD, ERRNO_NAMES, join_path, rawarg
from .fields_base import BOUND, PADDED_DEC, FieldDef, arg_renderer, event_fd
from .fields_generic import generic_category
from .syscalls import ppm_sc_name

NS = 1_000_000_000

# The raw number in front of a resolved argument text such as '3(<f>/etc/passwd)' or '1A(O_RDWR)'.
_RAW_VALUE = re.compile(r"-?[0-9A-Fa-f]+")

# Time fields that `-j` prints as integer nanoseconds since the epoch although -p shows text.
TIME_TEXT_FIELDS = frozenset({"evt.time", "evt.time.s", "evt.datetime", "evt.datetime.s",
                              "evt.time.iso8601", "evt.outputtime"})

# Events that are not system calls: they have no enter/exit pair of their own.
_NON_SYSCALL = frozenset({"switch", "procexit", "signaldeliver", "procinfo", "sysdigevent",
                          "container", "cpu_hotplug", "infra", "notification", "page_fault",
                          "tracer", "drop", "pluginevent", "k8s", "mesos", "useradded",
                          "userdeleted", "groupadded", "groupdeleted", "asyncevent"})

# Bits of the scap open flags (file_flags table) and mode bits the evt.is_open_* fields test.
_O_RDONLY, _O_WRONLY, _O_CREAT = 1, 2, 4
_EXEC_BITS = 0o111
_OPEN_EVENTS = frozenset({"open", "openat", "openat2"})


# -- time ------------------------------------------------------------------------------------
def _local(ts):
    return time.localtime(ts // NS)


def _time(ev):
    return time.strftime("%H:%M:%S", _local(ev.ts)) + f".{ev.ts % NS:09d}"


def _time_s(ev):
    return time.strftime("%H:%M:%S", _local(ev.ts))


def _datetime(ev):
    return time.strftime("%Y-%m-%d %H:%M:%S", _local(ev.ts)) + f".{ev.ts % NS:09d}"


def _datetime_s(ev):
    return time.strftime("%Y-%m-%d %H:%M:%S", _local(ev.ts))


def _iso8601(ev):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ev.ts // NS)) + f".{ev.ts % NS:09d}+0000"


def _reltime(ev):
    first = getattr(BOUND.state, "first_ts", None)
    return None if first is None else ev.ts - first


class _SincePrevious:
    """evt.deltatime: ns since the previous event *this field was computed for* (0 for the first).

    sysdig keeps one previous time per field in a format or filter, so the value depends on which
    events reach it: every printed event with -p, only the matching ones after a filter. Each
    evt.deltatime* field has its own memory, forgotten when a new state is bound.
    """

    def __init__(self):
        self.prev = None
        self.binding = None

    def __call__(self, ev):
        if self.binding is not BOUND.generation:
            self.binding, self.prev = BOUND.generation, None
        if BOUND.enter_time_warning is not None:
            BOUND.enter_time_warning("evt.deltatime")
        prev, self.prev = self.prev, ev.ts
        return 0 if prev is None else ev.ts - prev


def _latency(ev):
    info = ev.info
    if info.name == "signaldeliver":
        return 0  # sysdig resets it, as for a syscall enter
    if info.name in _NON_SYSCALL:
        th = ev.thread
        return getattr(th, "latency", 0) if th is not None else 0
    if info.dir == ">":
        return 0
    if BOUND.enter_time_warning is not None:
        BOUND.enter_time_warning("evt.latency")
    enter = ev.enter
    return ev.ts - enter.ts if enter is not None else 0


def human_duration(ns):
    """sysdig's evt.latency.human: '835ns', '4.79us', '56us', '1.00s' (cut, not rounded).

    Two decimals below 10 units, whole units from 10 on.
    """
    for unit, div in (("s", NS), ("ms", 1_000_000), ("us", 1_000)):
        if ns >= div:
            q, r = divmod(ns, div)
            return f"{q}{unit}" if q >= 10 else f"{q}.{r * 100 // div:02d}{unit}"
    return f"{ns}ns"


def _part_s(fn):
    def seconds(ev):
        v = fn(ev)
        return None if v is None else v // NS
    return seconds


def _part_ns(fn):
    def nanos(ev):
        v = fn(ev)
        return None if v is None else v % NS
    return nanos


def _rawtime(ev):
    return ev.ts


# -- type and direction ----------------------------------------------------------------------
def evt_type(ev):
    """evt.type: the event's name; a generic event shows its syscall's name."""
    name = ev.info.name
    if name == "syscall":
        return ppm_sc_name(ev.arg("ID"))
    return name


def _type_is(ev, wanted):
    return 1 if evt_type(ev) == wanted else 0


def _syscall_type(ev):
    return None if ev.info.name == "switch" else evt_type(ev)


# -- arguments -------------------------------------------------------------------------------
def _args(ev):
    return arg_renderer().info(ev)


def _arg(ev, which):
    index = which if type(which) is int else ev.info.param_index.get(which)
    if index is not None and index < len(ev.info.params) and \
            ev.info.params[index].ptype == "PT_SYSCALLID":
        return ppm_sc_name(ev.param(index))  # a generic event's syscall, shown by name
    if type(which) is int:
        text = arg_renderer().arg_at(ev, which)
    else:
        text = arg_renderer().arg(ev, which)
    return resolved_part(text)


def resolved_part(text):
    """evt.arg shows only the resolved part of 'VALUE(RESOLVED)': '3(<f>/etc/x)' -> '<f>/etc/x'."""
    if text is None or not text.endswith(")"):
        return text
    open_at = text.find("(")
    if open_at <= 0 or not _RAW_VALUE.fullmatch(text[:open_at]):
        return text
    return text[open_at + 1:-1]


def _rawarg(ev, name):
    return rawarg(ev, name)


def _buffer(ev):
    """The I/O data of an event (its 'data' parameter); execve's args buffer is not one."""
    i = ev.info.param_index.get("data")
    if i is None or i >= len(ev.raw):
        return None
    return bytes(ev.raw[i])


# -- result ----------------------------------------------------------------------------------
_RESULT_TYPES = frozenset({"PT_ERRNO", "PT_FD", "PT_PID"})


def _has_result(info):
    """Whether events of this type carry a result (their first parameter: res, fd or pid)."""
    if info.dir != "<" or not info.params:
        return False
    first = info.params[0]
    return first.ptype in _RESULT_TYPES or first.name == "res"


def _rawres_inline(info):
    """The filter reads a 64-bit result straight from the raw bytes (see FieldDef.inline)."""
    if _has_result(info) and info.params[0].ptype in _RESULT_TYPES:
        return ("param_int64", 0)
    return None


def rawres(ev):
    """evt.rawres: the first parameter of an exit event when it is a result (res, fd or pid)."""
    if not _has_result(ev.info) or not ev.raw:  # the type first: the filter folds it per type
        return None
    v = ev.param(0)
    return v if type(v) is int else None


def _res(ev):
    v = rawres(ev)
    if v is None:
        return None
    if v >= 0:
        return "SUCCESS"
    return ERRNO_NAMES.get(-v, str(v))


def _failed(ev):
    v = rawres(ev)
    return v is not None and v < 0


def _buflen(ev):
    """The byte count of an I/O exit event (its non-negative result)."""
    info = ev.info
    if info.dir != "<" or event_fd(ev) is None or info.category != "I/O":
        return None
    v = rawres(ev)
    return v if v is not None and v >= 0 else None


# -- I/O class -------------------------------------------------------------------------------
# evt.category of an I/O event follows the type of its fd, as sysdig refines EC_IO_* events.
_IO_CATEGORY_BY_FD = {"file": "file", "directory": "file", "ipv4": "net", "ipv6": "net",
                      "unix": "ipc", "pipe": "ipc", "event": "ipc", "signalfd": "ipc",
                      "inotify": "ipc"}


def category(ev):
    """evt.category: the event's class; I/O events take the class of their fd ('unknown' without),
    generic events the class of their syscall's own event type when the model has one."""
    info = ev.info
    if info.name == "syscall":
        return generic_category(evt_type(ev))
    cat = info.category
    if cat != "I/O":
        return cat
    fd = event_fd(ev)
    return "unknown" if fd is None else _IO_CATEGORY_BY_FD.get(fd.type, "unknown")


def _category_is_per_type(info):
    """evt.category depends on the fd only for I/O events (generic events are never folded)."""
    return info.category != "I/O"


def _has_flag(flag):
    def test(ev):
        return flag in ev.info.flags
    return test


_is_read = _has_flag("EF_READS_FROM_FD")
_is_write = _has_flag("EF_WRITES_TO_FD")


def _is_io(ev):
    return _is_read(ev) or _is_write(ev)


def _io_dir(ev):
    if _is_read(ev):
        return "read"
    if _is_write(ev):
        return "write"
    return None


def _is_syslog(ev):
    fd = event_fd(ev)
    return fd is not None and _is_write(ev) and fd.name == "/dev/log"


# -- counters --------------------------------------------------------------------------------
def _count(ev):
    return 1


_ERROR_CLASS_BY_FD = {"file": "file", "directory": "file", "ipv4": "net", "ipv6": "net",
                      "unix": "net"}
_FILE_CREATORS = frozenset({"open", "openat", "openat2", "creat"})


def _error_class(ev):
    """file, net, memory or other: what a failed event was about (its fd first, else its type)."""
    fd = event_fd(ev)
    if fd is not None:
        return _ERROR_CLASS_BY_FD.get(fd.type, "other")
    info = ev.info
    if info.name in _FILE_CREATORS:
        return "file"
    if info.category in ("net", "memory"):
        return info.category
    return "other"


def _count_error(kind=None):
    def count(ev):
        v = rawres(ev)
        if v is None or v >= 0:
            return None
        if kind is None or _error_class(ev) == kind:
            return 1
        return None
    return count


def _count_exit(ev):
    return 1 if ev.info.dir == "<" else None


# -- paths and opens -------------------------------------------------------------------------
def resolve_at(ev, dirfd, path):
    """`path` made absolute against directory fd `dirfd` (AT_FDCWD or None: the thread's cwd);
    None when the directory is not known or the path is empty."""
    if not path:
        return None
    if path.startswith("/"):
        return join_path("/", path)
    th = ev.thread
    if th is None:
        return None
    if dirfd is None or dirfd == AT_FDCWD:
        base = th.cwd
    else:
        fdi = th.fdtable.get(dirfd)
        if fdi is None:
            return None
        base = fdi.name
    return join_path(base or "/", path)


def _abspath_of(dirfd_name, path_names):
    def abspath(ev):
        index = ev.info.param_index
        if dirfd_name not in index:
            return None
        for pname in path_names:
            if pname in index:
                dirfd = ev.arg(dirfd_name)
                if dirfd is None:
                    return None
                return resolve_at(ev, dirfd, ev.arg(pname))
        return None
    return abspath


_abspath = _abspath_of("dirfd", ("name", "pathname", "path"))
_abspath_src = _abspath_of("olddirfd", ("oldpath",))
_abspath_dst = _abspath_of("newdirfd", ("newpath",))


def _open_flags(ev):
    """The open flags of a successful-or-not open exit event, or None for other events."""
    info = ev.info
    if info.dir != "<" or info.name not in _OPEN_EVENTS:
        return None
    return ev.arg("flags")


def _is_open_read(ev):
    flags = _open_flags(ev)
    return flags is not None and bool(flags & _O_RDONLY)


def _is_open_write(ev):
    flags = _open_flags(ev)
    return flags is not None and bool(flags & _O_WRONLY)


def _is_open_create(ev):
    flags = _open_flags(ev)
    return flags is not None and bool(flags & _O_CREAT)


def _is_open_exec(ev):
    info = ev.info
    if info.dir != "<":
        return False
    if info.name == "creat":
        mode = ev.arg("mode")
    else:
        flags = _open_flags(ev)
        if flags is None or not flags & _O_CREAT:
            return False
        mode = ev.arg("mode")
    return mode is not None and bool(mode & _EXEC_BITS)


# -- host ------------------------------------------------------------------------------------
def _hostname(ev):
    machine = getattr(BOUND.snapshot, "machine", None) or {}
    return machine.get("hostname")


def _field(name, ftype, doc, extract, **kw):
    return FieldDef(name, ftype, doc, extract, cls="evt", **kw)


FIELDS = (
    _field("evt.num", "UINT64", "sequence number of the event in the capture",
           lambda ev: ev.num, inline=("event", "num", int)),
    _field("evt.time", "CHARBUF", "local time of the event, HH:MM:SS.nnnnnnnnn", _time),
    _field("evt.time.s", "CHARBUF", "local time of the event, HH:MM:SS", _time_s),
    _field("evt.time.iso8601", "CHARBUF", "UTC time of the event in ISO 8601 with nanoseconds",
           _iso8601),
    _field("evt.datetime", "CHARBUF", "local date and time of the event, with nanoseconds",
           _datetime),
    _field("evt.datetime.s", "CHARBUF", "local date and time of the event, to the second",
           _datetime_s),
    _field("evt.rawtime", "ABSTIME", "event time in nanoseconds since the epoch", _rawtime,
           inline=("event", "ts", int)),
    _field("evt.rawtime.s", "ABSTIME", "whole seconds of evt.rawtime", _part_s(_rawtime)),
    _field("evt.rawtime.ns", "ABSTIME", "nanosecond part of evt.rawtime", _part_ns(_rawtime),
           display=PADDED_DEC),
    _field("evt.reltime", "RELTIME", "nanoseconds since the first event of the capture",
           _reltime, display=PADDED_DEC),
    _field("evt.reltime.s", "RELTIME", "whole seconds of evt.reltime", _part_s(_reltime)),
    _field("evt.reltime.ns", "RELTIME", "nanosecond part of evt.reltime", _part_ns(_reltime),
           display=PADDED_DEC),
    _field("evt.outputtime", "CHARBUF", "the event time as the output's time format shows it "
           "(local HH:MM:SS.nnnnnnnnn by default)", _time),
    _field("evt.latency", "RELTIME", "nanoseconds between a syscall's enter and exit events "
           "(0 on enter events)", _latency),
    _field("evt.latency.s", "RELTIME", "whole seconds of evt.latency", _part_s(_latency)),
    _field("evt.latency.ns", "RELTIME", "nanosecond part of evt.latency", _part_ns(_latency),
           display=PADDED_DEC),
    _field("evt.latency.human", "CHARBUF", "evt.latency as short text such as 4.79us",
           lambda ev: human_duration(_latency(ev))),
    _field("evt.deltatime", "RELTIME", "nanoseconds since the previous event shown or matched",
           _SincePrevious(), stateful=True),
    _field("evt.deltatime.s", "RELTIME", "whole seconds of evt.deltatime",
           _part_s(_SincePrevious()), stateful=True),
    _field("evt.deltatime.ns", "RELTIME", "nanosecond part of evt.deltatime",
           _part_ns(_SincePrevious()), display=PADDED_DEC, stateful=True),
    _field("evt.dir", "CHARBUF", "direction: '>' for an enter event, '<' for an exit event",
           lambda ev: ev.info.dir, per_type=True),
    _field("evt.type", "CHARBUF", "event name, such as open or read", evt_type, per_type=True),
    _field("evt.type.is", "UINT32", "1 when the event's type is the one named after the dot "
           "(evt.type.is.open), else 0", _type_is, arg="name", per_type=True),
    _field("syscall.type", "CHARBUF", "the syscall's name for syscall events; <NA> for others "
           "such as switch", _syscall_type, per_type=True),
    _field("evt.category", "CHARBUF", "event category: file, net, ipc, process, memory, wait... "
           "(I/O events take their fd's)", category, per_type=_category_is_per_type),
    _field("evt.cpu", "INT16", "number of the CPU the event happened on", lambda ev: ev.cpu,
           inline=("event", "cpu", int)),
    _field("evt.args", "CHARBUF", "every argument as name=value text", _args),
    _field("evt.info", "CHARBUF", "the event's arguments as sysdig's default line shows them",
           _args),
    _field("evt.arg", "CHARBUF", "one argument as text, by name (evt.arg.fd) or position "
           "(evt.arg[0]); fds, errnos and flags resolved", _arg, arg="any"),
    _field("evt.rawarg", "DYNAMIC", "one argument by name (evt.rawarg.res) as its raw typed "
           "value, for numeric comparisons", _rawarg, arg="name"),
    _field("evt.buffer", "BYTEBUF", "the data buffer of I/O events", _buffer),
    _field("evt.buflen", "UINT64", "the byte count of an I/O exit event", _buflen),
    _field("evt.res", "CHARBUF", "result of an exit event: SUCCESS or the errno name", _res),
    _field("evt.rawres", "INT64", "result of an exit event as a number", rawres,
           per_type=lambda info: not _has_result(info),
           inline=_rawres_inline),
    _field("evt.failed", "BOOL", "true when the event returned an error", _failed),
    _field("evt.is_io", "BOOL", "true for events that read or write an fd", _is_io,
           per_type=True),
    _field("evt.is_io_read", "BOOL", "true for events that read from an fd", _is_read,
           per_type=True),
    _field("evt.is_io_write", "BOOL", "true for events that write to an fd", _is_write,
           per_type=True),
    _field("evt.io_dir", "CHARBUF", "'read' or 'write' for I/O events, <NA> otherwise", _io_dir,
           per_type=True),
    _field("evt.is_wait", "BOOL", "true for events that make the thread wait (select, poll, "
           "sleep...)", _has_flag("EF_WAITS"), per_type=True),
    _field("evt.is_syslog", "BOOL", "true for writes to /dev/log", _is_syslog),
    _field("evt.count", "UINT32", "always 1, for counting events", _count, per_type=True),
    _field("evt.count.error", "UINT32", "1 for events that returned an error", _count_error()),
    _field("evt.count.error.file", "UINT32", "1 for file events that returned an error",
           _count_error("file")),
    _field("evt.count.error.net", "UINT32", "1 for network events that returned an error",
           _count_error("net")),
    _field("evt.count.error.memory", "UINT32", "1 for memory events that returned an error",
           _count_error("memory")),
    _field("evt.count.error.other", "UINT32", "1 for other events that returned an error",
           _count_error("other")),
    _field("evt.count.exit", "UINT32", "1 for exit events", _count_exit, per_type=True),
    _field("evt.abspath", "CHARBUF", "absolute path of a *at event's dirfd and path arguments",
           _abspath),
    _field("evt.abspath.src", "CHARBUF", "absolute source path of renameat/linkat events",
           _abspath_src),
    _field("evt.abspath.dst", "CHARBUF", "absolute destination path of renameat/linkat events",
           _abspath_dst),
    _field("evt.is_open_read", "BOOL", "true for open exits whose flags allow reading",
           _is_open_read),
    _field("evt.is_open_write", "BOOL", "true for open exits whose flags allow writing",
           _is_open_write),
    _field("evt.is_open_exec", "BOOL", "true for open/creat exits creating a file with execute "
           "permission", _is_open_exec),
    _field("evt.is_open_create", "BOOL", "true for open exits with O_CREAT", _is_open_create),
    _field("evt.source", "CHARBUF", "where the event comes from: always 'syscall'",
           lambda ev: "syscall", per_type=True),
    _field("evt.hostname", "CHARBUF", "host name of the machine the events were captured on",
           _hostname),
)

CLASS_DOC = "Event fields: time, type, direction, arguments, result and I/O class."
