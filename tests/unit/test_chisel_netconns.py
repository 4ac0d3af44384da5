"""netconns on hand-made events: open lines, per-end byte totals, the table, --listen and JSON."""

import json

from chisel.chisels.netconns import NetConns

from chisel_fakes import FakeEvent, FakeThread, run

NAME = "127.0.0.1:40000->127.0.0.1:8080"


def opened(etype, pid, proc, ts, enter_ts, res=0, name=NAME, errno=None):
    enter = FakeEvent(ts=enter_ts, dir=">")
    return FakeEvent(ts=ts, enter=enter, evt__type=etype, fd__l4proto="tcp", fd__name=name,
                     evt__rawres=res, evt__res=errno, proc__pid=pid, proc__name=proc,
                     evt__time="10:00:00.000000000")


def io(pid, proc, ts, res, read, name=NAME, proto="tcp"):
    return FakeEvent(ts=ts, evt__type="read" if read else "write", fd__l4proto=proto, fd__name=name,
                     evt__is_io=True, evt__is_io_read=read, evt__rawarg__res=res, proc__pid=pid,
                     proc__name=proc)


def close(pid, ts, name=NAME):
    return FakeEvent(ts=ts, dir=">", evt__type="close", fd__l4proto="tcp", fd__name=name, proc__pid=pid)


SESSION = [
    opened("connect", 10, "client", ts=1_500_000, enter_ts=1_000_000),
    opened("accept4", 20, "server", ts=1_600_000, enter_ts=200_000, res=5),
    io(10, "client", 2_000_000, 100, read=False),
    io(20, "server", 2_100_000, 100, read=True),
    io(20, "server", 2_200_000, 3000, read=False),
    io(10, "client", 2_300_000, 3000, read=True),
    io(10, "client", 2_400_000, -11, read=True),
    close(10, 3_500_000),
]


def test_open_lines_then_the_table_one_row_per_end():
    out, _, _ = run(NetConns, SESSION)
    assert out.splitlines() == [
        "10:00:00.000000000 client(10) out tcp 127.0.0.1:40000 -> 127.0.0.1:8080 SUCCESS 500us",
        "10:00:00.000000000 server(20) in tcp 127.0.0.1:40000 -> 127.0.0.1:8080 SUCCESS 1.40ms",
        "PROTO CLIENT              SERVER              PROCESS             BYTES_IN  BYTES_OUT DURATION            ",
        "-" * 80,
        "tcp   127.0.0.1:40000     127.0.0.1:8080      client(10)          2.93KB    100B      2.00ms",
        "tcp   127.0.0.1:40000     127.0.0.1:8080      server(20)          100B      2.93KB    600us",
    ]


def test_failed_connect_shows_the_errno_and_no_row():
    ev = opened("connect", 10, "client", ts=2_000, enter_ts=1_000, res=-111, errno="ECONNREFUSED")
    out, chisel, _ = run(NetConns, [ev])
    assert out.splitlines()[0].endswith(" ECONNREFUSED 1.00us")
    assert chisel.conns == {}


def test_non_blocking_connect_opens_the_connection_at_the_call():
    events = [opened("connect", 10, "client", ts=2_000, enter_ts=1_000, res=-115, errno="EINPROGRESS"),
              io(10, "client", 9_000, 5, read=False)]
    out, chisel, _ = run(NetConns, events)
    assert out.splitlines()[0].endswith(" EINPROGRESS 1.00us")
    assert [(c.opened_ts, c.last_ts, c.bytes_out) for c in chisel.conns.values()] == [(2_000, 9_000, 5)]


def test_bytes_per_connection_sum_like_topconns():
    events = [io(1, "a", 1, 50, True, name="1.1.1.1:1->2.2.2.2:53", proto="udp"),
              io(1, "a", 2, 42, False, name="1.1.1.1:1->2.2.2.2:53", proto="udp"),
              io(2, "b", 3, 7, True, name="1.1.1.1:1->2.2.2.2:53", proto="udp")]
    _, chisel, _ = run(NetConns, events)
    assert [(c.proto, c.name, c.pid, c.bytes_in, c.bytes_out) for c in chisel.ranked()] == [
        ("udp", "1.1.1.1:1->2.2.2.2:53", 1, 50, 42), ("udp", "1.1.1.1:1->2.2.2.2:53", 2, 7, 0)]


def test_top_limits_rows():
    events = [io(1, "a", i, 10 + i, True, name=f"1.1.1.1:{i}->2.2.2.2:80") for i in range(5)]
    out, _, _ = run(NetConns, events, args={"top": 2})
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["1.1.1.1:4", "1.1.1.1:3"]


def test_listen_adds_listening_sockets_from_the_state():
    fds = {3: FakeThread(type="ipv4", l4proto="tcp", name="0.0.0.0:8080"),
           4: FakeThread(type="ipv4", l4proto="tcp", name=NAME),
           5: FakeThread(type="file", l4proto=None, name="/etc/passwd")}
    state = FakeThread(threads={20: FakeThread(tid=20, pid=20, comm="server", fdtable=fds),
                                21: FakeThread(tid=21, pid=20, comm="server", fdtable=fds)})
    out, _, _ = run(NetConns, [], args={"listen": True}, state=state)
    assert out.splitlines()[-3:] == ["PROTO ADDRESS             PROCESS             ",
                                     "-" * 80, "tcp   0.0.0.0:8080        server(20)"]


def test_json_lines():
    out, _, ctx = run(NetConns, SESSION[:3], json=True, args={"interval": "5"})
    docs = [json.loads(line) for line in out.splitlines()]
    assert ctx.intervals == [5.0]
    assert docs[0] == {"connection": {"time": "10:00:00.000000000", "process": "client", "pid": 10,
                                      "direction": "out", "proto": "tcp", "client": "127.0.0.1:40000",
                                      "server": "127.0.0.1:8080", "result": "SUCCESS",
                                      "latency_ns": 500_000}}
    assert docs[2] == {"connections": [{"proto": "tcp", "client": "127.0.0.1:40000",
                                        "server": "127.0.0.1:8080", "process": "client", "pid": 10,
                                        "bytes_in": 0, "bytes_out": 100, "duration_ns": 500_000,
                                        "closed": False}]}


def test_interval_prints_the_growing_table_each_time():
    _, chisel, ctx = run(NetConns, [], args={"interval": "1"})
    ctx.buffer.seek(0)
    ctx.buffer.truncate()
    chisel.on_event(io(1, "a", 1, 10, True))
    chisel.on_interval(1_000_000_000, 1_000_000_000)
    chisel.on_event(io(1, "a", 2, 5, False))
    chisel.on_interval(2_000_000_000, 1_000_000_000)
    rows = [line for line in ctx.buffer.getvalue().splitlines() if line.startswith("tcp")]
    assert [row.split()[4:6] for row in rows] == [["10B", "0B"], ["10B", "5B"]]
