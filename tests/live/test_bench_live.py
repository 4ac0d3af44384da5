"""The benchmark's CI smoke mode: `bench/run.py --quick` runs every overhead scenario once."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.live

RUN = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "run.py")


def test_quick_overhead_table_measures_untraced_and_the_bpf_peer():
    result = subprocess.run([sys.executable, RUN, "--quick", "--only", "overhead"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    untraced = [r for r in rows if re.match(r"\w+ x\d+ +untraced ", r)]
    assert len(untraced) == 7  # one baseline per distinct workload size
    assert all(r.split()[5] == "1.00x" for r in untraced)
    syscount = [r for r in rows if " syscount-bpfcc " in r]
    assert len(syscount) == 5
    # Every syscount row has a measured ratio: BPF works here, so none may be 'n/a'.
    assert all(re.search(r" \d+\.\d\dx ", r) for r in syscount), "\n".join(syscount)
