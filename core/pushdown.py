"""What the compiled filter lets the kernel drop early: the contract between filter and live engine.

Every constraint is data (it goes into BPF maps), never C source. `None` means "no constraint": the
kernel must keep everything on that axis. A constraint is only set when the filter can be true for
no event outside it, so pushing it down never changes the result.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PushDown:
    """Constraints the kernel may apply before an event leaves it.

    `event_types`: evt.type names the filter can match (None: any). `pids`, `tids`, `uids`: allowed
    values (None: any). `comms`: allowed proc.name values, each at most 15 bytes as the kernel keeps
    them (None: any). `fd_names`: exact fd.name values; an I/O event on any other fd cannot match
    (None: any fd), which lets the kernel track interesting (pid, fd) pairs from the opens.
    """

    event_types: frozenset | None = None
    pids: frozenset | None = None
    tids: frozenset | None = None
    uids: frozenset | None = None
    comms: frozenset | None = None
    fd_names: frozenset | None = None

    @property
    def is_empty(self):
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)


NO_PUSHDOWN = PushDown()
