"""In-kernel I/O aggregation, userspace half: the kernel's cumulative totals become `IoTotals` deltas.

With `ProbePlan.aggregate_io` the exit programs of the I/O syscalls add their results to the
`io_totals` hash map, keyed by (tgid, fd), instead of emitting one record per call (see
`bpf_common.c`). The values only ever grow, so this side keeps the last value it saw and hands
the chisels the difference:
- every FLUSH_INTERVAL_S of event time the whole map is read (never reset: a reset would race
  with the kernel's adds);
- close's enter record carries the fd's final values, moved out of the map by the kernel, so the
  part after the last read is not lost and a reused fd number starts a new entry (`born`, the
  entry's creation time, tells the two apart);
- a process's exit flushes and deletes its entries (the kernel closes its fds without a close).

`KernelAggregator` does this as the dispatcher's first handler, so a chisel's interval tick (on
a multiple of FLUSH_INTERVAL_S) sees the totals flushed just before it.
"""

import struct
import time
from typing import NamedTuple

from chisel.plugins.api import IoTotals

from .probes import CLOSE_TOTALS_PARAMS, IO_TOTALS_MAP

FLUSH_INTERVAL_S = 0.1
# Map reads a (tgid, fd, born) may stay unseen before its last value is forgotten. An entry leaves
# the map at its close; the close record, in the ring, may reach us a little later and still
# needs the last value. Only a close record lost to a full ring leaves an entry unclaimed.
FORGET_AFTER_FLUSHES = 100

_KEY = struct.Struct("<II")  # struct fdkey_t
_VALUE = struct.Struct("<QQQQQ")  # struct iototal_t
_U64 = struct.Struct("<Q")


class Counters(NamedTuple):
    """Bytes and calls of one fd, cumulative (as the kernel keeps them) or a difference of two."""

    bytes_in: int = 0
    bytes_out: int = 0
    ops_in: int = 0
    ops_out: int = 0

    def minus(self, other):
        return Counters(*(a - b for a, b in zip(self, other)))

    @property
    def empty(self):
        return not any(self)


ZERO = Counters()


def parse_entry(key, value):
    """(tgid, fd, born, Counters) of one raw `io_totals` map entry."""
    tgid, fd = _KEY.unpack(key)
    bytes_in, bytes_out, ops_in, ops_out, born = _VALUE.unpack(value)
    return tgid, fd, born, Counters(bytes_in, bytes_out, ops_in, ops_out)


def close_totals(ev):
    """(born, Counters) carried by an aggregating run's close enter event, or None without any."""
    raw = ev.raw
    if len(raw) < 1 + CLOSE_TOTALS_PARAMS:
        return None
    bytes_in, bytes_out, ops_in, ops_out, born = (_U64.unpack(raw[i])[0] for i in range(1, 6))
    if not born:
        return None  # the fd saw no aggregated call since the last close of its number
    return born, Counters(bytes_in, bytes_out, ops_in, ops_out)


class DeltaTracker:
    """The last cumulative value seen per (tgid, fd, born), and what changed since.

    Pure bookkeeping, no map access: `scan` takes parsed map entries, `closed` a close record.
    """

    def __init__(self, forget_after=FORGET_AFTER_FLUSHES):
        self.forget_after = forget_after
        self._seen = {}  # (tgid, fd, born) -> Counters
        self._unseen_for = {}  # (tgid, fd, born) -> map reads it was missing from

    def scan(self, entries):
        """[(tgid, fd, delta)] for the entries (tgid, fd, born, Counters) that changed."""
        changed = []
        present = set()
        for tgid, fd, born, values in entries:
            key = (tgid, fd, born)
            present.add(key)
            delta = values.minus(self._seen.get(key, ZERO))
            if not delta.empty:
                changed.append((tgid, fd, delta))
                self._seen[key] = values
        self._age(present)
        return changed

    def _age(self, present):
        for key in list(self._seen):
            if key in present:
                self._unseen_for.pop(key, None)
                continue
            missed = self._unseen_for.get(key, 0) + 1
            if missed >= self.forget_after:
                self.forget(key)
            else:
                self._unseen_for[key] = missed

    def closed(self, tgid, fd, born, final):
        """What a closed fd's final values add to what was already handed out; forgets the fd."""
        key = (tgid, fd, born)
        delta = final.minus(self._seen.get(key, ZERO))
        self.forget(key)
        return delta

    def forget(self, key):
        self._seen.pop(key, None)
        self._unseen_for.pop(key, None)

    def __len__(self):
        return len(self._seen)


