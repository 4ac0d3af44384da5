"""LiveSource's start-up checks: one-line errors that say what to do (no root or BPF needed)."""

import builtins
import io

import pytest

from chisel.core.errors import ChiselRuntimeError
from chisel.core.live import compiler, engine


def test_not_root_without_capabilities(monkeypatch):
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(engine, "_capabilities", lambda: 0)
    with pytest.raises(ChiselRuntimeError) as e:
        engine.check_environment()
    assert e.value.message == ("live capture needs root or CAP_BPF+CAP_PERFMON; run with sudo, "
                               "or read a capture with -r")


def test_cap_bpf_and_perfmon_are_enough(monkeypatch):
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(engine, "_capabilities", lambda: (1 << 38) | (1 << 39))
    monkeypatch.setattr(engine.probes, "TRACEFS_ROOTS", ("/nonexistent",))
    with pytest.raises(ChiselRuntimeError, match="tracefs is not mounted"):
        engine.check_environment()


def test_missing_kernel_headers(monkeypatch, tmp_path):
    monkeypatch.setattr(engine.os, "geteuid", lambda: 0)
    (tmp_path / "events/syscalls").mkdir(parents=True)
    monkeypatch.setattr(engine.probes, "TRACEFS_ROOTS", (str(tmp_path),))
    real_exists = engine.Path.exists
    monkeypatch.setattr(engine.Path, "exists",
                        lambda p: False if str(p).startswith(("/lib/modules", "/sys/kernel/kheaders"))
                        else real_exists(p))
    with pytest.raises(ChiselRuntimeError) as e:
        engine.check_environment()
    assert "install linux-headers-amd64 and link /lib/modules/" in e.value.message


def test_bcc_missing(monkeypatch, capsys):
    """bcc is needed only by the compiler child (a cache miss); without it, it says what to install."""
    real_import = builtins.__import__

    def no_bcc(name, *args, **kw):
        if name == "bcc":
            raise ImportError("No module named 'bcc'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_bcc)
    monkeypatch.setattr(compiler.sys, "stdin", io.TextIOWrapper(io.BytesIO(b"int x;")))
    assert compiler.main(["0" * 64]) == 1
    assert capsys.readouterr().err == (
        "BPF/bcc unavailable (No module named 'bcc'); install python3-bpfcc, or read a capture with -r\n")


def test_importing_the_engine_does_not_import_bcc():
    import subprocess
    import sys
    code = "import sys, chisel.core.live.engine; print('bcc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
