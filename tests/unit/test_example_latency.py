"""The second example distribution (plugins/example_latency): a latency histogram sysdig lacks."""

import json
from pathlib import Path

from chisel.plugins.testing import run_chisel

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = str(REPO / "plugins" / "example_latency")
CAPTURE = str(REPO / "tests" / "data" / "scap" / "falco_cat_write.scap")
# TZ=UTC sysdig -r falco_cat_write.scap -p '%proc.name %evt.latency' 'evt.dir=< and proc.name=cat'
# prints 41 exit events of cat with a latency above zero.
CAT_EXITS_WITH_LATENCY = 41


def test_histogram_counts_every_paired_exit_once():
    result = run_chisel("syscall_latency", capture=CAPTURE, args={"top": 1}, plugin_dirs=[PLUGIN_DIR])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"cat: {CAT_EXITS_WITH_LATENCY} calls"
    counts = [int(line.split(":")[1].split("|")[0]) for line in lines[1:] if "|" in line]
    assert sum(counts) == CAT_EXITS_WITH_LATENCY
    assert lines[1].strip().startswith("64ns .. 128ns : 1 ")


def test_by_syscall_json_splits_the_same_total():
    result = run_chisel("syscall_latency", capture=CAPTURE, args={"top": 0, "by_syscall": True},
                        json=True, plugin_dirs=[PLUGIN_DIR])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    cat_rows = [r for r in rows if r["key"][0] == "cat"]
    assert sum(sum(r["buckets"].values()) for r in cat_rows) == CAT_EXITS_WITH_LATENCY
    assert {"key": ["cat", "mmap"], "buckets": {"256ns .. 512ns": 1, "512ns .. 1.02us": 2,
                                                 "1.02us .. 2.04us": 5, "2.04us .. 4.09us": 2}} in rows
