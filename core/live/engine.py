"""`LiveSource`: capture system calls live with eBPF (syscall tracepoints only).

The generated program is compiled by bcc in a child process only when the compiled-program cache
(`objcache.py`) lacks it, and is loaded and attached by our own bpf(2) layer (`loader.py`,
`bpfsys.py`): this process never imports bcc or LLVM.

What gets attached: the seed syscalls carrying the event types the session wants (narrowed by the
filter's pushdown), plus `specs.STATE_SYSCALLS` (process lifecycle and fd creation/close, so state
stays right), plus sched_process_exit/exit_group (procexit) and sched_process_fork (ptid, the
traced process tree, inherited fds). sock:inet_sock_set_state is added when connect/accept are
traced, for TCP tuples. Never raw_syscalls. With `exit_only`, the syscalls of
`specs.EXIT_ONLY_SYSCALLS` are traced by their exit tracepoint alone, which reads the arguments from
the entry registers and emits the enter record too (one hit per call; see `plan_for`).

In-kernel filtering is data in maps: the traced tgids (`pid=`/`command=`), the pushdown's pids,
tids, uids, comms, and the (tgid, fd) pairs opened on one of its fd names; I/O on any other fd
never leaves the kernel. The kernel compares the path as the program passed it; a relative or
non-canonical path ("//", "/./", "/../") cannot be compared there, so its fd is kept (userspace
filters it as always), and so is every fd when a watched name is 256 bytes or longer.

Records go through a ring buffer reserved with BPF_RB_NO_WAKEUP and drained every ~5 ms; every
failed reservation is counted per CPU (`drops`).

What the parameters hold where the kernel gives less than sysdig's driver (no struct walking):
- socket tuples: TCP connect/accept get both ends from sock:inet_sock_set_state; a non-blocking
  connect, UDP and sendto/recvfrom/sendmsg/recvmsg get the remote end from user memory and
  0.0.0.0:0 as the local end; unix sockets carry the family only (no kernel pointers, no path);
- execve/clone exits: argv from user memory at enter (16 args, 1 KiB), comm from the kernel, cwd
  from /proc at decode time (racy for short processes); fdlimit, page faults, vm sizes, env,
  cgroups and tty are 0 or empty; vtid/vpid equal tid/pid; procexit's status comes from
  exit_group (a process killed by a signal reports 0);
- open's dev is 0; paths are read up to 1 KiB; strings in memory not yet paged in read as empty.
"""

import dataclasses
import functools
import mmap
import os
import struct
import time
from pathlib import Path

from ..errors import ChiselRuntimeError
from ..event import model as event_model
from ..procscan import scan_proc
from . import objcache, probes
from .compiler import compile_in_subprocess
from .decode import Decoder
from .gate import GatedProcess
from .loader import LoadedObject
from .ringbuf import RingReader
from .specs import (EXIT_ONLY_SYSCALLS, SEED_SYSCALLS, STATE_SYSCALLS, syscalls_for_event_types,
                    untraceable_event_types)

POLL_INTERVAL_S = 0.005
# Records decoded per pass. A drain can return the whole 16 MiB ring (hundreds of thousands of
# records); decoding it at once keeps as many Events alive, and the garbage collector, triggered
# by allocations, then walks them all again and again (measured: 2 us per allocation instead of
# 0.1). Raw records are bytes, which the collector does not track, so waiting costs nothing.
DECODE_CHUNK = 256
IDLE_TICK_S = 0.1
_CAP_SYS_ADMIN, _CAP_PERFMON, _CAP_BPF = 21, 38, 39


def exit_only_supported():
    """Whether exit-only programs load here: the x86-64 syscall register ABI, and a kernel with BTF
    and bpf_task_pt_regs (Linux 5.15)."""
    if os.uname().machine != "x86_64" or not Path("/sys/kernel/btf/vmlinux").exists():
        return False
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 15)


