"""The live engine's BPF source generation and record decoding, without root or BPF."""

import struct

import pytest

from chisel.core.live import probes
from chisel.core.live.decode import (Decoder, clone_flags_to_scap, open_flags_to_scap,
                                     pollfds_to_scap, sockaddr_to_scap, tuple_to_scap)
from chisel.core.live.engine import plan_for
from chisel.core.live.specs import SEED_SYSCALLS, SPECS, STATE_SYSCALLS
from chisel.core.pushdown import PushDown

# Argument names as the kernel's format files give them, faked so the test needs no tracefs.
FAKE_FORMATS = tuple((name, tuple(f"arg{i}" for i in range(6))) for name in sorted(SEED_SYSCALLS))

HOSTILE = ('"; } #include </etc/shadow>\n', "a\0b", "*/ int x; /*", "\\", "%s%n", "é" * 300)


def _source(pushdown, **kw):
    return probes.generate_source(plan_for(event_types=frozenset({"read", "open"}), pushdown=pushdown,
                                           formats=FAKE_FORMATS, **kw))


def test_source_is_identical_whatever_the_filter_values():
    plain = _source(PushDown(pids=frozenset({1}), tids=frozenset({1}), uids=frozenset({0}),
                             comms=frozenset({"cat"}), fd_names=frozenset({"/etc/passwd"})), pid=1)
    hostile = _source(PushDown(pids=frozenset({4242, 7}), tids=frozenset({99}), uids=frozenset({65534}),
                               comms=frozenset(HOSTILE), fd_names=frozenset(HOSTILE)), pid=31337)
    assert hostile == plain
    for value in HOSTILE:
        assert value not in plain


def test_source_depends_on_enabled_axes_and_snap_bucket_only():
    base = _source(None)
    assert _source(PushDown(fd_names=frozenset({"/x"}))) != base
    assert "#define AXIS_FDS 1" in _source(PushDown(fd_names=frozenset({"/x"})))
    assert "#define AXIS_" not in base
    assert _source(None, snaplen=80) == _source(None, snaplen=128)
    assert _source(None, snaplen=2000) != base
    assert "#define SNAP_MAX 2048" in _source(None, snaplen=2000)


def test_snap_bucket():
    assert [probes.snap_bucket(n) for n in (1, 80, 128, 129, 2000, 10**6)] == [128, 128, 128, 256, 2048, 8192]


def test_plan_attaches_wanted_types_plus_state_syscalls():
    plan = plan_for(event_types=frozenset({"read", "pread"}), formats=FAKE_FORMATS)
    assert plan.syscalls == STATE_SYSCALLS | {"read", "pread64"}
    assert plan.procexit is True
    narrowed = plan_for(event_types=None, pushdown=PushDown(event_types=frozenset({"write"})))
    assert narrowed.syscalls == STATE_SYSCALLS | {"write"}
    assert plan_for().syscalls == SEED_SYSCALLS
    assert plan_for(command=["true"]).axes == frozenset({"traced"})


def test_every_seed_syscall_generates_a_program_pair_and_no_raw_syscalls():
    src = probes.generate_source(plan_for(formats=FAKE_FORMATS))
    for name in SEED_SYSCALLS:
        assert f"TRACEPOINT_PROBE(syscalls, sys_enter_{name})" in src
        assert f"TRACEPOINT_PROBE(syscalls, sys_exit_{name})" in src
    assert "raw_syscalls" not in src
    assert "kprobe" not in src.lower()


def test_event_ids_are_the_ones_sysdig_029_emits():
    assert (SPECS["pread64"].enter_id, SPECS["pread64"].exit_id) == (112, 113)
    assert (SPECS["open"].enter_id, SPECS["open"].exit_id) == (2, 3)
    assert (SPECS["read"].enter_id, SPECS["read"].exit_id) == (6, 7)
    assert SPECS["accept4"].exit_id == 249 and SPECS["dup3"].exit_id == 125


def test_read_formats_takes_argument_names_in_order(tmp_path):
    d = tmp_path / "events/syscalls/sys_enter_read"
    d.mkdir(parents=True)
    (d / "format").write_text(
        "name: sys_enter_read\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\n"
        "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\n\tfield:unsigned int fd;\toffset:16;\n"
        "\tfield:char * buf;\toffset:24;\n\tfield:size_t count;\toffset:32;\n")
    formats, missing = probes.read_formats({"read", "write"}, root=tmp_path)
    assert formats == (("read", ("fd", "buf", "count")),)
    assert missing == ["write"]


def _record(ts, tid, etype, params, cpu=1):
    head = struct.pack("<QIHHII", ts, tid, etype, len(params), cpu, 0)
    return head + struct.pack(f"<{len(params)}H", *map(len, params)) + b"".join(params)


def test_decoder_slices_records_into_events():
    dec = Decoder(boot_offset_ns=1_000)
    recs = [_record(5, 42, 6, [struct.pack("<q", 3), struct.pack("<I", 1000)]),
            _record(9, 42, 7, [struct.pack("<q", 4), b"abcd"]),
            _record(9, 42, 7, [b"x"])[:-1] + b"",  # lengths do not add up: corrupt
            _record(11, 43, 3, [struct.pack("<q", 5), b"/etc/passwd\0", struct.pack("<I", 0o102),
                                struct.pack("<I", 0o644), bytes(4)])]
    evs = dec.decode(recs)
    assert [(e.num, e.ts, e.tid, e.type, e.cpu) for e in evs] == [
        (1, 1005, 42, 6, 1), (2, 1009, 42, 7, 1), (3, 1011, 43, 3, 1)]
    assert evs[1].raw == [struct.pack("<q", 4), b"abcd"]
    assert evs[2].raw[2] == struct.pack("<I", 3 | 4)  # O_RDWR|O_CREAT in scap's PPM bits
    assert dec.corrupt == 1


