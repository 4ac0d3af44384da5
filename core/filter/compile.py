"""A parsed filter to a fast predicate, plus what the kernel may drop early (event types, push-down).

Each check becomes a `CheckPlan`: its field, its already-parsed right side and a value test. The
plans make a tree of closures (`and`/`or`/`not` over their children), the plain reference; the
`match` a filter gets is `codegen.py`'s generated function, specialized per event type, which
runs the same value tests. Nothing the user typed is ever evaluated as code.

Semantics, as sysdig 0.29 shows them on real captures:
* A field that cannot be extracted (None) makes the check false for every operator, `!=` included.
* Filter-only "either endpoint" fields (fd.ip, fd.port, fd.net, fd.proto...) give a tuple of
  candidates. A check is true when any candidate matches; `!=` is true when the tuple is not empty
  and no candidate equals the value (sysdig: `fd.port=80` and `fd.port!=80` split the socket events).
* A list-valued field (a Python list, e.g. fd.types) is `in` a set when all its values are in it,
  and `intersects` it when any is; other operators test each value.
* `glob`/`iglob` are fnmatch(3) without the pathname rule (`*` matches '/'); `pmatch` is a path-prefix
  test; `bcontains`/`bstartswith` take hex. `regex` (absent from sysdig 0.29) must match the whole
  value, as an RE2 FullMatch does; Python's `re` syntax applies.
* Numbers accept sign, fraction, exponent and 0x hex (sysdig 0.29 accepts only plain integers:
  tests/data/README.md lists such supersets). An integer is cast to the field's width as sysdig
  does, so `evt.num > -1` is false (UINT64) and `user.uid = -1` finds uid 4294967295.
* An IPv6 value never equals an IPv4 endpoint; an IPv4-mapped IPv6 address is its IPv4 address.

`and` tests its evt.type checks first; they are decided on the event id, without extraction,
except for generic events, whose evt.type comes from the syscall number.

`file.name` is not a sysdig field (it comes from a blog post). It is accepted as an alias of
`fd.name` so the post's examples work, and compiling it adds a one-line warning to `.warnings`
saying so; the field registry itself keeps sysdig's names only.
"""

import functools
import ipaddress
import operator
import re
import socket
import warnings

from ..errors import UsageError
from ..pushdown import PushDown
from .codegen import specialized_match
from .parse import LIST_OPS, ORDER_OPS, And, Check, FilterError, Not, looks_numeric, parse

# Fields that only the filter knows, mapped to the sysdig field they stand for.
ALIASES = {"file.name": "fd.name"}

_NUMERIC_TYPES = re.compile(
    r"U?INT\d+|RELTIME|ABSTIME|DOUBLE|ERRNO|FD|PID|UID|GID|FLAGS\d+|ENUMFLAGS\d+|MODE|"
    r"SYSCALLID|SIGTYPE|SIGSET|SOCKFAMILY|L4PROTO|BOOL_NUM")
_IP_TYPES = {"IPADDR", "IPV4ADDR", "IPV6ADDR"}
_NET_TYPES = {"IPNET", "IPV4NET", "IPV6NET"}

# Operators each class of field supports; anything else is a type error at compile time.
_SUPPORTED = {
    "string": {"=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith",
               "endswith", "glob", "iglob", "regex", "bcontains", "bstartswith", "in",
               "intersects", "pmatch", "exists"},
    "buffer": {"=", "==", "!=", "contains", "icontains", "startswith", "endswith", "bcontains",
               "bstartswith", "in", "intersects", "exists"},
    "numeric": {"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"},
    "port": {"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"},
    "bool": {"=", "==", "!=", "in", "intersects", "exists"},
    "ip": {"=", "==", "!=", "in", "intersects", "exists"},
    "net": {"=", "==", "!=", "in", "intersects", "exists"},
}

