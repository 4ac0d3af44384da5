"""A small ctypes layer over bpf(2) and perf_event_open(2): maps, program loading, tracepoints.

This is what lets a live session run a program from the compiled-program cache (`objcache.py`)
without importing bcc: bcc and LLVM cost ~0.5 s to import and ~100 MB of resident memory that a
long-running capture would carry for nothing once the bytecode exists. Only the few commands the
engine needs are here; the layouts of `union bpf_attr`, `struct bpf_map_info` and
`struct perf_event_attr` are the kernel's UAPI (include/uapi/linux/bpf.h, perf_event.h), x86-64.
"""

import ctypes
import errno as errno_codes
import fcntl
import os
import struct
from functools import lru_cache

from ..errors import ChiselRuntimeError

_SYS_BPF = 321
_SYS_PERF_EVENT_OPEN = 298

# bpf(2) commands
BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15

# map types whose values are one slot per possible CPU
BPF_MAP_TYPE_PERCPU_HASH = 5
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_MAP_TYPE_LRU_PERCPU_HASH = 10
PERCPU_MAP_TYPES = frozenset({BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
                              BPF_MAP_TYPE_LRU_PERCPU_HASH})
BPF_PROG_TYPE_TRACEPOINT = 5

BPF_ANY = 0

# ld_imm64 (two instruction slots) and what its src_reg says the immediate is
BPF_LD_IMM64 = 0x18
BPF_PSEUDO_MAP_FD = 1
INSN_SIZE = 8

_ATTR_SIZE = 128  # bytes of union bpf_attr we pass: every field we use lies below this, rest zero
_MAP_INFO_SIZE = 88  # struct bpf_map_info up to map_extra
_OBJ_NAME_LEN = 16

PERF_TYPE_TRACEPOINT = 2
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
_PERF_ATTR_SIZE = 112  # PERF_ATTR_SIZE_VER5

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _bpf(cmd, attr, what):
    """bpf(cmd, attr) → the result; an OSError naming `what` on failure."""
    result = _syscall(_SYS_BPF, ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)
    return result


def _addr(buf):
    return ctypes.addressof(buf) if buf is not None else 0


@lru_cache(maxsize=1)
def possible_cpus():
    """Number of possible CPUs (the per-CPU map value count), from /sys's "0-N" ranges."""
    with open("/sys/devices/system/cpu/possible") as f:
        text = f.read().strip()
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


