"""The state engine: threads, processes and fd tables, kept as sysdig 0.29 keeps them.

`State(snapshot)` starts from a source's `Snapshot`; `state.process(ev)` is called for every event,
in order. It attaches `ev.thread`, `ev.enter`, `ev.fdnum` and `ev.fd`, then applies the event's
state rule (clone/execve/procexit for threads; open/socket/connect/dup/close... for fds).

Rules that decide what sysdig prints, found by comparing with sysdig 0.29.3's output:
* an unknown tid gets a placeholder thread (comm and exe `<NA>`, uid/gid 0xFFFFFFFF, ptid -1) on
  its first syscall event; scheduler switches and internal events only look threads up, so a
  switch of an unseen tid has no thread at all (proc.name is null);
* procexit removes its thread only when the next event arrives, so the procexit event itself
  still prints with its process name;
* a socket gets its L4 protocol at connect (from the socket type given to socket()) or at a
  bind to a non-zero port (a listening socket, TCP), never at socket() itself; a failed connect
  leaves it unnamed, a connected one keeps its first tuple, and a sendto to an address names a
  socket not yet connected;
* only EF_USES_FD events refer to an fd (mmap's fd parameter does not count): enters name it,
  exits reuse the thread's last fd-using enter's fd whether paired or not (0 before any); an
  fd-creating enter, and a failed fd-creating exit, refer to fd -1;
* execve keeps the cwd (its cwd parameter is ignored) and takes exepath from the path run; a
  clone child takes its parent's cwd and exepath, and the calling thread as parent.
"""

import json
import os
import struct

from .event import model
from .evtinfo import (AT_FDCWD, concat_path, decode_sockaddr, decode_socktuple, raw_fd,
                      raw_str, socktuple_text)
from .threadinfo import FdInfo, ThreadInfo

# scap PPM_AF_* families, the socket() domain values in captures.
_AF_UNIX, _AF_INET, _AF_INET6, _AF_NETLINK = 1, 2, 10, 16
_SOCK_STREAM, _SOCK_DGRAM, _SOCK_RAW = 1, 2, 3
# an unspecified address in a send/recv tuple: sysdig shows the loopback address
_UNSPECIFIED_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}
_KNOWN_FAMILIES = frozenset(model().flag_tables["socket_families"].by_value) - {0}  # not AF_UNSPEC
_L4_BY_SOCKTYPE = {_SOCK_STREAM: "tcp", _SOCK_DGRAM: "udp", _SOCK_RAW: "raw"}
# A socket's `flags` hold its socket() type; this bit, far above any SOCK_* flag, records that
# connect/accept gave it its tuple (a later connect or sendto does not rename it).
_FD_CONNECTED = 1 << 48
_SOCK_TYPE_MASK = 0xF
_EINPROGRESS = 115
_NO_ID = 0xFFFFFFFF
_PURGE_NOT_STARTED = -1  # below any event time: the first event starts the purge clock

# sysdig shows a thread's last syscall latency on its switch/procexit events; kept when the
# ThreadInfo record has a slot for it.
_THREADS_KEEP_LATENCY = "latency" in ThreadInfo.__slots__
_I64 = struct.Struct("<q").unpack

# Events that only look their thread up (sysdig does not create a thread for them).
_LOOKUP_ONLY = frozenset({"switch", "procexit", "procinfo", "container", "sysdigevent", "drop",
                          "notification", "infra", "cpu_hotplug", "signaldeliver"})

# Event types whose exit creates one fd (the fd/res parameter), with the fd.type it gets.
_SIMPLE_FD_TYPES = {
    "eventfd": "event", "eventfd2": "event", "signalfd": "signalfd", "signalfd4": "signalfd",
    "timerfd_create": "timerfd", "inotify_init": "inotify", "inotify_init1": "inotify",
    "epoll_create": "eventpoll", "epoll_create1": "eventpoll", "memfd_create": "memfd",
    "userfaultfd": "userfaultfd", "pidfd_open": "pidfd", "io_uring_setup": "io_uring",
    "bpf": "bpf",
}


