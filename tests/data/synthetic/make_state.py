"""Build `state.scap`: a made-up but consistent session exercising the state rules sysdig 0.29
applies (paths against cwd and dirfd, chdir/fchdir, dup/fcntl, pipes, sockets of every kind,
typed fds, clone of a process and of a thread (and the clone flags 0.29 ignores), vfork,
execve dropping close-on-exec fds, procexit, unknown threads).

Regenerate (from the repo root) with:
    .venv/bin/python tests/data/synthetic/make_state.py
    TZ=UTC sysdig -r tests/data/synthetic/state.scap -p "$(cat tests/data/synthetic/state.fmt)" \
        > tests/data/sysdig-0.29/synthetic_state.fields.txt
The process tree and users come from libs_sample.scap's snapshot (bash 1630, cwd /root).
"""

from pathlib import Path

from chisel.core.event import Event, model
from chisel.core.params import encode_param
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter

HERE = Path(__file__).resolve().parent
START_TS = 1690557263000000000
BASH, CHILD, THREAD, STRANGER = 1630, 5000, 5001, 7777
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
AT_FDCWD = -100


def flag(table, *names):
    entries = dict((name, value) for value, name in model().flag_tables[table].entries)
    value = 0
    for name in names:
        value |= entries[name]
    return value


O_RDONLY, O_WRONLY = flag("file_flags", "O_RDONLY"), flag("file_flags", "O_WRONLY")
O_CREAT, O_CLOEXEC = flag("file_flags", "O_CREAT"), flag("file_flags", "O_CLOEXEC")
O_DIRECTORY = flag("file_flags", "O_DIRECTORY")
F_DUPFD = flag("fcntl_commands", "F_DUPFD")
CLONE_THREAD = flag("clone_flags", "CLONE_THREAD", "CLONE_VM", "CLONE_FILES", "CLONE_FS",
                    "CLONE_SIGHAND")
CLONE_FILES, CLONE_PARENT = flag("clone_flags", "CLONE_FILES"), flag("clone_flags", "CLONE_PARENT")

# Default value per wire type, for parameters a step does not name.
DEFAULTS = {"PT_CHARBUF": "", "PT_FSPATH": "", "PT_FSRELPATH": "", "PT_BYTEBUF": b"",
            "PT_SOCKADDR": None, "PT_SOCKTUPLE": None, "PT_FDLIST": []}


def event_id(name, direction):
    ids = [i for i in model().ids_for_name(name) if model().events[i].dir == direction and i < 336]
    return ids[-1]


def raw_params(etype, values):
    """Every parameter of `etype`, from `values` by name or the type's default."""
    return [encode_param(p.ptype, values.get(p.name, DEFAULTS.get(p.ptype, 0)), p.table)
            for p in model().events[etype].params]


def process(tid, pid, ptid, comm, exe, cwd, **extra):
    return dict(exe=exe, tid=tid, pid=pid, ptid=ptid, cwd=cwd, fdlimit=1024, comm=comm,
                uid=0, gid=0, vtid=tid, vpid=pid, **extra)