# Push-down axes: the field whose `=`/`in` values a PushDown attribute collects.
_PUSHDOWN_AXES = {"proc.pid": "pids", "thread.tid": "tids", "user.uid": "uids",
                  "proc.name": "comms", "fd.name": "fd_names"}
_MAX_COMM = 15  # the kernel keeps 15 bytes of a task's comm
GENERIC_EVENT = "syscall"  # the model's name for events whose evt.type is the syscall's name


class CompiledFilter:
    """A compiled filter: `match(ev)` is the predicate.

    `text` is the source; `event_types` the frozenset of evt.type names it can match (None: any);
    `pushdown` a `PushDown` the kernel may apply without changing the result; `warnings` the
    one-line notes compiling produced (an alias used, for instance).
    """

    __slots__ = ("text", "match", "event_types", "pushdown", "warnings", "ast")

    def __init__(self, text, match, event_types, pushdown, warnings, ast):
        self.text = text
        self.match = match
        self.event_types = event_types
        self.pushdown = pushdown
        self.warnings = warnings
        self.ast = ast

    def __call__(self, ev):
        return self.match(ev)

    def __repr__(self):
        return f"CompiledFilter({self.text!r})"


def compile_filter(text, registry=None, *, specialize=True):
    """Compile sysdig filter `text` against a field `registry` (the project's one by default).

    `match` is generated code specialized per event type (`codegen.py`); with `specialize=False`
    (or when a field is `stateful`, such as evt.deltatime) it is the tree of closures instead, the
    plain reference the tests compare it with.
    Raises `FilterError` (a `UsageError`) with the position of the bad token; never anything else
    for any text.
    """
    if registry is None:
        from ..fields import registry as default_registry  # noqa: PLC0415 - fields is heavy

        registry = default_registry()
    ast = _collapse_negations(parse(text))
    compiler = _Compiler(text, registry)
    match = compiler.predicate(ast)
    if specialize and not any(getattr(p.fdef, "stateful", False) for p in compiler.plans.values()):
        # A field with a memory must see exactly the events the closure tree computes it for.
        from ..event import event_infos  # noqa: PLC0415

        try:
            match = specialized_match(ast, compiler.plans, _cheap_first, _decide_on_type,
                                      event_infos(), GENERIC_EVENT)
        except (SyntaxError, RecursionError, MemoryError):
            pass  # nested past what Python compiles (about 100 levels): keep the closure tree
    universe = _type_universe()
    types, _exact = _event_types(ast, universe, compiler.type_sets)
    if types is not None and types >= universe:
        types = None
    pushdown = _pushdown(ast)
    pushdown = PushDown(event_types=types, **pushdown)
    return CompiledFilter(text, match, types, pushdown, tuple(compiler.warnings), ast)


def _collapse_negations(node):
    """The tree with every run of `not`s reduced to one or none: 'not not X' is X, and a thousand
    'not's would otherwise nest a thousand closures (parentheses already stop at 100 levels)."""
    negated, first = False, node
    while isinstance(node, Not):
        negated, node = not negated, node.child
    if not isinstance(node, Check):
        node = type(node)(children=tuple(_collapse_negations(c) for c in node.children),
                          pos=node.pos)
    return Not(child=node, pos=first.pos) if negated else node


