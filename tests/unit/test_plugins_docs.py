"""Every hook spec is documented: a docstring in plugins/hookspecs.py and a row in the README."""

import inspect
import os

from chisel.plugins import hookspecs

README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "README.md")


def hook_specs():
    return [name for name, fn in vars(hookspecs).items()
            if name.startswith("chisel_") and inspect.isfunction(fn)]


def test_the_hook_list_is_the_one_the_style_guide_names():
    assert sorted(hook_specs()) == [
        "chisel_add_options", "chisel_configure", "chisel_get_renderer", "chisel_register_chisels",
        "chisel_register_fields", "chisel_report_header", "chisel_session_end", "chisel_session_start",
    ]


def test_every_hook_has_a_docstring_naming_its_parameters():
    for name in hook_specs():
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn) or ""
        assert doc, name
        for param in inspect.signature(fn).parameters:
            assert f":param {param}:" in doc, (name, param)


def test_every_hook_has_a_row_in_the_readme():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    missing = [name for name in hook_specs() if f"| `{name}(" not in text and f"`{name}(" not in text]
    assert missing == []
