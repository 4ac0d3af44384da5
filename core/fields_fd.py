"""The `fd.*` fields: the fd an event uses or creates (`ev.fd`, `ev.fdnum`, set by the state).

IP addresses are text ('10.0.0.1', '2001:db8::1'), ports ints. Client/server fields (fd.cip,
fd.sport...) read the socket's tuple; local/remote ones (fd.lip, fd.rport...) take the client as the
local end when its address is this machine's (loopback or an interface of the bound snapshot), else
the server, falling back to the state's role (`FdInfo.is_server`) without interface data; they are
<NA> on a socket without a client side.
The filter-only fields (fd.ip, fd.port, fd.net, fd.proto and the *net ones) return a tuple of the
candidate values of both endpoints; a socket with no endpoint known yet counts as 0.0.0.0 (or ::)
port 0, as sysdig matches it.

sysdig 0.29.3 quirks reproduced (checked on the bundled captures):
* enter events of fd-creating syscalls (open, socket, pipe...) have fd.num -1 and fd.typechar from
  the syscall ('f', '4', 'p'); a failed open exit has fd.name set to the path it tried;
* fd.is_server tells whether the server address is on this machine (loopback, a local
  interface, or an unspecified IPv6 address), not the socket's role: a client connected to
  127.0.0.1 shows true;
* fd.cproto/sproto/lproto/rproto show the port number as text (sysdig without -R);
* an fd number the state does not know has fd.typechar 'o', and on exit events fd.name '' and
  fd.directory '/'; fd.dev is shown in hex.
"""

import functools
import ipaddress
import os

from .fields_base import BOUND, HEX, FieldDef, event_fd, has_fd
from .fields_evt import rawres, resolve_at

_IP_TYPES = frozenset({"ipv4", "ipv6"})
_FILE_TYPES = frozenset({"file", "directory"})

# fd.typechar of the fd an fd-creating syscall is about to make, for its enter event.
_CREATOR_TYPECHAR = {"open": "f", "openat": "f", "openat2": "f", "creat": "f", "pipe": "p",
                     "socket": "4", "accept": "4", "accept4": "4", "eventfd": "e", "signalfd": "s",
                     "timerfd_create": "t", "inotify_init": "i", "epoll_create": "l",
                     "epoll_create1": "l", "memfd_create": "m", "pidfd_open": "P",
                     "userfaultfd": "u", "bpf": "b", "io_uring_setup": "r"}
_OPEN_EVENTS = frozenset({"open", "openat", "openat2", "creat"})
_EINPROGRESS = -115


def _creates_fd_enter(ev):
    info = ev.info
    return info.dir == ">" and "EF_CREATES_FD" in info.flags


def _fdnum(ev):
    if not has_fd(ev.info):
        return None
    n = ev.fdnum
    if n is None and ev.fd is None and _creates_fd_enter(ev):
        return -1
    return n


def _failed_open_path(ev):
    """The path a failed open exit tried, made absolute as sysdig shows it, or None."""
    info = ev.info
    if info.dir != "<" or info.name not in _OPEN_EVENTS:
        return None
    res = rawres(ev)
    if res is None or res >= 0:
        return None
    path = ev.arg("name")
    if not path:
        return None
    return resolve_at(ev, ev.arg("dirfd"), path) or path


def _unknown_fd(ev):
    """True when the event names an fd number the state has no entry for (sysdig: type 'o')."""
    return event_fd(ev) is None and ev.fdnum is not None and has_fd(ev.info) and \
        not _creates_fd_enter(ev)


def _name(ev):
    fd = event_fd(ev)
    if fd is not None:
        return fd.name
    path = _failed_open_path(ev)
    if path is None and ev.info.dir == "<" and _unknown_fd(ev):
        return ""  # sysdig names an unknown fd '' on exit events
    return path


