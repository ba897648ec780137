from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.admission.fieldpath import Path
from certsmith.api.errors import FieldError, GoJSON, go_quote


def test_path_children_indices_and_keys_print_like_kubernetes():
    spec = Path("spec")
    assert str(spec.child("issuerRef", "name")) == "spec.issuerRef.name"
    assert str(spec.child("dnsNames").index(2)) == "spec.dnsNames[2]"
    assert str(spec.child("additionalOutputFormats").key("type")) == (
        "spec.additionalOutputFormats[type]"
    )
    assert str(Path.root("metadata", "annotations", "cert-manager.io/foo")) == (
        "metadata.annotations.cert-manager.io/foo"
    )


def test_path_root_needs_a_name():
    with pytest.raises(ValueError, match="at least one name"):
        Path.root()


@dataclass(frozen=True)
class Case:
    id: str
    error: FieldError
    expect: str


CASES = [
    Case(
        "string values are quoted like Go %q, newlines escaped",
        FieldError.invalid("spec.request", '-----BEGIN\nMII\t"x"\\', "bad"),
        'spec.request: Invalid value: "-----BEGIN\\nMII\\t\\"x\\"\\\\": bad',
    ),
    Case(
        "control characters use hex escapes, printable unicode stays",
        FieldError.invalid("p", "é\x01\u200b", "d"),
        'p: Invalid value: "é\\x01\\u200b": d',
    ),
    Case("integers are bare", FieldError.invalid("p", 1024, "d"), "p: Invalid value: 1024: d"),
    Case(
        "lists print as compact JSON",
        FieldError.invalid("spec.usages", ["foo", "a<b"], "d"),
        'spec.usages: Invalid value: ["foo","a\\u003cb"]: d',
    ),
    Case(
        "GoJSON wraps structured values",
        FieldError.invalid("p", GoJSON({"Critical": False, "Permitted": None}), "d"),
        'p: Invalid value: {"Critical":false,"Permitted":null}: d',
    ),
    Case(
        "duplicate quotes the value",
        FieldError.duplicate("spec.additionalOutputFormats[type]", "DER"),
        'spec.additionalOutputFormats[type]: Duplicate value: "DER"',
    ),
    Case(
        "too long omits the value",
        FieldError.too_long("spec.commonName", 64),
        "spec.commonName: Too long: may not be more than 64 bytes",
    ),
    Case(
        "too long of one byte is singular",
        FieldError.too_long("p", 1),
        "p: Too long: may not be more than 1 byte",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_field_error_renders_values_as_kubernetes_does(case: Case):
    assert str(case.error) == case.expect


def test_go_quote_matches_strconv_quote_for_plain_text():
    value: Any = "plain"
    assert go_quote(value) == '"plain"'


def test_duplicate_error_has_a_cause_entry():
    assert FieldError.duplicate("p", "x").cause() == {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: "x"',
        "field": "p",
    }
