"""The /proc scan and the /proc/net parsers, against a fake /proc tree built in tmp_path."""

import os

import pytest

from chisel.core import procnet, procscan

# One process (pid 100, comm "my server") with a second thread 101 ("worker"), started 250 ticks
# after boot. Its fds cover every kind the scan types.
BTIME = 1_700_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_line(tid, comm, ppid, starttime=250):
    # pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss ...
    return (f"{tid} ({comm}) S {ppid} 90 80 34816 -1 4194304 11 0 3 0 5 6 0 0 20 0 2 0 "
            f"{starttime} 1000 20 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")


def _status(name, tgid, tid, ppid, uid=1000, gid=1001):
    return (f"Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{tgid}\nNgid:\t0\n"
            f"Pid:\t{tid}\nPPid:\t{ppid}\nTracerPid:\t0\nUid:\t{uid}\t{uid + 5}\t{uid}\t{uid}\n"
            f"Gid:\t{gid}\t{gid + 5}\t{gid}\t{gid}\nFDSize:\t64\nNStgid:\t{tgid}\t7\n"
            f"NSpid:\t{tid}\t{tid - 93}\nVmSize:\t   12345 kB\nVmRSS:\t    2345 kB\n"
            f"VmSwap:\t       7 kB\nThreads:\t2\n")


def _le_hex(ip4):
    return bytes(reversed(bytes(int(x) for x in ip4.split(".")))).hex().upper()


def _tcp_line(slot, local, remote, state, inode):
    (lip, lport), (rip, rport) = local, remote
    return (f"{slot:4}: {_le_hex(lip)}:{lport:04X} {_le_hex(rip)}:{rport:04X} {state} "
            f"00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0000000000000000 "
            f"100 0 0 10 0\n")


TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
              "  timeout inode\n")
TCP6_LISTEN = ("   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A "
               "00000000:00000000 00:00000000 00000000  1000        0 7006 1 0 100 0 0 10 0\n")
# ::ffff:127.0.0.1 port 40000 -> ::ffff:127.0.0.1 port 9000, as the kernel prints it on x86.
TCP6_MAPPED = ("   1: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:2328 01 "
               "00000000:00000000 00:00000000 00000000  1000        0 7007 1 0 100 0 0 10 0\n")
UNIX_TABLE = ("Num       RefCount Protocol Flags    Type St Inode Path\n"
              "ffff8a0001: 00000002 00000000 00010000 0001 01  7010 /run/my server.sock\n"
              "ffff8a0002: 00000003 00000000 00000000 0001 03  7011\n")
NETLINK_TABLE = ("sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops"
                 "    Inode\n"
                 "0000000044dd5d1c 0   100        00000000 0        0        0     2        0"
                 "        7020\n")


