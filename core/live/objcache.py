"""The compiled-program cache: BPF bytecode of a generated source, kept between live sessions.

`probes.generate_source(plan)` is a pure function of the plan and filter values live in maps, so
the bytecode clang makes of one source serves every later session with the same plan. A hit
skips the compile (~1.4 s) and bcc altogether (`loader.py` loads the entry with bpf(2) itself).

An entry (`ObjectEntry`) holds, per map, its definition, and per program its type, tracepoint,
instructions and where those instructions reference a map (by name: fds are per process and are
patched in at load). On disk (`encode`/`decode`):

    MAGIC | u32 header length | header (JSON) | instructions of every program | sha256 of all before

The key (`cache_key`) is the sha256 of the format version, the source, the kernel (release and
build: bcc compiles against its headers and tracepoint formats) and bcc's version. The header
repeats it, so a file renamed onto another key is a miss; so is any truncated or altered file.

Safety: as root we load whatever bytecode the cache holds, so only a directory and files that
nobody but us (or root) could have written are trusted (`CacheDir`): owned by us or root, not
writable by group or others, no symlinks; anything else is refused with one warning and the
program is compiled as if there were no cache. A directory keeps the MAX_ENTRIES most recently
used entries.
"""

import hashlib
import json
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
MAGIC = b"CHISEL-BPF-OBJECT\n"
DEFAULT_DIR = "/var/cache/chisel"
ENV_VAR = "CHISEL_BPF_CACHE"
_HEADER_LEN = struct.Struct("<I")
_DIGEST_LEN = 32
INSN_SIZE = 8
# Entries kept per directory: one per distinct plan and kernel, ~100 KB each. Every hit marks its
# entry used, and a store beyond this many removes the least recently used.
MAX_ENTRIES = 64
_SUFFIX = ".bpfobj"


class CorruptEntry(ValueError):
    """A cache file that is not a complete, intact entry for the key asked for."""


@dataclass(frozen=True)
class MapSpec:
    """What BPF_MAP_CREATE needs to make one map again."""

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int


@dataclass(frozen=True)
class ProgramSpec:
    """One program: `insns` (bytes, 8 per instruction) with the map-fd immediates zeroed, and
    `relocs`, a tuple of (instruction index, map name) for every ld_imm64 that loads a map fd."""

    name: str
    prog_type: int
    attach: str  # tracepoint "category:event"
    insns: bytes
    relocs: tuple


@dataclass(frozen=True)
class ObjectEntry:
    """Everything needed to load a compiled source without its compiler."""

    key: str
    license: str
    kern_version: int
    maps: tuple
    programs: tuple


def _bcc_version():
    """bcc's version, read from its package without importing it (the import is what a hit avoids)."""
    from importlib.util import find_spec  # noqa: PLC0415

    try:
        spec = find_spec("bcc")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "none"
    for folder in spec.submodule_search_locations:
        try:
            return Path(folder, "version.py").read_text().strip()
        except OSError:
            continue
    return "unknown"


def cache_key(source, *, kernel=None, bcc_version=None):
    """Hex sha256 naming the entry for `source` on this kernel with this bcc."""
    uname = os.uname()
    kernel = kernel if kernel is not None else f"{uname.release} {uname.version}"
    bcc_version = bcc_version if bcc_version is not None else _bcc_version()
    h = hashlib.sha256()
    for part in (f"format {FORMAT_VERSION}", kernel, bcc_version, "cflags: none", source):
        data = part.encode(errors="surrogateescape")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def encode(entry):
    """The file bytes of `entry`."""
    blob, programs, offset = [], [], 0
    for prog in entry.programs:
        if len(prog.insns) % INSN_SIZE:
            raise ValueError(f"program {prog.name}: {len(prog.insns)} bytes is not whole instructions")
        programs.append({"name": prog.name, "type": prog.prog_type, "attach": prog.attach,
                         "offset": offset, "size": len(prog.insns),
                         "relocs": [[index, name] for index, name in prog.relocs]})
        blob.append(prog.insns)
        offset += len(prog.insns)
    header = json.dumps({"key": entry.key, "license": entry.license, "kern_version": entry.kern_version,
                         "maps": [[m.name, m.map_type, m.key_size, m.value_size, m.max_entries, m.flags]
                                  for m in entry.maps],
                         "programs": programs}, separators=(",", ":")).encode()
    body = MAGIC + _HEADER_LEN.pack(len(header)) + header + b"".join(blob)
    return body + hashlib.sha256(body).digest()


