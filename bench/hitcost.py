#!/usr/bin/env python3
"""What one tracepoint hit costs the traced process, piece by piece: the numbers the probes are designed on.

    sudo .venv/bin/python bench/hitcost.py              # 7 interleaved rounds, rw x500000
    sudo .venv/bin/python bench/hitcost.py --runs 3 --iterations 200000

Each variant attaches a tiny bcc program to syscalls:sys_exit_read and sys_exit_write (the rw
loop makes one of each per iteration), in a fresh process per round so one variant's detach cannot
slow the next, and times the workload's loop. NS/CALL is (best loop time - best untraced) per
syscall: what the hit and the program add to each call. OVER EMPTY is what a variant's program adds
to a program that returns at once: the price of a helper call or a map lookup on this kernel.
"""

import argparse
import json
import os
import subprocess
import sys

import harness

# name -> body of the program on each exit tracepoint (None: nothing attached)
VARIANTS = {
    "untraced": None,
    "empty program": "return 0;",
    "bpf_get_current_pid_tgid": "u64 id = bpf_get_current_pid_tgid(); return id == 5;",
    "bpf_get_current_task_btf": "return bpf_get_current_task_btf() == 0;",
    "task_btf + task_pt_regs + load di": (
        "struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs("
        "(struct task_struct *)bpf_get_current_task_btf()); return r->di == 12345;"),
    "the same + array lookup on di": (
        "struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs("
        "(struct task_struct *)bpf_get_current_task_btf()); u32 k = r->di & 1023; "
        "u64 *v = slots.lookup(&k); return v && *v;"),
}

# One round of one variant, in a fresh interpreter: attach, run the loop, print its ns.
_ROUND = """
import json, subprocess, sys
body, argv = sys.argv[1], json.loads(sys.argv[2])
if body:
    from bcc import BPF
    text = "#include <uapi/linux/ptrace.h>\\nBPF_ARRAY(slots, u64, 1024);\\n" + "".join(
        "TRACEPOINT_PROBE(syscalls, sys_exit_%s) { %s }\\n" % (name, body) for name in ("read", "write"))
    bpf = BPF(text=text)
out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
print(int(out[4]))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--iterations", type=int, default=500_000, help="rw loop iterations")
    opts = parser.parse_args(argv)
    try:
        workload = harness.workload_argv(harness.build_workload(), "rw", opts.iterations)
    except harness.Unavailable as why:
        print(f"hitcost: n/a ({why})", file=sys.stderr)
        return 1
    python = os.path.join(harness.REPO, ".venv", "bin", "python")
    loops = {name: [] for name in VARIANTS}
    for _ in range(opts.runs):
        for name, body in VARIANTS.items():
            done = subprocess.run([python, "-c", _ROUND, body or "", json.dumps(workload)],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                print(f"hitcost: {name}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                return 1
            loops[name].append(int(done.stdout.split()[-1]))
    calls = 2 * opts.iterations
    base = min(loops["untraced"])
    print(f"tracepoint hit cost: rw x{opts.iterations} ({calls} calls), {opts.runs} rounds, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'VARIANT':<36}{'BEST(ms)':<10}{'NS/CALL':<9}OVER EMPTY")
    empty = (min(loops["empty program"]) - base) / calls
    for name, samples in loops.items():
        best = min(samples)
        per_call = (best - base) / calls
        over = f"{per_call - empty:+.0f} ns" if VARIANTS[name] not in (None, "return 0;") else ""
        print(f"{name:<36}{best / 1e6:<10.1f}{per_call:<9.0f}{over}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
