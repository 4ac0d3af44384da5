"""The live engine's compiled-program cache (key, file format, atomic store, safety checks), the
relocation of map fds, and how the engine picks cache, compiler and loader. No root, no BPF: the
entries are synthetic and the compiler and loader are replaced by recorders."""

import hashlib
import os
import struct

import pytest

from chisel.core.errors import ChiselRuntimeError
from chisel.core.live import compiler, engine, loader, objcache, probes

KEY = "ab" * 32


def ld_map_fd(dst, fd):
    """An ld_imm64 of map fd `fd` into register `dst` (two instruction slots)."""
    return struct.pack("<BBhi", 0x18, dst | 1 << 4, 0, fd) + struct.pack("<BBhi", 0, 0, 0, 0)


MOV_R0_0 = struct.pack("<BBhi", 0xB7, 0, 0, 0)
EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)


def make_entry(key=KEY, programs=2):
    maps = (objcache.MapSpec("config", 2, 4, 8, 4, 0), objcache.MapSpec("events", 27, 0, 0, 1 << 24, 0))
    progs = tuple(objcache.ProgramSpec(f"tracepoint__syscalls__sys_enter_p{i}", 5, f"syscalls:sys_enter_p{i}",
                                       MOV_R0_0 + ld_map_fd(1, 0) + EXIT, ((1, "config"),))
                  for i in range(programs))
    return objcache.ObjectEntry(key, "GPL", 0, maps, progs)


@pytest.fixture
def cache(tmp_path):
    with objcache.CacheDir(tmp_path / "cache") as opened:
        yield opened


# -- key -------------------------------------------------------------------------------------------

def test_key_is_a_pinned_hash_of_format_kernel_bcc_and_source():
    key = objcache.cache_key("int x;", kernel="6.1 #1", bcc_version="__version__ = '0.26.0'")
    parts = [b"format 1", b"6.1 #1", b"__version__ = '0.26.0'", b"cflags: none", b"int x;"]
    expected = hashlib.sha256(b"".join(len(p).to_bytes(8, "little") + p for p in parts)).hexdigest()
    assert key == expected
    assert key != objcache.cache_key("int y;", kernel="6.1 #1", bcc_version="__version__ = '0.26.0'")
    assert key != objcache.cache_key("int x;", kernel="6.1 #2", bcc_version="__version__ = '0.26.0'")
    assert key != objcache.cache_key("int x;", kernel="6.1 #1", bcc_version="__version__ = '0.27.0'")


def test_key_defaults_read_this_kernel_and_bcc_without_importing_bcc():
    import subprocess
    import sys
    code = ("import sys; from chisel.core.live import objcache; k = objcache.cache_key('x'); "
            "print(len(k), 'bcc' in sys.modules, objcache._bcc_version())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    length, imported, version = out.stdout.split(" ", 2)
    assert (length, imported) == ("64", "False")
    assert version.startswith("__version__")


# -- file format -----------------------------------------------------------------------------------

def test_encode_decode_round_trip():
    entry = make_entry()
    data = objcache.encode(entry)
    assert data.startswith(objcache.MAGIC)
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()
    assert objcache.decode(data, KEY) == entry


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "garbage", "other_key", "bad_header"])
def test_corrupt_entries_are_rejected(damage):
    data = objcache.encode(make_entry())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "flipped":
        data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = os.urandom(500)
    elif damage == "other_key":
        data = objcache.encode(make_entry(key="cd" * 32))
    else:  # a valid checksum over a header that is not an entry
        body = objcache.MAGIC + struct.pack("<I", 4) + b"[1,2"
        data = body + hashlib.sha256(body).digest()
    with pytest.raises(objcache.CorruptEntry):
        objcache.decode(data, KEY)


def test_a_reference_to_an_unknown_map_is_corrupt():
    entry = make_entry()
    bad = objcache.ObjectEntry(KEY, "GPL", 0, entry.maps[1:], entry.programs)  # no "config" map
    with pytest.raises(objcache.CorruptEntry, match="references a map the entry lacks"):
        objcache.decode(objcache.encode(bad), KEY)


# -- the directory ---------------------------------------------------------------------------------

def test_store_then_load(cache):
    entry = make_entry()
    assert cache.load(KEY) is None
    cache.store(entry)
    assert cache.load(KEY) == entry
    assert os.listdir(cache.path) == [f"{KEY}.bpfobj"]  # no temporary file left
    assert os.stat(cache.path / f"{KEY}.bpfobj").st_mode & 0o777 == 0o600
    assert os.stat(cache.path).st_mode & 0o777 == 0o700


