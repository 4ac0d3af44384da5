"""The project's event model: every scap event id with its name, direction, parameters and flag tables.

Loaded once from `events.yaml` (generated from the scap reference tables by `eventmodel_gen.py`).
The scap reader and the live engine both produce events in this model, so nothing downstream knows
where an event came from.
"""

import functools
from pathlib import Path

import yaml

# Parameter types whose values have a fixed size on the wire (bytes).
FIXED_SIZES = {
    "PT_INT8": 1, "PT_INT16": 2, "PT_INT32": 4, "PT_INT64": 8,
    "PT_UINT8": 1, "PT_UINT16": 2, "PT_UINT32": 4, "PT_UINT64": 8,
    "PT_ERRNO": 8, "PT_FD": 8, "PT_PID": 8, "PT_SYSCALLID": 2, "PT_SIGTYPE": 1,
    "PT_RELTIME": 8, "PT_ABSTIME": 8, "PT_PORT": 2, "PT_L4PROTO": 1, "PT_SOCKFAMILY": 1,
    "PT_BOOL": 4, "PT_IPV4ADDR": 4, "PT_FLAGS8": 1, "PT_FLAGS16": 2, "PT_FLAGS32": 4,
    "PT_UID": 4, "PT_GID": 4, "PT_DOUBLE": 8, "PT_SIGSET": 4, "PT_MODE": 4,
    "PT_ENUMFLAGS8": 1, "PT_ENUMFLAGS16": 2, "PT_ENUMFLAGS32": 4, "PT_FD32": 4, "PT_PID32": 4,
    "PT_IPV6ADDR": 16,
}

# sysdig's category names for evt.category, keyed by the scap EC_* class.
CATEGORY_NAMES = {
    "EC_UNKNOWN": "unknown", "EC_OTHER": "other", "EC_FILE": "file", "EC_NET": "net",
    "EC_IPC": "IPC", "EC_MEMORY": "memory", "EC_PROCESS": "process", "EC_SLEEP": "sleep",
    "EC_SYSTEM": "system", "EC_SIGNAL": "signal", "EC_USER": "user", "EC_TIME": "time",
    "EC_IO_READ": "I/O", "EC_IO_WRITE": "I/O", "EC_IO_OTHER": "I/O", "EC_WAIT": "wait",
    "EC_SCHEDULER": "scheduler", "EC_INTERNAL": "internal",
}


class ParamInfo:
    """One event parameter: name, wire type (PT_*), print format (PF_*), flag table or dirfd index."""

    __slots__ = ("name", "ptype", "fmt", "table", "dirfd", "size")

    def __init__(self, name, ptype, fmt, table=None, dirfd=None):
        self.name, self.ptype, self.fmt, self.table, self.dirfd = name, ptype, fmt, table, dirfd
        self.size = FIXED_SIZES.get(ptype)  # None for variable-length types

    def __repr__(self):
        return f"ParamInfo({self.name}:{self.ptype}:{self.fmt})"


class EventInfo:
    """One event id of the table: `name` is evt.type, `dir` is '>' (enter) or '<' (exit)."""

    __slots__ = ("id", "enum", "name", "dir", "category", "ec_classes", "flags", "params",
                 "param_index", "extra_params", "since", "large_payload", "known_to_029")

    def __init__(self, row):
        self.id = row["id"]
        self.enum = row["enum"]
        self.name = row["name"]
        self.dir = ">" if row["dir"] == "E" else "<"
        self.ec_classes = frozenset(row["category"].split("|"))
        main = row["category"].split("|")[0]
        self.category = CATEGORY_NAMES.get(main, main)
        self.flags = frozenset(row["flags"])
        self.params = tuple(ParamInfo(*p) for p in row["params"])
        self.extra_params = tuple(ParamInfo(*p) for p in row["extra_params"])
        self.param_index = {p.name: i for i, p in enumerate(self.params)}
        self.since = row["since"]
        # EF_LARGE_PAYLOAD events carry u32 parameter lengths instead of u16 (scap-format.md).
        self.large_payload = "EF_LARGE_PAYLOAD" in self.flags
        self.known_to_029 = row["since"] == "0.29"

    @property
    def is_enter(self):
        return self.dir == ">"

    def __repr__(self):
        return f"EventInfo({self.id} {self.dir} {self.name})"


class FlagTable:
    """A named flag or enum table; `entries` keep the source order the renderer scans in."""

    __slots__ = ("name", "kind", "entries", "by_value")

    def __init__(self, name, kind, entries):
        self.name, self.kind = name, kind
        self.entries = tuple((int(v), n) for v, n in entries)
        self.by_value = {}
        for v, n in self.entries:
            self.by_value.setdefault(v, n)


class EventModel:
    """The loaded table: `events[id]`, `flag_tables[name]`, and lookups by event name."""

    def __init__(self, data):
        self.events = tuple(EventInfo(row) for row in data["events"])
        self.flag_tables = {
            name: FlagTable(name, t["kind"], t["entries"]) for name, t in data["flag_tables"].items()
        }
        self._ids_by_name = {}
        for ev in self.events:
            if ev.name in ("NA", "NA1") or ev.name.startswith("NA"):
                continue
            self._ids_by_name.setdefault(ev.name, []).append(ev.id)

    def __len__(self):
        return len(self.events)

    def ids_for_name(self, name):
        """Every event id (enter and exit, all versions) whose evt.type is `name`; empty if none."""
        return tuple(self._ids_by_name.get(name, ()))

    @property
    def names(self):
        return frozenset(self._ids_by_name)


@functools.cache
def load():
    """The event model, parsed once per process (about 60 ms with libyaml)."""
    path = Path(__file__).with_name("events.yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as f:
        return EventModel(yaml.load(f, Loader=loader))