class BpfMap:
    """One BPF map, by fd, read and written as raw bytes.

    `name`, `map_type`, `key_size`, `value_size`, `max_entries`, `flags` come from the kernel
    (BPF_OBJ_GET_INFO_BY_FD) unless given. `lookup(key)` → value bytes or None; for a per-CPU
    map (`percpu` true) it is a list of value bytes, one per possible CPU, and `update` takes
    such a list (or one bytes value, copied to every CPU). `owned`: close the fd in `close()`.
    """

    def __init__(self, fd, name=None, *, owned=True):
        self.fd = fd
        self._owned = owned
        info = map_info(fd)
        self.name = name if name is not None else info["name"]
        self.map_type = info["type"]
        self.key_size = info["key_size"]
        self.value_size = info["value_size"]
        self.max_entries = info["max_entries"]
        self.flags = info["map_flags"]
        self.percpu = self.map_type in PERCPU_MAP_TYPES
        # the kernel copies per-CPU values in 8-byte aligned slots
        self._slot = (self.value_size + 7) & ~7
        self._ncpu = possible_cpus() if self.percpu else 1
        self._value_buf_size = self._slot * self._ncpu if self.percpu else self.value_size

    def __repr__(self):
        return f"BpfMap({self.name!r}, fd={self.fd}, type={self.map_type}, key={self.key_size}, value={self.value_size})"

    def _key(self, key):
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key is {len(key)} bytes, the map's keys are {self.key_size}")
        return ctypes.create_string_buffer(bytes(key), self.key_size)

    def _elem_attr(self, key_buf, value_buf, flags=0):
        """The attr for an element command; it holds only addresses: the caller keeps the buffers alive."""
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("<IIQQQ", attr, 0, self.fd, 0, _addr(key_buf), _addr(value_buf), flags)
        return attr

    def _split(self, raw):
        if not self.percpu:
            return raw
        return [raw[i * self._slot:i * self._slot + self.value_size] for i in range(self._ncpu)]

    def lookup(self, key):
        """The value stored under `key` (bytes; per-CPU map: list of bytes), or None if absent."""
        key_buf, value = self._key(key), ctypes.create_string_buffer(self._value_buf_size)
        if not self._call_on_key(BPF_MAP_LOOKUP_ELEM, self._elem_attr(key_buf, value), "lookup in"):
            return None
        return self._split(value.raw)

    def update(self, key, value, flags=BPF_ANY):
        """Store `value` under `key` (a per-CPU map takes a list of per-CPU values or one value for all)."""
        if self.percpu:
            values = value if isinstance(value, (list, tuple)) else [value] * self._ncpu
            if len(values) != self._ncpu:
                raise ValueError(f"map {self.name}: {len(values)} per-CPU values for {self._ncpu} CPUs")
            raw = b"".join(self._check_value(v).ljust(self._slot, b"\0") for v in values)
        else:
            raw = self._check_value(value)
        key_buf, value_buf = self._key(key), ctypes.create_string_buffer(raw, len(raw))
        _bpf(BPF_MAP_UPDATE_ELEM, self._elem_attr(key_buf, value_buf, flags), f"update of map {self.name}")

    def _check_value(self, value):
        if len(value) != self.value_size:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, the map's values are {self.value_size}")
        return bytes(value)

    def delete(self, key):
        """Remove `key`; True if it was there."""
        key_buf = self._key(key)  # kept alive here: the attribute holds only its address
        return self._call_on_key(BPF_MAP_DELETE_ELEM, self._elem_attr(key_buf, None), "delete in")

    def _call_on_key(self, cmd, attr, what):
        """bpf(cmd) on one key: True when done, False when the key is absent (ENOENT)."""
        try:
            _bpf(cmd, attr, f"{what} map {self.name}")
        except OSError as e:
            if e.errno == errno_codes.ENOENT:
                return False
            raise
        return True

    def keys(self):
        """Every key (bytes), each once, in the kernel's order (a list: deleting while looping is safe).

        A key the kernel deletes under the walk (an LRU eviction) restarts it from the first key:
        keys seen already are skipped, and the walk is bounded so it always ends.
        """
        found, seen = [], set()
        key_buf = None
        next_key = ctypes.create_string_buffer(self.key_size)
        for _ in range(2 * self.max_entries + 1):
            try:
                _bpf(BPF_MAP_GET_NEXT_KEY, self._elem_attr(key_buf, next_key), f"walk of map {self.name}")
            except OSError as e:
                if e.errno == errno_codes.ENOENT:
                    break
                raise
            key = next_key.raw
            if key not in seen:
                seen.add(key)
                found.append(key)
            key_buf = ctypes.create_string_buffer(key, self.key_size)
        return found

    def items(self):
        """(key, value) pairs; a key deleted meanwhile is skipped."""
        pairs = []
        for key in self.keys():
            value = self.lookup(key)
            if value is not None:
                pairs.append((key, value))
        return pairs

    def close(self):
        """Release the fd (if this object owns it); the map lives on while a program uses it."""
        if self._owned and self.fd >= 0:
            os.close(self.fd)
        self.fd = -1


def map_info(fd):
    """The kernel's `struct bpf_map_info` for map `fd` as a dict (type, key_size, ..., name)."""
    info = ctypes.create_string_buffer(_MAP_INFO_SIZE)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIQ", attr, 0, fd, _MAP_INFO_SIZE, ctypes.addressof(info))
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr, f"info of map fd {fd}")
    map_type, map_id, key_size, value_size, max_entries, map_flags = struct.unpack_from("<6I", info, 0)
    name = info.raw[24:24 + _OBJ_NAME_LEN].split(b"\0")[0].decode(errors="replace")
    return {"type": map_type, "id": map_id, "key_size": key_size, "value_size": value_size,
            "max_entries": max_entries, "map_flags": map_flags, "name": name}


