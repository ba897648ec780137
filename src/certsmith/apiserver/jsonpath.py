r"""A small JSONPath evaluator for the subset printer columns and selectable fields use.

Kubernetes evaluates CRD ``additionalPrinterColumns`` with ``k8s.io/client-go/util/jsonpath``
with missing keys allowed. Real CRDs use a narrow subset, and that is all this module accepts:

* dotted fields ``.spec.issuerRef.name``, with ``\.`` escaping a dot inside a key and
  bracketed keys ``['app.kubernetes.io/name']``;
* indexes and slices ``[0]``, ``[-1]``, ``[1:3]``, wildcards ``[*]`` and ``.*``;
* recursive descent ``..name``;
* filters ``[?(@.type=="Ready")]`` with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` against a
  quoted string, a number, ``true``/``false``, or another ``@`` path, and existence ``[?(@.x)]``.

The expression may be wrapped in ``{}`` as kubectl writes it. Evaluation never raises: a missing
key simply yields nothing, as with ``AllowMissingKeys(true)``. Parsing raises
:class:`JSONPathError` (a ``ValueError``) for anything outside the subset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeAlias

from certsmith.api.meta import JSON


class JSONPathError(ValueError):
    """A JSONPath expression outside the supported subset."""


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Recursive:
    name: str | None  # None: every descendant


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class _Filter:
    left: tuple[_Step, ...]
    op: str | None  # None: existence test
    right: JSON | tuple[_Step, ...]
    right_is_path: bool


_Step: TypeAlias = _Field | _Wildcard | _Recursive | _Index | _Slice | _Filter

_IDENT_END: Final = frozenset(".[")
_FILTER_RE: Final = re.compile(r"^\s*(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$", re.S)
_NUMBER_RE: Final = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class JSONPath:
    """A parsed expression; :meth:`find` evaluates it against a JSON value."""

    text: str
    steps: tuple[_Step, ...]

    @classmethod
    def parse(cls, text: str) -> JSONPath:
        """Parse an expression such as ``.status.conditions[?(@.type=="Ready")].status``.

        Raises:
            JSONPathError: the expression is malformed or outside the supported subset.
        """
        if not isinstance(text, str):
            raise JSONPathError(f"JSONPath must be a string, got {type(text).__name__}")
        body = text.strip()
        if body.startswith("{") and body.endswith("}"):
            body = body[1:-1].strip()
        if body.startswith("$"):
            body = body[1:]
        if not body:
            return cls(text, ())
        return cls(text, _parse_steps(body, text))

    def find(self, data: JSON) -> list[JSON]:
        """Every value the expression selects, in document order (empty when none)."""
        return list(_evaluate(self.steps, [data]))

    def first(self, data: JSON, default: JSON = None) -> JSON:
        """The first selected value, or ``default``."""
        for value in _evaluate(self.steps, [data]):
            return value
        return default


def _parse_steps(body: str, original: str) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    pos = 0
    while pos < len(body):
        char = body[pos]
        if body.startswith("..", pos):
            pos += 2
            name, pos = _read_ident(body, pos)
            if name == "*" or not name:
                steps.append(_Recursive(None))
            else:
                steps.append(_Recursive(name))
        elif char == ".":
            name, pos = _read_ident(body, pos + 1)
            if name == "*":
                steps.append(_Wildcard())
            elif name:
                steps.append(_Field(name))
            elif pos < len(body) and body[pos] == "[":
                continue
            else:
                raise JSONPathError(f"unrecognized JSONPath {original!r}: empty field name")
        elif char == "[":
            end = _matching_bracket(body, pos, original)
            steps.append(_parse_bracket(body[pos + 1 : end].strip(), original))
            pos = end + 1
        elif pos == 0:
            # kubectl accepts a leading bare identifier (``status.phase``) as a field.
            name, pos = _read_ident(body, pos)
            steps.append(_Field(name))
        else:
            raise JSONPathError(f"unrecognized character {char!r} in JSONPath {original!r}")
    return tuple(steps)


def _read_ident(body: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(body) and body[pos] not in _IDENT_END:
        if body[pos] == "\\" and pos + 1 < len(body):
            out.append(body[pos + 1])
            pos += 2
            continue
        out.append(body[pos])
        pos += 1
    return "".join(out), pos


def _matching_bracket(body: str, start: int, original: str) -> int:
    depth = 0
    quote: str | None = None
    for pos in range(start, len(body)):
        char = body[pos]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return pos
    raise JSONPathError(f"unclosed '[' in JSONPath {original!r}")


def _parse_bracket(inner: str, original: str) -> _Step:
    if inner == "*":
        return _Wildcard()
    if inner.startswith("?"):
        expr = inner[1:].strip()
        if not (expr.startswith("(") and expr.endswith(")")):
            raise JSONPathError(f"filter must be ?(...) in JSONPath {original!r}")
        return _parse_filter(expr[1:-1], original)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise JSONPathError(f"invalid slice {inner!r} in JSONPath {original!r}")
        try:
            nums = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
        except ValueError as exc:
            raise JSONPathError(f"invalid slice {inner!r} in JSONPath {original!r}") from exc
        if nums[2] == 0:
            raise JSONPathError(f"slice step cannot be zero in JSONPath {original!r}")
        return _Slice(nums[0], nums[1], nums[2])
    try:
        return _Index(int(inner))
    except ValueError as exc:
        raise JSONPathError(f"invalid array index {inner!r} in JSONPath {original!r}") from exc


def _parse_operand_path(text: str, original: str) -> tuple[_Step, ...]:
    if not text.startswith("@"):
        raise JSONPathError(f"filter operand {text!r} must start with @ in {original!r}")
    rest = text[1:]
    return _parse_steps(rest, original) if rest else ()


def _parse_filter(expr: str, original: str) -> _Filter:
    match = _FILTER_RE.match(expr)
    if match is None:
        path = expr.strip()
        return _Filter(_parse_operand_path(path, original), None, None, False)
    left, op, right = match.groups()
    left_steps = _parse_operand_path(left.strip(), original)
    right = right.strip()
    if right.startswith("@"):
        return _Filter(left_steps, op, _parse_operand_path(right, original), True)
    literal: JSON
    if len(right) >= 2 and right[0] == right[-1] and right[0] in "'\"":
        literal = right[1:-1]
    elif right in ("true", "false"):
        literal = right == "true"
    elif _NUMBER_RE.match(right):
        literal = float(right) if any(c in right for c in ".eE") else int(right)
    else:
        raise JSONPathError(f"unrecognized filter operand {right!r} in JSONPath {original!r}")
    return _Filter(left_steps, op, literal, False)


def _evaluate(steps: tuple[_Step, ...], values: list[JSON]) -> Iterator[JSON]:
    current = values
    for step in steps:
        current = [out for value in current for out in _apply(step, value)]
        if not current:
            return
    yield from current


def _descendants(value: JSON) -> Iterator[JSON]:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from _descendants(child)
    elif isinstance(value, list):
        for child in value:
            yield from _descendants(child)


def _apply(step: _Step, value: JSON) -> Iterator[JSON]:
    if isinstance(step, _Field):
        if isinstance(value, dict) and step.name in value:
            yield value[step.name]
    elif isinstance(step, _Wildcard):
        if isinstance(value, dict):
            yield from value.values()
        elif isinstance(value, list):
            yield from value
    elif isinstance(step, _Index):
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            yield value[step.index]
    elif isinstance(step, _Slice):
        if isinstance(value, list):
            yield from value[step.start : step.stop : step.step]
    elif isinstance(step, _Recursive):
        for node in _descendants(value):
            if step.name is None:
                if node is not value:
                    yield node
            elif isinstance(node, dict) and step.name in node:
                yield node[step.name]
    else:
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        for item in items:
            if _filter_matches(step, item):
                yield item


def _filter_matches(step: _Filter, item: JSON) -> bool:
    lefts = list(_evaluate(step.left, [item]))
    if step.op is None:
        return bool(lefts)
    if not lefts:
        return False
    if step.right_is_path:
        assert isinstance(step.right, tuple)
        rights = list(_evaluate(step.right, [item]))
        if not rights:
            return False
        right: JSON = rights[0]
    else:
        right = step.right
    return _compare(lefts[0], step.op, right)


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        if not (isinstance(left, bool) and isinstance(right, bool)) or op not in ("==", "!="):
            return op == "!="
    elif isinstance(left, int | float) and isinstance(right, int | float):
        pass
    elif not (isinstance(left, str) and isinstance(right, str)):
        return op == "!=" and left != right
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def go_print(value: JSON) -> str:
    """Print a selected value as kubectl's JSONPath printer does.

    Strings print raw, booleans as ``true``/``false``, integers plainly, floats in Go's ``%v``
    form, ``null`` as ``<nil>``, and maps/lists as compact JSON.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def go_float(value: float) -> str:
    """Format a float like Go's ``%v`` (``strconv.FormatFloat(f, 'g', -1, 64)``)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-tripping digits, as Go's -1 precision does.
    _, digit_tuple, exp = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    exponent = len(digits) + exp - 1
    if exponent < -4 or exponent >= 6:
        head, tail = digits[0], digits[1:]
        text = head + ("." + tail if tail else "")
        return f"{sign}{text}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent >= len(digits) - 1:
        return sign + digits + "0" * (exponent - len(digits) + 1)
    if exponent >= 0:
        return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"
    return f"{sign}0.{'0' * (-exponent - 1)}{digits}"


def go_quote(value: str) -> str:
    """Quote a string as Go's ``%q`` does (printable Unicode is kept)."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif char == "\a":
            out.append("\\a")
        elif char == "\b":
            out.append("\\b")
        elif char == "\f":
            out.append("\\f")
        elif char == "\v":
            out.append("\\v")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
