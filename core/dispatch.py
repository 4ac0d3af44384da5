"""The dispatcher: routes each event to the chisels subscribed to its type, drives interval ticks, isolates failures.

Per event: interval ticks are checked first (on event time, for every event the source delivered, as
sysdig does, so a replay ticks exactly like the live run); then, if the event passed the global filter,
each chisel subscribed to its type sees it when its own prefilter matches. Calls are plain method calls
from a table keyed by event type id; pluggy is never on this path.

A chisel that raises is stopped: it gets no more calls, one line naming it and the exception goes to
the failure callback, the others go on, and `failed` makes the run exit 1.
"""


class Handler:
    """One chisel's place in the dispatch table: its instance, name, prefilter and interval slot."""

    __slots__ = ("chisel", "name", "prefilter", "events", "interval_ns", "slot_start", "stopped")

    def __init__(self, chisel, name, prefilter, events=None):
        self.chisel = chisel
        self.name = name
        self.prefilter = prefilter
        self.events = events  # evt.type names subscribed to, None for every event
        self.interval_ns = None
        self.slot_start = None  # start of the current interval slot, seeded by the first event
        self.stopped = False


class Dispatcher:
    """Event type id → handlers; `report(name, exc)` is told once about each chisel that fails.

    `ids_for_name(name)` maps an evt.type name to its event ids (the event model's lookup).
    Generic events (`generic_ids`, the model's 'syscall' events) stand for any system call: older
    captures record mprotect or mkdir that way. Their evt.type is `generic_name(ev)`, and a chisel
    subscribed to that name gets them too.
    """

    def __init__(self, ids_for_name, report, generic_ids=(), generic_name=None):
        self._ids_for_name = ids_for_name
        self._report = report
        self._generic_ids = frozenset(generic_ids)
        self._generic_name = generic_name
        self.handlers = []
        self._by_type = {}  # event id -> tuple of handlers subscribed to it
        self._any_type = ()  # handlers with events=None, merged into every lookup
        self._ticking = ()
        self.failed = []  # (chisel name, exception)

    def add(self, chisel, name, events, prefilter=None):
        """Subscribe `chisel` to the evt.type names in `events` (None: every event); returns its Handler.

        `prefilter` is a compiled filter (with `match(ev)`) or None.
        """
        handler = Handler(chisel, name, prefilter, None if events is None else frozenset(events))
        self.handlers.append(handler)
        if events is None:
            self._any_type += (handler,)
            self._by_type = {k: v + (handler,) for k, v in self._by_type.items()}
        else:
            for evname in events:
                for eid in self._ids_for_name(evname):
                    current = self._by_type.get(eid, self._any_type)
                    if handler not in current:
                        self._by_type[eid] = current + (handler,)
        return handler

    def set_interval(self, handler, interval_ns):
        """Tick `handler` every `interval_ns` of event time (slots aligned to multiples of it)."""
        handler.interval_ns = int(interval_ns)
        handler.slot_start = None
        if handler not in self._ticking:
            self._ticking += (handler,)

    @property
    def ticking(self):
        """True when some running chisel asked for interval ticks."""
        return any(not h.stopped for h in self._ticking)

    @property
    def subscribed_types(self):
        """Event ids any live handler wants, or None when one wants every event."""
        if any(not h.stopped for h in self._any_type):
            return None
        ids = frozenset(eid for eid, hs in self._by_type.items() if any(not h.stopped for h in hs))
        return ids | self._generic_ids if ids else ids

    def dispatch(self, ev, passed_filter=True):
        """Deliver `ev`: ticks first (always), then on_event to subscribed chisels if it passed the filter."""
        if self._ticking:
            self.advance(ev.ts)
        if not passed_filter:
            return
        etype = ev.type
        if etype in self._generic_ids:
            handlers = self._generic_handlers(ev)
        else:
            handlers = self._by_type.get(etype, self._any_type)
        for handler in handlers:
            if handler.stopped:
                continue
            try:
                if handler.prefilter is None or handler.prefilter.match(ev):
                    handler.chisel.on_event(ev)
            except BrokenPipeError:
                raise  # the reader of stdout is gone (`| head`): the run ends quietly, not a crash
            except Exception as exc:  # noqa: BLE001 - a chisel bug must not end the others' run
                self._stop(handler, exc)

    def _generic_handlers(self, ev):
        """The handlers a generic event reaches: every-event ones, and those subscribed to its evt.type
        (or to the generic name itself)."""
        name = self._generic_name(ev) if self._generic_name is not None else None
        return [h for h in self.handlers
                if h.events is None or name in h.events or ev.info.name in h.events]

    def advance(self, now_ns):
        """Fire due interval ticks at time `now_ns` (an event's ts, or the clock when a live run is idle).

        Like sysdig, the first time seeds the slot and a tick fires once, lazily, on the first time
        that falls in a later slot; `delta_ns` is the time since the previous slot start.
        """
        for handler in self._ticking:
            if handler.stopped:
                continue
            interval = handler.interval_ns
            if handler.slot_start is None:
                handler.slot_start = now_ns - now_ns % interval
                continue
            delta = now_ns - handler.slot_start
            if delta >= interval:
                handler.slot_start = now_ns - now_ns % interval
                self.call(handler, "on_interval", now_ns, delta)

    def setup(self, handler, args, ctx):
        """Run the chisel's setup, isolated like every other call."""
        self.call(handler, "setup", args, ctx)

    def end(self, summary):
        """Run every live chisel's on_end, in subscription order."""
        for handler in self.handlers:
            if not handler.stopped:
                self.call(handler, "on_end", summary)

    def call(self, handler, method, *args):
        """`handler`'s chisel's `method(*args)`, isolated: a chisel that raises is stopped and
        reported, the run goes on (a closed stdout still ends the run)."""
        if handler.stopped:
            return
        try:
            getattr(handler.chisel, method)(*args)
        except BrokenPipeError:
            raise  # the reader of stdout is gone: not the chisel's fault
        except Exception as exc:  # noqa: BLE001 - isolate the failing chisel
            self._stop(handler, exc)

    def _stop(self, handler, exc):
        handler.stopped = True
        self.failed.append((handler.name, exc))
        self._report(handler.name, exc)

    @property
    def active(self):
        """True while at least one chisel is still running."""
        return any(not h.stopped for h in self.handlers)
