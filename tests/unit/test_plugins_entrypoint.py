"""A third-party distribution found through its `chisel.plugins` entry point after `pip install`.

Installs plugins/example_hello into the project's virtualenv for the module and removes it after.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "plugins", "example_hello")
CAT_WRITE = os.path.join(REPO, "tests", "data", "scap", "falco_cat_write.scap")
CHISEL = [sys.executable, "-m", "chisel.core.cli"]


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def installed_example():
    pip("install", "--no-deps", EXAMPLE)
    yield
    pip("uninstall", "-y", "chisel-example-hello")


def chisel(*argv):
    return subprocess.run([*CHISEL, *argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": "UTC", "CHISEL_PATH": ""})


def test_installed_distribution_is_listed_with_its_name_and_version(installed_example):
    result = chisel("--list")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    i = lines.index("hello_opens     Count successful file opens per process.")
    assert lines[i + 1] == "                [chisel-example-hello 0.1.0]"
    assert lines[:i].count("Category: Misc") == 1


def test_installed_chisel_runs_on_a_capture(installed_example):
    # sysdig 0.29.3: 'evt.type in (open,openat,openat2) and evt.dir=< and evt.failed=false' -> 4 x cat
    result = chisel("-r", CAT_WRITE, "hello_opens", "--top", "5")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "OPENS               PROCESS             ",
        "-" * 80,
        "4                   cat",
    ]


def test_disabling_the_distribution_by_name(installed_example, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("disabled_plugins: [chisel-example-hello]\n")
    result = subprocess.run([*CHISEL, "--list"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CHISEL_CONFIG": str(cfg)})
    assert result.returncode == 0
    assert "hello_opens" not in result.stdout
