"""Fields on the live eBPF engine: a real `cat` of a known file, its fd, I/O and process fields.

Needs root and BPF; without them the test fails (never skips).
"""

import os
import subprocess

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
# '*': print every event, <NA> for fields that do not apply (without it such events are skipped)
FORMAT = ("*%evt.type %evt.dir %fd.num %fd.typechar %fd.directory %fd.filename %evt.buflen "
          "%evt.is_io_read %evt.is_open_read %evt.res %proc.name %proc.exe %proc.args "
          "%thread.ismain %evt.category %user.uid|%fd.name")


def test_cat_of_a_known_file_has_sysdigs_field_values(tmp_path):
    known = tmp_path / "known.txt"
    known.write_bytes(b"chisel fields live payload\n" * 4)  # 108 bytes, read in one go
    result = subprocess.run([CHISEL, "-p", FORMAT, "--", "cat", str(known)], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    on_file = [line.split("|")[0] for line in result.stdout.splitlines()
               if line.endswith(f"|{known}")]
    d, uid = str(tmp_path), os.geteuid()
    common = f"cat cat {known} true file {uid}"
    assert on_file == [
        f"openat < 3 f {d} known.txt <NA> false true SUCCESS {common}",
        f"read > 3 f {d} known.txt <NA> true false <NA> {common}",
        f"read < 3 f {d} known.txt 108 true false SUCCESS {common}",
        f"read > 3 f {d} known.txt <NA> true false <NA> {common}",
        f"read < 3 f {d} known.txt 0 true false SUCCESS {common}",
        f"close > 3 f {d} known.txt <NA> false false <NA> {common}",
        f"close < 3 f {d} known.txt 0 false false SUCCESS {common}",
    ]


LOOPBACK_PROGRAM = """
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", srv.getsockname()[1]))
conn, _ = srv.accept()
cli.sendall(b"ping1234"); conn.recv(8)
"""
SOCKET_FORMAT = ("*%evt.type %evt.dir %fd.type %fd.typechar %fd.l4proto %fd.sockfamily %fd.cip "
                 "%fd.sport %fd.lip %fd.rip %fd.is_server %fd.connected %fd.name_changed "
                 "%evt.buflen|%fd.name|%fd.cport|%fd.sport")


def test_loopback_connection_has_sysdigs_socket_field_values(tmp_path):
    program = tmp_path / "loopback.py"
    program.write_text(LOOPBACK_PROGRAM)
    result = subprocess.run([CHISEL, "-p", SOCKET_FORMAT, "fd.type=ipv4", "--", "/usr/bin/python3",
                             str(program)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if "|" in line]
    connected = [r for r in rows if "->" in r[1]]
    cport, sport = connected[0][2], connected[0][3]
    tuple_name = f"127.0.0.1:{cport}->127.0.0.1:{sport}"
    ends = f"127.0.0.1 {sport} 127.0.0.1 127.0.0.1"  # fd.cip fd.sport fd.lip fd.rip
    got = [r[0] for r in connected if r[0].split()[0] in ("connect", "accept", "recvfrom")]
    assert got == [
        f"connect < ipv4 4 tcp ip {ends} true true true <NA>",
        f"accept < ipv4 4 tcp ip {ends} true true true <NA>",
        f"recvfrom > ipv4 4 tcp ip {ends} true true false <NA>",
        f"recvfrom < ipv4 4 tcp ip {ends} true true false 8",
    ]
    assert all(r[1] == tuple_name for r in connected)
    assert ["socket < ipv4 4 <NA> ip <NA> <NA> <NA> <NA> false false false <NA>"] * 2 == \
        [r[0] for r in rows if r[0].startswith("socket <")]
