"""Kubernetes' own string formats: DNS-1123 subdomains, label keys and values, annotations.

Decides whether names that end up as Kubernetes object names or metadata (a Certificate's
``secretName``, its ``secretTemplate`` labels and annotations, an ingress class name) would be
accepted by the API server, and phrases the failure exactly as apimachinery does, because
cert-manager's webhook reports apimachinery's messages unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from certsmith.admission.fieldpath import Path
from certsmith.api.errors import FieldError

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "dns1123_subdomain_errors",
    "label_key_errors",
    "label_value_errors",
    "validate_annotations",
    "validate_labels",
]

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE: Final = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MAX: Final = 253

_LABEL_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_RE: Final = re.compile(_LABEL_KEY_FMT)
_LABEL_KEY_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_NAME_MAX: Final = 63
_LABEL_VALUE_FMT: Final = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_RE: Final = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX: Final = 63

#: The API server's limit on the summed length of annotation keys and values.
TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _length(value: str) -> int:
    return len(value.encode())


def _dns1123_subdomain(value: str, unit: str) -> list[str]:
    errors: list[str] = []
    if _length(value) > _DNS1123_SUBDOMAIN_MAX:
        errors.append(f"must be no more than {_DNS1123_SUBDOMAIN_MAX} {unit}")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    """Messages for a string that is not a lowercase RFC 1123 subdomain (object names)."""
    return _dns1123_subdomain(value, "characters")


def label_key_errors(value: str) -> list[str]:
    """Messages for a string that is not a qualified name (``[prefix/]name``)."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += ["prefix part " + msg for msg in _dns1123_subdomain(prefix, "bytes")]
    if not name:
        errors.append("name part must be non-empty")
    elif _length(name) > _LABEL_NAME_MAX:
        errors.append(f"name part must be no more than {_LABEL_NAME_MAX} bytes")
    if not _LABEL_KEY_RE.fullmatch(name):
        errors.append(
            "name part "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def label_value_errors(value: str) -> list[str]:
    """Messages for a string that is not a valid label value (empty is valid)."""
    errors: list[str] = []
    if _length(value) > _LABEL_VALUE_MAX:
        errors.append(f"must be no more than {_LABEL_VALUE_MAX} bytes")
    if not _LABEL_VALUE_RE.fullmatch(value):
        errors.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def validate_labels(labels: Mapping[str, str], path: Path) -> list[FieldError]:
    """Check label keys and values; every error is reported at ``path`` itself."""
    errors: list[FieldError] = []
    for key, value in sorted(labels.items()):
        errors += [FieldError.invalid(str(path), key, msg) for msg in label_key_errors(key)]
        errors += [FieldError.invalid(str(path), value, msg) for msg in label_value_errors(value)]
    return errors


def validate_annotations(annotations: Mapping[str, str], path: Path) -> list[FieldError]:
    """Check annotation keys (qualified names, case-insensitive) and the total size."""
    errors: list[FieldError] = []
    for key in sorted(annotations):
        errors += [FieldError.invalid(str(path), key, msg) for msg in label_key_errors(key.lower())]
    total = sum(_length(key) + _length(value) for key, value in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(FieldError.too_long(str(path), TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors
