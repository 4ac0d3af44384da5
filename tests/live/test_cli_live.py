"""The `chisel` command on the live eBPF engine: real processes, exact counts, signals and pipes.

These need root and BPF; without them they fail (never skip), so CI cannot pass without tracing.
"""

import os
import select
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
BANNER = "Tracing... Ctrl-C to end."


def chisel_run(*argv, timeout=60):
    return subprocess.run([CHISEL, *argv], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TZ": "UTC"})


def start_chisel(*argv, stdout=subprocess.PIPE):
    """A live chisel in the background, returned once its banner says the probes are attached."""
    proc = subprocess.Popen([CHISEL, *argv], stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TZ": "UTC"})
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.strip() == BANNER:
                return proc
    proc.kill()
    raise AssertionError(f"no banner within 60 s; stderr so far: {''.join(seen)!r}")


@pytest.fixture
def known_file(tmp_path):
    path = tmp_path / "known.txt"
    path.write_bytes(b"chisel live test payload\n" * 4)
    return str(path)


def test_command_is_traced_from_its_first_syscall_and_its_exit_code_kept(known_file):
    result = chisel_run("--", "cat", known_file)
    assert result.returncode == 0
    assert result.stderr == f"{BANNER}\n"
    lines = result.stdout.splitlines()
    assert lines.count("chisel live test payload") == 4  # cat's own output, inherited stdout
    events = [ln for ln in lines if ln != "chisel live test payload"]
    # the gate's trampoline (a python) runs first, then execs cat: one successful execve of cat
    assert sum(" < execve res=0 exe=cat " in ln for ln in events) == 1
    opens = [ln for ln in events if f"< openat fd=3(<f>{known_file})" in ln]
    assert len(opens) == 1
    reads = [ln for ln in events if f"< read res=100 data=chisel live test payload" in ln]
    assert len(reads) == 1


def test_command_exit_code_is_chisels_exit_code():
    result = chisel_run("--", "sh", "-c", "exit 7")
    assert (result.returncode, result.stderr) == (7, f"{BANNER}\n")


def test_pid_traces_only_that_process(gated_process, known_file):
    child = gated_process(["cat", known_file], stdout=subprocess.DEVNULL)
    proc = start_chisel("--pid", str(child.pid))
    assert child.wait() == 0
    time.sleep(0.3)  # let the last records drain from the ring buffer
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert err == ""  # the banner was consumed by start_chisel; no traceback, no drops line
    lines = out.splitlines()
    assert lines and all(f" ({child.pid}) " in ln for ln in lines)
    assert sum(f"< openat fd=3(<f>{known_file})" in ln for ln in lines) == 1


def test_sigterm_ends_a_live_run_cleanly(gated_process):
    child = gated_process(["sleep", "30"])
    proc = start_chisel("--pid", str(child.pid), stdout=subprocess.DEVNULL)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, "")


def test_a_closed_pipe_ends_the_run_quietly():
    proc = start_chisel("--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do cat /etc/passwd; done")
    first = proc.stdout.readline()
    assert first
    proc.stdout.close()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_unknown_chisel_fails_before_any_probe_is_attached():
    result = chisel_run("no_such_chisel", "--", "true")
    assert result.returncode == 2
    assert result.stderr.startswith("chisel: error: unknown chisel 'no_such_chisel'")
    assert BANNER not in result.stderr


def test_live_write_is_read_back_by_sysdig_and_by_chisel(tmp_path, known_file):
    target = str(tmp_path / "live.scap")
    result = chisel_run("-w", target, "fd.name=" + known_file, "--", "cat", known_file)
    assert result.returncode == 0
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    fmt = "%evt.dir %evt.type %fd.name"
    # the openat enter has no fd yet, so fd.name matches from its exit on (as in sysdig)
    expected = [f"< openat {known_file}", f"> read {known_file}",
                f"< read {known_file}", f"> read {known_file}", f"< read {known_file}",
                f"> close {known_file}", f"< close {known_file}"]
    ours = chisel_run("-r", target, "-p", fmt)
    theirs = subprocess.run(["sysdig", "-r", target, "-p", fmt], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "TZ": "UTC"})
    assert ours.returncode == 0 and theirs.returncode == 0
    assert [ln for ln in ours.stdout.splitlines() if known_file in ln] == expected
    assert [ln for ln in theirs.stdout.splitlines() if known_file in ln] == expected


def test_filter_and_pid_on_a_loopback_connection(gated_process, loopback_server):
    server = loopback_server()
    payload = "x" * 1000
    client = gated_process(["python3", "-c",
                            "import socket, sys\n"
                            f"s = socket.create_connection(('127.0.0.1', {server.port}))\n"
                            "for _ in range(3):\n"
                            f"    s.sendall(b'{payload}')\n"
                            "s.close()\n"])
    proc = start_chisel("--pid", str(client.pid), "-p", "%evt.type %evt.rawres %fd.sport",
                        "evt.dir=< and fd.type=ipv4 and (evt.type=connect or evt.type=sendto "
                        "or evt.type=write)")
    assert client.wait() == 0
    time.sleep(0.3)  # let the last records drain from the ring buffer
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, "")
    sends = [ln for ln in out.splitlines() if not ln.startswith("connect ")]
    assert out.splitlines()[0] == f"connect 0 {server.port}"
    assert sends == [f"sendto 1000 {server.port}"] * 3 or sends == [f"write 1000 {server.port}"] * 3
    server.close()
    assert bytes(server.received) == payload.encode() * 3
