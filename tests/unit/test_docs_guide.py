"""The chisel-writing guide cannot rot: its code blocks are extracted, installed and run.

Blocks fenced as ```LANG file=NAME become files of a temporary package; a block fenced as
```text output=CAPTURE is what the guide's chisel must print on that capture from tests/data/scap.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "chisel-docs" / "writing-a-chisel.md"
CHISEL = Path(sys.executable).with_name("chisel")
FENCE = re.compile(r"^```(\w+) (file|output)=(\S+)\n(.*?)^```\n", re.M | re.S)


def guide_blocks():
    """{('file', name) | ('output', capture): text} from the guide's tagged code blocks."""
    return {(kind, name): body for _lang, kind, name, body in FENCE.findall(GUIDE.read_text())}


@pytest.fixture(scope="module")
def installed_guide_package(tmp_path_factory):
    """The guide's package, pip-installed into a private folder (the shared virtualenv stays clean)."""
    src = tmp_path_factory.mktemp("chisel-topdirs")
    for (kind, name), body in guide_blocks().items():
        if kind == "file":
            (src / name).write_text(body)
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    return src, target


def run_chisel_cli(target, *argv):
    env = dict(os.environ, PYTHONPATH=str(target))
    return subprocess.run([str(CHISEL), *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_guide_has_the_package_files_and_an_expected_output():
    blocks = guide_blocks()
    assert {name for kind, name in blocks if kind == "file"} == {
        "pyproject.toml", "chisel_topdirs.py", "test_topdirs.py"}
    assert ("output", "libs_curl_google.scap") in blocks


def test_installed_chisel_is_listed_with_its_distribution(installed_guide_package):
    _src, target = installed_guide_package
    result = run_chisel_cli(target, "--list")
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("topdirs"))
    assert "Top directories by bytes read and written." in line
    assert "chisel-topdirs" in result.stdout


def test_installed_chisel_prints_the_guides_output(installed_guide_package):
    _src, target = installed_guide_package
    capture = "libs_curl_google.scap"
    result = run_chisel_cli(target, "-r", f"tests/data/scap/{capture}", "topdirs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == guide_blocks()[("output", capture)]


def test_guides_own_tests_pass(installed_guide_package):
    src, target = installed_guide_package
    env = dict(os.environ, PYTHONPATH=f"{target}{os.pathsep}{src}")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(src / "test_topdirs.py")], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