class KernelAggregator:
    """The dispatcher's first handler in an aggregating run; hands `IoTotals` lists to `deliver`.

    `io_map`: the `io_totals` map (`items()` of raw (key, value) bytes, `delete(key)`); `state`:
    the run's `State`, which resolves a (tgid, fd) to its thread and `FdInfo`; `deliver(records)`
    passes a non-empty list of `IoTotals` to the chisels. It subscribes to close (the final totals
    of an fd) and procexit (the end of a process's fds) and ticks every FLUSH_INTERVAL_S.
    """

    events = frozenset({"close", "procexit"})
    name = "kernel-aggregation"

    def __init__(self, io_map, state, deliver, tracker=None):
        self.io_map = io_map
        self.state = state
        self.deliver = deliver
        self.tracker = tracker if tracker is not None else DeltaTracker()
        self.last_ts = None

    # -- the handler interface the dispatcher calls -----------------------------------------------

    def on_event(self, ev):
        self.last_ts = ev.ts
        if ev.info.name == "close":
            if ev.info.dir == ">":
                self._closed(ev)
        elif ev.thread is not None and ev.thread.tid == ev.thread.pid:
            self.flush_process(ev.thread.pid, ev.ts)

    def on_interval(self, now_ns, delta_ns):
        self.flush(now_ns)

    def on_end(self, summary):
        self.flush(summary.last_ts if summary.last_ts is not None else self.last_ts or time.time_ns())

    # -- flushing ---------------------------------------------------------------------------------

    def flush(self, ts):
        """Hand out what every fd added since the last flush."""
        entries = [parse_entry(k, v) for k, v in self.io_map.items()]
        self._deliver(ts, self.tracker.scan(entries))

    def flush_process(self, tgid, ts):
        """A process ended: hand out its fds' last totals and delete their entries."""
        changed = []
        for key, value in self.io_map.items():
            entry_tgid, fd, born, values = parse_entry(key, value)
            if entry_tgid != tgid:
                continue
            delta = self.tracker.closed(tgid, fd, born, values)
            if not delta.empty:
                changed.append((tgid, fd, delta))
            self.io_map.delete(key)
        self._deliver(ts, changed, closed=True)

    def _closed(self, ev):
        carried = close_totals(ev)
        if carried is None or ev.thread is None:
            return
        born, final = carried
        fdnum = ev.fdnum if ev.fdnum is not None else _fd_param(ev)
        delta = self.tracker.closed(ev.thread.pid, fdnum, born, final)
        if not delta.empty:
            self.deliver([IoTotals(ev.ts, self._main_thread(ev.thread.pid) or ev.thread, fdnum, ev.fd,
                                   *delta, closed=True)])

    def _deliver(self, ts, changed, closed=False):
        records = []
        for tgid, fd, delta in changed:
            thread = self._main_thread(tgid)
            info = thread.fdtable.get(fd) if thread is not None else None
            records.append(IoTotals(ts, thread, fd, info, *delta, closed=closed))
        if records:
            self.deliver(records)

    def _main_thread(self, tgid):
        return self.state.thread(tgid) if self.state is not None else None


def _fd_param(ev):
    return struct.unpack("<q", ev.raw[0])[0]


class BccTableMap:
    """The `io_totals` map through a bcc table, as raw bytes (what `LiveSource.maps` will give)."""

    def __init__(self, table):
        self.table = table

    def items(self):
        return [(bytes(k), bytes(v)) for k, v in self.table.items()]

    def delete(self, key):
        try:
            del self.table[self.table.Key.from_buffer_copy(key)]
        except KeyError:
            return False
        return True


def io_totals_map(source):
    """The source's `io_totals` map: `source.maps[...]`, or the bcc table of an engine without it."""
    maps = getattr(source, "maps", None)
    if maps is not None:
        return maps[IO_TOTALS_MAP]
    return BccTableMap(source._bpf[IO_TOTALS_MAP.encode()])  # noqa: SLF001 - until LiveSource.maps lands


def aggregates(source):
    """Whether `source` runs an aggregating plan (an engine may not pass the option on yet)."""
    plan = getattr(source, "plan", None)
    return bool(getattr(plan, "aggregate_io", False))


def engine_accepts_aggregation(live_source_cls):
    """Whether `LiveSource(..., aggregate_io=True)` is accepted (passed on to the ProbePlan)."""
    import inspect  # noqa: PLC0415

    params = inspect.signature(live_source_cls).parameters.values()
    return any(p.name == "aggregate_io" or p.kind is p.VAR_KEYWORD for p in params)
