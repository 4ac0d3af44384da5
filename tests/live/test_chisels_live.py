"""The built-in chisels on real processes, through the real CLI (`chisel CHISEL ... -- COMMAND`).

Each test runs a known workload under `chisel` and asserts exact values: the bytes of a known file,
an exact byte total, the exact commands of a shell, the exact byte counts of a loopback connection.
They need root and BPF and fail (never skip) without them.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.live

CHISEL = os.path.join(os.path.dirname(sys.executable), "chisel")


def run_cli(*argv, timeout=120):
    """Run the chisel command; its stdout after checking it exited 0."""
    done = subprocess.run([CHISEL, *argv], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    return done.stdout


def test_echo_fds_shows_what_cat_read(tmp_path):
    content = "chisel live test: echo_fds sees this line 0123456789"
    path = tmp_path / "known.txt"
    path.write_text(content)
    # cat's own stdout would land in ours: the shell sends it away, then becomes cat (exec).
    out = run_cli("echo_fds", "--no-color", f"fd.name={path}", "--",
                  "sh", "-c", f"exec cat {path} > /dev/null")
    assert out == f"------ Read {len(content)}B from   {path} (cat)\n{content}\n\n"


def test_topfiles_totals_what_dd_wrote(tmp_path):
    path = tmp_path / "written.bin"
    out = run_cli("topfiles", "--interval", "3600", f"fd.name={path}", "--",
                  "dd", "if=/dev/zero", f"of={path}", "bs=1000", "count=23", "status=none")
    assert path.stat().st_size == 23_000
    assert out.splitlines() == ["Bytes               Filename            ", "-" * 80,
                                f"22.46KB             {path}"]


def test_topfiles_ops_counts_each_write(tmp_path):
    path = tmp_path / "written.bin"
    out = run_cli("topfiles", "--by", "ops", "--interval", "3600", f"fd.name={path}", "--",
                  "dd", "if=/dev/zero", f"of={path}", "bs=1000", "count=23", "status=none")
    assert out.splitlines()[2] == f"23                  {path}"


def test_spy_users_sees_a_shells_commands_and_cd():
    out = run_cli("spy_users", "--no-color", "--", "sh", "-c", "bash -c 'cd /tmp; ls > /dev/null'; true")
    line = re.compile(r"^( *)(\d+) \d\d:\d\d:\d\d (\S+)\) (.*)$")
    seen = {}
    for text in out.splitlines():
        m = line.match(text)
        if m:
            seen[m.group(4)] = (len(m.group(1)), m.group(2))
    bash_indent, anchor = seen["bash -c cd /tmp; ls > /dev/null"]
    level = bash_indent // 3
    assert seen["cd /tmp"] == (4 * (level + 1), anchor)
    assert seen["ls "] == (3 * (level + 1), anchor)
    assert out.endswith("\n\n")


CLIENT_SERVER = textwrap.dedent("""
    import os, socket
    UP, DOWN = 1000, 2345
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    if os.fork() == 0:
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"u" * UP)
        got = 0
        while got < DOWN:
            got += len(client.recv(65536))
        client.close()
        os._exit(0)
    conn, _ = server.accept()
    got = 0
    while got < UP:
        got += len(conn.recv(65536))
    conn.sendall(b"d" * DOWN)
    conn.close()
    os.wait()
    print(port)
""")


def test_netconns_sees_both_ends_of_a_loopback_connection(tmp_path):
    script = tmp_path / "client_server.py"
    script.write_text(CLIENT_SERVER)
    out = run_cli("-j", "netconns", "--top", "0", "fd.l4proto=tcp", "--", sys.executable, "-S", str(script))
    docs = [json.loads(text) for text in out.splitlines() if text.startswith("{")]
    opened = [d["connection"] for d in docs if "connection" in d]
    table = [d["connections"] for d in docs if "connections" in d][-1]
    assert sorted(c["direction"] for c in opened) == ["in", "out"]
    assert all(c["result"] == "SUCCESS" for c in opened)
    client_end, server_end = sorted(table, key=lambda c: c["bytes_out"])
    assert (client_end["bytes_out"], client_end["bytes_in"]) == (1000, 2345)
    assert (server_end["bytes_out"], server_end["bytes_in"]) == (2345, 1000)
    assert client_end["pid"] != server_end["pid"]
    assert client_end["client"] == server_end["client"]
    assert client_end["server"] == server_end["server"]
    assert client_end["server"].startswith("127.0.0.1:") and client_end["client"].startswith("127.0.0.1:")
