"""sysdig 0.29's text for event parameters: `evt.args`, `evt.info`, `evt.arg.NAME` and `evt.rawarg.NAME`.

Rendering works straight from the raw scap bytes of each parameter (`ev.raw[i]`), so printing an event
never builds intermediate Python objects it does not need. Resolved forms follow sysdig:
`fd=3(<f>/etc/passwd)`, `res=-2(ENOENT)`, `flags=4097(O_RDONLY|O_CLOEXEC)`, `next=2987(sysdig)`,
`uid=0(root)`, `sig=14(SIGALRM)`, `fds=4:e1 7:i0`.

`ArgRenderer(state)` holds what resolution needs (the thread/fd tables and users) and the buffer mode.
"""

import base64
import errno
import struct

from .event import model
from .params import AF_INET, AF_INET6, AF_UNIX, decode_value

# Kernel-internal error numbers that reach user space through syscall exit values; Python's errno
# module does not know them. Names as the kernel (and sysdig) spell them.
# The set is sysdig 0.29's: numbers 1-125 and these, checked by running it on a made-up capture.
_KERNEL_ERRNOS = {
    512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
    516: "ERESTART_RESTARTBLOCK", 521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE",
    524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX",
    529: "EIOCBQUEUED", 530: "EIOCBRETRY",
}
# Where Python picks a different alias for a shared number than sysdig does.
_ERRNO_PREFERRED = {11: "EAGAIN", 35: "EDEADLK", 95: "EOPNOTSUPP"}
_LAST_CLASSIC_ERRNO = 125  # ECANCELED; sysdig 0.29 names none of the later ones (ENOKEY...)

ERRNO_NAMES = {**{n: name for n, name in errno.errorcode.items() if n <= _LAST_CLASSIC_ERRNO},
               **_KERNEL_ERRNOS, **_ERRNO_PREFERRED}

AT_FDCWD = -100
_NO_ID = 0xFFFFFFFF  # uid/gid "none"

# Longest rendered buffer without -v or a chisel: sysdig keeps 77 characters and adds "...".
DEFAULT_MAX_BUFFER_CHARS = 80

_PRINTABLE = bytes(range(0x20, 0x7F))
# bytes.translate table: printable ASCII kept, everything else becomes '.'.
_DOT_TABLE = bytes(b if b in _PRINTABLE else 0x2E for b in range(256))

_I64 = struct.Struct("<q")
_U16 = struct.Struct("<H")


def join_path(base, name):
    """`name` resolved against directory `base`, normalised ('.', '..', '//') as sysdig does."""
    if not name:
        return name
    return concat_path(base or "/", name)


def concat_path(base, name):
    """sysdig's path concatenation: `name` if absolute, else `base` + '/' + `name`, normalised.

    An empty `base` (a thread whose cwd is unknown, an unknown dirfd) leaves the result
    relative; an empty `name` gives `base` itself.
    """
    if name.startswith("/"):
        path = name
    elif not base:
        path = name
    else:
        path = f"{base.rstrip('/')}/{name}" if name else base
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    text = "/".join(parts)
    return "/" + text if path.startswith("/") else text


def errno_name(code):
    """'ENOENT' for 2 (or -2); None for a number no table knows."""
    return ERRNO_NAMES.get(abs(code))


# Flag-table entries added after sysdig 0.29 (scap-flags.tsv 'since' column; the event model
# does not carry it) for tables that 0.29 events use: 0.29 never shows these names.
_NAMES_AFTER_029 = {
    "file_flags": frozenset({"O_F_CREATED", "FD_UPPER_LAYER", "FD_LOWER_LAYER"}),
    "clone_flags": frozenset({"CLONE_CHILD_IN_PIDNS"}),
    "shutdown_how": frozenset({"SHUT_UNKNOWN"}),
    "execve_flags": frozenset({"EXE_UPPER_LAYER", "EXE_FROM_MEMFD", "EXE_LOWER_LAYER"}),
}


