"""A compiled filter as one generated Python function that first dispatches on the event type.

Why: the closure tree of `compile.py` pays several Python calls per check (the check, `ev.get`,
the registry, the extractor); with ten checks that was 74-150 % on top of replay. Here the whole
filter becomes one function, so a check costs a few bytecodes:

* **Per event type.** Fields whose value depends only on the event type (`FieldDef.per_type`:
  evt.type, evt.dir, evt.category of non-I/O events, evt.is_io, evt.rawres of events without a
  result, every fd.* field of an event without an fd...) are decided at compile time for each of
  the model's event types; the checks on them fold to True/False. A type whose filter folds to a
  constant costs one list index and one comparison; types sharing a residual filter share a
  branch (`evt.type != nosuch and evt.dir exists` costs nothing). Generic `syscall` events take
  evt.type from their arguments, so nothing is folded for them.
* **Fields bound directly.** A field with an `inline` spec is read as `ev.num`, `ev.thread.comm`,
  `ev.fd.name` (on types about an fd) right in the generated code, or its extractor is called
  without the registry; other fields go through `ev.get`, which caches them for the chisel and
  the output too.
* **Once per event.** Each field is extracted at most once per call: the first check on it stores
  the value in a local, later checks reuse it when it is certainly set on every path reaching them,
  and test a sentinel otherwise.

Nothing the user typed becomes code: the source names only generated identifiers (`v0`, `k3`,
`t3`...) and attribute names from the fields' own `inline` specs; every key, value, set, pattern
and test is bound in the function's namespace as an object.
"""

import keyword
import struct

from .parse import And, Check, Not

_INT64 = struct.Struct("<q")  # scap's PT_ERRNO, PT_FD, PT_PID
_HOISTED = {"th": "thread", "fd": "fd"}  # local -> the Event attribute it holds
_UNSET = type("Unset", (), {"__repr__": lambda self: "<unset>", "__slots__": ()})()


class TypeProbe:
    """Stands for every event of one type when a per-type field is extracted at compile time.

    It has the event's `info` and `type` and no fd; reading anything else (the thread, the raw
    parameters) raises AttributeError, and then the check is not folded.
    """

    __slots__ = ("info", "type", "fd", "fdnum")

    def __init__(self, info):
        self.info, self.type, self.fd, self.fdnum = info, info.id, None, None


# Residual filters written as branches of the one `match` function; rarer ones get a function
# each, called through a dict, so a filter with many residuals does not walk a long if-chain.
MAX_BRANCHES = 8


def specialized_match(ast, plans, order_and, decide_on_type, event_infos, generic_name):
    """The `match(ev)` of a filter: one generated function dispatching on `ev.type`.

    Every event type is folded at compile time (a few ms for the model's ~450 types): types the
    filter decides get code 0 (False) or 1 (True); types sharing a residual filter share a code
    and a branch. `plans` maps id(Check) to its `CheckPlan`; `order_and(children)` orders a
    conjunction's children as the closure compiler does; `decide_on_type(check, info)` is True or
    False for a check the event type alone decides whatever its field's registry says
    (evt.type = NAME), None for others; `event_infos` is the model's tuple of `EventInfo` (None
    for unused ids); events named `generic_name` are never folded.
    """
    namespace = _namespace(plans)
    # Only these plans read differently per type; the rest of a body depends on the residual.
    typed = [p for p in plans.values() if callable(getattr(p.fdef, "inline", None))]
    checks = checks_of(ast)
    # (decisions, per-type reads) -> True, False or a body: types alike cost one fold and write
    bodies = {}
    residuals = {}  # body (sentinel inits, expression) -> [type ids]
    codes = []
    for info in event_infos:
        if info is None or info.name == generic_name:
            decisions, specialized_to = None, None
        else:
            decisions = type_decisions(checks, plans, info, decide_on_type)
            specialized_to = info
        key = (decisions, tuple(inline_spec(p.fdef, p.arg, specialized_to) for p in typed))
        body = bodies.get(key)
        if body is None:
            decided = {id(c): d for c, d in zip(checks, decisions or ()) if d is not None}
            folded = fold(ast, decided)
            body = bodies[key] = folded if folded is True or folded is False else \
                FunctionWriter(plans, order_and, specialized_to).body(folded)
        if body is True or body is False:
            codes.append(int(body))
            continue
        residuals.setdefault(body, []).append(len(codes))
        codes.append(None)
    # The residuals shared by the most types come first (2, 3, ...).
    ranked = sorted(residuals.items(), key=lambda item: -len(item[1]))
    for code, (_body, ids) in enumerate(ranked, start=2):
        for etype in ids:
            codes[etype] = code
    namespace["_codes"] = codes
    namespace["_rest"] = {code: _define(_function("match", body), namespace)
                          for code, (body, _ids) in enumerate(ranked, start=2)
                          if code - 2 >= MAX_BRANCHES}
    return _define(_dispatcher([body for body, _ids in ranked[:MAX_BRANCHES]],
                               len(ranked) > MAX_BRANCHES), namespace)


