"""In-kernel I/O aggregation, userspace half: cumulative map values to deltas, close and exit flushes,
the chisels' on_io_totals, and when the session turns aggregation on. No BPF: maps are dicts."""

import io
import struct
from types import SimpleNamespace

import pytest

from chisel.chisels.netconns import NetConns
from chisel.chisels.topfiles import TopFiles, TopFilesErrors, TopFilesTime
from chisel.core.config import RunConfig
from chisel.core.live import probes
from chisel.core.live.aggregate import (
    Counters,
    DeltaTracker,
    KernelAggregator,
    Entry,
    closed_fd_totals,
    flush_interval_ns,
    parse_entry,
)
from chisel.core.live.specs import AGGREGATED_SYSCALLS
from chisel.core.render import Output
from chisel.core.session import Session
from chisel.core.threadinfo import FdInfo, ThreadInfo
from chisel.plugins import Chisel, Context, IoTotals


def _key(tgid, fd, gen=0):
    return struct.pack("<IIII", tgid, fd, gen, 0)


def _value(bytes_in, bytes_out, ops_in, ops_out, born):
    return struct.pack("<QQQQQ", bytes_in, bytes_out, ops_in, ops_out, born)


class FakeMap:
    """The io_totals map as LiveSource.maps gives it: raw bytes keys and values."""

    def __init__(self):
        self.entries = {}

    def set(self, tgid, fd, born, *counters, gen=0):
        self.entries[_key(tgid, fd, gen)] = _value(*counters, born)

    def items(self):
        return list(self.entries.items())

    def lookup(self, key):
        return self.entries.get(key)

    def delete(self, key):
        return self.entries.pop(key, None) is not None


class FakeState:
    def __init__(self, threads):
        self.threads = {t.tid: t for t in threads}

    def thread(self, tid):
        return self.threads.get(tid)


def _process(pid, comm, fds):
    thread = ThreadInfo(pid, pid, comm=comm)
    thread.fdtable.update(fds)
    return thread


SEC = 1_000_000_000


def _event(name, thread, raw=(), ts=5 * SEC):
    return SimpleNamespace(info=SimpleNamespace(name=name, dir=">"), raw=list(raw), thread=thread, ts=ts)


def _fd_closing(name, thread, first_params, closed_fd, totals, ts=5 * SEC):
    """A close/dup enter event of an aggregating run: its own params, then the closed fd's totals."""
    raw = [struct.pack("<q", v) for v in (*first_params, closed_fd)] + [struct.pack("<Q", v) for v in totals]
    return _event(name, thread, raw, ts)


def _close_enter(thread, fdnum, totals, ts=5 * SEC):
    return _fd_closing("close", thread, (fdnum,), fdnum, totals, ts)


def _procexit(thread, ts=9 * SEC):
    return _event("procexit", thread, ts=ts)


# -- the pure bookkeeping -------------------------------------------------------------------------


def test_parse_entry_reads_the_kernel_layout():
    assert parse_entry(_key(42, 7, 2), _value(1, 2, 3, 4, 99)) == Entry(42, 7, 2, 99, Counters(1, 2, 3, 4))


def _entry(tgid, fd, born, *values, gen=0):
    return Entry(tgid, fd, gen, born, Counters(*values))


def test_scan_hands_out_only_what_grew_since_the_last_look():
    tracker = DeltaTracker()
    assert tracker.scan([_entry(1, 3, 100, 10, 0, 1, 0)]) == [(1, 3, Counters(10, 0, 1, 0))]
    assert tracker.scan([_entry(1, 3, 100, 10, 0, 1, 0)]) == []
    assert tracker.scan([_entry(1, 3, 100, 25, 4, 2, 1)]) == [(1, 3, Counters(15, 4, 1, 1))]


def test_close_adds_what_came_after_the_last_scan_and_forgets_the_fd():
    tracker = DeltaTracker()
    tracker.scan([_entry(1, 3, 100, 10, 0, 1, 0)])
    assert tracker.closed(1, 3, 0, 100, Counters(17, 5, 2, 1)) == Counters(7, 5, 1, 1)
    assert len(tracker) == 0


def test_close_of_an_fd_never_scanned_hands_out_everything():
    assert DeltaTracker().closed(1, 3, 0, 100, Counters(17, 5, 2, 1)) == Counters(17, 5, 2, 1)