def _flag_value(table, name):
    for value, entry_name in model().flag_tables[table].entries:
        if entry_name == name:
            return value
    raise KeyError(name)


_O_CLOEXEC = _flag_value("file_flags", "O_CLOEXEC")
_O_DIRECTORY = _flag_value("file_flags", "O_DIRECTORY")
_CLOSE_RANGE_CLOEXEC = _flag_value("close_range_flags", "CLOSE_RANGE_CLOEXEC")
_CLONE_THREAD = _flag_value("clone_flags", "CLONE_THREAD")


class _EventPlan:
    """Per event id, everything `process` needs that does not depend on the event's values."""

    __slots__ = ("is_exit", "lookup_only", "is_container", "uses_fd", "creates_fd", "fd_index",
                 "handler")

    def __init__(self, info, handler):
        self.is_exit = info.dir == "<"
        self.lookup_only = info.name in _LOOKUP_ONLY
        # container JSON events (one json parameter) get a thread standing for the container
        self.is_container = info.name == "container" and info.param_index.get("json") == 0
        self.uses_fd = "EF_USES_FD" in info.flags
        self.creates_fd = "EF_CREATES_FD" in info.flags
        # Where an fd-using event names its fd: the first parameter of enters; on exits, a
        # parameter called fd when the exit has one (newer layouts), else the enter's.
        self.fd_index = -1
        if self.uses_fd and info.params:
            if not self.is_exit and info.params[0].ptype == "PT_FD":
                self.fd_index = 0
            elif self.is_exit and not self.creates_fd:
                i = info.param_index.get("fd")
                if i is not None and info.params[i].ptype == "PT_FD":
                    self.fd_index = i
        self.handler = handler


