"""Exit codes and the exceptions that carry them to the command line.

Library code only raises; `core/cli.py` is the one place that prints an error and exits.
"""

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, as click and pytest use them."""

    OK = 0
    FAILURE = 1  # it failed on this machine: no BPF rights, a chisel crash, a corrupt capture
    USAGE = 2  # the command as typed can never work: unknown chisel, bad flag value, bad filter


class ChiselError(Exception):
    """Base of every error chisel reports as one line; `exit_code` says how the process ends."""

    exit_code = ExitCode.FAILURE

    def __init__(self, message, *, detail_lines=()):
        super().__init__(message)
        self.message = message
        # Extra lines printed under the message (a filter and its caret), never a traceback.
        self.detail_lines = tuple(detail_lines)


class UsageError(ChiselError):
    """The command line, a filter, a chisel argument or a settings file is wrong: exit 2."""

    exit_code = ExitCode.USAGE


class ChiselRuntimeError(ChiselError):
    """Something failed on this machine (BPF rights, attach failure, I/O): exit 1."""


class CaptureFormatError(ChiselRuntimeError):
    """A capture file is corrupt or truncated at `offset`; events before it were processed."""

    def __init__(self, path, offset, why):
        super().__init__(f"{path}: corrupt capture at byte offset {offset}: {why}")
        self.path, self.offset, self.why = path, offset, why