def test_a_reused_fd_number_is_a_new_generation_even_before_the_old_close_arrives():
    # fd 3 is closed (its entry leaves the map) and reopened (a new entry, a new born) before the
    # close record reaches userspace: both generations add up exactly, nothing twice.
    tracker = DeltaTracker()
    tracker.scan([_entry(1, 3, 100, 10, 0, 1, 0)])
    assert tracker.scan([_entry(1, 3, 200, 0, 8, 0, 1)]) == [(1, 3, Counters(0, 8, 0, 1))]
    assert tracker.closed(1, 3, 0, 100, Counters(12, 0, 2, 0)) == Counters(2, 0, 1, 0)
    assert tracker.scan([_entry(1, 3, 200, 0, 9, 0, 2)]) == [(1, 3, Counters(0, 1, 0, 1))]


def test_an_entry_unseen_for_forget_after_scans_is_forgotten():
    tracker = DeltaTracker(forget_after=3)
    tracker.scan([_entry(1, 3, 100, 10, 0, 1, 0)])
    tracker.scan([])
    tracker.scan([])
    assert len(tracker) == 1
    tracker.scan([])
    assert len(tracker) == 0


def test_closed_fd_totals_reads_the_last_six_parameters():
    assert closed_fd_totals(_close_enter(None, 3, (11, 22, 3, 4, 777))) == (3, 777, Counters(11, 22, 3, 4))
    dup2 = _fd_closing("dup", None, (5,), 1, (0, 9, 0, 1, 55))  # dup2(5, 1) closes fd 1
    assert closed_fd_totals(dup2) == (1, 55, Counters(0, 9, 0, 1))
    assert closed_fd_totals(_close_enter(None, 3, (0, 0, 0, 0, 0))) is None  # no entry
    assert closed_fd_totals(SimpleNamespace(raw=[struct.pack("<q", 3)])) is None  # not aggregating


# -- the aggregator over a fake map and state -----------------------------------------------------


@pytest.fixture
def world():
    log = FdInfo(3, "file", "/tmp/log")
    sock = FdInfo(4, "ipv4", "127.0.0.1:40000->127.0.0.1:8080")
    sock.l4proto = "tcp"
    proc = _process(100, "writer", {3: log, 4: sock})
    other = _process(200, "other", {3: FdInfo(3, "file", "/tmp/other")})
    io_map = FakeMap()
    delivered = []
    aggregator = KernelAggregator(io_map, FakeState([proc, other]), delivered.extend, boot_offset_ns=0)
    return SimpleNamespace(proc=proc, other=other, map=io_map, delivered=delivered, agg=aggregator,
                           log=log, sock=sock)


def _summary(records):
    return [(r.thread.pid, r.fdnum, r.fd.name if r.fd else None, r.bytes_in, r.bytes_out, r.ops_in,
             r.ops_out, r.closed) for r in records]


def test_interval_flush_resolves_each_fd_through_the_state(world):
    world.map.set(100, 3, 1, 0, 4096, 0, 4)
    world.map.set(100, 4, 2, 300, 200, 3, 2)
    world.agg.on_interval(SEC, SEC)
    assert sorted(_summary(world.delivered)) == [
        (100, 3, "/tmp/log", 0, 4096, 0, 4, False),
        (100, 4, "127.0.0.1:40000->127.0.0.1:8080", 300, 200, 3, 2, False)]
    assert {r.ts for r in world.delivered} == {SEC}
    world.delivered.clear()
    world.agg.on_interval(2 * SEC, SEC)
    assert world.delivered == []


def test_close_record_delivers_the_rest_and_the_next_flush_does_not_repeat_it(world):
    world.map.set(100, 3, 1, 0, 1000, 0, 1)
    world.agg.on_interval(SEC, SEC)
    del world.map.entries[_key(100, 3)]  # the kernel moved it into the close record
    world.delivered.clear()
    world.agg.on_event(_close_enter(world.proc, 3, (0, 1500, 0, 2, 1)))
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 500, 0, 1, True)]
    world.delivered.clear()
    world.agg.on_interval(2 * SEC, SEC)
    assert world.delivered == []


def test_an_entry_younger_than_the_events_read_waits_for_a_later_flush(world):
    # born 30 ms before the tick: its open may still be in the ring, so the state cannot name it yet
    world.map.set(100, 3, SEC - 30_000_000, 0, 10, 0, 1)
    world.agg.on_interval(SEC, SEC)
    assert world.delivered == []
    world.agg.on_interval(SEC + 100_000_000, 100_000_000)
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 10, 0, 1, False)]


def test_process_exit_leaves_entries_of_a_later_process_reusing_the_pid(world):
    world.map.set(100, 3, 10 * SEC, 0, 10, 0, 1)  # born after the exit event
    world.agg.on_event(_procexit(world.proc, ts=9 * SEC))
    assert world.delivered == []
    assert len(world.map.entries) == 1


