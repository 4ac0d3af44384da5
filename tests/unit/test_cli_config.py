"""The settings file: where it is, what it may hold, and one exact line per mistake."""

import pytest

from chisel.core.config import load_settings, parse_settings, settings_path
from chisel.core.errors import UsageError

GOOD = """\
options:
  snaplen: 256
  debug: true
  buffer_format: hexascii
plugin_dirs: [/opt/chisels, ~/chisels]
disabled_plugins: [hello]
chisels:
  topfiles: {top: 20, by: time}
"""


def test_a_complete_file():
    s = parse_settings(GOOD, "c.yaml")
    assert s.options == {"snaplen": 256, "debug": True, "buffer_format": "hexascii"}
    assert s.plugin_dirs[0] == "/opt/chisels" and s.plugin_dirs[1].endswith("/chisels")
    assert not s.plugin_dirs[1].startswith("~")
    assert s.disabled_plugins == ["hello"]
    assert s.chisel_args == {"topfiles": {"top": 20, "by": "time"}}


def test_empty_file_is_empty_settings():
    s = parse_settings("", "c.yaml")
    assert (s.options, s.plugin_dirs, s.disabled_plugins, s.chisel_args) == ({}, [], [], {})


@pytest.mark.parametrize("text, message", [
    ("colour: true\n",
     "bad settings file c.yaml:1: unknown key 'colour'; use one of options, plugin_dirs, disabled_plugins, chisels"),
    ("options:\n  snaplen: 1\n  top: 3\n",
     "bad settings file c.yaml:3: unknown option 'top'; use one of snaplen, debug, json, print_format, "
     "buffer_format, color"),
    ("options:\n  debug: maybe\n",
     "bad settings file c.yaml:2: bad value for options.debug: 'maybe' is not true or false; write debug: true"),
    ("options:\n  snaplen: -5\n",
     "bad settings file c.yaml:2: bad value for options.snaplen: it is negative; use a byte count"),
    ("options:\n  buffer_format: binary\n",
     "bad settings file c.yaml:2: bad value for options.buffer_format: 'binary'; use one of normal, ascii, "
     "hex, hexascii, base64"),
    ("plugin_dirs: /opt/chisels\n",
     "bad settings file c.yaml:1: plugin_dirs must be a list; write it as [a, b]"),
    ("\n\nchisels:\n  topfiles: 3\n",
     "bad settings file c.yaml:4: chisels.topfiles must be a mapping; write 'key: value' lines"),
    ("- a\n- b\n",
     "bad settings file c.yaml:1: the top level must be a mapping; write 'key: value' lines"),
])
def test_each_mistake_is_one_line_with_file_and_line(text, message):
    with pytest.raises(UsageError) as err:
        parse_settings(text, "c.yaml")
    assert err.value.message == message


def test_yaml_syntax_errors_name_the_line():
    with pytest.raises(UsageError) as err:
        parse_settings("options:\n  snaplen: [1\n", "c.yaml")
    assert err.value.message.startswith("bad settings file c.yaml:3: ")
    assert err.value.message.endswith("; fix the YAML syntax")


def test_where_the_file_is():
    assert settings_path({"CHISEL_CONFIG": "/x.yaml"}) == "/x.yaml"
    assert settings_path({"XDG_CONFIG_HOME": "/cfg"}) == "/cfg/chisel/config.yaml"


def test_a_missing_default_file_is_fine_but_a_named_one_is_not(tmp_path):
    assert load_settings(env={"XDG_CONFIG_HOME": str(tmp_path)}).path is None
    missing = str(tmp_path / "none.yaml")
    with pytest.raises(UsageError) as err:
        load_settings(env={"CHISEL_CONFIG": missing})
    assert err.value.message == (f"bad settings file {missing}: no such file; "
                                 "fix CHISEL_CONFIG or create the file")
