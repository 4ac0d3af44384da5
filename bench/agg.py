#!/usr/bin/env python3
"""What in-kernel aggregation saves: `chisel topfiles` over the rw loop, kernel totals vs one event per call.

    sudo .venv/bin/python bench/agg.py              # medians of 5 interleaved runs, rw x500000
    sudo .venv/bin/python bench/agg.py --quick      # once, rw x20000 (a smoke run)
    sudo .venv/bin/python bench/agg.py --runs 9 --iterations 1000000

Each round runs the workload untraced, under `chisel topfiles` (which adds reads and writes up in
the kernel) and under `chisel topfiles --no-kernel-agg` (every call goes through the ring buffer to
the chisel), so drift in the machine's speed hits the three alike. RATIO is the median loop wall
time traced / untraced, MIN the best wall time's ratio, CPU the median CPU time's ratio (the BPF
programs run in the workload's own context). syscount-bpfcc, bcc's in-kernel syscall counter, is
the floor for any in-kernel counting. /DEV/NULL is the byte total topfiles printed for
/dev/null in the last round: the rw loop writes one byte per iteration (reads of /dev/null return
0), plus whatever else on the machine wrote there meanwhile; DROPS the events chisel reported lost.
"""

import argparse
import json
import os
import re
import statistics
import sys

import harness
from harness import Tracer, Unavailable

CHISEL = os.path.join(harness.REPO, ".venv", "bin", "chisel")
# -j and a long interval: one table of totals at the end, which this script reads back
_TOPFILES = (CHISEL, "topfiles", "-j", "--top", "0", "--interval", "3600")
TRACERS = (
    Tracer("chisel topfiles (kernel totals)", _TOPFILES, ready=r"Tracing", settle=0.2),
    # the same totals with both tracepoints of every call (the A/B for exit-only programs)
    Tracer("chisel topfiles --enter-probes", (*_TOPFILES, "--enter-probes"), ready=r"Tracing", settle=0.2),
    Tracer("chisel topfiles --no-kernel-agg", (*_TOPFILES, "--no-kernel-agg"), ready=r"Tracing",
           settle=0.2),
    # the floor for counting in the kernel: one per-CPU array update per syscall, nothing saved
    Tracer("syscount-bpfcc (peer)", ("/usr/sbin/syscount-bpfcc",), ready=r"Tracing", settle=0.2),
)
TIMEOUT_S = 300
READY_TIMEOUT_S = 60


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--iterations", type=int, default=500_000, help="rw loop iterations")
    parser.add_argument("--quick", action="store_true", help="one round of 20000 iterations")
    opts = parser.parse_args(argv)
    runs, iterations = (1, 20_000) if opts.quick else (opts.runs, opts.iterations)
    try:
        workload = harness.workload_argv(harness.build_workload(), "rw", iterations)
    except Unavailable as exc:
        print(f"agg bench: n/a ({exc})", file=sys.stderr)
        return 1
    untraced, traced, failures, dev_null, drops = [], {t.name: [] for t in TRACERS}, {}, {}, {}
    for _ in range(runs):
        untraced.append(harness.run_untraced(workload, TIMEOUT_S))
        for tracer in TRACERS:
            try:
                run = harness.run_traced(tracer, workload, TIMEOUT_S, READY_TIMEOUT_S)
            except Unavailable as exc:
                failures[tracer.name] = str(exc)
                continue
            traced[tracer.name].append((run.elapsed_ns, run.syscalls, run.cpu_ns))
            dev_null[tracer.name] = _dev_null_bytes(run.tracer_stdout)
            found = re.search(r"(\d+) events dropped", run.tracer_stderr)
            drops[tracer.name] = int(found.group(1)) if found else 0
    print(f"kernel aggregation benchmark: rw x{iterations}, {runs} run(s), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{'TRACER':<34}{'LOOP(ms)':<10}{'RATIO':<8}{'MIN':<8}{'CPU':<8}{'/DEV/NULL':<11}DROPS")
    base_wall = statistics.median(r[0] for r in untraced)
    base_min = min(r[0] for r in untraced)
    base_cpu = statistics.median(r[2] for r in untraced)
    print(f"{'untraced':<34}{base_wall / 1e6:<10.1f}{'1.00x':<8}{'1.00x':<8}{'1.00x':<8}")
    for tracer in TRACERS:
        rows = traced[tracer.name]
        if not rows:
            print(f"{tracer.name:<34}n/a ({failures.get(tracer.name, 'no run')})")
            continue
        wall = statistics.median(r[0] for r in rows)
        best = min(r[0] for r in rows)
        cpu = statistics.median(r[2] for r in rows)
        print(f"{tracer.name:<34}{wall / 1e6:<10.1f}{wall / base_wall:<8.2f}{best / base_min:<8.2f}"
              f"{cpu / base_cpu:<8.2f}{dev_null.get(tracer.name)!s:<11}{drops.get(tracer.name)}")
    return 0


def _dev_null_bytes(stdout):
    """The /dev/null row of topfiles' last JSON table, or None."""
    decoder, pos, last = json.JSONDecoder(), 0, None
    text = stdout.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        try:
            last, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
    for name, value in (last or {}).get("data", ()):
        if name == "/dev/null":
            return value
    return None


if __name__ == "__main__":
    sys.exit(main())