def test_dup2_over_an_open_fd_flushes_the_replaced_file(world):
    world.map.set(100, 3, 1, 0, 64, 0, 1)
    world.agg.on_event(_fd_closing("dup", world.proc, (4,), 3, (0, 64, 0, 1, 1)))  # dup2(4, 3)
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 64, 0, 1, True)]


def test_execve_flushes_the_generation_before_it_and_holds_back_the_next(world):
    world.map.set(100, 3, 1, 0, 10, 0, 1)  # before the exec
    world.map.set(100, 3, 2, 7, 0, 1, 0, gen=1)  # after it: another file may hold fd 3 by then
    world.agg.on_interval(SEC, SEC)
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 10, 0, 1, False)]
    world.delivered.clear()
    world.agg.on_event(_event("execve", world.proc))
    assert world.delivered == []  # nothing new in generation 0
    assert list(world.map.entries) == [_key(100, 3, 1)]
    world.proc.fdtable[3] = FdInfo(3, "file", "/tmp/script")  # what the new image opened
    world.agg.on_interval(2 * SEC, SEC)
    assert _summary(world.delivered) == [(100, 3, "/tmp/script", 7, 0, 1, 0, False)]


def test_process_exit_flushes_and_deletes_only_that_process_entries(world):
    world.map.set(100, 3, 1, 0, 10, 0, 1)
    world.map.set(200, 3, 1, 5, 0, 1, 0)
    world.agg.on_event(_procexit(world.proc))
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 10, 0, 1, True)]
    assert list(world.map.entries) == [_key(200, 3)]


def test_a_non_main_thread_exit_flushes_nothing(world):
    world.map.set(100, 3, 1, 0, 10, 0, 1)
    world.agg.on_event(_procexit(ThreadInfo(101, 100, comm="writer")))
    assert world.delivered == []
    assert len(world.map.entries) == 1


def test_interval_flush_frees_entries_of_processes_the_state_no_longer_knows(world):
    world.map.set(300, 5, 1, 9, 9, 1, 1)  # pid 300: exited, its fd unknown to the state
    world.map.set(100, 3, 1, 0, 10, 0, 1)
    world.agg.on_interval(SEC, SEC)
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 10, 0, 1, False)]
    assert list(world.map.entries) == [_key(100, 3)]


def test_process_exit_looks_up_only_the_fds_the_state_knows(world):
    world.map.set(100, 3, 1, 0, 10, 0, 1)
    world.map.set(100, 8, 1, 0, 10, 0, 1)  # fd 8: opened by a call the engine does not trace
    world.agg.on_event(_procexit(world.proc))
    assert _summary(world.delivered) == [(100, 3, "/tmp/log", 0, 10, 0, 1, True)]
    assert list(world.map.entries) == [_key(100, 8)]  # left to the interval flush


