#!/usr/bin/env python3
"""Regenerate expected/CAPTURE.json: for each filter in filters.txt, the evt.num list sysdig prints.

Runs `TZ=UTC sysdig -r CAPTURE -p %evt.num FILTER` (sysdig 0.29.3 is the oracle). Lists are stored
as run-length ranges ("211-230 245") to keep the files small; a filter sysdig rejects is stored as
"error: MESSAGE". Usage: tests/data/filters/regen.py [CAPTURE_NAME ...]
"""

import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCAP = HERE.parent / "scap"


def filters():
    lines = (HERE / "filters.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def ranges(nums):
    out, start, prev = [], None, None
    for n in nums:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return " ".join(out)


# Filters sysdig 0.29 evaluates inconsistently with the values it prints: for each, the events
# whose printed FIELD value passes the comparison are stored under "display: FILTER" too, and the
# oracle test expects those (tests/data/README.md says why).
DISPLAY_CHECKS = {
    "evt.buflen > 100": ("evt.buflen", lambda value: int(value) > 100),
}


def display_based(capture, field, keep):
    """evt.num ranges of the events whose printed `field` passes `keep` (-p skips absent ones)."""
    proc = subprocess.run(["sysdig", "-r", str(capture), "-p", f"%evt.num %{field}"],
                          capture_output=True, text=True, env={**os.environ, "TZ": "UTC"},
                          timeout=300, check=False)
    if proc.returncode != 0:
        return "error: " + (proc.stderr.strip() or "sysdig failed").splitlines()[0]
    rows = (line.split(None, 1) for line in proc.stdout.splitlines())
    return ranges(int(row[0]) for row in rows if len(row) == 2 and keep(row[1]))


def run(capture, flt):
    proc = subprocess.run(["sysdig", "-r", str(capture), "-p", "%evt.num", flt],
                          capture_output=True, text=True, env={**os.environ, "TZ": "UTC"},
                          timeout=300, check=False)
    lines = proc.stdout.split()
    if proc.returncode != 0 or not all(x.isdigit() for x in lines):
        return "error: " + (proc.stderr.strip() or proc.stdout.strip()).splitlines()[0]
    return ranges(int(x) for x in lines)


def main(names):
    captures = sorted(SCAP.glob("*.scap"))
    if names:
        captures = [c for c in captures if c.stem in names]
    out_dir = HERE / "expected"
    out_dir.mkdir(exist_ok=True)
    todo = filters()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for capture in captures:
            results = list(pool.map(lambda f, c=capture: run(c, f), todo))
            data = dict(zip(todo, results))
            for flt, (field, keep) in DISPLAY_CHECKS.items():
                data[f"display: {flt}"] = display_based(capture, field, keep)
            (out_dir / f"{capture.stem}.json").write_text(json.dumps(data, indent=0) + "\n")
            print(capture.stem, sum(1 for r in results if r.startswith("error")), "errors")


if __name__ == "__main__":
    main(sys.argv[1:])
