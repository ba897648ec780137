"""The error hierarchy of certsmith.

::

    CertsmithError
    ├── StatusError            one-to-one with a Kubernetes ``Status`` body (code, reason, message)
    │   └── InvalidError       422 Invalid, carrying the admission ``FieldError`` list
    └── (subclasses in higher layers: client errors parsed from a Status, issuer outcomes)

The API server renders only ``StatusError``; anything else becomes a 500 with a generic
message and a logged id, so internal details (and never key material) reach a client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CertsmithError(Exception):
    """Root of every error certsmith raises on purpose."""


class FieldErrorType(StrEnum):
    """The kinds of field error Kubernetes validation reports, with their printed words."""

    REQUIRED = "Required value"
    INVALID = "Invalid value"
    FORBIDDEN = "Forbidden"
    NOT_SUPPORTED = "Unsupported value"
    DUPLICATE = "Duplicate value"
    TOO_LONG = "Too long"


_CAUSE_TYPES = {
    FieldErrorType.REQUIRED: "FieldValueRequired",
    FieldErrorType.INVALID: "FieldValueInvalid",
    FieldErrorType.FORBIDDEN: "FieldValueForbidden",
    FieldErrorType.NOT_SUPPORTED: "FieldValueNotSupported",
    FieldErrorType.DUPLICATE: "FieldValueDuplicate",
    FieldErrorType.TOO_LONG: "FieldValueTooLong",
}

_NO_VALUE = object()


@dataclass(frozen=True)
class FieldError:
    """One validation failure at a field path, printed the way Kubernetes prints it.

    ``str(err)`` gives ``spec.request: Required value: must be specified`` or
    ``spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer``.
    """

    type: FieldErrorType
    path: str
    detail: str = ""
    value: Any = field(default=_NO_VALUE, compare=False)

    @classmethod
    def required(cls, path: str, detail: str = "") -> FieldError:
        """A required field is missing."""
        return cls(FieldErrorType.REQUIRED, path, detail)

    @classmethod
    def invalid(cls, path: str, value: Any, detail: str) -> FieldError:
        """A field has a value that is not allowed."""
        return cls(FieldErrorType.INVALID, path, detail, value)

    @classmethod
    def forbidden(cls, path: str, detail: str) -> FieldError:
        """A field may not be set or changed."""
        return cls(FieldErrorType.FORBIDDEN, path, detail)

    @classmethod
    def not_supported(cls, path: str, value: Any, valid: list[str]) -> FieldError:
        """A field has a value outside an enumeration."""
        quoted = ", ".join(f'"{v}"' for v in valid)
        return cls(FieldErrorType.NOT_SUPPORTED, path, f"supported values: {quoted}", value)

    @classmethod
    def duplicate(cls, path: str, value: Any) -> FieldError:
        """A value that must be unique appears more than once."""
        return cls(FieldErrorType.DUPLICATE, path, "", value)

    @classmethod
    def too_long(cls, path: str, max_length: int) -> FieldError:
        """A value exceeds its maximum length in bytes; the value itself is not quoted."""
        unit = "byte" if max_length == 1 else "bytes"
        detail = f"may not be more than {max_length} {unit}" if max_length >= 0 else ""
        return cls(FieldErrorType.TOO_LONG, path, detail or "value is too long")

    @property
    def has_value(self) -> bool:
        """Whether the error quotes the offending value."""
        return self.value is not _NO_VALUE

    def __str__(self) -> str:
        text = f"{self.path}: {self.type.value}"
        if self.has_value and self.type in _VALUE_TYPES:
            text += f": {_quote(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def cause(self) -> dict[str, str]:
        """The ``details.causes[]`` entry of a Kubernetes Status for this error."""
        message = str(self)[len(self.path) + 2 :]
        return {"reason": _CAUSE_TYPES[self.type], "message": message, "field": self.path}


_VALUE_TYPES = (FieldErrorType.INVALID, FieldErrorType.NOT_SUPPORTED, FieldErrorType.DUPLICATE)

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """Quote a string as Go's ``%q`` (``strconv.Quote``) does.

    Kubernetes prints string values of field errors this way, so a PEM value shows its
    line breaks as a backslash-n and the whole message stays on one line.
    """
    out = ['"']
    for char in text:
        escaped = _GO_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


class GoJSON:
    """A value printed as Go's ``json.Marshal`` prints it (compact, HTML-safe).

    Kubernetes renders non-scalar field error values (lists, maps, structs, durations in
    nanoseconds) as JSON; wrap such a value to have it printed that way.
    """

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data

    def __str__(self) -> str:
        text = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escaped)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")

    def __repr__(self) -> str:
        return f"GoJSON({self.data!r})"


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float | GoJSON):
        return str(value)
    return str(GoJSON(value))


class StatusError(CertsmithError):
    """An error that is answered with a Kubernetes ``Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        """The ``Status`` object a client receives."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


class InvalidError(StatusError):
    """422 Invalid for a named object, from a list of field errors."""

    def __init__(self, group: str, kind: str, name: str, errors: list[FieldError]) -> None:
        if not errors:
            raise ValueError("InvalidError needs at least one FieldError")
        qualified = f"{kind}.{group}" if group else kind
        joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
        message = f'{qualified} "{name}" is invalid: {joined}'
        details = {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [e.cause() for e in errors],
        }
        super().__init__(422, "Invalid", message, details)
        self.errors = errors