def _directory(ev):
    fd = event_fd(ev)
    if fd is not None:
        if fd.type not in _FILE_TYPES:
            return None
        return os.path.dirname(fd.name) or None
    path = _failed_open_path(ev)
    if path is None and ev.info.dir == "<" and _unknown_fd(ev):
        return "/"  # ... and its directory '/'
    return os.path.dirname(path) if path else None


def _filename(ev):
    """Base name of a file fd ('/' has none); a failed open has only fd.name and fd.directory."""
    fd = event_fd(ev)
    if fd is None or fd.type not in _FILE_TYPES:
        return None
    return os.path.basename(fd.name) or None


def _typechar(ev):
    fd = event_fd(ev)
    if fd is not None:
        return fd.typechar
    if _creates_fd_enter(ev) or _failed_open_path(ev) is not None:
        return _CREATOR_TYPECHAR.get(ev.info.name)
    if _unknown_fd(ev):
        return "o"
    return None


def _uid(ev):
    n = _fdnum(ev)
    if n is None:  # decided by the event type alone, before the thread is read
        return None
    th = ev.thread
    if th is None:
        return None
    return f"{th.tid}{n}"


def _of_fd(get):
    def extract(ev):
        fd = event_fd(ev)
        return None if fd is None else get(fd)
    return extract


def _of_socket(get):
    """`get(fd)` for IP sockets only."""
    def extract(ev):
        fd = event_fd(ev)
        if fd is None or fd.type not in _IP_TYPES:
            return None
        return get(fd)
    return extract


def _local_end(fd):
    """True when this end is the server, False when the client, None for a socket without a
    client side (a bound, listening socket).

    Like sysdig, the client is the local end when its address belongs to this machine (loopback or
    an interface of the capture); without interface data the state's role (connect/accept) decides.
    """
    if fd.cip is None:
        return None
    local = BOUND.local_addresses
    if _is_loopback(fd.cip) or fd.cip in local:
        return False
    if local:
        return True
    return fd.is_server if fd.is_server is not None else False


@functools.lru_cache(maxsize=4096)
def _is_loopback(addr):
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def _lip(fd):
    role = _local_end(fd)
    return None if role is None else (fd.sip if role else fd.cip)


def _rip(fd):
    role = _local_end(fd)
    return None if role is None else (fd.cip if role else fd.sip)


def _lport(fd):
    role = _local_end(fd)
    return None if role is None else (fd.sport if role else fd.cport)


def _rport(fd):
    role = _local_end(fd)
    return None if role is None else (fd.cport if role else fd.sport)


def _has_client_side(fd):
    return fd.type != "unix" and fd.cip is not None


def _proto_text(get_port):
    """fd.*proto: the port as text; '' on a socket without a client side (listening, unix)."""
    def proto(fd):
        port = get_port(fd)
        if port is None:
            return None
        return str(port) if _has_client_side(fd) else ""
    return proto


def _cport(fd):
    """The client port; sysdig shows 0 for a listening socket and a connected unix socket."""
    if fd.cport is not None:
        return fd.cport
    if fd.type == "unix":
        return 0 if (fd.source or fd.dest) else None
    return 0 if fd.sport is not None else None


def _failed_connect(ev):
    """A connect that failed: sysdig leaves the socket as it was (no client port for unix)."""
    if ev.info.name != "connect" or ev.info.dir != "<":
        return False
    res = rawres(ev)
    return res is not None and res < 0 and res != _EINPROGRESS


def _client_port(get):
    """fd.cport / fd.cproto: `get(fd)` for IP and unix sockets, skipping failed unix connects."""
    def extract(ev):
        fd = event_fd(ev)
        if fd is None or (fd.type not in _IP_TYPES and fd.type != "unix"):
            return None
        if fd.type == "unix" and _failed_connect(ev):
            return None
        return get(fd)
    return extract


def _unset_ip(fd):
    return "0.0.0.0" if fd.type == "ipv4" else "::"


