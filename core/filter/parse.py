"""sysdig filter text to an abstract syntax tree whose nodes remember where they were written.

The grammar is libsinsp's (see the reference, section 3.1):

    expr    := and_expr ('or' and_expr)*          'and'/'or' need a blank or '(' after them
    and_expr:= not_expr ('and' not_expr)*
    not_expr:= ('not' blank | 'not' '(')* primary  each 'not' flips
    primary := '(' expr ')' | check                parentheses nest at most 100 deep
    check   := FIELD ['[' ARG ']'] ( 'exists' | NUMOP number | OP value | LISTOP list )

Values are quoted ('...' or "...", with sysdig's escapes) or bare runs ending at a blank, a
parenthesis, a quote, '=' or ','. The parser knows nothing about fields or types: it only checks the
shape. `compile.py` resolves field names and parses values for their types.
"""

from dataclasses import dataclass

from ..errors import UsageError

MAX_DEPTH = 100
BLANKS = " \t\n\r\f\v"

# Operators in the order sysdig tries them; a word operator must be followed by a blank (or by
# '(' for the list operators, whose list may touch them).
ORDER_OPS = ("<=", "<", ">=", ">")
EQUALITY_OPS = ("==", "=", "!=")
WORD_OPS = frozenset({"contains", "icontains", "bcontains", "startswith", "bstartswith",
                      "endswith", "glob", "iglob", "regex"})
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
ALL_OPS = ("exists",) + ORDER_OPS + EQUALITY_OPS + tuple(sorted(WORD_OPS)) + tuple(sorted(LIST_OPS))

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/"}
_BARE_END = frozenset(BLANKS + "()'\"=,")
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD_CHARS = frozenset(_WORD_START | set("0123456789_"))


class FilterError(UsageError):
    """A filter that cannot be parsed or compiled; `pos` is the index of the offending token.

    The message reads "bad filter: WHY"; `detail_lines` are the filter text and a caret under `pos`,
    which the CLI prints below the message.
    """

    def __init__(self, why, text, pos):
        pos = max(0, min(pos, len(text)))
        # Tabs and newlines would break the caret's alignment, so the echoed filter shows blanks.
        shown = "".join(" " if c in BLANKS else c for c in text)
        super().__init__(f"bad filter: {why}", detail_lines=(shown, " " * pos + "^"))
        self.why = why
        self.text = text
        self.pos = pos


@dataclass(frozen=True)
class Value:
    """One right-hand value as written: `text` after unquoting, `pos` where it starts."""

    text: str
    pos: int
    quoted: bool = False


@dataclass(frozen=True)
class Check:
    """`FIELD OP VALUE`: `field` is the name with its argument ('proc.aname[2]', 'evt.arg.fd').

    `value` is a `Value`, a tuple of `Value` for the list operators, or None for 'exists'.
    """

    field: str
    pos: int
    op: str
    op_pos: int
    value: object


@dataclass(frozen=True)
class Not:
    """Logical negation of `child`; `pos` is where the 'not' is written."""

    child: object
    pos: int


@dataclass(frozen=True)
class And:
    """True when every one of `children` (two or more) is true."""

    children: tuple
    pos: int


@dataclass(frozen=True)
class Or:
    """True when any one of `children` (two or more) is true."""

    children: tuple
    pos: int


def fields_of(node):
    """Every field name the AST `node` checks, in order of appearance (repeats included)."""
    if isinstance(node, Check):
        return [node.field]
    if isinstance(node, Not):
        return fields_of(node.child)
    return [name for child in node.children for name in fields_of(child)]


