"""In-kernel I/O aggregation on real processes: topfiles and netconns give the same totals to the byte
whether the kernel adds reads and writes up or every call reaches the chisel (--no-kernel-agg).

The workload covers what can go wrong with per-fd totals: an fd closed in the middle of an interval,
an fd number reused at once, a dup'd fd, dup2 over an open fd, a child that exits without closing
its file and its socket, an execve (close-on-exec fds), and a 127.0.0.1 TCP connection carried by
send/recv, read/write and sendmsg/recvmsg. Sessions run in-process so the test can also check that
aggregation really was on. They need root and BPF and fail (never skip) without them.
"""

import io
import json
import sys
import textwrap

import pytest

from chisel.core.config import RunConfig
from chisel.core.session import Session
from chisel.plugins.manager import load_plugins

pytestmark = pytest.mark.live

WORKLOAD = textwrap.dedent("""
    import os, socket, sys, time
    d = sys.argv[1]
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
    # a file written and read with each call, closed in the middle of an interval
    fd = os.open(f"{d}/rw.bin", flags, 0o600)
    for _ in range(23):
        os.write(fd, b"a" * 1000)
    os.pwrite(fd, b"p" * 500, 0)
    os.writev(fd, [b"v" * 100, b"w" * 200])
    os.lseek(fd, 0, 0)
    while os.read(fd, 4096):
        pass
    os.pread(fd, 123, 7)
    os.readv(fd, [bytearray(10)])
    time.sleep(0.25)
    os.close(fd)
    # the fd number reused at once, a dup of it, and dup2 over another open file
    fd2 = os.open(f"{d}/reuse.bin", flags, 0o600)
    os.write(fd2, b"r" * 4321)
    fd3 = os.dup2(fd2, 9)  # the dup2 syscall; os.dup() is fcntl(F_DUPFD_CLOEXEC), not traced live
    os.write(fd3, b"d" * 111)
    os.close(fd3)
    other = os.open(f"{d}/replaced.bin", flags, 0o600)
    os.write(other, b"x" * 222)
    os.dup2(fd2, other)
    os.write(other, b"y" * 333)
    os.close(other)
    os.close(fd2)
    # a child that writes a file and exits without closing it
    pid = os.fork()
    if pid == 0:
        os.write(os.open(f"{d}/child.bin", flags, 0o600), b"c" * 777)
        os._exit(0)
    os.waitpid(pid, 0)
    # an exec'd child whose close-on-exec file is closed by the exec, not by close
    pid = os.fork()
    if pid == 0:
        keep = os.open(f"{d}/cloexec.bin", flags | os.O_CLOEXEC, 0o600)
        os.write(keep, b"e" * 4096)
        os.execv("/bin/true", ["true"])
    os.waitpid(pid, 0)
    # loopback TCP: the client (a child) exits without closing its socket
    server = socket.create_server(("127.0.0.1", 0))
    pid = os.fork()
    if pid == 0:
        client = socket.create_connection(server.getsockname())
        client.sendall(b"u" * 1000)
        got = 0
        while got < 2345 + 100:
            got += len(os.read(client.fileno(), 65536))
        os._exit(0)
    conn, _ = server.accept()
    got = 0
    while got < 1000:
        got += len(conn.recv(65536))
    os.write(conn.fileno(), b"w" * 2345)
    conn.sendmsg([b"m" * 50, b"n" * 50])
    os.waitpid(pid, 0)
    time.sleep(0.25)
    conn.close()
    server.close()
""")

EXPECTED_BYTES = {"rw.bin": 23 * 1000 + 500 + 300 + 23300 + 123, "reuse.bin": 4321 + 111 + 333,
                  "replaced.bin": 222, "child.bin": 777, "cloexec.bin": 4096}
# rw.bin: 25 writes; 6 reads with data, one at EOF, pread, readv
EXPECTED_OPS = {"rw.bin": 25 + 7 + 1 + 1, "reuse.bin": 3, "replaced.bin": 1, "child.bin": 1,
                "cloexec.bin": 1}


def _json_objects(text):
    decoder, pos, found = json.JSONDecoder(), 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(text, pos)
        found.append(obj)
    return found


