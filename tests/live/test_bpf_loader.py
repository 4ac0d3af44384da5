"""The bpf(2) layer and the program loader, on the real kernel (root and BPF needed; fails, never skips)."""

import struct

import pytest

from chisel.core.live import bpfsys

pytestmark = pytest.mark.live

BPF_MAP_TYPE_HASH = 1


def test_hash_map_round_trip():
    m = bpfsys.create_map(BPF_MAP_TYPE_HASH, 4, 8, 16, name="chisel_test")
    try:
        assert (m.name, m.key_size, m.value_size, m.max_entries, m.percpu) == ("chisel_test", 4, 8, 16, False)
        assert m.lookup(struct.pack("<I", 7)) is None
        m.update(struct.pack("<I", 7), struct.pack("<Q", 70))
        m.update(struct.pack("<I", 9), struct.pack("<Q", 90))
        assert sorted(m.items()) == [(struct.pack("<I", 7), struct.pack("<Q", 70)),
                                     (struct.pack("<I", 9), struct.pack("<Q", 90))]
        assert m.delete(struct.pack("<I", 7)) is True
        assert m.delete(struct.pack("<I", 7)) is False
        assert m.keys() == [struct.pack("<I", 9)]
        with pytest.raises(ValueError):
            m.update(b"\0", struct.pack("<Q", 1))
    finally:
        m.close()


def test_percpu_array_has_one_value_per_possible_cpu():
    m = bpfsys.create_map(bpfsys.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, name="chisel_pcpu")
    try:
        cpus = bpfsys.possible_cpus()
        assert m.lookup(struct.pack("<I", 1)) == [bytes(4)] * cpus
        m.update(struct.pack("<I", 1), [struct.pack("<I", i + 1) for i in range(cpus)])
        assert m.lookup(struct.pack("<I", 1)) == [struct.pack("<I", i + 1) for i in range(cpus)]
        m.update(struct.pack("<I", 0), struct.pack("<I", 5))  # one value: every CPU gets it
        assert m.lookup(struct.pack("<I", 0)) == [struct.pack("<I", 5)] * cpus
        assert len(m.items()) == 2  # an array has every index
    finally:
        m.close()


def test_live_source_exposes_its_maps_by_name():
    from chisel.core.live.engine import LiveSource

    src = LiveSource(event_types=frozenset({"read"}), command=["true"])
    try:
        config, drops = src.maps["config"], src.maps["drop_count"]
        assert (config.key_size, config.value_size, config.max_entries) == (4, 8, 4)
        assert drops.percpu and len(drops.lookup(struct.pack("<i", 0))) == bpfsys.possible_cpus()
        assert config.lookup(struct.pack("<i", 3)) == struct.pack("<Q", 1)  # the "ready" switch
        assert {"events", "saved", "traced"} <= set(src.maps)
    finally:
        src.close()
    assert src.maps == {}
