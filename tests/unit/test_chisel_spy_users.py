"""spy_users on hand-made events: shell detection, indentation, cd lines, --max-depth, the final reset."""

from chisel.chisels.spy_users import SpyUsers

from chisel_fakes import FakeEvent, run


def execve(pid, ppid, exe, args, ancestors, user="root", time="10:00:00"):
    """An execve exit; `ancestors` are (name, pid) pairs from the parent upwards."""
    fields = {"evt.type": "execve", "proc.pid": pid, "proc.ppid": ppid, "proc.exe": exe,
              "proc.args": args, "user.name": user, "evt.time.s": time,
              "proc.aname[0]": exe, "proc.apid[0]": pid}
    for level, (name, apid) in enumerate(ancestors, start=1):
        fields[f"proc.aname[{level}]"] = name
        fields[f"proc.apid[{level}]"] = apid
    ev = FakeEvent()
    ev.fields = fields
    return ev


def chdir(pid, name, path, ancestors, user="root", time="10:00:01"):
    ev = execve(pid, None, name, "", ancestors, user, time)
    ev.fields.update({"evt.type": "chdir", "evt.arg.path": path})
    return ev


INIT = ("systemd", 1)


def test_command_under_a_shell_as_sysdig_prints_it():
    out, _, _ = run(SpyUsers, [execve(1020, 1000, "cat", "/dev/null", [("bash", 1000), INIT])])
    assert out == "1000 10:00:00 root) cat /dev/null\n\x1b[0m\n"


def test_no_shell_ancestor_hides_the_command():
    out, _, _ = run(SpyUsers, [execve(30, 20, "ls", "", [("containerd", 20), INIT])], color=False)
    assert out == "\n"


def test_nested_commands_indent_three_per_level_and_cd_four():
    events = [
        execve(200, 100, "bash", "-c ls", [("bash", 100), ("sshd", 50), INIT]),
        execve(300, 200, "ls", "-l", [("bash", 200), ("bash", 100), ("sshd", 50), INIT]),
        chdir(200, "bash", "/tmp", [("bash", 100), ("sshd", 50), INIT]),
    ]
    out, _, _ = run(SpyUsers, events, color=False)
    assert out.splitlines() == [
        "100 10:00:00 root) bash -c ls",
        "   100 10:00:00 root) ls -l",
        "    100 10:00:01 root) cd /tmp",
        "",
    ]


def test_outermost_shell_anchors_the_tree():
    out, _, _ = run(SpyUsers, [execve(9, 8, "id", "", [("zsh", 8), ("bash", 7), ("sshd", 6)])],
                    color=False)
    assert out.splitlines()[0] == "7 10:00:00 root) id "


def test_search_stops_only_where_the_ancestry_ends():
    ancestors = [("python", 3), (None, 2), ("bash", 1)]
    ev = execve(4, 3, "sh", "-c true", ancestors)
    ev.fields["proc.apid[2]"] = 2  # a nameless ancestor with a pid does not stop the search
    assert run(SpyUsers, [ev], color=False)[0].splitlines()[0] == "1 10:00:00 root) sh -c true"
    ev.fields["proc.apid[2]"] = None
    assert run(SpyUsers, [ev], color=False)[0] == "\n"


def test_max_depth_hides_deeper_commands():
    events = [
        execve(200, 100, "bash", "", [("bash", 100), INIT]),
        execve(300, 200, "ls", "", [("bash", 200), ("bash", 100), INIT]),
    ]
    out, _, _ = run(SpyUsers, events, args={"max_depth": "0"}, color=False)
    assert out.splitlines() == ["100 10:00:00 root) bash ", ""]


def test_missing_user_shows_na():
    ev = execve(5, 4, "cat", "x", [("sh", 4)], user=None)
    assert run(SpyUsers, [ev], color=False)[0].startswith("4 10:00:00 <NA>) cat x\n")


def test_prefilter_is_sysdigs():
    assert SpyUsers.prefilter == (
        "((evt.type=execve and evt.dir=<) or (evt.type=chdir and evt.dir=< and proc.name contains sh"
        " and not proc.name contains sshd)) and evt.failed=false")
    assert "proc.aname[16]" in SpyUsers.fields and "proc.apid[16]" in SpyUsers.fields
