"""Documentation must cover the code: every field, hook and chisel has its entry in chisel-docs/."""

import re
from pathlib import Path

import pytest

from chisel.core.fields import registry
from chisel.plugins import docgen
from chisel.plugins.manager import load_plugins

DOCS = Path(__file__).resolve().parents[2] / "chisel-docs"


def builtin_chisels():
    plugins = load_plugins(plugin_dirs=(), env={})
    return [e.cls for e in plugins.chisels().values() if e.source.kind == "builtin"]


def test_field_reference_is_generated_from_the_registry():
    assert (DOCS / "fields.md").read_text() == docgen.fields_markdown().rstrip("\n") + "\n", \
        "chisel-docs/fields.md is stale: run python -m chisel.plugins.docgen chisel-docs"


def test_hook_reference_is_generated_from_the_specs():
    assert (DOCS / "hooks.md").read_text() == docgen.hooks_markdown().rstrip("\n") + "\n", \
        "chisel-docs/hooks.md is stale: run python -m chisel.plugins.docgen chisel-docs"


def test_every_field_has_a_description():
    undocumented = [f.name for fields in registry().classes().values() for f in fields
                    if not (f.doc or "").strip()]
    assert undocumented == []


def test_every_hook_has_a_docstring_and_a_section():
    hooks_page = (DOCS / "hooks.md").read_text()
    specs = docgen.hook_specs()
    assert len(specs) >= 8
    for name, func, _opts in specs:
        assert (func.__doc__ or "").strip(), f"hook {name} has no docstring"
        assert f"## `{name}(" in hooks_page


@pytest.mark.parametrize("cls", builtin_chisels(), ids=lambda c: c.name)
def test_every_builtin_chisel_has_a_page_describing_every_option(cls):
    # A variant (topfiles_time) may be documented on its base chisel's page, which must name it.
    names = [getattr(c, "name", None) for c in cls.__mro__]
    pages = [DOCS / f"{n}.md" for n in names if n and (DOCS / f"{n}.md").exists()]
    assert pages, f"chisel {cls.name} has no page in chisel-docs/"
    page = pages[0]
    text = page.read_text()
    assert cls.name in text
    for arg in cls.args:
        assert arg.option in text, f"{page.name} does not describe {arg.option}"
        assert arg.help.strip(), f"{cls.name}'s {arg.option} has no help for --info"
    assert cls.name in (DOCS / "README.md").read_text(), f"chisel-docs/README.md does not link {cls.name}"


def test_index_links_every_page():
    index = (DOCS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w.-]+\.md)\)", index))
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    assert pages <= linked, f"pages missing from chisel-docs/README.md: {sorted(pages - linked)}"
