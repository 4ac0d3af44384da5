"""The `chisel` command line, in process: parsing, listing, running, and every error as one exact line."""

import io
import os
import subprocess
import sys

import pytest

from chisel.core.cli import main, parse_chisel_words, reads_as_filter, split_global_options, build_parser
from chisel.core.errors import UsageError
from chisel.plugins import Arg

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD = os.path.join(TESTS, "plugins", "good")
BROKEN = os.path.join(TESTS, "plugins", "broken")
CAT_WRITE = os.path.join(TESTS, "data", "scap", "falco_cat_write.scap")
CURL = os.path.join(TESTS, "data", "scap", "libs_curl_google.scap")


def run(*argv, env=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, env=env if env is not None else {})
    return code, out.getvalue(), err.getvalue()


# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("word, is_filter", [
    ("evt.type=connect", True),
    ("fd.name", True),            # a field name starts a filter (`chisel fd.name contains /etc`)
    ("proc.name", True),
    ("not", True),
    ("(evt.type", True),
    ("echo_fds", False),
    ("topfiles_bytes", False),
    ("./mine.py", False),
])
def test_first_word_reads_as_filter_or_chisel(word, is_filter):
    assert reads_as_filter(word) is is_filter


def test_global_options_are_taken_anywhere_and_the_rest_keeps_its_order():
    parser = build_parser()
    globals_, rest, command = split_global_options(
        ["topfiles", "-r", "f.scap", "--top", "5", "-n10", "fd.name", "contains", "/etc", "--", "ls", "-l"],
        parser)
    assert globals_ == ["-r", "f.scap", "-n", "10"]
    assert rest == ["topfiles", "--top", "5", "fd.name", "contains", "/etc"]
    assert command == ("ls", "-l")


def test_chisel_words_split_name_options_and_filter():
    args = (Arg("top", int, default=10), Arg("by", str, choices=("bytes", "time")), Arg("verbose", bool))
    ref, values, text = parse_chisel_words(
        ["topfiles", "--top", "5", "--by=time", "--verbose", "fd.name", "contains", "/etc", "and",
         "evt.rawres", ">", "-1"],
        lambda r: (args, "topfiles"))
    assert ref == "topfiles"
    assert values == {"top": 5, "by": "time", "verbose": True}
    assert text == "fd.name contains /etc and evt.rawres > -1"


def test_no_chisel_when_the_first_word_is_a_filter():
    def never(_ref):
        raise AssertionError("no chisel should be looked up")

    assert parse_chisel_words(["evt.type=connect", "and", "fd.port=80"], never) == \
        (None, {}, "evt.type=connect and fd.port=80")


# -- errors: exit code, then the exact line ---------------------------------------------------------


def test_unknown_chisel_suggests_a_near_name():
    code, out, err = run("--plugin-dir", GOOD, "count_event")
    assert (code, out) == (2, "")
    assert err == ("chisel: error: unknown chisel 'count_event': no installed chisel has that name; "
                   "did you mean 'count_events'?\n")


def test_unknown_chisel_without_a_near_name():
    code, _, err = run("zzzzqqq")
    assert code == 2
    assert err == ("chisel: error: unknown chisel 'zzzzqqq': no installed chisel has that name; "
                   "run 'chisel --list' to see them\n")


def test_bad_chisel_option_value():
    code, _, err = run("--plugin-dir", GOOD, "count_events", "--top", "ten")
    assert code == 2
    assert err == ("chisel: error: bad value for --top: 'ten' is not an integer; "
                   "pass a value such as --top 10\n")


def test_unknown_chisel_option_suggests():
    code, _, err = run("--plugin-dir", GOOD, "count_events", "--tpo", "3")
    assert (code, err) == (2, "chisel: error: unknown option '--tpo' for chisel count_events; "
                              "did you mean '--top'?\n")


def test_unknown_global_option():
    code, _, err = run("--lsit")
    assert (code, err) == (2, "chisel: error: unknown option '--lsit'; did you mean '--list'?\n")


