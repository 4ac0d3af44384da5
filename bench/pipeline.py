#!/usr/bin/env python3
"""CPU cost per event of each stage a replay or a live `-j`/`-w` run goes through, on one capture.

    .venv/bin/python bench/pipeline.py FILE [--runs 5] [--limit 500000]

Stages, each timed on its own over the same events (CPU time of this process, best of --runs, so
other load on the machine matters less than in wall-clock runs):
  read     ScapReader.events() over the file
  state    State.process on every event
  default  the default event line (DefaultFormatter, what `chisel -r FILE` prints)
  json     the -j record (JsonFormatter)
  write    ScapWriter.write of every event to /dev/null-like storage (a temp file)
  decode   the live decoder over the events turned back into ring records, in a ring in memory
           (records located and decoded in place, DECODE_CHUNK at a time, as live)
  drain    the ring reader alone locating those records
  live-j   the live `chisel -j proc.name=COMM` steps after the kernel: ring drain, decode,
           state, filter, the -j line, written to /dev/null (`LiveSource.events` over that ring;
           COMM is the capture's busiest process)
  session-j  the same through the real CLI and session loop (`chisel -j proc.name=COMM`, its
           live engine swapped for that ring): what one core can sustain, less the kernel's part
Prints microseconds per event and the events/s that one stage alone would allow.
"""

import argparse
import collections
import io
import mmap
import os
import struct
import sys
import tempfile
import time

from chisel.core import cli
from chisel.core.filter.compile import compile_filter
from chisel.core.live import engine
from chisel.core.live.decode import Decoder
from chisel.core.live.engine import DECODE_CHUNK, LiveSource
from chisel.core.live.ringbuf import RingReader
from chisel.core.output import DefaultFormatter, EventPrinter, JsonFormatter
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter
from chisel.core.state import State

_RING_HEADER = struct.Struct("<QIHHII")


def _read(path, limit):
    reader = ScapReader(path)
    events = []
    for ev in reader.events():
        events.append(ev)
        if len(events) >= limit:
            break
    reader.close()
    return reader.snapshot, events


def _best(fn, runs):
    best = None
    for _ in range(runs):
        started = time.process_time()
        fn()
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    return best


def _ring_records(events):
    """The events as the kernel's ring records: header, u16 lengths, values (live decoder input)."""
    records = []
    for ev in events:
        lengths = struct.pack(f"<{len(ev.raw)}H", *map(len, ev.raw)) if ev.raw else b""
        if any(len(v) > 0xFFFF for v in ev.raw):
            continue
        records.append(_RING_HEADER.pack(ev.ts, ev.tid, ev.type, len(ev.raw), ev.cpu, 0) + lengths
                       + b"".join(ev.raw))
    return records


def _ring_over(records):
    """A ring in memory holding `records` as the kernel lays them out: (consumer page, producer
    mapping, data size). The caller rewinds the consumer position to read it again."""
    body = bytearray()
    for rec in records:
        body += struct.pack("<II", len(rec), 0) + rec
        body += bytes(-len(body) % 8)
    size = 1 << max(12, (len(body) - 1).bit_length())
    producer = mmap.mmap(-1, mmap.PAGESIZE + 2 * size)  # slices of an mmap are bytes, as live
    producer[mmap.PAGESIZE:mmap.PAGESIZE + len(body)] = body
    struct.pack_into("<Q", producer, 0, len(body))
    return bytearray(mmap.PAGESIZE), producer, size


def _live_source_over(consumer, producer, size, snapshot):
    """A `LiveSource` whose kernel side is the ring in memory: `events()` drains it once and ends."""
    source = LiveSource.__new__(LiveSource)
    source._reader = RingReader.over_buffers(consumer, producer, size)
    source._decoder = Decoder(0, snapshot)
    source._child = None
    source._stopping = True  # one pass over what the "kernel" wrote, then the end
    return source


