"""The field registry: every field a filter, `-p` format or chisel can name, and `--list-fields`.

`registry()` returns the process-wide `FieldRegistry`, filled with the built-in fields of
`fields_evt.py`, `fields_proc.py`, `fields_fd.py` and `fields_user.py`; plugins add theirs through
the `chisel_register_fields(registry)` hook, which calls `registry.register(FieldDef(...))`.

Field text is resolved once: `lookup('proc.aname[2]')` parses the name and argument and returns
`(FieldDef, arg)`; `extract(ev, text)` caches the resolved getter per text, so the per-event cost
is one dict lookup and the extractor call.

State: the session calls `registry().bind_state(state)` once the `State` exists (see
`fields_base.py`); fields that need more than `ev.thread`/`ev.fd` read it from there. The bound
state is expected to offer `threads`, `users`, `groups`, `parent(thread)`, and for evt.reltime
`first_ts` (the time of the capture's first event that is not a `container` event).

Left out on purpose: `fd.types` (sysdig 0.29.3, our oracle, has no such field: later libs added
it) and `evt.around` (filter only, `=` only: it needs the events on both sides of each one, so a
filter could no longer decide one event at a time).
"""

import difflib
import functools
import re

from . import fields_evt, fields_fd, fields_proc, fields_user
from .errors import UsageError
from .fields_base import BOUND, PADDED_DEC, FieldDef  # noqa: F401 - FieldDef is public API here

__all__ = ("FieldDef", "FieldRegistry", "registry", "PADDED_DEC")

# Field classes in the order --list-fields shows them, with their one-line description.
_BUILTIN_CLASSES = {
    "evt": fields_evt.CLASS_DOC,
    "process": fields_proc.CLASS_DOC,
    "user": fields_user.CLASS_DOCS["user"],
    "group": fields_user.CLASS_DOCS["group"],
    "fd": fields_fd.CLASS_DOC,
}

# What a filter can name: dotted words, the first starting with a letter (sysdig's grammar).
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")
_INDEX_RE = re.compile(r"-?[0-9]+")


