"""The live path's batch steps: ring records decoded in place, chunk by chunk through
`LiveSource.events`, and the -j formatter's kept evt.info texts (same bytes as rendering)."""

import struct

import ring_fakes
from ring_fakes import BUSY, DISCARD, PAGE

from chisel.core.event import Event
from chisel.core.live.decode import Decoder
from chisel.core.live.engine import DECODE_CHUNK, LiveSource
from chisel.core.output import _INFO_MEMO_SIZE, JsonFormatter
from chisel.core.threadinfo import FdInfo, ThreadInfo

SIZE = 1 << 16
READ_E, READ_X = 6, 7


def _record(ts, tid, etype, params, cpu=1):
    head = struct.pack("<QIHHII", ts, tid, etype, len(params), cpu, 0)
    return head + struct.pack(f"<{len(params)}H", *map(len, params)) + b"".join(params)


def _read_exit(ts, data, tid=42):
    return _record(ts, tid, READ_X, [struct.pack("<q", len(data)), data])


def Ring():  # noqa: N802 - the fake ring, sized for these tests
    return ring_fakes.Ring(size=SIZE, mapped=True)


def _payloads(ring, starts):
    """The records (bytes) at ring header offsets `starts`."""
    out = []
    for at in starts:
        (length,) = struct.unpack_from("<I", ring.producer, at)
        out.append(bytes(ring.producer[at + 8:at + 8 + length]))
    return out


def _fields(ev):
    return (ev.num, ev.ts, ev.tid, ev.cpu, ev.type, ev.raw)


def test_records_stop_at_the_limit_and_at_end_and_commit_gives_the_room_back():
    ring = Ring()
    recs = [_read_exit(i, b"x" * i) for i in range(1, 6)]
    for rec in recs[:3]:
        ring.put(rec)
    end = ring.prod
    for rec in recs[3:]:
        ring.put(rec)
    reader = ring.reader()
    first = reader.records(2, end)
    assert _payloads(ring, first) == recs[:2]
    assert ring.consumed == 0  # nothing given back before commit()
    second = reader.records(2, end)
    assert _payloads(ring, second) == recs[2:3]
    reader.commit()
    assert ring.consumed == end
    assert reader.records(2, end) == []
    rest = reader.records(10)
    assert _payloads(ring, rest) == recs[3:]
    reader.commit()
    assert ring.consumed == ring.prod


def test_records_skip_discarded_records_and_stop_at_a_busy_one():
    ring = Ring()
    ring.put(_read_exit(1, b"a"))
    ring.put(_read_exit(2, b"gone"), DISCARD)
    ring.put(_read_exit(3, b"c"))
    busy_at = ring.prod
    ring.put(_read_exit(4, b"d"), BUSY)
    reader = ring.reader()
    starts = reader.records(10)
    assert _payloads(ring, starts) == [_read_exit(1, b"a"), _read_exit(3, b"c")]
    reader.commit()
    assert ring.consumed == busy_at


def test_decoding_records_in_place_gives_the_same_events_as_decoding_copies():
    ring = Ring()
    recs = [_read_exit(10 + i, bytes([65 + i]) * i, tid=100 + i) for i in range(8)]
    for rec in recs:
        ring.put(rec)
    reader = ring.reader()
    in_place = Decoder(boot_offset_ns=1000).decode_ring_records(reader.data, reader.records(100))
    copies = Decoder(boot_offset_ns=1000).decode(recs)
    assert [_fields(ev) for ev in in_place] == [_fields(ev) for ev in copies]
    assert [ev.num for ev in in_place] == list(range(1, 9))
    assert in_place[3].ts == 1013 and in_place[3].tid == 103
    assert in_place[3].raw == [struct.pack("<q", 3), b"DDD"]
    assert all(type(v) is bytes for ev in in_place for v in ev.raw)


def test_short_unknown_and_inconsistent_records_are_counted_corrupt_and_skipped():
    good = _read_exit(5, b"ok")
    short = good[:20]  # not even a whole header
    unknown = _record(6, 42, 60000, [b"x"])  # no such event id
    bad_lengths = good[:-1]  # lengths add up to one byte more than the record holds
    decoder = Decoder(boot_offset_ns=0)
    events = decoder.decode([short, good, unknown, bad_lengths, good])
    assert [ev.num for ev in events] == [1, 2]
    assert events[0].raw == [struct.pack("<q", 2), b"ok"]
    assert decoder.corrupt == 3


def _source_over(ring):
    source = LiveSource.__new__(LiveSource)
    source._reader = ring.reader()
    source._decoder = Decoder(0)
    source._child = None
    source._stopping = True  # one pass over what is in the ring, then the end
    return source


def test_live_source_reads_more_than_a_chunk_in_order_and_frees_the_ring():
    ring = Ring()
    count = DECODE_CHUNK * 2 + 5
    for i in range(count):
        ring.put(_read_exit(i, b"z"))
    events = list(_source_over(ring).events())
    assert len(events) == count
    assert [ev.ts for ev in events] == list(range(count))
    assert [ev.num for ev in events] == list(range(1, count + 1))
    assert ring.consumed == ring.prod


