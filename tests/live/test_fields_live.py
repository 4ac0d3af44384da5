"""Fields on the live eBPF engine: a real `cat` of a known file, its fd, I/O and process fields.

Needs root and BPF; without them the test fails (never skips).
"""

import os
import subprocess

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
# '*': print every event, <NA> for fields that do not apply (without it such events are skipped)
FORMAT = ("*%evt.type %evt.dir %fd.num %fd.typechar %fd.directory %fd.filename %evt.buflen "
          "%evt.is_io_read %evt.is_open_read %evt.res %proc.name %proc.exe %proc.args "
          "%thread.ismain %evt.category %user.uid|%fd.name")


def test_cat_of_a_known_file_has_sysdigs_field_values(tmp_path):
    known = tmp_path / "known.txt"
    known.write_bytes(b"chisel fields live payload\n" * 4)  # 108 bytes, read in one go
    result = subprocess.run([CHISEL, "-p", FORMAT, "--", "cat", str(known)], capture_output=True,
                            text=True, timeout=120, env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    on_file = [line.split("|")[0] for line in result.stdout.splitlines()
               if line.endswith(f"|{known}")]
    d, uid = str(tmp_path), os.geteuid()
    common = f"cat cat {known} true file {uid}"
    assert on_file == [
        f"openat < 3 f {d} known.txt <NA> false true SUCCESS {common}",
        f"read > 3 f {d} known.txt <NA> true false <NA> {common}",
        f"read < 3 f {d} known.txt 108 true false SUCCESS {common}",
        f"read > 3 f {d} known.txt <NA> true false <NA> {common}",
        f"read < 3 f {d} known.txt 0 true false SUCCESS {common}",
        f"close > 3 f {d} known.txt <NA> false false <NA> {common}",
        f"close < 3 f {d} known.txt 0 false false SUCCESS {common}",
    ]
