"""State engine rules on synthesized events: threads, fds, pairing, what sysdig keeps and drops."""

import pytest

from chisel.core.event import Event, model
from chisel.core.params import encode_params
from chisel.core.evtinfo import join_path
from chisel.core.state import State
from chisel.core.threadinfo import FdInfo, Snapshot, ThreadInfo

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


def event_id(name, direction):
    """The newest event id of `name` in direction '>' or '<'."""
    ids = [i for i in model().ids_for_name(name) if model().events[i].dir == direction]
    return ids[-1]


class Replay:
    """Feeds synthesized events to a State, numbering them and advancing time."""

    def __init__(self, threads=()):
        snap = Snapshot()
        snap.threads.extend(threads)
        self.state = State(snap)
        self.num = 0

    def ev(self, name, direction, *values, tid=100, etype=None):
        etype = event_id(name, direction) if etype is None else etype
        self.num += 1
        ev = Event(1_000 * self.num, tid, etype, encode_params(etype, values), num=self.num)
        self.state.process(ev)
        return ev


def shell(tid=100, comm="bash", cwd="/home/user/"):
    th = ThreadInfo(tid, comm=comm)
    th.cwd = cwd
    th.fdtable[0] = FdInfo(0, "file", "/dev/pts/0")
    return th


def test_join_path_normalises_dots_and_slashes():
    assert join_path("/home/user/", "../etc//passwd") == "/home/etc/passwd"
    assert join_path("/a/b", "./c") == "/a/b/c"
    assert join_path("/a", "/abs/./x") == "/abs/x"


def test_open_exit_adds_a_file_fd_resolved_against_cwd():
    r = Replay([shell()])
    enter = r.ev("open", ">", "notes.txt", 1, 0)
    ev = r.ev("open", "<", 3, "notes.txt", 1, 0, 0)
    assert ev.enter is enter
    assert ev.fdnum == 3
    assert ev.fd.name == "/home/user/notes.txt"
    assert ev.fd.type == "file"
    assert r.state.thread(100).fdtable[3] is ev.fd


def test_failed_open_adds_nothing():
    r = Replay([shell()])
    r.ev("open", "<", -2, "/nope", 1, 0, 0)
    assert sorted(r.state.thread(100).fdtable) == [0]


def test_openat_resolves_against_its_dirfd():
    th = shell()
    th.fdtable[5] = FdInfo(5, "directory", "/var/log")
    r = Replay([th])
    ev = r.ev("openat", "<", 7, 5, "syslog", 1, 0, 0, etype=event_id("openat", "<"))
    assert ev.fd.name == "/var/log/syslog"


def test_read_exit_takes_its_fd_from_the_paired_enter():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/passwd", 1, 0, 0)
    enter = r.ev("read", ">", 3, 100)
    ev = r.ev("read", "<", 10, b"root:x:0:0")
    assert ev.enter is enter
    assert ev.fdnum == 3
    assert ev.fd.name == "/etc/passwd"


def test_exit_without_its_enter_has_no_enter_but_the_threads_last_fd():
    r = Replay([shell()])
    r.ev("read", ">", 0, 10)
    ev = r.ev("write", "<", 1, b"x")
    assert ev.enter is None
    assert ev.fdnum == 0
    assert ev.fd.name == "/dev/pts/0"


def test_fd_of_an_exit_is_the_last_fd_using_enter_of_its_thread():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/passwd", 1, 0, 0)
    r.ev("ioctl", ">", 3, 0x5401, 0)
    r.ev("syscall", ">", 209, 28)  # an enter not about fds changes nothing
    ev = r.ev("write", "<", 1, b"x")
    assert (ev.enter, ev.fdnum, ev.fd.name) == (None, 3, "/etc/passwd")


def test_fd_creating_enter_refers_to_fd_minus_one_and_so_do_failures():
    r = Replay([shell()])
    assert r.ev("socket", ">", AF_INET, 1, 0).fdnum == -1
    assert r.ev("socket", "<", -24).fdnum == -1
    assert r.ev("open", "<", -2, "/nope", 1, 0, 0).fdnum == -1


def test_mmap_fd_is_not_the_events_fd():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/lib/libc.so.6", 1, 0, 0)
    ev = r.ev("mmap", ">", 0, 4096, 1, 2, 3, 0)
    assert (ev.fdnum, ev.fd) == (None, None)


def test_close_removes_the_fd_but_the_close_enter_still_sees_it():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/passwd", 1, 0, 0)
    enter = r.ev("close", ">", 3)
    assert enter.fd.name == "/etc/passwd"
    r.ev("close", "<", 0)
    assert 3 not in r.state.thread(100).fdtable