# -- predicates -----------------------------------------------------------------------------
class _Compiler:
    """Turns AST nodes into closures; remembers warnings for the caller."""

    def __init__(self, text, registry):
        self.text = text
        self.registry = registry
        self.warnings = []
        # id(Check) -> evt.type names a pattern check on evt.type (glob, startswith...) accepts.
        self.type_sets = {}
        self.plans = {}  # id(Check) -> CheckPlan

    def fail(self, why, pos):
        raise FilterError(why, self.text, pos)

    def predicate(self, node):
        if isinstance(node, Check):
            return self.check(node)
        if isinstance(node, Not):
            child = self.predicate(node.child)
            return lambda ev: not child(ev)
        children = node.children
        if isinstance(node, And):
            children = _cheap_first(children)
            return _all_of(tuple(self.predicate(c) for c in children))
        return _any_of(tuple(self.predicate(c) for c in children))

    def resolve(self, node):
        """(lookup key for ev.get, field class, sysdig type name, FieldDef, arg) for the check's
        field."""
        field = node.field
        if field in ALIASES:
            real = ALIASES[field]
            note = f"'{field}' is not a sysdig field; using '{real}'"
            if note not in self.warnings:
                self.warnings.append(note)
            field = real
        try:
            fdef, arg = self.registry.lookup(field)
        except UsageError as e:
            self.fail(e.message, node.pos)
        except Exception as e:  # noqa: BLE001 - a plugin's field registry must not crash parsing
            self.fail(f"field '{field}' cannot be used: {e}", node.pos)
        ftype = str(getattr(fdef, "ftype", "CHARBUF")).upper().removeprefix("PT_")
        return field, _field_class(ftype), ftype, fdef, arg

    def check(self, node):
        plan = self.plan(node)
        pred = _field_check(plan)
        if _is_event_type_check(node):
            return _event_type_fast_path(node, pred)
        if plan.key == "evt.type":
            self.type_sets[id(node)] = _names_accepted(pred)
        return pred

    def plan(self, node):
        """The `CheckPlan` of a check node (built once; the code generator reuses it)."""
        plan = self.plans.get(id(node))
        if plan is not None:
            return plan
        key, cls, ftype, fdef, arg = self.resolve(node)
        op = node.op
        if op not in _SUPPORTED[cls]:
            self.fail(f"'{op}' not supported for {_CLASS_WORDS[cls]} field '{node.field}'", node.op_pos)
        fast = None
        if op == "exists":
            test = _is_present
        elif op in LIST_OPS:
            test = self.list_check(node, cls, ftype)
        else:
            want = self.value(node.value, cls, ftype, op, node.field)
            fast = _fast_path(cls, op, want)
            if op == "!=":
                test = _not_equal(_equal_test(cls, want))
            else:
                test = _scalar(self.scalar_test(cls, op, want))
        plan = self.plans[id(node)] = CheckPlan(key, fdef, arg, op, test, fast)
        return plan

    def scalar_test(self, cls, op, want):
        if op in ("=", "=="):
            return _equal_test(cls, want)
        if op in ORDER_OPS:
            return _order_test(cls, op, want)
        return _text_test(cls, op, want)

    def list_check(self, node, cls, ftype):
        values = tuple(self.value(v, cls, ftype, "=", node.field) for v in node.value)
        if node.op == "pmatch":
            prefixes = tuple(v.rstrip("/") for v in values)
            return _scalar(lambda v: _path_under(_as_text(v), prefixes))
        if cls == "net":
            tests = tuple(_equal_test("net", net) for net in values)
            return _membership(lambda c: any(test(c) for test in tests), node.op)
        coerce, wanted = _COERCE[cls], frozenset(values)
        return _membership(lambda c: coerce(c) in wanted, node.op)

    # -- right-hand values, parsed once for the field's class --------------------------------
    def value(self, value, cls, ftype, op, field):
        text, pos = value.text, value.pos
        if op in ("bcontains", "bstartswith"):
            return _hex_bytes(text) or self.fail(
                f"'{op}' takes hex bytes such as 474554, not '{text}'", pos)
        if cls in ("numeric", "port"):
            number = _number(text)
            if number is None and cls == "port":
                number = _service_port(text)
            if number is None and cls == "port":
                self.fail(f"'{text}' is neither a port number nor a service name such as http", pos)
            if number is None:
                self.fail(f"'{text}' is not a number, as numeric field '{field}' needs", pos)
            return _to_width(number, ftype)
        if cls == "bool":
            if text not in ("true", "false"):
                self.fail(f"'{text}' is not a boolean; use true or false", pos)
            return text == "true"
        if cls == "ip":
            ip = _as_ip(text)
            if ip is None:
                self.fail(f"'{text}' is not an IPv4 or IPv6 address", pos)
            return ip
        if cls == "net":
            try:
                return ipaddress.ip_network(text, strict=False)
            except ValueError:
                self.fail(f"'{text}' is not a network such as 10.0.0.0/8", pos)
        if op in ("glob", "iglob", "regex"):
            return self.pattern(text, op, pos)
        if cls == "buffer":
            return text.encode("utf-8", "surrogateescape")
        return text

    def pattern(self, text, op, pos):
        if op == "regex":
            try:
                with warnings.catch_warnings():  # '[[' and '--' warn about future set syntax
                    warnings.simplefilter("ignore", FutureWarning)
                    return re.compile(text, re.DOTALL)
            except (re.error, OverflowError, RecursionError, ValueError) as e:
                self.fail(f"bad regular expression: {e}", pos)
        try:
            return re.compile(_glob_regex(text), re.IGNORECASE if op == "iglob" else 0)
        except re.error as e:  # a reversed range such as [z-a]
            self.fail(f"bad glob pattern: {e.msg}", pos)


