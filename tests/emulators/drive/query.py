"""The Drive `q` search language and the `fields` partial-response selector.

Only what connectors send is supported; anything else raises QueryError (HTTP 400), so an
unsupported query fails loudly instead of silently matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from .model import Item, parse_time

Predicate = Callable[[Item], bool]


class QueryError(ValueError):
    """The `q` or `fields` parameter cannot be parsed."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(){}])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<num>-?\d+(?:\.\d+)?)
    )""",
    re.VERBOSE,
)

_BOOL_FIELDS = {"trashed", "starred", "sharedWithMe", "hidden"}
_TIME_FIELDS = {"modifiedTime", "createdTime", "viewedByMeTime", "sharedWithMeTime"}
_TEXT_FIELDS = {"name", "mimeType", "fullText"}
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"Invalid Value: unexpected text at {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and binds tighter."""

    def __init__(self, text: str, resolve: Callable[[str], str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.resolve = resolve

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("eof", "")

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        tk, tv = self.peek()
        if (kind and tk != kind) or (value is not None and tv.lower() != value.lower()):
            want = value or kind
            raise QueryError(f"Invalid Value: expected {want!r}, got {tv or 'end of query'!r}")
        self.pos += 1
        return tv

    def is_word(self, word: str) -> bool:
        tk, tv = self.peek()
        return tk == "word" and tv.lower() == word

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.pos != len(self.tokens):
            raise QueryError(f"Invalid Value: unexpected {self.peek()[1]!r}")
        return pred

    def or_expr(self) -> Predicate:
        preds = [self.and_expr()]
        while self.is_word("or"):
            self.take()
            preds.append(self.and_expr())
        return preds[0] if len(preds) == 1 else (lambda it: any(p(it) for p in preds))

    def and_expr(self) -> Predicate:
        preds = [self.not_expr()]
        while self.is_word("and"):
            self.take()
            preds.append(self.not_expr())
        return preds[0] if len(preds) == 1 else (lambda it: all(p(it) for p in preds))

    def not_expr(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            inner = self.not_expr()
            return lambda it: not inner(it)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.take("punct", ")")
            return inner
        return self.term()

    def term(self) -> Predicate:
        kind, value = self.peek()
        if kind == "str":
            self.take()
            self.take("word", "in")
            return self.membership(value, self.take("word"))
        field_name = self.take("word")
        if self.is_word("has"):
            return self.has(field_name)
        if self.peek()[0] != "op" and not self.is_word("contains"):
            if field_name in _BOOL_FIELDS:  # bare `sharedWithMe`, `starred`, ...
                return _bool_getter(field_name)
            raise QueryError(f"Invalid Value: expected an operator after {field_name!r}")
        op = self.take()
        return self.comparison(field_name, op.lower())

    def membership(self, value: str, collection: str) -> Predicate:
        if collection == "parents":
            parent = self.resolve(value)
            return lambda it: parent in it.parents
        if collection in ("owners", "writers", "readers"):
            mine = value in ("me", "user@example.com")
            if collection == "owners":
                return lambda it: it.owned_by_me == mine
            return lambda it: mine
        raise QueryError(f"Invalid Value: unsupported collection {collection!r}")

    def has(self, field_name: str) -> Predicate:
        if field_name not in ("properties", "appProperties"):
            raise QueryError(f"Invalid Value: 'has' is not supported on {field_name!r}")
        self.take("word", "has")
        self.take("punct", "{")
        self.take("word", "key")
        self.take("op", "=")
        key = self.take("str")
        self.take("word", "and")
        self.take("word", "value")
        self.take("op", "=")
        value = self.take("str")
        self.take("punct", "}")
        attr = "properties" if field_name == "properties" else "app_properties"
        return lambda it: getattr(it, attr).get(key) == value

    def comparison(self, field_name: str, op: str) -> Predicate:
        kind, raw = self.peek()
        self.take()
        if field_name in _BOOL_FIELDS:
            if kind != "word" or raw.lower() not in ("true", "false") or op not in ("=", "!="):
                raise QueryError(f"Invalid Value: {field_name} takes = or != true|false")
            want = raw.lower() == "true"
            get = _bool_getter(field_name)
            return (lambda it: get(it) == want) if op == "=" else (lambda it: get(it) != want)
        if kind != "str":
            raise QueryError(f"Invalid Value: {field_name} needs a quoted value")
        if field_name in _TEXT_FIELDS:
            return _text_predicate(field_name, op, raw)
        if field_name in _TIME_FIELDS:
            if op not in _COMPARE:
                raise QueryError(f"Invalid Value: operator {op!r} on {field_name}")
            try:
                when = parse_time(raw)
            except ValueError as exc:
                raise QueryError(f"Invalid Value: {exc}") from None
            cmp = _COMPARE[op]
            get_time = _time_getter(field_name)
            return lambda it: (t := get_time(it)) is not None and cmp(t, when)
        raise QueryError(f"Invalid Value: unsupported field {field_name!r}")


def _bool_getter(field_name: str) -> Callable[[Item], bool]:
    attr = {"sharedWithMe": "shared_with_me", "hidden": "is_root"}.get(field_name, field_name)
    return lambda it: bool(getattr(it, attr))


def _time_getter(field_name: str) -> Callable[[Item], datetime | None]:
    if field_name == "createdTime":
        return lambda it: it.created
    if field_name == "sharedWithMeTime":
        return lambda it: it.shared_time
    return lambda it: it.modified


def _text_predicate(field_name: str, op: str, value: str) -> Predicate:
    def get(it: Item) -> str:
        return it.mime_type if field_name == "mimeType" else it.name

    if op == "contains":
        needle = value.lower()
        if field_name == "fullText":
            return lambda it: (
                needle in it.name.lower()
                or (it.content is not None and needle.encode() in it.content.lower())
            )
        return lambda it: needle in get(it).lower()
    if field_name == "fullText" or op not in ("=", "!="):
        raise QueryError(f"Invalid Value: operator {op!r} on {field_name}")
    return (lambda it: get(it) == value) if op == "=" else (lambda it: get(it) != value)


def compile_query(text: str | None, resolve: Callable[[str], str]) -> Predicate:
    """Compile `q`; `resolve` maps aliases such as 'root' to real ids."""
    if not text or not text.strip():
        return lambda it: True
    return _Parser(text, resolve).parse()


# -- fields: "nextPageToken, files(id,name,capabilities/canEdit)" --------------------------

FieldTree = dict[str, "FieldTree | None"]


def parse_fields(text: str) -> FieldTree:
    """Parse a partial-response mask into a tree; None means 'the whole value'."""
    tree: FieldTree = {}
    pos = _parse_field_list(text.replace(" ", ""), 0, tree)
    if pos != len(text.replace(" ", "")):
        raise QueryError(f"Invalid field selection {text!r}")
    return tree


def _parse_field_list(text: str, pos: int, tree: FieldTree) -> int:
    while pos < len(text) and text[pos] != ")":
        m = re.compile(r"[A-Za-z0-9_*@.$-]+(?:/[A-Za-z0-9_*@.$-]+)*").match(text, pos)
        if not m:
            raise QueryError(f"Invalid field selection at {pos}: {text!r}")
        path = m.group(0).split("/")
        pos = m.end()
        node = tree
        for part in path[:-1]:
            sub = node.get(part, {})
            if sub is None:  # already selected whole
                break
            node[part] = sub
            node = sub
        else:
            last = path[-1]
            if pos < len(text) and text[pos] == "(":
                sub = node.get(last, {})
                sub = {} if sub is None else sub
                pos = _parse_field_list(text, pos + 1, sub)
                if pos >= len(text) or text[pos] != ")":
                    raise QueryError(f"Unbalanced parentheses in fields {text!r}")
                pos += 1
                node[last] = sub if last not in node or node[last] is not None else None
            else:
                node[last] = None
        if pos < len(text) and text[pos] == ",":
            pos += 1
    return pos


def select(value: object, tree: FieldTree | None) -> object:
    """Apply a field tree to a JSON value; unknown names are ignored."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [select(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    if "*" in tree:
        return {k: select(v, tree.get(k)) if k in tree else v for k, v in value.items()}
    return {k: select(value[k], sub) for k, sub in tree.items() if k in value}
