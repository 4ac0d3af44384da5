"""ScapWriter: round trips of the real captures, through our reader and through sysdig 0.29."""

import gzip
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from chisel.core.errors import CaptureFormatError, UsageError
from chisel.core.event import Event, model
from chisel.core.params import encode_params
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter
from chisel.core.threadinfo import Snapshot

DATA = Path(__file__).parent.parent / "data"
CAPTURES = sorted((DATA / "scap").glob("*.scap"))
SYSDIG = shutil.which("sysdig")


def _copy(src, dst, **kw):
    r = ScapReader(src)
    with ScapWriter(dst, r.snapshot, **kw) as w:
        for ev in r.events():
            w.write(ev)
    return w


def _events(path):
    return [(e.num, e.ts, e.tid, e.cpu, e.type, e.dump_flags, e.raw) for e in ScapReader(path).events()]


def _fd_view(snap):
    return sorted((t.tid, fd, f.type, f.name, f.l4proto, f.is_server, f.cip, f.cport, f.sip, f.sport,
                   f.ino, f.flags, f.dev, f.source, f.dest)
                  for t in snap.threads for fd, f in t.fdtable.items())


def _thread_view(snap):
    return [(t.tid, t.pid, t.ptid, t.sid, t.vpgid, t.comm, t.exe, t.exepath, t.args, t.cwd, t.fdlimit,
             t.flags, t.uid, t.gid, t.vmsize_kb, t.vmrss_kb, t.vmswap_kb, t.pfmajor, t.pfminor, t.env,
             t.vtid, t.vpid, t.cgroups, t.root, t.loginuid) for t in snap.threads]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_round_trip_identical(path, tmp_path):
    out = tmp_path / "rt.scap"
    _copy(path, out)
    assert _events(out) == _events(path)
    a, b = ScapReader(path).snapshot, ScapReader(out).snapshot
    assert _thread_view(b) == _thread_view(a)
    assert _fd_view(b) == _fd_view(a)
    assert ({u: (x.gid, x.name, x.homedir, x.shell) for u, x in b.users.items()}
            == {u: (x.gid, x.name, x.homedir, x.shell) for u, x in a.users.items()})
    assert {g: x.name for g, x in b.groups.items()} == {g: x.name for g, x in a.groups.items()}
    assert [(n, f, ad) for n, f, ad in b.interfaces] == a.interfaces
    assert b.machine == a.machine


def test_compressed_round_trip(tmp_path):
    out = tmp_path / "rt.scap.gz"
    _copy(DATA / "scap" / "falco_cat_write.scap", out, compress=True)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert _events(out) == _events(DATA / "scap" / "falco_cat_write.scap")


@pytest.mark.skipif(SYSDIG is None, reason="sysdig 0.29 is not installed")
@pytest.mark.parametrize("name", ["falco_cat_write", "libs_sample", "libs_single_ipv6_conn",
                                  "falco_psp_run_as_user_0_container"])
def test_sysdig_prints_the_same_for_the_written_file(name, tmp_path):
    out = tmp_path / "rt.scap"
    _copy(DATA / "scap" / f"{name}.scap", out)
    env = dict(os.environ, TZ="UTC")
    for args in ([], ["-c", "lsof"]):
        a = subprocess.run([SYSDIG, "-r", str(DATA / "scap" / f"{name}.scap"), *args], env=env,
                           capture_output=True, check=True, timeout=60).stdout
        b = subprocess.run([SYSDIG, "-r", str(out), *args], env=env, capture_output=True,
                           check=True, timeout=60).stdout
        assert sorted(b.split(b"\n")) == sorted(a.split(b"\n")), args


@pytest.mark.skipif(SYSDIG is None, reason="sysdig 0.29 is not installed")
def test_sysdig_reads_the_comments_file_once_rewritten(tmp_path):
    """0.29 cannot read the SHB comment options; our copy of the file it can."""
    out = tmp_path / "rt.scap"
    _copy(DATA / "scap" / "libs_curl_google_comments.scap", out)
    got = subprocess.run([SYSDIG, "-r", str(out)], env=dict(os.environ, TZ="UTC"),
                         capture_output=True, check=True, timeout=60).stdout.decode()
    assert got == (DATA / "sysdig-0.29" / "libs_curl_google.default.txt").read_text()


def test_file_is_private_and_never_follows_a_symlink(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep me")
    link = tmp_path / "cap.scap"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="symlink"):
        ScapWriter(link, Snapshot())
    assert target.read_text() == "keep me"
    out = tmp_path / "new.scap"
    ScapWriter(out, Snapshot()).close()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_unwritable_path_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write capture file"):
        ScapWriter(tmp_path / "no" / "such" / "dir.scap", Snapshot())


