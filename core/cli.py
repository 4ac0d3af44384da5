"""The `chisel` command: argv to a run. The only module that prints errors and chooses the exit code.

    chisel [OPTIONS] [NAME | FILE.py] [CHISEL OPTIONS] [FILTER ...] [-- COMMAND [ARGS]]

Parsing happens in two passes. The first takes the global options (wherever they appear) so the
settings file and the plugins can be loaded; the second reads the chisel name, that chisel's own
options (built from its `Arg`s) and the filter words. Nothing on the `--list`/`--info` path imports
the event model, the filter or bcc.
"""

import argparse
import difflib
import os
import sys
import textwrap

from chisel.core.errors import ChiselError, ExitCode, UsageError

PROG = "chisel"
LIST_NAME_WIDTH = 16  # sysdig -cl: names padded to 16, descriptions wrapped at 63
LIST_DESC_WIDTH = 63
INFO_WIDTH = 79
BUFFER_FLAGS = {"-A": "ascii", "-x": "hex", "-X": "hexascii", "-b": "base64"}
# A first word holding one of these reads as a filter, not as a chisel name.
FILTER_MARKS = ("=", "<", ">", "(", ")", "!")
FILTER_WORDS = frozenset({"and", "or", "not", "contains", "icontains", "startswith", "endswith",
                          "glob", "pmatch", "in", "exists", "intersects", "bcontains", "bstartswith"})
# A word followed by one of these is a field: the first word of a filter.
COMPARISON_MARKS = ("=", "!=", "<", ">")
COMPARISON_WORDS = FILTER_WORDS - {"and", "or", "not"} | {"iglob", "regex"}
FIELD_CLASSES = frozenset({"evt", "proc", "thread", "fd", "fdlist", "user", "group", "syslog",
                           "container", "k8s", "span", "mesos", "proc_group", "fs"})

EXAMPLES = """\
examples:
  chisel --list                          the chisels, by category
  chisel --info topfiles                 one chisel's description and options
  chisel                                 print every event, as sysdig does
  chisel evt.type=connect and fd.port=80 print the events matching a filter
  chisel -r trace.scap -j                replay a capture, events as JSON
  chisel echo_fds fd.name=/etc/passwd    the data processes read and write
  chisel topfiles --top 5 --by time      top files by I/O latency
  chisel netconns -- curl -s example.com trace one command and its children
  chisel ./mychisel.py proc.name=nginx   run a chisel from a file, no packaging
"""


def _positive_int(what):
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise UsageError(f"bad value for {what}: {text!r} is not a positive integer; "
                             f"pass a count such as {what} 10")
        return value
    return convert