def run_live(tmp_path, chisel, args, kernel_agg):
    """Run `chisel` live over the workload in-process; (session, JSON objects it printed)."""
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    out_dir = tmp_path / ("agg" if kernel_agg else "events")
    out_dir.mkdir()
    plugins = load_plugins(env={})
    entry = plugins.find(chisel)
    config = RunConfig(chisel=entry.name, json=True, kernel_agg=kernel_agg,
                       command=(sys.executable, "-S", "-B", str(script), str(out_dir)))
    stdout, stderr = io.StringIO(), io.StringIO()
    session = Session(config, plugins, [entry], {entry.name: args}, stdout=stdout, stderr=stderr)
    assert session.run() == 0, stderr.getvalue()
    assert "dropped" not in stderr.getvalue()
    return session, _json_objects(stdout.getvalue()), out_dir


def topfiles_totals(tables, out_dir):
    """Per file of the workload's directory: the sum over every interval's table."""
    totals = {}
    for table in tables:
        for name, value in table["data"]:
            if name.startswith(f"{out_dir}/"):
                key = name[len(str(out_dir)) + 1:]
                totals[key] = totals.get(key, 0) + value
    return totals


@pytest.mark.parametrize("by, expected", [("bytes", EXPECTED_BYTES), ("ops", EXPECTED_OPS)])
def test_topfiles_totals_are_the_same_with_and_without_kernel_aggregation(tmp_path, by, expected):
    args = {"by": by, "top": 0, "interval": 0.2}
    session, tables, out_dir = run_live(tmp_path, "topfiles", args, kernel_agg=True)
    assert session.aggregating
    assert len(tables) > 1  # several intervals: totals were flushed along the way, not only at the end
    aggregated = topfiles_totals(tables, out_dir)
    session, tables, out_dir = run_live(tmp_path, "topfiles", args, kernel_agg=False)
    assert not session.aggregating
    per_event = topfiles_totals(tables, out_dir)
    assert aggregated == per_event == expected


def _connections(objects):
    """(client port role, pid role) -> (bytes_in, bytes_out) from the last connections table."""
    last = [o for o in objects if "connections" in o][-1]["connections"]
    rows = [c for c in last if c["server"].startswith("127.0.0.1:") and c["client"].startswith("127.0.0.1:")]
    return sorted((c["bytes_in"], c["bytes_out"]) for c in rows), {c["server"] for c in rows}


def test_netconns_bytes_are_the_same_with_and_without_kernel_aggregation(tmp_path):
    args = {"top": 0, "interval": 0.2}
    session, objects, _ = run_live(tmp_path, "netconns", args, kernel_agg=True)
    assert session.aggregating
    aggregated, servers = _connections(objects)
    assert len(servers) == 1
    session, objects, _ = run_live(tmp_path, "netconns", args, kernel_agg=False)
    assert not session.aggregating
    per_event, _ = _connections(objects)
    # the server's end read 1000 and wrote 2345 + 100; the client's end the reverse
    assert aggregated == per_event == [(1000, 2445), (2445, 1000)]


def test_a_filter_keeps_the_per_event_path(tmp_path):
    script = tmp_path / "w.py"
    script.write_text("import os\nos.write(os.open(os.devnull, os.O_WRONLY), b'z' * 5)\n")
    plugins = load_plugins(env={})
    entry = plugins.find("topfiles")
    config = RunConfig(chisel="topfiles", json=True, filter_text="fd.name=/dev/null",
                       command=(sys.executable, "-S", str(script)))
    session = Session(config, plugins, [entry], {"topfiles": {"interval": 3600}},
                      stdout=io.StringIO(), stderr=io.StringIO())
    assert session.run() == 0
    assert not session.aggregating


def test_a_full_totals_map_counts_the_lost_calls_as_drops(tmp_path, monkeypatch):
    from chisel.core.live import probes  # noqa: PLC0415

    monkeypatch.setattr(probes, "IO_TOTALS_MAX", 4)  # four (process, fd) pairs fit, no more
    script = tmp_path / "many.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        fds = [os.open(f"{sys.argv[1]}/f{i}", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(12)]
        for fd in fds:
            os.write(fd, b"x")
    """))
    plugins = load_plugins(env={})
    stderr = io.StringIO()
    config = RunConfig(chisel="topfiles", json=True,
                       command=(sys.executable, "-S", "-B", str(script), str(tmp_path)))
    session = Session(config, plugins, [plugins.find("topfiles")], {"topfiles": {"interval": 3600}},
                      stdout=io.StringIO(), stderr=stderr)
    assert session.run() == 0
    assert session.aggregating
    assert session.stats.drops >= 8  # the writes to f4..f11 at least; python's own reads may add more
    assert f"{session.stats.drops} events dropped" in stderr.getvalue()