def _endpoints(fd):
    """(client ip, server ip, client port, server port) as the filter-only fields compare them.

    sysdig matches a socket with no endpoint known yet (before connect) as 0.0.0.0/:: port 0 on
    both sides, and a listening socket by its server side only.
    """
    if fd.cip is None and fd.sip is None:
        zero = _unset_ip(fd)
        return zero, zero, 0, 0
    return fd.cip, fd.sip, fd.cport, fd.sport


def _any_ip(fd):
    cip, sip, _, _ = _endpoints(fd)
    return tuple(v for v in (cip, sip) if v is not None)


def _any_port(fd):
    _, _, cport, sport = _endpoints(fd)
    return tuple(v for v in (cport, sport) if v is not None)


def _one(get):
    """Filter-only single endpoint (fd.cnet...): a one-value tuple, empty when not known."""
    def one(fd):
        v = get(fd)
        return () if v is None else (v,)
    return one


def _sockfamily(ev):
    fd = event_fd(ev)
    if fd is None:
        return None
    if fd.type in _IP_TYPES:
        return "ip"
    if fd.type == "unix":
        return "unix"
    return None


def _server_is_local(fd):
    sip = fd.sip
    if fd.type == "ipv6" and sip in (None, "::"):
        return True
    if sip is None:
        return False
    try:
        ip = ipaddress.ip_address(sip)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    return sip in BOUND.local_addresses


def _is_server(ev):
    fd = event_fd(ev)
    if fd is None:
        return None
    if fd.type not in _IP_TYPES:
        return False
    return _server_is_local(fd)


def _connected(ev):
    fd = event_fd(ev)
    if fd is None:
        return None
    return fd.type in _IP_TYPES and fd.cip is not None


def _name_changed(ev):
    """True on the exit event that gave the fd its name: an open, a connect, an accept, a bind."""
    fd = event_fd(ev)
    if fd is None:
        return None
    info = ev.info
    if info.dir != "<":
        return False
    name = info.name
    if name in _OPEN_EVENTS or name in ("accept", "accept4"):
        return True
    if name == "bind":
        res = rawres(ev)
        return res is not None and res >= 0
    if name == "connect" and fd.type in _IP_TYPES:
        res = rawres(ev)
        return res is not None and (res >= 0 or res == _EINPROGRESS)
    return False


def _major(dev):
    return dev >> 20


def _minor(dev):
    return dev & 0xFFFFF


def _has_no_fd(info):
    """Every fd.* field is None on events whose type is not about an fd (the filter folds them)."""
    return not has_fd(info)


def _fd_attribute(attr):
    """An `inline` spec: on events about an fd, the field is the known fd's attribute `attr`
    (a str for each attribute this is used for)."""
    spec = ("fd", attr, str)
    return lambda info: spec if has_fd(info) else None


def _field(name, ftype, doc, extract, **kw):
    return FieldDef(name, ftype, doc, extract, cls="fd", per_type=_has_no_fd, **kw)


_cip, _sip = (lambda fd: fd.cip), (lambda fd: fd.sip)
_sport = lambda fd: fd.sport  # noqa: E731 - a getter among getters


