"""The bpf(2) layer, the compiled-program cache and the loader on the real kernel: a session compiles
once (a miss, in a child process), the next loads the cached bytecode without ever importing bcc,
both see the same events, and closing unloads every program. Root and BPF needed; fails, never skips.
"""

import json
import os
import struct
import subprocess
import sys

import pytest

from chisel.core.errors import ChiselRuntimeError
from chisel.core.live import bpfsys, objcache, probes
from chisel.core.live.engine import LiveSource
from test_reliability_signals import held_prog_ids, loaded_prog_ids, wait_unloaded

pytestmark = pytest.mark.live

PREADS = 23
READER = ("import os, sys\n"
          "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
          f"for i in range({PREADS}):\n"
          "    os.pread(fd, 1000, i)\n")

# One live session in a fresh interpreter, as the CLI runs it: what it saw and what it imported.
SESSION = """
import json, os, sys
sys.path.insert(0, sys.argv[3])
from test_reliability_signals import held_prog_ids
from chisel.core.live.engine import LiveSource
src = LiveSource(event_types=frozenset({"pread"}), command=[sys.executable, "-S", "-c", sys.argv[1], sys.argv[2]])
held = sorted(held_prog_ids(os.getpid()))
# the reader's own preads (the dynamic loader preads ELF headers too): exits returning 1000 bytes
preads = [ev for ev in src.events() if ev is not None and ev.info.name == "pread" and ev.info.dir == "<"
          and ev.tid == src.child_pid and int.from_bytes(ev.raw[0], "little", signed=True) == 1000]
src.close()
print(json.dumps({"timings": sorted(src.timings), "bcc": "bcc" in sys.modules, "held": held,
                  "preads": len(preads), "warnings": src.warnings, "drops": src.drops}))
"""

BPF_MAP_TYPE_HASH = 1


def test_hash_map_round_trip():
    m = bpfsys.create_map(BPF_MAP_TYPE_HASH, 4, 8, 16, name="chisel_test")
    try:
        assert (m.name, m.key_size, m.value_size, m.max_entries, m.percpu) == ("chisel_test", 4, 8, 16, False)
        assert m.lookup(struct.pack("<I", 7)) is None
        m.update(struct.pack("<I", 7), struct.pack("<Q", 70))
        m.update(struct.pack("<I", 9), struct.pack("<Q", 90))
        assert sorted(m.items()) == [(struct.pack("<I", 7), struct.pack("<Q", 70)),
                                     (struct.pack("<I", 9), struct.pack("<Q", 90))]
        assert m.delete(struct.pack("<I", 7)) is True
        assert m.delete(struct.pack("<I", 7)) is False
        assert m.keys() == [struct.pack("<I", 9)]
        with pytest.raises(ValueError):
            m.update(b"\0", struct.pack("<Q", 1))
    finally:
        m.close()


def test_keys_lists_each_key_once_and_survives_deletes():
    m = bpfsys.create_map(BPF_MAP_TYPE_HASH, 4, 1, 128, name="chisel_keys")
    try:
        for i in range(100):
            m.update(struct.pack("<I", i), b"\x01")
        keys = m.keys()
        assert sorted(keys) == [struct.pack("<I", i) for i in range(100)]
        for key in keys[::2]:
            assert m.delete(key)
        assert sorted(m.keys()) == sorted(keys[1::2])
    finally:
        m.close()


def test_percpu_array_has_one_value_per_possible_cpu():
    m = bpfsys.create_map(bpfsys.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, name="chisel_pcpu")
    try:
        cpus = bpfsys.possible_cpus()
        assert m.lookup(struct.pack("<I", 1)) == [bytes(4)] * cpus
        m.update(struct.pack("<I", 1), [struct.pack("<I", i + 1) for i in range(cpus)])
        assert m.lookup(struct.pack("<I", 1)) == [struct.pack("<I", i + 1) for i in range(cpus)]
        m.update(struct.pack("<I", 0), struct.pack("<I", 5))  # one value: every CPU gets it
        assert m.lookup(struct.pack("<I", 0)) == [struct.pack("<I", 5)] * cpus
        assert len(m.items()) == 2  # an array has every index
    finally:
        m.close()