def test_bad_global_values():
    assert run("-n", "0")[2] == ("chisel: error: bad value for -n: '0' is not a positive integer; "
                                 "pass a count such as -n 10\n")
    assert run("-M", "soon")[2] == ("chisel: error: bad value for -M: 'soon' is not a positive number "
                                    "of seconds; pass a duration such as -M 10\n")
    assert run("-r")[0:3:2] == (2, "chisel: error: option -r needs a value; run 'chisel --help' for usage\n")


def test_missing_and_directory_capture_files(tmp_path):
    missing = str(tmp_path / "nope.scap")
    assert run("-r", missing) == (2, "", f"chisel: error: cannot read {missing}: no such file; "
                                         "check the -r path\n")
    assert run("-r", str(tmp_path)) == (2, "", f"chisel: error: cannot read {tmp_path}: it is a "
                                               "directory; pass a capture file to -r\n")


def test_chisel_file_that_defines_no_chisel(tmp_path):
    script = tmp_path / "empty.py"
    script.write_text("X = 1\n")
    os.chmod(tmp_path, 0o755)
    code, _, err = run(str(script))
    assert code == 2
    assert err == (f"chisel: error: cannot run {script}: it defines no chisel; a chisel file must define "
                   "exactly one Chisel subclass (or put it in a --plugin-dir and name the chisel)\n")