def _synthetic(n):
    read_x = model().ids_for_name("read")[1]
    for i in range(n):
        yield Event(1_700_000_000_000_000_000 + i, 100 + i % 3, read_x,
                    encode_params(read_x, [5, b"x" * (i % 7)]), cpu=i % 2, num=i + 1)


def test_unflushed_tail_is_lost_but_file_stays_valid(tmp_path):
    """What a crash leaves behind: everything up to the last flush reads back cleanly."""
    out = tmp_path / "crash.scap"
    w = ScapWriter(out, Snapshot())
    events = list(_synthetic(10))
    for ev in events[:6]:
        w.write(ev)
    w.flush()
    for ev in events[6:]:
        w.write(ev)
    # simulate a crash: the process dies without close(); only flushed bytes are on disk
    os.close(os.dup(w._fd))
    got = [e.raw for e in ScapReader(out).events()]
    assert got == [e.raw for e in events[:6]]
    w.close()
    assert len(list(ScapReader(out).events())) == 10


def test_interrupted_gzip_reads_up_to_last_flush(tmp_path):
    out = tmp_path / "crash.scap.gz"
    w = ScapWriter(out, Snapshot(), compress=True)
    for ev in _synthetic(5):
        w.write(ev)
    w.flush()
    data = out.read_bytes()  # no gzip trailer yet
    cut = tmp_path / "cut.scap.gz"
    cut.write_bytes(data)
    assert len(list(ScapReader(cut).events())) == 5
    w.close()
    half = tmp_path / "half.scap.gz"
    half.write_bytes(gzip.compress(gzip.decompress(out.read_bytes())[:-7]))
    r = ScapReader(half)
    with pytest.raises(CaptureFormatError, match="file ends inside block"):
        list(r.events())


def test_dump_flags_and_large_payload_blocks(tmp_path):
    out = tmp_path / "x.scap"
    container = 324  # PPME_CONTAINER_JSON_2_E, EF_LARGE_PAYLOAD
    big = b'{"container":"' + b"y" * 70000 + b'"}\0'
    evs = [Event(1, 0, container, [big], cpu=3, num=1),
           Event(2, 7, model().ids_for_name("close")[0], encode_params(
               model().ids_for_name("close")[0], [4]), cpu=1, num=2, dump_flags=1)]
    with ScapWriter(out, Snapshot()) as w:
        for ev in evs:
            w.write(ev)
    got = list(ScapReader(out).events())
    assert [(e.type, e.cpu, e.dump_flags, e.raw) for e in got] == [
        (container, 3, 0, [big]), (evs[1].type, 1, 1, evs[1].raw)]


def test_live_proc_snapshot_round_trip(tmp_path, long_command_line):
    """The /proc scan's snapshot (what `-w` writes live) reads back the same, within the format."""
    from chisel.core.procscan import scan_proc

    snap = scan_proc()
    out = tmp_path / "live.scap"
    ScapWriter(out, snap).close()
    back = ScapReader(out).snapshot
    assert _thread_view(back) == _thread_view(snap)
    assert back.interfaces == [(n, f, a) for n, f, a in snap.interfaces]
    assert back.machine == snap.machine

    as_029 = {"memfd": "file", "bpf": "unsupported", "userfaultfd": "unsupported",
              "io_uring": "unsupported", "pidfd": "unsupported"}

    def comparable(view):
        # The fd list keeps open flags and device only for files; newer kinds are written as 0.29 knew them.
        rows = [(*row[:2], as_029.get(row[2], row[2]), *row[3:]) for row in view]
        return [row if row[2] == "file" else row[:11] for row in rows]
    assert comparable(_fd_view(back)) == comparable(_fd_view(snap))
    assert any(t.tid == os.getpid() for t in back.threads)


@pytest.mark.skipif(SYSDIG is None, reason="sysdig 0.29 is not installed")
def test_sysdig_reads_a_live_snapshot_capture(tmp_path, long_command_line):
    """fd kinds newer than 0.29 (bpf, memfd, pidfd...) and command lines longer than libscap's
    buffers must not make 0.29 refuse the whole file."""
    from chisel.core.procscan import scan_proc

    out = tmp_path / "live.scap"
    close_e = model().ids_for_name("close")[0]
    snap = scan_proc()
    long_one = next(t for t in snap.threads if t.tid == long_command_line.pid)
    assert long_one.args[0] == "-c" and len(long_one.args) > 4  # cut, not emptied
    with ScapWriter(out, snap) as w:
        w.write(Event(1_700_000_000_000_000_000, os.getpid(), close_e,
                      encode_params(close_e, [3]), num=1))
    got = subprocess.run([SYSDIG, "-r", str(out)], env=dict(os.environ, TZ="UTC"),
                         capture_output=True, timeout=60)
    assert got.returncode == 0, got.stderr
    first = got.stdout.decode().split("\n")[0]
    assert f"({os.getpid()}) > close fd=3" in first  # sysdig resolved the fd from our fd list