def _entries_029(table):
    """The table's entries as sysdig 0.29 knows them, in scan order (cached per table)."""
    entries = _ENTRIES_029.get(table.name)
    if entries is None:
        later = _NAMES_AFTER_029.get(table.name, frozenset())
        entries = _ENTRIES_029[table.name] = tuple(e for e in table.entries if e[1] not in later)
    return entries


_ENTRIES_029 = {}


def render_flags(table, value):
    """The names sysdig 0.29 shows for `value` in a flag table, joined with '|'; '' when none match.

    Scan in table order, stopping at an entry equal to the whole value (whose name is then added);
    a zero entry matches only a zero value; bits of a matching entry are removed so that aliases
    (O_RDONLY inside O_RDWR) are not repeated.
    """
    names = []
    remaining = value
    for entry, name in _entries_029(table):
        if entry == value:
            names.append(name)
            break
        if entry == 0:
            continue
        if remaining and remaining & entry == entry:
            names.append(name)
            remaining &= ~entry
    return "|".join(names)


def raw_int(raw, ptype):
    """The integer in a fixed-size parameter's bytes, signed or unsigned as its PT type says."""
    return int.from_bytes(raw, "little", signed=ptype in _SIGNED_TYPES)


# Parameter types whose text resolves something through the state (fd table, threads, users,
# cwd); every other type renders from its raw bytes and the renderer's settings alone.
_STATEFUL_PTYPES = frozenset({"PT_FD", "PT_FD32", "PT_PID", "PT_PID32", "PT_FSPATH", "PT_FSRELPATH",
                              "PT_FDLIST", "PT_UID", "PT_GID", "PT_DYN"})

# Integer types rendered as a bare number (no name lookup, no resolution).
_PLAIN_INT_TYPES = frozenset({"PT_INT8", "PT_INT16", "PT_INT32", "PT_INT64", "PT_UINT8",
                              "PT_UINT16", "PT_UINT32", "PT_UINT64"})
# sysdig 0.29 prints these unsigned types in decimal through signed formats: 4294967295 shows
# as -1 (checked by running it on made-up values). 8- and 16-bit ones stay unsigned.
_DEC_AS_SIGNED = frozenset({"PT_UINT32", "PT_UINT64", "PT_UID", "PT_GID"})

_SIGNED_TYPES = frozenset({"PT_INT8", "PT_INT16", "PT_INT32", "PT_INT64", "PT_ERRNO", "PT_FD",
                           "PT_PID", "PT_FD32", "PT_PID32"})


def raw_str(raw):
    """A CHARBUF/FSPATH parameter as text: the bytes before the first NUL."""
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "surrogateescape")


def raw_fd(ev, i):
    """Parameter `i` as a signed 64-bit fd/res/pid, or None when the event lacks it."""
    raw = ev.raw
    if i >= len(raw) or len(raw[i]) != 8:
        return None
    return _I64.unpack(raw[i])[0]


_FAMILY_NAMES = {AF_INET: "ipv4", AF_INET6: "ipv6", AF_UNIX: "unix"}


def decode_sockaddr(raw):
    """PT_SOCKADDR → ('ipv4'|'ipv6', addr_text, port) / ('unix', path) / None."""
    value = decode_value("PT_SOCKADDR", raw)
    if value is None or value[0] not in _FAMILY_NAMES:
        return None
    return (_FAMILY_NAMES[value[0]],) + value[1:]


def decode_socktuple(raw):
    """PT_SOCKTUPLE → ('ipv4'|'ipv6', sip, sport, dip, dport) / ('unix', src, dst, path) / None."""
    value = decode_value("PT_SOCKTUPLE", raw)
    if value is None or value[0] not in _FAMILY_NAMES:
        return None
    return (_FAMILY_NAMES[value[0]],) + value[1:]


def socktuple_text(tup):
    """sysdig's text for a decoded socket tuple."""
    if tup[0] == "unix":
        return f"{tup[1]:x}->{tup[2]:x} {tup[3]}"
    return f"{tup[1]}:{tup[2]}->{tup[3]}:{tup[4]}"