def _non_negative_int(what):
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise UsageError(f"bad value for {what}: {text!r} is not a byte count; "
                             f"pass a value such as {what} 2000")
        return value
    return convert


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"bad value for -M: {text!r} is not a positive number of seconds; "
                         "pass a duration such as -M 10")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but errors become one `UsageError` line instead of usage text and exit."""

    def error(self, message):
        raise UsageError(f"{message}; run 'chisel --help' for usage")


def build_parser(plugins=None, warn=None):
    """The parser of the global options; plugins may add theirs through `chisel_add_options`.

    Each plugin's hook runs on its own: one that fails (an option clashing with ours, say) is
    reported through `warn` by name and its options are left out.
    """
    p = _Parser(prog=PROG, add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                usage="chisel [OPTIONS] [NAME | FILE.py] [CHISEL OPTIONS] [FILTER ...] [-- COMMAND [ARGS]]",
                description="Capture system calls live with eBPF, or replay a sysdig capture, and run a "
                            "chisel over them.",
                epilog=EXAMPLES)
    info = p.add_argument_group("chisels")
    info.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    info.add_argument("--version", action="store_true", help="show the version and exit")
    info.add_argument("--list", action="store_true", help="list the chisels by category")
    info.add_argument("--info", metavar="NAME", help="describe one chisel and its options")
    info.add_argument("--list-fields", action="store_true", help="list the filter and -p fields")
    info.add_argument("--markdown", action="store_true", help="with --list-fields: Markdown output")
    info.add_argument("--plugin-dir", action="append", default=[], metavar="DIR",
                      help="load chisels from each *.py in DIR (repeatable)")
    src = p.add_argument_group("capture")
    src.add_argument("-r", dest="read_path", metavar="FILE", help="read events from a capture file")
    src.add_argument("-w", dest="write_path", metavar="FILE", help="write the events to a capture file")
    src.add_argument("-n", dest="count", type=_positive_int("-n"), metavar="N",
                     help="stop after N events matching the filter")
    src.add_argument("-M", dest="duration_s", type=_positive_seconds, metavar="SECONDS",
                     help="stop after SECONDS of event time")
    src.add_argument("-s", dest="snaplen", type=_non_negative_int("-s"), metavar="SNAPLEN",
                     help="bytes of I/O data to capture per event")
    src.add_argument("--pid", dest="pids", action="append", type=_positive_int("--pid"), default=[],
                     metavar="PID", help="only this process and its descendants (repeatable)")
    src.add_argument("--no-kernel-agg", dest="kernel_agg", action="store_false", default=None,
                     help="live: send every read/write to the chisel even when it could take byte "
                          "totals added up in the kernel")
    src.add_argument("--enter-probes", action="store_true", default=False,
                     help="live: attach the enter tracepoint of every traced syscall, so enter events "
                          "carry their own time even when the chisels would not need it (two "
                          "tracepoint hits per call instead of one)")
    src.add_argument("--prepare-probes", action="store_true", default=False,
                     help="live: compile the BPF probes this command line needs into the cache and "
                          "exit, so its next start skips the compile (set-up runs it for the built-ins)")
    out = p.add_argument_group("output")
    out.add_argument("-j", dest="json", action="store_true", default=None, help="JSON output")
    out.add_argument("-p", dest="print_format", metavar="FORMAT", help="print events in this format")
    out.add_argument("--format", dest="output_format", metavar="NAME",
                     help="event output: text, json, or a format a plugin provides")
    for flag, fmt in BUFFER_FLAGS.items():
        out.add_argument(flag, dest="buffer_format", action="store_const", const=fmt,
                         help=f"print I/O buffers as {fmt}")
    out.add_argument("--no-color", dest="color", action="store_const", const=False,
                     help="never colour the output")
    out.add_argument("--debug", action="store_true", default=None, help="show tracebacks on errors")
    if plugins is not None:
        plugins.call_isolated("chisel_add_options", warn, parser=p)
    return p


def split_global_options(argv, parser):
    """(global option tokens, other tokens, command after '--'), keeping the others in order."""
    actions = parser._option_string_actions  # noqa: SLF001 - the option table argparse already built
    globals_, rest, command = [], [], ()
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            command = tuple(argv[i + 1:])
            break
        name, attached = tok, None
        if tok.startswith("--") and "=" in tok:
            name, attached = tok.split("=", 1)
        elif tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 and tok[:2] in actions:
            name, attached = tok[:2], tok[2:]
        action = actions.get(name)
        if action is None:
            rest.append(tok)
        elif action.nargs == 0:
            globals_.append(name)
        elif attached is not None:
            globals_.extend((name, attached))
        elif i + 1 < len(argv):
            globals_.extend((name, argv[i + 1]))
            i += 1
        else:
            raise UsageError(f"option {name} needs a value; run 'chisel --help' for usage")
        i += 1
    return globals_, rest, command


def reads_as_filter(word):
    """True when a first positional word starts a filter rather than naming a chisel: it holds an
    operator mark or a filter keyword, or it starts with a field class or a filter alias
    (`file.name contains /etc`, given as one word or several)."""
    tokens = word.split()
    if any(mark in word for mark in FILTER_MARKS) or any(t.lower() in FILTER_WORDS for t in tokens):
        return True
    first = tokens[0] if tokens else word
    if "." in first and first.split(".", 1)[0] in FIELD_CLASSES:
        return True
    return "." in first and any(first == alias or first.startswith((alias + ".", alias + "["))
                                for alias in _filter_aliases())


def _operator_follows(tokens, i):
    """True when the token after `tokens[i]` is a comparison operator, so `tokens[i]` is a field
    (a plugin's too: `myplugin.count > 3`), not a chisel name."""
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    return nxt.startswith(COMPARISON_MARKS) or nxt.lower() in COMPARISON_WORDS


def _filter_aliases():
    """The filter's field aliases; imported late because the filter package is off the --list path."""
    from chisel.core.filter.compile import ALIASES  # noqa: PLC0415

    return ALIASES


def reads_as_path(word):
    """True when a word names a chisel file (`./mine.py`, `/opt/x.py`, `mine.py`)."""
    return word.endswith(".py") or os.sep in word


def parse_chisel_words(rest, find_chisel_args, global_options=()):
    """(chisel ref or None, {arg name: value}, filter text) from the non-global tokens.

    `find_chisel_args(ref)` returns the chisel's `args` (tuple of Arg) and its name, resolving and
    loading it; it is called once, when the first positional names a chisel.
    """
    ref, name, values, words = None, None, {}, []
    by_option = {}
    i = 0
    while i < len(rest):
        tok = rest[i]
        is_option = tok.startswith("-") and len(tok) > 1 and not tok[1:2].isdigit()
        if is_option and not words:
            if ref is None:
                raise _unknown_option(tok.partition("=")[0], global_options)
            opt, _, attached = tok.partition("=")
            arg = by_option.get(opt)
            if arg is None:
                raise _unknown_option(opt, by_option, name)
            if arg.is_flag:
                value = arg.convert(attached) if attached else True
                values[arg.name] = not value if opt.startswith("--no-") and opt != arg.option else value
            elif attached or "=" in tok:
                values[arg.name] = arg.convert(attached)
            elif i + 1 < len(rest):
                values[arg.name] = arg.convert(rest[i + 1])
                i += 1
            else:
                raise UsageError(f"option {opt} of chisel {name} needs a value; "
                                 f"see 'chisel --info {name}'")
        elif ref is None and not words and not reads_as_filter(tok) and not _operator_follows(rest, i):
            ref = tok
            args, name = find_chisel_args(tok)  # a flag that defaults to true is turned off by --no-NAME
            by_option = {a.option: a for a in args}
            by_option.update({f"--no-{a.option[2:]}": a for a in args if a.is_flag and a.default})
        else:
            if is_option and words and tok in by_option:
                raise UsageError(f"option {tok} must come before the filter: the filter is everything "
                                 f"after the first filter word; move {tok} before '{words[0]}'")
            words.append(tok)
        i += 1
    return ref, values, " ".join(words)


def _unknown_option(opt, known, chisel=None):
    near = difflib.get_close_matches(opt, list(known), n=1)
    hint = f"did you mean '{near[0]}'?" if near else (
        f"see 'chisel --info {chisel}'" if chisel else "run 'chisel --help' for usage")
    where = f" for chisel {chisel}" if chisel else ""
    return UsageError(f"unknown option '{opt}'{where}; {hint}")


# -- listing ---------------------------------------------------------------------------------------


def _wrap(text, width):
    """Descriptions wrapped at sysdig's width; sysdig cuts mid-word, we break between words."""
    return textwrap.wrap(text, width) or [""]


def _listing_row(entry):
    """A chisel's rows in the listing; a third-party chisel gets its source on a line of its own."""
    lines = []
    desc = _wrap(entry.cls.summary(), LIST_DESC_WIDTH)
    pad = " " * LIST_NAME_WIDTH
    if len(entry.name) >= LIST_NAME_WIDTH:
        lines.append(entry.name)
        lines.append(pad + desc[0])
    else:
        lines.append(entry.name.ljust(LIST_NAME_WIDTH) + desc[0])
    lines.extend(pad + part for part in desc[1:])
    if not entry.source.is_builtin:
        lines.append(f"{pad}[{entry.source.label}]")
    return lines


def _category_block(category):
    heading = f"Category: {category}"
    return ["", heading, "-" * len(heading)]


def format_listing(entries):
    """`chisel --list`: sysdig's -cl layout, categories and names in byte order."""
    lines = []
    current = None
    for entry in sorted(entries, key=lambda e: (e.cls.category.encode(), e.name.encode())):
        if entry.cls.category != current:
            current = entry.cls.category
            lines.extend(_category_block(current))
        lines.extend(_listing_row(entry))
    lines.extend(["", "Use 'chisel --info NAME' to get detailed information about a specific chisel"])
    return lines


def format_info(entry):
    """`chisel --info NAME`: category block, summary row, long help, aliases, source and options."""
    cls = entry.cls
    lines = _category_block(cls.category) + _listing_row(entry) + [""]
    for para in cls.description().split("\n\n")[1:] or [cls.description()]:
        lines.extend(textwrap.wrap(" ".join(para.split()), INFO_WIDTH) + [""])
    if cls.aliases:
        lines.append(f"Aliases: {', '.join(cls.aliases)}")
    lines.append(f"Source: {entry.source.label}")
    lines.append("Args:")
    if not cls.args:
        lines.append("(None)")
    for arg in cls.args:
        value = "" if arg.is_flag else f" {arg.name.upper()}"
        extras = []
        if arg.default is not None and not arg.is_flag:
            extras.append(f"default {arg.default}")
        if arg.choices:
            extras.append(f"one of {', '.join(map(str, arg.choices))}")
        if arg.required:
            extras.append("required")
        text = arg.help + (f" ({'; '.join(extras)})" if extras else "")
        wrapped = textwrap.wrap(f"[{arg.type_name}] {arg.option}{value} - {text}", INFO_WIDTH,
                                subsequent_indent=" " * LIST_NAME_WIDTH)
        lines.extend(wrapped)
    return lines


# -- main ------------------------------------------------------------------------------------------


class _Cli:
    """One invocation: parses, loads settings and plugins, answers --list/--info or runs a Session."""

    def __init__(self, argv, stdout, stderr, env):
        self.argv, self.stdout, self.stderr, self.env = argv, stdout, stderr, env
        self.plugins = None

    def warn(self, message):
        print(f"chisel: warning: {message}", file=self.stderr)

    def run(self):
        from chisel.core.config import RunConfig, load_settings  # noqa: PLC0415

        bare = build_parser()
        globals_, rest, command = split_global_options(self.argv, bare)
        early = bare.parse_args(globals_)
        if early.help and not self._names_a_chisel(rest):
            bare.print_help(self.stdout)
            return ExitCode.OK
        settings = load_settings(env=self.env)
        self.plugins = self._load_plugins(settings, early.plugin_dir)
        if early.version:
            self._print_version()
            return ExitCode.OK
        parser = build_parser(self.plugins, self.warn)
        globals_, rest, command = split_global_options(self.argv, parser)  # plugins' options too
        opts = parser.parse_args(globals_)
        if opts.list_fields:
            return self._list_fields(opts.markdown)
        if opts.list:
            self._report_broken(self.plugins.chisels())
            self.stdout.write("".join(f"{ln}\n" for ln in format_listing(self.plugins.chisels().values())))
            return ExitCode.OK
        if opts.info is not None or opts.help:  # `chisel topfiles --help` is `chisel --info topfiles`
            entry = self._resolve(opts.info if opts.info is not None else rest[0])
            self._report_broken(self.plugins.chisels())
            self.stdout.write("".join(f"{ln}\n" for ln in format_info(entry)))
            return ExitCode.OK

        resolved = {}

        def find_chisel_args(ref):
            resolved["entry"] = entry = self._resolve(ref)
            return entry.cls.args, entry.name

        _ref, arg_values, filter_text = parse_chisel_words(
            rest, find_chisel_args, [o for o in parser._option_string_actions if o.startswith("--")])
        self._report_broken(self.plugins.chisels())
        defaults = settings.options
        config = RunConfig(
            chisel=resolved["entry"].name if resolved else None,
            filter_text=filter_text,
            read_path=opts.read_path, write_path=opts.write_path, count=opts.count,
            duration_s=opts.duration_s,
            json=_first(opts.json, opts.output_format == "json" or None, defaults.get("json"), False),
            print_format=_first(opts.print_format, defaults.get("print_format")),
            output_format=opts.output_format,
            snaplen=_first(opts.snaplen, defaults.get("snaplen")),
            buffer_format=_first(opts.buffer_format, defaults.get("buffer_format"), "normal"),
            pids=tuple(opts.pids), command=command, plugin_dirs=tuple(opts.plugin_dir),
            disabled_plugins=tuple(settings.disabled_plugins),
            debug=_first(opts.debug, defaults.get("debug"), False),
            color=_first(opts.color, defaults.get("color")),
            kernel_agg=opts.kernel_agg is not False,
            enter_probes=opts.enter_probes,
            prepare_probes=opts.prepare_probes,
            options=vars(opts),
        )
        self.plugins.call_isolated("chisel_configure", self.warn, config=config)
        from chisel.core.session import Session  # noqa: PLC0415 - the heavy path starts here

        chisels, chisel_args = [], {}
        if resolved:
            entry = resolved["entry"]
            chisels.append(entry)
            chisel_args[entry.name] = {**settings.chisel_args.get(entry.name, {}), **arg_values}
        session = Session(config, self.plugins, chisels, chisel_args, stdout=self.stdout, stderr=self.stderr)
        return session.run()

    def _print_version(self):
        """`chisel X.Y.Z` and, as pytest does, the third-party plugins loaded (for bug reports)."""
        from importlib.metadata import version  # noqa: PLC0415

        print(f"chisel {version('chisel')}", file=self.stdout)
        labels = sorted({e.source.label for e in self.plugins.chisels().values() if not e.source.is_builtin})
        if labels:
            print(f"plugins: {', '.join(labels)}", file=self.stdout)

    @staticmethod
    def _names_a_chisel(rest):
        """True when the first non-global word is a chisel name or file (for `chisel NAME --help`)."""
        return bool(rest) and not rest[0].startswith("-") and not reads_as_filter(rest[0])

    def _load_plugins(self, settings, cli_dirs):
        from chisel.plugins.manager import load_plugins  # noqa: PLC0415

        return load_plugins(plugin_dirs=cli_dirs, disabled=settings.disabled_plugins, env=self.env,
                            settings_dirs=settings.plugin_dirs)

    def _resolve(self, ref):
        """The ChiselEntry for a name, an alias or a path to a `.py` file."""
        if not reads_as_path(ref):
            return self.plugins.find(ref)
        source = self.plugins.load_file(ref)
        broken = [b for b in self.plugins.broken if b.source == source]
        if broken:
            raise UsageError(f"cannot load chisel file {ref}: {broken[0].why}; fix the file")
        found = self.plugins.chisels_of_file(source)
        if len(found) != 1:
            what = "defines no chisel" if not found else \
                f"defines {len(found)} chisels ({', '.join(e.name for e in found)})"
            raise UsageError(f"cannot run {ref}: it {what}; a chisel file must define exactly one "
                             "Chisel subclass (or put it in a --plugin-dir and name the chisel)")
        return found[0]

    def _report_broken(self, _chisels):
        for broken in self.plugins.broken:
            self.warn(broken.message())

    def _list_fields(self, markdown):
        from chisel.core.fields import registry  # noqa: PLC0415

        reg = registry()
        self.plugins.call_isolated("chisel_register_fields", self.warn, registry=reg)
        text = reg.format_field_list(markdown=markdown)
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        return ExitCode.OK


def _first(*values):
    """The first value that is not None (command line, then settings file, then default)."""
    return next((v for v in values if v is not None), None)


def report_error(exc, stderr, debug=False):
    """Print a ChiselError as the one-line `chisel: error: ...` (plus its detail lines); its exit code."""
    print(f"{PROG}: error: {exc.message}", file=stderr)
    for line in exc.detail_lines:
        print(line, file=stderr)
    if debug:
        import traceback  # noqa: PLC0415

        traceback.print_exception(exc, file=stderr)
    return int(exc.exit_code)


def main(argv=None, stdout=None, stderr=None, env=None):
    """Entry point of the `chisel` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    try:
        return int(_Cli(argv, stdout, stderr, os.environ if env is None else env).run())
    except ChiselError as exc:
        return report_error(exc, stderr, debug)
    except BrokenPipeError:
        _silence_stdout()
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        return int(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug:
            raise
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {exc}; rerun with --debug and "
              "report the traceback", file=stderr)
        return int(ExitCode.FAILURE)


def _silence_stdout():
    """After the reader of stdout went away (`chisel ... | head`): no flush error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