def parse(text):
    """The AST of filter `text`; raises `FilterError` for anything sysdig's grammar rejects."""
    if not isinstance(text, str):
        raise FilterError("the filter must be text", "", 0)
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the text with one cursor; every error names the cursor position."""

    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, why, pos=None):
        raise FilterError(why, self.text, self.pos if pos is None else pos)

    def peek(self, n=1):
        return self.text[self.pos:self.pos + n]

    def at_end(self):
        return self.pos >= len(self.text)

    def skip_blanks(self):
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in BLANKS:
            pos += 1
        self.pos = pos

    def word_at(self, pos):
        """The run of identifier characters starting at `pos` (may be empty)."""
        text, end = self.text, pos
        while end < len(text) and text[end] in _WORD_CHARS:
            end += 1
        return text[pos:end]

    def keyword(self, word):
        """Consume the logical keyword `word` if it is next and followed by a blank or '('."""
        pos = self.pos
        # After a check only 'and'/'or' may follow, so "andx" is a misspelt keyword; before a
        # check 'not' must be a whole word, since a field name may start with it.
        if not self.text.startswith(word, pos) or (word == "not" and self.word_at(pos) != word):
            return False
        after = pos + len(word)
        if after < len(self.text) and self.text[after] not in BLANKS and self.text[after] != "(":
            self.fail(f"expected a blank or '(' after '{word}'", after)
        if after >= len(self.text):
            self.fail(f"unexpected end of filter after '{word}'", after)
        self.pos = after
        return True

    # -- grammar ---------------------------------------------------------------------------
    def parse(self):
        self.skip_blanks()
        if self.at_end():
            self.fail("the filter is empty")
        tree = self.parse_or()
        self.skip_blanks()
        if not self.at_end():
            rest = self.text[self.pos:self.pos + 20]
            self.fail(f"unexpected '{rest}'; expecting 'and', 'or' or the end of the filter")
        return tree

    def parse_or(self):
        self.skip_blanks()
        start = self.pos
        children = [self.parse_and()]
        self.skip_blanks()
        while self.keyword("or"):
            children.append(self.parse_and())
            self.skip_blanks()
        return children[0] if len(children) == 1 else Or(tuple(children), start)

    def parse_and(self):
        self.skip_blanks()
        start = self.pos
        children = [self.parse_not()]
        self.skip_blanks()
        while self.keyword("and"):
            children.append(self.parse_not())
            self.skip_blanks()
        return children[0] if len(children) == 1 else And(tuple(children), start)

    def parse_not(self):
        self.skip_blanks()
        nots = []
        while self.keyword("not"):
            nots.append(self.pos - 3)
            self.skip_blanks()
        node = self.parse_primary()
        # Each 'not' flips; a pair cancels but the node is kept so positions stay meaningful.
        for pos in reversed(nots):
            node = Not(node, pos)
        return node

    def parse_primary(self):
        self.skip_blanks()
        if self.at_end():
            self.fail("unexpected end of filter; expecting a check or '('")
        if self.peek() == "(":
            open_pos = self.pos
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"parentheses nest deeper than {MAX_DEPTH}")
            self.pos += 1
            node = self.parse_or()
            self.skip_blanks()
            if self.peek() != ")":
                self.fail(f"expected a ')' to close the '(' at index {open_pos}")
            self.pos += 1
            self.depth -= 1
            return node
        return self.parse_check()

    def parse_field(self):
        """FIELD ['[' ARG ']'] -> (field text with a normalised argument, start position)."""
        start = self.pos
        if self.peek() not in _WORD_START:
            self.fail(f"expected a field name or '(' but found '{self.peek()}'")
        parts = [self.word_at(self.pos)]
        self.pos += len(parts[0])
        while self.peek() == "." and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in _WORD_CHARS:
            self.pos += 1
            part = self.word_at(self.pos)
            parts.append(part)
            self.pos += len(part)
        name = ".".join(parts)
        if len(parts) == 1:
            self.fail(f"unexpected identifier '{name}'; a field name such as 'proc.name' was expected", start)
        if self.peek() == "[":
            name += "[" + self.parse_field_arg() + "]"
        return name, start

    def parse_field_arg(self):
        self.pos += 1  # '['
        if self.peek() in ("'", '"'):
            arg = self.parse_quoted().text
        else:
            begin = self.pos
            text = self.text
            while self.pos < len(text) and text[self.pos] not in BLANKS + "[]'\"":
                self.pos += 1
            arg = text[begin:self.pos]
            if not arg:
                self.fail("expected a field argument inside '[ ]'")
        if self.peek() != "]":
            self.fail("expected a ']' after the field argument")
        self.pos += 1
        return arg

    def parse_operator(self, field):
        """The operator after a field, tried in sysdig's order."""
        op_pos = self.pos
        text = self.text
        for op in ORDER_OPS + EQUALITY_OPS:
            if text.startswith(op, op_pos):
                self.pos += len(op)
                return op, op_pos
        word = self.word_at(op_pos)
        if word == "exists" or word in WORD_OPS or word in LIST_OPS:
            after = op_pos + len(word)
            follow = text[after:after + 1]
            ok_follow = follow == "" or follow in BLANKS or follow == ")" or (
                word in LIST_OPS and follow == "(")
            if word != "exists" and follow == "":
                self.fail(f"expected a value after '{word}'", after)
            if ok_follow:
                self.pos = after
                return word, op_pos
            self.fail(f"expected a blank after '{word}'", after)
        found = f"'{word or self.peek()}'" if not self.at_end() else "the end of the filter"
        self.fail(f"expected an operator after '{field}' but found {found}; "
                  f"operators are {', '.join(ALL_OPS)}", op_pos)

    def parse_check(self):
        field, start = self.parse_field()
        self.skip_blanks()
        op, op_pos = self.parse_operator(field)
        if op == "exists":
            return Check(field, start, op, op_pos, None)
        self.skip_blanks()
        if op in LIST_OPS:
            value = self.parse_list(op)
        elif op in ORDER_OPS:
            value = self.parse_number()
        else:
            value = self.parse_value()
        return Check(field, start, op, op_pos, value)

    def parse_number(self):
        """The right side of '<' and friends: a decimal (sign, fraction, exponent) or 0x hex."""
        value = self.parse_value()
        if value.quoted or not looks_numeric(value.text):
            self.fail(f"expected a number after the comparison but found '{value.text}'", value.pos)
        return value

    def parse_value(self):
        if self.at_end():
            self.fail("expected a value but the filter ended")
        if self.peek() in ("'", '"'):
            return self.parse_quoted()
        begin = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in _BARE_END:
            self.pos += 1
        if self.pos == begin:
            self.fail(f"expected a value but found '{self.peek()}'")
        return Value(text[begin:self.pos], begin)

    def parse_quoted(self):
        quote = self.peek()
        begin = self.pos
        self.pos += 1
        text = self.text
        out = []
        while True:
            if self.pos >= len(text):
                self.fail(f"unterminated string starting with {quote}", begin)
            c = text[self.pos]
            if c == quote:
                self.pos += 1
                return Value("".join(out), begin, quoted=True)
            if c == "\\":
                nxt = text[self.pos + 1:self.pos + 2]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                elif nxt == quote:
                    out.append(quote)
                else:
                    self.fail(f"unsupported string escape sequence '\\{nxt}'")
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1

    def parse_list(self, op):
        if self.peek() != "(":
            self.fail(f"expected a '(' list after '{op}', such as {op} (a, b)")
        self.pos += 1
        items = []
        self.skip_blanks()
        if self.peek() == ")":
            self.pos += 1
            return tuple(items)
        while True:
            self.skip_blanks()
            items.append(self.parse_value())
            self.skip_blanks()
            c = self.peek()
            if c == ",":
                self.pos += 1
                self.skip_blanks()
                if self.peek() == ")":  # a trailing comma, which sysdig 0.29 accepts too
                    self.pos += 1
                    return tuple(items)
            elif c == ")":
                self.pos += 1
                return tuple(items)
            else:
                self.fail("expected ',' or ')' in the value list")


def looks_numeric(text):
    """True for [+-]digits[.digits][e[+-]digits] and [+-]0xHEX."""
    body = text[1:] if text[:1] in "+-" else text
    if body[:2] in ("0x", "0X"):
        return len(body) > 2 and all(c in "0123456789abcdefABCDEF" for c in body[2:])
    mantissa, _, exponent = body.lower().partition("e")
    if "e" in body.lower():
        exp = exponent[1:] if exponent[:1] in "+-" else exponent
        if not exp.isdigit() or not exp.isascii():
            return False
    whole, _, frac = mantissa.partition(".")
    if not whole and not frac:
        return False
    return all(p == "" or (p.isdigit() and p.isascii()) for p in (whole, frac)) and (
        "." not in mantissa or mantissa.count(".") == 1)
