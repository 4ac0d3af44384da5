"""One run: plugins → chisel → filters → source → state → global filter → dispatch → end reports.

`Session(config, plugins).run()` returns the exit code. Everything heavy (event model, fields, filter,
state, the capture reader, the live engine and bcc) is imported here, lazily, so `--list` and `--info`
never pay for it. Library rules apply: errors are raised (`UsageError`, `ChiselRuntimeError`), never
printed; the only lines this module writes are the run's own status lines on stderr ("Tracing...",
"N events dropped", one line per stopped chisel) and the events or reports on stdout.
"""

import os
import signal
import stat
import sys
import time

from chisel.core.errors import CaptureFormatError, ChiselRuntimeError, ExitCode, UsageError
from chisel.core.render import Output
from chisel.plugins.api import Context, Summary

PROGRESS_MIN_BYTES = 32 * 1024 * 1024  # replaying a smaller file is too quick to need a progress line
PROGRESS_EVERY = 1 << 14  # events between progress checks
TRACING_BANNER = "Tracing... Ctrl-C to end."
GENERIC_EVENT = "syscall"  # the event model's name for generic events (evt.type is the syscall's)
IDLE_TICK_S = 0.1  # how often an idle live run with interval ticks looks at the clock
# Fields whose value depends on when an enter event happened, not only on its order: with them,
# every traced syscall keeps its enter tracepoint (see `Session._exit_only_exact`).
ENTER_TIME_FIELDS = ("evt.latency", "evt.deltatime")
_END = object()  # marks the end of the source on the helper thread's queue