def _write(path, content, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as f:
        f.write(content)


def _make_fake_proc(tmp_path):
    """A /proc with process 100 (threads 100, 101), a process 200 without fds, and 300, which
    vanished after being listed (a directory with no stat)."""
    root = tmp_path / "proc"
    data = tmp_path / "data"
    data.mkdir()
    (data / "known.txt").write_text("hello")
    os.mkfifo(data / "fifo")

    proc = root / "100"
    _write(proc / "stat", _stat_line(100, "my server", 1))
    _write(proc / "status", _status("my server", 100, 100, 1))
    _write(proc / "cmdline", b"/usr/bin/my-server\x00--port\x00400 0\x00", "wb")
    _write(proc / "environ", b"HOME=/home/me\0LANG=C.UTF-8\0", "wb")
    os.symlink("/usr/bin/my-server", proc / "exe")
    os.symlink("/srv/data", proc / "cwd")
    os.symlink("/", proc / "root")
    os.makedirs(proc / "ns")
    os.symlink("net:[4026531993]", proc / "ns" / "net")
    _write(proc / "limits", "Limit                     Soft Limit           Hard Limit           Units\n"
                            "Max cpu time              unlimited            unlimited            seconds\n"
                            "Max open files            1024                 524288               files\n")
    _write(proc / "loginuid", "1000")
    _write(proc / "cgroup", "9:name=systemd:/user.slice\n4:memory,cpu:/app\n0::/app\n")
    task = proc / "task"
    _write(task / "100" / "stat", _stat_line(100, "my server", 1))
    _write(task / "100" / "status", _status("my server", 100, 100, 1))
    _write(task / "101" / "stat", _stat_line(101, "worker (1)", 1, starttime=500))
    _write(task / "101" / "status", _status("worker (1)", 100, 101, 1, uid=0, gid=0))

    fd_links = {
        0: "/dev/null",
        3: str(data / "known.txt"),
        4: str(data),
        5: str(data / "fifo"),
        6: "pipe:[5555]",
        7: "socket:[7001]",   # tcp listening on 127.0.0.1:8080
        8: "socket:[7002]",   # accepted: local 127.0.0.1:8080 <- 127.0.0.1:45000
        9: "socket:[7003]",   # client: local 127.0.0.1:45000 -> 127.0.0.1:8080
        10: "socket:[7004]",  # udp bound 0.0.0.0:53
        11: "socket:[7006]",  # tcp6 listening [::]:8080
        12: "socket:[7007]",  # tcp6 with v4-mapped ends: becomes ipv4
        13: "socket:[7010]",  # unix socket with a path
        14: "socket:[7011]",  # unix socket without one
        15: "socket:[7020]",  # netlink
        16: "socket:[9999]",  # in no table: left out
        17: "anon_inode:[eventfd]",
        18: "anon_inode:[eventpoll]",
        19: "anon_inode:inotify",
        20: "anon_inode:bpf-map",
        21: "anon_inode:[perf_event]",
        22: "/memfd:shm (deleted)",
        23: "net:[4026531993]",
    }
    (proc / "fd").mkdir()
    for fd, target in fd_links.items():
        os.symlink(target, proc / "fd" / str(fd))
    fdinfo_flags = {0: "0100002", 3: "02100000", 8: "02", 9: "04002"}
    for fd in fd_links:
        _write(proc / "fdinfo" / str(fd), f"pos:\t0\nflags:\t{fdinfo_flags.get(fd, '0')}\n")
    net = proc / "net"
    _write(net / "tcp", TCP_HEADER
           + _tcp_line(0, ("127.0.0.1", 8080), ("0.0.0.0", 0), "0A", 7001)
           + _tcp_line(1, ("127.0.0.1", 8080), ("127.0.0.1", 45000), "01", 7002)
           + _tcp_line(2, ("127.0.0.1", 45000), ("127.0.0.1", 8080), "01", 7003)
           + _tcp_line(3, ("10.0.0.1", 50000), ("10.0.0.2", 443), "06", 0))
    _write(net / "udp", TCP_HEADER + _tcp_line(0, ("0.0.0.0", 53), ("0.0.0.0", 0), "07", 7004))
    _write(net / "tcp6", TCP_HEADER + TCP6_LISTEN + TCP6_MAPPED)
    _write(net / "unix", UNIX_TABLE)
    _write(net / "netlink", NETLINK_TABLE)

    other = root / "200"
    _write(other / "stat", _stat_line(200, "kworker/0:1", 2))
    _write(other / "status", _status("kworker/0:1", 200, 200, 2, uid=0, gid=0))
    _write(other / "cmdline", "")
    _write(other / "task" / "200" / "stat", _stat_line(200, "kworker/0:1", 2))

    (root / "300").mkdir()
    _write(root / "stat", f"cpu  1 2 3\nbtime {BTIME}\nprocesses 5\n")
    _write(root / "meminfo", "MemTotal:       2048 kB\nMemFree:        1024 kB\n")
    _write(root / "sys" / "kernel" / "pid_max", "4194304\n")
    _write(root / "sys" / "kernel" / "hostname", "fakehost\n")
    _write(root / "net" / "if_inet6", "00000000000000000000000000000001 01 80 10 80       lo\n")
    _write(root / "self", "not a process")
    return root, data


@pytest.fixture
def fake_proc(tmp_path):
    return _make_fake_proc(tmp_path)


@pytest.fixture
def snapshot(fake_proc):
    return procscan.scan_proc(str(fake_proc[0]))


def _threads(snapshot):
    return {t.tid: t for t in snapshot.threads}


def test_scan_lists_every_thread_and_skips_vanished_processes(snapshot):
    assert sorted(_threads(snapshot)) == [100, 101, 200]


def test_main_thread_fields(snapshot):
    t = _threads(snapshot)[100]
    assert (t.pid, t.ptid, t.comm) == (100, 1, "my server")
    assert (t.exe, t.args, t.exepath) == ("/usr/bin/my-server", ["--port", "400 0"],
                                          "/usr/bin/my-server")
    assert t.env == ["HOME=/home/me", "LANG=C.UTF-8"]
    assert (t.cwd, t.root) == ("/srv/data", "/")
    assert (t.uid, t.gid, t.loginuid) == (1005, 1006, 1000)  # effective ids
    assert (t.sid, t.vpgid, t.tty) == (80, 90, 34816)
    assert (t.vtid, t.vpid) == (7, 7)
    assert (t.vmsize_kb, t.vmrss_kb, t.vmswap_kb) == (12345, 2345, 7)
    assert (t.pfminor, t.pfmajor) == (11, 3)
    assert t.fdlimit == 1024
    assert t.flags == 0
    assert t.cgroups == ["systemd=/user.slice", "memory=/app", "cpu=/app"]
    assert t.clone_ts == BTIME * 1_000_000_000 + 250 * 1_000_000_000 // CLK_TCK


def test_secondary_thread_shares_process_state(snapshot):
    main, worker = _threads(snapshot)[100], _threads(snapshot)[101]
    assert (worker.pid, worker.comm, worker.uid, worker.vtid, worker.vpid) == (
        100, "worker (1)", 5, 8, 7)
    assert worker.fdtable is main.fdtable
    assert worker.env is main.env and worker.exe == main.exe and worker.cwd == main.cwd
    assert worker.flags == procscan.PPM_CL_CLONE_THREAD | procscan.PPM_CL_CLONE_FILES
    assert worker.clone_ts == BTIME * 1_000_000_000 + 500 * 1_000_000_000 // CLK_TCK


def test_kernel_thread_without_cmdline_shows_comm_as_exe(snapshot):
    t = _threads(snapshot)[200]
    assert (t.exe, t.args, t.env, t.fdtable) == ("kworker/0:1", [], [], {})
    assert t.loginuid == -1


def test_files_directories_and_fifos(snapshot, fake_proc):
    data = fake_proc[1]
    fds = _threads(snapshot)[100].fdtable
    assert [(fds[n].type, fds[n].name) for n in (0, 3, 4, 5, 6)] == [
        ("file", "/dev/null"), ("file", str(data / "known.txt")), ("directory", str(data)),
        ("pipe", str(data / "fifo")), ("pipe", "pipe:[5555]")]
    assert fds[3].ino == os.stat(data / "known.txt").st_ino
    assert fds[6].ino == 5555
    assert (fds[23].type, fds[23].name) == ("file", "net:[4026531993]")


def test_open_flags_from_fdinfo(snapshot):
    fds = _threads(snapshot)[100].fdtable
    # 0100002 = O_LARGEFILE|O_RDWR; 02100000 = O_CLOEXEC|O_LARGEFILE|O_RDONLY
    assert (fds[0].flags, fds[0].cloexec) == (0x800 | 0x3, False)
    assert (fds[3].flags, fds[3].cloexec) == (0x1000 | 0x800 | 0x1, True)
    assert fds[9].flags == 0x40 | 0x3  # O_NONBLOCK|O_RDWR


def test_open_flags_to_ppm():
    assert procscan.open_flags_to_ppm(0o1) == 0x2
    assert procscan.open_flags_to_ppm(0o4010101) == 0x80 | 0x10 | 0x4 | 0x2  # O_SYNC|O_CREAT|O_WRONLY
    assert procscan.open_flags_to_ppm(0o20200000) == 0x2000 | 0x400 | 0x1   # O_TMPFILE


def test_ip_sockets_named_and_oriented_as_sysdig(snapshot):
    fds = _threads(snapshot)[100].fdtable
    rows = {n: (fds[n].type, fds[n].l4proto, fds[n].name, fds[n].is_server, fds[n].cip,
                fds[n].cport, fds[n].sip, fds[n].sport, fds[n].ino) for n in (7, 8, 9, 10, 11, 12)}
    assert rows == {
        7: ("ipv4", "tcp", "127.0.0.1:8080", True, None, None, "127.0.0.1", 8080, 7001),
        8: ("ipv4", "tcp", "127.0.0.1:45000->127.0.0.1:8080", True,
            "127.0.0.1", 45000, "127.0.0.1", 8080, 7002),
        9: ("ipv4", "tcp", "127.0.0.1:45000->127.0.0.1:8080", False,
            "127.0.0.1", 45000, "127.0.0.1", 8080, 7003),
        10: ("ipv4", "udp", "0.0.0.0:53", True, None, None, "0.0.0.0", 53, 7004),
        11: ("ipv6", "tcp", ":::8080", True, None, None, "::", 8080, 7006),
        12: ("ipv4", "tcp", "127.0.0.1:40000->127.0.0.1:9000", False,
             "127.0.0.1", 40000, "127.0.0.1", 9000, 7007),
    }


def test_unix_netlink_and_unmatched_sockets(snapshot):
    fds = _threads(snapshot)[100].fdtable
    assert (fds[13].type, fds[13].name, fds[13].source) == ("unix", "/run/my server.sock", 0xffff8a0001)
    assert (fds[14].type, fds[14].name) == ("unix", "")
    assert (fds[15].type, fds[15].name, fds[15].ino) == ("netlink", "", 7020)
    assert 16 not in fds


def test_anon_inodes_and_memfd(snapshot):
    fds = _threads(snapshot)[100].fdtable
    assert [(fds[n].type, fds[n].name, fds[n].typechar) for n in (17, 18, 19, 20, 21, 22)] == [
        ("event", "", "e"), ("eventpoll", "", "l"), ("inotify", "", "i"), ("bpf", "", "b"),
        ("unknown", "", "o"), ("memfd", "/memfd:shm (deleted)", "m")]


def test_machine_info_interfaces_users_groups(snapshot):
    assert snapshot.machine == {"num_cpus": os.cpu_count(), "memory_bytes": 2048 * 1024,
                                "max_pid": 4194304, "hostname": "fakehost"}
    assert snapshot.interfaces == [("lo", "ipv6", "::1")]
    assert snapshot.users[0].name == "root" and snapshot.users[0].homedir == "/root"
    assert snapshot.groups[0].name == "root"


def test_lookup_thread_reads_one_thread_on_demand(fake_proc):
    root = str(fake_proc[0])
    # /proc/TID exists for every thread, although only processes are listed in /proc.
    os.symlink("100/task/101", fake_proc[0] / "101")
    worker = procscan.lookup_thread(101, root)
    assert (worker.tid, worker.pid, worker.comm, worker.exe) == (
        101, 100, "worker (1)", "/usr/bin/my-server")
    assert worker.fdtable[7].name == "127.0.0.1:8080"
    main = procscan.lookup_thread(100, root)
    assert (main.tid, main.pid, main.comm) == (100, 100, "my server")
    assert procscan.lookup_thread(4242, root) is None
    assert procscan.lookup_thread(300, root) is None


def test_process_vanishing_mid_scan_keeps_what_was_read(fake_proc):
    root, _ = fake_proc
    # The fd directory and the net tables went away between listing and reading.
    for child in (root / "100" / "fd").iterdir():
        child.unlink()
    (root / "100" / "fd").rmdir()
    (root / "100" / "task" / "101" / "stat").unlink()
    snapshot = procscan.scan_proc(str(root))
    threads = _threads(snapshot)
    assert sorted(threads) == [100, 200]
    assert threads[100].fdtable == {} and threads[100].comm == "my server"


def test_decode_endpoint_byte_order():
    inode, sock = next(procnet.parse_inet_table(
        TCP_HEADER + _tcp_line(0, ("10.1.2.3", 80), ("192.168.0.9", 5000), "01", 5), "tcp", False))
    assert (inode, sock.family, sock.local, sock.remote, sock.listening) == (
        5, "ipv4", ("10.1.2.3", 80), ("192.168.0.9", 5000), False)


def test_ipv6_table_and_server_ports():
    table = procnet.SocketTable()
    for inode, sock in procnet.parse_inet_table(TCP_HEADER + TCP6_LISTEN + TCP6_MAPPED, "tcp", True):
        table.add_inet(inode, sock)
    assert table[7006].local == ("::", 8080) and table[7006].listening
    assert table[7007].local == ("::ffff:127.0.0.1", 40000)
    assert table.server_ports == {8080}


def test_malformed_lines_are_skipped():
    text = TCP_HEADER + "   0: garbage\n" + "   1: ZZ:00 00:00 0A a b c d e 77\n"
    assert list(procnet.parse_inet_table(text, "tcp", False)) == []
    assert list(procnet.parse_unix_table("header\nnot a line\n")) == []
    assert list(procnet.parse_netlink_table("header\n1 2\n")) == []


def test_socket_table_with_missing_files_is_partial_not_an_error(tmp_path):
    # A kernel without IPv6 has no tcp6; an unreadable or vanished table counts as empty.
    _write(tmp_path / "tcp", TCP_HEADER + _tcp_line(0, ("127.0.0.1", 22), ("0.0.0.0", 0), "0A", 41))
    _write(tmp_path / "unix", UNIX_TABLE)
    table = procnet.read_socket_table(str(tmp_path))
    assert sorted(table) == [41, 7010, 7011]
    assert table.server_ports == {22}
    assert procnet.read_socket_table(str(tmp_path / "absent")) == {}