_CLASS_WORDS = {"string": "string", "buffer": "buffer", "numeric": "numeric", "port": "numeric",
                "bool": "boolean", "ip": "IP address", "net": "IP network"}


def _field_class(name):
    if name == "BOOL":
        return "bool"
    if name == "PORT":
        return "port"
    if name in _IP_TYPES:
        return "ip"
    if name in _NET_TYPES:
        return "net"
    if name == "BYTEBUF":
        return "buffer"
    if _NUMERIC_TYPES.fullmatch(name):
        return "numeric"
    return "string"


def _all_of(preds):
    if len(preds) == 2:
        first, second = preds
        return lambda ev: first(ev) and second(ev)

    def all_of(ev):
        for p in preds:
            if not p(ev):
                return False
        return True
    return all_of


def _any_of(preds):
    if len(preds) == 2:
        first, second = preds
        return lambda ev: first(ev) or second(ev)

    def any_of(ev):
        for p in preds:
            if p(ev):
                return True
        return False
    return any_of


def _cheap_first(children):
    """A conjunction's children with its evt.type checks first.

    Checks have no side effects, so a conjunction may test the cheap evt.type checks (decided on
    the event id) first: they reject most events before any extraction.
    """
    return sorted(children, key=lambda c: not _is_event_type_check(c))


def _is_event_type_check(node):
    return isinstance(node, Check) and node.field == "evt.type" and node.op in ("=", "==", "!=", "in")


def _decide_on_type(node, info):
    """What an evt.type =, != or in check gives for every event of a non-generic type `info`
    (its evt.type is its table name), or None for any other check."""
    if not _is_event_type_check(node):
        return None
    names = (node.value.text,) if node.op != "in" else tuple(v.text for v in node.value)
    return (info.name in names) != (node.op == "!=")


def _event_type_fast_path(node, slow):
    """evt.type =, != and in, decided on the event id for every non-generic event.

    Only generic `syscall` events take their evt.type from the syscall number; any other event's
    evt.type is its table name, so a set of ids answers without extracting the field.
    """
    from ..event import model  # noqa: PLC0415

    names = [node.value.text] if node.op != "in" else [v.text for v in node.value]
    ids = frozenset(i for name in names for i in model().ids_for_name(name))
    generic = frozenset(model().ids_for_name(GENERIC_EVENT))
    if node.op == "!=":
        return lambda ev: slow(ev) if ev.type in generic else ev.type not in ids
    return lambda ev: slow(ev) if ev.type in generic else ev.type in ids


_NUMBER_TYPES = frozenset({int, float})
_STR_TYPES = frozenset({str})
_BOOL_TYPES = frozenset({bool})


