"""Plugin discovery and safety: folders, CHISEL_PATH, files named on the command line, clashes,
root-only permission checks, broken plugins, metadata validation and the chisel API's Arg/Chisel."""

import os
import shutil
import stat

import pytest

from chisel.core.errors import ChiselRuntimeError, UsageError
from chisel.plugins import Arg, Chisel, hookimpl
from chisel.plugins.manager import PluginManager, load_plugins, validate_chisel_class

SAMPLE_PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")

GOOD = os.path.join(SAMPLE_PLUGINS, "good")
BROKEN = os.path.join(SAMPLE_PLUGINS, "broken")
CLASH = os.path.join(SAMPLE_PLUGINS, "clash")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the permission checks apply to root only")


def copy_folder(src, dst):
    shutil.copytree(src, dst)
    os.chmod(dst, 0o755)
    return str(dst)


def test_folder_plugin_provides_hook_and_hookless_chisels():
    manager = PluginManager()
    manager.load_dir(GOOD)
    chisels = manager.chisels()
    assert sorted(chisels) == ["count_events", "first_event"]
    assert chisels["count_events"].source.label == os.path.join(GOOD, "count_events.py")
    assert manager.broken == []  # _helper.py (which raises) was never executed


def test_chisel_path_folders_are_loaded_in_order(tmp_path):
    manager = PluginManager()
    manager.load_path_dirs({"CHISEL_PATH": f":{GOOD}:"})
    assert "count_events" in manager.chisels()


def test_nothing_is_loaded_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "sneaky.py").write_text("raise SystemExit('executed from cwd')\n")
    monkeypatch.chdir(tmp_path)
    manager = load_plugins(env={})
    assert all(s.kind != "file" for s in manager._sources.values())
    assert "sneaky" not in manager.chisels()


def test_same_file_twice_loads_once():
    manager = PluginManager()
    manager.load_dir(GOOD)
    manager.load_file(os.path.join(GOOD, "count_events.py"))
    assert sorted(manager.chisels()) == ["count_events", "first_event"]


def test_name_clash_names_both_sources():
    manager = PluginManager()
    manager.load_dir(GOOD)
    manager.load_dir(CLASH)
    with pytest.raises(UsageError) as err:
        manager.chisels()
    assert err.value.message == (
        f"chisel name clash: 'count_events' is defined by {GOOD}/count_events.py "
        f"({err.value.message.split('(')[1].split(')')[0]}) and by {CLASH}/other_count.py "
        f"({err.value.message.split('(')[2].split(')')[0]}); disable or rename one of them")
    assert "CountEvents" in err.value.message and "OtherCount" in err.value.message


def test_disabled_plugins_are_skipped():
    manager = PluginManager(disabled=["other_count"])
    manager.load_dir(GOOD)
    manager.load_dir(CLASH)
    assert sorted(manager.chisels()) == ["count_events", "first_event"]


def test_broken_plugins_are_reported_by_name_and_others_load():
    manager = PluginManager()
    manager.load_dir(BROKEN)
    manager.load_dir(GOOD)
    chisels = manager.chisels()
    assert sorted(chisels) == ["count_events", "crashes", "first_event"]
    messages = sorted(b.message() for b in manager.broken)
    assert messages == [
        f"plugin {BROKEN}/bad_metadata.py skipped: bad metadata: chisel class BadName has bad name "
        "'Bad Name' (lowercase snake_case expected)",
        f"plugin {BROKEN}/import_error.py skipped: import failed: ModuleNotFoundError: "
        "No module named 'chisel_no_such_module'",
    ]


def test_a_hook_that_raises_is_a_broken_plugin(tmp_path):
    (tmp_path / "raiser.py").write_text(
        "from chisel.plugins import hookimpl\n"
        "@hookimpl\n"
        "def chisel_register_chisels():\n"
        "    raise RuntimeError('no chisels today')\n")
    os.chmod(tmp_path, 0o755)
    manager = PluginManager()
    manager.load_dir(str(tmp_path))
    assert manager.chisels() == {}
    assert [b.why for b in manager.broken] == ["chisel_register_chisels raised RuntimeError: no chisels today"]


def test_find_by_alias_and_lua_suffix_and_did_you_mean():
    class Top(Chisel):
        """Top."""
        name = "topfiles"
        aliases = ("topfiles_bytes",)

    class Plugin:
        @hookimpl
        def chisel_register_chisels(self):
            return [Top]

    manager = PluginManager()
    manager._register(manager_source("x"), Plugin)
    assert manager.find("topfiles_bytes").cls is Top
    assert manager.find("topfiles.lua").cls is Top
    with pytest.raises(UsageError) as err:
        manager.find("topfile")
    assert err.value.message == "unknown chisel 'topfile': no installed chisel has that name; " \
                                "did you mean 'topfiles'?"


def manager_source(label):
    from chisel.plugins.manager import PluginSource

    return PluginSource("entrypoint", label, label)


@needs_root
def test_world_writable_folder_is_refused_as_root(tmp_path):
    folder = copy_folder(GOOD, tmp_path / "ww")
    os.chmod(folder, 0o777)
    with pytest.raises(ChiselRuntimeError) as err:
        PluginManager().load_dir(folder)
    assert err.value.message == (f"refusing plugin folder {folder}: writable by group or others while "
                                 f"running as root; run 'chmod go-w {folder}' or move the plugin")


