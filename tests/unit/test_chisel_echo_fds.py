"""echo_fds on hand-made events: sysdig's headers, colours, directions, the final reset."""

from chisel.chisels.echo_fds import EchoFds

from chisel_fakes import FakeEvent, run


def io_event(read, res, data, name="/etc/passwd", proc="cat"):
    return FakeEvent(evt__is_io_read=read, evt__rawarg__res=res, evt__rawarg__data=data,
                     fd__name=name, proc__name=proc)


def test_read_header_and_data_in_red_as_sysdig_prints_them():
    out, _, _ = run(EchoFds, [io_event(True, 4096, b"root:x")])
    assert out == ("\x1b[31m------ Read 4.00KB from  \x1b[31m /etc/passwd (cat)\n"
                   "<root:x>\n"
                   "\x1b[0m\n")


def test_write_header_in_blue():
    out, _, _ = run(EchoFds, [io_event(False, 12, b"hello world\n", name="/dev/pts/0", proc="bash")])
    assert out.splitlines()[0] == "\x1b[34m------ Write 12B to  \x1b[34m /dev/pts/0 (bash)"


def test_no_color_keeps_the_three_spaces_and_an_empty_last_line():
    out, _, _ = run(EchoFds, [io_event(True, 832, b"x")], args={"no_color": True})
    assert out == "------ Read 832B from   /etc/passwd (cat)\n<x>\n\n"


def test_colours_are_off_when_not_a_terminal():
    out, _, _ = run(EchoFds, [io_event(False, 1, b".")], color=False)
    assert out == "------ Write 1B to   /etc/passwd (cat)\n<.>\n\n"


def test_missing_fd_name_shows_na_and_empty_name_stays_empty():
    out, _, _ = run(EchoFds, [io_event(False, 8, b"", name=None), io_event(False, 8, b"", name="")],
                    color=False)
    assert out.splitlines()[0] == "------ Write 8B to   <NA> (cat)"
    assert out.splitlines()[2] == "------ Write 8B to    (cat)"


def test_read_only_and_write_only():
    events = [io_event(True, 3, b"abc"), io_event(False, 2, b"de")]
    reads, _, _ = run(EchoFds, events, args={"read": True}, color=False)
    writes, _, _ = run(EchoFds, events, args={"write": True}, color=False)
    both, _, _ = run(EchoFds, events, args={"read": True, "write": True}, color=False)
    assert reads == "------ Read 3B from   /etc/passwd (cat)\n<abc>\n\n"
    assert writes == "------ Write 2B to   /etc/passwd (cat)\n<de>\n\n"
    assert both.count("------") == 2


def test_zero_or_failed_results_print_nothing():
    out, _, _ = run(EchoFds, [io_event(True, 0, b""), io_event(True, -11, b""), io_event(True, None, b"")])
    assert out == "\x1b[0m\n"


def test_metadata_asks_sysdigs_snaplen_and_filter():
    assert EchoFds.snaplen == 2000
    assert EchoFds.prefilter == "evt.is_io=true and evt.dir=< and evt.rawres>0"
    assert {"read", "write", "sendto", "recvfrom", "pread", "pwritev"} <= EchoFds.events