def test_a_failed_store_leaves_the_old_entry_and_no_temporary(cache, monkeypatch):
    old = make_entry(programs=1)
    cache.store(old)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(objcache.os, "fsync", disk_full)
    with pytest.raises(OSError):
        cache.store(make_entry(programs=3))
    assert os.listdir(cache.path) == [f"{KEY}.bpfobj"]
    assert cache.load(KEY) == old


def test_the_least_recently_used_entries_are_pruned(cache, monkeypatch):
    monkeypatch.setattr(objcache, "MAX_ENTRIES", 3)
    keys = [f"{i:064x}" for i in range(4)]
    for i, key in enumerate(keys[:3]):
        cache.store(make_entry(key=key))
        os.utime(cache.path / f"{key}.bpfobj", ns=(10**18 + i, 10**18 + i))
    assert cache.load(keys[0]) == make_entry(key=keys[0])  # a hit makes the oldest the newest
    cache.store(make_entry(key=keys[3]))
    assert sorted(os.listdir(cache.path)) == sorted(f"{k}.bpfobj" for k in (keys[0], keys[2], keys[3]))


def test_a_truncated_file_is_a_miss(cache):
    cache.store(make_entry())
    path = cache.path / f"{KEY}.bpfobj"
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    assert cache.load(KEY) is None
    path.write_bytes(data + b"x")
    assert cache.load(KEY) is None


def test_a_file_others_could_write_is_a_miss(cache):
    cache.store(make_entry())
    path = cache.path / f"{KEY}.bpfobj"
    os.chmod(path, 0o620)
    assert cache.load(KEY) is None
    os.chmod(path, 0o600)
    assert cache.load(KEY) == make_entry()


def test_a_symlinked_entry_is_a_miss(cache, tmp_path):
    real = tmp_path / "elsewhere"
    real.write_bytes(objcache.encode(make_entry()))
    os.chmod(real, 0o600)
    os.symlink(real, cache.path / f"{KEY}.bpfobj")
    assert cache.load(KEY) is None


def test_a_directory_others_can_write_is_refused(tmp_path):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o777)
    with pytest.raises(objcache.UnsafeCache, match="writable by group or others"):
        objcache.CacheDir(path).open()


def test_a_directory_owned_by_someone_else_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    owner = os.stat(path).st_uid
    monkeypatch.setattr(objcache, "trusted_uids", lambda: {owner + 1})
    with pytest.raises(objcache.UnsafeCache, match=f"is owned by uid {owner}"):
        objcache.CacheDir(path).open()


def test_a_symlinked_directory_is_refused(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(objcache.UnsafeCache, match="cannot open"):
        objcache.CacheDir(tmp_path / "link").open()


def test_a_parent_others_can_write_is_refused_unless_sticky(tmp_path):
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, 0o777)
    with pytest.raises(objcache.UnsafeCache, match=f"{parent} is writable by group or others"):
        objcache.CacheDir(parent / "cache").open()
    os.chmod(parent, 0o1777)  # as /tmp: others cannot rename what is ours
    objcache.CacheDir(parent / "cache").open().close()
    assert os.stat(parent / "cache").st_mode & 0o777 == 0o700


def test_environment_picks_the_directory():
    assert objcache.cache_dir_from_env({}) == objcache.Path("/var/cache/chisel")
    assert objcache.cache_dir_from_env({"CHISEL_BPF_CACHE": "/x/y"}) == objcache.Path("/x/y")
    assert objcache.cache_dir_from_env({"CHISEL_BPF_CACHE": "off"}) is None
    assert objcache.cache_dir_from_env({"CHISEL_BPF_CACHE": "OFF"}) is None


# -- relocations -----------------------------------------------------------------------------------

def test_map_fds_become_named_references_and_back():
    insns = MOV_R0_0 + ld_map_fd(1, 7) + ld_map_fd(2, 9) + EXIT
    stripped, relocs = compiler.split_relocations(insns, {7: "config", 9: "events"})
    assert relocs == ((1, "config"), (3, "events"))
    assert stripped == MOV_R0_0 + ld_map_fd(1, 0) + ld_map_fd(2, 0) + EXIT
    assert loader.relocate(stripped, relocs, {"config": 7, "events": 9}) == insns
    assert loader.relocate(stripped, relocs, {"config": 30, "events": 31}) == \
        MOV_R0_0 + ld_map_fd(1, 30) + ld_map_fd(2, 31) + EXIT


