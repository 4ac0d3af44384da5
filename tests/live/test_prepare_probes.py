"""`chisel --prepare-probes`: the probes a command line needs are compiled into the cache without
tracing anything, and the real start of that command then loads them instead of compiling.
Root and BPF needed; fails, never skips."""

import os
import subprocess

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")


def run(cache, *argv):
    return subprocess.run([CHISEL, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TZ": "UTC", "CHISEL_BPF_CACHE": str(cache)})


def test_prepared_probes_are_what_the_real_start_loads(tmp_path):
    cache, data = tmp_path / "cache", tmp_path / "data.bin"
    command = ("topfiles", "--", "sh", "-c", f"head -c 3000 /dev/zero > {data}")
    first = run(cache, "--prepare-probes", *command)
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout.startswith("BPF probes compiled and cached (")
    entries = os.listdir(cache)
    assert len(entries) == 1 and entries[0].endswith(".bpfobj")
    assert entries[0].startswith(first.stdout.split("(")[1][:12])
    assert not data.exists()  # preparing runs nothing

    again = run(cache, "--prepare-probes", *command)
    assert (again.returncode, again.stdout) == (0, first.stdout.replace("compiled and cached", "already cached"))

    # The same command line, really started: it loads the prepared entry and compiles no other.
    real = run(cache, *command)
    assert real.returncode == 0, real.stderr
    assert f"2.93KB              {data}\n" in real.stdout
    assert os.listdir(cache) == entries


def test_prepare_for_a_capture_file_is_a_usage_error():
    got = run("off", "-r", os.path.join(REPO, "tests", "data", "scap", "libs_sample.scap"), "--prepare-probes")
    assert (got.returncode, got.stdout) == (2, "")
    assert got.stderr == "chisel: error: --prepare-probes prepares live capture; drop -r\n"


def test_prepare_without_a_cache_is_a_clear_error(tmp_path):
    got = run("off", "--prepare-probes", "echo_fds")
    assert got.returncode == 1
    assert got.stderr.strip() == ("chisel: error: nothing to prepare: the BPF program cache is off "
                                  "(CHISEL_BPF_CACHE=off)")


def test_a_prepared_shape_serves_every_event_type_set_and_a_cold_start_compiles_only_its_plan(
        tmp_path, monkeypatch):
    """--prepare-probes compiles the plan's shape (filter axes, snaplen bucket, probe style) for every
    syscall; sessions of that shape then load it whatever syscalls they want, attaching only theirs."""
    import sys  # noqa: PLC0415

    from chisel.core.live import engine, objcache, probes  # noqa: PLC0415

    monkeypatch.setenv("CHISEL_BPF_CACHE", str(tmp_path / "cache"))
    prog = "import os; os.write(1, b'shared object'); os.read(os.open('/etc/hostname', os.O_RDONLY), 3)"

    def session(event_types):
        src = engine.LiveSource(event_types=event_types, exit_only=True,
                                command=[sys.executable, "-S", "-c", prog])
        try:
            events = [ev for ev in src.events() if ev is not None and ev.tid == src.child_pid]
        finally:
            src.close()
        return sorted(src.timings), {ev.name for ev in events}, events

    cold_timings, _, _ = session(frozenset({"connect"}))
    assert cold_timings == ["cache", "compile", "load", "scan"]
    [cold] = os.listdir(tmp_path / "cache")
    with objcache.CacheDir(tmp_path / "cache") as cache:
        own = cache.load(cold[:-len(".bpfobj")])
    plan, _ = engine.session_plan(event_types=frozenset({"connect"}), exit_only=True)
    assert {p.attach for p in own.programs} == probes.attach_points(probes.generate_source(plan))

    _key, compiled, _ = engine.prepare_probes(event_types=frozenset({"read"}), exit_only=True, command=["true"])
    assert compiled and len(os.listdir(tmp_path / "cache")) == 2
    read_timings, read_names, _ = session(frozenset({"read"}))
    write_timings, write_names, events = session(frozenset({"write"}))
    assert read_timings == write_timings == ["cache", "load", "scan"]  # both load the prepared object
    assert len(os.listdir(tmp_path / "cache")) == 2
    assert "read" in read_names and "write" not in read_names
    assert "write" in write_names and "read" not in write_names
    assert [ev.raw[1] for ev in events if ev.name == "write" and ev.dir == "<"] == [b"shared object"]