class State:
    """Threads, fds, users and groups, updated from events as sysdig does.

    `threads` {tid: ThreadInfo}, `users` {uid: UserInfo}, `groups` {gid: GroupInfo},
    `first_ts` (time of the first event that is not a container event; None before it),
    `snapshot` (the one it started from).
    With `live=True`, a tid not in the table is read from /proc on first sight (`proc_lookup`,
    a function tid -> ThreadInfo or None), and every minute of event time threads that /proc no
    longer has are dropped (`proc_alive`, tid -> bool); both are replaceable for tests.
    """

    # live runs: how often (event time) threads whose process is gone from /proc are dropped,
    # so missed procexit events (drops) cannot grow the table without bound
    PURGE_INTERVAL_NS = 60 * 1_000_000_000

    def __init__(self, snapshot, live=False, proc_lookup=None, proc_alive=None):
        self.snapshot = snapshot  # the source's: machine info and interfaces for the fields
        self.threads = {t.tid: t for t in snapshot.threads}
        self.users = dict(snapshot.users)
        self.groups = dict(snapshot.groups)
        self.live = live
        self.proc_lookup = proc_lookup
        if live and proc_lookup is None:
            from .procscan import lookup_thread  # noqa: PLC0415 - live only

            self.proc_lookup = lookup_thread
        self._pending_removal = []
        self._made_by_event = None  # the placeholder thread the current event created, if any
        self.proc_alive = proc_alive or _proc_alive
        self._next_purge = _PURGE_NOT_STARTED  # event time of the next purge
        # tid -> fd of the thread's last fd-using enter event (sysdig's lastevent_fd)
        self._last_fd = {}
        # time of the first event that is not a container event (evt.reltime counts from it)
        self.first_ts = None
        ev_model = model()
        handlers = self._handlers()
        self._plans = [None] * len(ev_model.events)
        for info in ev_model.events:
            key = (info.name, info.dir)
            handler = handlers.get(key)
            if handler is None and info.dir == "<" and info.name in _SIMPLE_FD_TYPES:
                handler = self._on_simple_fd
            self._plans[info.id] = _EventPlan(info, handler)

    def _handlers(self):
        return {
            ("open", "<"): self._on_open, ("openat", "<"): self._on_open,
            ("openat2", "<"): self._on_open, ("creat", "<"): self._on_open,
            ("close", "<"): self._on_close,
            ("socket", "<"): self._on_socket, ("bind", "<"): self._on_bind,
            ("connect", ">"): self._on_connect_enter, ("connect", "<"): self._on_connect,
            ("sendto", "<"): self._on_io_with_tuple, ("sendmsg", "<"): self._on_io_with_tuple,
            ("recvfrom", "<"): self._on_io_with_tuple, ("recvmsg", "<"): self._on_io_with_tuple,
            ("accept", "<"): self._on_accept, ("accept4", "<"): self._on_accept,
            ("dup", "<"): self._on_dup, ("dup2", "<"): self._on_dup, ("dup3", "<"): self._on_dup,
            ("fcntl", "<"): self._on_fcntl,
            ("pipe", "<"): self._on_pipe, ("pipe2", "<"): self._on_pipe,
            ("socketpair", "<"): self._on_socketpair,
            ("chdir", "<"): self._on_chdir, ("fchdir", "<"): self._on_fchdir,
            ("execve", "<"): self._on_execve, ("execveat", "<"): self._on_execve,
            ("clone", "<"): self._on_clone, ("clone3", "<"): self._on_clone,
            ("fork", "<"): self._on_clone, ("vfork", "<"): self._on_clone,
            ("procexit", ">"): self._on_procexit,
            ("close_range", "<"): self._on_close_range,
        }

    # --- lookups (the contract the fields use) -----------------------------------------------

    def thread(self, tid):
        """The ThreadInfo of `tid`, or None."""
        return self.threads.get(tid)

    def parent(self, thread):
        """The parent ThreadInfo of `thread` (by ptid), or None."""
        if thread is None:
            return None
        return self.threads.get(thread.ptid)

    def main_thread(self, thread):
        """The process's main thread (tid == pid), or the thread itself when it is not known."""
        return self.threads.get(thread.pid, thread)

    # --- per event -----------------------------------------------------------------------------

    def process(self, ev):
        """Attach thread/enter/fd to `ev` and apply its state rule."""
        if self._pending_removal:
            for gone in self._pending_removal:
                self.threads.pop(gone, None)
                self._last_fd.pop(gone, None)
            self._pending_removal.clear()
        plan = self._plans[ev.type]
        if self.first_ts is None and not plan.is_container:
            self.first_ts = ev.ts
        if self.live and ev.ts >= self._next_purge:  # checked inline: live runs pass here per event
            self._purge_gone_threads(ev.ts)
        tid = ev.tid
        if tid >= 1 << 63:
            tid -= 1 << 64
        th = self.threads.get(tid)
        made = False
        if th is None and not plan.lookup_only:
            th = self._new_thread(tid)
            self._made_by_event = th
            made = True
        elif plan.is_container:
            th = _container_thread(ev)
        ev.thread = th
        if th is None:
            return
        raw = ev.raw
        fdi = plan.fd_index
        fdnum = ev.fdnum  # kept in a local: the plain I/O events never need the attribute read back
        if plan.is_exit:
            enter = th.last_enter
            if enter is not None and enter.type == ev.type - 1:
                ev.enter = enter
                if _THREADS_KEEP_LATENCY:
                    th.latency = ev.ts - enter.ts  # what switch/procexit show as evt.latency
            th.last_enter = None  # an enter pairs with one exit only
            if plan.uses_fd:
                if fdi < 0:
                    # like sysdig, the fd of the thread's last fd-using enter, paired or not
                    # (0 for a thread that had none: sysdig's initial value)
                    fdnum = ev.fdnum = self._last_fd.get(tid, 0)
                else:
                    fdnum = ev.fdnum = raw_fd(ev, fdi) if fdi < len(raw) else -1
            if plan.creates_fd:
                res = raw_fd(ev, 0) if raw else None
                if res is not None and res < 0:
                    fdnum = ev.fdnum = -1  # a failed fd-creating call refers to no fd
        elif not plan.lookup_only:
            th.last_enter = ev
            if plan.uses_fd:
                if 0 <= fdi < len(raw):
                    value = raw[fdi]  # raw_fd inlined: every read/write enter passes here
                    fdnum = ev.fdnum = self._last_fd[tid] = _I64(value)[0] if len(value) == 8 else None
            elif plan.creates_fd:
                fdnum = ev.fdnum = self._last_fd[tid] = -1  # the fd does not exist yet
        handler = plan.handler
        if handler is not None:
            handler(ev, th)
            fdnum = ev.fdnum  # a rule may have set it
        if made:
            self._made_by_event = None
        if fdnum is not None and ev.fd is None:
            ev.fd = th.fdtable.get(fdnum)

    def _purge_gone_threads(self, now):
        """Every PURGE_INTERVAL_NS of event time, drop threads /proc no longer has."""
        started = self._next_purge != _PURGE_NOT_STARTED
        self._next_purge = now + self.PURGE_INTERVAL_NS
        if not started:
            return  # the first event starts the clock
        alive = self.proc_alive
        for tid in [tid for tid in self.threads if not alive(tid)]:
            del self.threads[tid]
            self._last_fd.pop(tid, None)

    def _new_thread(self, tid):
        if tid < 0:
            return None
        if self.live and self.proc_lookup is not None:
            th = self.proc_lookup(tid)
            if th is not None:
                main = self.threads.get(th.pid)
                if main is not None and main is not th:
                    th.fdtable = main.fdtable  # threads share their process's fd table
                self.threads[tid] = th
                return th
        th = ThreadInfo(tid, comm="<NA>")
        th.exe = "<NA>"
        th.ptid = -1
        th.uid = th.gid = _NO_ID
        th.cwd = ""
        self.threads[tid] = th
        return th

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _arg(ev, name, enter=True):
        """Raw bytes of parameter `name` from the exit, else from its paired enter; None if absent."""
        i = ev.info.param_index.get(name)
        if i is not None and i < len(ev.raw):
            return ev.raw[i]
        if enter and ev.enter is not None:
            e = ev.enter
            i = e.info.param_index.get(name)
            if i is not None and i < len(e.raw):
                return e.raw[i]
        return None

    @staticmethod
    def _enter_first_arg(ev, name):
        """Raw bytes of parameter `name` from the paired enter, else from the exit; or None."""
        e = ev.enter
        if e is not None:
            i = e.info.param_index.get(name)
            if i is not None and i < len(e.raw):
                return e.raw[i]
        return State._arg(ev, name, enter=False)

    @staticmethod
    def _int_arg(ev, name, enter=True):
        raw = State._arg(ev, name, enter)
        if raw is None or not raw:
            return None
        return int.from_bytes(raw, "little", signed=len(raw) == 8)

    def _res(self, ev):
        """The syscall's return value (the first parameter of exits: res or fd)."""
        return raw_fd(ev, 0) if ev.raw else None

    def _add_fd(self, ev, th, fd, fdinfo):
        th.fdtable[fd] = fdinfo
        ev.fdnum = fd
        ev.fd = fdinfo

    def _dirfd_base(self, th, dirfd):
        if dirfd is None or dirfd == AT_FDCWD:
            return th.cwd
        d = th.fdtable.get(dirfd)
        return d.name if d is not None else None

    # --- fd rules -----------------------------------------------------------------------------

    def _on_open(self, ev, th):
        fd = self._res(ev)
        if fd is None or fd < 0:
            return
        # like sysdig, the paired enter's arguments win over the exit's copies
        name_raw = self._enter_first_arg(ev, "name")
        name = raw_str(name_raw) if name_raw is not None else ""
        raw = self._enter_first_arg(ev, "dirfd")
        dirfd = int.from_bytes(raw, "little", signed=True) if raw else None
        if name and not name.startswith("/"):
            base = self._dirfd_base(th, dirfd)
            # a dirfd sysdig does not know leaves the path marked as unresolved
            name = concat_path(base, name) if base is not None else "<UNKNOWN>" + name
        raw = self._enter_first_arg(ev, "flags")
        flags = int.from_bytes(raw, "little") if raw else 0
        fdtype = "directory" if flags & _O_DIRECTORY else "file"
        fdinfo = FdInfo(fd, fdtype, name, flags=flags)
        fdinfo.cloexec = bool(flags & _O_CLOEXEC)
        self._add_fd(ev, th, fd, fdinfo)

    def _on_close(self, ev, th):
        res = self._res(ev)
        fd = ev.fdnum
        if res is not None and res >= 0 and fd is not None:
            ev.fd = th.fdtable.pop(fd, None)

    def _on_close_range(self, ev, th):
        """close_range(first, last, flags): closes the range, or marks it close-on-exec."""
        if self._res(ev) != 0:
            return
        first = self._int_arg(ev, "first", enter=False)
        last = self._int_arg(ev, "last", enter=False)
        if first is None or last is None:
            return
        flags = self._int_arg(ev, "flags", enter=False) or 0
        table = th.fdtable
        for fd in [fd for fd in table if first <= fd <= last]:
            if flags & _CLOSE_RANGE_CLOEXEC:
                table[fd].cloexec = True
            else:
                del table[fd]

    def _on_simple_fd(self, ev, th):
        fd = self._res(ev)
        if fd is None or fd < 0:
            return
        fdtype = _SIMPLE_FD_TYPES[ev.info.name]
        name = ""
        if fdtype == "memfd":
            raw = self._arg(ev, "name")
            name = "memfd:" + raw_str(raw) if raw else ""
        self._add_fd(ev, th, fd, FdInfo(fd, fdtype, name))

    def _on_pipe(self, ev, th):
        res = self._res(ev)
        if res is None or res < 0:
            return
        ino = self._int_arg(ev, "ino", enter=False) or 0
        for name in ("fd1", "fd2"):  # the event refers to the last one made, fd2
            fd = self._int_arg(ev, name, enter=False)
            if fd is not None and fd >= 0:
                self._add_fd(ev, th, fd, FdInfo(fd, "pipe", "", ino=ino))

    def _on_socketpair(self, ev, th):
        res = self._res(ev)
        if res is None or res < 0:
            return
        for name in ("fd1", "fd2"):  # like pipe, the event refers to fd2
            fd = self._int_arg(ev, name, enter=False)
            if fd is not None and fd >= 0:
                self._add_fd(ev, th, fd, FdInfo(fd, "unix", ""))

    def _on_socket(self, ev, th):
        fd = self._res(ev)
        if fd is None or fd < 0:
            return
        domain = self._int_arg(ev, "domain")
        socktype = self._int_arg(ev, "type") or 0
        if domain == _AF_UNIX:
            fdinfo = FdInfo(fd, "unix", "")
        elif domain in (_AF_INET, _AF_INET6):
            fdinfo = FdInfo(fd, "ipv4" if domain == _AF_INET else "ipv6", "")
        elif domain == _AF_NETLINK:
            fdinfo = FdInfo(fd, "netlink", "")
        elif domain in _KNOWN_FAMILIES:
            fdinfo = FdInfo(fd, "unknown", "")
        else:
            ev.fdnum = fd
            return  # no entry for a family sysdig has no name for
        # sockets keep the socket() type in `flags`: connect uses it to pick TCP or UDP
        fdinfo.flags = socktype
        self._add_fd(ev, th, fd, fdinfo)

    def _on_bind(self, ev, th):
        res = self._res(ev)
        fdinfo = th.fdtable.get(ev.fdnum) if ev.fdnum is not None else None
        if res is None or res < 0 or fdinfo is None:
            return
        raw = self._arg(ev, "addr", enter=False)
        addr = decode_sockaddr(raw) if raw else None
        if addr is None:
            return
        if addr[0] == "unix":
            fdinfo.name = addr[1]
            return
        fdinfo.name = f"{addr[1]}:{addr[2]}"
        if addr[1] == "::":
            fdinfo.type = "ipv4"  # sysdig 0.29 files a socket bound to any IPv6 address as IPv4
        if addr[2] > 0:
            # a bound port makes a listening socket: only the server side is known
            fdinfo.sip, fdinfo.sport = addr[1], addr[2]
            fdinfo.is_server = True
            if fdinfo.l4proto is None:
                fdinfo.l4proto = "tcp"

    def _on_connect_enter(self, ev, th):
        """A unix socket is named by the path it connects to as soon as it tries."""
        fdinfo = th.fdtable.get(ev.fdnum) if ev.fdnum is not None else None
        if fdinfo is None or fdinfo.type != "unix" or _is_connected(fdinfo):
            return
        raw = self._arg(ev, "addr", enter=False)
        addr = decode_sockaddr(raw) if raw else None
        if addr is not None and addr[0] == "unix":
            fdinfo.name = addr[1]

    def _on_connect(self, ev, th):
        fdinfo = th.fdtable.get(ev.fdnum) if ev.fdnum is not None else None
        if fdinfo is None or _is_connected(fdinfo):
            return  # a connected socket keeps its first tuple, as in sysdig 0.29
        raw = self._arg(ev, "tuple", enter=False)
        tup = decode_socktuple(raw) if raw else None
        if tup is None:
            return
        res = self._res(ev)
        if res is not None and res < 0 and res != -_EINPROGRESS:
            # a failed connect leaves the socket unnamed; only this event sees the tuple's text
            ev.fd = fdinfo.copy()
            ev.fd.name = socktuple_text(tup)
            return
        self._set_tuple(fdinfo, tup, is_server=False)

    def _on_io_with_tuple(self, ev, th):
        """sendto/sendmsg/recvfrom/recvmsg with an address, on a socket not connected yet, name
        it by that tuple; an unspecified address (all zeros) is shown as the loopback one."""
        fdinfo = th.fdtable.get(ev.fdnum) if ev.fdnum is not None else None
        if fdinfo is None or fdinfo.type not in ("ipv4", "ipv6") or _is_connected(fdinfo):
            return
        res = self._res(ev)
        if res is None or res < 0:
            return
        raw = self._arg(ev, "tuple")
        tup = decode_socktuple(raw) if raw else None
        if tup is None or tup[0] == "unix":
            return
        fam, sip, sport, dip, dport = tup
        sip = _UNSPECIFIED_TO_LOOPBACK.get(sip, sip)
        dip = _UNSPECIFIED_TO_LOOPBACK.get(dip, dip)
        fdinfo.name = socktuple_text((fam, sip, sport, dip, dport))
        fdinfo.cip, fdinfo.cport, fdinfo.sip, fdinfo.sport = sip, sport, dip, dport
        _infer_l4proto(fdinfo)

    def _on_accept(self, ev, th):
        fd = self._res(ev)
        if fd is None or fd < 0:
            return
        raw = self._arg(ev, "tuple", enter=False)
        tup = decode_socktuple(raw) if raw else None
        if tup is None:
            ev.fdnum = fd
            return  # without a tuple sysdig does not know what was accepted: no entry
        fdinfo = FdInfo(fd, tup[0], "")
        self._set_tuple(fdinfo, tup, is_server=True)
        if fdinfo.l4proto is None and tup[0] != "unix":
            fdinfo.l4proto = "tcp"
        self._add_fd(ev, th, fd, fdinfo)

    @staticmethod
    def _set_tuple(fdinfo, tup, is_server):
        """Name a socket by its tuple (its type stays what socket() made it)."""
        fdinfo.name = socktuple_text(tup)
        fdinfo.flags |= _FD_CONNECTED
        fdinfo.is_server = is_server
        if tup[0] == "unix":
            fdinfo.source, fdinfo.dest = tup[1], tup[2]
            return
        fdinfo.cip, fdinfo.cport, fdinfo.sip, fdinfo.sport = tup[1], tup[2], tup[3], tup[4]
        _infer_l4proto(fdinfo)

    def _dup_to(self, ev, th, oldfd, newfd, cloexec=False):
        src = th.fdtable.get(oldfd) if oldfd is not None else None
        if newfd is None or newfd < 0 or src is None:
            return
        copy = src.copy(newfd)
        copy.cloexec = cloexec
        self._add_fd(ev, th, newfd, copy)

    def _on_dup(self, ev, th):
        newfd = self._res(ev)
        oldfd = self._int_arg(ev, "oldfd")
        if oldfd is None:
            oldfd = ev.enter.fdnum if ev.enter is not None else None
        flags = self._int_arg(ev, "flags") or 0
        self._dup_to(ev, th, oldfd, newfd, cloexec=bool(flags & _O_CLOEXEC))

    def _on_fcntl(self, ev, th):
        cmd = self._int_arg(ev, "cmd")
        if cmd is None:
            return
        name = model().flag_tables["fcntl_commands"].by_value.get(cmd)
        if name not in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
            return
        oldfd = ev.enter.fdnum if ev.enter is not None else None
        self._dup_to(ev, th, oldfd, self._res(ev), cloexec=name == "F_DUPFD_CLOEXEC")

    # --- thread rules --------------------------------------------------------------------------

    def _on_chdir(self, ev, th):
        res = self._res(ev)
        if res is None or res < 0:
            return
        raw = self._arg(ev, "path", enter=False)
        if raw is not None:
            self._set_cwd(th, concat_path(th.cwd, raw_str(raw)))

    def _on_fchdir(self, ev, th):
        res = self._res(ev)
        if res is None or res < 0 or ev.enter is None:
            return
        d = th.fdtable.get(ev.enter.fdnum)
        if d is not None:
            self._set_cwd(th, concat_path(th.cwd, d.name))

    def _set_cwd(self, th, cwd):
        # the cwd belongs to the process: keep the main thread and this thread in step
        th.cwd = cwd
        main = self.threads.get(th.pid)
        if main is not None:
            main.cwd = cwd

    def _fill_from_exit(self, ev, th, describes_th=True):
        """Copy the program description an execve/clone exit carries into `th`.

        The cwd is not taken from the exit: sysdig 0.29 keeps it across execve and gives a
        clone child its parent's. `describes_th` is False for a clone exit read in the parent,
        whose ids (tid, pid, vtid...) are the parent's own.
        """
        raw = self._arg(ev, "exe", enter=False)
        if raw is not None:
            th.exe = raw_str(raw)
        raw = self._arg(ev, "args", enter=False)
        if raw is not None:
            th.args = _split_nul(raw)
        raw = self._arg(ev, "comm", enter=False)
        if raw is not None:
            th.comm = raw_str(raw)
        elif th.exe:
            # old execve/clone layouts carry no comm: sysdig falls back to the exe's basename
            th.comm = os.path.basename(th.exe)
        raw = self._arg(ev, "env", enter=False)
        if raw is not None:
            th.env = _split_nul(raw)
        raw = self._arg(ev, "cgroups", enter=False)
        if raw is not None:
            th.cgroups = _split_nul(raw)
        for name, attr in _PROCESS_NUMBERS + (_THREAD_IDS if describes_th else ()):
            v = self._int_arg(ev, name, enter=False)
            if v is not None:
                setattr(th, attr, v)

    def _on_execve(self, ev, th):
        if self._res(ev) != 0:
            return
        self._fill_from_exit(ev, th)
        pid = self._int_arg(ev, "pid", enter=False)
        ptid = self._int_arg(ev, "ptid", enter=False)
        if pid is not None and pid > 0:
            th.pid = pid
        if ptid is not None and ptid >= 0 and th.ptid <= 0:
            th.ptid = ptid
        # the executable's path is what the caller asked to run
        if ev.enter is not None:
            raw = self._arg(ev, "filename")
            if raw is None:
                raw = self._arg(ev, "pathname")  # execveat
            if raw is not None:
                th.exepath = raw_str(raw)
        # close-on-exec fds do not survive the new program
        table = th.fdtable
        for fd in [fd for fd, f in table.items() if f.cloexec]:
            del table[fd]

    def _on_clone(self, ev, th):
        res = self._res(ev)
        if res is None or res < 0:
            return
        flags = self._int_arg(ev, "flags", enter=False) or 0
        has_uid = self._arg(ev, "uid", enter=False) is not None
        if res > 0:
            # in the parent: res is the child's tid; the exit describes the parent. Inside a
            # pid namespace res is the namespace's number, not a real tid: wait for the child.
            # A placeholder the child's own events made is replaced.
            known = self.threads.get(res)
            if known is not None and known.comm != "<NA>":
                return
            vtid = self._int_arg(ev, "vtid", enter=False)
            tid = self._int_arg(ev, "tid", enter=False)
            if vtid is not None and tid is not None and vtid != tid:
                return
            parent = th
            child = ThreadInfo(res)
            self._fill_from_exit(ev, child, describes_th=False)
            child.pid = parent.pid if flags & _CLONE_THREAD else res
            child.ptid = parent.tid  # sysdig 0.29 ignores CLONE_PARENT
        else:
            # in the child: the exit describes the thread itself; sysdig builds it from here
            # only when this exit is the first it hears of the thread
            if th is not self._made_by_event:
                return
            child = th
            self._fill_from_exit(ev, child)
            pid = self._int_arg(ev, "pid", enter=False)
            ptid = self._int_arg(ev, "ptid", enter=False)
            if pid is not None:
                child.pid = pid
            if ptid is not None:
                child.ptid = ptid
            parent = self.threads.get(child.ptid)
        if parent is not None:
            child.cwd = parent.cwd
            child.exepath = parent.exepath
            child.loginuid = parent.loginuid
            if not has_uid:
                child.uid, child.gid = parent.uid, parent.gid
            pmain = self.threads.get(parent.pid, parent)
            if child.pid == parent.pid:
                child.fdtable = pmain.fdtable  # threads share the table; processes copy it
            else:
                child.fdtable = {fd: f.copy() for fd, f in pmain.fdtable.items()}
        child.clone_ts = ev.ts
        self.threads[child.tid] = child

    def _on_procexit(self, ev, th):
        """The thread leaves at the next event. A process's main thread that exits while other
        threads of it live stays (they read the process's data from it), as in sysdig 0.29,
        which does not come back for it when they exit (the live purge does)."""
        th.exited = True
        if th.tid == th.pid and any(t.pid == th.pid and t is not th and not t.exited
                                    for t in self.threads.values()):
            return
        self._pending_removal.append(th.tid)