def fd_tag(fdinfo):
    """The `<..>` tag of a resolved fd: typechar plus the L4 protocol's letter for IP sockets."""
    key = (fdinfo.type, fdinfo.l4proto)
    tag = _FD_TAGS.get(key)
    if tag is None:
        tc = fdinfo.typechar
        l4 = fdinfo.l4proto
        tag = _FD_TAGS[key] = f"<{tc}{l4[0]}>" if l4 and fdinfo.type in ("ipv4", "ipv6") else f"<{tc}>"
    return tag


_FD_TAGS = {}  # (fd type, l4proto) -> tag: a handful of combinations, asked for on every fd shown


class BufferFormat:
    """How BYTEBUF parameters are shown: sysdig's default and its -A, -x, -X and -b modes."""

    NORMAL, ASCII, HEX, HEXASCII, BASE64 = "normal", "ascii", "hex", "hexascii", "base64"
    ALL = (NORMAL, ASCII, HEX, HEXASCII, BASE64)


def format_buffer(data, mode=BufferFormat.NORMAL):
    """The text of a data buffer in one of the buffer modes, as sysdig 0.29 prints it."""
    if mode == BufferFormat.NORMAL:
        return data.translate(_DOT_TABLE).decode("ascii")
    if mode == BufferFormat.BASE64:
        return base64.b64encode(data).decode("ascii")
    if mode == BufferFormat.ASCII:
        # -A: on a new line, printable characters and line breaks
        if not data:
            return ""
        # a CR becomes LF; an LF is kept unless it is the first byte or follows a CR
        text = data[1:] if data[0] == 0x0A else data
        text = text.replace(b"\r\n", b"\r").replace(b"\r", b"\n")
        return "\n" + text.translate(None, _NOT_ASCII_KEPT).decode("ascii")
    return _hex_dump(data, with_ascii=mode == BufferFormat.HEXASCII)


# bytes -A drops: everything but printable ASCII and LF
_NOT_ASCII_KEPT = bytes(b for b in range(256) if b not in _PRINTABLE and b != 0x0A)


def _hex_dump(data, with_ascii):
    """-x/-X: rows of 16 bytes (`\\n\\t0xOOOO: ` then 2-byte groups), a final newline.

    -X adds the row's characters ('.' for non-printables) after the groups, padded as if the
    row were full (5 columns per missing group) plus two spaces.
    """
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        groups = [chunk[j:j + 2].hex() for j in range(0, len(chunk), 2)]
        row = f"\n\t0x{off:04x}: {' '.join(groups)}"
        if with_ascii:
            pad = " " * (5 * (8 - len(groups)) + 2)
            row += pad + chunk.translate(_DOT_TABLE).decode("ascii")
        rows.append(row)
    if rows:
        rows.append("\n")
    return "".join(rows)


