"""Hostile text never crashes: the -p format parser (in process) and the whole command line (subprocess).

A `-p` format either builds a formatter that renders real events (a string or None: not printed) or
raises one `UsageError`. Random argv words to `chisel -r CAPTURE ...` end with exit 0, 1 or 2 and
never a traceback or the CLI's last-resort "internal error" line, which marks an unexpected exception.
"""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chisel.core.errors import UsageError
from chisel.core.fields import registry
from chisel.core.output import FormatFormatter
from chisel.core.scap_reader import ScapReader
from chisel.core.state import State

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
CAPTURE = os.path.join(REPO, "tests", "data", "scap", "libs_curl_google.scap")

FORMAT_TOKENS = ["%", "%%", "%evt.num", "%proc.name", "%fd.name", "%evt.arg.fd", "%evt.arg[0]",
                 "%proc.aname[2]", "%proc.env[HOME]", "%12evt.type", "%-5proc.pid", "%0", "%99999999",
                 "%evt.", "%.", "%[", "%evt.buffer", "%evt.info", "%evt.args", "%user.name", "%fd.sip",
                 "*", "\\n", "\\t", "\\x41", "\\", "\\0", "\0", "é", "{", "}", " ", "abc", "%evt.rawarg.res",
                 "%fd.nam", "%evt.outputtime", "%evt.time", "%thread.vtid", "%%%", "%-", "%-%", "\n"]


def _real_events(limit=300):
    """Syscall events of a real capture with state applied and the field registry bound, as a run
    has them (the capture's leading procinfo dump is applied but not kept)."""
    reader = ScapReader(CAPTURE)
    state = State(reader.snapshot)
    from chisel.core.evtinfo import ArgRenderer  # noqa: PLC0415

    registry().bind_state(state, ArgRenderer(state, None))
    events = []
    try:
        for ev in reader.events():
            state.process(ev)
            if "EC_INTERNAL" not in ev.info.ec_classes and ev.name != "procinfo":
                events.append(ev)
            if len(events) == limit:
                break
    finally:
        reader.close()
    return events


@pytest.fixture(scope="module")
def events():
    return _real_events()


def _format_or_usage_error(text, events):
    try:
        formatter = FormatFormatter(text, registry=registry())
    except UsageError:
        return "error"
    for ev in events:
        line = formatter.format(ev)
        assert line is None or isinstance(line, str)
    return "ok"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FORMAT_TOKENS), max_size=8).map("".join))
def test_format_from_tokens_builds_or_is_one_usage_error(events, text):
    _format_or_usage_error(text, events)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_format_from_any_text_builds_or_is_one_usage_error(events, text):
    _format_or_usage_error(text, events)


def test_format_fuzz_reaches_both_outcomes(events):
    """The strategies above are not vacuous: these exact inputs give each outcome."""
    assert _format_or_usage_error("%evt.num %proc.name %fd.name", events) == "ok"
    assert _format_or_usage_error("%fd.nam", events) == "error"
    assert _format_or_usage_error("abc%", events) == "error"
    assert _format_or_usage_error("*%evt.arg[0] \\x41\\t%5proc.pid", events) == "ok"


# -- the command line ------------------------------------------------------------------------------

ARGV_WORDS = ["-j", "-p", "%evt.num", "-n", "0", "-n", "3", "-M", "x", "-M", "0.5", "-s", "-1", "-s",
              "80", "-A", "-x", "-X", "-b", "--no-color", "--pid", "abc", "--pid", "1", "--list",
              "--info", "topfiles", "--info", "nope", "--list-fields", "--markdown", "--plugin-dir",
              "/nonexistent", "topfiles", "echo_fds", "spy_users", "netconns", "--top", "ten", "--top",
              "2", "--by", "time", "--by", "zzz", "evt.type=open", "and", "or", "not", "(", ")",
              "fd.name", "contains", "'", '"', "proc.name=curl", "evt.type in (read, write)", "-",
              "--", "--bogus", "-Z", "=", "%", "\\", "é", "x" * 300, "./missing.py", "-h", "--version"]


def run_chisel(argv):
    return subprocess.run([CHISEL, "-r", CAPTURE, *argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"})


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ARGV_WORDS), min_size=1, max_size=6))
def test_random_argv_exits_0_1_or_2_without_a_traceback(argv):
    if "--" in argv:
        # what follows `--` is a command to trace, and -r with a command is refused; keep the
        # command harmless in case it were not
        argv = argv[: argv.index("--")] + ["--", "true"]
    result = run_chisel(argv)
    assert result.returncode in (0, 1, 2), (argv, result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr, (argv, result.stderr[-2000:])
    assert "internal error" not in result.stderr, (argv, result.stderr[-500:])
    if result.returncode:
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("chisel: error:")]
        assert len(errors) == 1, (argv, result.stderr)


def test_argv_fuzz_examples_cover_each_exit_code():
    """Pinned cases of the same harness: a clean run, a usage error, a chisel option error."""
    clean = run_chisel(["-p", "%evt.num", "evt.num in (211, 212, 213)"])  # sysdig 0.29 prints the same
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "211\n212\n213\n", "")
    bad = run_chisel(["--top", "2"])
    assert bad.returncode == 2 and bad.stderr.startswith("chisel: error:")
    assert run_chisel(["topfiles", "--top", "ten"]).stderr.startswith(
        "chisel: error: bad value for --top: 'ten'")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
