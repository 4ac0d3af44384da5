"""EventPrinter: lines go out in batches to files and pipes, one at a time to a terminal."""

import io

from chisel.core.output import EventPrinter


class _Upper:
    """A formatter: the event (a str here) upper-cased; 'skip' is not printed."""

    def format(self, ev):
        return None if ev == "skip" else ev.upper()


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty
        self.writes = []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.writes.append(text)
        return super().write(text)


def test_a_file_gets_whole_batches_and_the_rest_at_flush():
    stream = _Stream(tty=False)
    printer = EventPrinter(_Upper(), stream)
    for i in range(EventPrinter.BATCH + 3):
        printer.print(f"e{i}")
    printer.print("skip")
    assert len(stream.writes) == 1
    assert stream.writes[0] == "".join(f"E{i}\n" for i in range(EventPrinter.BATCH))
    printer.flush()
    printer.flush()  # nothing queued: no write
    assert stream.writes[1:] == [f"E{EventPrinter.BATCH}\nE{EventPrinter.BATCH + 1}\nE{EventPrinter.BATCH + 2}\n"]


def test_a_terminal_gets_every_line_at_once():
    stream = _Stream(tty=True)
    printer = EventPrinter(_Upper(), stream)
    printer.print("a")
    printer.print("skip")
    printer.print("b")
    assert stream.writes == ["A\n", "B\n"]
