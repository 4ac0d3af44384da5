"""In-kernel I/O aggregation, userspace half: the kernel's cumulative totals become `IoTotals` deltas.

With `ProbePlan.aggregate_io` the exit programs of the I/O syscalls add their results to the
`io_totals` hash map, keyed by (tgid, fd, exec generation), instead of emitting one record per
call (see `bpf_common.c`). The values only ever grow, so this side keeps the last value it saw
and hands the chisels the difference, with the fd resolved through the state:
- every FLUSH_INTERVAL_S of event time the whole map is read (never reset: a reset would race
  with the kernel's adds);
- the enter records of close, dup2 and dup3 carry the final values of the fd they close, moved
  out of the map by the kernel, so the part after the last read is not lost and a reused fd
  number starts a new entry (`born`, the entry's creation time, tells the two apart);
- an execve enter starts a new generation of the process's keys in the kernel; here it flushes
  and deletes the older ones while the state still has the fds close-on-exec will close, and
  keys of a generation whose execve was not seen yet wait for it;
- a process's exit flushes and deletes its entries (the kernel closes its fds without a close).
Those two look up only the keys of the fds the state knows for the process (a walk of the whole
map per exit would cost a fork-heavy machine dearly); the interval flush deletes what is left of
processes the state no longer knows.

The map is read as it is now, while the state only knows the events read so far: the ring may
still hold the open (or the fork) that gave an fd its meaning. So an interval flush hands out
only the entries created (`born`, CLOCK_MONOTONIC) before the events already processed, less
RING_LAG_S; a younger entry waits for a later flush (or its close, exit or the end).

`KernelAggregator` does this as the dispatcher's first handler, ticking on the chisels' interval
(`flush_interval_ns`), so a chisel's tick sees the totals flushed just before it.
"""

import math
import struct
import time
from typing import NamedTuple

from chisel.plugins.api import IoTotals

from .probes import FD_TOTALS_PARAMS, IO_TOTALS_MAP

FLUSH_INTERVAL_S = 1.0  # when no chisel ticks: reads of the whole map cost a syscall per entry
# Map reads a (tgid, fd, born) may stay unseen before its last value is forgotten. An entry leaves
# the map at its close; the close record, in the ring, may reach us a little later and still
# needs the last value. Only a close record lost to a full ring leaves an entry unclaimed.
FORGET_AFTER_FLUSHES = 100
# How far the ring may lag behind the kernel when the run is idle and a tick follows the clock:
# the engine drains it every 5 ms. Event-driven ticks are exact; this only delays young entries.
RING_LAG_S = 0.05

_KEY = struct.Struct("<IIII")  # struct iokey_t: tgid, fd, gen, padding
_VALUE = struct.Struct("<QQQQQ")  # struct iototal_t
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


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


class Entry(NamedTuple):
    """One `io_totals` map entry, parsed."""

    tgid: int
    fd: int
    gen: int
    born: int
    values: Counters


def entry_key(tgid, fd, gen):
    """The raw `io_totals` key of (tgid, fd, gen)."""
    return _KEY.pack(tgid, fd, gen, 0)


def flush_interval_ns(chisel_intervals_ns):
    """How often to read the map: the largest period every chisel interval is a multiple of (so
    every tick of every chisel has a flush just before it), FLUSH_INTERVAL_S when none ticks."""
    intervals = [int(i) for i in chisel_intervals_ns if i]
    return math.gcd(*intervals) if intervals else int(FLUSH_INTERVAL_S * 1e9)


def parse_entry(key, value):
    """The `Entry` of one raw `io_totals` map entry."""
    tgid, fd, gen, _pad = _KEY.unpack(key)
    bytes_in, bytes_out, ops_in, ops_out, born = _VALUE.unpack(value)
    return Entry(tgid, fd, gen, born, Counters(bytes_in, bytes_out, ops_in, ops_out))


def closed_fd_totals(ev):
    """(fd, born, Counters) an aggregating run's close/dup enter event carries, or None.

    None too when the event carries none (not aggregating) or the fd had no entry (born 0).
    """
    raw = ev.raw
    if len(raw) < 1 + FD_TOTALS_PARAMS:
        return None
    bytes_in, bytes_out, ops_in, ops_out, born = (_U64.unpack(v)[0] for v in raw[1 - FD_TOTALS_PARAMS:])
    if not born:
        return None
    return _I64.unpack(raw[-FD_TOTALS_PARAMS])[0], born, Counters(bytes_in, bytes_out, ops_in, ops_out)