def plan_for(*, event_types=None, snaplen=80, pushdown=None, pid=None, command=None, formats=(),
             exit_only=False, **plan_options):
    """The `ProbePlan` for a session: depends on which axes are used, never on their values.

    `exit_only`: trace `specs.EXIT_ONLY_SYSCALLS` with their exit tracepoint alone (one hit per
    call instead of two), where the kernel supports it. The session asks for it only when no
    enter event needs a timestamp of its own. `plan_options` go to `probes.ProbePlan` unchanged
    (fields the plan gains, such as optional in-kernel aggregations, need no change here).
    """
    wanted = set(SEED_SYSCALLS if event_types is None else syscalls_for_event_types(event_types))
    if pushdown is not None and pushdown.event_types is not None:
        wanted &= syscalls_for_event_types(pushdown.event_types)
    syscalls = frozenset(wanted | STATE_SYSCALLS)
    axes = set()
    if pid is not None or command is not None:
        axes.add("traced")
    if pushdown is not None:
        for axis, values in (("pids", pushdown.pids), ("tids", pushdown.tids), ("uids", pushdown.uids),
                             ("comms", pushdown.comms), ("fds", pushdown.fd_names)):
            if values is not None:
                axes.add(axis)
    exit_only = syscalls & EXIT_ONLY_SYSCALLS if exit_only and exit_only_supported() else frozenset()
    # an exit-only program reads its arguments from registers, not from the enter tracepoint
    formats = tuple(f for f in formats if f[0] in syscalls - exit_only)
    return probes.ProbePlan(syscalls=syscalls, procexit=True, snap_bucket=probes.snap_bucket(snaplen),
                            axes=frozenset(axes), formats=formats, exit_only=exit_only, **plan_options)


def _capabilities():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def check_environment():
    """Raise `ChiselRuntimeError` with what to do when live capture cannot work here."""
    caps = _capabilities()
    has_bpf = caps >> _CAP_SYS_ADMIN & 1 or (caps >> _CAP_BPF & 1 and caps >> _CAP_PERFMON & 1)
    if os.geteuid() != 0 and not has_bpf:
        raise ChiselRuntimeError(
            "live capture needs root or CAP_BPF+CAP_PERFMON; run with sudo, or read a capture with -r")
    if not any(Path(r, "events/syscalls").is_dir() for r in probes.TRACEFS_ROOTS):
        raise ChiselRuntimeError(
            "tracefs is not mounted: no /sys/kernel/tracing/events/syscalls; "
            "mount it with: mount -t tracefs nodev /sys/kernel/tracing")
    release = os.uname().release
    if not (Path(f"/lib/modules/{release}/build").exists() or Path("/sys/kernel/kheaders.tar.xz").exists()):
        raise ChiselRuntimeError(
            f"kernel headers missing for {release}: install linux-headers-amd64 and link "
            f"/lib/modules/{release}/build to them")


def _open_cache(warnings):
    """The checked cache directory (open), or None when disabled or unsafe (one warning then)."""
    path = objcache.cache_dir_from_env()
    if path is None:
        return None
    try:
        return objcache.CacheDir(path).open()
    except objcache.UnsafeCache as why:
        warnings.append(f"not using the BPF program cache: {why}; compiling instead")
        return None


def _compile(source, key, cache, timings, warnings):
    t0 = time.monotonic()
    entry = compile_in_subprocess(source, key)
    timings["compile"] = time.monotonic() - t0
    if cache is not None:
        try:
            cache.store(entry)
        except OSError as e:
            warnings.append(f"cannot store the compiled BPF programs in {cache.path}: {e.strerror}")
    return entry


def _bytecode(source, cache, timings, warnings):
    """(entry, key, hit): `source` compiled, from `cache` when it holds it for this kernel, else from a
    compiler child (then stored in `cache`, which may be None: no cache). Timing 'cache' is the key
    and the lookup; 'compile' is set on a miss."""
    t0 = time.monotonic()
    key = objcache.cache_key(source)
    entry = cache.load(key) if cache is not None else None
    timings["cache"] = time.monotonic() - t0
    if entry is not None:
        return entry, key, True
    return _compile(source, key, cache, timings, warnings), key, False


