"""Damaged captures: every input ends in events then CaptureFormatError, or a clean end; nothing else.

Mutations of real captures (cuts at and inside every block, bit flips, huge length fields, gzip
garbage). Each case runs under a short alarm, so a hang fails the test instead of stalling it, and
reading a file that claims huge blocks must not allocate them.
"""

import contextlib
import gzip
import itertools
import signal
import struct
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chisel.core.errors import CaptureFormatError
from chisel.core.event import Event
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter

DATA = Path(__file__).parent.parent / "data" / "scap"
CASE_SECONDS = 5  # generous: a case takes milliseconds; this only catches a hang


def _plain(name):
    data = (DATA / name).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _blocks(data):
    """(offset, type, length) of every block of an intact capture."""
    out, off = [], 0
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        out.append((off, btype, blen))
        off += blen
    return out


def _small_v2():
    """A compact v2 capture (our writer's layout): 6 threads of libs_sample, 80 events, one newer type."""
    r = ScapReader(DATA / "libs_sample.scap")
    snap = r.snapshot
    snap.threads = snap.threads[:6]
    events = list(itertools.islice(r.events(), 80))
    events.insert(40, Event(events[39].ts, 1, 354, [b"\0\0\0\0", b"\0\0\0\0", b"x\0", b"/\0", b"/\0",
                                                   b"\0"]))
    path = Path(tempfile.mkdtemp()) / "small.scap"
    with ScapWriter(path, snap) as w:
        for ev in events:
            w.write(ev)
    out = path.read_bytes()
    path.unlink()
    path.parent.rmdir()
    return out


_OLD_FULL = _plain("libs_test_ipv6_client.scap")
# Old layout (event blocks 0x204, PL V5, FDL v1), cut after its 60th event block.
OLD_BLOCKS = _OLD_FULL[:[off for off, t, _ in _blocks(_OLD_FULL) if t == 0x204][60]]
NEW_BLOCKS = _plain("falco_syscall.scap")  # event blocks 0x204, PL V8
V2_BLOCKS = _small_v2()  # event blocks 0x216, PL V9, FDL v2, one event type newer than 0.29


@contextlib.contextmanager
def _time_limit(seconds):
    def on_alarm(signum, frame):
        raise TimeoutError(f"reading took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _consume(path, decode=True):
    """Read everything, decoding every parameter; returns (events, error or None)."""
    n = 0
    with _time_limit(CASE_SECONDS):
        try:
            r = ScapReader(path)
        except CaptureFormatError as e:
            return 0, e
        try:
            for ev in r.events():
                n += 1
                if decode:
                    for i in range(len(ev.raw)):
                        ev.param(i)
        except CaptureFormatError as e:
            return n, e
        finally:
            r.close()
    return n, None


def _write(tmp_path, data, name="case.scap"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("data", [OLD_BLOCKS, V2_BLOCKS], ids=["old", "v2"])
def test_cut_at_every_block_boundary_is_a_clean_end(tmp_path, data):
    blocks = _blocks(data)
    event_types = {0x204, 0x216}
    assert sum(1 for _, t, _ in blocks if t in event_types) in (60, 81)
    events_before = 0
    for off, btype, _ in blocks[1:]:
        n, err = _consume(_write(tmp_path, data[:off]), decode=False)
        assert err is None, (off, err)
        assert n == events_before
        if btype in event_types and struct.unpack_from("<H", data, off + 10 + 20)[0] < 336:
            events_before += 1


@pytest.mark.parametrize("data", [OLD_BLOCKS, V2_BLOCKS], ids=["old", "v2"])
def test_cut_inside_every_block_is_reported_at_that_block(tmp_path, data):
    blocks = _blocks(data)
    for off, _, blen in blocks[1:]:
        for inside in (1, 7, blen - 1):
            n, err = _consume(_write(tmp_path, data[:off + inside]), decode=False)
            assert isinstance(err, CaptureFormatError), (off, inside)
            assert err.offset == off, (off, inside, err)


def test_cut_inside_the_section_header(tmp_path):
    for cut in (1, 4, 8, 27):
        n, err = _consume(_write(tmp_path, NEW_BLOCKS[:cut]))
        assert (n, type(err)) == (0, CaptureFormatError)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(base=st.sampled_from([OLD_BLOCKS, NEW_BLOCKS, V2_BLOCKS]),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                      min_size=1, max_size=8))
def test_bit_flips_end_in_events_or_format_error(tmp_path, base, flips):
    data = bytearray(base)
    for where, bit in flips:
        data[int(where * len(data))] ^= 1 << bit
    _consume(_write(tmp_path, bytes(data)))  # any other exception, or a hang, fails


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(block=st.integers(1, 10_000), field=st.sampled_from(["block", "event", "nparams", "param"]),
       value=st.sampled_from([0, 1, 11, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
def test_huge_and_tiny_length_fields(tmp_path, block, field, value):
    data = bytearray(V2_BLOCKS)
    blocks = _blocks(V2_BLOCKS)
    off, btype, blen = blocks[block % len(blocks)]
    if field == "block":
        struct.pack_into("<I", data, off + 4, value)
    elif btype == 0x216:
        rec = off + 10
        if field == "event":
            struct.pack_into("<I", data, rec + 16, value)
        elif field == "nparams":
            struct.pack_into("<I", data, rec + 22, value)
        elif struct.unpack_from("<I", data, rec + 22)[0]:
            struct.pack_into("<H", data, rec + 26, value & 0xFFFF)
    _consume(_write(tmp_path, bytes(data)))


def test_claimed_huge_block_is_never_allocated(tmp_path):
    data = bytearray(V2_BLOCKS)
    off = _blocks(V2_BLOCKS)[-3][0]
    struct.pack_into("<I", data, off + 4, 60 * 1024 * 1024)  # under the limit, past the file's end
    for name, payload in (("plain.scap", bytes(data)), ("gz.scap", gzip.compress(bytes(data)))):
        tracemalloc.start()
        n, err = _consume(_write(tmp_path, payload, name))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert isinstance(err, CaptureFormatError) and "file ends inside block" in err.why
        assert peak < 16 * 1024 * 1024, peak


@pytest.mark.parametrize("mutate", [
    lambda gz: gz[:10] + b"\x00" * 50 + gz[60:],             # garbage right after the header
    lambda gz: gz[:len(gz) // 2],                            # stream cut in half
    lambda gz: gz[:-8] + b"\xde\xad\xbe\xef\x00\x00\x00\x00",  # wrong CRC and size
    lambda gz: gz + b"trailing garbage that is not a gzip member",
    lambda gz: b"\x1f\x8b" + b"\xff" * 200,                  # a gzip magic and nothing sane
    lambda gz: gz[:3000] + bytes(range(256)) * 4 + gz[4024:],
], ids=["header-garbage", "half", "bad-crc", "trailing", "magic-only", "middle-garbage"])
def test_gzip_garbage(tmp_path, mutate):
    gz = (DATA / "falco_syscall.scap").read_bytes()
    n, err = _consume(_write(tmp_path, mutate(gz)))
    assert err is None or isinstance(err, CaptureFormatError)
    assert n <= 368


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=400))
def test_random_bytes_after_a_section_header(tmp_path, junk):
    shb = NEW_BLOCKS[:28]
    _consume(_write(tmp_path, shb + junk))