def test_settings_file_errors_name_file_and_line(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("options:\n  snaplen: lots\n")
    code, _, err = run("--list", env={"CHISEL_CONFIG": str(cfg)})
    assert code == 2
    assert err == (f"chisel: error: bad settings file {cfg}:2: bad value for options.snaplen: 'lots' is "
                   "not an integer; write snaplen: 256\n")
    cfg.write_text("options: {}\nplugin_dir: [/x]\n")
    assert run("--list", env={"CHISEL_CONFIG": str(cfg)})[2] == (
        f"chisel: error: bad settings file {cfg}:2: unknown key 'plugin_dir'; use one of options, "
        "plugin_dirs, disabled_plugins, chisels\n")
    cfg.write_text("options: [\n")
    assert run("--list", env={"CHISEL_CONFIG": str(cfg)})[2].startswith(
        f"chisel: error: bad settings file {cfg}:2: ")


def test_settings_file_supplies_plugin_dirs_and_disables(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"plugin_dirs: [{GOOD}]\ndisabled_plugins: [lone_script]\n")
    code, out, _ = run("--list", env={"CHISEL_CONFIG": str(cfg)})
    assert code == 0
    assert "count_events    Count events by type.\n" in out
    assert "first_event" not in out


# -- listing ---------------------------------------------------------------------------------------


def test_list_groups_by_category_and_names_third_party_sources():
    code, out, err = run("--plugin-dir", GOOD, "--list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    i = lines.index("Category: Misc")
    assert lines[i - 1: i + 4] == [
        "",
        "Category: Misc",
        "--------------",
        "count_events    Count events by type.",
        f"                [{GOOD}/count_events.py]",
    ]
    assert lines[i + 4: i + 6] == ["first_event     Print the first event's number and type, then nothing.",
                                   f"                [{GOOD}/lone_script.py]"]
    assert lines[-1] == "Use 'chisel --info NAME' to get detailed information about a specific chisel"


def test_list_reports_broken_plugins_and_still_lists_the_rest():
    code, out, err = run("--plugin-dir", BROKEN, "--list")
    assert code == 0
    assert "crashes         Raise on the third event." in out
    assert err.splitlines() == [
        f"chisel: warning: plugin {BROKEN}/import_error.py skipped: import failed: ModuleNotFoundError: "
        "No module named 'chisel_no_such_module'",
        f"chisel: warning: plugin {BROKEN}/bad_metadata.py skipped: bad metadata: chisel class BadName "
        "has bad name 'Bad Name' (lowercase snake_case expected)",
    ]


def test_info_shows_description_source_and_args():
    code, out, _ = run("--plugin-dir", GOOD, "--info", "count_events")
    assert code == 0
    assert out.splitlines() == [
        "",
        "Category: Misc",
        "--------------",
        "count_events    Count events by type.",
        f"                [{GOOD}/count_events.py]",
        "",
        "Count events by type. Prints a table of the busiest types at the end.",
        "",
        f"Source: {GOOD}/count_events.py",
        "Args:",
        "[int] --top TOP - rows to show (default 3)",
        "[flag] --exits-only - count only exit events",
    ]


def test_list_path_imports_nothing_heavy():
    code = ("import sys, io; from chisel.core.cli import main;"
            "main(['--list'], stdout=io.StringIO());"
            "print([m for m in ('bcc', 'chisel.core.eventmodel', 'chisel.core.event', 'chisel.core.state',"
            " 'chisel.core.filter', 'chisel.core.fields', 'chisel.core.session') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- running ---------------------------------------------------------------------------------------


def test_a_chisel_file_named_in_place_of_the_chisel_runs(tmp_path):
    code, out, err = run("-r", CURL, os.path.join(GOOD, "lone_script.py"))
    assert (code, err) == (0, "")
    assert out == "first: 1 procinfo\n"  # the chisel sees internal events the default printer hides


def test_a_crashing_chisel_is_one_line_and_exit_1():
    code, out, err = run("-r", CURL, "--plugin-dir", BROKEN, "crashes")
    assert code == 1
    assert err.splitlines()[-1] == ("chisel: error: chisel crashes stopped: ZeroDivisionError: third event; "
                                    "the other chisels went on")
    assert "Traceback" not in err


def test_count_limit_counts_events_as_sysdig_does(monkeypatch):
    # sysdig 0.29 -n 215 prints events 211-215: the first 210 are internal events it counts but hides
    monkeypatch.setenv("TZ", "UTC")
    code, out, err = run("-r", CURL, "-n", "215")
    assert (code, err) == (0, "")
    assert [line.split(" ", 1)[0] for line in out.splitlines()] == ["211", "212", "213", "214", "215"]
    assert out.splitlines()[0].startswith("211 17:35:48.514632619 0 curl (17497) < execve res=0 exe=curl ")


def test_command_with_read_is_a_usage_error():
    assert run("-r", CURL, "--", "ls") == (
        2, "", "chisel: error: -- COMMAND cannot be used with -r: a capture file cannot trace a new "
               "process; drop -r to trace live\n")


@pytest.mark.parametrize("capture, pid, lines", [
    # sysdig 0.29.3 -r CAPTURE "proc.pid=PID or proc.apid=PID" | wc -l
    ("libs_sample.scap", "1", 269),
    ("falco_cat_write.scap", "20072", 85),
    ("falco_cat_write.scap", "1", 85),  # init is an ancestor of cat
    ("falco_cat_write.scap", "4242", 0),
])
def test_pid_on_a_capture_keeps_the_process_tree(capture, pid, lines):
    code, out, err = run("-r", os.path.join(TESTS, "data", "scap", capture), "--pid", pid)
    assert (code, err, len(out.splitlines())) == (0, "", lines)


def test_plugin_options_reach_chisel_configure(tmp_path):
    (tmp_path / "opt.py").write_text(
        "from chisel.core.errors import UsageError\n"
        "from chisel.plugins import hookimpl\n"
        "@hookimpl\n"
        "def chisel_add_options(parser):\n"
        "    parser.add_argument('--strict-mode', action='store_true')\n"
        "@hookimpl\n"
        "def chisel_configure(config):\n"
        "    if config.options['strict_mode']:\n"
        "        raise UsageError('strict mode refuses this run; drop --strict-mode')\n")
    os.chmod(tmp_path, 0o755)
    assert run("--plugin-dir", str(tmp_path), "-r", CAT_WRITE, "--strict-mode") == (
        2, "", "chisel: error: strict mode refuses this run; drop --strict-mode\n")
    assert run("--plugin-dir", str(tmp_path), "-r", CAT_WRITE, "-n", "1")[0] == 0


def test_duration_limit_runs_on_event_time():
    # sysdig 0.29.3 -M ends at once on a replay (it compares with the wall clock); the same cut by
    # filter from the first real event (211, execve): sysdig -p %evt.num "evt.rawtime < T211+1ms" -> 211..747
    code, out, err = run("-r", CURL, "-M", "0.001", "-p", "%evt.num")
    assert (code, err) == (0, "")
    assert out.splitlines() == [str(n) for n in range(211, 748)]


def test_chisel_help_is_its_info():
    code, out, _ = run("--plugin-dir", GOOD, "count_events", "--help")
    assert code == 0
    assert out.splitlines()[3] == "count_events    Count events by type."


def test_version_names_the_third_party_plugins_loaded():
    from importlib.metadata import version

    code, out, _ = run("--plugin-dir", GOOD, "--version")
    assert (code, out) == (0, f"chisel {version('chisel')}\n"
                              f"plugins: {GOOD}/count_events.py, {GOOD}/lone_script.py\n")


def test_a_flag_that_defaults_to_true_is_turned_off_with_no():
    args = (Arg("color", bool, default=True), Arg("verbose", bool))
    find = lambda r: (args, "c")  # noqa: E731
    assert parse_chisel_words(["c", "--no-color"], find)[1] == {"color": False}
    assert parse_chisel_words(["c", "--color=false", "--verbose"], find)[1] == {"color": False, "verbose": True}


def test_long_summaries_wrap_between_words():
    from chisel.core.cli import format_listing
    from chisel.plugins import Chisel
    from chisel.plugins.manager import ChiselEntry, PluginSource

    class Wordy(Chisel):
        """Network connections as they open, and the bytes each one carried over their lifetime."""
        name = "wordy"
        category = "Net"

    lines = format_listing([ChiselEntry(Wordy, PluginSource("builtin", "built-in", "builtin"))])
    assert lines[3:5] == ["wordy           Network connections as they open, and the bytes each one",
                          "                carried over their lifetime."]


def test_a_plugin_option_clashing_with_ours_is_reported_and_the_run_goes_on(tmp_path):
    (tmp_path / "clash_opt.py").write_text(
        "from chisel.plugins import hookimpl\n"
        "@hookimpl\n"
        "def chisel_add_options(parser):\n"
        "    parser.add_argument('-r')\n")
    os.chmod(tmp_path, 0o755)
    code, out, err = run("--plugin-dir", str(tmp_path), "-r", CAT_WRITE, "-n", "131")
    assert (code, len(out.splitlines())) == (0, 1)
    assert err == (f"chisel: warning: plugin {tmp_path}/clash_opt.py failed in chisel_add_options: "
                   "ArgumentError: argument -r: conflicting option string: -r\n")


def test_a_plugin_renderer_serves_format(tmp_path):
    (tmp_path / "csvout.py").write_text(
        "from chisel.plugins import hookimpl\n"
        "class Csv:\n"
        "    def format(self, ev):\n"
        "        return f'{ev.num},{ev.tid}' if ev.num > 212 else None\n"
        "@hookimpl\n"
        "def chisel_get_renderer(format):\n"
        "    return Csv() if format == 'csv' else None\n")
    os.chmod(tmp_path, 0o755)
    code, out, err = run("--plugin-dir", str(tmp_path), "-r", CURL, "--format", "csv", "-n", "215")
    assert (code, out, err) == (0, "213,17497\n214,17497\n215,17497\n", "")
    assert run("-r", CURL, "--format", "xml") == (
        2, "", "chisel: error: unknown output format 'xml': no plugin provides it; use --format text, "
               "--format json, or install a plugin for it\n")


def test_pid_and_command_together_are_a_usage_error():
    assert run("--pid", "1", "--", "true") == (
        2, "", "chisel: error: --pid cannot be combined with -- COMMAND: the command's own process tree "
               "is what gets traced; drop one of them\n")