def decode(data, key):
    """The `ObjectEntry` in `data`, which must be intact and for `key`; else `CorruptEntry`."""
    if len(data) < len(MAGIC) + _HEADER_LEN.size + _DIGEST_LEN or not data.startswith(MAGIC):
        raise CorruptEntry("not a chisel BPF object")
    body, digest = data[:-_DIGEST_LEN], data[-_DIGEST_LEN:]
    if hashlib.sha256(body).digest() != digest:
        raise CorruptEntry("checksum mismatch")
    start = len(MAGIC) + _HEADER_LEN.size
    (header_len,) = _HEADER_LEN.unpack_from(body, len(MAGIC))
    try:
        header = json.loads(body[start:start + header_len])
        if header["key"] != key:
            raise CorruptEntry("entry for another key")
        blob = body[start + header_len:]
        maps = tuple(MapSpec(str(name), *(int(v) for v in rest)) for name, *rest in header["maps"])
        map_names = {m.name for m in maps}
        programs = []
        for p in header["programs"]:
            insns = blob[p["offset"]:p["offset"] + p["size"]]
            if len(insns) != p["size"] or p["size"] % INSN_SIZE:
                raise CorruptEntry(f"program {p['name']} truncated")
            relocs = tuple((int(index), str(name)) for index, name in p["relocs"])
            if any(name not in map_names or not 0 <= index < p["size"] // INSN_SIZE - 1
                   for index, name in relocs):
                raise CorruptEntry(f"program {p['name']} references a map the entry lacks")
            programs.append(ProgramSpec(str(p["name"]), int(p["type"]), str(p["attach"]), insns, relocs))
        return ObjectEntry(key, str(header["license"]), int(header["kern_version"]), maps, tuple(programs))
    except CorruptEntry:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as e:  # json, shapes, values
        raise CorruptEntry(f"bad header: {e}") from e


def cache_dir_from_env(environ=None):
    """The cache directory the environment asks for: `CHISEL_BPF_CACHE` (DIR, or `off`: None)."""
    value = (environ if environ is not None else os.environ).get(ENV_VAR, "").strip()
    if value.lower() == "off":
        return None
    return Path(value or DEFAULT_DIR)


class UnsafeCache(Exception):
    """The cache location could have been written by someone else; the message says how."""


def trusted_uids():
    """Owners whose files we load code from: root and ourselves."""
    return {0, os.geteuid()}


def _trusted_owner(st):
    return st.st_uid in trusted_uids()


def _check_not_writable_by_others(path, st, what):
    if not _trusted_owner(st):
        raise UnsafeCache(f"{what} {path} is owned by uid {st.st_uid}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCache(f"{what} {path} is writable by group or others")


def _check_ancestors(path):
    """Nobody else can replace the cache directory: each parent is ours or root's, and writable by
    others only with the sticky bit (as /tmp), which stops them renaming our entries."""
    for parent in path.parents:
        st = os.lstat(parent)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeCache(f"{parent} is a symlink")
        if not _trusted_owner(st):
            raise UnsafeCache(f"{parent} is owned by uid {st.st_uid}")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            raise UnsafeCache(f"{parent} is writable by group or others")


class CacheDir:
    """A checked cache directory: `load(key)` → `ObjectEntry` or None, `store(entry)`.

    Created 0700 if missing. `open()` raises `UnsafeCache` if the directory is not safe to load
    code from; a single unsafe or corrupt file is a miss (and is replaced by the next store).
    """

    def __init__(self, path):
        self.path = Path(os.path.abspath(path))
        self._fd = None

    def open(self):
        """Create (0700) and check the directory; `UnsafeCache` if it cannot be trusted."""
        _check_ancestors(self.path)
        try:
            os.mkdir(self.path, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise UnsafeCache(f"cannot create {self.path}: {e.strerror}") from e
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as e:
            raise UnsafeCache(f"cannot open {self.path}: {e.strerror}") from e
        try:
            _check_not_writable_by_others(self.path, os.fstat(self._fd), "cache directory")
        except UnsafeCache:
            self.close()
            raise
        return self

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def file_name(key):
        return f"{key}{_SUFFIX}"

    def load(self, key):
        """The intact entry for `key`, or None (absent, unsafe, truncated, altered: all misses)."""
        try:
            fd = os.open(self.file_name(key), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self._fd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            _check_not_writable_by_others(self.path / self.file_name(key), st, "cache file")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
            entry = decode(data, key)
            os.utime(fd)  # recently used: the last to be pruned
            return entry
        except (OSError, UnsafeCache, CorruptEntry):
            return None
        finally:
            os.close(fd)

    def store(self, entry):
        """Write `entry` atomically (temporary file, fsync, rename): readers see all of it or nothing."""
        name = self.file_name(entry.key)
        tmp = f".{name}.{os.getpid()}.tmp"
        data = encode(entry)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self._fd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            self._prune(keep=name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=self._fd)
            except OSError:
                pass
            raise
        finally:
            os.close(fd)

    def _prune(self, keep):
        """Remove the least recently used entries beyond MAX_ENTRIES (never `keep`, just stored)."""
        entries = []
        for name in os.listdir(self._fd):
            if name.endswith(_SUFFIX) and name != keep:
                try:
                    entries.append((os.stat(name, dir_fd=self._fd, follow_symlinks=False).st_mtime_ns, name))
                except OSError:
                    continue
        entries.sort()
        for _mtime, name in entries[:max(0, len(entries) + 1 - MAX_ENTRIES)]:
            try:
                os.unlink(name, dir_fd=self._fd)
            except OSError:
                pass  # another session pruned it first
