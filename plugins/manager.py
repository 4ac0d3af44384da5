"""The plugin manager: finds plugins, collects their chisels, and answers "which chisel is NAME?".

Sources, in load order: the `chisel.plugins` entry points (the built-in chisels are one of them, exactly
like a third-party distribution), each folder in `CHISEL_PATH` (colon-separated), each `--plugin-dir`, and
a file the user names in place of a chisel. Nothing is executed from the current directory unless named.

Each plugin is isolated: an import error, bad chisel metadata or an exception in its hook is recorded as a
`BrokenPlugin` (reported by name) and the others load. Running as root, a plugin folder or file writable
by group or others is refused outright. Two chisels answering to one name is an error naming both sources.
"""

import difflib
import hashlib
import importlib.util
import inspect
import os
import re
import stat
import sys
from dataclasses import dataclass

import pluggy

from chisel.core.errors import ChiselRuntimeError, UsageError
from chisel.plugins import hookspecs
from chisel.plugins.api import Arg, Chisel

ENTRY_POINT_GROUP = "chisel.plugins"
BUILTIN_DISTRIBUTION = "chisel"
_CHISEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from: `kind` 'builtin', 'entrypoint', 'file'; `label` as shown to users."""

    kind: str
    label: str
    name: str  # the name `disabled_plugins` matches: entry-point name, distribution or file stem

    @property
    def is_builtin(self):
        return self.kind == "builtin"


@dataclass(frozen=True)
class ChiselEntry:
    """A registered chisel class and the plugin that provided it."""

    cls: type
    source: PluginSource

    @property
    def name(self):
        return self.cls.name


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be used, with the one-line reason."""

    source: PluginSource
    why: str

    def message(self):
        return f"plugin {self.source.label} skipped: {self.why}"


def check_not_writable_by_others(path, what):
    """Refuse `path` when we run as root and group or others may write it (or the folder holding it).

    A root process executing code anyone can change is a privilege escalation waiting to happen.
    """
    if os.geteuid() != 0:
        return
    targets = [path]
    if what == "file":  # whoever may rename entries in the folder may swap the file
        targets.append(os.path.dirname(os.path.abspath(path)))
    for target in targets:
        try:
            st = os.stat(target)
        except OSError as exc:
            raise UsageError(f"cannot read plugin {what} {path}: {exc.strerror}; check the path") from None
        if st.st_uid != 0:
            raise ChiselRuntimeError(
                f"refusing plugin {what} {target}: owned by uid {st.st_uid} while running as root; "
                f"run 'chown root {target}' or move the plugin")
        sticky_dir = target != path and st.st_mode & stat.S_ISVTX  # /tmp: others cannot swap our file
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_dir:
            raise ChiselRuntimeError(
                f"refusing plugin {what} {target}: writable by group or others while running as root; "
                f"run 'chmod go-w {target}' or move the plugin")


def validate_chisel_class(cls):
    """Why `cls` is not a usable chisel class, or None when it is."""
    if not (inspect.isclass(cls) and issubclass(cls, Chisel)) or cls is Chisel:
        return f"{cls!r} is not a subclass of chisel.plugins.Chisel"
    label = getattr(cls, "__qualname__", repr(cls))
    if not isinstance(cls.name, str) or not _CHISEL_NAME.match(cls.name):
        return f"chisel class {label} has bad name {cls.name!r} (lowercase snake_case expected)"
    if not isinstance(cls.category, str) or not cls.category:
        return f"chisel {cls.name} has bad category {cls.category!r} (a non-empty string expected)"
    if isinstance(cls.aliases, str) or not all(isinstance(a, str) and _CHISEL_NAME.match(a)
                                               for a in cls.aliases):
        return f"chisel {cls.name} has bad aliases {cls.aliases!r} (a tuple of names expected)"
    if not all(isinstance(a, Arg) for a in cls.args):
        return f"chisel {cls.name} has bad args {cls.args!r} (a tuple of chisel.plugins.Arg expected)"
    if cls.events is not None and (isinstance(cls.events, str)
                                   or not all(isinstance(e, str) for e in cls.events)):
        return f"chisel {cls.name} has bad events {cls.events!r} (a frozenset of evt.type names expected)"
    if isinstance(cls.fields, str) or not all(isinstance(f, str) for f in cls.fields):
        return f"chisel {cls.name} has bad fields {cls.fields!r} (a tuple of field names expected)"
    if cls.prefilter is not None and not isinstance(cls.prefilter, str):
        return f"chisel {cls.name} has bad prefilter {cls.prefilter!r} (filter text or None expected)"
    if cls.snaplen is not None and (not isinstance(cls.snaplen, int) or cls.snaplen < 0):
        return f"chisel {cls.name} has bad snaplen {cls.snaplen!r} (a byte count expected)"
    return None