def _thread_with_fd():
    th = ThreadInfo(42, comm="wl")
    th.fdtable[3] = FdInfo(3, "file", "/dev/null")
    return th


def _with_thread(etype, raw, num):
    ev = Event(1_000_000_000 + num, 42, etype, raw, cpu=0, num=num)
    ev.thread = _thread_with_fd()
    return ev


def _json_of(formatter, etype, raw, num=1):
    return formatter.format(_with_thread(etype, raw, num))


def test_kept_info_texts_are_the_rendered_ones_for_repeated_and_new_values():
    kept, reference = JsonFormatter(), JsonFormatter()
    values = [b"x", b"x", b"", b"\x00\xff", b"x", b"\"quote\\"]
    for num, data in enumerate(values, 1):
        raw = [struct.pack("<q", len(data)), data]
        # the reference: the general path (a dict of fields through the JSON encoder)
        expected = reference._encoder.encode(reference.record(_with_thread(READ_X, raw, num)))
        assert _json_of(kept, READ_X, raw, num) == expected
    assert _json_of(kept, READ_X, [struct.pack("<q", 1), b"x"], 7) == (
        '{"evt.cpu":0,"evt.dir":"<","evt.info":"res=1 data=x ","evt.num":7,'
        '"evt.outputtime":1000000007,"evt.type":"read","proc.name":"wl","thread.tid":42}')


def test_an_fd_event_is_rendered_through_the_state_every_time():
    formatter = JsonFormatter()
    enter = [struct.pack("<q", 3), struct.pack("<I", 1)]
    ev = _with_thread(READ_E, enter, 1)
    assert '"evt.info":"fd=3(<f>/dev/null) size=1 "' in formatter.format(ev)
    ev = _with_thread(READ_E, enter, 2)
    ev.thread.fdtable[3].name = "/tmp/other"  # same raw values, the fd now names another file
    assert '"evt.info":"fd=3(<f>/tmp/other) size=1 "' in formatter.format(ev)


def test_long_buffers_and_rarely_repeating_values_are_not_kept_but_still_right():
    formatter = JsonFormatter()
    long_data = b"y" * 100
    text = _json_of(formatter, READ_X, [struct.pack("<q", 100), long_data])
    assert f'"evt.info":"res=100 data={"y" * 100} "' in text
    for n in range(_INFO_MEMO_SIZE + 10):  # every value new: the kept texts fill with no hit
        data = n.to_bytes(4, "little")
        text = _json_of(formatter, READ_X, [struct.pack("<q", 4), data], n)
        expected = data.translate(bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))).decode()
        assert f'"evt.info":{_json(f"res=4 data={expected} ")}' in text


def _json(text):
    import json  # noqa: PLC0415

    return json.dumps(text, ensure_ascii=False)


def test_a_kept_fd_text_follows_a_replaced_entry_a_closed_fd_and_a_changed_socket():
    formatter = JsonFormatter()
    th = _thread_with_fd()
    enter = [struct.pack("<q", 3), struct.pack("<I", 1)]

    def info():
        ev = Event(1, 42, READ_E, enter, cpu=0, num=1)
        ev.thread = th
        text = formatter.format(ev)
        return text[text.index('"evt.info":') + 11:text.index(',"evt.num"')]

    assert info() == '"fd=3(<f>/dev/null) size=1 "'
    assert info() == '"fd=3(<f>/dev/null) size=1 "'
    th.fdtable[3] = FdInfo(3, "file", "/etc/passwd")  # closed and reopened on another file
    assert info() == '"fd=3(<f>/etc/passwd) size=1 "'
    del th.fdtable[3]
    assert info() == '"fd=3 size=1 "'
    sock = th.fdtable[3] = FdInfo(3, "ipv4", "1.2.3.4:5->6.7.8.9:10")
    assert info() == '"fd=3(<4>1.2.3.4:5->6.7.8.9:10) size=1 "'
    sock.l4proto = "tcp"
    assert info() == '"fd=3(<4t>1.2.3.4:5->6.7.8.9:10) size=1 "'


def test_the_closing_proc_name_follows_a_comm_change_and_a_missing_thread():
    formatter = JsonFormatter()
    th = _thread_with_fd()
    raw = [struct.pack("<q", 1), b"x"]

    def line(thread, cpu=0):
        ev = Event(5, 42, READ_X, raw, cpu=cpu, num=1)
        ev.thread = thread
        return formatter.format(ev)

    assert line(th).endswith('"proc.name":"wl","thread.tid":42}')
    th.comm = "after-exec"
    assert line(th).endswith('"proc.name":"after-exec","thread.tid":42}')
    assert line(None).endswith('"proc.name":null,"thread.tid":42}')
    assert line(th, cpu=1).startswith('{"evt.cpu":1,"evt.dir":"<","evt.info":"res=1 data=x ",')