@needs_root
def test_group_writable_file_is_refused_as_root(tmp_path):
    folder = copy_folder(GOOD, tmp_path / "gw")
    target = os.path.join(folder, "count_events.py")
    os.chmod(target, 0o664)
    with pytest.raises(ChiselRuntimeError, match=f"refusing plugin file {target}: writable by group"):
        PluginManager().load_file(target)


@needs_root
def test_file_owned_by_another_user_is_refused_as_root(tmp_path):
    folder = copy_folder(GOOD, tmp_path / "own")
    target = os.path.join(folder, "count_events.py")
    os.chown(target, 65534, 65534)
    with pytest.raises(ChiselRuntimeError, match="owned by uid 65534 while running as root"):
        PluginManager().load_file(target)


@needs_root
def test_file_in_a_sticky_world_writable_folder_is_accepted(tmp_path):
    folder = tmp_path / "sticky"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    shutil.copy(os.path.join(GOOD, "count_events.py"), folder)
    os.chmod(folder / "count_events.py", 0o644)
    manager = PluginManager()
    manager.load_file(str(folder / "count_events.py"))
    assert list(manager.chisels()) == ["count_events"]


@pytest.mark.parametrize("attrs, why", [
    ({"name": None}, "chisel class C has bad name None (lowercase snake_case expected)"),
    ({"category": ""}, "chisel ok has bad category '' (a non-empty string expected)"),
    ({"aliases": "x"}, "chisel ok has bad aliases 'x' (a tuple of names expected)"),
    ({"args": ("top",)}, "chisel ok has bad args ('top',) (a tuple of chisel.plugins.Arg expected)"),
    ({"events": "read"}, "chisel ok has bad events 'read' (a frozenset of evt.type names expected)"),
    ({"fields": "fd.name"}, "chisel ok has bad fields 'fd.name' (a tuple of field names expected)"),
    ({"prefilter": 3}, "chisel ok has bad prefilter 3 (filter text or None expected)"),
    ({"snaplen": -1}, "chisel ok has bad snaplen -1 (a byte count expected)"),
])
def test_metadata_validation(attrs, why):
    cls = type("C", (Chisel,), {"name": "ok", **attrs})
    assert validate_chisel_class(cls) == why


def test_metadata_validation_accepts_a_good_class_and_rejects_non_chisels():
    assert validate_chisel_class(type("C", (Chisel,), {"name": "ok"})) is None
    assert validate_chisel_class(object).endswith("is not a subclass of chisel.plugins.Chisel")


def test_arg_conversion_and_errors():
    top = Arg("top", int, default=10)
    by = Arg("by", str, default="bytes", choices=("bytes", "time"))
    flag = Arg("max_depth", bool)
    assert (top.option, top.convert("5"), by.convert("time")) == ("--top", 5, "time")
    assert (flag.option, flag.default, flag.is_flag, flag.convert("yes")) == ("--max-depth", False, True, True)
    with pytest.raises(UsageError) as err:
        top.convert("ten")
    assert err.value.message == "bad value for --top: 'ten' is not an integer; pass a value such as --top 10"
    with pytest.raises(UsageError) as err:
        by.convert("size")
    assert err.value.message == "bad value for --by: 'size' is not a choice; use one of bytes, time"


def test_chisel_summary_build_args_and_required():
    class Sample(Chisel):
        """Short line. More words here.

        Long help.
        """
        name = "sample"
        args = (Arg("top", int, default=10), Arg("path", str, required=True))

    assert Sample.summary() == "Short line."
    assert Sample.description() == "Short line. More words here.\n\nLong help."
    ns = Sample.build_args({"top": "3", "path": "/x"})
    assert (ns.top, ns.path) == (3, "/x")
    with pytest.raises(UsageError, match=r"^chisel sample needs --path; see 'chisel --info sample'$"):
        Sample.build_args({})
    with pytest.raises(UsageError, match=r"^chisel sample has no argument 'nope'"):
        Sample.build_args({"nope": 1})


def test_chisel_plugins_import_is_light():
    import subprocess
    import sys

    code = ("import sys, chisel.plugins, chisel.plugins.manager, chisel.core.cli;"
            "heavy = [m for m in ('bcc', 'chisel.core.eventmodel', 'chisel.core.event', 'chisel.core.state',"
            " 'chisel.core.filter', 'yaml') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_stale_chisel_path_folder_is_reported_not_fatal(tmp_path):
    missing = str(tmp_path / "gone")
    manager = PluginManager()
    manager.load_path_dirs({"CHISEL_PATH": f"{missing}:{GOOD}"})
    assert "count_events" in manager.chisels()
    assert [b.message() for b in manager.broken] == [f"plugin {missing} skipped: not a directory"]


def test_a_missing_plugin_dir_typed_by_the_user_is_a_usage_error(tmp_path):
    missing = str(tmp_path / "gone")
    with pytest.raises(UsageError) as err:
        PluginManager().load_dir(missing)
    assert err.value.message == (f"bad plugin folder {missing}: not a directory; "
                                 "pass an existing folder of *.py chisels")
