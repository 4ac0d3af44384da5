"""Socket tuples on a loopback TCP connection: both ends, from the sock:inet_sock_set_state args."""

import socket
import struct
import sys

import pytest

from chisel.core.live.engine import LiveSource

pytestmark = pytest.mark.live

LOOPBACK = bytes([127, 0, 0, 1])

PROGRAM = """\
import socket, sys
port = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
cli = socket.create_connection(("127.0.0.1", port))
conn, _ = srv.accept()
cli.sendall(b"hello")
assert conn.recv(5) == b"hello"
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tuple(raw):
    """PT_SOCKTUPLE (IPv4) -> (src ip, src port, dst ip, dst port)."""
    assert raw[0] == 2 and len(raw) == 13
    return raw[1:5], struct.unpack("<H", raw[5:7])[0], raw[7:11], struct.unpack("<H", raw[11:13])[0]


def test_connect_and_accept_carry_full_tuples():
    port = _free_port()
    src = LiveSource(event_types=frozenset({"connect", "accept", "bind"}),
                     command=[sys.executable, "-S", "-c", PROGRAM, str(port)])
    try:
        events = [ev for ev in src.events() if ev is not None]
    finally:
        src.close()
    assert src.child_exit_code == 0
    connects = [ev for ev in events if ev.name == "connect" and ev.dir == "<"]
    accepts = [ev for ev in events if ev.name == "accept" and ev.dir == "<"]
    binds = [ev for ev in events if ev.name == "bind" and ev.dir == "<"]
    assert len(connects) == 1 and len(accepts) == 1 and len(binds) == 1
    assert binds[0].raw[1] == b"\x02" + LOOPBACK + struct.pack("<H", port)  # PT_SOCKADDR
    cip, cport, sip, sport = _tuple(connects[0].raw[1])
    assert (cip, sip, sport) == (LOOPBACK, LOOPBACK, port)
    assert cport not in (0, port)
    # accept: client end first, then the server end, as sysdig writes it
    assert _tuple(accepts[0].raw[1]) == (LOOPBACK, cport, LOOPBACK, port)