class FastTest:
    """The common case of a check, for a value whose type is in `types` (the field's own type,
    which needs no coercion): `func(value, want)` decides it at C level, and `source` is the same
    test as a format string of Python source over `{x}` (the value) and `{c}` (want), for the
    generated code of `codegen.py`."""

    __slots__ = ("types", "func", "want", "source")

    def __init__(self, types, func, want, source):
        self.types, self.func, self.want, self.source = types, func, want, source


# op -> (C-level function, the same test as source over x and c)
_NUMBER_FAST = {"=": (operator.eq, "{x} == {c}"), "==": (operator.eq, "{x} == {c}"),
                "!=": (operator.ne, "{x} != {c}"), "<": (operator.lt, "{x} < {c}"),
                "<=": (operator.le, "{x} <= {c}"), ">": (operator.gt, "{x} > {c}"),
                ">=": (operator.ge, "{x} >= {c}")}
_STRING_FAST = {"=": (operator.eq, "{x} == {c}"), "==": (operator.eq, "{x} == {c}"),
                "!=": (operator.ne, "{x} != {c}"), "contains": (operator.contains, "{c} in {x}"),
                "startswith": (str.startswith, "{x}.startswith({c})"),
                "endswith": (str.endswith, "{x}.endswith({c})")}
_BOOL_FAST = {op: _NUMBER_FAST[op] for op in ("=", "==", "!=")}


def _fast_path(cls, op, want):
    """A `FastTest` for the plain value of the field's own type, or None where every value goes
    through the general test."""
    if cls in ("numeric", "port"):
        table, types = _NUMBER_FAST, _NUMBER_TYPES
    elif cls == "string":
        table, types = _STRING_FAST, _STR_TYPES
    elif cls == "bool":
        table, types = _BOOL_FAST, _BOOL_TYPES
    else:
        return None
    if op not in table:
        return None
    func, source = table[op]
    return FastTest(types, func, want, source)


class CheckPlan:
    """How one check is decided: extract field `key` (`fdef`, `arg` as the registry resolved
    them), then `test(value)`, which is False for None, whatever `op` is. `fast` is a `FastTest`
    or None. Both the closure path and the generated code (`codegen.py`) run from a plan."""

    __slots__ = ("key", "fdef", "arg", "op", "test", "fast", "index")

    def __init__(self, key, fdef, arg, op, test, fast):
        self.key, self.fdef, self.arg, self.op = key, fdef, arg, op
        self.test, self.fast = test, fast
        self.index = None  # its number in generated code


def _is_present(v):
    return v is not None


def _field_check(plan):
    """The closure deciding a plan on an event: extract through `ev.get`, then test."""
    key, test, fast = plan.key, plan.test, plan.fast
    if fast is None:
        return lambda ev: test(ev.get(key))
    fast_types, fast_test, want = fast.types, fast.func, fast.want

    def fast_check(ev):
        v = ev.get(key)
        if type(v) in fast_types:
            return fast_test(v, want)
        return test(v)
    return fast_check


def _scalar(test):
    """A value test true when the value (or any candidate of a tuple or list) passes `test`."""
    def check(v):
        if v is None:
            return False
        if type(v) is tuple or type(v) is list:
            return any(test(c) for c in v if c is not None)
        return test(v)
    return check


def _not_equal(equal):
    """`!=`: false when absent; for candidates, true when there are some and none is equal."""
    def check(v):
        if v is None:
            return False
        if type(v) is tuple or type(v) is list:
            present = [c for c in v if c is not None]
            return bool(present) and not any(equal(c) for c in present)
        return not equal(v)
    return check


def _membership(is_member, op):
    """`in`/`intersects`: a list field needs all (in) or any (intersects) of its values in the set."""
    def check(v):
        if v is None:
            return False
        if type(v) is list:
            present = [c for c in v if c is not None]
            if op == "in":
                return bool(present) and all(is_member(c) for c in present)
            return any(is_member(c) for c in present)
        if type(v) is tuple:
            return any(is_member(c) for c in v if c is not None)
        return is_member(v)
    return check