def _module_name_for(path):
    """A unique, stable module name for a plugin file, so two folders may hold files of one name."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    return f"chisel_plugin_{digest}_{stem}"


class PluginManager:
    """Loads plugins into a pluggy manager (project `chisel`) and indexes their chisels by name and alias.

    `disabled` names plugins to skip (entry-point name, distribution name or file stem).
    """

    def __init__(self, disabled=()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = frozenset(disabled)
        self.broken = []
        self._sources = {}  # pluggy plugin name -> PluginSource
        self._chisels = None  # name -> ChiselEntry, built lazily
        self._aliases = {}

    @property
    def hook(self):
        """The pluggy hook relay, for lifecycle hooks (`manager.hook.chisel_session_start(...)`)."""
        return self.pm.hook

    # -- discovery ------------------------------------------------------------------------------

    def load_entry_points(self):
        """Load every `chisel.plugins` entry point; the built-in chisels come in this way too."""
        from importlib.metadata import entry_points  # noqa: PLC0415 - cost paid only here

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.dist is None, e.name)):
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else ""
            if dist == BUILTIN_DISTRIBUTION:
                source = PluginSource("builtin", "built-in", ep.name)
            else:
                source = PluginSource("entrypoint", f"{dist or ep.name} {version}".strip(), dist or ep.name)
            if {ep.name, dist} & self.disabled:
                continue
            self._register(source, ep.load)

    def load_path_dirs(self, env=None):
        """Load the plugin folders named in `CHISEL_PATH` (colon-separated; empty entries ignored)."""
        value = (os.environ if env is None else env).get("CHISEL_PATH", "")
        for folder in value.split(":"):
            if folder:
                self.load_dir(folder, missing_ok=True)

    def load_dir(self, folder, missing_ok=False):
        """Load each `*.py` in `folder` (not files starting with '_', not sub-folders).

        A missing folder the user typed (`--plugin-dir`) is a usage error; one from CHISEL_PATH or the
        settings file (`missing_ok`) is reported as a skipped plugin source, so a stale entry there
        does not break every command.
        """
        if not os.path.isdir(folder):
            if missing_ok:
                self.broken.append(BrokenPlugin(PluginSource("folder", folder, os.path.basename(folder)),
                                                "not a directory"))
                return
            raise UsageError(f"bad plugin folder {folder}: not a directory; "
                             "pass an existing folder of *.py chisels")
        check_not_writable_by_others(folder, "folder")
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".py") and not entry.startswith("_"):
                self.load_file(os.path.join(folder, entry))

    def load_file(self, path):
        """Load one plugin file; returns its PluginSource (None when disabled)."""
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise UsageError(f"bad chisel file {path}: no such file; check the path")
        check_not_writable_by_others(path, "file")
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in self.disabled:
            return None
        source = PluginSource("file", path, stem)
        if any(s.label == path for s in self._sources.values()):
            return source  # named twice (CHISEL_PATH and --plugin-dir): load once
        self._register(source, lambda: self._import_file(path))
        return source

    @staticmethod
    def _import_file(path):
        name = _module_name_for(path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module

    def _register(self, source, load):
        """Import a plugin through `load()` and register it; a failure makes it a BrokenPlugin."""
        self._chisels = None
        try:
            plugin = load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - third-party code: reported, not fatal
            # SystemExit too: a plugin calling sys.exit() at import must not end chisel silently.
            self.broken.append(BrokenPlugin(source, f"import failed: {type(exc).__name__}: {exc}"))
            return
        name = f"{source.kind}:{source.label}"
        if self.pm.is_registered(plugin):
            return
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self.broken.append(BrokenPlugin(source, f"bad hooks: {exc}"))
            return
        self._sources[name] = source

    # -- chisels --------------------------------------------------------------------------------

    def _provided_classes(self, plugin_name):
        """The chisel classes one plugin provides: its hook's answer, else the Chisel classes it defines."""
        plugin = self.pm.get_plugin(plugin_name)
        impls = [i for i in self.pm.hook.chisel_register_chisels.get_hookimpls()
                 if i.plugin_name == plugin_name]
        if impls:
            found = []
            for impl in impls:
                found.extend(impl.function() or ())
            return found
        if self._sources[plugin_name].kind != "file":
            return []
        # A quick script needs no hook: every Chisel subclass defined in the file counts.
        return [obj for obj in vars(plugin).values()
                if inspect.isclass(obj) and issubclass(obj, Chisel) and obj is not Chisel
                and obj.__module__ == plugin.__name__]

    def chisels(self):
        """{name: ChiselEntry} for every usable chisel; a name clash raises UsageError naming both."""
        if self._chisels is not None:
            return self._chisels
        table, aliases = {}, {}
        for plugin_name, source in list(self._sources.items()):
            try:
                classes = self._provided_classes(plugin_name)
                problems = [p for p in map(validate_chisel_class, classes) if p]
            except Exception as exc:  # noqa: BLE001 - a plugin's hook may raise anything
                self.broken.append(BrokenPlugin(source, f"chisel_register_chisels raised "
                                                        f"{type(exc).__name__}: {exc}"))
                continue
            if problems:
                self.broken.append(BrokenPlugin(source, f"bad metadata: {problems[0]}"))
                continue
            for cls in classes:
                entry = ChiselEntry(cls, source)
                for word in (cls.name, *cls.aliases):
                    other = table.get(word) or aliases.get(word)
                    if other is not None and other.cls is not cls:
                        raise UsageError(
                            f"chisel name clash: '{word}' is defined by {other.source.label} "
                            f"({other.cls.__module__}.{other.cls.__qualname__}) and by {source.label} "
                            f"({cls.__module__}.{cls.__qualname__}); disable or rename one of them")
                table[cls.name] = entry
                for alias in cls.aliases:
                    aliases[alias] = entry
        self._chisels, self._aliases = table, aliases
        return table

    def find(self, name):
        """The ChiselEntry for `name` (a chisel name or a sysdig alias; a trailing '.lua' is ignored).

        Unknown names raise UsageError with a did-you-mean.
        """
        table = self.chisels()
        word = name[:-4] if name.endswith(".lua") else name
        entry = table.get(word) or self._aliases.get(word)
        if entry is not None:
            return entry
        near = difflib.get_close_matches(word, [*table, *self._aliases], n=1)
        hint = f"did you mean '{near[0]}'?" if near else "run 'chisel --list' to see them"
        raise UsageError(f"unknown chisel '{name}': no installed chisel has that name; {hint}")

    def call_isolated(self, hook_name, warn, **kwargs):
        """Call a lifecycle hook one implementation at a time; the answers as a list (None dropped).

        pluggy stops at the first implementation that raises; here a failing plugin is reported through
        `warn(message)` by name and the others still run. `UsageError` passes through (a plugin's
        `chisel_configure` rejecting a setting is the user's error, not the plugin's).
        """
        results = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            wanted = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                result = impl.function(**wanted)
            except UsageError:
                raise
            except Exception as exc:  # noqa: BLE001 - isolate the plugin
                label = self._sources.get(impl.plugin_name)
                warn(f"plugin {label.label if label else impl.plugin_name} failed in {hook_name}: "
                     f"{type(exc).__name__}: {exc}")
                continue
            if result is not None:
                results.append(result)
        return results

    def chisels_of_file(self, source):
        """The chisel entries a file plugin provided (for `chisel ./mine.py`)."""
        return [e for e in self.chisels().values() if e.source == source]


def load_plugins(plugin_dirs=(), disabled=(), env=None, settings_dirs=()):
    """A PluginManager with entry points, CHISEL_PATH folders, the settings file's `settings_dirs` and
    `plugin_dirs` (from --plugin-dir) loaded, in that order."""
    manager = PluginManager(disabled=disabled)
    manager.load_entry_points()
    manager.load_path_dirs(env)
    for folder in settings_dirs:
        manager.load_dir(folder, missing_ok=True)
    for folder in plugin_dirs:
        manager.load_dir(folder)
    return manager
