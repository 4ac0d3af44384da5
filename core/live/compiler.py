"""Compile a generated BPF source with bcc into an `objcache.ObjectEntry`, in a child process.

`compile_in_subprocess(source, key)` runs `python -m chisel.core.live.compiler KEY` with the source
on stdin and reads the encoded entry from stdout. The child imports bcc, lets clang build the
object (bcc creates the maps and patches their fds into the instructions as it goes), reads the
instructions and map definitions back, and exits: bcc and LLVM, ~0.5 s to import and ~100 MB of
touched pages, never enter the long-running capture process. Nothing is loaded into or attached
to the kernel here: the programs run only once the parent has loaded them (`loader.py`).
"""

import ctypes
import subprocess
import sys

from ..errors import ChiselRuntimeError
from . import bpfsys, objcache

TRACEPOINT_PREFIX = "tracepoint__"
COMPILE_TIMEOUT_S = 300


def _declare_missing_types(lib):
    # libbcc exports these, but bcc's Python binding declares no types for them
    lib.bpf_num_tables.restype, lib.bpf_num_tables.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
    lib.bpf_table_name.restype = ctypes.c_char_p
    lib.bpf_table_name.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def split_relocations(insns, names_by_fd):
    """(instructions with map-fd immediates zeroed, ((index, map name), ...)).

    Every ld_imm64 whose src_reg is BPF_PSEUDO_MAP_FD carries the fd of a map bcc created; any
    other pseudo source (map values, BTF ids, functions by fd) has no meaning outside this process
    and is refused.
    """
    out = bytearray(insns)
    relocs = []
    index, count = 0, len(insns) // bpfsys.INSN_SIZE
    while index < count:
        at = index * bpfsys.INSN_SIZE
        if out[at] != bpfsys.BPF_LD_IMM64:
            index += 1
            continue
        src_reg = out[at + 1] >> 4
        if src_reg == bpfsys.BPF_PSEUDO_MAP_FD:
            fd = int.from_bytes(out[at + 4:at + 8], "little", signed=True)
            if fd not in names_by_fd:
                raise ValueError(f"instruction {index} loads fd {fd}, which is no map of this object")
            relocs.append((index, names_by_fd[fd]))
            out[at + 4:at + 8] = bytes(4)
        elif src_reg != 0:
            raise ValueError(f"instruction {index}: ld_imm64 with pseudo source {src_reg} cannot be cached")
        index += 2  # ld_imm64 takes two instruction slots
    return bytes(out), tuple(relocs)


def compile_entry(source, key):
    """Compile `source` with bcc (imported here) → `ObjectEntry`; bcc's errors propagate."""
    import bcc  # noqa: PLC0415 - this process exists to pay for it

    class _CompileOnly(bcc.BPF):
        def _trace_autoload(self):
            """bcc would load and attach every TRACEPOINT_PROBE here; we only want the bytecode."""

    bpf = _CompileOnly(text=source.encode())
    lib, module = bcc.lib, bpf.module
    _declare_missing_types(lib)
    maps, names_by_fd = [], {}
    for i in range(lib.bpf_num_tables(module)):
        raw_name = lib.bpf_table_name(module, i)
        fd = lib.bpf_table_fd(module, raw_name)
        info = bpfsys.map_info(fd)  # the kernel's own view of what bcc created
        name = raw_name.decode()
        names_by_fd[fd] = name
        maps.append(objcache.MapSpec(name, info["type"], info["key_size"], info["value_size"],
                                     info["max_entries"], info["map_flags"]))
    programs = []
    for i in range(lib.bpf_num_functions(module)):
        raw_name = lib.bpf_function_name(module, i)
        name = raw_name.decode()
        if not name.startswith(TRACEPOINT_PREFIX):
            continue  # helpers and non-tracepoint sections: nothing we attach
        start, size = lib.bpf_function_start(module, raw_name), lib.bpf_function_size(module, raw_name)
        insns, relocs = split_relocations(ctypes.string_at(start, size), names_by_fd)
        category, _, event = name[len(TRACEPOINT_PREFIX):].partition("__")
        programs.append(objcache.ProgramSpec(name, bpfsys.BPF_PROG_TYPE_TRACEPOINT, f"{category}:{event}",
                                             insns, relocs))
    return objcache.ObjectEntry(key, lib.bpf_module_license(module).decode(),
                                int(lib.bpf_module_kern_version(module)), tuple(maps), tuple(programs))


def compile_in_subprocess(source, key):
    """The `ObjectEntry` for `source`, compiled by a child process; `ChiselRuntimeError` on failure."""
    try:
        proc = subprocess.run([sys.executable, "-m", "chisel.core.live.compiler", key],
                              input=source.encode(errors="surrogateescape"), capture_output=True,
                              timeout=COMPILE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ChiselRuntimeError(f"cannot compile the BPF programs: {e}") from e
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
        # clang's diagnostics come first; its first error says more than bcc's closing summary
        errors = [line for line in lines if "error:" in line]
        why = (errors or lines or [f"the compiler exited with status {proc.returncode}"])[0 if errors else -1]
        raise ChiselRuntimeError(f"cannot compile the BPF programs: {why}")
    try:
        return objcache.decode(proc.stdout, key)
    except objcache.CorruptEntry as e:
        raise ChiselRuntimeError(f"cannot compile the BPF programs: the compiler's output is bad ({e})") from e


def main(argv=None):
    """Child side: KEY as the argument, source on stdin, encoded entry on stdout, errors on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m chisel.core.live.compiler KEY < SOURCE > ENTRY", file=sys.stderr)
        return 2
    source = sys.stdin.buffer.read().decode(errors="surrogateescape")
    try:
        entry = compile_entry(source, argv[0])
    except ImportError as e:
        print(f"BPF/bcc unavailable ({e}); install python3-bpfcc, or read a capture with -r", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - bcc raises bare Exceptions; the parent shows the last line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"{first}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(objcache.encode(entry))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