class Session:
    """Wires and runs one capture; attributes (`config`, `plugins`, `chisels`, `filter`, `source`,
    `state`, `stats`) are what the `chisel_session_*` and `chisel_report_header` hooks look at.

    `chisels` is a list of `ChiselEntry` (from the plugin manager) to run side by side; empty means
    print events. `chisel_args` maps a chisel name to {arg: value} from the settings file and the
    command line (the command line wins).
    """

    def __init__(self, config, plugins, chisels=(), chisel_args=None, stdout=None, stderr=None,
                 source=None):
        self._given_source = source  # an object with the source contract, instead of -r or live
        self.config = config
        self.plugins = plugins
        self.chisels = list(chisels)
        self.chisel_args = chisel_args or {}
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.out = Output(self.stdout, color=config.color)
        self.filter = None
        self.source = None
        self.state = None
        self.writer = None
        self.dispatcher = None
        self._registry = None  # the field registry, loaded on first need
        self._prefilters = {}  # chisel name -> its compiled prefilter, filled by prepare()
        self._args = {}  # chisel name -> its argument namespace, filled by prepare()
        self._renderer = None  # a plugin's renderer for --format, chosen by prepare()
        self.aggregating = False  # the live engine adds up I/O in the kernel (set once it is open)
        self.stats = Summary(first_ts=None, last_ts=None, events=0, drops=0, live=self.live)
        self._stopping = False
        self._abandon = False  # stop reading now, without draining what the source already holds
        self.idle_tick_s = IDLE_TICK_S

    @property
    def live(self):
        if self._given_source is not None:
            return bool(getattr(self._given_source, "live", False))
        return self.config.read_path is None

    # -- preparation ------------------------------------------------------------------------------

    def prepare(self):
        """Check and compile everything the run needs before any source opens; raises UsageError."""
        from chisel.core.filter import compile_filter  # noqa: PLC0415 - heavy, off the --list path

        self._check_capture_options()
        for entry in self.chisels:
            self._check_chisel(entry)
        text = self._filter_text()
        self.filter = compile_filter(text, self._field_registry()) if text else None
        for warning in self.filter.warnings if self.filter is not None else ():
            self._warn(warning)
        for entry in self.chisels:
            text = entry.cls.prefilter
            if text:
                try:
                    self._prefilters[entry.name] = compile_filter(text, self._field_registry())
                except UsageError as exc:
                    raise UsageError(f"bad prefilter in chisel {entry.name} ({entry.source.label}): "
                                     f"{exc.message}; fix the chisel's prefilter") from None
        self._args = {e.name: e.cls.build_args(self.chisel_args.get(e.name, {})) for e in self.chisels}
        self._renderer = self._plugin_renderer()

    def _plugin_renderer(self):
        """The renderer a plugin provides for --format NAME (None for text and json)."""
        name = self.config.output_format
        if name in (None, "text", "json"):
            return None
        answers = self.plugins.call_isolated("chisel_get_renderer", self._warn, format=name)
        if not answers:
            raise UsageError(f"unknown output format '{name}': no plugin provides it; "
                             "use --format text, --format json, or install a plugin for it")
        return answers[0]

    def _field_registry(self):
        """The field registry with every plugin's fields added (once per process)."""
        if self._registry is None:
            from chisel.core.fields import registry  # noqa: PLC0415

            reg = registry()
            if not getattr(reg, "_chisel_plugin_fields_added", False):
                self.plugins.call_isolated("chisel_register_fields", self._warn, registry=reg)
                reg._chisel_plugin_fields_added = True
            self._registry = reg
        return self._registry

    def _check_capture_options(self):
        cfg = self.config
        if cfg.read_path is not None and self._given_source is None:
            if cfg.command:
                raise UsageError("-- COMMAND cannot be used with -r: a capture file cannot trace a new "
                                 "process; drop -r to trace live")
            _check_readable_capture(cfg.read_path)
        if cfg.command and cfg.pids:
            raise UsageError("--pid cannot be combined with -- COMMAND: the command's own process tree "
                             "is what gets traced; drop one of them")
        if cfg.write_path is not None and os.path.isdir(cfg.write_path):
            raise UsageError(f"bad value for -w: {cfg.write_path} is a directory; name a file to write")

    def _check_chisel(self, entry):
        """A chisel's declared events and fields must exist (exit 2 otherwise)."""
        from chisel.core.event import model  # noqa: PLC0415

        from chisel.core.syscalls import PPM_SC_NAMES  # noqa: PLC0415

        names = model().names | frozenset(PPM_SC_NAMES[1:])  # generic events carry any syscall name
        for evname in entry.cls.events or ():
            if evname not in names:
                raise UsageError(f"chisel {entry.name} ({entry.source.label}) subscribes to unknown event "
                                 f"type '{evname}'; fix its events (see 'chisel --list-fields')")
        for field in entry.cls.fields:
            try:
                self._field_registry().lookup(field)
            except UsageError as exc:
                raise UsageError(f"chisel {entry.name} ({entry.source.label}) needs a field chisel does not "
                                 f"have: {exc.message}") from None

    def _filter_text(self):
        """The user's filter, narrowed to the --pid process trees when the kernel cannot do it.

        A live run with one --pid (or a -- COMMAND) is narrowed by the engine, in the kernel, to the
        process and its descendants; a replay or several pids need the filter.
        """
        text = self.config.filter_text.strip()
        pids = list(self.config.pids)
        if not pids or (self.live and len(pids) == 1):
            return text
        tree = " or ".join(f"proc.pid={p} or proc.apid={p}" for p in pids)
        return f"({text}) and ({tree})" if text else tree

    # -- the run ----------------------------------------------------------------------------------

    def run(self):
        """Run to the end of the capture (or -n/-M, Ctrl-C, the traced command's exit); the exit code."""
        try:
            self.prepare()
            if self.config.prepare_probes:
                return self._prepare_probes()
            self._open_source()
            return self._run_open()
        finally:
            self._close()

    def _open_source(self):
        from chisel.core.state import State  # noqa: PLC0415

        if self._given_source is not None:
            self.source = self._given_source
        elif self.live:
            self.source = self._open_live()
        else:
            from chisel.core.scap_reader import ScapReader  # noqa: PLC0415

            self.source = ScapReader(self.config.read_path)
        if self.live and self._given_source is None:
            from chisel.core.procscan import lookup_thread  # noqa: PLC0415

            self.state = State(self.source.snapshot, live=True, proc_lookup=lookup_thread)
        else:
            self.state = State(self.source.snapshot, live=self.live)
        self._bind_fields_to_state()
        if getattr(getattr(self.source, "plan", None), "exit_only", None):
            self._warn_on_enter_times()
        if self.config.write_path is not None:
            from chisel.core.scap_writer import ScapWriter  # noqa: PLC0415

            self.writer = ScapWriter(self.config.write_path, self.source.snapshot)

    def _open_live(self):
        """The live eBPF source; it checks the rights itself and starts a -- COMMAND on its gate."""
        from chisel.core.live.engine import LiveSource  # noqa: PLC0415 - the live engine

        options = self._live_options()
        source = LiveSource(**options)
        for warning in getattr(source, "warnings", ()):
            self._warn(warning)
        if options.get("aggregate_io"):
            from chisel.core.live.aggregate import aggregates  # noqa: PLC0415

            self.aggregating = aggregates(source)
        return source

    def _live_options(self):
        """The `LiveSource` options this run asks for (probe plan inputs and filter push-down)."""
        options = {"event_types": self._wanted_event_types(),
                   "pushdown": self.filter.pushdown if self.filter is not None else None}
        if self._snaplen() is not None:
            options["snaplen"] = self._snaplen()
        if self.config.command:
            options["command"] = list(self.config.command)
        elif len(self.config.pids) == 1:
            options["pid"] = self.config.pids[0]
        if self._kernel_aggregation_exact():
            options["aggregate_io"] = True  # a ProbePlan option: reads and writes add up in the kernel
        if self._exit_only_exact():
            options["exit_only"] = True  # one tracepoint hit per call (see `engine.plan_for`)
        return options

    def _prepare_probes(self):
        """--prepare-probes: compile this command line's probes into the cache and start nothing."""
        from chisel.core.live.engine import prepare_probes  # noqa: PLC0415

        if not self.live:
            raise UsageError("--prepare-probes prepares live capture; drop -r")
        key, compiled, warnings = prepare_probes(**self._live_options())
        for warning in warnings:
            self._warn(warning)
        what = "compiled and cached" if compiled else "already cached"
        self.stdout.write(f"BPF probes {what} ({key[:12]}); the next start of this command skips the compile\n")
        return 0

    def _kernel_aggregation_exact(self):
        """Whether adding up I/O in the kernel gives exactly what the events would: every chisel
        takes totals, no event is written (-w) or printed or counted (-n), and no filter needs the
        events (a single --pid or a -- COMMAND is enforced by the kernel itself)."""
        return (self.config.kernel_agg and bool(self.chisels) and self.filter is None
                and self.config.write_path is None and self.config.count is None
                and all(e.cls.takes_io_totals(self._args[e.name]) for e in self.chisels))

    def _exit_only_exact(self):
        """Whether the exit tracepoint may emit the enter event too (its timestamp is then the exit's):
        only when chisels consume the events, none is written (-w) or printed, and no field the
        chisels, their prefilters or the filter read measures the time between an enter and what
        follows it (`ENTER_TIME_FIELDS`). --enter-probes turns it off."""
        if self.config.enter_probes or not self.chisels or self.config.write_path is not None:
            return False
        from chisel.core.filter import fields_of  # noqa: PLC0415

        used = [f for e in self.chisels for f in e.cls.fields]
        for compiled in [self.filter, *self._prefilters.values()]:
            if compiled is not None:
                used += fields_of(compiled.ast)
        return not any(name.startswith(ENTER_TIME_FIELDS) for name in used)

    def _warn_on_enter_times(self):
        """Exit-only probes were chosen because no declared field needs an enter's own time; a chisel
        that reads one anyway gets one warning (its values would read as about 0)."""
        from chisel.core.fields_base import BOUND  # noqa: PLC0415

        def warn_once(field):
            BOUND.enter_time_warning = None
            self._warn(f"a chisel reads {field} without listing it in its fields: this run's enter "
                       f"events carry their exit's time, so {field} is about 0; list the field, or "
                       f"run with --enter-probes")

        BOUND.enter_time_warning = warn_once

    def _bind_fields_to_state(self):
        """Fields that read more than the event (proc.apid, user.name, evt.arg...) read this run's state."""
        if self._registry is None and self.chisels == [] and not self.config.print_format:
            return  # no field will be extracted: default lines and -j render directly
        from chisel.core.evtinfo import ArgRenderer  # noqa: PLC0415

        renderer = ArgRenderer(self.state, self.config.buffer_format, self._max_buffer_chars())
        self._field_registry().bind_state(self.state, renderer, snapshot=self.source.snapshot)

    def _max_buffer_chars(self):
        """None (whole buffers) when a chisel runs or -v asks for full buffers, as in sysdig; the
        default line's 80-character cut otherwise."""
        from chisel.core.evtinfo import DEFAULT_MAX_BUFFER_CHARS  # noqa: PLC0415

        if self.chisels or getattr(self.config, "verbose", False):
            return None
        return DEFAULT_MAX_BUFFER_CHARS

    def _wanted_event_types(self):
        """evt.type names the chisels and the filter can use (None: every type)."""
        if not self.chisels or any(e.cls.events is None for e in self.chisels):
            wanted = None
        else:
            wanted = frozenset().union(*(e.cls.events for e in self.chisels))
        if self.filter is not None and self.filter.event_types is not None:
            wanted = self.filter.event_types if wanted is None else wanted & self.filter.event_types
        return wanted

    def _snaplen(self):
        """-s wins; else the largest snaplen a chisel asks for; else the source's default (None)."""
        if self.config.snaplen is not None:
            return self.config.snaplen
        wanted = [e.cls.snaplen for e in self.chisels if e.cls.snaplen]
        return max(wanted) if wanted else None

    def _run_open(self):
        from chisel.core.dispatch import Dispatcher  # noqa: PLC0415
        from chisel.core.event import model  # noqa: PLC0415

        from chisel.core.output import event_type_name  # noqa: PLC0415

        self.dispatcher = Dispatcher(model().ids_for_name, self._chisel_failed,
                                     generic_ids=model().ids_for_name(GENERIC_EVENT),
                                     generic_name=event_type_name)
        printer = None if self.chisels or self._quiet_writer() else self._event_printer()
        aggregator, totals_takers = self._add_kernel_aggregator() if self.aggregating else (None, None)
        for entry in self.chisels:
            handler = self.dispatcher.add(entry.cls(), entry.name, entry.cls.events,
                                          self._prefilters.get(entry.name))
            if totals_takers is not None:
                totals_takers.append(handler)
            ctx = Context(out=self.out, live=self.live, json=self.config.json,
                          buffer_format=self.config.buffer_format, snaplen=self._snaplen(),
                          state=self.state,
                          interval_setter=lambda ns, h=handler: self.dispatcher.set_interval(h, ns))
            self.dispatcher.setup(handler, self._args[entry.name], ctx)
        if aggregator is not None:
            from chisel.core.live.aggregate import flush_interval_ns  # noqa: PLC0415

            # still first in tick order: flushes land just before every chisel's own ticks
            self.dispatcher.set_interval(aggregator, flush_interval_ns(h.interval_ns for h in totals_takers))
        self.plugins.call_isolated("chisel_session_start", self._warn, session=self)
        with _StopSignals(self._request_stop):
            if self.live:
                for line in self._header_lines():
                    print(line, file=self.stderr)
                print(TRACING_BANNER, file=self.stderr, flush=True)
            try:
                self._loop(printer)
            except CaptureFormatError:
                # A damaged capture still gets the reports for the events read before the damage;
                # then the error line, and exit 1.
                self._finish()
                raise
        self._finish()
        if self.dispatcher.failed:
            return ExitCode.FAILURE
        child_code = getattr(self.source, "child_exit_code", None)
        if self.config.command and child_code is not None:
            return child_code if child_code >= 0 else 128 - child_code  # killed by signal N: 128+N
        return ExitCode.OK

    def _add_kernel_aggregator(self):
        """Add the handler flushing the kernel's I/O totals, first, so it runs before the chisels'
        ticks and end reports; returns it and the list of handlers it delivers to (filled by the
        caller, who sets its interval once the chisels have set theirs)."""
        from chisel.core.live.aggregate import KernelAggregator, flush_interval_ns, io_totals_map  # noqa: PLC0415

        takers = []
        dispatcher = self.dispatcher

        def deliver(records):
            for handler in takers:
                dispatcher.call(handler, "on_io_totals", records)

        aggregator = KernelAggregator(io_totals_map(self.source), self.state, deliver)
        handler = dispatcher.add(aggregator, aggregator.name, aggregator.events)
        dispatcher.set_interval(handler, flush_interval_ns(()))  # takes its place first in tick order
        return handler, takers

    def _finish(self):
        """End of capture: chisels' end reports, observers, the drops line."""
        self.stats.drops = getattr(self.source, "drops", 0) or 0
        self.dispatcher.end(self.stats)
        self.out.flush()
        self.plugins.call_isolated("chisel_session_end", self._warn, session=self, stats=self.stats)
        if self.stats.drops:
            print(f"{self.stats.drops} events dropped", file=self.stderr)

    def _loop(self, printer):
        """The hot loop: state first, then the global filter, then -w, printing and dispatch.

        Counters live in locals and reach `stats` at the end. An event goes to the dispatcher only
        when a chisel could want it: some chisel ticks (ticks run on every event's time), subscribes
        to every type, or subscribes to this one and the event passed the filter.
        """
        cfg = self.config
        process = self.state.process
        match = self.filter.match if self.filter is not None else None
        dispatcher = self.dispatcher
        dispatch = dispatcher.dispatch
        wanted = dispatcher.subscribed_types  # event ids, or None for every type
        dispatch_all = dispatcher.ticking or wanted is None
        write = self.writer.write if self.writer is not None else None
        print_event = printer.print if printer is not None else None
        limit = cfg.count
        deadline_ns = None
        matched = events = 0
        first_ts = last_ts = None
        progress = self._progress()
        try:
            for ev in self._events():
                if self._abandon:
                    break
                if ev is None:  # a live source idle past its poll timeout: ticks follow the clock
                    dispatcher.advance(time.time_ns())
                    if printer is not None:
                        printer.flush()  # lines printed so far show while nothing happens
                    continue
                process(ev)
                # The clock starts at the first real event: a capture's internal events (its process
                # table dump) may carry the time the capture was set up, seconds earlier.
                if first_ts is None and "EC_INTERNAL" not in ev.info.ec_classes:
                    first_ts = ev.ts
                    if cfg.duration_s is not None:
                        deadline_ns = ev.ts + int(cfg.duration_s * 1_000_000_000)
                if deadline_ns is not None and ev.ts >= deadline_ns:
                    break
                last_ts = ev.ts
                events += 1
                passed = match is None or match(ev)
                if passed:
                    matched += 1
                    if write is not None:
                        write(ev)
                    if print_event is not None:
                        print_event(ev)
                if dispatch_all or (passed and ev.type in wanted):
                    dispatch(ev, passed)
                if progress is not None and not events % PROGRESS_EVERY:
                    progress()
                if limit is not None and matched >= limit:
                    break
        finally:
            self.stats.first_ts, self.stats.last_ts, self.stats.events = first_ts, last_ts, events
            if printer is not None:
                printer.flush()
        if progress is not None:
            progress(done=True)

    def _events(self):
        """The source's events; for a live run with interval ticks, interleaved with None when idle.

        A live source blocks while nothing happens, so a chisel redrawing every second would freeze
        on an idle system. Then the source is read on a helper thread and the loop wakes every
        IDLE_TICK_S to advance the ticks on the clock (the live events' clock: ns since the epoch).
        """
        if not (self.live and self.dispatcher.ticking):
            return self.source.events()
        return _clocked(self.source, self.idle_tick_s)

    def _quiet_writer(self):
        """-w alone prints nothing (sysdig: -w implies -q); an explicit -p, -j or --format still
        prints the events it writes."""
        cfg = self.config
        return (cfg.write_path is not None and not cfg.print_format and not cfg.json
                and self._renderer is None)

    def _event_printer(self):
        """An `EventPrinter` printing events as asked: a plugin's --format renderer, -j JSON, -p FORMAT,
        or sysdig's default line. A renderer, like the built-in formatters, has `format(ev)` returning
        the text to print or None."""
        from chisel.core import output  # noqa: PLC0415

        cfg = self.config
        if self._renderer is not None:
            formatter = self._renderer
        elif cfg.json and cfg.print_format:
            formatter = output.JsonFormatter.from_format(cfg.print_format, self._field_registry(),
                                                         state=self.state, buffer_format=cfg.buffer_format)
        elif cfg.json:
            formatter = output.JsonFormatter(state=self.state, buffer_format=cfg.buffer_format)
        elif cfg.print_format:
            formatter = output.FormatFormatter(cfg.print_format, registry=self._field_registry(),
                                               buffer_format=cfg.buffer_format)
        else:
            formatter = output.DefaultFormatter(state=self.state, buffer_format=cfg.buffer_format,
                                                max_buffer_chars=self._max_buffer_chars())
        return output.EventPrinter(formatter, self.stdout)

    def _progress(self):
        """A progress reporter for replaying a large file to a terminal, or None."""
        cfg = self.config
        total = getattr(self.source, "total_bytes", None)
        wanted = cfg.progress if cfg.progress is not None else (
            not self.live and _isatty(self.stderr) and bool(total) and total >= PROGRESS_MIN_BYTES)
        if not wanted or not total:
            return None
        source, stderr, name = self.source, self.stderr, os.path.basename(cfg.read_path or "")

        def report(done=False):
            pct = 100 if done else min(99, source.bytes_read * 100 // total)
            stderr.write(f"\rreading {name}: {pct}%" + ("\n" if done else ""))
            stderr.flush()

        return report

    def _header_lines(self):
        lines = []
        for result in self.plugins.call_isolated("chisel_report_header", self._warn, session=self):
            lines.extend(result or ())
        return lines

    # -- stopping and failures --------------------------------------------------------------------

    def _request_stop(self):
        """Ctrl-C, SIGTERM or the traced command's exit: stop; end reports still run.

        A live source finishes what the kernel already wrote to its ring (a -w file and the end
        report then hold every event captured before the stop, not a backlog thrown away uncounted);
        a second request, or a source that cannot drain, stops at once.
        """
        stop = getattr(self.source, "stop", None)
        if self._stopping or stop is None:
            self._abandon = True
        self._stopping = True
        if stop is not None:
            stop()

    def _chisel_failed(self, name, exc):
        detail = f"{type(exc).__name__}: {exc}"
        print(f"chisel: error: chisel {name} stopped: {detail}; the other chisels went on", file=self.stderr)
        if self.config.debug:
            import traceback  # noqa: PLC0415

            traceback.print_exception(exc, file=self.stderr)

    def _warn(self, message):
        print(f"chisel: warning: {message}", file=self.stderr)

    def _close(self):
        """Close the writer (leaving a valid file) and the source, whatever happened."""
        from chisel.core.fields_base import BOUND  # noqa: PLC0415

        BOUND.enter_time_warning = None  # this run's, not the next one's
        errors = []
        live_engine = self.live and self._given_source is None
        for closer in (self.writer, self.source):
            if closer is None:
                continue
            try:
                if closer is self.source and live_engine:
                    closer.close(detach_in_background=True)  # the run ends here: do not wait on the kernel
                else:
                    closer.close()
            except OSError as exc:
                errors.append(exc)
        self.writer = self.source = None
        if errors:
            raise ChiselRuntimeError(f"closing the capture failed: {errors[0]}; check the disk and the path")


def _clocked(source, period_s):
    """Yield `source.events()` read on a helper thread, and None whenever `period_s` passes without one.

    The helper's exception (a corrupt record, a BPF failure) is re-raised here, in the session's
    thread. Leaving the loop early stops the source so the helper ends too.
    """
    import queue  # noqa: PLC0415
    import threading  # noqa: PLC0415

    items = queue.SimpleQueue()

    def pump():
        try:
            for ev in source.events():
                items.put(ev)
        except BaseException as exc:  # noqa: BLE001 - handed to the session's thread
            items.put(_Failure(exc))
        finally:
            items.put(_END)

    helper = threading.Thread(target=pump, name="chisel-source", daemon=True)
    helper.start()
    try:
        while True:
            try:
                item = items.get(timeout=period_s)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop = getattr(source, "stop", None)
        if stop is not None:
            stop()
        helper.join(timeout=5)


class _Failure:
    """An exception raised by the source on the helper thread."""

    __slots__ = ("exc",)

    def __init__(self, exc):
        self.exc = exc


def _isatty(stream):
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _check_readable_capture(path):
    """`-r` must name a readable regular (or gzip) file; each other case is one clear usage line."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"cannot read {path}: no such file; check the -r path") from None
    except PermissionError:
        raise UsageError(f"cannot read {path}: permission denied; check its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot read {path}: it is a directory; pass a capture file to -r")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot read {path}: not a regular file; pass a capture file to -r")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {path}: permission denied; check its permissions")


class _StopSignals:
    """SIGINT and SIGTERM call `on_stop` (once each run) instead of killing the process, while active."""

    def __init__(self, on_stop):
        self.on_stop = on_stop
        self._previous = {}

    def __enter__(self):
        import threading  # noqa: PLC0415

        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread (in-process tests)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda _s, _f: self.on_stop())
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
