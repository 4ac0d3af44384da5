"""ScapReader on the 16 real captures, checked against what sysdig 0.29.3 printed for them."""

import datetime
import gzip
import os
import re
import struct
from pathlib import Path

import pytest

from chisel.core.errors import CaptureFormatError, UsageError
from chisel.core.event import model
from chisel.core.scap_reader import ScapReader

DATA = Path(__file__).parent.parent / "data"
CAPTURES = sorted((DATA / "scap").glob("*.scap"))
# The default line: num, time, cpu, proc.name, (tid), dir, type.
LINE = re.compile(r"^(\d+) (\d\d:\d\d:\d\d\.\d{9}) (\d+) (.*?) \((-?\d+)\) ([<>]) (\S+)")


def _read(path):
    with ScapReader(path) as r:
        return r.snapshot, list(r.events())


def _time_of_day(ts):
    t = datetime.datetime.fromtimestamp(ts // 10**9, datetime.UTC)
    return f"{t:%H:%M:%S}.{ts % 10**9:09d}"


def _sysdig_lines(name):
    for line in (DATA / "sysdig-0.29" / f"{name}.default.txt").read_text(errors="replace").split("\n"):
        m = LINE.match(line)
        if m:
            yield m


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_printed_event_matches_sysdig(path):
    """evt.num, time, cpu, tid and direction of each line sysdig printed point at our event."""
    _, events = _read(path)
    by_num = {ev.num: ev for ev in events}
    assert [ev.num for ev in events] == list(range(1, len(events) + 1))
    checked = 0
    for m in _sysdig_lines(path.stem):
        ev = by_num[int(m[1])]
        assert (_time_of_day(ev.ts), ev.cpu, ev.info.dir) == (m[2], int(m[3]), m[6]), m[0]
        assert ev.tid == int(m[5]), m[0]
        checked += 1
    assert checked == sum(1 for _ in _sysdig_lines(path.stem))


EXPECTED_COUNTS = {
    # file: (events, threads, users, groups, interfaces, version)
    "falco_cat_write": (345, 73, 32, 61, 5, (1, 0)),
    "falco_empty": (143, 218, 45, 77, 11, (1, 2)),
    "falco_syscall": (368, 229, 41, 71, 7, (1, 1)),
    "libs_curl_google_comments": (1536, 54, 31, 55, 5, (1, 0)),
    "libs_sample": (477, 94, 34, 61, 6, (1, 2)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_counts(name):
    with ScapReader(DATA / "scap" / f"{name}.scap") as r:
        snap = r.snapshot
        n = sum(1 for _ in r.events())
        assert r.bytes_read == r.total_bytes == os.path.getsize(DATA / "scap" / f"{name}.scap")
        got = (n, len(snap.threads), len(snap.users), len(snap.groups), len(snap.interfaces), r.version)
    assert got == EXPECTED_COUNTS[name]


def test_libs_sample_last_number_skips_newer_event_types():
    _, events = _read(DATA / "scap" / "libs_sample.scap")
    assert events[-1].num == 477
    assert all(ev.type < 336 for ev in events)


def test_comments_file_reads_like_the_plain_one():
    a = _read(DATA / "scap" / "libs_curl_google.scap")[1]
    b = _read(DATA / "scap" / "libs_curl_google_comments.scap")[1]
    assert [(e.ts, e.tid, e.type, e.raw) for e in a] == [(e.ts, e.tid, e.type, e.raw) for e in b]


def test_process_list_fields():
    snap, _ = _read(DATA / "scap" / "falco_cat_write.scap")
    cat = [t for t in snap.threads if t.comm == "bash" and t.tid == 11310][0]
    assert (cat.pid, cat.exe, cat.fdlimit) == (11310, "/bin/bash", 1024)
    assert all(isinstance(a, str) for a in cat.args + cat.env)
    assert any(e.startswith("SHELL=") for e in cat.env)


def test_threads_share_their_process_fdtable():
    snap, _ = _read(DATA / "scap" / "falco_connect_localhost.scap")
    by_tid = {t.tid: t for t in snap.threads}
    shared = [t for t in snap.threads if t.tid != t.pid and t.pid in by_tid]
    assert shared
    assert all(t.fdtable is by_tid[t.pid].fdtable for t in shared)


def test_fd_names_as_sysdig_builds_them():
    snap, _ = _read(DATA / "scap" / "falco_connect_localhost.scap")
    fds = {(t.tid, fd): f for t in snap.threads for fd, f in t.fdtable.items()}
    ssh = fds[(3062, 3)]
    assert (ssh.type, ssh.name, ssh.l4proto, ssh.is_server) == (
        "ipv4", "10.0.2.2:50879->10.0.2.15:22", "tcp", True)
    assert (ssh.cip, ssh.cport, ssh.sip, ssh.sport) == ("10.0.2.2", 50879, "10.0.2.15", 22)
    listener = fds[(1172, 9)]
    assert (listener.type, listener.name, listener.is_server) == ("ipv6", ":::111", True)
    assert fds[(1, 0)].name == "/dev/null"
    assert (fds[(1, 3)].type, fds[(1, 3)].name) == ("inotify", "")
    journal = fds[(422, 6)]
    assert (journal.type, journal.name) == ("unix", "/run/systemd/journal/dev-log")
    assert fds[(1, 65)].name == "pipe:[487]"


def test_machine_info_and_users():
    snap, _ = _read(DATA / "scap" / "falco_empty.scap")
    assert snap.machine["num_cpus"] > 0 and snap.machine["hostname"]
    assert snap.users[0].name == "root" and snap.groups[0].name == "root"
    assert all(isinstance(i[0], str) for i in snap.interfaces)


def test_missing_file_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        ScapReader(tmp_path / "nope.scap")


def test_directory_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="directory"):
        ScapReader(tmp_path)


def test_fifo_is_usage_error_without_hanging(tmp_path):
    fifo = tmp_path / "f.scap"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        ScapReader(fifo)


def test_unreadable_is_usage_error(tmp_path, monkeypatch):
    p = tmp_path / "x.scap"
    p.write_bytes(b"")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)  # root reads any file, so refuse it here
    with pytest.raises(UsageError) as e:
        ScapReader(p)
    assert e.value.message == (f"cannot read capture file '{p}': permission denied; "
                               "check the file's permissions")


def test_device_is_refused_without_reading_it():
    with pytest.raises(UsageError, match="not a regular file"):
        ScapReader("/dev/zero")


def test_empty_and_foreign_files_are_format_errors(tmp_path):
    empty = tmp_path / "e.scap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureFormatError, match="empty file"):
        ScapReader(empty)
    text = tmp_path / "t.scap"
    text.write_bytes(b"hello world, not a capture\n")
    with pytest.raises(CaptureFormatError):
        ScapReader(text)


def _plain_bytes(name):
    data = (DATA / "scap" / name).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _block_offsets(data):
    off = 0
    while off < len(data):
        yield off
        off += struct.unpack_from("<I", data, off + 4)[0]


def test_truncated_file_yields_good_events_then_error(tmp_path):
    data = _plain_bytes("falco_syscall.scap")
    offsets = list(_block_offsets(data))
    cut = offsets[-5] + 10  # inside the fifth-to-last block
    p = tmp_path / "cut.scap"
    p.write_bytes(data[:cut])
    r = ScapReader(p)
    got = []
    with pytest.raises(CaptureFormatError) as e:
        for ev in r.events():
            got.append(ev)
    assert e.value.offset == offsets[-5]
    assert len(got) == 368 - 5
    assert "file ends inside block" in str(e.value)


def test_cut_at_block_boundary_is_clean_eof(tmp_path):
    data = _plain_bytes("falco_syscall.scap")
    cut = list(_block_offsets(data))[-3]
    p = tmp_path / "cut.scap"
    p.write_bytes(data[:cut])
    assert len(list(ScapReader(p).events())) == 368 - 3


def test_absurd_block_length_is_corruption(tmp_path):
    data = bytearray(_plain_bytes("falco_syscall.scap"))
    off = list(_block_offsets(data))[-2]
    struct.pack_into("<I", data, off + 4, 0x7FFFFFF0)
    p = tmp_path / "huge.scap"
    p.write_bytes(bytes(data))
    with pytest.raises(CaptureFormatError, match="impossible length"):
        list(ScapReader(p).events())


def test_plain_and_gzip_read_alike(tmp_path):
    p = tmp_path / "plain.scap"
    p.write_bytes(_plain_bytes("falco_cat_write.scap"))
    a = [(e.num, e.ts, e.raw) for e in ScapReader(p).events()]
    b = [(e.num, e.ts, e.raw) for e in ScapReader(DATA / "scap" / "falco_cat_write.scap").events()]
    assert a == b and len(a) == 345


def _blk(btype, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


SHB_BLOCK = _blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def _old_event(etype, values, *, slack=0, tid=42, flags=None):
    """A 0x204 (or 0x208 with flags) block: 22-byte header, no nparams."""
    lens = struct.pack(f"<{len(values)}H", *map(len, values))
    elen = 22 + len(lens) + sum(map(len, values)) + slack
    rec = struct.pack("<QqIH", 1_000, tid, elen, etype) + lens + b"".join(values) + b"\0" * slack
    if flags is None:
        return _blk(0x204, struct.pack("<H", 1) + rec)
    return _blk(0x208, struct.pack("<HI", 1, flags) + rec)


def test_old_blocks_infer_the_parameter_count(tmp_path):
    close_e, close_x = model().ids_for_name("close")
    notification = 280  # states a len 3 bytes too large in old files
    data = (SHB_BLOCK + _blk(0x12345, b"unknown metadata is skipped")
            + _old_event(close_e, [struct.pack("<q", 7)])
            + _old_event(close_x, [struct.pack("<q", 0)], flags=1)
            + _old_event(notification, [b"id\0", b"hello\0"], slack=3)
            + _old_event(close_e, [], tid=-1))
    p = tmp_path / "old.scap"
    p.write_bytes(data)
    evs = list(ScapReader(p).events())
    assert [(e.num, e.type, e.raw, e.cpu, e.dump_flags, e.tid) for e in evs] == [
        (1, close_e, [struct.pack("<q", 7)], 1, 0, 42),
        (2, close_x, [struct.pack("<q", 0)], 1, 1, 42),
        (3, notification, [b"id\0", b"hello\0"], 1, 0, 42),
        (4, close_e, [], 1, 0, -1),
    ]
    assert evs[0].arg("fd") == 7 and evs[3].arg("fd") is None


def test_old_event_longer_than_its_table_allows_is_corrupt(tmp_path):
    close_e = model().ids_for_name("close")[0]
    p = tmp_path / "bad.scap"
    p.write_bytes(SHB_BLOCK + _old_event(close_e, [b"\0" * 8, b"\0" * 8]))
    with pytest.raises(CaptureFormatError, match=f"old event type {close_e}"):
        list(ScapReader(p).events())


def test_iterating_twice_is_refused(tmp_path):
    p = tmp_path / "one.scap"
    p.write_bytes(SHB_BLOCK)
    r = ScapReader(p)
    assert list(r.events()) == []
    with pytest.raises(Exception, match="only once"):
        list(r.events())


def test_other_endian_or_newer_major_is_refused(tmp_path):
    p = tmp_path / "be.scap"
    p.write_bytes(_blk(0x0A0D0D0A, struct.pack("<IHHq", 0x4D3C2B1A, 1, 0, -1)))
    with pytest.raises(CaptureFormatError, match="byte-order magic"):
        ScapReader(p)
    p.write_bytes(_blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1)))
    with pytest.raises(CaptureFormatError, match="unsupported scap version 2.0"):
        ScapReader(p)


def test_fd_list_of_a_secondary_thread_lands_in_its_process_table():
    from chisel.core.scap_meta import SnapshotBuilder
    from chisel.core.threadinfo import FdInfo, ThreadInfo

    b = SnapshotBuilder()
    for tid in (10, 11):
        t = ThreadInfo(tid, 10)
        t.fdtable = b.fdtable(t.pid)
        b.snapshot.threads.append(t)
    b.fdtable(10)[3] = FdInfo(3, "file", "/a")
    b.fdtable(11)[4] = FdInfo(4, "file", "/b")
    snap = b.finish()
    assert snap.threads[0].fdtable is snap.threads[1].fdtable
    assert sorted((fd, f.name) for fd, f in snap.threads[1].fdtable.items()) == [(3, "/a"), (4, "/b")]
