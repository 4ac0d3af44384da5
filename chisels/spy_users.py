"""spy_users: what interactive users do (the commands their shells start, the directories they visit)."""

from chisel.plugins import Arg, Chisel, count

ANCESTORS_SEARCHED = 16  # sysdig looks this many levels up for a shell, whatever --max-depth says

# The entry kept for a parent with no shell among its ancestors: its commands are never shown.
_NO_SHELL = (-1, None)

class SpyUsers(Chisel):
    """Display interactive user activity.

    Lists every command that users launch interactively (a process with a shell among its 16
    nearest ancestors, a shell being any process whose name ends in "sh") and every directory that
    their shells change to. Each line starts with the pid of the outermost such shell, the time
    (HH:MM:SS) and the user; commands are indented three spaces per level below that shell, `cd`
    lines four:

        SHELLPID HH:MM:SS USER) EXE ARGS          a command of depth 1 (started by the shell)
           SHELLPID HH:MM:SS USER) EXE ARGS       a command of depth 2
        SHELLPID HH:MM:SS USER) cd PATH           the shell itself changed directory

    Replaces sysdig's spy_users with the same output. Like sysdig, the shell found for a parent
    process is remembered for the whole run (sysdig#1631: a pid reused later keeps its first answer).
    """

    name = "spy_users"
    category = "Security"
    args = (
        Arg("max_depth", count, default=None,
            help="hide commands more than N levels below their shell (none: no limit)"),
        Arg("no_color", bool, help="no colour codes, even on a terminal (as the global --no-color)"),
    )
    events = frozenset({"execve", "chdir"})
    fields = ("evt.type", "proc.exe", "proc.args", "evt.arg.path", "user.name", "evt.time.s",
              "proc.pid", "proc.ppid",
              *(f"proc.aname[{j}]" for j in range(ANCESTORS_SEARCHED + 1)),
              *(f"proc.apid[{j}]" for j in range(ANCESTORS_SEARCHED + 1)))
    prefilter = ("((evt.type=execve and evt.dir=<) or (evt.type=chdir and evt.dir=< and proc.name contains sh"
                 " and not proc.name contains sshd)) and evt.failed=false")

    def setup(self, args, ctx):
        self.out = ctx.out
        self.max_depth = args.max_depth
        self.reset = "" if args.no_color else ctx.out.color_code("reset")
        # pid -> (depth below its shell, shell pid); _NO_SHELL when no shell was found above it.
        self.tree = {}

    def on_event(self, ev):
        is_cd = ev["evt.type"] == "chdir"
        pid = ev["proc.pid"]
        # A command hangs under its parent; a cd is done by the shell itself, so it hangs under itself
        # and its ancestor search starts one level lower (at the process).
        parent = pid if is_cd else ev["proc.ppid"]
        first_level = 0 if is_cd else 1
        above = self.tree.get(parent)
        if above is None:
            above = self.tree[parent] = self.find_shell(ev, first_level)
        if above[0] == _NO_SHELL[0]:
            return
        depth, shell_pid = self.tree.setdefault(pid, (above[0] + 1, above[1]))
        level = depth - first_level
        if self.max_depth is not None and level > self.max_depth:
            return
        head = f"{shell_pid} {_text(ev['evt.time.s'])} {_text(ev['user.name'])})"
        if is_cd:
            self.out.line(f"{' ' * (4 * level)}{head} cd {_text(ev['evt.arg.path'])}")
        else:
            self.out.line(f"{' ' * (3 * level)}{head} {_text(ev['proc.exe'])} {_text(ev['proc.args'])}")

    def find_shell(self, ev, first_level):
        """(depth, shell pid) for the outermost shell among the 16 ancestors from `first_level`, else _NO_SHELL.

        The depth is that of the shell's own entry when the shell was seen before, else 0. The search
        stops early only where the ancestry ends (no name and no pid).
        """
        found = _NO_SHELL
        for j in range(1, ANCESTORS_SEARCHED + 1):
            level = j - 1 + first_level
            name = ev[f"proc.aname[{level}]"]
            if name is None:
                if ev[f"proc.apid[{level}]"] is None:
                    break
            elif name.endswith("sh"):
                shell_pid = ev[f"proc.apid[{level}]"]
                found = (j - 1, shell_pid) if shell_pid in self.tree else (0, shell_pid)
        return found

    def on_end(self, summary):
        # sysdig prints the reset code at the end even when it is empty (colours off): one last line.
        self.out.line(self.reset)


def _text(value):
    return "<NA>" if value is None else str(value)