class ArgRenderer:
    """Renders event parameters as sysdig 0.29 does, resolving fds, pids and users through `state`.

    `buffer_format` is one of `BufferFormat.ALL`; `max_buffer_chars` cuts long buffers to that many
    characters (the last three becoming '...'); None keeps them whole (chisels, -v).
    """

    def __init__(self, state=None, buffer_format=BufferFormat.NORMAL,
                 max_buffer_chars=DEFAULT_MAX_BUFFER_CHARS):
        self.state = state
        self.buffer_format = buffer_format
        self.max_buffer_chars = max_buffer_chars
        self._flag_tables = model().flag_tables
        self._info_plans = [None] * len(model().events)  # per event id, built on first use
        # Dispatch by PT type once, instead of an if-chain per parameter.
        self._by_type = {
            "PT_FD": self._fd, "PT_FD32": self._fd, "PT_ERRNO": self._errno,
            "PT_PID": self._pid, "PT_PID32": self._pid,
            "PT_CHARBUF": self._charbuf, "PT_FSPATH": self._path,
            "PT_FSRELPATH": self._path, "PT_BYTEBUF": self._bytebuf,
            "PT_SOCKADDR": self._sockaddr, "PT_SOCKTUPLE": self._socktuple,
            "PT_FDLIST": self._fdlist, "PT_SIGTYPE": self._sigtype,
            "PT_UID": self._uid, "PT_GID": self._gid, "PT_RELTIME": self._reltime,
            "PT_FLAGS8": self._flags, "PT_FLAGS16": self._flags, "PT_FLAGS32": self._flags,
            "PT_ENUMFLAGS8": self._flags, "PT_ENUMFLAGS16": self._flags,
            "PT_ENUMFLAGS32": self._flags, "PT_MODE": self._mode,
            "PT_SYSCALLID": self._number, "PT_SIGSET": self._sigset,
            "PT_DOUBLE": self._double, "PT_IPV4ADDR": self._ipv4, "PT_IPV6ADDR": self._ipv6,
            "PT_DYN": self._dyn, "PT_CHARBUFARRAY": self._charbuf,
        }

    # --- whole-event text -------------------------------------------------------------------

    def info(self, ev):
        """evt.info / evt.args: `name=value ` for every parameter the event carries."""
        render = self._info_plans[ev.type]
        if render is None:
            render = self._info_plans[ev.type] = self._info_function(ev.info)
        return render(ev)

    def info_function(self, info):
        """The function ev -> evt.info text for events of `info`'s type (what `info(ev)` calls):
        formatters that keep their own per-type tables call it directly."""
        render = self._info_plans[info.id]
        if render is None:
            render = self._info_plans[info.id] = self._info_function(info)
        return render

    def info_depends_on_raw_only(self, info):
        """Whether evt.info of `info`'s type is a function of the event's raw parameters alone
        (no fd, thread, user or path resolution): then equal `raw` lists give equal texts, and a
        formatter may keep the texts it made (see `output.JsonFormatter`)."""
        return info.name != "syscall" and not any(p.ptype in _STATEFUL_PTYPES for p in info.params)

    def info_fd_param(self, info):
        """(index, size, signed) of the one fd parameter evt.info of `info`'s type resolves when
        everything else in it renders from raw bytes alone (read, write...), else None: then the
        text is a function of the raw parameters and of that fd's entry in the thread's table."""
        if info.name == "syscall":
            return None
        stateful = [(i, p) for i, p in enumerate(info.params) if p.ptype in _STATEFUL_PTYPES]
        if len(stateful) != 1 or stateful[0][1].ptype not in ("PT_FD", "PT_FD32"):
            return None
        i, p = stateful[0]
        return i, p.size, p.ptype in _SIGNED_TYPES

    def _info_function(self, info):
        """Per event id, a function ev -> evt.info text.

        An event carrying exactly its table's parameters (nearly all of them) takes a path
        unrolled for its count: no loop, no list, one f-string. Fewer or more parameters take
        the general path, which shows only those both the table and the event have.
        """
        if info.name == "syscall":
            return _no_args  # generic events show their syscall as evt.type and no arguments
        plan = tuple((i, f"{p.name}=", self._renderer_for(p), p) for i, p in enumerate(info.params))
        count = len(plan)

        def general(ev):
            raw = ev.raw
            steps = plan[:len(raw)] if len(raw) < count else plan
            return "".join([f"{prefix}{render(ev, raw[i], p)} " for i, prefix, render, p in steps])

        unrolled = _UNROLLED.get(count)
        return general if unrolled is None else unrolled(plan, general)

    def _renderer_for(self, p):
        """The function rendering parameter `p`; the most common kinds get one specialised for
        `p` (its size and signedness bound once instead of looked up per event)."""
        if p.fmt == "PF_DEC" and p.ptype in _PLAIN_INT_TYPES:
            size, signed = p.size, p.ptype in _SIGNED_TYPES or p.ptype in _DEC_AS_SIGNED

            def plain_int(ev, raw, p):
                if len(raw) != size:
                    return ""
                return str(int.from_bytes(raw, "little", signed=signed))

            return plain_int
        if p.ptype in ("PT_FD", "PT_FD32"):
            return _fd_renderer(p.size, p.ptype in _SIGNED_TYPES)
        if p.ptype == "PT_BYTEBUF" and self.buffer_format == BufferFormat.NORMAL:
            return _dotted_buffer_renderer(self.max_buffer_chars)
        return self._by_type.get(p.ptype, self._number)

    def arg(self, ev, name):
        """evt.arg.NAME: the parameter's resolved text, or None when the event lacks it.

        Alone, a relative path shows only its resolution (`/`), not `.(/)` as in evt.args.
        """
        i = ev.info.param_index.get(name)
        if i is None or i >= len(ev.raw):
            return None
        return self._single_arg(ev, i)

    def arg_at(self, ev, index):
        """evt.arg[N]: the resolved text of the Nth parameter, or None."""
        if index < 0 or index >= min(len(ev.raw), len(ev.info.params)):
            return None
        return self._single_arg(ev, index)

    def _single_arg(self, ev, i):
        p = ev.info.params[i]
        if p.ptype in ("PT_FSPATH", "PT_FSRELPATH"):
            return self._resolved_path(ev, ev.raw[i], p)
        return self.param_text(ev, i, p)

    def param_text(self, ev, i, p=None):
        """The resolved text of parameter `i` of `ev`."""
        if p is None:
            p = ev.info.params[i]
        handler = self._by_type.get(p.ptype, self._number)
        return handler(ev, ev.raw[i], p)

    # --- per-type renderers (ev, raw bytes, ParamInfo) -> text ------------------------------

    def _number(self, ev, raw, p):
        if p.size is not None and len(raw) != p.size:
            return ""
        fmt = p.fmt
        if fmt == "PF_DEC":
            signed = p.ptype in _SIGNED_TYPES or p.ptype in _DEC_AS_SIGNED
            return str(int.from_bytes(raw, "little", signed=signed))
        if fmt == "PF_HEX":
            return f"{int.from_bytes(raw, 'little'):X}"  # the bits, as C's %X
        v = int.from_bytes(raw, "little", signed=p.ptype in _SIGNED_TYPES)
        if fmt == "PF_OCT":
            return f"0{v:o}" if v else "0"  # C's %#o
        if fmt == "PF_10_PADDED_DEC":
            return f"{v:09d}"
        return str(v)

    def _errno(self, ev, raw, p):
        if len(raw) != 8:
            return ""
        v = _I64.unpack(raw)[0]
        if v < 0:
            name = ERRNO_NAMES.get(-v)
            if name:
                return f"{v}({name})"
        return str(v)

    def _fd(self, ev, raw, p):
        return _fd_renderer(p.size, p.ptype in _SIGNED_TYPES)(ev, raw, p)

    def _pid(self, ev, raw, p):
        if len(raw) != p.size:
            return ""
        v = raw_int(raw, p.ptype)
        state = self.state
        if state is not None:
            th = state.threads.get(v)
            if th is not None:
                return f"{v}({th.comm})"
        return str(v)

    def _charbuf(self, ev, raw, p):
        return raw_str(raw)

    def _path(self, ev, raw, p):
        """A path; a relative (or empty) one is followed by its resolution against the cwd or
        the dirfd, e.g. `.(/)`."""
        path = raw_str(raw)
        resolved = self._resolve(ev, path, p)
        return f"{path}({resolved})" if resolved else path

    def _resolved_path(self, ev, raw, p):
        path = raw_str(raw)
        return self._resolve(ev, path, p) or path

    @staticmethod
    def _resolve(ev, path, p):
        """The resolution of a relative `path` (against the cwd, or the dirfd parameter's fd;
        an unknown dirfd counts as no directory), or None when `path` is absolute."""
        if path.startswith("/") or path == "(NULL)":
            return None
        th = ev.thread
        if th is None:
            return None
        base = th.cwd
        if p.dirfd is not None:
            dirfd = raw_fd(ev, p.dirfd)
            if dirfd is not None and dirfd != AT_FDCWD:
                d = th.fdtable.get(dirfd)
                base = d.name if d is not None else ""
        return concat_path(base, path)

    def _bytebuf(self, ev, raw, p):
        # only the default (dotted) form is ever cut; -A/-x/-X/-b show every captured byte
        if self.buffer_format == BufferFormat.NORMAL:
            return _dotted_buffer_renderer(self.max_buffer_chars)(ev, raw, p)
        return format_buffer(raw, self.buffer_format)

    def _sockaddr(self, ev, raw, p):
        addr = decode_sockaddr(raw)
        if addr is None:
            return "NULL"
        if addr[0] == "unix":
            return addr[1]
        return f"{addr[1]}:{addr[2]}"

    def _socktuple(self, ev, raw, p):
        tup = decode_socktuple(raw)
        if tup is None:
            return "NULL"
        return socktuple_text(tup)

    def _fdlist(self, ev, raw, p):
        if len(raw) < 2:
            return ""
        count = _U16.unpack_from(raw, 0)[0]
        th = ev.thread
        fdtable = th.fdtable if th is not None else {}
        items = []
        for k in range(count):
            off = 2 + 10 * k
            if off + 10 > len(raw):
                break
            fd, flags = struct.unpack_from("<qh", raw, off)
            fdi = fdtable.get(fd)
            tc = fdi.typechar if fdi is not None else "?"
            items.append(f"{fd}:{tc}{flags & 0xFFFF:x}")
        return " ".join(items)

    def _sigtype(self, ev, raw, p):
        if len(raw) != 1:
            return ""
        v = raw[0]
        name = self._flag_tables["signals"].by_value.get(v)
        return f"{v}({name})" if name else str(v)

    def _uid(self, ev, raw, p):
        return self._id_with_name(raw, self.state.users if self.state is not None else {})

    def _gid(self, ev, raw, p):
        return self._id_with_name(raw, self.state.groups if self.state is not None else {})

    @staticmethod
    def _id_with_name(raw, table):
        """A uid/gid and its name: `<NONE>` for -1 (no id), `<NA>` for an unknown one."""
        if len(raw) != 4:
            return ""
        v = int.from_bytes(raw, "little")
        if v == _NO_ID:
            return "-1(<NONE>)"
        entry = table.get(v)
        return f"{_as_int32(v)}({entry.name if entry is not None else '<NA>'})"

    def _reltime(self, ev, raw, p):
        if len(raw) != 8:
            return ""
        v = int.from_bytes(raw, "little")
        return f"{v}({v / 1e9:g}s)"  # seconds as C's %g: 1e-09s, 0.0015s, 1.5s

    def _flags(self, ev, raw, p):
        """Flags in decimal (whatever the print format says), with their names if any."""
        if p.size is not None and len(raw) != p.size:
            return ""
        v = int.from_bytes(raw, "little")
        table = self._flag_tables.get(p.table) if p.table else None
        names = render_flags(table, v) if table is not None else ""
        return f"{v}({names})" if names else str(v)

    def _mode(self, ev, raw, p):
        """File mode bits: C's %#o, then the names of the bits."""
        if len(raw) != 4:
            return ""
        v = int.from_bytes(raw, "little")
        table = self._flag_tables.get(p.table) if p.table else None
        names = render_flags(table, v) if table is not None else ""
        text = f"0{v:o}" if v else "0"
        return f"{text}({names})" if names else text

    def _sigset(self, ev, raw, p):
        """A signal mask: the names of its signals (bit n-1 is signal n), space-separated."""
        if len(raw) != 4:
            return ""
        v = int.from_bytes(raw, "little")
        names = self._flag_tables["signals"].by_value
        return " ".join(names[n] for n in range(1, 33) if v & (1 << (n - 1)) and n in names)

    def _double(self, ev, raw, p):
        return f"{struct.unpack('<d', raw)[0]:f}" if len(raw) == 8 else ""

    def _ipv4(self, ev, raw, p):
        return decode_value("PT_IPV4ADDR", raw) if len(raw) == 4 else ""

    def _ipv6(self, ev, raw, p):
        return decode_value("PT_IPV6ADDR", raw) if len(raw) == 16 else ""

    def _dyn(self, ev, raw, p):
        """PT_DYN: a leading index byte picks the real type from the param's dyn table."""
        table = self._flag_tables.get(p.table) if p.table else None
        if not raw or table is None:
            return ""
        spec = table.by_value.get(raw[0])
        if spec is None:
            return ""
        ptype, _, fmt = spec.split("=", 1)[1].partition(":")
        from .eventmodel import ParamInfo  # noqa: PLC0415 - only dynamic params need it

        sub = ParamInfo(p.name, ptype, fmt)
        handler = self._by_type.get(ptype, self._number)
        return handler(ev, raw[1:], sub)


