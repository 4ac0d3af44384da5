"""Build `evtinfo.scap`: made-up events whose parameters probe how sysdig 0.29 prints numbers,
flags, errno names, durations, signal masks, uids and relative paths.

Regenerate (from the repo root) with:
    .venv/bin/python tests/data/synthetic/make_evtinfo.py
    TZ=UTC sysdig -r tests/data/synthetic/evtinfo.scap -v -p '%evt.num|%evt.info' \
        > tests/data/sysdig-0.29/synthetic_evtinfo.info.txt
The users and groups come from libs_sample.scap's snapshot; the events run on a thread no
snapshot knows (so its cwd is unknown).
"""

from pathlib import Path

from chisel.core.event import Event, model
from chisel.core.params import encode_params
from chisel.core.scap_reader import ScapReader
from chisel.core.scap_writer import ScapWriter

HERE = Path(__file__).resolve().parent
START_TS = 1690557262753887343
TID = 999999


def event_id(name, direction):
    ids = [i for i in model().ids_for_name(name) if model().events[i].dir == direction and i < 336]
    return ids[-1]


def specs():
    """(event name, direction, parameter values) in capture order."""
    yield from (("close", "<", [-code]) for code in [*range(1, 136), *range(510, 532)])
    yield from (("nanosleep", ">", [ns]) for ns in (0, 1, 999, 1000, 1500, 999999, 1000000,
                                                    1500000, 123456789, 10**9, 1500000000,
                                                    3600 * 10**9 + 1))
    yield from (("ppoll", ">", [[(3, 1), (4, 0x204)], 1000, mask])
                for mask in (0, 1, 2, 0x80000000, 0xFFFFFFFF))
    yield ("switch", ">", [1, 2**64 - 1, 2**63, 2**32 - 1, 2**31, 0])
    yield from (("getuid", "<", [uid]) for uid in (0, 1000, 12345, 2**32 - 1))
    yield from (("getgid", "<", [gid]) for gid in (0, 12345, 2**32 - 1))
    yield from (("chmod", "<", [0, "/x", mode]) for mode in (0, 0o755, 0o4755, 0o7777))
    yield ("eventfd", ">", [5, 3])
    yield ("timerfd_create", ">", [1, 26])
    yield from (("open", ">", ["/x", flags, 0o644]) for flags in (0x4001, 0x1FFFF, 0, 3, 0x1042))
    yield ("semget", ">", [-1, -1, 0])
    yield ("stat", "<", [0, "rel/x"])
    yield ("stat", "<", [0, ""])
    yield ("socket", ">", [17, 3, 0])
    yield ("socket", "<", [5])
    yield ("futex", ">", [0x1000, 129, 1])
    yield ("futex", ">", [0x1000, 393, 1])


def main():
    snapshot = ScapReader(str(HERE.parent / "scap" / "libs_sample.scap")).snapshot
    writer = ScapWriter(str(HERE / "evtinfo.scap"), snapshot)
    for k, (name, direction, values) in enumerate(specs()):
        etype = event_id(name, direction)
        writer.write(Event(START_TS + k, TID, etype, encode_params(etype, values), num=k + 1))
    writer.close()


if __name__ == "__main__":
    main()
