"""Every built-in chisel has a chisel-docs page that names each of its options and shows real output."""

from pathlib import Path

import pytest

from chisel.chisels import BUILTIN_CHISELS, chisel_register_chisels

DOCS = Path(__file__).resolve().parent.parent.parent / "chisel-docs"


def page_of(cls):
    """The page documenting `cls`: named after its module (topfiles_time is on topfiles.md)."""
    return DOCS / f"{cls.__module__.rsplit('.', 1)[1]}.md"


def test_the_hook_registers_every_builtin():
    assert chisel_register_chisels() == list(BUILTIN_CHISELS)
    assert sorted(c.name for c in BUILTIN_CHISELS) == [
        "echo_fds", "netconns", "spy_users", "topfiles", "topfiles_errors", "topfiles_time"]


@pytest.mark.parametrize("cls", BUILTIN_CHISELS, ids=lambda c: c.name)
def test_page_names_the_chisel_and_every_option(cls):
    text = page_of(cls).read_text()
    assert f"`{cls.name}`" in text or text.startswith(f"# {cls.name} ")
    for arg in cls.args:
        assert f"`{arg.option}" in text, f"{arg.option} of {cls.name} is not documented"
        assert arg.help, f"{arg.option} of {cls.name} has no help for --info"
    assert "## Example (a real run)" in text