def test_live_source_exposes_its_maps_by_name():
    from chisel.core.live.engine import LiveSource

    src = LiveSource(event_types=frozenset({"read"}), command=["true"])
    try:
        config, drops = src.maps["config"], src.maps["drop_count"]
        assert (config.key_size, config.value_size, config.max_entries) == (4, 8, 4)
        assert drops.percpu and len(drops.lookup(struct.pack("<i", 0))) == bpfsys.possible_cpus()
        assert config.lookup(struct.pack("<i", 3)) == struct.pack("<Q", 1)  # the "ready" switch
        assert {"events", "saved", "traced"} <= set(src.maps)
    finally:
        src.close()
    assert src.maps == {}


def _session(cache, data_file):
    env = dict(os.environ, CHISEL_BPF_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", SESSION, READER, str(data_file), os.path.dirname(__file__)], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * 40)
    return path


def test_first_session_compiles_second_loads_the_cache_without_bcc(tmp_path, data_file):
    cache = tmp_path / "cache"
    first = _session(cache, data_file)
    assert first["timings"] == ["cache", "compile", "load", "scan"]
    entries = os.listdir(cache)
    assert len(entries) == 1 and entries[0].endswith(".bpfobj")
    assert os.stat(cache).st_mode & 0o777 == 0o700
    assert os.stat(cache / entries[0]).st_mode & 0o777 == 0o600
    second = _session(cache, data_file)
    assert second["timings"] == ["cache", "load", "scan"]  # a hit: nothing compiled
    for run in (first, second):
        assert run["bcc"] is False
        assert run["preads"] == PREADS
        assert run["warnings"] == [] and run["drops"] == 0
        assert run["held"] and wait_unloaded(set(run["held"])) == set()
    assert os.listdir(cache) == entries


def test_cache_off_compiles_every_time_and_writes_nothing(tmp_path, data_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        run = _session("off", data_file)
        assert run["timings"] == ["cache", "compile", "load", "scan"]
        assert run["preads"] == PREADS and run["bcc"] is False
    assert os.listdir(tmp_path) == ["data"]


def test_an_unsafe_cache_directory_is_not_used(tmp_path, data_file):
    cache = tmp_path / "shared"
    cache.mkdir()
    os.chmod(cache, 0o777)
    run = _session(cache, data_file)
    assert run["warnings"] == [f"not using the BPF program cache: cache directory {cache} is writable "
                               f"by group or others; compiling instead"]
    assert run["timings"] == ["cache", "compile", "load", "scan"] and run["preads"] == PREADS
    assert os.listdir(cache) == []


def test_closing_unloads_every_program(tmp_path, monkeypatch):
    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path))
    before = loaded_prog_ids()
    src = LiveSource(event_types=frozenset({"read", "write"}), command=["true"])
    held = held_prog_ids(os.getpid())
    assert held and not held & before
    assert held <= loaded_prog_ids()
    with objcache.CacheDir(tmp_path) as cache:
        entry = cache.load(objcache.cache_key(probes.generate_source(src.plan)))
    # a cold start compiles and loads its own plan: every program of it, each attached
    assert len(held) == len(entry.programs) == len(probes.attach_points(probes.generate_source(src.plan)))
    list(src.events())
    src.close()
    assert held_prog_ids(os.getpid()) == set()
    assert wait_unloaded(held) == set()


def test_the_verifiers_complaint_is_reported():
    mov_r0_r2 = struct.pack("<BBhi", 0xBF, 0 | 2 << 4, 0, 0)  # r0 = r2: r2 was never written
    exit_insn = struct.pack("<BBhi", 0x95, 0, 0, 0)
    with pytest.raises(ChiselRuntimeError) as e:
        bpfsys.load_program(bpfsys.BPF_PROG_TYPE_TRACEPOINT, mov_r0_r2 + exit_insn, "GPL", "chisel_bad")
    assert e.value.message.startswith("the kernel refused BPF program chisel_bad: Permission denied: ")
    assert "R2 !read_ok" in e.value.message
