"""Shared fixtures: real processes with their PID known first (`gated_process`), a TCP server on
127.0.0.1 (`loopback_server`), hermetic plugin discovery for every test, and a process with a
command line longer than libscap's buffers alive for the whole session (`long_command_line`)."""

import os
import socket
import subprocess
import sys
import threading

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCAP_DIR = os.path.join(REPO, "tests", "data", "scap")
SYSDIG_DIR = os.path.join(REPO, "tests", "data", "sysdig-0.29")
SAMPLE_PLUGINS = os.path.join(REPO, "tests", "plugins")

# The child blocks on the pipe before running anything of the command (bcc's exec.py trick).
_GATE = ("import os, sys\n"
         "if os.read(int(sys.argv[1]), 1) != b'x':\n"
         "    os._exit(125)\n"
         "os.execvp(sys.argv[2], sys.argv[2:])\n")


class GatedProcess:
    """A started child held before its command runs: `pid` is known, `release()` lets it go."""

    def __init__(self, argv, **popen):
        read_end, self._gate = os.pipe()
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", _GATE, str(read_end), *argv],
                                     pass_fds=(read_end,), **popen)
        os.close(read_end)
        self.pid = self.proc.pid

    def release(self):
        """Let the command run (once)."""
        if self._gate is not None:
            os.write(self._gate, b"x")
            os.close(self._gate)
            self._gate = None

    def wait(self, timeout=30):
        """Release if needed and wait; the exit code."""
        self.release()
        return self.proc.wait(timeout)

    def close(self):
        if self._gate is not None:
            os.close(self._gate)  # EOF: the child exits 125 without running the command
            self._gate = None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def gated_process():
    """A factory: `gated_process(["cat", path])` → GatedProcess (PID known, held until release())."""
    started = []

    def start(argv, **popen):
        child = GatedProcess(argv, **popen)
        started.append(child)
        return child

    yield start
    for child in started:
        child.close()


class LoopbackServer:
    """A TCP server on 127.0.0.1 (port chosen by the kernel) that reads `expect` bytes then replies."""

    def __init__(self, reply=b""):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            while chunk := conn.recv(65536):
                self.received += chunk
                if self.reply:
                    conn.sendall(self.reply)
                    self.reply = b""

    def close(self):
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def loopback_server():
    """A factory: `loopback_server(reply=b"...")` → LoopbackServer with `.port` and `.received`."""
    servers = []

    def start(reply=b""):
        server = LoopbackServer(reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def hermetic_plugin_env(monkeypatch, tmp_path_factory):
    """No user settings file or CHISEL_PATH leaks into a test."""
    monkeypatch.delenv("CHISEL_PATH", raising=False)
    monkeypatch.delenv("CHISEL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(scope="session", autouse=True)
def long_command_line():
    """A process whose command line and environment exceed libscap's 4 kB buffers, alive for the
    whole session so every /proc scan meets one: a CI runner's 25 kB command line once made sysdig
    refuse every capture chisel wrote (process-list strings must be cut to libscap's limits)."""
    # Popen returns once the exec has happened, so /proc already shows this command line.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"] + ["x" * 900] * 30,
                            env=dict(os.environ, CHISEL_LONG_ENV="e" * 6000))
    yield proc
    proc.kill()
    proc.wait()
