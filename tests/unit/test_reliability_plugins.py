"""Broken third-party plugins at the command line: each is named in one warning and skipped, and a
built-in chisel run beside them prints exactly what it prints alone."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
CAPTURE = os.path.join(REPO, "tests", "data", "scap", "libs_curl_google.scap")
BROKEN = os.path.join(REPO, "tests", "plugins", "broken")
GOOD = os.path.join(REPO, "tests", "plugins", "good")


def run(*argv):
    env = {k: v for k, v in os.environ.items() if k != "CHISEL_PATH"}
    return subprocess.run([CHISEL, *argv], capture_output=True, text=True, timeout=60,
                          env={**env, "TZ": "UTC"})


def plugin_dir(tmp_path, **files):
    """A folder plugin dir holding `files` (name → source), with safe modes."""
    folder = tmp_path / "plugins"
    folder.mkdir(mode=0o755)
    for name, source in files.items():
        path = folder / f"{name}.py"
        path.write_text(source)
        path.chmod(0o644)
    return str(folder)


def test_broken_plugins_do_not_change_a_builtin_chisels_output():
    alone = run("-r", CAPTURE, "topfiles")
    beside = run("--plugin-dir", BROKEN, "--plugin-dir", GOOD, "-r", CAPTURE, "topfiles")
    assert alone.returncode == beside.returncode == 0
    assert beside.stdout == alone.stdout and len(alone.stdout.splitlines()) == 12
    assert beside.stderr.splitlines() == [
        f"chisel: warning: plugin {BROKEN}/import_error.py skipped: import failed: "
        "ModuleNotFoundError: No module named 'chisel_no_such_module'",
        f"chisel: warning: plugin {BROKEN}/bad_metadata.py skipped: bad metadata: chisel class "
        "BadName has bad name 'Bad Name' (lowercase snake_case expected)",
    ]


def test_a_plugin_raising_at_import_is_skipped_by_name(tmp_path):
    folder = plugin_dir(tmp_path, explodes='raise RuntimeError("boom at import")\n')
    result = run("--plugin-dir", folder, "-r", CAPTURE, "topfiles")
    assert result.returncode == 0 and result.stdout == run("-r", CAPTURE, "topfiles").stdout
    assert result.stderr == (f"chisel: warning: plugin {folder}/explodes.py skipped: import failed: "
                             "RuntimeError: boom at import\n")


def test_a_plugin_calling_sys_exit_at_import_is_skipped_by_name(tmp_path):
    folder = plugin_dir(tmp_path, exits="import sys\nsys.exit(3)\n")
    result = run("--plugin-dir", folder, "-r", CAPTURE, "topfiles")
    assert (result.returncode, result.stdout) == (0, run("-r", CAPTURE, "topfiles").stdout)
    assert result.stderr.startswith(f"chisel: warning: plugin {folder}/exits.py skipped: ")