def test_only_map_fd_references_can_be_cached():
    map_value = struct.pack("<BBhi", 0x18, 1 | 2 << 4, 0, 7) + bytes(8)  # BPF_PSEUDO_MAP_VALUE
    with pytest.raises(ValueError, match="pseudo source 2 cannot be cached"):
        compiler.split_relocations(map_value + EXIT, {7: "config"})
    with pytest.raises(ValueError, match="loads fd 8, which is no map of this object"):
        compiler.split_relocations(ld_map_fd(1, 8) + EXIT, {7: "config"})


# -- the engine's choice of cache, compiler, loader -------------------------------------------------

class _Recorder:
    """Stands in for the compiler child and the kernel loader."""

    def __init__(self, monkeypatch, refuse_keys=()):
        self.compiled, self.loaded = [], []
        self.refuse = set(refuse_keys)
        monkeypatch.setattr(engine, "compile_in_subprocess", self.compile)
        monkeypatch.setattr(engine, "LoadedObject", self.load)

    def compile(self, source, key):
        self.compiled.append(key)
        self.refuse.discard(key)  # a fresh build always loads
        return make_entry(key=key, programs=len(source))

    def load(self, entry, roots, attach=None):
        if entry.key in self.refuse:
            raise ChiselRuntimeError("the kernel refused BPF program p0: Invalid argument: stale")
        self.loaded.append(entry)
        return entry


def test_a_miss_compiles_and_stores_then_a_hit_does_not_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path / "c"))
    rec = _Recorder(monkeypatch)
    first, second, warnings = {}, {}, []
    engine._load_object("abc", first, warnings)
    engine._load_object("abc", second, warnings)
    key = objcache.cache_key("abc")
    assert rec.compiled == [key]
    assert rec.loaded == [make_entry(key=key, programs=3)] * 2
    assert set(first) == {"cache", "compile", "load"} and set(second) == {"cache", "load"}
    assert warnings == []
    assert os.listdir(tmp_path / "c") == [f"{key}.bpfobj"]


def test_cache_off_always_compiles_and_stores_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    rec = _Recorder(monkeypatch)
    engine._load_object("abc", {}, [])
    engine._load_object("abc", {}, [])
    assert len(rec.compiled) == 2
    assert os.listdir(tmp_path) == []


def test_an_unsafe_directory_warns_once_and_compiles(tmp_path, monkeypatch):
    path = tmp_path / "c"
    path.mkdir()
    os.chmod(path, 0o770)
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(path))
    rec = _Recorder(monkeypatch)
    warnings = []
    engine._load_object("abc", {}, warnings)
    assert warnings == [f"not using the BPF program cache: cache directory {path} is writable by group "
                        f"or others; compiling instead"]
    assert len(rec.compiled) == 1 and os.listdir(path) == []


def test_a_corrupt_entry_is_rebuilt_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    rec = _Recorder(monkeypatch)
    key = objcache.cache_key("abc")
    (tmp_path / f"{key}.bpfobj").write_bytes(b"not an entry")
    os.chmod(tmp_path / f"{key}.bpfobj", 0o600)
    warnings = []
    engine._load_object("abc", {}, warnings)
    assert rec.compiled == [key] and warnings == []
    with objcache.CacheDir(tmp_path) as cache:
        assert cache.load(key) == make_entry(key=key, programs=3)


def _store_compiled(path, source, programs):
    """Put in the cache at `path` an entry of `programs` programs for `source`; its key."""
    key = objcache.cache_key(source)
    with objcache.CacheDir(path) as cache:
        cache.store(make_entry(key=key, programs=programs))
    return key


def test_an_entry_the_kernel_refuses_is_rebuilt_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    key = _store_compiled(tmp_path, "abc", programs=1)
    rec = _Recorder(monkeypatch, refuse_keys={key})
    timings = {}
    assert engine._load_object("abc", timings, []) == make_entry(key=key, programs=3)
    assert rec.compiled == [key] and "compile" in timings


def test_a_compile_failure_names_clangs_first_error(monkeypatch):
    stderr = (b"/virtual/main.c:3:5: error: use of undeclared identifier 'x'\n    x = 1;\n    ^\n"
              b"/virtual/main.c:4:5: error: expected ';'\n2 errors generated.\n"
              b"Failed to compile BPF module <text>\n")
    monkeypatch.setattr(compiler.subprocess, "run",
                        lambda argv, **kw: compiler.subprocess.CompletedProcess(argv, 1, b"", stderr))
    with pytest.raises(ChiselRuntimeError) as e:
        compiler.compile_in_subprocess("x = 1;", KEY)
    assert e.value.message == ("cannot compile the BPF programs: "
                               "/virtual/main.c:3:5: error: use of undeclared identifier 'x'")