class _RingSession:
    """Stands in for `LiveSource` while the CLI runs: the live source contract over a ring in
    memory, read once from its start."""

    live = True

    def __init__(self, consumer, producer, size, snapshot):
        struct.pack_into("<Q", consumer, 0, 0)
        self._source = _live_source_over(consumer, producer, size, snapshot)
        self.snapshot, self.warnings, self.drops, self.child_exit_code = snapshot, [], 0, None

    def events(self):
        return self._source.events()

    def stop(self):
        pass

    def close(self):
        pass


def _busiest_comm(events):
    comms = collections.Counter(ev.thread.comm for ev in events if ev.thread is not None)
    return comms.most_common(1)[0][0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=500_000, help="events used (from the start)")
    parser.add_argument("--only", action="append", help="run only this stage (repeatable)")
    args = parser.parse_args(argv)
    snapshot, events = _read(args.capture, args.limit)
    n = len(events)

    def read():
        reader = ScapReader(args.capture)
        count = 0
        for _ev in reader.events():
            count += 1
            if count >= n:
                break
        reader.close()

    def state():
        process = State(snapshot).process
        for ev in events:
            process(ev)

    state()  # the formatters below need thread and fd resolved, as in a real run

    def formatter(make):
        def run():
            fmt = make().format
            for ev in events:
                fmt(ev)
        return run

    def write():
        with tempfile.TemporaryDirectory() as tmp:
            with ScapWriter(os.path.join(tmp, "out.scap"), snapshot) as writer:
                put = writer.write
                for ev in events:
                    put(ev)

    records = _ring_records(events)

    consumer, producer, size = _ring_over(records)

    def decode():
        # as LiveSource.events reads the ring: records located, decoded in place, chunk by chunk
        struct.pack_into("<Q", consumer, 0, 0)
        reader = RingReader.over_buffers(consumer, producer, size)
        decoder = Decoder(0)
        while True:
            chunk = reader.records(DECODE_CHUNK)
            if not chunk:
                break
            decoder.decode_ring_records(producer, chunk)
            reader.commit()

    def drain():
        struct.pack_into("<Q", consumer, 0, 0)
        reader = RingReader.over_buffers(consumer, producer, size)
        while reader.records(DECODE_CHUNK):
            reader.commit()

    comm = _busiest_comm(events)
    live_filter = compile_filter(f"proc.name={comm}")

    def live_json():
        # the session loop's steps for a live -j run (core/session.py Session._loop)
        struct.pack_into("<Q", consumer, 0, 0)
        source = _live_source_over(consumer, producer, size, snapshot)
        live_state = State(snapshot)
        process = live_state.process
        match = live_filter.match
        with open(os.devnull, "w") as devnull:
            printer = EventPrinter(JsonFormatter(state=live_state), devnull)
            print_event = printer.print
            for ev in source.events():
                process(ev)
                if match(ev):
                    print_event(ev)
            printer.flush()

    def session_json():
        real = engine.LiveSource
        engine.LiveSource = lambda **options: _RingSession(consumer, producer, size, snapshot)
        try:
            with open(os.devnull, "w") as devnull:
                cli.main(["-j", f"proc.name={comm}"], stdout=devnull, stderr=io.StringIO())
        finally:
            engine.LiveSource = real

    stages = (("read", read), ("state", state),
              ("default", formatter(lambda: DefaultFormatter(state=None))),
              ("json", formatter(lambda: JsonFormatter(state=None))),
              ("write", write), ("decode", decode), ("drain", drain), ("live-j", live_json),
              ("session-j", session_json))
    print(f"{n} events from {args.capture}; best CPU time of {args.runs} runs")
    print(f"{'STAGE':9}  {'us/event':>8}  {'events/s':>10}")
    for name, fn in stages:
        if args.only and name not in args.only:
            continue
        spent = _best(fn, args.runs)
        print(f"{name:9}  {spent / n * 1e6:8.3f}  {n / spent:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