def steps():
    """(tid, event name, direction, {parameter: value}) in capture order."""
    def call(tid, name, enter=None, exit_=None):
        yield (tid, name, ">", enter or {})
        yield (tid, name, "<", exit_ or {})

    yield from call(BASH, "open", {"name": "notes.txt", "flags": O_RDONLY | O_CLOEXEC},
                    {"fd": 3, "name": "notes.txt", "flags": O_RDONLY | O_CLOEXEC})
    yield from call(BASH, "chdir", {}, {"res": 0, "path": "../tmp"})
    yield from call(BASH, "open", {"name": "x/../y", "flags": O_WRONLY | O_CREAT, "mode": 0o644},
                    {"fd": 4, "name": "x/../y", "flags": O_WRONLY | O_CREAT, "mode": 0o644})
    yield from call(BASH, "open", {"name": "/etc", "flags": O_RDONLY | O_DIRECTORY},
                    {"fd": 5, "name": "/etc", "flags": O_RDONLY | O_DIRECTORY})
    yield from call(BASH, "openat", {"dirfd": 5, "name": "hosts", "flags": O_RDONLY},
                    {"fd": 6, "dirfd": 5, "name": "hosts", "flags": O_RDONLY})
    yield from call(BASH, "openat", {"dirfd": AT_FDCWD, "name": "z", "flags": O_RDONLY},
                    {"fd": -2, "dirfd": AT_FDCWD, "name": "z", "flags": O_RDONLY})
    yield from call(BASH, "fchdir", {"fd": 5}, {"res": 0})
    yield from call(BASH, "stat", {}, {"res": 0, "path": "passwd"})
    yield from call(BASH, "dup", {"fd": 6}, {"res": 7})
    yield from call(BASH, "fcntl", {"fd": 6, "cmd": F_DUPFD}, {"res": 8})
    yield from call(BASH, "pipe", {}, {"res": 0, "fd1": 9, "fd2": 10, "ino": 4242})
    yield from call(BASH, "read", {"fd": 9, "size": 10}, {"res": 2, "data": b"hi"})
    yield from call(BASH, "socket", {"domain": AF_INET, "type": 1, "proto": 0}, {"fd": 11})
    yield from call(BASH, "connect", {"fd": 11, "addr": (AF_INET, "93.184.216.34", 80)},
                    {"res": -115, "tuple": (AF_INET, "10.0.2.15", 43210, "93.184.216.34", 80)})
    yield from call(BASH, "write", {"fd": 11, "size": 4}, {"res": 4, "data": b"GET "})
    yield from call(BASH, "socket", {"domain": AF_INET, "type": 2, "proto": 0}, {"fd": 12})
    yield from call(BASH, "sendto",
                    {"fd": 12, "size": 5, "tuple": (AF_INET, "0.0.0.0", 0, "8.8.8.8", 53)},
                    {"res": 5, "data": b"query"})
    yield from call(BASH, "socket", {"domain": AF_INET6, "type": 1, "proto": 6}, {"fd": 13})
    yield from call(BASH, "bind", {"fd": 13}, {"res": 0, "addr": (AF_INET6, "::", 8080)})
    yield from call(BASH, "listen", {"fd": 13, "backlog": 5}, {"res": 0})
    yield from call(BASH, "accept", {}, {"fd": 14, "tuple": (AF_INET6, "::1", 5555, "::1", 8080)})
    yield from call(BASH, "read", {"fd": 14, "size": 10}, {"res": 3, "data": b"abc"})
    yield from call(BASH, "socket", {"domain": AF_UNIX, "type": 1, "proto": 0}, {"fd": 15})
    yield from call(BASH, "connect", {"fd": 15, "addr": (AF_UNIX, "/run/x.sock")},
                    {"res": 0, "tuple": (AF_UNIX, 0xFFFF0001, 0xFFFF0002, "/run/x.sock")})
    yield from call(BASH, "eventfd", {"initval": 0, "flags": 0}, {"res": 16})
    yield from call(BASH, "signalfd", {"fd": -1, "mask": 2, "flags": 0}, {"res": 17})
    yield from call(BASH, "timerfd_create", {"clockid": 1, "flags": 0}, {"res": 18})
    yield from call(BASH, "inotify_init", {"flags": 0}, {"res": 19})
    yield from call(BASH, "close", {"fd": 4}, {"res": 0})
    yield from call(BASH, "read", {"fd": 4, "size": 1}, {"res": -9})
    # a child process, then a thread of bash
    yield from call(BASH, "clone", {}, {"res": CHILD, **process(BASH, BASH, 1629, "bash",
                                                                "/bin/bash", "/root")})
    yield from call(CHILD, "clone", {}, {"res": 0, **process(CHILD, CHILD, BASH, "bash",
                                                             "/bin/bash", "/root")})
    yield from call(CHILD, "read", {"fd": 6, "size": 1}, {"res": 1, "data": b"1"})
    yield from call(CHILD, "execve", {"filename": "/bin/ls"},
                    {"res": 0, **process(CHILD, CHILD, BASH, "ls", "ls", "/root"),
                     "args": b"-l\0", "env": b"HOME=/root\0"})
    yield from call(CHILD, "read", {"fd": 3, "size": 1}, {"res": -9})
    yield from call(CHILD, "read", {"fd": 6, "size": 1}, {"res": 1, "data": b"2"})
    yield from call(BASH, "clone", {}, {"res": THREAD, "flags": CLONE_THREAD,
                                        **process(BASH, BASH, 1629, "bash", "/bin/bash", "/root")})
    yield from call(THREAD, "read", {"fd": 7, "size": 1}, {"res": 1, "data": b"3"})
    yield (CHILD, "procexit", ">", {})
    yield from call(BASH, "read", {"fd": 8, "size": 1}, {"res": 1, "data": b"4"})
    yield from call(CHILD, "read", {"fd": 6, "size": 1}, {"res": -9})
    yield from call(STRANGER, "open", {"name": "rel", "flags": O_RDONLY},
                    {"fd": 3, "name": "rel", "flags": O_RDONLY})
    # more edges: failed calls, a thread changing the process's cwd, UDP naming by recvfrom,
    # a refused connect, socketpair, fork, a thread's exit
    yield from call(BASH, "chdir", {}, {"res": -2, "path": "/nope"})
    yield from call(THREAD, "chdir", {}, {"res": 0, "path": "/var"})
    yield from call(BASH, "stat", {}, {"res": 0, "path": "log"})
    yield from call(BASH, "socket", {"domain": AF_INET, "type": 2, "proto": 0}, {"fd": 20})
    yield from call(BASH, "recvfrom", {"fd": 20, "size": 10},
                    {"res": 2, "data": b"ok", "tuple": (AF_INET, "1.1.1.1", 53, "0.0.0.0", 4000)})
    yield from call(BASH, "read", {"fd": 20, "size": 1}, {"res": 1, "data": b"x"})
    yield from call(BASH, "socket", {"domain": AF_INET, "type": 1, "proto": 0}, {"fd": 21})
    yield from call(BASH, "connect", {"fd": 21, "addr": (AF_INET, "127.0.0.1", 9)},
                    {"res": -111, "tuple": (AF_INET, "127.0.0.1", 40000, "127.0.0.1", 9)})
    yield from call(BASH, "close", {"fd": 21}, {"res": 0})
    yield from call(BASH, "socketpair", {"domain": AF_UNIX, "type": 1, "proto": 0},
                    {"res": 0, "fd1": 22, "fd2": 23, "source": 0xAA, "peer": 0xBB})
    yield from call(BASH, "write", {"fd": 23, "size": 1}, {"res": 1, "data": b"y"})
    yield from call(BASH, "dup", {"fd": 11}, {"res": 24})
    yield from call(BASH, "write", {"fd": 24, "size": 1}, {"res": 1, "data": b"z"})
    yield from call(BASH, "fork", {}, {"res": 5002, **process(BASH, BASH, 1629, "bash",
                                                             "/bin/bash", "/root")})
    yield from call(5002, "read", {"fd": 24, "size": 1}, {"res": 1, "data": b"w"})
    yield from call(5002, "execve", {"filename": "/nope"}, {"res": -2})
    yield from call(5002, "read", {"fd": 24, "size": 1}, {"res": 1, "data": b"v"})
    yield (THREAD, "procexit", ">", {})
    yield from call(BASH, "read", {"fd": 7, "size": 1}, {"res": 1, "data": b"u"})
    yield from call(THREAD, "read", {"fd": 7, "size": 1}, {"res": 1, "data": b"t"})
    # clone flags sysdig 0.29 ignores (CLONE_FILES still copies, CLONE_PARENT still parents to
    # the caller), vfork, a child heard of before its parent's exit, execve of an unknown thread
    bash = process(BASH, BASH, 1629, "bash", "/bin/bash", "/root")
    yield from call(BASH, "open", {"name": "/a", "flags": O_RDONLY},
                    {"fd": 25, "name": "/a", "flags": O_RDONLY})
    yield from call(BASH, "clone", {}, {"res": 6000, "flags": CLONE_FILES, **bash})
    yield from call(6000, "close", {"fd": 25}, {"res": 0})
    yield from call(BASH, "read", {"fd": 25, "size": 1}, {"res": 1, "data": b"a"})
    yield from call(BASH, "clone", {}, {"res": 6001, "flags": CLONE_PARENT, **bash})
    yield from call(6001, "read", {"fd": 0, "size": 1}, {"res": 1, "data": b"b"})
    yield from call(BASH, "vfork", {}, {"res": 6002, **bash})
    yield from call(6002, "read", {"fd": 0, "size": 1}, {"res": 1, "data": b"c"})
    yield from call(6003, "clone", {}, {"res": 0, **process(6003, 6003, BASH, "bash", "/bin/bash",
                                                            "/root")})
    yield from call(BASH, "clone", {}, {"res": 6003, **bash})
    yield from call(6003, "read", {"fd": 0, "size": 1}, {"res": 1, "data": b"d"})
    yield from call(6100, "execve", {"filename": "/usr/bin/id"},
                    {"res": 0, **process(6100, 6100, BASH, "id", "id", "/tmp"), "args": b"-u\0"})
    yield from call(6100, "open", {"name": "f", "flags": O_RDONLY},
                    {"fd": 3, "name": "f", "flags": O_RDONLY})
    # the main thread exits before its threads: it stays until the last one is gone
    yield from call(BASH, "clone", {}, {"res": 7001, "flags": CLONE_THREAD, **bash})
    yield from call(BASH, "clone", {}, {"res": 7002, "flags": CLONE_THREAD, **bash})
    yield (BASH, "procexit", ">", {})
    yield from call(7001, "read", {"fd": 0, "size": 1}, {"res": 1, "data": b"a"})
    yield from call(BASH, "read", {"fd": 1, "size": 1}, {"res": 1, "data": b"b"})
    yield (7001, "procexit", ">", {})
    yield from call(7002, "read", {"fd": 1, "size": 1}, {"res": 1, "data": b"c"})
    yield (7002, "procexit", ">", {})
    yield from call(BASH, "read", {"fd": 1, "size": 1}, {"res": 1, "data": b"d"})


def main():
    snapshot = ScapReader(str(HERE.parent / "scap" / "libs_sample.scap")).snapshot
    writer = ScapWriter(str(HERE / "state.scap"), snapshot)
    for k, (tid, name, direction, values) in enumerate(steps()):
        etype = event_id(name, direction)
        writer.write(Event(START_TS + 1000 * k, tid, etype, raw_params(etype, values), num=k + 1))
    writer.close()


if __name__ == "__main__":
    main()
