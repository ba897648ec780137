r"""Label and field selectors: parsing with the apiserver's error wording, and matching.

``labelSelector`` is parsed by a port of apimachinery's ``labels.Parse`` lexer and recursive
descent parser, so bad input gets the same 400 text a real server sends (K8S-API §4.10):
``unable to parse requirement: …``, ``found ')', expected: identifier``, and the
``IsQualifiedName``/``IsValidLabelValue`` validation messages. Operators: ``=``, ``==``, ``!=``,
``in``, ``notin``, exists (``key``), ``!key``, and ``gt``/``lt`` (``>``, ``<``) with integers.

``fieldSelector`` follows ``fields.ParseSelector``: comma-separated ``=``/``==``/``!=`` terms with
backslash-escaping, then a per-kind check of which field labels are supported (every kind has
``metadata.name`` and ``metadata.namespace``; Events, Secrets and Namespaces add their own;
CRDs add ``selectableFields``). An unsupported label is ``field label not supported: <f>``.

Every parse error is a :class:`~certsmith.api.errors.StatusError` 400 ``BadRequest``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from certsmith.api.errors import StatusError
from certsmith.apiserver.jsonpath import go_print, go_quote
from certsmith.apiserver.resources import ResourceType


def _bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


# --- apimachinery validation messages -------------------------------------------------------

_QUALIFIED_NAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE: Final = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_QUALIFIED_NAME_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE: Final = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT: Final = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE: Final = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def qualified_name_errors(value: str) -> list[str]:
    """``validation.IsQualifiedName``: label keys (``prefix/name``)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append(
            "name part "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def path_segment_name_errors(value: str) -> list[str]:
    """Kubernetes' ``path.IsValidPathSegmentName``: the name rule of RBAC objects.

    RBAC names are not DNS names (cert-manager's chart names a Role
    ``cert-manager:leaderelection``); they only have to be usable as one URL path segment.
    """
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def dns1123_subdomain_errors(value: str) -> list[str]:
    """``validation.IsDNS1123Subdomain``."""
    errs: list[str] = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """``validation.IsValidLabelValue``."""
    errs: list[str] = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errs


# --- label selectors ------------------------------------------------------------------------


class Operator(StrEnum):
    """Label selector operators, named as ``selection.Operator`` spells them."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a label selector; ``values`` sorted and unique."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this term (as ``Requirement.Matches``)."""
        present = self.key in labels
        op = self.operator
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            return present and labels[self.key] in self.values
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return not present or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have = int(labels[self.key])
            want = int(self.values[0])
        except ValueError:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the selector selects everything."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether a label set satisfies every requirement."""
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        """Whether an object's ``metadata.labels`` satisfy the selector."""
        meta = obj.get("metadata")
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        return self.matches(labels if isinstance(labels, Mapping) else None)


# Tokens, as apimachinery's labels lexer names them.
_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING_TO_TOKEN: Final = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")
_BINARY_OPERATORS: Final = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    pos = 0
    size = len(text)
    while True:
        while pos < size and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= size:
            tokens.append((_EOS, ""))
            return tokens
        if text[pos] in _SPECIAL:
            buffer = ""
            last: tuple[int, str] | None = None
            while pos < size and text[pos] in _SPECIAL:
                candidate = buffer + text[pos]
                if candidate in _STRING_TO_TOKEN:
                    buffer = candidate
                    last = (_STRING_TO_TOKEN[candidate], candidate)
                    pos += 1
                elif last is not None:
                    break
                else:
                    buffer = candidate
                    pos += 1
            if last is None:
                tokens.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                tokens.append(last)
            continue
        start = pos
        while pos < size and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append((_STRING_TO_TOKEN.get(word, _ID), word))


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def _lookahead(self, values: bool) -> tuple[int, str]:
        tok, lit = self.tokens[self.pos]
        if values and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def _consume(self, values: bool) -> tuple[int, str]:
        tok, lit = self._lookahead(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self._lookahead(True)
            if tok in (_ID, _NOT):
                try:
                    requirements.append(self._requirement())
                except ValueError as exc:
                    raise ValueError(f"unable to parse requirement: {exc}") from None
                tok, lit = self._consume(True)
                if tok == _EOS:
                    return requirements
                if tok == _COMMA:
                    tok2, lit2 = self._lookahead(True)
                    if tok2 not in (_ID, _NOT):
                        raise ValueError(f"found '{lit2}', expected: identifier after ','")
                    continue
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            if tok == _EOS:
                return requirements
            raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        operator: Operator | None = None
        tok, lit = self._consume(True)
        if tok == _NOT:
            operator = Operator.DOES_NOT_EXIST
            tok, lit = self._consume(True)
        if tok != _ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        key = lit
        errs = qualified_name_errors(key)
        if errs:
            raise ValueError(f"<nil>: Invalid value: {go_quote(key)}: {'; '.join(errs)}")
        if operator is Operator.DOES_NOT_EXIST:
            # `!key=v`: kube returns the requirement here and fails on the `=` afterwards.
            return Requirement(key, operator)
        nxt, _ = self._lookahead(True)
        if nxt in (_EOS, _COMMA):
            return Requirement(key, Operator.EXISTS)
        operator = self._operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self._values()
        else:
            values = self._exact_value()
        return _new_requirement(key, operator, sorted(set(values)))

    def _operator(self) -> Operator:
        tok, lit = self._consume(False)
        ops = {
            _IN: Operator.IN,
            _EQ: Operator.EQUALS,
            _DEQ: Operator.DOUBLE_EQUALS,
            _GT: Operator.GREATER_THAN,
            _LT: Operator.LESS_THAN,
            _NOTIN: Operator.NOT_IN,
            _NEQ: Operator.NOT_EQUALS,
        }
        if tok not in ops:
            raise ValueError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return ops[tok]

    def _values(self) -> list[str]:
        tok, lit = self._consume(True)
        if tok != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self._lookahead(True)
        if tok in (_ID, _COMMA):
            values = self._identifiers()
            if self._consume(True)[0] != _CLOSE:
                raise ValueError(f"found '{lit}', expected: ')'")
            return values
        if tok == _CLOSE:
            self._consume(True)
            return [""]
        raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            tok, lit = self._consume(True)
            if tok == _ID:
                values.append(lit)
                tok2, lit2 = self._lookahead(True)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return values
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not values:
                    values.append("")
                tok2, _ = self._lookahead(True)
                if tok2 == _CLOSE:
                    values.append("")
                    return values
                if tok2 == _COMMA:
                    self._consume(True)
                    values.append("")
                continue
            raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> list[str]:
        tok, _ = self._lookahead(True)
        if tok in (_EOS, _COMMA):
            return [""]
        tok, lit = self._consume(True)
        if tok == _ID:
            return [lit]
        raise ValueError(f"found '{lit}', expected: identifier")


def _new_requirement(key: str, operator: Operator, values: list[str]) -> Requirement:
    errors: list[str] = []
    if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        for i, value in enumerate(values):
            try:
                int(value, 10)
                if value.strip() != value or "_" in value:
                    raise ValueError(value)
            except ValueError:
                errors.append(
                    f"values[{i}]: Invalid value: {go_quote(value)}: for 'Gt', 'Lt' operators, "
                    "the value must be an integer"
                )
    for i, value in enumerate(values):
        errs = label_value_errors(value)
        if errs:
            errors.append(
                f"values[{i}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(errs)}"
            )
    if len(errors) == 1:
        raise ValueError(errors[0])
    if errors:
        raise ValueError("[" + ", ".join(errors) + "]")
    return Requirement(key, operator, tuple(values))


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query parameter.

    Raises:
        StatusError: 400 BadRequest with the apiserver's parser message.
    """
    if not text or not text.strip():
        return LabelSelector()
    try:
        return LabelSelector(tuple(_LabelParser(text).parse()))
    except ValueError as exc:
        raise _bad_request(str(exc)) from None


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a structured ``LabelSelector`` (``matchLabels``/``matchExpressions``).

    Raises:
        StatusError: 400 BadRequest for an unknown operator or a malformed expression.
    """
    if not selector:
        return LabelSelector()
    reqs: list[Requirement] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        reqs.append(Requirement(str(key), Operator.EQUALS, (str(value),)))
    ops = {
        "In": Operator.IN,
        "NotIn": Operator.NOT_IN,
        "Exists": Operator.EXISTS,
        "DoesNotExist": Operator.DOES_NOT_EXIST,
    }
    for expr in selector.get("matchExpressions") or ():
        op = ops.get(expr.get("operator", ""))
        if op is None:
            operator = go_quote(str(expr.get("operator", "")))
            raise _bad_request(f"{operator} is not a valid label selector operator")
        values = tuple(sorted(set(map(str, expr.get("values") or ()))))
        reqs.append(Requirement(str(expr.get("key", "")), op, values))
    return LabelSelector(tuple(reqs))


# --- field selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldTerm:
    """One ``field=value`` or ``field!=value`` term."""

    field: str
    value: str
    negated: bool = False


_EVENT_FIELDS: Final = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
_EXTRA_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Event": _EVENT_FIELDS,
    "Secret": frozenset({"type"}),
    "Namespace": frozenset({"status.phase"}),
}
_FIELD_PATHS: Final = {
    "source": "source.component",
    "reportingComponent": "reportingComponent",
}


def supported_field_labels(rt: ResourceType) -> frozenset[str]:
    """Field labels a kind can be selected by."""
    base = {"metadata.name", "metadata.namespace"}
    extra = _EXTRA_FIELDS.get(rt.group_kind, frozenset()) if not rt.is_custom else frozenset()
    return frozenset(base | extra | set(rt.selectable_fields))


def field_value(obj: Mapping[str, Any], label: str) -> str:
    """The string a field label reads from an object (``""`` when absent)."""
    path = _FIELD_PATHS.get(label, label)
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    return go_print(value)


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field terms; the empty selector matches everything."""

    terms: tuple[FieldTerm, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the selector selects everything."""
        return not self.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether an object satisfies every term."""
        for term in self.terms:
            equal = field_value(obj, term.field) == term.value
            if equal == term.negated:
                return False
        return True

    def value_for(self, label: str) -> str | None:
        """The value required by an equality term on ``label`` (e.g. a name to narrow a list)."""
        for term in self.terms:
            if term.field == label and not term.negated:
                return term.value
        return None


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, char in enumerate(text):
        if in_slash:
            in_slash = False
        elif char == "\\":
            in_slash = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for char in value:
        if in_slash:
            if char not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            in_slash = False
            continue
        if char == "\\":
            in_slash = True
        elif char in ",=":
            raise ValueError(f"invalid field selector: unescaped character in value: {char}")
        else:
            out.append(char)
    if in_slash:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str | None, rt: ResourceType | None = None) -> FieldSelector:
    """Parse a ``fieldSelector`` and, given a kind, check its labels are supported.

    Raises:
        StatusError: 400 BadRequest for bad syntax or ``field label not supported: <f>``.
    """
    if not text:
        return FieldSelector()
    terms: list[FieldTerm] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        try:
            value = _unescape(rhs)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        terms.append(FieldTerm(lhs, value, negated=op == "!="))
    if rt is not None:
        supported = supported_field_labels(rt)
        for term in terms:
            if term.field not in supported:
                raise _bad_request(f"field label not supported: {term.field}")
    return FieldSelector(tuple(terms))