def _load_shared(shared, cache, timings, attach):
    """The plan shape's shared object from the cache, loaded with only `attach`'s programs; None
    when the cache lacks it or the kernel refuses it (a start never compiles it: see prepare_probes)."""
    t0 = time.monotonic()
    entry = cache.load(objcache.cache_key(shared))
    timings["cache"] = time.monotonic() - t0
    if entry is None:
        return None
    t0 = time.monotonic()
    try:
        loaded = LoadedObject(entry, probes.TRACEFS_ROOTS, attach=attach)
    except ChiselRuntimeError:
        return None  # stale in some way the key missed: the plan's own object is built instead
    timings["load"] = time.monotonic() - t0
    return loaded


def _load_object(source, timings, warnings, attach=None, shared=None):
    """Load `source`'s programs and attach them: a `loader.LoadedObject` (`.maps`, `.close()`).

    `shared` (the source of `object_plan(plan)`), when the cache holds it, is loaded instead, with
    only the programs attached at `attach`. Otherwise the bytecode comes from the cache when it
    holds `source` for this kernel, else from a compiler child process (then stored): a cold start
    compiles no more than its own plan. Timings: 'cache' (keys and lookups), 'compile' (misses
    only), 'load' (maps, verifier, attach).
    """
    cache = _open_cache(warnings)
    try:
        if shared is not None and cache is not None:
            loaded = _load_shared(shared, cache, timings, attach)
            if loaded is not None:
                return loaded
        shared_lookup = timings.pop("cache", 0.0)
        entry, key, hit = _bytecode(source, cache, timings, warnings)
        timings["cache"] += shared_lookup
        t0 = time.monotonic()
        try:
            loaded = LoadedObject(entry, probes.TRACEFS_ROOTS, attach=attach)
        except ChiselRuntimeError:
            if not hit:
                raise
            # an entry this kernel refuses is stale in some way the key missed: build it afresh
            entry = _compile(source, key, cache, timings, warnings)
            t0 = time.monotonic()
            loaded = LoadedObject(entry, probes.TRACEFS_ROOTS, attach=attach)
        timings["load"] = time.monotonic() - t0
        return loaded
    finally:
        if cache is not None:
            cache.close()


@functools.cache
def _kernel_formats():
    """(formats, missing) of every syscall chisel can trace, from tracefs: read once per process,
    since a session plan and its shared object plan both need them and they change only with the
    kernel."""
    formats, missing = probes.read_formats(SEED_SYSCALLS | STATE_SYSCALLS)
    return formats, tuple(missing)


def session_plan(*, event_types=None, snaplen=80, pushdown=None, pid=None, command=None, **plan_options):
    """(ProbePlan, warnings) for a session on this kernel: `plan_for` with the tracepoints this kernel
    has (their argument names read from tracefs); a syscall it lacks is left out, with a warning."""
    warnings = []
    formats, missing = _kernel_formats()
    for name in missing:
        warnings.append(f"tracepoint syscalls:sys_enter_{name} missing on this kernel; "
                        f"{name} is not traced")
    # A chisel subscribing to a family of types (echo_fds: every I/O call) gets what the seed list
    # has without a word; only a request that nothing live can answer deserves a warning.
    untraceable = list(untraceable_event_types(event_types, event_model()))
    if event_types and len(untraceable) == len(event_types):
        many = len(untraceable) > 1
        warnings.append(f"event type{'s' if many else ''} {', '.join(map(repr, untraceable))} "
                        f"{'are' if many else 'is'} not captured live; "
                        f"only replayed captures have {'them' if many else 'it'}")
    plan = plan_for(event_types=event_types, snaplen=snaplen, pushdown=pushdown, pid=pid,
                    command=command, formats=formats, **plan_options)
    plan = dataclasses.replace(plan, syscalls=plan.syscalls - set(missing),
                               exit_only=plan.exit_only - set(missing))
    return plan, warnings