def _equal_test(cls, want):
    if cls == "string":
        return lambda v: (v if type(v) is str else _as_text(v)) == want
    if cls == "buffer":
        return lambda v: _as_bytes(v) == want
    if cls == "ip":
        return lambda v: _as_ip(v) == want
    if cls == "net":
        return lambda v: (ip := _as_ip(v)) is not None and ip.version == want.version and ip in want
    if cls == "bool":
        return lambda v: bool(v) == want
    return lambda v: _as_number(v) == want


def _order_test(cls, op, want):
    if cls == "string":
        # Strings order by their text, as sysdig's string comparison does.
        want = str(want)
        get = _as_text
    else:
        get = _as_number
    if op == "<":
        return lambda v: (x := get(v)) is not None and x < want
    if op == "<=":
        return lambda v: (x := get(v)) is not None and x <= want
    if op == ">":
        return lambda v: (x := get(v)) is not None and x > want
    return lambda v: (x := get(v)) is not None and x >= want


def _text_test(cls, op, want):
    """contains, icontains, startswith, endswith, glob, iglob, regex, bcontains, bstartswith."""
    get = _as_bytes if (cls == "buffer" or op in ("bcontains", "bstartswith")) else _as_text
    if op in ("contains", "bcontains"):
        return lambda v: want in get(v)
    if op == "icontains":
        low = want.lower()
        return lambda v: low in get(v).lower()
    if op in ("startswith", "bstartswith"):
        return lambda v: get(v).startswith(want)
    if op == "endswith":
        return lambda v: get(v).endswith(want)
    if op in ("glob", "iglob"):
        return lambda v: want.match(get(v)) is not None
    return lambda v: want.fullmatch(get(v)) is not None  # regex


# Integer types by (bits, signed): sysdig stores the right side in the field's own C type, so
# `evt.num > -1` compares against 2**64-1 and `user.uid = -1` finds uid 4294967295.
_INT_WIDTHS = {"RELTIME": (64, False), "ABSTIME": (64, False), "ERRNO": (64, True),
               "FD": (64, True), "PID": (64, True), "UID": (32, False), "GID": (32, False),
               "MODE": (32, False), "PORT": (16, False), "SYSCALLID": (16, False),
               "SIGTYPE": (8, False)}


def _to_width(number, ftype):
    """`number` wrapped into integer type `ftype` as a C cast would; floats stay as they are."""
    if type(number) is not int:
        return number
    width = _INT_WIDTHS.get(ftype)
    if width is None:
        m = re.fullmatch(r"(U?)INT(\d+)|(?:ENUM)?FLAGS(\d+)", ftype)
        if m is None:
            return number
        width = (int(m.group(2) or m.group(3)), m.group(1) == "" and m.group(2) is not None)
    bits, signed = width
    number &= (1 << bits) - 1
    if signed and number >> (bits - 1):
        number -= 1 << bits
    return number


def _glob_regex(pattern):
    """A regular expression matching what fnmatch(3) matches without FNM_PATHNAME (sysdig's glob).

    `*` spans any text, '/' included; `?` one character; `[...]` a set, negated by a leading '!'
    or '^', with ']' literal when first; a backslash makes the next character literal; an unclosed
    '[' is literal. Text between stars is matched atomically at its earliest place, which is
    always right for fixed-length pieces and keeps matching linear (no backtracking blow-up).
    """
    pieces, current = [], []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            pieces.append("".join(current))
            current = []
        elif c == "?":
            current.append(".")
        elif c == "\\" and i < n:
            current.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            end = i + (pattern[i:i + 1] in ("!", "^"))
            end += pattern[end:end + 1] == "]"
            end = pattern.find("]", end)
            if end < 0:
                current.append(re.escape(c))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            body = _set_body(body)
            current.append("[" + ("^" if negate else "") + body + "]")
        else:
            current.append(re.escape(c))
    pieces.append("".join(current))
    if len(pieces) == 1:
        return f"(?s:{pieces[0]})\\Z"
    middle = "".join(f"(?>.*?{p})" for p in pieces[1:-1] if p)
    return f"(?s:{pieces[0]}{middle}.*{pieces[-1]})\\Z"


