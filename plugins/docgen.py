"""Generate the reference pages of chisel-docs/ from the code: fields from the field registry, hooks from
the hook specs. `python -m chisel.plugins.docgen [DIR]` rewrites `DIR/fields.md` and `DIR/hooks.md`;
a test checks the committed pages equal what this prints, so the references never drift from the code.
"""

import inspect
import sys
from pathlib import Path

from chisel.plugins import hookspecs

HOOKS_INTRO = """# Hook reference

chisel's plugin system is [pluggy](https://pluggy.readthedocs.io) under the project name `chisel`.
A plugin is a module with functions decorated by `chisel.plugins.hookimpl`, found through the
`chisel.plugins` entry-point group, a `--plugin-dir` folder, `CHISEL_PATH` or a path given as the chisel
name. Hooks are called with keyword arguments, so an implementation may accept fewer parameters than the
spec. Hooks cover the lifecycle only: per-event calls go straight to a chisel's `on_event` method.

Generated from `plugins/hookspecs.py` by `python -m chisel.plugins.docgen`.
"""


def hook_specs():
    """(name, function, spec options) of every hook spec, in source order."""
    specs = []
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        opts = getattr(func, f"{hookspecs.PROJECT}_spec", None)
        if opts is not None:
            specs.append((name, func, opts))
    return sorted(specs, key=lambda s: inspect.getsourcelines(s[1])[1])


def hooks_markdown():
    """The hook reference page: one section per hook with its signature, options and docstring."""
    parts = [HOOKS_INTRO]
    for name, func, opts in hook_specs():
        sig = f"{name}{inspect.signature(func)}"
        flags = [word for word in ("firstresult", "historic") if opts.get(word)]
        parts.append(f"\n## `{sig}`\n")
        if flags:
            parts.append(f"\n*{', '.join(flags)}*\n")
        parts.append("\n" + inspect.cleandoc(func.__doc__ or "") + "\n")
    return "".join(parts)


def fields_markdown():
    """The field reference page, as `chisel --list-fields --markdown` prints it."""
    from chisel.core.fields import registry  # noqa: PLC0415 - loads the event model

    return registry().format_field_list(markdown=True)


def write_references(folder):
    """Rewrite `fields.md` and `hooks.md` in `folder`; returns the paths written."""
    folder = Path(folder)
    written = []
    for name, text in (("fields.md", fields_markdown()), ("hooks.md", hooks_markdown())):
        path = folder / name
        path.write_text(text if text.endswith("\n") else text + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_references(sys.argv[1] if len(sys.argv) > 1 else "chisel-docs"):
        print(f"wrote {path}")
