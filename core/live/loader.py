"""Load a compiled `objcache.ObjectEntry` into the kernel and attach its programs, without bcc.

`LoadedObject(entry, tracefs_roots, attach=None)` creates the maps, writes their fds into the programs'
map references, loads each program (the verifier runs here) and attaches it to its tracepoint; with
`attach` (a set of 'category:event'), only the programs attached there.
`maps` is {name: `bpfsys.BpfMap`}; `close()` detaches every program and frees the maps.
"""

import os
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ..errors import ChiselRuntimeError
from . import bpfsys

_IMM = struct.Struct("<i")
_IMM_OFFSET = 4  # the 32-bit immediate of an instruction: code u8, regs u8, off s16, imm s32


def relocate(insns, relocs, fds_by_name):
    """`insns` with each (index, map name) reference loading that map's fd."""
    out = bytearray(insns)
    for index, name in relocs:
        _IMM.pack_into(out, index * bpfsys.INSN_SIZE + _IMM_OFFSET, fds_by_name[name])
    return bytes(out)


def close_all_parallel(close, handles):
    """Detach every tracepoint at once: each detach waits for a kernel RCU grace period (~35-50 ms).

    One after another that is 1.6 s for 46 tracepoints and 5.4 s for 112 at Ctrl-C; the waits
    overlap when the closes run in parallel (0.06 s for 46). os.close releases the GIL.
    """
    if not handles:
        return
    with ThreadPoolExecutor(max_workers=min(len(handles), 128)) as pool:
        list(pool.map(close, handles))


class LoadedObject:
    """The maps and attached programs of one entry (see the module's docstring)."""

    def __init__(self, entry, tracefs_roots, attach=None):
        self.maps = {}
        self._prog_fds = []
        self._perf_fds = []
        try:
            for spec in entry.maps:
                try:
                    self.maps[spec.name] = bpfsys.create_map(spec.map_type, spec.key_size, spec.value_size,
                                                             spec.max_entries, spec.flags, spec.name)
                except OSError as e:
                    raise ChiselRuntimeError(f"cannot create BPF map {spec.name}: {e.strerror}") from e
            fds = {name: m.fd for name, m in self.maps.items()}
            for prog in entry.programs:
                if attach is not None and prog.attach not in attach:
                    continue  # another plan's program in a shared object: neither verified nor attached
                fd = bpfsys.load_program(prog.prog_type, relocate(prog.insns, prog.relocs, fds),
                                         entry.license, _short_name(prog.name), entry.kern_version)
                self._prog_fds.append(fd)
                category, _, event = prog.attach.partition(":")
                tp_id = bpfsys.tracepoint_id(category, event, tracefs_roots)
                self._perf_fds.append(bpfsys.attach_tracepoint(fd, tp_id))
        except BaseException:
            self.close()
            raise

    def recursion_misses(self):
        """How many times the kernel skipped one of these programs because a BPF program was already
        running on that CPU (each skip is a lost event; /proc's fdinfo of a program counts them)."""
        total = 0
        for fd in self._prog_fds:
            try:
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("recursion_misses:"):
                            total += int(line.split()[1])
            except (OSError, ValueError):
                continue  # a kernel without the counter (before 5.12) reports none
        return total

    def close(self, detach_in_background=False):
        """Detach (close the perf events, in parallel), then unload the programs and free the maps.

        The kernel detaches one tracepoint at a time, each after a grace period (40 ms each on 6.18,
        4.5 s for a 110-tracepoint plan). With `detach_in_background`, a child process takes over the
        perf events and closes them after this one has let go, so a command that ends does not wait
        (the programs, made inert by the caller, stay attached those few seconds).
        """
        if detach_in_background and self._perf_fds and _hand_over(self._perf_fds):
            self._perf_fds = []
        close_all_parallel(os.close, self._perf_fds)
        self._perf_fds = []
        for fd in self._prog_fds:
            os.close(fd)
        self._prog_fds = []
        for m in self.maps.values():
            m.close()
        self.maps = {}


_DETACHERS = []  # children closing perf events: kept so they can be reaped (no zombies)


def reap_detachers():
    """Forget (and reap) the detaching children that have finished."""
    for child in list(_DETACHERS):
        if child.poll() is not None:
            _DETACHERS.remove(child)


def _hand_over(perf_fds):
    """Give `perf_fds` to a child that closes them once this process has closed its copies (else its
    close would not be the last, slow one); True when done, False to close them here instead."""
    reap_detachers()
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return False
    try:
        # `read` returns when our end of the pipe closes: after our copies are closed, below
        child = subprocess.Popen(["/bin/sh", "-c", "read _; exit 0"], stdin=read_end, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, pass_fds=tuple(perf_fds), start_new_session=True)
    except OSError:
        os.close(write_end)
        return False
    finally:
        os.close(read_end)
    for fd in perf_fds:
        os.close(fd)  # not the last reference: returns at once
    os.close(write_end)
    _DETACHERS.append(child)
    return True


def _short_name(program):
    """The kernel's 15-byte program name: the event, as bcc names it (tracepoint__syscalls__sys_enter_read
    → sys_enter_read)."""
    return program.rsplit("__", 1)[-1]