def test_unknown_tid_gets_a_placeholder_thread_on_a_syscall():
    r = Replay()
    ev = r.ev("open", ">", "/x", 1, 0, tid=4242)
    assert ev.thread.comm == "<NA>"
    assert ev.thread.exe == "<NA>"
    assert ev.thread.pid == 4242
    assert ev.thread.ptid == -1
    assert ev.thread.uid == 0xFFFFFFFF
    assert r.state.thread(4242) is ev.thread


def test_switch_of_an_unknown_tid_creates_no_thread():
    r = Replay()
    ev = r.ev("switch", ">", 0, 0, 0, 0, 0, 0, tid=0)
    assert ev.thread is None
    assert r.state.thread(0) is None


def test_clone_in_the_parent_creates_a_child_process_with_a_copied_fd_table():
    parent = shell(tid=100)
    parent.exepath = "/bin/bash"
    r = Replay([parent])
    values = [200, "/bin/bash", b"-c\0ls\0", 100, 100, 1, "/home/user/", 1024, 0, 0, 0, 0, 0,
              "bash", b"", 0, 1000, 1000]
    r.ev("clone", "<", *values)
    child = r.state.thread(200)
    assert (child.exepath, child.uid, child.gid, child.cwd) == ("/bin/bash", 1000, 1000,
                                                                "/home/user/")
    assert (child.tid, child.pid, child.ptid, child.comm) == (200, 200, 100, "bash")
    assert child.args == ["-c", "ls"]
    assert child.fdtable is not parent.fdtable
    assert child.fdtable[0].name == "/dev/pts/0"
    assert r.state.parent(child) is parent


def test_clone_thread_shares_the_process_fd_table():
    parent = shell(tid=100)
    r = Replay([parent])
    clone_thread = next(v for v, n in model().flag_tables["clone_flags"].entries
                        if n == "CLONE_THREAD")
    values = [201, "/bin/bash", b"", 100, 100, 1, "/", 1024, 0, 0, 0, 0, 0, "bash", b"",
              clone_thread, 0, 0]
    r.ev("clone", "<", *values)
    child = r.state.thread(201)
    assert (child.pid, child.ptid) == (100, 100)  # a thread's parent is the thread that made it
    assert child.fdtable is parent.fdtable


def test_clone_exit_in_an_unknown_child_builds_it_from_its_own_exit():
    r = Replay([shell(tid=100)])
    values = [0, "/bin/bash", b"", 300, 300, 100, "/tmp", 1024, 0, 0, 0, 0, 0, "bash", b"", 0,
              0, 0]
    ev = r.ev("clone", "<", *values, tid=300)
    assert ev.thread.comm == "bash"
    # the cwd is the parent's, not the exit's (sysdig 0.29)
    assert (ev.thread.pid, ev.thread.ptid, ev.thread.cwd) == (300, 100, "/home/user/")
    assert ev.thread.fdtable[0].name == "/dev/pts/0"


def test_execve_replaces_the_program_and_drops_close_on_exec_fds():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/ld.so.cache", 0x1001, 0, 0)  # O_RDONLY|O_CLOEXEC in PPM numbering
    r.ev("open", "<", 4, "/etc/hosts", 1, 0, 0)
    info = model().events[event_id("execve", "<")]
    values = {"res": 0, "exe": "ls", "args": b"-l\0", "tid": 100, "pid": 100, "ptid": 1,
              "cwd": "/srv", "comm": "ls", "env": b"HOME=/root\0"}
    r.ev("execve", ">", "/bin/ls")
    ev = r.ev("execve", "<", *[values.get(p.name) for p in info.params])
    th = ev.thread
    # the cwd stays (sysdig 0.29 ignores the exit's cwd); the path run becomes exepath
    assert (th.comm, th.exe, th.exepath, th.args, th.cwd, th.env) == (
        "ls", "ls", "/bin/ls", ["-l"], "/home/user/", ["HOME=/root"])
    assert sorted(th.fdtable) == [0, 4]


def test_failed_execve_changes_nothing():
    r = Replay([shell()])
    info = model().events[event_id("execve", "<")]
    values = {"res": -2, "exe": "nope", "comm": "nope"}
    ev = r.ev("execve", "<", *[values.get(p.name) for p in info.params])
    assert ev.thread.comm == "bash"


def test_procexit_removes_the_thread_only_at_the_next_event():
    r = Replay([shell()])
    ev = r.ev("procexit", ">", 0, 0, 0, 0)
    assert ev.thread.comm == "bash"
    assert r.state.thread(100) is not None
    r.ev("switch", ">", 0, 0, 0, 0, 0, 0, tid=1)
    assert r.state.thread(100) is None


def test_chdir_sets_cwd_relative_to_the_old_one():
    r = Replay([shell(cwd="/home/user")])
    r.ev("chdir", "<", 0, "../other")
    assert r.state.thread(100).cwd == "/home/other"


