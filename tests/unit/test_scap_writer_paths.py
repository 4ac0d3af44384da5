"""The capture writer's event path: what `-w` prints, and events a block cannot hold."""

import io
from pathlib import Path

import pytest

from chisel.core.cli import main
from chisel.core.errors import ChiselRuntimeError
from chisel.core.event import Event, model
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter
from chisel.core.threadinfo import Snapshot

CAT_WRITE = str(Path(__file__).parent.parent / "data" / "scap" / "falco_cat_write.scap")


def _run(*argv):
    out = io.StringIO()
    assert main(list(argv), stdout=out, stderr=io.StringIO(), env={}) == 0
    return out.getvalue()


def test_w_alone_prints_nothing_and_writes_every_event(tmp_path):
    target = str(tmp_path / "out.scap")
    assert _run("-r", CAT_WRITE, "-w", target) == ""  # sysdig: -w implies -q
    assert len(_run("-r", target).splitlines()) == len(_run("-r", CAT_WRITE).splitlines()) == 85


def test_w_with_json_still_prints(tmp_path):
    target = str(tmp_path / "out.scap")
    assert _run("-r", CAT_WRITE, "-w", target, "-j") == _run("-r", CAT_WRITE, "-j")


def test_a_parameter_longer_than_a_u16_length_is_refused(tmp_path):
    read_id = model().ids_for_name("read")[1]
    with ScapWriter(tmp_path / "big.scap", Snapshot()) as writer:
        with pytest.raises(ChiselRuntimeError, match="longer than a u16 length"):
            writer.write(Event(1, 2, read_id, [bytes(8), bytes(70_000)], num=7))
        writer.write(Event(1, 2, read_id, [bytes(8), b"ok"], num=8))
    assert [(e.ts, e.tid, e.raw) for e in ScapReader(tmp_path / "big.scap").events()] == [
        (1, 2, [bytes(8), b"ok"])]


def test_a_block_over_64_kib_is_refused(tmp_path):
    read_id = model().ids_for_name("read")[1]
    with ScapWriter(tmp_path / "big.scap", Snapshot()) as writer:
        with pytest.raises(ChiselRuntimeError, match="does not fit a 64 KiB block"):
            writer.write(Event(1, 2, read_id, [bytes(8), bytes(65_530)], num=7))
    assert list(ScapReader(tmp_path / "big.scap").events()) == []