def create_map(map_type, key_size, value_size, max_entries, flags=0, name=""):
    """BPF_MAP_CREATE → a new `BpfMap` owning its fd (`name`: the kernel keeps 15 bytes of it)."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<5I", attr, 0, map_type, key_size, value_size, max_entries, flags)
    kernel_name = _kernel_object_name(name)
    attr[28:28 + len(kernel_name)] = kernel_name
    fd = _bpf(BPF_MAP_CREATE, attr, f"creation of map {name or '?'}")
    return BpfMap(fd, name or None)


def _kernel_object_name(name):
    """What the kernel accepts as a map/program name: 15 bytes of [A-Za-z0-9_.]."""
    return bytes(c for c in name.encode()[:_OBJ_NAME_LEN - 1] if chr(c).isalnum() or c in b"_.")


def load_program(prog_type, insns, license_text, name="", kern_version=0):
    """BPF_PROG_LOAD → the program's fd. A verifier rejection raises `ChiselRuntimeError` with
    the last lines of the verifier's log (the load is repeated with logging on to get it)."""
    insn_buf = ctypes.create_string_buffer(bytes(insns), len(insns))
    license_buf = ctypes.create_string_buffer(license_text.encode())
    kernel_name = _kernel_object_name(name)

    def attempt(log_buf):
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("<IIQQIIQI", attr, 0, prog_type, len(insns) // INSN_SIZE, ctypes.addressof(insn_buf),
                         ctypes.addressof(license_buf), 1 if log_buf is not None else 0,
                         len(log_buf) if log_buf is not None else 0, _addr(log_buf), kern_version)
        attr[48:48 + len(kernel_name)] = kernel_name
        return _bpf(BPF_PROG_LOAD, attr, f"load of program {name}")

    try:
        return attempt(None)
    except OSError as first:
        log = ctypes.create_string_buffer(_VERIFIER_LOG_SIZE)
        try:
            fd = attempt(log)  # a load that fails only without a log buffer: keep the fd
        except OSError:
            text = log.value.decode(errors="replace").strip().splitlines()
            tail = "; ".join(text[-_VERIFIER_LOG_LINES:]) or first.strerror
            raise ChiselRuntimeError(f"the kernel refused BPF program {name}: {first.strerror}: {tail}") from first
        return fd


_VERIFIER_LOG_SIZE = 16 << 20
_VERIFIER_LOG_LINES = 3


def tracepoint_id(category, event, tracefs_roots):
    """The perf id of tracepoint category:event, from tracefs; `ChiselRuntimeError` if it has none."""
    for root in tracefs_roots:
        try:
            with open(os.path.join(root, "events", category, event, "id")) as f:
                return int(f.read())
        except OSError:
            continue
    raise ChiselRuntimeError(f"tracepoint {category}:{event} does not exist on this kernel")


def attach_tracepoint(prog_fd, tp_id):
    """Run program `prog_fd` on tracepoint `tp_id`: a perf event (one CPU serves every CPU for a
    tracepoint with a BPF program) with the program set and enabled; closing the returned fd detaches."""
    attr = ctypes.create_string_buffer(_PERF_ATTR_SIZE)
    # type, size, config, sample_period, sample_type; wakeup_events at 48
    struct.pack_into("<IIQQQ", attr, 0, PERF_TYPE_TRACEPOINT, _PERF_ATTR_SIZE, tp_id, 1, PERF_SAMPLE_RAW)
    struct.pack_into("<I", attr, 48, 1)
    fd = _syscall(_SYS_PERF_EVENT_OPEN, attr, ctypes.c_int(-1), ctypes.c_int(0), ctypes.c_int(-1),
                  ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC))
    if fd < 0:
        err = ctypes.get_errno()
        raise ChiselRuntimeError(f"cannot open tracepoint {tp_id}: {os.strerror(err)}")
    try:
        fcntl.ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd)
        fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
    except OSError as e:
        os.close(fd)
        raise ChiselRuntimeError(f"cannot attach a BPF program to tracepoint {tp_id}: {e.strerror}") from e
    return fd
