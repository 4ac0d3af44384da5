"""Run configuration: the settings file (`~/.config/chisel/config.yaml` or `CHISEL_CONFIG`) and `RunConfig`.

The settings file holds defaults, never commands:

    options:                 # default global options, by long name
      snaplen: 256
      debug: false
    plugin_dirs: [/opt/chisels]
    disabled_plugins: [hello]
    chisels:                 # default arguments per chisel
      topfiles: {top: 20}

A bad key or value is one `UsageError` naming the file and the line.
"""

import os
from dataclasses import dataclass, field

from chisel.core.errors import UsageError

# Options the settings file may default, with the Python type each must have.
OPTION_TYPES = {
    "snaplen": int,
    "debug": bool,
    "json": bool,
    "print_format": str,
    "buffer_format": str,
    "color": bool,
}
BUFFER_FORMATS = ("normal", "ascii", "hex", "hexascii", "base64")
TOP_LEVEL_KEYS = ("options", "plugin_dirs", "disabled_plugins", "chisels")


@dataclass
class Settings:
    """What the settings file says (all empty when there is no file)."""

    path: str = None
    options: dict = field(default_factory=dict)
    plugin_dirs: list = field(default_factory=list)
    disabled_plugins: list = field(default_factory=list)
    chisel_args: dict = field(default_factory=dict)


@dataclass
class RunConfig:
    """Everything one run needs, parsed from the command line over the settings file's defaults.

    `chisel` is a chisel name, a path to a `.py` chisel file, or None (print events).
    `chisel_args` holds {arg name: text or value}; `filter_text` the joined positional words.
    """

    chisel: str = None
    chisel_args: dict = field(default_factory=dict)
    filter_text: str = ""
    read_path: str = None
    write_path: str = None
    count: int = None
    duration_s: float = None
    json: bool = False
    print_format: str = None
    output_format: str = None  # --format: 'text', 'json' or one a plugin's chisel_get_renderer knows
    snaplen: int = None
    buffer_format: str = "normal"
    pids: tuple = ()
    command: tuple = ()
    plugin_dirs: tuple = ()
    disabled_plugins: tuple = ()
    debug: bool = False
    color: bool = None
    progress: bool = None  # None: only when replaying to a terminal
    kernel_agg: bool = True  # False (--no-kernel-agg): never add up I/O in the kernel
    enter_probes: bool = False  # --enter-probes: every traced syscall keeps its enter tracepoint
    prepare_probes: bool = False  # --prepare-probes: compile the probes into the cache, run nothing
    options: dict = field(default_factory=dict)  # every parsed global option, plugins' own included


def settings_path(env=None):
    """The settings file to read: CHISEL_CONFIG, else ~/.config/chisel/config.yaml (XDG_CONFIG_HOME wins)."""
    env = os.environ if env is None else env
    if env.get("CHISEL_CONFIG"):
        return env["CHISEL_CONFIG"]
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "chisel", "config.yaml")


def load_settings(path=None, env=None):
    """Settings from `path` (default `settings_path()`); a missing default file means empty settings.

    A file named by CHISEL_CONFIG must exist.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("CHISEL_CONFIG"))
    path = path or settings_path(env)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        if explicit:
            raise UsageError(f"bad settings file {path}: no such file; "
                             "fix CHISEL_CONFIG or create the file") from None
        return Settings()
    except OSError as exc:
        raise UsageError(f"bad settings file {path}: {exc.strerror}; check its permissions") from None
    return parse_settings(text, path)


def parse_settings(text, path):
    """Settings from YAML `text`; errors name `path` and the line of the offending key or value."""
    import yaml  # noqa: PLC0415 - only runs when a settings file exists

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"bad settings file {path}:{line}: {problem}; fix the YAML syntax") from None
    settings = Settings(path=path)
    if root is None:
        return settings
    reader = _NodeReader(path)
    for key_node, value_node in reader.mapping(root, "the top level"):
        key = key_node.value
        if key == "options":
            settings.options = _read_options(reader, value_node)
        elif key == "plugin_dirs":
            settings.plugin_dirs = [os.path.expanduser(d) for d in reader.string_list(value_node, key)]
        elif key == "disabled_plugins":
            settings.disabled_plugins = reader.string_list(value_node, key)
        elif key == "chisels":
            settings.chisel_args = _read_chisel_args(reader, value_node)
        else:
            reader.fail(key_node, f"unknown key '{key}'", f"use one of {', '.join(TOP_LEVEL_KEYS)}")
    return settings


def _read_options(reader, node):
    options = {}
    for key_node, value_node in reader.mapping(node, "options"):
        name = key_node.value
        wanted = OPTION_TYPES.get(name)
        if wanted is None:
            reader.fail(key_node, f"unknown option '{name}'", f"use one of {', '.join(OPTION_TYPES)}")
        value = reader.scalar(value_node, wanted, f"options.{name}")
        if name == "buffer_format" and value not in BUFFER_FORMATS:
            reader.fail(value_node, f"bad value for options.buffer_format: '{value}'",
                        f"use one of {', '.join(BUFFER_FORMATS)}")
        if name == "snaplen" and value < 0:
            reader.fail(value_node, "bad value for options.snaplen: it is negative", "use a byte count")
        options[name] = value
    return options


def _read_chisel_args(reader, node):
    result = {}
    for key_node, value_node in reader.mapping(node, "chisels"):
        args = {}
        for arg_key, arg_value in reader.mapping(value_node, f"chisels.{key_node.value}"):
            args[arg_key.value] = reader.scalar(arg_value, None, f"chisels.{key_node.value}.{arg_key.value}")
        result[key_node.value] = args
    return result


class _NodeReader:
    """Reads YAML nodes with their line numbers, failing with the file and line."""

    def __init__(self, path):
        self.path = path

    def fail(self, node, what, todo):
        raise UsageError(f"bad settings file {self.path}:{node.start_mark.line + 1}: {what}; {todo}")

    def mapping(self, node, where):
        import yaml  # noqa: PLC0415

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where} must be a mapping", "write 'key: value' lines")
        return node.value

    def string_list(self, node, where):
        import yaml  # noqa: PLC0415

        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{where} must be a list", "write it as [a, b]")
        return [self.scalar(item, str, where) for item in node.value]

    def scalar(self, node, wanted, where):
        """The Python value of a scalar node; `wanted` (a type or None for any scalar) is checked."""
        import yaml  # noqa: PLC0415

        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{where} must be a single value", "remove the nesting")
        value = yaml.safe_load(yaml.serialize(node))
        if wanted is None:
            return value
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if wanted is str and value is not None and not isinstance(value, str):
            value = str(value)
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            self.fail(node, f"bad value for {where}: {value!r} is not {_TYPE_WORDS[wanted]}",
                      f"write {where.split('.')[-1]}: {_EXAMPLES[wanted]}")
        return value


_TYPE_WORDS = {int: "an integer", bool: "true or false", str: "a string", float: "a number"}
_EXAMPLES = {int: "256", bool: "true", str: "text", float: "1.5"}
