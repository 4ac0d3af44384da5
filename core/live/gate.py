"""Start a command held on a pipe gate until the probes are attached (bcc's exec.py idea).

The child is a tiny Python trampoline that blocks reading a pipe, then execs the command. Its PID
is known before it runs a single syscall of the command, so the engine can put it in the traced
set first and miss nothing; `release()` opens the gate.
"""

import os
import shutil
import subprocess
import sys

from ..errors import ChiselRuntimeError

# The trampoline names itself after the command first, so the /proc scan (and any capture written
# with a filter that drops the execve) shows the command's name rather than 'python'.
_TRAMPOLINE = (
    "import os, sys\n"
    "with open('/proc/self/comm', 'w') as comm:\n"
    "    comm.write(os.path.basename(sys.argv[3])[:15])\n"
    "gate = int(sys.argv[1])\n"
    "os.read(gate, 1)\n"
    "os.close(gate)\n"
    "try:\n"
    "    os.execv(sys.argv[2], sys.argv[3:])\n"
    "except OSError as e:\n"
    "    sys.stderr.write(f'chisel: error: cannot run {sys.argv[3]!r}: {e.strerror}\\n')\n"
    "    os._exit(127)\n"
)


class GatedProcess:
    """A child started but held before its command runs; `pid`, `release()`, `poll()`, `kill()`."""

    def __init__(self, argv):
        if not argv:
            raise ChiselRuntimeError("no command given to trace")
        # Resolved here, so the traced command makes one execve, not one per PATH entry.
        path = shutil.which(argv[0]) or argv[0]
        read_end, self._write_end = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _TRAMPOLINE, str(read_end), path, *argv], pass_fds=(read_end,))
        except OSError as e:
            os.close(self._write_end)
            raise ChiselRuntimeError(f"cannot start {argv[0]!r}: {e.strerror}") from e
        finally:
            os.close(read_end)
        self.pid = self.proc.pid

    def release(self):
        """Let the command run (idempotent)."""
        if self._write_end is not None:
            os.write(self._write_end, b"g")
            os.close(self._write_end)
            self._write_end = None

    def poll(self):
        """The exit code once the command has ended, else None."""
        return self.proc.poll()

    def kill(self):
        """Stop a command that is still held or running (used when the session ends early)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
