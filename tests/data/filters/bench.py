#!/usr/bin/env python3
"""Measure what a compiled filter costs next to replay (reader + state) on a real capture.

Usage: tests/data/filters/bench.py [CAPTURE] [REPEATS], CAPTURE a name in tests/data/scap
(default libs_sample) or a path ending in .scap. Prints CPU ns per event for the
replay alone, and for each benchmark filter the extra ns per event of `match` (field extraction
included, since Event caches fields per event and a fresh replay starts with empty caches), for
the generated code (the default) and for the closure tree (`specialize=False`).

A second, steadier figure times `match` alone over the first 100 000 events of one replay, kept
in memory with their state attached (field caches emptied before each pass), against the same
loop without `match`.
"""

import sys
import time
from itertools import islice
from pathlib import Path

from chisel.core.fields import registry
from chisel.core.filter import compile_filter
from chisel.core.scap_reader import ScapReader
from chisel.core.state import State

SCAP = Path(__file__).resolve().parents[1] / "scap"

FILTERS = {
    # Ten checks that are all true on almost every event, so none is skipped by short-circuiting.
    "10 checks, all evaluated": (
        "proc.name exists and evt.num > 0 and evt.type != nosuch and evt.dir exists and "
        "proc.pid > 0 and thread.tid > 0 and evt.cpu >= 0 and not proc.name = zzz and "
        "proc.name != zzz2 and evt.num < 100000000"),
    # A typical selective filter: the first check rejects most events.
    "10 checks, typical": (
        "evt.type in (read, write, open, openat, close) and evt.dir = '<' and fd.typechar = f "
        "and fd.name exists and not fd.name contains /proc and evt.rawres >= 0 and proc.pid > 0 "
        "and thread.tid > 0 and user.uid >= 0 and proc.name != nosuch"),
}


def replay(path, flt=None):
    """(events, seconds) for one replay, matching `flt` on every event when given."""
    reader = ScapReader(str(path))
    state = State(reader.snapshot)
    registry().bind_state(state, snapshot=reader.snapshot)  # as the session does
    match = flt.match if flt is not None else None
    n = 0
    start = time.process_time()
    for ev in reader.events():
        state.process(ev)
        if match is not None:
            match(ev)
        n += 1
    elapsed = time.process_time() - start
    reader.close()
    return n, elapsed


MATCH_ALONE_EVENTS = 100_000


def replayed_events(path, limit):
    """The first `limit` events of a replay, each with the thread and fd state attached to it."""
    reader = ScapReader(str(path))
    state = State(reader.snapshot)
    registry().bind_state(state, snapshot=reader.snapshot)
    events = []
    for ev in islice(reader.events(), limit):
        state.process(ev)
        events.append(ev)
    reader.close()
    return events


def match_pass(events, flt):
    """CPU seconds of one pass of `flt.match` (None: the bare loop) over `events`."""
    match = flt.match if flt is not None else None
    start = time.process_time()
    if match is None:
        for ev in events:
            ev._cache = None
    else:
        for ev in events:
            ev._cache = None
            match(ev)
    return time.process_time() - start


def match_alone(path, configs, repeats):
    events = replayed_events(path, MATCH_ALONE_EVENTS)
    best = {}
    for _ in range(repeats):
        for label, flt in configs.items():
            elapsed = match_pass(events, flt)
            best[label] = min(best.get(label, elapsed), elapsed)
    base = best.pop("replay")
    n = len(events)
    print(f"match alone over {n} events (bare loop {base / n * 1e9:.0f} ns/event):")
    for label, elapsed in best.items():
        print(f"  {label}: {(elapsed - base) / n * 1e9:.0f} ns/event")


def main():
    args = sys.argv[1:]
    name = args[0] if args else "libs_sample"
    repeats = int(args[1]) if len(args) > 1 else 5
    path = Path(name) if name.endswith((".scap", ".scap.gz")) else SCAP / f"{name}.scap"
    # Each round replays once per configuration, so drift in machine speed (the machine is
    # shared) hits all of them alike; the best time of each is kept. Filters are compiled
    # before timing: the specialized filter's first sight of each event type (a compile() per
    # distinct residual filter) falls in the first round only, and is printed apart.
    configs = {"replay": None}
    first_sight = {}
    for label, text in FILTERS.items():
        configs[label] = compile_filter(text)
        configs[f"{label} [closures]"] = compile_filter(text, specialize=False)
    best = {}
    for _ in range(repeats):
        for label, flt in configs.items():
            n, elapsed = replay(path, flt)
            if label not in best:
                first_sight[label] = elapsed
            best[label] = min(best.get(label, elapsed), elapsed)
    base = best.pop("replay")
    print(f"{path.stem}: {n} events, replay {base / n * 1e9:.0f} ns/event (best of {repeats})")
    for label, elapsed in best.items():
        extra = elapsed - base
        first = first_sight[label] - elapsed
        print(f"{label}: +{extra / n * 1e9:.0f} ns/event = {100 * extra / base:.1f}% of replay"
              f" (first round +{first * 1e3:.1f} ms)")
    match_alone(path, configs, repeats)


if __name__ == "__main__":
    main()
