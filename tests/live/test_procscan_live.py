"""The /proc scan on this machine: a real process holding a known file and TCP sockets."""

import json
import os
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from chisel.core import procscan

pytestmark = pytest.mark.live

# The holder opens its fds, starts a second thread, reports fd numbers and ports, and waits for
# stdin to close.
HOLDER = textwrap.dedent("""
    import json, os, socket, sys, threading
    known = open(sys.argv[1], "rb")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    r, w = os.pipe()
    named, done = threading.Event(), threading.Event()

    def work():
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as comm:
            comm.write("holder-worker")
        named.set()
        done.wait()

    worker = threading.Thread(target=work)
    worker.start()
    named.wait()
    print(json.dumps({
        "known": known.fileno(), "server": server.fileno(), "client": client.fileno(),
        "accepted": accepted.fileno(), "pipe_r": r, "worker": worker.native_id,
        "port": server.getsockname()[1], "cport": client.getsockname()[1],
    }), flush=True)
    sys.stdin.read()
    done.set()
""")


@pytest.fixture
def holder(tmp_path):
    known = tmp_path / "known.txt"
    known.write_text("23 bytes of known data\n")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(known)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    info["pid"], info["path"] = proc.pid, str(known)
    yield info
    proc.stdin.close()
    proc.wait(timeout=10)


def _describe(fdinfo):
    return (fdinfo.type, fdinfo.l4proto, fdinfo.name, fdinfo.is_server,
            fdinfo.cip, fdinfo.cport, fdinfo.sip, fdinfo.sport)


def test_scan_sees_the_holders_file_and_sockets(holder):
    snapshot = procscan.scan_proc()
    threads = {t.tid: t for t in snapshot.threads if t.pid == holder["pid"]}
    assert sorted(threads) == sorted([holder["pid"], holder["worker"]])
    main = threads[holder["pid"]]
    assert (main.exe, main.exepath) == (sys.executable, os.path.realpath(sys.executable))
    with open(f"/proc/{holder['pid']}/comm") as comm:
        assert main.comm == comm.read().rstrip("\n")
    assert main.args[0] == "-c"
    assert threads[holder["worker"]].comm == "holder-worker"
    assert threads[holder["worker"]].fdtable is main.fdtable
    fds = main.fdtable
    port, cport = holder["port"], holder["cport"]
    tuple_name = f"127.0.0.1:{cport}->127.0.0.1:{port}"
    assert (fds[holder["known"]].type, fds[holder["known"]].name) == ("file", holder["path"])
    assert fds[holder["known"]].cloexec is True
    assert _describe(fds[holder["server"]]) == (
        "ipv4", "tcp", f"127.0.0.1:{port}", True, None, None, "127.0.0.1", port)
    assert _describe(fds[holder["client"]]) == (
        "ipv4", "tcp", tuple_name, False, "127.0.0.1", cport, "127.0.0.1", port)
    assert _describe(fds[holder["accepted"]]) == (
        "ipv4", "tcp", tuple_name, True, "127.0.0.1", cport, "127.0.0.1", port)
    assert fds[holder["pipe_r"]].type == "pipe"
    assert fds[holder["pipe_r"]].name == f"pipe:[{fds[holder['pipe_r']].ino}]"


def test_lookup_thread_finds_a_thread_not_yet_known(holder):
    worker = procscan.lookup_thread(holder["worker"])
    assert (worker.tid, worker.pid, worker.comm) == (holder["worker"], holder["pid"], "holder-worker")
    assert worker.fdtable[holder["known"]].name == holder["path"]


def test_scan_of_the_whole_machine_has_users_and_machine_info():
    snapshot = procscan.scan_proc()
    assert snapshot.users[0].name == "root"
    assert snapshot.machine["num_cpus"] >= 1 and snapshot.machine["memory_bytes"] > 0
    assert ("lo", "ipv4", "127.0.0.1") in snapshot.interfaces


def test_sysdig_names_the_scanned_fds_as_we_do(holder, tmp_path):
    # Our scan written as a capture's fd lists; sysdig rebuilds names and roles from the raw
    # local/remote tuples with its own rules, so equal names mean equal naming rules.
    from chisel.core import eventmodel
    from chisel.core.event import Event
    from chisel.core.scap_writer import ScapWriter

    snapshot = procscan.scan_proc()
    path = str(tmp_path / "scan.scap")
    writer = ScapWriter(path, snapshot)
    close_enter = eventmodel.load().ids_for_name("close")[0]
    writer.write(Event(time.time_ns(), holder["pid"], close_enter, [struct.pack("<q", 0)]))
    writer.close()
    lsof = subprocess.run(["sysdig", "-r", path, "-c", "lsof", f"proc.pid={holder['pid']}"],
                          capture_output=True, text=True, env={**os.environ, "TZ": "UTC"},
                          timeout=60, check=True).stdout
    theirs = {}
    for line in lsof.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 6 and cols[2] == str(holder["pid"]):
            theirs[int(cols[4])] = (cols[5], cols[6] if len(cols) > 6 else "")
    ours = next(t for t in snapshot.threads if t.tid == holder["pid"]).fdtable
    for name in ("known", "server", "client", "accepted", "pipe_r"):
        fd = ours[holder[name]]
        assert theirs[fd.fd] == (fd.type, fd.name), name