def object_plan(plan, formats=None):
    """The plan whose compiled object serves `plan`: the same shape (filter axes, snaplen bucket,
    aggregation, exit-only or not) with every syscall this kernel can trace.

    Each syscall's programs depend on the shape and on nothing else the plan holds, so this object
    holds, byte for byte, the programs `plan` would compile, and one compile serves every chisel and
    event-type filter of that shape: a start loads and attaches only its own
    (`probes.attach_points`). The records' capacity is sized for the largest syscall, which only
    makes the per-CPU scratch buffers larger. `prepare_probes` compiles it (a larger compile than
    one plan's, so a cold start compiles only its own plan). `formats`: tracefs' argument names, as
    `probes.read_formats` gives them (read here when None).
    """
    if formats is None:  # (tests give them: tracefs needs root)
        formats, _missing = _kernel_formats()
    available = (SEED_SYSCALLS | STATE_SYSCALLS) & {name for name, _ in formats}
    exit_only = available & EXIT_ONLY_SYSCALLS if plan.exit_only else frozenset()
    return dataclasses.replace(plan, syscalls=available, exit_only=exit_only,
                               formats=tuple(f for f in formats if f[0] in available - exit_only))


def prepare_probes(**options):
    """Compile the probes a session with these `LiveSource` options would load, into the cache, and
    attach nothing: (cache key, True when compiled now / False when already cached, warnings).

    A later start of the same plan then skips the compile (~1.5 s). Raises ChiselRuntimeError when
    there is no usable cache to prepare (CHISEL_BPF_CACHE=off, or a directory refused as unsafe).
    """
    check_environment()
    plan, warnings = session_plan(**options)
    cache = _open_cache(warnings)
    if cache is None:
        why = warnings[-1] if warnings else "the BPF program cache is off (CHISEL_BPF_CACHE=off)"
        raise ChiselRuntimeError(f"nothing to prepare: {why}")
    try:
        _, key, hit = _bytecode(probes.generate_source(object_plan(plan)), cache, {}, warnings)
        return key, not hit, warnings
    finally:
        cache.close()


def _initial_snapshot():
    """The processes, fds, users and interfaces already there, from /proc."""
    return scan_proc()


# the kernel's drop_count slots, in order (bpf_common.c: DROP_RING, DROP_SCRATCH, DROP_TOTALS)
DROP_CAUSES = ("ring", "scratch", "totals")
_U32 = struct.Struct("<I")
_CONFIG_KEY = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_ONE = b"\x01"  # the u8 value of every set-membership map


def _fixed_key(text, size):
    """A char[size] map key: cut where C would stop reading (the first NUL), NUL-padded."""
    return text.split(b"\0")[0][:size].ljust(size, b"\0")