def test_decoder_rebuilds_execve_exit_with_argv_from_the_enter():
    dec = Decoder(boot_offset_ns=0)
    u64 = lambda v: struct.pack("<Q", v)  # noqa: E731
    enter = _record(1, 50, 292, [b"/usr/bin/cat\0", b"cat\0/etc/passwd\0"])
    exit_ = _record(2, 50, 293, [u64(0), u64(50), u64(50), u64(7), b"cat".ljust(16, b"\0")])
    e1, e2 = dec.decode([enter, exit_])
    assert e1.raw == [b"/usr/bin/cat\0"]
    assert len(e2.raw) == 20
    assert e2.raw[1:6] == [b"cat\0", b"/etc/passwd\0", u64(50), u64(50), u64(7)]
    assert e2.raw[13] == b"cat\0"


def test_flag_and_address_conversions():
    assert open_flags_to_scap(0) == 1
    assert open_flags_to_scap(0o1 | 0o1000 | 0o2000000) == 2 | 256 | 4096
    assert clone_flags_to_scap(0x10000 | 0x100 | 0x400) == 8192 | 32768 | 1
    sin = struct.pack("<H", 2) + (8080).to_bytes(2, "big") + bytes([127, 0, 0, 1]) + bytes(8)
    assert sockaddr_to_scap(sin) == b"\x02\x7f\x00\x00\x01" + struct.pack("<H", 8080)
    assert sockaddr_to_scap(struct.pack("<H", 1) + b"/tmp/s\0\0\0") == b"\x01/tmp/s\0"
    raw = struct.pack("<HHHH", 2, 40000, 80, 0) + bytes([10, 0, 0, 1]) + bytes(12) + bytes([10, 0, 0, 2]) + bytes(12)
    local_first = b"\x02" + bytes([10, 0, 0, 1]) + struct.pack("<H", 40000) + bytes([10, 0, 0, 2]) + struct.pack("<H", 80)
    assert tuple_to_scap(raw, True) == local_first
    assert tuple_to_scap(raw, False)[1:7] == bytes([10, 0, 0, 2]) + struct.pack("<H", 80)
    fds = struct.pack("<ihh", 3, 1, 0) + struct.pack("<ihh", 4, 4, 4)
    assert pollfds_to_scap(fds, False) == struct.pack("<H", 2) + struct.pack("<qh", 3, 1) + struct.pack("<qh", 4, 4)
    assert pollfds_to_scap(fds, True) == struct.pack("<H", 1) + struct.pack("<qh", 4, 4)


@pytest.mark.parametrize("name", sorted(SEED_SYSCALLS))
def test_kernel_layout_matches_the_event_table(name):
    from chisel.core.eventmodel import load
    spec = SPECS[name]
    model = load()
    extra_enter = 1 if spec.exit_layout == "execve" else 0  # argv rides on the enter, then is removed
    assert len(spec.enter) - extra_enter == len(model.events[spec.enter_id].params)
    if spec.exit_layout is None:
        assert len(spec.exit) == len(model.events[spec.exit_id].params)


def test_int_arguments_keep_their_sign_and_64_bit_ones_do_not():
    src = probes.generate_source(plan_for(event_types=frozenset({"openat", "mmap"}), formats=FAKE_FORMATS))
    openat_enter = src.split("sys_enter_openat)")[1].split("TRACEPOINT_PROBE")[0]
    assert "put_int(b, off, (u64)(s64)(s32)s.a[0], 8)" in openat_enter  # dirfd: AT_FDCWD is -100
    mmap_enter = src.split("sys_enter_mmap)")[1].split("TRACEPOINT_PROBE")[0]
    assert "put_int(b, off, s.a[1], 8)" in mmap_enter  # length is 64-bit


def test_untraceable_event_types_are_named():
    from chisel.core.eventmodel import load
    from chisel.core.live.specs import untraceable_event_types
    assert untraceable_event_types({"read", "pread", "accept", "procexit", "fstat", "switch"}, load()) == [
        "fstat", "switch"]
    assert untraceable_event_types(None, load()) == []


@pytest.mark.parametrize("snaplen", [1, 80, 2000, 8192, 10**6])
def test_scratch_slot_fits_the_per_cpu_value_limit(snaplen):
    plan = plan_for(snaplen=snaplen, formats=FAKE_FORMATS)
    cap, snap = probes.record_cap(plan), plan.snap_bucket
    assert 8 + cap + max(snap, probes.STR_MAX, 256) <= 32768
    # the largest record (a full-snaplen read or write) still fits below the capacity
    assert 24 + 2 * 3 + 8 + 4 + snap < cap


def test_decoder_forgets_a_thread_at_its_procexit():
    dec = Decoder(boot_offset_ns=0)
    u64 = lambda v: struct.pack("<Q", v)  # noqa: E731
    dec.decode([_record(1, 60, 292, [b"/bin/x\0", b"x\0"]),
                _record(2, 60, 293, [u64(0), u64(60), u64(60), u64(1), b"x".ljust(16, b"\0")])])
    assert 60 in dec._images
    (ev,) = dec.decode([_record(3, 60, 186, [u64(0), u64(0), b"\0", b"\0"])])
    assert ev.name == "procexit" and 60 not in dec._images