def test_a_compiler_crash_shows_its_last_line(monkeypatch):
    monkeypatch.setattr(compiler.subprocess, "run",
                        lambda argv, **kw: compiler.subprocess.CompletedProcess(argv, -11, b"", b""))
    with pytest.raises(ChiselRuntimeError) as e:
        compiler.compile_in_subprocess("int x;", KEY)
    assert e.value.message == "cannot compile the BPF programs: the compiler exited with status -11"


def test_the_compilers_output_must_be_an_entry_for_the_key(monkeypatch):
    out = objcache.encode(make_entry(key="cd" * 32))
    monkeypatch.setattr(compiler.subprocess, "run",
                        lambda argv, **kw: compiler.subprocess.CompletedProcess(argv, 0, out, b""))
    with pytest.raises(ChiselRuntimeError, match="the compiler's output is bad"):
        compiler.compile_in_subprocess("int x;", KEY)


# -- plan options ----------------------------------------------------------------------------------

def test_plan_for_passes_unknown_options_to_the_plan(monkeypatch):
    seen = {}
    monkeypatch.setattr(probes, "ProbePlan", lambda **fields: seen.update(fields) or fields)
    engine.plan_for(event_types=frozenset({"read"}), some_future_option=7)
    assert seen["some_future_option"] == 7
    assert seen["procexit"] is True


def test_a_map_the_kernel_will_not_create_is_a_runtime_error(monkeypatch):
    def refuse(*args):
        raise OSError(1, "Operation not permitted", "creation of map config")

    monkeypatch.setattr(loader.bpfsys, "create_map", refuse)
    with pytest.raises(ChiselRuntimeError) as e:
        loader.LoadedObject(make_entry(), ("/nonexistent",))
    assert e.value.message == "cannot create BPF map config: Operation not permitted"


def test_a_map_update_the_kernel_refuses_is_a_runtime_error(monkeypatch):
    class FullMap:
        fd, key_size = -1, 4

        def update(self, key, value):
            raise OSError(7, "Argument list too long", "update of map f_pids")

        def lookup(self, key):
            return None

    class Loaded:
        maps = {"config": FullMap(), "f_pids": FullMap(), "drop_count": FullMap()}
        closed = False

        def __init__(self, *args, **options):
            pass

        def recursion_misses(self):
            return 0

        def close(self):
            Loaded.closed = True

    monkeypatch.setattr(engine, "check_environment", lambda: None)
    monkeypatch.setattr(engine, "_load_object", Loaded)
    with pytest.raises(ChiselRuntimeError) as e:
        engine.LiveSource(event_types=frozenset({"read"}))
    assert e.value.message == "cannot start the live capture: update of map f_pids: Argument list too long"
    assert Loaded.closed


def test_a_cached_shared_object_is_loaded_instead_of_the_plans_own(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    shared_key = _store_compiled(tmp_path, "shared", programs=6)
    rec = _Recorder(monkeypatch)
    timings = {}
    assert engine._load_object("own", timings, [], attach={"a:b"}, shared="shared") == make_entry(
        key=shared_key, programs=6)
    assert rec.compiled == [] and set(timings) == {"cache", "load"}


def test_without_the_shared_object_a_start_compiles_only_its_own_plan(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    rec = _Recorder(monkeypatch)
    timings = {}
    engine._load_object("own", timings, [], attach={"a:b"}, shared="shared")
    assert rec.compiled == [objcache.cache_key("own")]
    assert set(timings) == {"cache", "compile", "load"}
    assert os.listdir(tmp_path) == [f"{objcache.cache_key('own')}.bpfobj"]


def test_a_shared_object_the_kernel_refuses_falls_back_to_the_plans_own(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    shared_key = _store_compiled(tmp_path, "shared", programs=6)
    rec = _Recorder(monkeypatch, refuse_keys={shared_key})
    assert engine._load_object("own", {}, [], shared="shared") == make_entry(key=objcache.cache_key("own"),
                                                                            programs=3)
    assert rec.compiled == [objcache.cache_key("own")]


def test_a_background_detach_hands_the_fds_to_a_child_that_outlives_our_copies():
    """The child holds the fds until this process has closed its own (so the last, slow close is
    the child's), then exits and is reaped."""
    from chisel.core.live import loader  # noqa: PLC0415

    read_end, write_end = os.pipe()  # stands in for a perf event: its reader sees EOF once all copies close
    assert loader._hand_over([write_end])
    with pytest.raises(OSError):
        os.fstat(write_end)  # our copy is closed
    child = loader._DETACHERS[-1]
    assert child.wait(timeout=10) == 0
    assert os.read(read_end, 1) == b""  # the child's copy is gone too: every writer closed
    os.close(read_end)
    loader.reap_detachers()
    assert child not in loader._DETACHERS
