"""Soak: a live chisel under a sustained workload that keeps creating and destroying processes and fds.

    sudo .venv/bin/python bench/soak.py [--minutes 10] [--rate 40] [--json]

The workload (this script re-run as `_workload`) forks children that open files, pipes, sockets and
a thread, close half of them and exit with the rest open, while the parent opens, writes, reads and
closes temp files. `chisel --pid WORKLOAD tests/reliability/soak_probe.py` traces it; this harness
samples the chisel's VmRSS every `--sample-s` seconds, then stops the workload, lets it go idle,
stops the chisel with SIGINT and compares the state tables the probe prints with /proc.

Pass (exit 0) when:
- RSS after warm-up grows by less than 10% (largest later sample against the first after warm-up);
- the state keeps no thread of the workload's tree whose process is gone (no leaked threads), once
  its purge ran: like sysdig, the state keeps a main thread that exits before its other threads
  until a periodic purge (60 s by default, shortened to PURGE_S through the probe's test knob);
- the state's fd table of the (idle, still running) workload parent equals /proc/PID/fd;
- the chisel exits 0 with no traceback.
Exit 1 otherwise; the figures are printed either way (`--json` for the test).
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
PROBE = os.path.join(REPO, "tests", "reliability", "soak_probe.py")
BANNER = "Tracing... Ctrl-C to end."
RSS_GROWTH_LIMIT = 0.10
QUIET_S = 2.0  # idle time after the workload stops, so the last events drain before comparing
PURGE_S = 5.0  # the state's purge of gone threads, shortened (60 s by default) so the tail sees it


# -- the workload ---------------------------------------------------------------------------------

def _child_round(workdir, n):
    """One short-lived process: fds of every common kind, a thread, half closed, the rest left open."""
    paths = [os.path.join(workdir, f"c{os.getpid()}_{i}") for i in range(3)]
    fds = [os.open(p, os.O_CREAT | os.O_RDWR, 0o600) for p in paths]
    r, w = os.pipe()
    a, b = socket.socketpair()
    worker = threading.Thread(target=lambda: os.write(w, b"t" * 64))
    worker.start()
    worker.join()
    os.read(r, 64)
    for fd in fds:
        os.write(fd, b"soak" * 16)
    a.send(b"ping")
    b.recv(4)
    for p in paths:
        os.unlink(p)
    os.close(fds[0])
    os.close(r)
    a.close()
    os._exit(n % 3)  # fds[1:], w and b are left for the exit to close


def _parent_round(workdir):
    """The long-lived parent: open, write, read back and close a file, twenty times."""
    path = os.path.join(workdir, "parent")
    for _ in range(20):
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        os.write(fd, b"x" * 512)
        os.lseek(fd, 0, os.SEEK_SET)
        os.read(fd, 512)
        os.close(fd)


def run_workload(seconds, rate, tail_s):
    """Wait for 'go' on stdin, run `rate` rounds a second for `seconds`, then `tail_s` seconds of
    parent rounds only (events keep the state's clock, and so its purge, going), print 'done', idle."""
    if sys.stdin.readline().strip() != "go":
        return 1
    with tempfile.TemporaryDirectory(prefix="chisel-soak-") as workdir:
        rounds, wraps, last_pid, start = 0, 0, 0, time.monotonic()
        while time.monotonic() - start < seconds:
            pid = os.fork()
            if pid == 0:
                _child_round(workdir, rounds)
            wraps += pid < last_pid  # PIDs wrapped past pid_max: old PIDs are being reused
            last_pid = pid
            _parent_round(workdir)
            os.waitpid(pid, 0)
            rounds += 1
            ahead = start + rounds / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        tail_end = time.monotonic() + tail_s
        while time.monotonic() < tail_end:
            _parent_round(workdir)
            time.sleep(0.1)
        print(f"done {rounds} {wraps}", flush=True)
        sys.stdin.readline()  # idle, holding only its standard fds, until the harness closes stdin
    return 0


# -- the harness ----------------------------------------------------------------------------------

def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _live_tids():
    tids = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                tids.update(int(t) for t in os.listdir(f"/proc/{pid}/task"))
            except OSError:
                continue  # gone while we looked
    return tids


def _wait_banner(proc, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.strip() == BANNER:
                return
    raise RuntimeError(f"chisel did not start: {''.join(seen)!r}")


def soak(seconds, rate=40, warmup_s=120, sample_s=10, every_s=10):
    """Run one soak; a dict of figures and `ok`."""
    workload = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_workload",
                                 "--seconds", str(seconds), "--rate", str(rate),
                                 "--tail-s", str(PURGE_S + 2)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = tempfile.TemporaryFile(mode="w+")
    chisel = subprocess.Popen([CHISEL, "--pid", str(workload.pid), PROBE, "--every", str(every_s),
                               "--purge-s", str(PURGE_S)],
                              stdout=out, stderr=subprocess.PIPE, text=True)
    samples = []  # (seconds since start, VmRSS kB)
    try:
        _wait_banner(chisel)
        workload.stdin.write("go\n")
        workload.stdin.flush()
        start = time.monotonic()
        next_sample = start
        while workload.poll() is None:
            if time.monotonic() >= next_sample:
                samples.append((round(time.monotonic() - start, 1), _rss_kb(chisel.pid)))
                next_sample += sample_s
            ready, _, _ = select.select([workload.stdout], [], [], 0.5)
            if ready:
                done_line = workload.stdout.readline()
                break
        else:
            raise RuntimeError(f"the workload died early (exit {workload.returncode})")
        rounds, wraps = (int(n) for n in done_line.split()[1:3])
        time.sleep(QUIET_S)
        samples.append((round(time.monotonic() - start, 1), _rss_kb(chisel.pid)))
        workload_fds = sorted(int(fd) for fd in os.listdir(f"/proc/{workload.pid}/fd"))
        alive_before = _live_tids()
        chisel.send_signal(signal.SIGINT)
        _, err = chisel.communicate(timeout=120)
        alive_after = _live_tids()
    finally:
        if chisel.poll() is None:
            chisel.kill()
            chisel.wait()
        if workload.poll() is None:
            workload.stdin.close()
            workload.wait(timeout=30)
    out.seek(0)
    lines = [json.loads(ln) for ln in out if ln.startswith("{")]
    sizes = [ln for ln in lines if ln["kind"] == "sizes"]
    final = next(ln for ln in lines if ln["kind"] == "final")
    figures = _judge(seconds, rate, warmup_s, samples, sizes, final, rounds, workload.pid, workload_fds,
                     alive_before | alive_after, chisel.returncode, err)
    figures["pid_wraps"] = wraps
    return figures


def _judge(seconds, rate, warmup_s, samples, sizes, final, rounds, workload_pid, workload_fds, alive,
           exit_code, err):
    after_warmup = [kb for t, kb in samples if t >= warmup_s]
    base = after_warmup[0]
    growth = max(after_warmup) / base - 1
    tree = _workload_tree(final["threads"], workload_pid)
    leaked = sorted(tid for tid in tree if tid not in alive)
    stale_outside = sum(1 for tid, _pid, _ptid in final["threads"] if tid not in tree and tid not in alive)
    state_fds = final["fds"].get(str(workload_pid))
    figures = {
        "seconds": seconds, "rate": rate, "rounds": rounds, "processes_created": rounds,
        "events": final["events"], "drops": final["drops"],
        "rss_kb": samples, "rss_base_kb": base, "rss_max_kb": max(after_warmup),
        "rss_growth_pct": round(growth * 100, 2),
        "state_sizes": [(s["threads"], s["fds"]) for s in sizes],
        "state_threads_at_end": len(final["threads"]), "workload_threads_at_end": len(tree),
        "leaked_threads": leaked, "stale_untraced_threads": stale_outside,
        "workload_fds_proc": workload_fds, "workload_fds_state": state_fds,
        "chisel_exit": exit_code, "chisel_stderr": err,
    }
    problems = []
    if growth >= RSS_GROWTH_LIMIT:
        problems.append(f"RSS grew {growth:.1%} after warm-up (limit {RSS_GROWTH_LIMIT:.0%})")
    if leaked:
        problems.append(f"state keeps {len(leaked)} exited threads: {leaked[:10]}")
    if state_fds != workload_fds:
        problems.append(f"workload fds: state {state_fds} != /proc {workload_fds}")
    if exit_code != 0 or "Traceback" in err:
        problems.append(f"chisel exited {exit_code}: {err.strip()[-300:]!r}")
    figures["problems"] = problems
    figures["ok"] = not problems
    return figures


def _pid_max():
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read())


def _workload_tree(threads, root):
    """tids of the traced tree in the final dump: the workload, its children and their threads."""
    tree_pids = {root}
    tree_pids.update(pid for tid, pid, ptid in threads if ptid == root)
    return {tid for tid, pid, _ptid in threads if pid in tree_pids}


def _report(fig):
    lines = [
        f"soak: {fig['seconds']:.0f} s, {fig['rounds']} processes created and reaped "
        f"({fig['rate']}/s), {fig['events']} events to the chisel, {fig['drops']} dropped; "
        f"PIDs wrapped {fig['pid_wraps']} times (pid_max {_pid_max()})",
        f"rss: base {fig['rss_base_kb']} kB after warm-up, max {fig['rss_max_kb']} kB, "
        f"growth {fig['rss_growth_pct']}% (limit {RSS_GROWTH_LIMIT:.0%})",
        "rss samples (s, kB): " + " ".join(f"{t:g}:{kb}" for t, kb in fig["rss_kb"]),
        "state (threads/fds) per interval: " + " ".join(f"{a}/{b}" for a, b in fig["state_sizes"]),
        f"state at end: {fig['state_threads_at_end']} threads, {fig['workload_threads_at_end']} of the "
        f"workload's, {len(fig['leaked_threads'])} of them exited (leaked); "
        f"{fig['stale_untraced_threads']} untraced /proc-scan threads gone since; "
        f"workload fds state {fig['workload_fds_state']} /proc {fig['workload_fds_proc']}",
        "soak: PASS" if fig["ok"] else "soak: FAIL: " + "; ".join(fig["problems"]),
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description="Soak a live chisel under process and fd churn.")
    sub = p.add_subparsers(dest="mode")
    w = sub.add_parser("_workload")
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--rate", type=float, required=True)
    w.add_argument("--tail-s", type=float, required=True)
    p.add_argument("--minutes", type=float, default=10.0, help="soak length (default 10)")
    p.add_argument("--rate", type=float, default=40, help="processes created per second (default 40)")
    p.add_argument("--warmup-s", type=float, default=120, help="RSS baseline taken after this")
    p.add_argument("--sample-s", type=float, default=10, help="seconds between RSS samples")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    if args.mode == "_workload":
        return run_workload(args.seconds, args.rate, args.tail_s)
    fig = soak(args.minutes * 60, rate=args.rate, warmup_s=args.warmup_s, sample_s=args.sample_s,
               every_s=args.sample_s)
    print(json.dumps(fig) if args.json else _report(fig), flush=True)
    return 0 if fig["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
