#!/usr/bin/env python3
"""Tracer overhead benchmark for chisel and its peers; prints tables of ratios.

    sudo python bench/run.py            # medians of 5 interleaved runs (a few minutes)
    sudo python bench/run.py --quick    # every scenario once, tiny counts (CI smoke, < 60 s)

Ratios are traced loop time / untraced loop time for the same workload size, medians of N runs
measured side by side: every round runs every scenario once, so drift in the machine's speed
hits all scenarios alike. A scenario that cannot run here is reported as 'n/a (reason)'.
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import tempfile

import harness
import scenarios
from harness import Unavailable


SECTIONS = ("overhead", "streaming", "replay", "startup", "memory")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="run every scenario once with tiny counts (CI smoke mode)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per scenario, the median is reported (default 5, quick 1)")
    parser.add_argument("--only", choices=SECTIONS,
                        action="append", help="run only these sections (repeatable)")
    parser.add_argument("--tracer", action="append", metavar="TEXT",
                        help="overhead: only the tracers whose name contains TEXT (repeatable), for A/B runs")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    sections = [s for s in SECTIONS if not args.only or s in args.only]
    bench = Bench(quick=args.quick, runs=runs, tracers=args.tracer)
    try:
        bench.binary = harness.build_workload()
    except Unavailable as why:
        print(f"bench: cannot build the workload: {why}", file=sys.stderr)
        return 1
    # SIGTERM unwinds like Ctrl-C, so a running tracer is stopped rather than orphaned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"chisel benchmark: {'quick' if args.quick else 'full'} mode, {runs} run(s) per "
          f"scenario, {os.cpu_count()} CPUs, kernel {os.uname().release}, {_load()}")
    bench.private_binary = harness.private_workload(bench.binary)
    try:
        for section in sections:
            getattr(bench, section)()
    finally:
        os.unlink(bench.private_binary)
    # Other work on the machine skews every ratio; say how busy it was.
    print(f"\nfinished; {_load()}")
    return 0


def _load():
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


class Bench:
    """Runs the sections and prints one table per section."""

    def __init__(self, quick, runs, tracers=None):
        self.quick, self.runs, self.tracers = quick, runs, tracers
        self.timeout = 60 if quick else 600
        # BPF tools compile with clang at start: on a loaded 2-core machine that alone can pass 20 s.
        self.ready_timeout = 60
        self.binary = None
        self.private_binary = None  # the workload under a name only this run uses (proc.name filters)

    # -- overhead: traced / untraced on the same loop ------------------------------------------

    def overhead(self):
        rows = [row for row in scenarios.OVERHEAD
                if not (self.quick and row[1] in scenarios.SKIPPED_WHEN_QUICK)
                and (not self.tracers or any(text in row[1].name for text in self.tracers))]
        baselines = sorted({w for w, _, _ in rows}, key=_workload_key)
        jobs = [(w, None, "baseline") for w in baselines] + rows
        samples = {i: [] for i in range(len(jobs))}
        failures = {}
        for _ in range(self.runs):
            for i, (workload, tracer, _note) in enumerate(jobs):
                if i not in failures:
                    try:
                        samples[i].append(self._run_once(workload, tracer))
                    except Unavailable as why:
                        failures[i] = str(why)
        base = {jobs[i][0]: _Summary(samples[i]) for i in range(len(baselines)) if samples[i]}
        print("\n== Overhead: workload loop traced / untraced ==")
        print("RATIO: median wall time; MIN: best wall time (least disturbed by other load); "
              "CPU: median CPU time of the workload (BPF runs in it; strace's cost is not CPU)")
        table = [("WORKLOAD", "TRACER", "LOOP(ms)", "SYSCALLS/s", "RATIO", "MIN", "CPU", "NOTE")]
        for i, (workload, tracer, note) in enumerate(jobs):
            label = f"{workload.mode} x{workload.count(self.quick)}"
            name = tracer.name if tracer else "untraced"
            if i in failures or not samples[i]:
                table.append((label, name, "", "", "n/a", "", "", f"({failures.get(i, 'no runs')})"))
                continue
            ours = _Summary(samples[i])
            if ours.killed:
                note += f" (needed SIGKILL after SIGINT in {ours.killed} run(s))"
            ref = base.get(workload)
            ratios = (("n/a",) * 3 if ref is None else
                      (f"{ours.wall / ref.wall:.2f}x", f"{ours.best_wall / ref.best_wall:.2f}x",
                       f"{ours.cpu / ref.cpu:.2f}x"))
            table.append((label, name, f"{ours.wall / 1e6:.1f}",
                          _si(ours.syscalls / (ours.wall / 1e9)), *ratios, note))
        _print_table(table)

    def _run_once(self, workload, tracer):
        argv = harness.workload_argv(self.binary, workload.mode, workload.count(self.quick))
        if tracer is None:
            elapsed, syscalls, cpu = harness.run_untraced(argv, self.timeout)
            return elapsed, cpu, syscalls, False
        run = harness.run_traced(tracer, argv, self.timeout, self.ready_timeout)
        return run.elapsed_ns, run.cpu_ns, run.syscalls, run.tracer_killed

    # -- streaming: chisel -j at rising offered rates, then held for a while ------------------

    def streaming(self):
        binary = self.private_binary
        tracer = scenarios.chisel_json(os.path.basename(binary))
        print(f"\n== Streaming: chisel -j proc.name={os.path.basename(binary)} > /dev/null, "
              "rw loop paced ==")
        print("CATCH-UP: seconds chisel kept working after the loop ended (0.5 = none: one idle check)")
        rates = scenarios.STREAM_RATES_QUICK if self.quick else scenarios.STREAM_RATES
        seconds = scenarios.STREAM_SECONDS_QUICK if self.quick else scenarios.STREAM_SECONDS
        table = [("OFFERED ev/s", "ACHIEVED ev/s", "DROPS", "CATCH-UP(s)", "RESULT")]
        best = None
        for rate in rates:
            row = self._stream(tracer, rate, seconds)
            table.append(row[:1] + row[2:])
            if row[-1].startswith("n/a"):
                break
            if row[3] == "0":
                best = rate
        _print_table(table)
        if best is not None:
            print(f"highest offered rate with zero drops: {_si(best)} events/s (goal >= 300k)")
        self._sustained_streaming(tracer)

    def _sustained_streaming(self, tracer):
        """The rates around the goal held long enough that the ring cannot hide a consumer
        falling behind: a 16 MiB ring absorbs a 2-second burst, not a 10-second one, and a
        backlog still counts against the run through its catch-up time."""
        rates = scenarios.STREAM_SUSTAINED_RATES_QUICK if self.quick else scenarios.STREAM_SUSTAINED_RATES
        seconds = (scenarios.STREAM_SUSTAINED_SECONDS_QUICK if self.quick
                   else scenarios.STREAM_SUSTAINED_SECONDS)
        limit = scenarios.SUSTAINED_MAX_CATCH_UP_S
        print(f"\nSustained: each rate held {seconds:g} s; sustained = zero drops and a catch-up "
              f"of at most {limit:g} s")
        table = [("OFFERED ev/s", "SECONDS", "ACHIEVED ev/s", "DROPS", "CATCH-UP(s)", "RESULT")]
        best = None
        for rate in rates:
            row = self._stream(tracer, rate, seconds, catch_up_limit=limit)
            table.append(row)
            if row[-1].startswith("n/a"):
                break
            if row[-1] == "sustained":
                best = rate
        _print_table(table)
        verdict = f"{_si(best)} events/s" if best is not None else "none of the rates"
        print(f"highest rate sustained for {seconds:g} s: {verdict} (goal >= 300k)")

    def _stream(self, tracer, rate, seconds, catch_up_limit=None):
        """One paced rw loop under `chisel -j`: a table row (offered, seconds, achieved, drops,
        catch-up, verdict). Without `catch_up_limit` the verdict is 'ok' or 'drops'; with it,
        'sustained', 'backlog' (zero drops, but chisel needed longer than that to catch up)
        or 'drops'."""
        per_iteration = scenarios.EVENTS_PER_RW_ITERATION
        iterations = int(rate / per_iteration * seconds)
        argv = harness.workload_argv(self.private_binary, "rw", iterations, rate // per_iteration)
        try:
            run = harness.run_traced(tracer, argv, self.timeout, self.ready_timeout)
        except Unavailable as why:
            return (_si(rate), f"{seconds:g}", "", "", "", f"n/a ({why})")
        achieved = run.syscalls * 2 / (run.elapsed_ns / 1e9)
        drops = _drops(run.tracer_stderr) or 0  # chisel prints 'N events dropped' only when N > 0
        if drops:
            verdict = "drops"
        elif catch_up_limit is None:
            verdict = "ok"
        else:
            verdict = "sustained" if run.drain_s <= catch_up_limit else "backlog"
        return (_si(rate), f"{seconds:g}", _si(achieved), str(drops), f"{run.drain_s:.1f}", verdict)

    # -- replay: chisel -r vs sysdig -r on the same file ---------------------------------------

    def replay(self):
        print("\n== Replay: chisel -r FILE vs sysdig -r FILE > /dev/null ==")
        capture, origin = self._replay_capture()
        table = [("TOOL", "WALL(s)", "EVENTS/s", "RATIO vs sysdig", "CPU(s)", "CPU RATIO", "NOTE")]
        events = self._count_events(capture)
        walls, cpus = {}, {}
        for name, argv in (("sysdig -r", [scenarios.SYSDIG, "-r", capture]),
                           ("chisel -r", [scenarios.CHISEL, "-r", capture])):
            try:
                samples = [harness.measure_command(argv, self.timeout) for _ in range(self.runs)]
            except Unavailable as why:
                table.append((name, "n/a", "", "", "", "", f"({why})"))
                continue
            walls[name] = statistics.median(s[0] for s in samples)
            cpus[name] = statistics.median(s[1] for s in samples)
        for name, wall in walls.items():
            rate = _si(events / wall) if events else "?"
            ratio, cpu_ratio = (
                (f"{wall / walls['sysdig -r']:.2f}x", f"{cpus[name] / cpus['sysdig -r']:.2f}x")
                if "sysdig -r" in walls else ("n/a", "n/a"))
            note = "goal: >= 150k ev/s, <= 2x sysdig" if name == "chisel -r" else ""
            table.append((name, f"{wall:.3f}", rate, ratio, f"{cpus[name]:.3f}", cpu_ratio, note))
        print(f"capture: {capture} ({events or '?'} events; {origin})")
        print("medians; CPU: user + system time of the command (less disturbed by other load)")
        _print_table(table)

    def _replay_capture(self):
        """A capture written by `chisel -w` of >= 1 M events; the bundled sample if -w fails."""
        if self.quick:
            return scenarios.FALLBACK_CAPTURE, "bundled sample (quick mode)"
        path = os.path.join(harness.BUILD_DIR, "replay.scap")
        binary = self.private_binary
        writer = scenarios.chisel_writer(path, os.path.basename(binary))
        # Paced below the streaming limit, so the file holds the events rather than drops.
        argv = harness.workload_argv(binary, "rw", scenarios.REPLAY_ITERATIONS,
                                     scenarios.REPLAY_RATE // scenarios.EVENTS_PER_RW_ITERATION)
        try:
            run = harness.run_traced(writer, argv, self.timeout, self.ready_timeout)
            if not os.path.exists(path) or os.path.getsize(path) == 0:
                raise Unavailable("chisel -w wrote nothing")
        except Unavailable as why:
            return scenarios.FALLBACK_CAPTURE, f"bundled sample: chisel -w unavailable: {why}"
        drops = _drops(run.tracer_stderr) or 0
        offered = run.syscalls * 2
        return path, (f"written by chisel -w over the rw loop paced at "
                      f"{_si(scenarios.REPLAY_RATE)} ev/s: {offered} offered, {drops} dropped while "
                      f"writing, {run.drain_s:.1f} s to catch up after the loop")

    def _count_events(self, capture):
        """Events in the capture, counted by sysdig's default output (one line per event)."""
        with tempfile.TemporaryFile() as out:
            try:
                harness.time_command([scenarios.SYSDIG, "-r", capture, "-p", "%evt.num"],
                                     self.timeout, stdout=out)
            except Unavailable:
                return None
            out.seek(0)
            return sum(1 for _ in out)

    # -- start-up ------------------------------------------------------------------------------

    def startup(self):
        print("\n== Start-up ==")
        table = [("COMMAND", "WALL(s)", "NOTE")]
        try:
            wall = statistics.median(harness.time_command([scenarios.CHISEL, "--list"],
                                                          self.timeout)
                                     for _ in range(self.runs))
            table.append(("chisel --list", f"{wall:.3f}", "goal: < 0.3 s"))
        except Unavailable as why:
            table.append(("chisel --list", "n/a", f"({why})"))
        # A first run warms the compiled-program cache; the cached rows are what every later start
        # of the same probe plan pays, the uncached rows what the first start of a new plan pays.
        for label, tracer, note in (
                ("chisel topfiles until 'Tracing'", scenarios.CHISEL_TOPFILES, "goal: < 1.5 s (cached program)"),
                ("  same, cache off (compiles)", scenarios.CHISEL_TOPFILES_UNCACHED, "first start of a new plan")):
            try:
                runs = [harness.time_start_and_stop(tracer, self.ready_timeout) for _ in range(self.runs)]
                table.append((label, f"{statistics.median(r[0] for r in runs):.3f}", note))
                if tracer is scenarios.CHISEL_TOPFILES:
                    stop = statistics.median(r[1] for r in runs)
                    table.append(("  same, SIGINT to exit", f"{stop:.3f}",
                                  "the kernel's detach finishes in a child after the exit"))
            except Unavailable as why:
                table.append((label, "n/a", f"({why})"))
        table.extend(self._live_startup_breakdown())
        _print_table(table)

    def _live_startup_breakdown(self):
        """Where a live start spends its time: the engine's own timings of a topfiles-sized
        probe set (cache lookup, compile on a miss, load + attach, /proc scan), median over the runs."""
        python = os.path.join(harness.REPO, ".venv", "bin", "python")
        steps = {}
        for _ in range(self.runs):
            try:
                out = harness.run_command_output([python, "-c", LIVE_TIMINGS], self.timeout)
            except Unavailable as why:
                return [("  live engine steps", "n/a", f"({why})")]
            for step, seconds in json.loads(out.splitlines()[-1]).items():
                steps.setdefault(step, []).append(seconds)
        return [(f"  engine: {step}", f"{statistics.median(values):.3f}", "")
                for step, values in steps.items()]

    # -- memory: resident set of a live chisel after a busy minute ------------------------------

    def memory(self):
        seconds = scenarios.MEMORY_SECONDS_QUICK if self.quick else scenarios.MEMORY_SECONDS
        print(f"\n== Memory: chisel topfiles resident set after {seconds:g} s of open/close ==")
        # openclose makes every event one topfiles subscribes to; paced so it lasts `seconds`.
        rate = scenarios.MEMORY_RATE
        argv = harness.workload_argv(self.binary, "openclose", int(rate * seconds), rate)
        table = [("TRACER", "VmRSS(MB)", "VmHWM(MB)", "NOTE")]
        try:
            with harness.BackgroundTracer(scenarios.CHISEL_TOPFILES, self.ready_timeout) as bg:
                harness.run_untraced(argv, self.timeout + seconds)
                rss, hwm = harness.resident_mb(bg.proc.pid)
            table.append(("chisel topfiles", f"{rss:.1f}", f"{hwm:.1f}", "goal: < 150 MB"))
        except Unavailable as why:
            table.append(("chisel topfiles", "n/a", "", f"({why})"))
        _print_table(table)