class FieldRegistry:
    """Every known field by name, in registration order, with a per-text cache of getters."""

    def __init__(self):
        self._fields = {}
        self._class_docs = {}
        self._getters = {}

    # -- registration --------------------------------------------------------------------------
    def register(self, fielddef, class_doc=None):
        """Add a field; a name already taken, or not dotted words like sysdig's, is a UsageError."""
        if not _NAME_RE.fullmatch(fielddef.name):
            raise UsageError(f"bad field name '{fielddef.name}' (class {fielddef.cls}): a field is "
                             f"dotted words such as 'myplugin.latency'; rename it")
        old = self._fields.get(fielddef.name)
        if old is not None:
            raise UsageError(f"field '{fielddef.name}' (class {fielddef.cls}) is already defined "
                             f"(class {old.cls}); rename the plugin's field")
        self._fields[fielddef.name] = fielddef
        if fielddef.cls not in self._class_docs or class_doc:
            self._class_docs[fielddef.cls] = class_doc or self._class_docs.get(fielddef.cls, "")
        self._getters.clear()

    def bind_state(self, state, renderer=None, snapshot=None):
        """Make `state` (and an `evtinfo.ArgRenderer`, built on it when not given) the one
        extractors read; called by the session once per run. `snapshot` (the source's) gives
        evt.hostname and the interface addresses fd.is_server / fd.lip need."""
        BOUND.bind(state, renderer, snapshot)

    @property
    def state(self):
        return BOUND.state

    # -- lookup --------------------------------------------------------------------------------
    def __contains__(self, name):
        return name in self._fields

    def names(self):
        return list(self._fields)

    def get(self, name):
        """The FieldDef registered under exactly `name`, or None."""
        return self._fields.get(name)

    def lookup(self, text):
        """`(FieldDef, arg)` for a field as written in a filter or format, or UsageError.

        Handles `proc.aname[2]`, `proc.env[HOME]`, `evt.arg[0]`, and the dotted arguments
        `evt.arg.fd`, `evt.rawarg.res`, `evt.type.is.open`. `arg` is an int for an index, a str
        for a name, None when the field takes none (or takes an optional one that was omitted).
        """
        if text.endswith("]") and "[" in text:
            name, _, raw = text[:-1].partition("[")
            fdef = self._named(name, text)
            return fdef, _known_event_arg(fdef, self._parse_arg(fdef, raw, text))
        fdef = self._fields.get(text)
        if fdef is not None:
            if fdef.arg is not None and fdef.arg_required:
                raise UsageError(f"field '{text}' needs an argument, as in {_example(fdef)}")
            return fdef, None
        fdef, arg = self._dotted(text)
        if fdef is not None:
            return fdef, _known_event_arg(fdef, self._parse_arg(fdef, arg, text))
        raise UsageError(self._unknown(text))

    def _named(self, name, text):
        fdef = self._fields.get(name)
        if fdef is None:
            raise UsageError(self._unknown(name))
        if fdef.arg is None:
            raise UsageError(f"field '{name}' takes no argument; drop the brackets in '{text}'")
        return fdef

    def _dotted(self, text):
        """The longest registered prefix taking a name argument, and the rest after its dot."""
        end = len(text)
        while True:
            end = text.rfind(".", 0, end)
            if end <= 0:
                return None, None
            fdef = self._fields.get(text[:end])
            if fdef is not None and fdef.arg in ("name", "any"):
                return fdef, text[end + 1:]

    @staticmethod
    def _parse_arg(fdef, raw, text):
        if raw == "":
            raise UsageError(f"field '{fdef.name}' needs an argument in '{text}', as in "
                             f"{_example(fdef)}")
        if fdef.arg == "index":
            if not _INDEX_RE.fullmatch(raw):
                raise UsageError(f"bad argument for field '{fdef.name}': '{raw}' is not a number; "
                                 f"write it as {_example(fdef)}")
            return int(raw)
        if _INDEX_RE.fullmatch(raw):
            if fdef.arg == "any":
                return int(raw)
            # evt.rawarg[0]: a raw value needs its parameter's name to know its type (sysdig's words)
            raise UsageError(f"evt.arg fields must be expressed explicitly: '{text}' takes a name, "
                             f"not an index; write it as {_example(fdef)}")
        return raw

    def _unknown(self, name):
        near = difflib.get_close_matches(name, self._fields, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else "; see chisel --list-fields"
        return f"unknown field '{name}'{hint}"

    # -- extraction ----------------------------------------------------------------------------
    def getter(self, text):
        """A one-argument callable `f(ev)` computing field `text` (resolved and cached once)."""
        get = self._getters.get(text)
        if get is None:
            fdef, arg = self.lookup(text)
            fn = fdef.extract
            if fdef.arg is None:
                get = fn
            else:
                def get(ev, fn=fn, arg=arg):
                    return fn(ev, arg)
            self._getters[text] = get
        return get

    @property
    def getter_cache(self):
        """The live {field text: getter} dict `getter` fills (`Event.get` reads it to skip a
        call per extraction); callers must not change it."""
        return self._getters

    def text_getter(self, text):
        """A callable `f(ev)` giving field `text` as `-p` prints it (None when absent): padded
        nanoseconds, hex fd.dev, one-decimal proc.fdusage, true/false."""
        fdef, _ = self.lookup(text)
        get, fmt = self.getter(text), fdef.format
        return lambda ev: fmt(get(ev))

    def extract(self, ev, text):
        """The value of field `text` for event `ev`, or None when it does not apply."""
        get = self._getters.get(text)
        if get is None:
            get = self.getter(text)
        return get(ev)

    # -- listing -------------------------------------------------------------------------------
    def classes(self):
        """{class name: [FieldDef]} in --list-fields order (built-in classes first)."""
        out = {}
        for fdef in self._fields.values():
            out.setdefault(fdef.cls, []).append(fdef)
        order = list(_BUILTIN_CLASSES) + [c for c in out if c not in _BUILTIN_CLASSES]
        return {c: out[c] for c in order if c in out}

    def class_doc(self, cls):
        return self._class_docs.get(cls, "")

    def format_field_list(self, markdown=False, verbose=False):
        """The text of `--list-fields`: sysdig -l style, or a Markdown reference for chisel-docs."""
        if markdown:
            return _markdown_list(self)
        return _text_list(self, verbose)


_NAME_COL = 30


# The fields whose name argument is an event parameter's name.
_EVENT_ARG_FIELDS = frozenset({"evt.arg", "evt.rawarg"})


def _known_event_arg(fdef, arg):
    """`arg` unchanged, or UsageError (sysdig's "unknown event argument foo") when `fdef` takes an
    event parameter's name and no event has a parameter called `arg`."""
    if fdef.name not in _EVENT_ARG_FIELDS or not isinstance(arg, str):
        return arg
    names = _event_param_names()
    if arg in names:
        return arg
    near = difflib.get_close_matches(arg, names, n=1)
    hint = f"; did you mean '{fdef.name}.{near[0]}'?" if near else ""
    raise UsageError(f"unknown event argument {arg}{hint}")


@functools.cache
def _event_param_names():
    """Every parameter name any event in the model has."""
    from chisel.core.event import model  # noqa: PLC0415

    return frozenset(p.name for info in model().events if info
                     for p in (*info.params, *info.extra_params))


def _display_name(fdef):
    if fdef.arg == "index":
        return f"{fdef.name}[N]"
    if fdef.arg == "name":
        return f"{fdef.name}.NAME" if fdef.name in ("evt.rawarg", "evt.type.is") else \
            f"{fdef.name}[NAME]"
    if fdef.arg == "any":
        return f"{fdef.name}.NAME|[N]"
    return fdef.name


def _example(fdef):
    if fdef.arg == "index":
        return f"{fdef.name}[1]"
    if fdef.name == "evt.type.is":
        return "evt.type.is.open"
    if fdef.arg in ("name", "any") and fdef.name.startswith("evt."):
        return f"{fdef.name}.fd"
    return f"{fdef.name}[NAME]"


def _describe(fdef):
    prefix = "(filter only) " if fdef.filter_only else ""
    return prefix + fdef.doc


def _text_list(reg, verbose):
    lines = []
    for cls, fdefs in reg.classes().items():
        lines.append("-" * 31)
        lines.append(f"{'Field Class:':<{_NAME_COL}}{cls}")
        doc = reg.class_doc(cls)
        if doc:
            lines.append(f"{'Description:':<{_NAME_COL}}{doc}")
        lines.append("")
        for fdef in fdefs:
            name = _display_name(fdef)
            kind = f"(Type: {fdef.ftype}) " if verbose else ""
            pad = _NAME_COL if len(name) < _NAME_COL else len(name) + 1
            lines.append(f"{name:<{pad}}{kind}{_describe(fdef)}")
        lines.append("")
    return "\n".join(lines)


def _markdown_list(reg):
    lines = ["# Field reference", "",
             "Every field a filter, a `-p` format or a chisel can use, by class. Values are typed:",
             "numbers for numeric types, `true`/`false` for BOOL, text for CHARBUF and IPADDR.", ""]
    for cls, fdefs in reg.classes().items():
        lines.append(f"## {cls}")
        doc = reg.class_doc(cls)
        if doc:
            lines += ["", doc]
        lines += ["", "| Field | Type | Description |", "|---|---|---|"]
        for fdef in fdefs:
            lines.append(f"| `{_display_name(fdef)}` | {fdef.ftype} | {_describe(fdef)} |")
        lines.append("")
    return "\n".join(lines)


_REGISTRY = None


def registry():
    """The process-wide registry with the built-in fields (built on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = FieldRegistry()
        for module in (fields_evt, fields_proc, fields_user, fields_fd):
            for fdef in module.FIELDS:
                reg.register(fdef)
        for cls, doc in _BUILTIN_CLASSES.items():
            reg._class_docs[cls] = doc
        _REGISTRY = reg
    return _REGISTRY