# (exit parameter, ThreadInfo attribute) copied by execve/clone exits
_PROCESS_NUMBERS = (("fdlimit", "fdlimit"), ("vm_size", "vmsize_kb"), ("vm_rss", "vmrss_kb"),
                    ("vm_swap", "vmswap_kb"), ("pgft_maj", "pfmajor"), ("pgft_min", "pfminor"),
                    ("uid", "uid"), ("gid", "gid"), ("tty", "tty"), ("loginuid", "loginuid"),
                    ("pgid", "vpgid"))
_THREAD_IDS = (("vtid", "vtid"), ("vpid", "vpid"))


def _proc_alive(tid):
    return os.path.exists(f"/proc/{tid}")


def _is_connected(fdinfo):
    """Whether connect/accept already gave this socket its tuple."""
    return bool(fdinfo.flags & _FD_CONNECTED)


def _infer_l4proto(fdinfo):
    """The L4 protocol of an IP socket from its socket() type, when not known yet."""
    if fdinfo.l4proto is None:
        fdinfo.l4proto = _L4_BY_SOCKTYPE.get(fdinfo.flags & _SOCK_TYPE_MASK)


def _container_thread(ev):
    """The thread sysdig shows for a container JSON event: tid -1, comm `container:ID`.

    It stands for the container and is not added to the thread table.
    """
    try:
        doc = json.loads(raw_str(ev.raw[0]))
        cid = doc["container"]["id"]
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    th = ThreadInfo(-1, pid=-1, ptid=0, comm=f"container:{cid}")
    th.exe = th.cwd = ""
    th.vtid = th.vpid = -2
    return th


def _split_nul(raw):
    """A NUL-separated list (execve args, env, cgroups) as a list of str."""
    if not raw:
        return []
    text = raw.decode("utf-8", "surrogateescape")
    if text.endswith("\0"):
        text = text[:-1]
    return text.split("\0") if text else []