def test_flushes_tick_on_every_chisel_interval():
    assert flush_interval_ns([SEC, 3 * SEC // 2]) == SEC // 2
    assert flush_interval_ns([None, 2 * SEC]) == 2 * SEC
    assert flush_interval_ns([]) == SEC


def test_end_flushes_what_is_left(world):
    world.map.set(200, 3, 1, 5, 0, 1, 0)
    world.agg.on_end(SimpleNamespace(last_ts=7_000))
    assert _summary(world.delivered) == [(200, 3, "/tmp/other", 5, 0, 1, 0, False)]
    assert world.delivered[0].ts == 7_000


# -- the chisels ----------------------------------------------------------------------------------


def _run(chisel_cls, records, **args):
    stream = io.StringIO()
    chisel = chisel_cls()
    ns = chisel_cls.default_args()
    for key, value in args.items():
        setattr(ns, key, value)
    chisel.setup(ns, Context(out=Output(stream), live=False))
    chisel.on_io_totals(records)
    chisel.on_end(SimpleNamespace(last_ts=0, first_ts=0, events=0, drops=0, live=False))
    return stream.getvalue().splitlines()


def test_topfiles_sums_bytes_of_file_fds_only(world):
    records = [IoTotals(1, world.proc, 3, world.log, 100, 4000, 1, 4),
               IoTotals(2, world.proc, 3, world.log, 0, 96, 0, 1, closed=True),
               IoTotals(2, world.proc, 4, world.sock, 999, 999, 9, 9),
               IoTotals(2, world.other, 3, world.other.fdtable[3], 50, 0, 1, 0),
               IoTotals(2, world.proc, 9, None, 5, 5, 1, 1)]
    lines = _run(TopFiles, records)
    assert lines[2:] == [f"{'4.10KB':<20}/tmp/log", f"{'50B':<20}/tmp/other"]


def test_topfiles_by_ops_counts_calls(world):
    lines = _run(TopFiles, [IoTotals(1, world.proc, 3, world.log, 0, 4000, 2, 4)], by="ops")
    assert lines[2:] == [f"{'6':<20}/tmp/log"]


def test_netconns_sums_each_direction_per_connection(world):
    records = [IoTotals(1, world.proc, 4, world.sock, 300, 200, 3, 2),
               IoTotals(2, world.proc, 4, world.sock, 12, 0, 1, 0, closed=True),
               IoTotals(2, world.proc, 3, world.log, 7, 7, 1, 1)]
    chisel = NetConns()
    chisel.setup(NetConns.default_args(), Context(out=Output(io.StringIO()), live=False))
    chisel.on_io_totals(records)
    [conn] = chisel.conns.values()
    assert (conn.proto, conn.name, conn.pid, conn.process) == (
        "tcp", "127.0.0.1:40000->127.0.0.1:8080", 100, "writer")
    assert (conn.bytes_in, conn.bytes_out, conn.opened_ts, conn.last_ts) == (312, 200, 1, 2)


def test_which_chisel_runs_take_totals():
    ns = SimpleNamespace
    assert TopFiles.takes_io_totals(ns(by="bytes")) and TopFiles.takes_io_totals(ns(by="ops"))
    assert not TopFiles.takes_io_totals(ns(by="time"))
    assert not TopFilesTime.takes_io_totals(ns(by="time"))
    assert not TopFilesErrors.takes_io_totals(ns(by="bytes"))
    assert NetConns.takes_io_totals(NetConns.default_args())
    assert not Chisel.takes_io_totals(ns())


# -- when the session aggregates --------------------------------------------------------------------


def _session(chisel_cls=TopFiles, args=None, **config):
    entry = SimpleNamespace(name=chisel_cls.name, cls=chisel_cls)
    session = Session(RunConfig(**config), plugins=None, chisels=[entry])
    session._args = {entry.name: args or chisel_cls.default_args()}
    return session


def test_session_aggregates_only_when_it_is_exact():
    assert _session()._kernel_aggregation_exact()
    assert _session(command=("true",))._kernel_aggregation_exact()
    assert not _session(kernel_agg=False)._kernel_aggregation_exact()
    assert not _session(write_path="/tmp/x.scap")._kernel_aggregation_exact()
    assert not _session(count=100)._kernel_aggregation_exact()  # -n counts events
    assert not _session(args=SimpleNamespace(by="time", top=10, interval=1.0))._kernel_aggregation_exact()
    assert not _session(TopFilesErrors)._kernel_aggregation_exact()
    filtered = _session()
    filtered.filter = object()  # any global filter needs the events themselves
    assert not filtered._kernel_aggregation_exact()
    printing = Session(RunConfig(), plugins=None, chisels=[])
    assert not printing._kernel_aggregation_exact()


# -- the generated source -------------------------------------------------------------------------


def _plan(aggregate_io):
    return probes.ProbePlan(syscalls=frozenset({"read", "write", "close", "openat", "dup2", "execve"}),
                            procexit=True,
                            snap_bucket=128, axes=frozenset(), formats=(), aggregate_io=aggregate_io)


def test_an_aggregating_plan_adds_up_reads_and_writes_instead_of_emitting_them():
    src = probes.generate_source(_plan(True))
    assert "#define AGGREGATE_IO 1" in src
    assert src.count("io_add(") == 3  # the helper's definition and the read and write exits
    assert "io_add(id >> 32, s.a[0], ret, 0);" in src and "io_add(id >> 32, s.a[0], ret, 1);" in src
    assert "off = begin(b, 4, 7);" in src  # close enter: its fd, then the closed fd and 5 totals
    assert "put_io_totals(b, off, 1, id >> 32, s.a[0], 1);" in src
    assert "off = begin(b, 6," not in src and "off = begin(b, 7," not in src  # no read records
    assert "put_io_totals(b, off, 1, id >> 32, s.a[1], s.a[1] != s.a[0]);" in src  # dup2 newfd
    assert "exec_bump(id >> 32);" in src


def test_the_default_plan_is_unchanged():
    src = probes.generate_source(_plan(False))
    assert "AGGREGATE_IO" not in src.split("#include")[0]
    assert "io_add(id" not in src and "put_io_totals(b" not in src and "exec_bump(id" not in src
    assert "off = begin(b, 4, 1);" in src and "off = begin(b, 7, 2);" in src
    assert probes.generate_source(_plan(False)) == src  # deterministic


def test_aggregated_syscalls_are_the_byte_moving_io_calls():
    assert AGGREGATED_SYSCALLS == {"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv",
                                   "pwritev", "recvfrom", "sendto", "recvmsg", "sendmsg"}