FIELDS = (
    _field("fd.num", "INT64", "fd number the event uses or creates", _fdnum),
    _field("fd.type", "CHARBUF", "fd type: file, directory, ipv4, ipv6, unix, pipe, event, "
           "signalfd, eventpoll, inotify, timerfd, netlink, memfd...", _of_fd(lambda fd: fd.type),
           inline=_fd_attribute("type")),
    _field("fd.typechar", "CHARBUF", "fd type as one letter (f, d, 4, 6, u, p, e, s, l, i, t...)",
           _typechar, inline=_fd_attribute("typechar")),
    _field("fd.name", "CHARBUF", "full name: a file's path, a socket's "
           "client_ip:port->server_ip:port tuple, a unix socket's path", _name,
           inline=_fd_attribute("name")),
    _field("fd.directory", "CHARBUF", "directory of a file fd", _directory),
    _field("fd.filename", "CHARBUF", "base name of a file fd", _filename),
    _field("fd.nameraw", "CHARBUF", "name of the fd as the syscall gave it (chisel keeps the "
           "resolved path)", _name),
    _field("fd.ip", "IPADDR", "either endpoint's IP address", _of_socket(_any_ip),
           filter_only=True),
    _field("fd.port", "PORT", "either endpoint's port", _of_socket(_any_port), filter_only=True),
    _field("fd.net", "IPNET", "either endpoint's IP, for network (CIDR) tests",
           _of_socket(_any_ip), filter_only=True),
    _field("fd.proto", "PORT", "either endpoint's port, compared by number or service name "
           "(fd.proto=http)", _of_socket(_any_port), filter_only=True),
    _field("fd.cip", "IPADDR", "client IP address", _of_socket(_cip)),
    _field("fd.sip", "IPADDR", "server IP address", _of_socket(_sip)),
    _field("fd.lip", "IPADDR", "local IP address", _of_socket(_lip)),
    _field("fd.rip", "IPADDR", "remote IP address", _of_socket(_rip)),
    _field("fd.cport", "PORT", "client port (0 for listening and unix sockets)",
           _client_port(_cport)),
    _field("fd.sport", "PORT", "server port", _of_socket(_sport)),
    _field("fd.lport", "PORT", "local port", _of_socket(_lport)),
    _field("fd.rport", "PORT", "remote port", _of_socket(_rport)),
    _field("fd.cnet", "IPNET", "client IP, for network (CIDR) tests",
           _of_socket(_one(_cip)), filter_only=True),
    _field("fd.snet", "IPNET", "server IP, for network (CIDR) tests",
           _of_socket(_one(_sip)), filter_only=True),
    _field("fd.lnet", "IPNET", "local IP, for network (CIDR) tests",
           _of_socket(_one(_lip)), filter_only=True),
    _field("fd.rnet", "IPNET", "remote IP, for network (CIDR) tests",
           _of_socket(_one(_rip)), filter_only=True),
    _field("fd.cproto", "CHARBUF", "client port as protocol text",
           _client_port(_proto_text(_cport))),
    _field("fd.sproto", "CHARBUF", "server port as protocol text", _of_socket(_proto_text(_sport))),
    _field("fd.lproto", "CHARBUF", "local port as protocol text", _of_socket(_proto_text(_lport))),
    _field("fd.rproto", "CHARBUF", "remote port as protocol text", _of_socket(_proto_text(_rport))),
    _field("fd.l4proto", "CHARBUF", "IP protocol of a socket: tcp, udp, icmp or raw",
           _of_socket(lambda fd: fd.l4proto)),
    _field("fd.sockfamily", "CHARBUF", "socket family: ip or unix", _sockfamily),
    _field("fd.is_server", "BOOL", "true when the socket's server address is on this machine",
           _is_server),
    _field("fd.connected", "BOOL", "true for an IP socket with a known peer", _connected),
    _field("fd.name_changed", "BOOL", "true on the event that gave the fd its name", _name_changed),
    _field("fd.dev", "INT32", "device number of the file (shown in hex)",
           _of_fd(lambda fd: fd.dev), display=HEX),
    _field("fd.dev.major", "INT32", "major device number of the file",
           _of_fd(lambda fd: _major(fd.dev))),
    _field("fd.dev.minor", "INT32", "minor device number of the file",
           _of_fd(lambda fd: _minor(fd.dev))),
    _field("fd.ino", "INT64", "inode number of the file", _of_fd(lambda fd: fd.ino)),
    _field("fd.uid", "CHARBUF", "unique id of the fd: thread id followed by fd number", _uid),
)

CLASS_DOC = "File descriptor fields: files, sockets, pipes and the other fd types."