def _function(name, body, indent="    "):
    """Source of `def name(ev)` whose body is (sentinel inits, return expression)."""
    inits, expr = body
    lines = [f"def {name}(ev):\n"]
    lines += [f"{indent}{line}\n" for line in inits]
    lines.append(f"{indent}return {expr}\n")
    return "".join(lines)


def _dispatcher(bodies, has_rest):
    """Source of `match(ev)`: code 0/1 answers at once, the commonest residuals are inline."""
    lines = ["def match(ev):\n", "    d = _codes[ev.type]\n",
             "    if d < 2:\n", "        return d == 1\n"]
    for code, (inits, expr) in enumerate(bodies, start=2):
        lines.append(f"    if d == {code}:\n")
        lines += [f"        {line}\n" for line in inits]
        lines.append(f"        return {expr}\n")
    lines.append("    return _rest[d](ev)\n" if has_rest else "    return False\n")
    return "".join(lines)


def _namespace(plans):
    """The objects generated code refers to, by the names `FunctionWriter` gives them."""
    namespace = {"_U": _UNSET, "type": type, "len": len, "_int64": _INT64.unpack,
                 "__builtins__": {}}
    for i, plan in enumerate(plans.values()):
        plan.index = i
        namespace[f"k{i}"] = plan.key
        namespace[f"t{i}"] = plan.test
        if plan.fast is not None:
            namespace[f"T{i}"] = _primary_type(plan.fast.types)
            namespace[f"c{i}"] = plan.fast.want
        fn, arg = getattr(plan.fdef, "extract", None), plan.arg
        if fn is not None:  # a registry's field without an extractor has no inline spec either
            namespace[f"g{i}"] = fn if plan.fdef.arg is None else \
                (lambda ev, fn=fn, arg=arg: fn(ev, arg))
    return namespace


def _primary_type(types):
    """The one type generated code tests with `is` (int among numbers: a float, or a bool, takes
    the general test, which gives the same answer, more slowly)."""
    return int if int in types else next(iter(sorted(types, key=lambda t: t.__name__)))


def _define(source, namespace):
    code = compile(source, "<chisel filter>", "exec")
    scope = {}
    exec(code, namespace, scope)  # noqa: S102 - generated from the AST's shape, no user text
    return scope["match"]


# -- folding per event type -------------------------------------------------------------------
def checks_of(node):
    """Every Check of the tree, in source order."""
    if isinstance(node, Check):
        return [node]
    if isinstance(node, Not):
        return checks_of(node.child)
    return [check for child in node.children for check in checks_of(child)]


def type_decisions(checks, plans, info, decide_on_type):
    """For each check, True or False when the event type `info` decides it, else None."""
    out = []
    for check in checks:
        decided = decide_on_type(check, info)
        out.append(decided if decided is not None else _fold_check(plans[id(check)], info))
    return tuple(out)


def fold(node, decided):
    """`node` with the checks in `decided` ({id(check): True/False}) replaced by their answer,
    simplified; returns True, False or a node."""
    if isinstance(node, Check):
        return decided.get(id(node), node)
    if isinstance(node, Not):
        child = fold(node.child, decided)
        if child is True or child is False:
            return not child
        return node if child is node.child else Not(child=child, pos=node.pos)
    stop = isinstance(node, And) is False  # `or` stops at True, `and` at False
    kept = []
    for child in node.children:
        result = fold(child, decided)
        if result is stop:
            return stop
        if result is not (not stop):
            kept.append(result)
    if not kept:
        return not stop
    if len(kept) == 1:
        return kept[0]
    return type(node)(children=tuple(kept), pos=node.pos)


def _fold_check(plan, info):
    """The check's answer for every event of type `info` when its field is per-type, else None."""
    per_type = getattr(plan.fdef, "per_type", False)
    if callable(per_type):
        per_type = per_type(info)
    if not per_type:
        return None
    probe = TypeProbe(info)
    try:
        value = plan.fdef.extract(probe) if plan.fdef.arg is None else \
            plan.fdef.extract(probe, plan.arg)
    except AttributeError:  # the extractor needs more than the type: decide it per event
        return None
    except Exception:  # noqa: BLE001 - a wrong hint on a plugin's field costs speed, not the run
        return None
    return bool(plan.test(value))


# -- source ------------------------------------------------------------------------------------
def inline_spec(fdef, arg, info):
    """The field's `inline` spec for events of type `info` (None: not specialized to a type),
    or None when generated code must go through `ev.get`."""
    spec = getattr(fdef, "inline", None)
    if callable(spec):
        spec = spec(info) if info is not None else None
    if not spec or (arg is not None and spec[0] != "call"):
        return None
    kind = spec[0]
    if kind == "call" and len(spec) == 1:
        return spec
    if kind in ("event", "thread", "fd") and len(spec) == 3 and _is_attribute(spec[1]) \
            and isinstance(spec[2], type):
        return spec
    if kind in ("event", "thread", "fd") and len(spec) == 2 and _is_attribute(spec[1]):
        return spec
    if kind == "param_int64" and len(spec) == 2 and type(spec[1]) is int and spec[1] >= 0:
        return spec
    return None


