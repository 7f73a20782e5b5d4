"""A small evaluator of GitHub Actions expressions (``${{ ... }}``) for the workflow rehearsal.

It covers what GitHub documents for the syntax our workflows use: literals, context lookups
(``a.b``, ``a[b]``, case-insensitive names, missing properties are ``null``), ``!``, ``==``,
``!=``, ``<``/``<=``/``>``/``>=`` (loose comparison: mismatched types compare as numbers,
strings case-insensitively), ``&&`` / ``||`` returning an operand, and the functions
``fromJSON``, ``toJSON``, ``contains``, ``startsWith``, ``endsWith``, ``format`` and the status
functions. Anything else raises ``ExpressionError``, so a workflow using new syntax makes the
rehearsal fail loudly instead of silently taking the wrong branch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!.\[\](),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)
_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression this evaluator does not understand (or that GitHub would reject)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot read {text!r} at offset {pos}: {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    """GitHub's truthiness: null, false, 0, NaN and '' are false; objects and arrays true."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _compare(left: Any, right: Any) -> float:
    """Negative, zero or positive like cmp; NaN when GitHub would call them incomparable."""
    if isinstance(left, str) and isinstance(right, str):
        x, y = left.casefold(), right.casefold()
        return float((x > y) - (x < y))
    if type(left) is type(right) and isinstance(left, dict | list):
        return 0.0 if left is right else math.nan
    a, b = _number(left), _number(right)
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return float((a > b) - (a < b))


def to_string(value: Any) -> str:
    """How a value is written into a string (env values, ``with:`` inputs, interpolation)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def _lookup(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        if not isinstance(key, str):
            key = to_string(key)
        if key in container:
            return container[key]
        folded = key.casefold()
        for name, value in container.items():
            if isinstance(name, str) and name.casefold() == folded:
                return value
        return None
    if isinstance(container, list):
        index = _number(key)
        if math.isnan(index) or not index.is_integer() or not 0 <= index < len(container):
            return None
        return container[int(index)]
    return None


class _Parser:
    def __init__(
        self,
        text: str,
        contexts: Mapping[str, Any],
        status: Mapping[str, Callable[[], bool]],
    ) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (op is not None and token != ("op", op)):
            raise ExpressionError(f"{self.text!r}: expected {op or 'more'} at token {self.pos}")
        self.pos += 1
        return token

    def at(self, *ops: str) -> str | None:
        token = self.peek()
        return token[1] if token is not None and token[0] == "op" and token[1] in ops else None

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"{self.text!r}: unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.at("||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.at("&&"):
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.relation()
        while op := self.at("==", "!="):
            self.take()
            same = _compare(value, self.relation()) == 0
            value = same if op == "==" else not same
        return value

    def relation(self) -> Any:
        value = self.unary()
        while op := self.at("<", "<=", ">", ">="):
            self.take()
            order = _compare(value, self.unary())
            if math.isnan(order):
                value = False
            else:
                value = {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]
        return value

    def unary(self) -> Any:
        if self.at("!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while op := self.at(".", "["):
            self.take()
            if op == ".":
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"{self.text!r}: property name expected after '.'")
                value = _lookup(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _lookup(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            number = _number(text)
            return int(number) if number.is_integer() else number
        if kind == "op" and text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"{self.text!r}: unexpected {text!r}")
        if self.at("("):
            return self.call(text)
        literal = {"true": True, "false": False, "null": None, "NaN": math.nan}
        if text in literal:
            return literal[text]
        if text not in self.contexts:
            raise ExpressionError(f"{self.text!r}: unknown context {text!r}")
        return self.contexts[text]

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while not self.at(")"):
            args.append(self.or_())
            if not self.at(")"):
                self.take(",")
        self.take(")")
        lowered = name.casefold()
        if lowered in STATUS_FUNCTIONS:
            if args:
                raise ExpressionError(f"{name}() takes no arguments")
            return self.status[lowered]()
        if lowered == "fromjson":
            return json.loads(to_string(args[0]))
        if lowered == "tojson":
            return json.dumps(args[0], indent=2)
        if lowered == "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_compare(item, needle) == 0 for item in haystack)
            return to_string(needle).casefold() in to_string(haystack).casefold()
        if lowered == "startswith":
            return to_string(args[0]).casefold().startswith(to_string(args[1]).casefold())
        if lowered == "endswith":
            return to_string(args[0]).casefold().endswith(to_string(args[1]).casefold())
        if lowered == "format":
            template, *values = args
            return re.sub(
                r"\{(\d+)\}", lambda m: to_string(values[int(m.group(1))]), to_string(template)
            )
        raise ExpressionError(f"unknown function {name}()")


def _no_status() -> bool:
    raise ExpressionError("status functions are only allowed in if: conditions")


def evaluate(
    text: str,
    contexts: Mapping[str, Any],
    status: Mapping[str, Callable[[], bool]] | None = None,
) -> Any:
    """The value of the bare expression ``text`` (no ``${{ }}``)."""
    funcs = status or dict.fromkeys(STATUS_FUNCTIONS, _no_status)
    return _Parser(text, contexts, funcs).parse()


def render(value: Any, contexts: Mapping[str, Any]) -> Any:
    """Interpolate ``${{ }}`` in a workflow value; a lone expression keeps its type."""
    if not isinstance(value, str):
        return value
    whole = _INTERPOLATION.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), contexts)
    return _INTERPOLATION.sub(lambda m: to_string(evaluate(m.group(1), contexts)), value)


def condition(
    text: Any, contexts: Mapping[str, Any], status: Mapping[str, Callable[[], bool]]
) -> bool:
    """An ``if:`` condition: ``${{ }}`` optional, implicitly ``success() && (...)`` unless it
    calls a status function itself (GitHub's rule)."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        return text
    source = str(text).strip()
    whole = _INTERPOLATION.fullmatch(source)
    if whole:
        source = whole.group(1).strip()
    calls_status = any(
        ("name", name) in [(k, v.casefold()) for k, v in _tokens(source)]
        for name in STATUS_FUNCTIONS
    )
    if not calls_status:
        source = f"success() && ({source})"
    return truthy(evaluate(source, contexts, status))
