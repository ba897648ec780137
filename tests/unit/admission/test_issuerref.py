from dataclasses import dataclass

import pytest

from certsmith.admission.fieldpath import Path
from certsmith.admission.issuerref import format_issuer_ref, validate_issuer_ref
from certsmith.api.meta import IssuerReference


@dataclass(frozen=True)
class Case:
    id: str
    ref: IssuerReference
    expect: tuple[str, ...] = ()


CASES = [
    Case("name only is fine", IssuerReference(name="ca")),
    Case("built-in kinds are fine", IssuerReference(name="ca", kind="ClusterIssuer")),
    Case(
        "explicit built-in group with Issuer is fine",
        IssuerReference(name="ca", kind="Issuer", group="cert-manager.io"),
    ),
    Case(
        "external group allows any kind",
        IssuerReference(name="pca", kind="AWSPCAClusterIssuer", group="awspca.cert-manager.io"),
    ),
    Case(
        "missing name is required",
        IssuerReference(name=""),
        ("spec.issuerRef.name: Required value: must be specified",),
    ),
    Case(
        "unknown kind with empty group hints at the group",
        IssuerReference(name="pca", kind="AWSPCAClusterIssuer"),
        (
            'spec.issuerRef.kind: Invalid value: "AWSPCAClusterIssuer": must be one of Issuer '
            "or ClusterIssuer (did you forget to set spec.issuerRef.kind.group?)",
        ),
    ),
    Case(
        "unknown kind with explicit built-in group has no hint",
        IssuerReference(name="x", kind="Foo", group="cert-manager.io"),
        ('spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer',),
    ),
    Case(
        "both problems are reported",
        IssuerReference(name="", kind="Foo", group="cert-manager.io"),
        (
            "spec.issuerRef.name: Required value: must be specified",
            'spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer',
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_issuer_ref_rules(case: Case):
    assert tuple(map(str, validate_issuer_ref(case.ref, Path("spec")))) == case.expect


def test_issuer_ref_prints_as_go_struct_with_stored_values():
    assert format_issuer_ref(IssuerReference(name="ca")) == "{ca  }"
    assert format_issuer_ref(IssuerReference(name="ca", kind="Issuer", group="g")) == (
        "{ca Issuer g}"
    )
