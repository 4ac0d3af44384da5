"""netconns: network connections as they open, and a table of the bytes each one carried."""

from chisel.plugins import IO_EVENTS, Arg, Chisel, Column, count, format_bytes, format_time_interval


OPEN_EVENTS = frozenset({"connect", "accept", "accept4"})
IP_FD_TYPES = ("ipv4", "ipv6")
_ADDRESS_MIN_WIDTH = 20  # sysdig's table column; IP:port pairs (IPv6 above all) often need more


class Connection:
    """One end of one connection as one process sees it: the (proto, fd.name) key plus the pid.

    `bytes_in` counts what this process read from it, `bytes_out` what it wrote; `opened_ts` is the
    connect/accept exit when seen, else the first event; `last_ts` the close, else the last event.
    """

    __slots__ = ("proto", "name", "pid", "process", "bytes_in", "bytes_out", "opened_ts", "last_ts",
                 "closed")

    def __init__(self, proto, name, pid, process, ts):
        self.proto, self.name, self.pid, self.process = proto, name, pid, process
        self.bytes_in = self.bytes_out = 0
        self.opened_ts = self.last_ts = ts
        self.closed = False

    @property
    def client(self):
        return self.name.split("->", 1)[0]

    @property
    def server(self):
        parts = self.name.split("->", 1)
        return parts[1] if len(parts) == 2 else ""

    @property
    def total(self):
        return self.bytes_in + self.bytes_out

    @property
    def duration_ns(self):
        return self.last_ts - self.opened_ts

    def as_json(self):
        return {"proto": self.proto, "client": self.client, "server": self.server,
                "process": self.process, "pid": self.pid, "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out, "duration_ns": self.duration_ns, "closed": self.closed}


def _process(name, pid):
    return f"{'<NA>' if name is None else name}({'<NA>' if pid is None else pid})"


def _address_column(header, values):
    width = max([_ADDRESS_MIN_WIDTH, *(len(v) + 1 for v in values)])
    return Column(header, width=width)


class NetConns(Chisel):
    """Network connections as they open, and the bytes each one carried.

    For every connect (direction out) and accept/accept4 (direction in) a line shows the time, the
    process and its pid, the direction, the protocol, client -> server, the result (SUCCESS or the
    errno name, e.g. ECONNREFUSED or EINPROGRESS) and the latency of the call:

        TIME PROCESS(PID) out|in PROTO CLIENT -> SERVER RESULT LATENCY

    At the end (and every --interval seconds when given) a table lists the IPv4/IPv6 connections
    that carried data, one row per connection and process end: PROTO, CLIENT, SERVER, PROCESS,
    BYTES_IN (read by that process), BYTES_OUT (written by it), DURATION (from the connect/accept,
    or the first I/O seen, to the close, or the last I/O seen), sorted by total bytes. --listen
    adds a table of listening sockets (IP sockets with no peer) from the process state, like
    netstat: PROTO, ADDRESS, PROCESS. With -j every line and every table is one JSON object ("connection", "connections", "listening").

    New in chisel. It covers sysdig's topconns (bytes per connection: BYTES_IN + BYTES_OUT summed over
    the rows of one connection equal topconns' Bytes), netstat (--listen) and part of spy_ip.

    Live, the kernel adds up the bytes per socket (the same totals, without an event per read or
    write); for a connection still open the last I/O time is then the last read of the totals
    (each --interval, else every second), so its DURATION can run that much longer.
    --no-kernel-agg turns that off.
    """

    name = "netconns"
    category = "Net"
    args = (
        Arg("top", count, default=10, help="table rows to show (0: all)"),
        Arg("interval", float, default=None, help="also print the table every S seconds of event time (totals keep growing); without it: only at the end"),
        Arg("listen", bool, help="add a table of listening sockets (IP sockets with no peer) from the process state, like netstat"),
    )
    events = OPEN_EVENTS | IO_EVENTS | {"close"}
    fields = ("fd.l4proto", "fd.name", "fd.type", "evt.type", "evt.rawres", "evt.res", "evt.rawarg.res",
              "evt.is_io", "evt.is_io_read", "proc.name", "proc.pid", "evt.time")
    prefilter = "fd.type=ipv4 or fd.type=ipv6"
    io_totals = True

    def setup(self, args, ctx):
        self.ctx = ctx
        self.out = ctx.out
        self.top = args.top
        self.listen = args.listen
        self.conns = {}  # (proto, fd.name, pid) -> Connection
        if args.interval is not None:
            ctx.set_interval(args.interval)

    def on_event(self, ev):
        proto, name = ev["fd.l4proto"], ev["fd.name"]
        if proto is None or name is None:
            return  # as topconns: an event whose key is missing counts nowhere
        etype = ev["evt.type"]
        if etype == "close":
            conn = self.conns.get((proto, name, ev["proc.pid"]))
            if conn is not None:
                conn.last_ts, conn.closed = ev.ts, True
            return
        if ev.dir != "<":
            return
        if etype in OPEN_EVENTS:
            self.opened(ev, etype, proto, name)
        elif ev["evt.is_io"]:
            self.transferred(ev, proto, name)

    def connection(self, ev, proto, name):
        """The Connection of this event's fd and process, created on first sight."""
        return self._connection(proto, name, ev["proc.pid"], ev["proc.name"], ev.ts)

    def _connection(self, proto, name, pid, process, ts):
        conn = self.conns.get((proto, name, pid))
        if conn is None:
            conn = self.conns[(proto, name, pid)] = Connection(proto, name, pid, process, ts)
        return conn

    def opened(self, ev, etype, proto, name):
        res = ev["evt.rawres"]
        ok = res is not None and res >= 0
        result = "SUCCESS" if ok else _text(ev["evt.res"])
        latency = ev.ts - ev.enter.ts if ev.enter is not None else None
        direction = "out" if etype == "connect" else "in"
        # A non-blocking connect returns EINPROGRESS and completes later: the connection starts here.
        if ok or result == "EINPROGRESS":
            conn = self.connection(ev, proto, name)
            conn.opened_ts = ev.ts
        record = {"time": _text(ev["evt.time"]), "process": ev["proc.name"], "pid": ev["proc.pid"],
                  "direction": direction, "proto": proto, "client": name.split("->", 1)[0],
                  "server": name.split("->", 1)[1] if "->" in name else "", "result": result,
                  "latency_ns": latency}
        if self.ctx.json:
            self.out.json({"connection": record})
            return
        shown_latency = format_time_interval(latency) if latency is not None else "<NA>"
        self.out.line(f"{record['time']} {_process(record['process'], record['pid'])} {direction} {proto} "
                      f"{record['client']} -> {record['server']} {result} {shown_latency}")

    def transferred(self, ev, proto, name):
        res = ev["evt.rawarg.res"]
        if res is None or res <= 0:
            return
        conn = self.connection(ev, proto, name)
        if ev["evt.is_io_read"]:
            conn.bytes_in += res
        else:
            conn.bytes_out += res
        conn.last_ts = ev.ts

    def on_io_totals(self, totals):
        for record in totals:
            fd, thread = record.fd, record.thread
            if fd is None or thread is None or fd.type not in IP_FD_TYPES:
                continue  # what the prefilter leaves out
            if fd.l4proto is None or fd.name is None or not record.bytes:
                continue
            conn = self._connection(fd.l4proto, fd.name, thread.pid, thread.comm, record.ts)
            conn.bytes_in += record.bytes_in
            conn.bytes_out += record.bytes_out
            conn.last_ts = max(conn.last_ts, record.ts)

    def ranked(self):
        """Connections that carried data, most bytes first (ties: opened first), cut at --top."""
        rows = sorted((c for c in self.conns.values() if c.total > 0),
                      key=lambda c: (-c.total, c.opened_ts))
        return rows[: self.top] if self.top else rows

    def on_interval(self, now_ns, delta_ns):
        self.report()

    def on_end(self, summary):
        self.report()

    def report(self):
        rows = self.ranked()
        listening = self.listening() if self.listen else None
        if self.ctx.json:
            self.out.json({"connections": [c.as_json() for c in rows]})
            if listening is not None:
                self.out.json({"listening": [{"proto": p, "address": a, "process": n, "pid": pid}
                                             for p, a, n, pid in listening]})
            return
        self.out.table(
            [Column("PROTO", width=6), _address_column("CLIENT", [c.client for c in rows]),
             _address_column("SERVER", [c.server for c in rows]), Column("PROCESS"),
             Column("BYTES_IN", format_bytes, width=10), Column("BYTES_OUT", format_bytes, width=10),
             Column("DURATION")],
            [(c.proto, c.client, c.server, _process(c.process, c.pid), c.bytes_in, c.bytes_out,
              format_time_interval(c.duration_ns)) for c in rows])
        if listening is not None:
            self.out.line()
            self.out.table([Column("PROTO", width=6), _address_column("ADDRESS", [r[1] for r in listening]),
                            Column("PROCESS")],
                           [(p, a, _process(n, pid)) for p, a, n, pid in listening])

    def listening(self):
        """(proto, address, process name, pid) of every IP socket with no peer, from the state tables.

        Threads of a process share one fd table, so only main threads (tid == pid) are read.
        """
        state = self.ctx.state
        if state is None:
            return []
        found = set()
        for thread in list(state.threads.values()):
            if thread.tid != thread.pid:
                continue
            for fd in list(thread.fdtable.values()):
                if fd.type in IP_FD_TYPES and fd.name and "->" not in fd.name:
                    found.add((fd.l4proto or "<NA>", fd.name, thread.comm, thread.pid))
        return sorted(found, key=lambda r: (r[0], r[1], r[3]))


def _text(value):
    return "<NA>" if value is None else str(value)