def _is_attribute(name):
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


class FunctionWriter:
    """Writes the source of `match(ev)` for one (folded) filter, tracking which field locals are
    certainly assigned so each field is extracted at most once per call.

    A filter reading thread (or fd) fields inline is written twice, for events with a thread and
    without: with one, `th.pid` is read straight and a type its spec promises needs no test;
    without, the extractors decide. `known` maps 'th'/'fd' to whether this writer's code runs
    with it set (absent: undecided).
    """

    def __init__(self, plans, order_and, info=None, known=None):
        self.plans = plans
        self.order_and = order_and
        self.info = info  # the EventInfo the code is specialized to, or None
        self.known = known or {}
        self.slot_types = {}   # slot -> the type its value surely has
        self.slots = {}        # field key -> local number
        self.assigned = set()  # slots set on every path reaching the current point
        self.seen = set()      # slots set on some path
        self.sentinel = set()  # slots that need `vN = _U` first
        self.hoisted = set()   # 'th', 'fd': read once at the top when several checks use them

    def body(self, node):
        """(sentinel init lines, return expression) deciding `node` (a node, True or False)."""
        if node is True or node is False:
            return (), str(node)
        expr = self.split(node)
        inits = [f"{name} = ev.{_HOISTED[name]}" for name in sorted(self.hoisted)]
        inits += [f"v{n} = _U" for n in sorted(self.sentinel)]
        return tuple(inits), expr

    def split(self, node):
        """The expression for `node`, branching on each of `th`/`fd` it reads (at most 4 ways)."""
        expr = self.expr(node)
        undecided = sorted(self.hoisted - set(self.known))
        if not undecided:
            return expr
        local = undecided[0]
        branches = []
        for present in (True, False):
            writer = FunctionWriter(self.plans, self.order_and, self.info,
                                    {**self.known, local: present})
            branches.append(writer.split(node))
            self.hoisted |= writer.hoisted
            self.sentinel |= writer.sentinel
        return f"({branches[0]} if {local} is not None else {branches[1]})"

    def source(self, node):
        """The source of a whole `match(ev)` deciding `node`."""
        return _function("match", self.body(node))

    def expr(self, node):
        if isinstance(node, Check):
            return self.check(self.plans[id(node)])
        if isinstance(node, Not):
            return f"(not {self.expr(node.child)})"
        children = self.order_and(node.children) if isinstance(node, And) else node.children
        joiner = " and " if isinstance(node, And) else " or "
        parts = []
        after_first = None
        for child in children:
            parts.append(self.expr(child))  # each child runs only after the previous one
            if after_first is None:
                after_first = set(self.assigned)
        self.assigned = after_first  # only the first child surely ran
        return "(" + joiner.join(parts) + ")"

    def check(self, plan):
        i = plan.index
        slot = self.slots.setdefault(plan.key, len(self.slots))
        value = self.value(plan, slot)
        if plan.op == "exists":
            return f"({value} is not None)"
        if plan.fast is None:
            return f"t{i}({value})"
        if self.slot_types.get(slot) is _primary_type(plan.fast.types):
            return "(" + plan.fast.source.format(x=value, c=f"c{i}") + ")"
        fast = plan.fast.source.format(x=f"v{slot}", c=f"c{i}")
        return f"({fast} if type({value}) is T{i} else t{i}(v{slot}))"

    def value(self, plan, slot):
        """An expression giving the field's value in local `v<slot>`."""
        local = f"v{slot}"
        if slot in self.assigned:
            return local
        extract = self.extraction(plan)
        if slot in self.seen:
            self.sentinel.add(slot)
            text = f"({local} if {local} is not _U else ({local} := {extract}))"
        else:
            text = f"({local} := {extract})"
        self.assigned.add(slot)
        self.seen.add(slot)
        return text

    def extraction(self, plan):
        spec = inline_spec(plan.fdef, plan.arg, self.info)
        i = plan.index
        if spec is None:
            return f"ev.get(k{i})"
        kind = spec[0]
        promised = spec[2] if len(spec) == 3 else None
        if kind == "event":
            self.slot_types[self.slots[plan.key]] = promised
            return f"ev.{spec[1]}"
        # Without a thread or fd the extractor decides (the rare case: thread.tid falls back to
        # the event's tid, fd.name to a failed open's path).
        if kind in ("thread", "fd"):
            local = "th" if kind == "thread" else "fd"
            self.hoisted.add(local)
            present = self.known.get(local)
            if present is None:
                return f"(g{i}(ev) if {local} is None else {local}.{spec[1]})"
            if not present:
                return f"g{i}(ev)"
            self.slot_types[self.slots[plan.key]] = promised
            return f"{local}.{spec[1]}"
        if kind == "param_int64":  # decoded here: Event.param costs three calls
            n = spec[1]
            present = "(raw := ev.raw)" if n == 0 else f"len(raw := ev.raw) > {n}"
            return f"(_int64(r)[0] if {present} and len(r := raw[{n}]) == 8 else g{i}(ev))"
        return f"g{i}(ev)"