def _no_args(ev):
    return ""


def _unrolled1(plan, general):
    ((i0, n0, r0, p0),) = plan

    def info(ev):
        raw = ev.raw
        if len(raw) != 1:
            return general(ev)
        return f"{n0}{r0(ev, raw[0], p0)} "
    return info


def _unrolled2(plan, general):
    (i0, n0, r0, p0), (i1, n1, r1, p1) = plan

    def info(ev):
        raw = ev.raw
        if len(raw) != 2:
            return general(ev)
        return f"{n0}{r0(ev, raw[0], p0)} {n1}{r1(ev, raw[1], p1)} "
    return info


def _unrolled3(plan, general):
    (i0, n0, r0, p0), (i1, n1, r1, p1), (i2, n2, r2, p2) = plan

    def info(ev):
        raw = ev.raw
        if len(raw) != 3:
            return general(ev)
        return f"{n0}{r0(ev, raw[0], p0)} {n1}{r1(ev, raw[1], p1)} {n2}{r2(ev, raw[2], p2)} "
    return info


# parameter count -> builder of the unrolled evt.info function (the I/O calls have 1 to 3)
_UNROLLED = {1: _unrolled1, 2: _unrolled2, 3: _unrolled3}


def _fd_renderer(size, signed):
    """A PT_FD/PT_FD32 renderer: `3(<f>/etc/passwd)` resolved through the thread's fd table,
    `-2(ENOENT)` for an error. Half of all events show an fd, so this is one flat function."""
    errno_names = ERRNO_NAMES
    tags = _FD_TAGS

    def fd(ev, raw, p):
        if len(raw) != size:
            return ""
        v = int.from_bytes(raw, "little", signed=signed)
        if v < 0:
            name = "AT_FDCWD" if v == AT_FDCWD else errno_names.get(-v)
            return f"{v}({name})" if name else str(v)
        th = ev.thread
        if th is None:
            return str(v)
        fdi = th.fdtable.get(v)
        if fdi is None:
            return str(v)
        tag = tags.get((fdi.type, fdi.l4proto)) or fd_tag(fdi)
        return f"{v}({tag}{fdi.name})"
    return fd


def _dotted_buffer_renderer(limit):
    """A PT_BYTEBUF renderer for the default (dotted) form, cut at `limit` characters (None: never)."""
    def dotted(ev, raw, p):
        text = raw.translate(_DOT_TABLE).decode("ascii")
        if limit is not None and len(text) > limit:
            return text[:limit - 3] + "..."
        return text
    return dotted


def _as_int32(v):
    return v - (1 << 32) if v >= 1 << 31 else v


def rawarg(ev, name):
    """evt.rawarg.NAME: the parameter as a typed raw value (int, str or bytes), or None."""
    i = ev.info.param_index.get(name)
    if i is None or i >= len(ev.raw):
        return None
    p = ev.info.params[i]
    raw = ev.raw[i]
    if p.size is not None:
        if len(raw) != p.size:
            return None
        if p.ptype == "PT_DOUBLE":
            return struct.unpack("<d", raw)[0]
        return raw_int(raw, p.ptype)
    if p.ptype in ("PT_CHARBUF", "PT_FSPATH", "PT_FSRELPATH"):
        return raw_str(raw)
    return bytes(raw)
