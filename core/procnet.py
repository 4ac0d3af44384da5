"""The kernel's socket tables under /proc/net, parsed into a map inode -> socket description.

An fd link `socket:[INODE]` says only that an fd is a socket; the tables in /proc/net (tcp, tcp6,
udp, udp6, raw, raw6, unix, netlink) say what it is. Each network namespace has its own tables,
read through any of its processes as /proc/PID/net/*, so callers keep one `SocketTable` per
namespace. Files that are missing or unreadable count as empty: a kernel without IPv6 has no tcp6.
"""

import socket
import sys

# Table file -> (fd.l4proto, is IPv6). sysdig calls the raw tables' protocol 'raw'.
INET_TABLES = {
    "tcp": ("tcp", False), "tcp6": ("tcp", True),
    "udp": ("udp", False), "udp6": ("udp", True),
    "raw": ("raw", False), "raw6": ("raw", True),
}

_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


class InetSocket:
    """An IP socket: `local` and `remote` are (address text, port) pairs as the kernel reports them.

    `family` is 'ipv4' or 'ipv6'; `listening` is true when the remote address is unset, which is
    how sysdig tells server sockets (listening TCP, unconnected UDP) from connected ones.
    """

    __slots__ = ("family", "l4proto", "local", "remote", "listening")

    def __init__(self, family, l4proto, local, remote, listening):
        self.family, self.l4proto = family, l4proto
        self.local, self.remote, self.listening = local, remote, listening

    def __repr__(self):
        return f"InetSocket({self.family} {self.l4proto} {self.local}->{self.remote})"


class UnixSocket:
    """A unix socket: `path` is its bound path ('' when unnamed, '@name' when abstract);
    `address` is the kernel's (usually hashed) socket pointer, sysdig's unix source."""

    __slots__ = ("path", "address")

    def __init__(self, path, address):
        self.path, self.address = path, address


class NetlinkSocket:
    """A netlink socket: `protocol` is the netlink family number (0 = route)."""

    __slots__ = ("protocol",)

    def __init__(self, protocol):
        self.protocol = protocol


class SocketTable(dict):
    """inode -> InetSocket | UnixSocket | NetlinkSocket for one network namespace.

    `server_ports` holds the local ports of every listening IP socket: sysdig decides which end
    of a connected socket found in /proc is the server by whether its local port is one of them.
    """

    def __init__(self):
        super().__init__()
        self.server_ports = set()

    def add_inet(self, inode, sock):
        self[inode] = sock
        if sock.listening:
            self.server_ports.add(sock.local[1])


def read_socket_table(net_dir):
    """Parse every socket table in `net_dir` (e.g. '/proc/net' or '/proc/1234/net')."""
    table = SocketTable()
    for name, (l4proto, ipv6) in INET_TABLES.items():
        text = _read_text(f"{net_dir}/{name}")
        if text:
            for inode, sock in parse_inet_table(text, l4proto, ipv6):
                table.add_inet(inode, sock)
    text = _read_text(f"{net_dir}/unix")
    if text:
        table.update(parse_unix_table(text))
    text = _read_text(f"{net_dir}/netlink")
    if text:
        table.update(parse_netlink_table(text))
    return table


def parse_inet_table(text, l4proto, ipv6):
    """Yield (inode, InetSocket) from the text of /proc/net/{tcp,udp,raw}[6]."""
    family = "ipv6" if ipv6 else "ipv4"
    for line in text.splitlines()[1:]:
        cols = line.split()
        # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        if len(cols) < 10:
            continue
        try:
            local = _decode_endpoint(cols[1], ipv6)
            remote = _decode_endpoint(cols[2], ipv6)
            inode = int(cols[9])
        except ValueError:
            continue
        if inode == 0:  # a socket no fd refers to (TIME_WAIT and the like)
            continue
        listening = remote[0] in ("0.0.0.0", "::")
        yield inode, InetSocket(family, l4proto, local, remote, listening)


def parse_unix_table(text):
    """Yield (inode, UnixSocket) from the text of /proc/net/unix."""
    for line in text.splitlines()[1:]:
        # Num RefCount Protocol Flags Type St Inode [Path]; the path may hold blanks.
        cols = line.split(None, 7)
        if len(cols) < 7:
            continue
        try:
            address = int(cols[0].rstrip(":"), 16)
            inode = int(cols[6])
        except ValueError:
            continue
        yield inode, UnixSocket(cols[7] if len(cols) > 7 else "", address)


def parse_netlink_table(text):
    """Yield (inode, NetlinkSocket) from the text of /proc/net/netlink."""
    for line in text.splitlines()[1:]:
        # sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        cols = line.split()
        if len(cols) < 10:
            continue
        try:
            yield int(cols[9]), NetlinkSocket(int(cols[1]))
        except ValueError:
            continue


def is_v4_mapped(address):
    """True for an IPv6 address text of the form ::ffff:a.b.c.d."""
    try:
        return socket.inet_pton(socket.AF_INET6, address).startswith(_V4_MAPPED_PREFIX)
    except OSError:
        return False


def v4_of_mapped(address):
    """'::ffff:127.0.0.1' -> '127.0.0.1'."""
    return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET6, address)[12:])


def _decode_endpoint(text, ipv6):
    """'0100007F:1F90' -> ('127.0.0.1', 8080). The kernel prints each 32-bit word of the address
    in host byte order, so on a little-endian machine every 4-byte group is reversed."""
    hexaddr, _, hexport = text.partition(":")
    raw = bytes.fromhex(hexaddr)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if ipv6:
        if len(raw) != 16:
            raise ValueError(text)
        address = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        if len(raw) != 4:
            raise ValueError(text)
        address = socket.inet_ntop(socket.AF_INET, raw)
    return address, int(hexport, 16)


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None
