"""Files and privilege at the command line: what `-r`/`-w` do with hostile paths, and what an
unprivileged user can and cannot do.

Needs root (to plant files and to drop to user nobody with setpriv); fails, never skips, without.

Environment note: the venv's interpreter lives under /root/.pyenv (mode 0700), which user nobody
cannot traverse, so the unprivileged runs use the system's /usr/bin/python3.11 (same 3.11 ABI)
with the venv's site-packages added: the same chisel code and dependencies, another interpreter.
"""

import os
import stat
import subprocess

import pytest

pytestmark = pytest.mark.live

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHISEL = os.path.join(REPO, ".venv", "bin", "chisel")
SITE = os.path.join(REPO, ".venv", "lib", "python3.11", "site-packages")
CAPTURE = os.path.join(REPO, "tests", "data", "scap", "libs_curl_google.scap")
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             "env", "-i", "PATH=/usr/bin:/bin", "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1",
             "/usr/bin/python3.11", "-c",
             f"import site, sys; site.addsitedir({SITE!r}); "
             "from chisel.core.cli import main; sys.exit(main())"]
NEEDS_ROOT = ("chisel: error: live capture needs root or CAP_BPF+CAP_PERFMON; "
              "run with sudo, or read a capture with -r\n")


def as_root(*argv):
    return subprocess.run([CHISEL, *argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"})


def as_nobody(*argv):
    return subprocess.run([*AS_NOBODY, *argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module", autouse=True)
def must_be_root():
    assert os.geteuid() == 0, "these tests plant files and drop privileges: run them as root"


@pytest.fixture
def public_tmp(tmp_path):
    """A tmp_path user nobody can traverse (pytest makes its own 0700)."""
    for d in (tmp_path, *tmp_path.parents):
        if str(d) == "/tmp":
            break
        os.chmod(d, os.stat(d).st_mode | 0o011)
    return tmp_path


def one_error_line(result, code):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chisel: error: "), result.stderr
    return lines[0]


# -- -r of things that are not capture files ------------------------------------------------------

def test_read_a_directory(tmp_path):
    assert one_error_line(as_root("-r", str(tmp_path)), 2) == (
        f"chisel: error: cannot read {tmp_path}: it is a directory; pass a capture file to -r")


def test_read_a_fifo_does_not_wait_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.scap"
    os.mkfifo(fifo)
    assert one_error_line(as_root("-r", str(fifo)), 2) == (
        f"chisel: error: cannot read {fifo}: not a regular file; pass a capture file to -r")


def test_read_a_missing_file(tmp_path):
    missing = tmp_path / "nope.scap"
    assert one_error_line(as_root("-r", str(missing)), 2) == (
        f"chisel: error: cannot read {missing}: no such file; check the -r path")


def test_read_a_file_the_user_may_not_read(public_tmp):
    secret = public_tmp / "secret.scap"
    secret.write_bytes(open(CAPTURE, "rb").read())
    os.chmod(secret, 0o600)
    assert one_error_line(as_nobody("-r", str(secret)), 2) == (
        f"chisel: error: cannot read {secret}: permission denied; check its permissions")


# -- -w ---------------------------------------------------------------------------------------------

def test_written_capture_is_0600_whatever_the_umask_and_sysdig_reads_it(tmp_path):
    target = tmp_path / "out.scap"
    result = subprocess.run(f"umask 000; exec {CHISEL} -r {CAPTURE} -w {target} proc.name=curl",
                            shell=True, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    fmt = "%evt.num %evt.type %fd.name"
    ours = as_root("-r", str(target), "-p", fmt)
    theirs = subprocess.run(["sysdig", "-r", str(target), "-p", fmt], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "TZ": "UTC"})
    direct = as_root("-r", CAPTURE, "-p", fmt, "proc.name=curl")
    assert ours.returncode == theirs.returncode == 0
    assert len(direct.stdout.splitlines()) > 100
    # the events kept are renumbered from 1 in the new file; their types and fds are the same
    def strip_num(text):
        return [ln.split(" ", 1)[1] for ln in text.splitlines()]
    assert strip_num(ours.stdout) == strip_num(theirs.stdout) == strip_num(direct.stdout)


def test_a_symlink_planted_at_the_target_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "out.scap"
    target.symlink_to(victim)
    line = one_error_line(as_root("-r", CAPTURE, "-w", str(target)), 2)
    assert line.startswith(f"chisel: error: cannot write capture file '{target}': ")
    assert victim.read_text() == "precious\n"
    assert target.is_symlink()


def test_a_dangling_symlink_is_not_followed_either(tmp_path):
    victim = tmp_path / "would_be_created"
    target = tmp_path / "out.scap"
    target.symlink_to(victim)
    one_error_line(as_root("-r", CAPTURE, "-w", str(target)), 2)
    assert not victim.exists()


def test_write_where_the_user_may_not(public_tmp):
    locked = public_tmp / "locked"
    locked.mkdir(mode=0o755)
    line = one_error_line(as_nobody("-r", CAPTURE, "-w", str(locked / "x.scap")), 2)
    assert line == (f"chisel: error: cannot write capture file '{locked / 'x.scap'}': "
                    "Permission denied; pick another path")


# -- privilege --------------------------------------------------------------------------------------

def test_live_capture_without_rights_says_what_is_needed():
    for argv in ((), ("topfiles",), ("--", "true")):
        result = as_nobody(*argv)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", NEEDS_ROOT), argv


def test_replay_list_and_info_work_unprivileged_exactly_as_for_root():
    for argv in (("--list",), ("--info", "topfiles"), ("-r", CAPTURE, "topfiles"),
                 ("-r", CAPTURE, "-j", "-n", "300"), ("-r", CAPTURE, "echo_fds", "proc.name=curl")):
        mine, roots = as_nobody(*argv), as_root(*argv)
        assert (mine.returncode, mine.stderr) == (0, ""), (argv, mine.stderr)
        assert mine.stdout == roots.stdout, argv
        assert len(mine.stdout.splitlines()) >= 10, argv