def test_socket_then_connect_names_the_fd_by_its_tuple_and_picks_tcp():
    r = Replay([shell()])
    r.ev("socket", ">", AF_INET, 1, 0)
    ev = r.ev("socket", "<", 4)
    assert (ev.fd.type, ev.fd.name, ev.fd.l4proto) == ("ipv4", "", None)
    r.ev("connect", ">", 4, (AF_INET, "10.0.0.2", 80))
    ev = r.ev("connect", "<", 0, (AF_INET, "10.0.0.1", 40112, "10.0.0.2", 80), 4)
    fd = r.state.thread(100).fdtable[4]
    assert ev.fd is fd
    assert fd.name == "10.0.0.1:40112->10.0.0.2:80"
    assert (fd.cip, fd.cport, fd.sip, fd.sport, fd.l4proto) == ("10.0.0.1", 40112, "10.0.0.2",
                                                                 80, "tcp")
    assert fd.is_server is False


def test_udp_socket_connect_picks_udp():
    r = Replay([shell()])
    r.ev("socket", ">", AF_INET6, 2050, 0)  # SOCK_DGRAM|SOCK_NONBLOCK
    r.ev("socket", "<", 4)
    r.ev("connect", ">", 4, None)
    r.ev("connect", "<", 0, (AF_INET6, "::1", 5000, "::1", 53), 4)
    assert r.state.thread(100).fdtable[4].l4proto == "udp"


def test_bind_to_a_port_makes_a_tcp_server_socket_and_port_zero_only_a_name():
    r = Replay([shell()])
    for fd, port in ((3, 1234), (5, 0)):
        r.ev("socket", ">", AF_INET6, 1, 6)
        r.ev("socket", "<", fd)
        r.ev("bind", ">", fd)
        r.ev("bind", "<", 0, (AF_INET6, "2001:db8::3", port))
    table = r.state.thread(100).fdtable
    assert (table[3].name, table[3].l4proto, table[3].sport, table[3].is_server) == (
        "2001:db8::3:1234", "tcp", 1234, True)
    assert (table[5].name, table[5].l4proto) == ("2001:db8::3:0", None)


def test_accept_adds_a_server_side_connection():
    r = Replay([shell()])
    r.ev("accept", ">", 0)
    ev = r.ev("accept", "<", 6, (AF_INET, "10.0.0.9", 5555, "10.0.0.1", 80), 0, 0, 0)
    assert (ev.fdnum, ev.fd.type, ev.fd.name, ev.fd.is_server, ev.fd.l4proto) == (
        6, "ipv4", "10.0.0.9:5555->10.0.0.1:80", True, "tcp")


def test_dup_copies_the_entry_under_the_new_number():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/passwd", 1, 0, 0)
    r.ev("dup", ">", 3)
    ev = r.ev("dup", "<", 9)
    assert ev.fdnum == 9
    assert ev.fd.name == "/etc/passwd"
    assert ev.fd is not r.state.thread(100).fdtable[3]


def test_pipe_adds_two_pipe_fds():
    r = Replay([shell()])
    ev = r.ev("pipe", "<", 0, 5, 6, 777)
    table = r.state.thread(100).fdtable
    assert [(table[f].type, table[f].ino) for f in (5, 6)] == [("pipe", 777), ("pipe", 777)]
    assert ev.fdnum == 6


@pytest.mark.parametrize("name, fdtype", [("eventfd", "event"), ("signalfd", "signalfd"),
                                           ("timerfd_create", "timerfd"),
                                           ("inotify_init", "inotify"),
                                           ("epoll_create", "eventpoll")])
def test_typed_fd_creators(name, fdtype):
    r = Replay([shell()])
    r.ev(name, "<", 8)
    assert r.state.thread(100).fdtable[8].type == fdtype


def test_container_event_gets_a_container_thread_not_kept_in_the_table():
    r = Replay()
    ev = r.ev("container", ">", '{"container":{"id":"9dbcbd0c435f"}}\n', tid=(1 << 64) - 1)
    th = ev.thread
    assert (th.tid, th.pid, th.ptid, th.comm, th.exe, th.vtid) == (
        -1, -1, 0, "container:9dbcbd0c435f", "", -2)
    assert r.state.thread(-1) is None


def test_live_mode_asks_proc_for_unknown_tids():
    asked = []

    def lookup(tid):
        asked.append(tid)
        return ThreadInfo(tid, comm="sshd") if tid == 77 else None

    state = State(Snapshot(), live=True, proc_lookup=lookup)
    etype = event_id("open", ">")
    for tid in (77, 78):
        state.process(Event(1, tid, etype, encode_params(etype, ["/x", 1, 0])))
    assert asked == [77, 78]
    assert state.thread(77).comm == "sshd"
    assert state.thread(78).comm == "<NA>"