# Runs in a fresh interpreter, as the CLI starts. The capture process never imports bcc: a cached
# program is loaded directly; a miss compiles in a child ('compile').
LIVE_TIMINGS = """
import json, time
started = time.monotonic()
from chisel.core.live.engine import LiveSource
source = LiveSource(event_types={"read", "write", "readv", "writev", "pread64", "pwrite64"})
source.timings["total"] = time.monotonic() - started
print(json.dumps(source.timings))
source.close()
"""


class _Summary:
    """Medians (and the best wall time) of one scenario's samples (wall, cpu, syscalls, killed)."""

    def __init__(self, samples):
        self.wall = statistics.median(s[0] for s in samples)
        self.best_wall = min(s[0] for s in samples)
        self.cpu = statistics.median(s[1] for s in samples)
        self.syscalls = samples[0][2]
        self.killed = sum(s[3] for s in samples)


def _drops(stderr):
    """The count from a 'N events dropped' line, or None when there is none."""
    match = re.search(r"(\d+) events? dropped", stderr)
    return int(match.group(1)) if match else None


def _workload_key(workload):
    return (workload.mode, workload.iterations)


def _si(value):
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.2f}{suffix}"
    return f"{value:.0f}"


def _print_table(rows):
    """Left-aligned columns sized to their content; the last column is never padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        print("  ".join(cells).rstrip())


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the running tracer was already stopped
        sys.exit(130)