def _set_body(chars):
    """The inside of a regex set for fnmatch set `chars`: a '-' between two other characters is a
    range, every other character is literal (so '--' or '&&' never reach the regex engine)."""
    out = []
    last = len(chars) - 1
    for i, ch in enumerate(chars):
        is_range = ch == "-" and 0 < i < last and chars[i - 1] != "-" and chars[i + 1] != "-"
        out.append(ch if is_range else re.escape(ch))
    return "".join(out)


def _path_under(path, prefixes):
    for prefix in prefixes:
        if not prefix:  # "/" (or an empty entry) is the root: every absolute path is under it
            if path.startswith("/"):
                return True
        elif path == prefix or path.startswith(prefix + "/"):
            return True
    return False


# -- value coercions ------------------------------------------------------------------------
def _as_text(v):
    if type(v) is str:
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "surrogateescape")
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _as_bool(v):
    return bool(v)


def _as_bytes(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    return _as_text(v).encode("utf-8", "surrogateescape")


def _as_number(v):
    if isinstance(v, (int, float)):
        return v
    return _number(_as_text(v))


_IP_CACHE = {}


def _as_ip(v):
    """An ipaddress object for an extracted address (text, int, bytes or object), or None."""
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v
    try:
        return _IP_CACHE[v]
    except KeyError:
        pass
    except TypeError:
        return None
    try:
        ip = ipaddress.ip_address(v)
    except ValueError:
        ip = None
    # A v4-mapped v6 address compares as the IPv4 one, as sysdig shows them.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if len(_IP_CACHE) > 4096:
        _IP_CACHE.clear()
    _IP_CACHE[v] = ip
    return ip


def _number(text):
    """int or float for [+-]digits[.digits][e[+-]digits] or [+-]0xHEX; None otherwise."""
    if not looks_numeric(text):
        return None
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        return sign * int(body[2:], 16)
    if body.isdigit():
        return sign * int(body)
    try:
        number = float(body)
    except (ValueError, OverflowError):
        return None
    return sign * number


def _service_port(name):
    """The port of a service name such as 'http' (tcp first, then udp), or None."""
    for proto in ("tcp", "udp"):
        try:
            return socket.getservbyname(name, proto)
        except (OSError, ValueError, UnicodeError):
            continue
    return None


def _hex_bytes(text):
    if not text or len(text) % 2 or any(c not in "0123456789abcdefABCDEF" for c in text):
        return None
    return bytes.fromhex(text)


# How an extracted value is brought to the type of its field's parsed right-hand values.
_COERCE = {"string": _as_text, "buffer": _as_bytes, "ip": _as_ip, "numeric": _as_number,
           "port": _as_number, "bool": _as_bool}


# -- event types ----------------------------------------------------------------------------
@functools.cache
def _type_universe():
    """Every evt.type name: the model's events plus the syscall names generic events take."""
    from ..event import model  # noqa: PLC0415
    from ..syscalls import PPM_SC_NAMES  # noqa: PLC0415

    return model().names | frozenset(PPM_SC_NAMES[1:])  # [0] is '<unknown>'


class _NamedEvent:
    """Stands for any event whose evt.type is `name` (a generic event's id forces extraction)."""

    __slots__ = ("name", "type")

    def __init__(self, name, generic_id):
        self.name, self.type = name, generic_id

    def get(self, key):
        return self.name if key == "evt.type" else None


def _names_accepted(pred):
    """The evt.type names `pred` (a check on evt.type alone) is true for; 'syscall' stands for the
    generic events whose syscall has no name ('<unknown>')."""
    from ..event import model  # noqa: PLC0415

    generic_id = model().ids_for_name(GENERIC_EVENT)[0]
    names = {n for n in _type_universe() if pred(_NamedEvent(n, generic_id))}
    if pred(_NamedEvent("<unknown>", generic_id)):
        names.add(GENERIC_EVENT)
    return frozenset(names)


def _event_types(node, universe, type_sets):
    """(frozenset of evt.type names the node can be true for, or None; exact).

    `exact` means the node is true for exactly those types, so `not` may complement it.
    `type_sets` holds the names each pattern check on evt.type accepts.
    """
    if isinstance(node, Check):
        if id(node) in type_sets:
            return type_sets[id(node)], False
        return _check_types(node, universe)
    if isinstance(node, Not):
        if isinstance(node.child, Not):  # 'not not X' is X
            return _event_types(node.child.child, universe, type_sets)
        types, exact = _event_types(node.child, universe, type_sets)
        if not exact:
            return None, False
        if types is None:  # exactly every type: the negation matches none
            return frozenset(), True
        return _complement(types, universe), False
    results = [_event_types(c, universe, type_sets) for c in node.children]
    exact = all(e for _, e in results)
    if isinstance(node, And):
        sets = [t for t, _ in results if t is not None]
        return (frozenset.intersection(*sets) if sets else None), exact
    if any(t is None for t, _ in results):
        return None, exact
    return frozenset().union(*(t for t, _ in results)), exact


def _complement(types, universe):
    """Every type outside `types`, plus 'syscall': a generic event whose syscall number has no
    name is '<unknown>', so only the generic event itself can stand for it (a superset, not exact)."""
    return (universe - types) | {GENERIC_EVENT}


def _check_types(node, universe):
    field, op = node.field, node.op
    if field == "evt.type":
        if op in ("=", "=="):
            return frozenset({node.value.text}), True
        if op == "in":
            return frozenset(v.text for v in node.value), True
        if op == "!=":
            return _complement({node.value.text}, universe), False
        return None, False
    if field.startswith("evt.type.is.") and op in ("=", "==", "!="):
        name = field[len("evt.type.is."):]
        is_one = _number(node.value.text) == 1
        if (op == "!=") == is_one:
            return _complement({name}, universe), False
        return frozenset({name}), True
    # Any other check can be true for any event type (and is not exactly "all types" either).
    return None, False


# -- push-down ------------------------------------------------------------------------------
def _pushdown(node):
    """{PushDown attribute: frozenset} constraints the filter cannot be true outside of."""
    if isinstance(node, Check):
        return _check_pushdown(node)
    if isinstance(node, Not):
        return {}
    parts = [_pushdown(c) for c in node.children]
    if isinstance(node, And):
        merged = {}
        for part in parts:
            for axis, values in part.items():
                merged[axis] = values if axis not in merged else merged[axis] & values
        return merged
    common = set.intersection(*(set(p) for p in parts))
    return {axis: frozenset().union(*(p[axis] for p in parts)) for axis in common}


def _check_pushdown(node):
    axis = _PUSHDOWN_AXES.get(ALIASES.get(node.field, node.field))
    if axis is None or node.op not in ("=", "==", "in"):
        return {}
    texts = [node.value.text] if node.op != "in" else [v.text for v in node.value]
    if axis in ("pids", "tids", "uids"):
        numbers = [_number(t) for t in texts]
        if any(type(n) is not int for n in numbers):
            return {}
        return {axis: frozenset(numbers)}
    if axis == "comms" and any(len(t.encode("utf-8", "surrogateescape")) > _MAX_COMM for t in texts):
        # A longer proc.name can come from the executable's path, not the kernel's comm.
        return {}
    return {axis: frozenset(texts)}