class DeltaTracker:
    """The last cumulative value seen per (tgid, fd, born), and what changed since.

    Pure bookkeeping, no map access: `scan` takes parsed map entries, `closed` a close record.
    """

    def __init__(self, forget_after=FORGET_AFTER_FLUSHES):
        self.forget_after = forget_after
        self._seen = {}  # (tgid, fd, gen, born) -> Counters
        self._unseen_for = {}  # (tgid, fd, gen, born) -> map reads it was missing from

    def scan(self, entries):
        """[(tgid, fd, delta)] for the `Entry`s that changed; the others are aged."""
        changed = []
        present = set()
        for entry in entries:
            key = entry[:4]
            present.add(key)
            delta = entry.values.minus(self._seen.get(key, ZERO))
            if not delta.empty:
                changed.append((entry.tgid, entry.fd, delta))
                self._seen[key] = entry.values
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

    def closed(self, tgid, fd, gen, born, final):
        """What an entry's final values add to what was already handed out; forgets the entry."""
        key = (tgid, fd, gen, born)
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

    `io_map`: the `io_totals` map (raw bytes: `items()`, `lookup(key)`, `delete(key)`); `state`:
    the run's `State`, which resolves a (tgid, fd) to its thread and `FdInfo`; `deliver(records)`
    passes a non-empty list of `IoTotals` to the chisels. It subscribes to close and dup (the final
    totals of the fd they close), execve (a new generation) and procexit (the end of a process's
    fds), and ticks on the chisels' interval (see `flush_interval_ns`).
    """

    events = frozenset({"close", "dup", "execve", "execveat", "procexit"})
    name = "kernel-aggregation"

    def __init__(self, io_map, state, deliver, tracker=None, boot_offset_ns=None):
        self.io_map = io_map
        self.state = state
        self.deliver = deliver
        self.tracker = tracker if tracker is not None else DeltaTracker()
        self.generation = {}  # tgid -> execve enters seen: the kernel's generation, in event order
        self.last_ts = None
        # event time = CLOCK_MONOTONIC + this, as the live decoder computes it
        self.boot_offset_ns = boot_offset_ns if boot_offset_ns is not None else (
            time.time_ns() - time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        self.horizon_ns = 0  # entries born (in event time) after this wait for a later flush

    # -- the handler interface the dispatcher calls -----------------------------------------------

    def on_event(self, ev):
        self.last_ts = ev.ts
        thread = ev.thread
        if ev.info.dir != ">" or thread is None:
            return
        name = ev.info.name
        if name in ("close", "dup"):
            self._fd_closed(ev, thread.pid)
        elif name == "procexit":
            if thread.tid == thread.pid:
                self.flush_process(thread.pid, ev.ts, exiting=True)
                self.generation.pop(thread.pid, None)
        else:  # execve, execveat: before the state drops the close-on-exec fds
            self.flush_process(thread.pid, ev.ts, exiting=False)
            self.generation[thread.pid] = self.generation.get(thread.pid, 0) + 1

    def on_interval(self, now_ns, delta_ns):
        self.horizon_ns = max(self.horizon_ns, now_ns - int(RING_LAG_S * 1e9))
        self.flush(now_ns, self.horizon_ns)

    def on_end(self, summary):
        # every event is read by now: nothing in the map can wait for one
        self.flush(summary.last_ts if summary.last_ts is not None else self.last_ts or time.time_ns())

    # -- flushing ---------------------------------------------------------------------------------

    def flush(self, ts, horizon_ns=None):
        """Hand out what every fd added since the last flush: entries of generations whose execve
        was seen, born before `horizon_ns` (event time; None: all)."""
        generation = self.generation
        youngest = None if horizon_ns is None else horizon_ns - self.boot_offset_ns
        entries = []
        for key, value in self.io_map.items():
            entry = parse_entry(key, value)
            if entry.gen > generation.get(entry.tgid, 0) or (youngest is not None and entry.born > youngest):
                continue  # its execve, or the open that named its fd, is not read yet
            if self._main_thread(entry.tgid) is None:
                # a process gone from the state: its exit flush missed this fd (one the state
                # never knew); nobody can name it now, so free its slot
                self.io_map.delete(key)
                self.tracker.forget(entry[:4])
                continue
            entries.append(entry)
        self._deliver(ts, self.tracker.scan(entries))

    def flush_process(self, tgid, ts, exiting):
        """Hand out the last totals of a process's entries of its current generation and delete
        them: the process exited, or execve starts the next generation (older ones went at the
        previous execve). Entries born after `ts` belong to a later process reusing the pid."""
        thread = self._main_thread(tgid)
        if thread is None:
            return  # the interval flush frees its entries
        gen = self.generation.get(tgid, 0)
        youngest = ts - self.boot_offset_ns
        changed = []
        for fd in list(thread.fdtable):
            key = entry_key(tgid, fd, gen)
            value = self.io_map.lookup(key)
            if value is None:
                continue
            entry = parse_entry(key, value)
            if entry.born > youngest:
                continue
            delta = self.tracker.closed(*entry)
            if not delta.empty:
                changed.append((tgid, fd, delta))
            self.io_map.delete(key)
        self._deliver(ts, changed, closed=exiting)

    def _fd_closed(self, ev, tgid):
        carried = closed_fd_totals(ev)
        if carried is None:
            return
        fdnum, born, final = carried
        delta = self.tracker.closed(tgid, fdnum, self.generation.get(tgid, 0), born, final)
        if not delta.empty:
            thread = self._main_thread(tgid) or ev.thread
            self.deliver([IoTotals(ev.ts, thread, fdnum, thread.fdtable.get(fdnum), *delta, closed=True)])

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


def io_totals_map(source):
    """The live source's `io_totals` map (raw bytes keys and values)."""
    return source.maps[IO_TOTALS_MAP]


def aggregates(source):
    """Whether `source` runs an aggregating plan (a stand-in source without a plan does not)."""
    plan = getattr(source, "plan", None)
    return bool(getattr(plan, "aggregate_io", False))