class LiveSource:
    """A live capture: `.snapshot`, `.events()`, `.drops`, `.stop()`, `.close()`, `.child_exit_code`.

    `event_types`: evt.type names the session wants (None: the whole seed list). `snaplen`: I/O
    bytes kept per event. `pushdown`: a `PushDown` applied in the kernel. `pid`: trace one process
    and its threads. `command`: argv started on a gate, traced with its descendants from its first
    syscall; the capture ends when it exits. Other keyword options go to the `ProbePlan` (see
    `plan_for`). `warnings`: syscalls missing on this kernel and event types no traced syscall
    produces. `maps`: {name: `bpfsys.BpfMap`} of every map the program declares (raw bytes keys
    and values), valid until `close()`.
    Timings (seconds) of the start-up steps are in `timings`: 'cache' (key and lookup), 'compile'
    (only when the program cache missed), 'load' (maps, verifier, attach), 'scan' (/proc).
    """

    def __init__(self, *, event_types=None, snaplen=80, pushdown=None, pid=None, command=None, **plan_options):
        check_environment()
        self.warnings = []
        self.timings = {}
        self.maps = {}
        self.child_exit_code = None
        self._stopping = False  # a plain flag: setting it is safe from a signal handler
        self._child = None
        self._object = None
        self._reader = None
        self._decoder = None
        self._final_drop_causes = {}
        self.snaplen = snaplen
        plan, warnings = session_plan(event_types=event_types, snaplen=snaplen, pushdown=pushdown, pid=pid,
                                      command=command, **plan_options)
        self.warnings.extend(warnings)
        self.plan = plan
        if command is not None:
            self._child = GatedProcess(list(command))
        try:
            source = probes.generate_source(plan)
            self._object = _load_object(source, self.timings, self.warnings, attach=probes.attach_points(source),
                                        shared=probes.generate_source(object_plan(plan)))
            self.maps = self._object.maps
            self._fill_maps(pushdown, pid, snaplen)
            t0 = time.monotonic()
            self.snapshot = _initial_snapshot()
            self.timings["scan"] = time.monotonic() - t0
            self._seed_fd_watch(pushdown)
            event_model()  # load the event table now, not inside the first batch of events
            self._decoder = Decoder(time.time_ns() - time.clock_gettime_ns(time.CLOCK_MONOTONIC),
                                    self.snapshot)
            self._reader = RingReader(self.maps["events"].fd, probes.RB_PAGES * mmap.PAGESIZE)
        except OSError as e:  # a full filter map, memory the kernel would not give, a ring it would not map
            self.close()
            what = f"{e.filename}: " if e.filename else ""
            raise ChiselRuntimeError(f"cannot start the live capture: {what}{e.strerror}") from e
        except BaseException:
            self.close()
            raise
        if self._child is not None:
            self._child.release()

    def _set_config(self, slot, value):
        self.maps["config"].update(_CONFIG_KEY.pack(slot), _U64.pack(value))

    def _fill_maps(self, pushdown, pid, snaplen):
        self._set_config(0, snaplen)
        self._set_config(1, os.getpid())
        if "traced" in self.plan.axes:
            root = self._child.pid if self._child is not None else pid
            self.maps["traced"].update(_U32.pack(root), _ONE)
        if self._child is not None:  # forked before the probes existed: tell the kernel its parent
            self.maps["parent_of"].update(_U32.pack(self._child.pid), _U32.pack(os.getpid()))
        self._fill_pushdown(pushdown)
        self._set_config(3, 1)  # ready: the programs start emitting now

    def _fill_pushdown(self, pushdown):
        if pushdown is None:
            return
        for axis, table in (("pids", "f_pids"), ("tids", "f_tids"), ("uids", "f_uids")):
            for value in getattr(pushdown, axis) or ():
                self.maps[table].update(_U32.pack(int(value)), _ONE)
        for comm in pushdown.comms or ():
            comms = self.maps["f_comms"]
            comms.update(_fixed_key(comm.encode(errors="surrogateescape")[:15], comms.key_size), _ONE)
        if pushdown.fd_names is not None:
            names = [n.encode(errors="surrogateescape") for n in pushdown.fd_names]
            if any(len(n) >= probes.PATHKEY_LEN or b"\0" in n for n in names):
                self._set_config(2, 1)  # cannot match in the kernel: pass all fds
                hint = self.maps["fd_hint"]  # (checked first, before the config)
                for slot in range(probes.FD_HINT_SLOTS):
                    hint.update(_U32.pack(slot), _U32.pack(probes.FD_HINT_SEEDED))
            fd_names = self.maps["fd_names"]
            for name in names:
                if len(name) < probes.PATHKEY_LEN:
                    fd_names.update(_fixed_key(name, fd_names.key_size), _ONE)

    def _seed_fd_watch(self, pushdown):
        """fds already open on a watched name (from the /proc scan) are interesting from the start."""
        if pushdown is None or pushdown.fd_names is None:
            return
        watch, hint = self.maps["fd_watch"], self.maps["fd_hint"]
        seen, slots = set(), set()
        for thread in self.snapshot.threads:
            if thread.pid in seen:
                continue
            seen.add(thread.pid)
            for fd, info in thread.fdtable.items():
                if info.name in pushdown.fd_names:
                    slots.add(fd % probes.FD_HINT_SLOTS)
                    watch.update(struct.pack("<II", thread.pid, fd), _ONE)
        # The programs add to these counters meanwhile and userspace cannot add atomically: a bias
        # far above any count keeps a seeded slot from ever reading 0 whatever update we overwrite.
        for slot in slots:
            key = _U32.pack(slot)
            count = _U32.unpack(hint.lookup(key) or bytes(4))[0]
            hint.update(key, _U32.pack(min(count + probes.FD_HINT_SEEDED, 0xFFFFFFFF)))

    @property
    def child_pid(self):
        """PID of the `command` (known before it runs), or None."""
        return self._child.pid if self._child is not None else None

    @property
    def drops(self):
        """Events lost, every cause of `drop_causes` added up."""
        return sum(self.drop_causes.values())

    @property
    def drop_causes(self):
        """{cause: events lost} (all CPUs): 'ring' (the ring buffer was full), 'scratch' (no free record
        buffer on a CPU), 'totals' (the I/O totals map was full), 'recursion' (the kernel skipped one
        of our programs because another BPF program was running on that CPU, as it does silently for
        a tracepoint hit inside a BPF program or its interrupt), 'corrupt' (records that failed to decode)."""
        if self._object is None:
            return self._final_drop_causes
        causes = {}
        for slot, cause in enumerate(DROP_CAUSES):
            per_cpu = self.maps["drop_count"].lookup(_CONFIG_KEY.pack(slot)) or ()
            causes[cause] = sum(_U64.unpack(v)[0] for v in per_cpu)
        causes["recursion"] = self._object.recursion_misses()
        causes["corrupt"] = self._decoder.corrupt if self._decoder is not None else 0
        return causes

    def stop(self):
        """Ask `events()` to finish after draining what the kernel already wrote (signal-safe)."""
        self._stopping = True

    def events(self):
        """Events in the project's model, numbered from 1, until `stop()` or the command's exit.

        While nothing happens it yields None every IDLE_TICK_S, so a consumer can follow the wall
        clock (interval ticks) and notice a stop request even on an idle system.
        """
        reader = self._reader
        data = reader.data
        records = reader.records
        commit = reader.commit
        decode = self._decoder.decode_ring_records
        last_yield = time.monotonic()
        while True:
            done = self._stopping
            if self._child is not None and self._child.poll() is not None:
                self.child_exit_code = self._child.poll()
                done = True
            # One pass reads what the kernel had written when it began. Records are decoded in
            # place, a chunk at a time, and their room goes back to the kernel before the events
            # are handed out (the events hold copies of the values, not views of the ring).
            end = reader.producer_position()
            while True:
                chunk = records(DECODE_CHUNK, end)
                events = decode(data, chunk) if chunk else ()
                commit()
                if not chunk:
                    break
                yield from events
                last_yield = time.monotonic()
            if done:
                # One pass after the stop: what the kernel wrote before it. Going on until the ring
                # is empty would never end on a busy machine, where the probes keep producing.
                return
            else:
                time.sleep(POLL_INTERVAL_S)
                if time.monotonic() - last_yield >= IDLE_TICK_S:
                    yield None
                    last_yield = time.monotonic()

    def close(self, detach_in_background=False):
        """Detach every probe and free the maps; a command still running is killed.

        `detach_in_background` (the CLI, which exits next): the programs are made inert at once and a
        child process finishes the kernel's slow detach (`LoadedObject.close`)."""
        if self._child is not None:
            self._child.kill()
            self.child_exit_code = self._child.poll()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._object is not None:
            self._final_drop_causes = self.drop_causes
            if detach_in_background:
                try:
                    self._set_config(3, 0)  # not ready: every program returns at its first check
                except OSError:
                    detach_in_background = False
            if detach_in_background:
                self._object.close(detach_in_background=True)
            else:
                self._object.close()
            self._object = None
            self.maps = {}