def test_close_range_closes_or_marks_close_on_exec():
    r = Replay([shell()])
    for fd in (3, 4, 5, 9):
        r.ev("open", "<", fd, f"/f{fd}", 1, 0, 0)
    r.ev("close_range", "<", 0, 4, 5, 0)
    assert sorted(r.state.thread(100).fdtable) == [0, 3, 9]
    cloexec = next(v for v, n in model().flag_tables["close_range_flags"].entries
                   if n == "CLOSE_RANGE_CLOEXEC")
    r.ev("close_range", "<", 0, 9, 100, cloexec)
    assert r.state.thread(100).fdtable[9].cloexec is True


def test_dup2_and_fcntl_dupfd_copy_the_entry():
    r = Replay([shell()])
    r.ev("open", "<", 3, "/etc/passwd", 1, 0, 0)
    r.ev("dup2", ">", 3)
    assert r.ev("dup2", "<", 7, 3, 7).fd.name == "/etc/passwd"
    dupfd = next(v for v, n in model().flag_tables["fcntl_commands"].entries if n == "F_DUPFD")
    r.ev("fcntl", ">", 3, dupfd)
    ev = r.ev("fcntl", "<", 12)
    assert (ev.fdnum, ev.fd.name) == (12, "/etc/passwd")


def test_memfd_and_epoll_fds_are_typed_and_named():
    r = Replay([shell()])
    r.ev("memfd_create", "<", 5, "cache", 0)
    r.ev("epoll_create1", "<", 6, 0)
    table = r.state.thread(100).fdtable
    assert (table[5].type, table[5].name, table[6].type) == ("memfd", "memfd:cache", "eventpoll")


def test_live_mode_reads_an_unknown_process_from_proc():
    import subprocess  # noqa: PLC0415 - only this test starts a process

    proc = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        state = State(Snapshot(), live=True)
        etype = event_id("read", ">")
        ev = Event(1, proc.pid, etype, encode_params(etype, [0, 10]))
        state.process(ev)
        assert (ev.thread.tid, ev.thread.pid, ev.thread.comm) == (proc.pid, proc.pid, "cat")
        assert (ev.fdnum, ev.fd.type) == (0, "pipe")
    finally:
        proc.kill()
        proc.wait()


def test_open_relative_to_an_unknown_dirfd_or_cwd():
    th = shell(cwd="")
    r = Replay([th])
    ev = r.ev("openat", "<", 7, 55, "rel/x", 1, 0, 0)
    assert ev.fd.name == "<UNKNOWN>rel/x"  # dirfd 55 is not known
    assert r.ev("open", "<", 8, "a b", 1, 0, 0).fd.name == "a b"  # no cwd: stays relative


def test_sockets_of_other_families_are_unknown_fds_and_unnamed_families_get_none():
    r = Replay([shell()])
    r.ev("socket", ">", 17, 3, 0)  # AF_PACKET
    assert r.ev("socket", "<", 5).fd.type == "unknown"
    r.ev("socket", ">", 4000, 3, 0)
    ev = r.ev("socket", "<", 6)
    assert (ev.fdnum, ev.fd) == (6, None)


def test_live_mode_drops_threads_gone_from_proc_every_minute():
    snap = Snapshot()
    snap.threads.extend([ThreadInfo(10, comm="a"), ThreadInfo(11, comm="b")])
    gone = {11}
    state = State(snap, live=True, proc_lookup=lambda tid: None,
                  proc_alive=lambda tid: tid not in gone)
    etype = event_id("read", ">")
    minute = State.PURGE_INTERVAL_NS
    for ts in (1, minute // 2):
        state.process(Event(ts, 10, etype, encode_params(etype, [0, 1])))
    assert sorted(state.threads) == [10, 11]
    state.process(Event(minute + 1, 10, etype, encode_params(etype, [0, 1])))
    assert sorted(state.threads) == [10]


def test_a_main_thread_outlives_its_procexit_when_its_threads_live():
    main = shell(tid=100)
    worker = ThreadInfo(101, pid=100, ptid=100, comm="bash")
    worker.fdtable = main.fdtable
    r = Replay([main, worker])
    r.ev("procexit", ">", 0, 0, 0, 0, tid=100)
    r.ev("read", ">", 0, 1, tid=101)
    assert r.state.thread(100) is main  # still there for its thread
    r.ev("procexit", ">", 0, 0, 0, 0, tid=101)
    r.ev("switch", ">", 0, 0, 0, 0, 0, 0, tid=1)
    # the thread is gone; like sysdig 0.29 the main thread is not revisited
    assert (r.state.thread(100), r.state.thread(101)) == (main, None)
