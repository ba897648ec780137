import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from certsmith.admission.certificaterequest import (
    approval_forbidden_error,
    approval_newly_set,
    mutate_certificate_request_create,
    signer_names_for,
    signer_not_found_error,
    validate_certificate_request_create,
    validate_certificate_request_update,
)
from certsmith.api.certmanager import CertificateRequest
from certsmith.api.conditions import ConditionStatus
from certsmith.api.meta import Condition, IssuerReference, UserInfo
from tests.builders import make_cert_request, make_csr_pem

ALICE = UserInfo(username="alice", uid="u-1", groups=["g1", "g2"], extra={"scopes": ["a", "b"]})
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def cond(ctype: str, status: str = "True", **extra: Any) -> Condition:
    return Condition(
        type=ctype,
        status=ConditionStatus(status),
        reason=extra.get("reason", "cert-manager.io"),
        message=extra.get("message", "ok"),
        last_transition_time=T0,
    )


def as_alice(**kwargs: Any) -> CertificateRequest:
    identity: dict[str, Any] = {
        "username": "alice",
        "uid": "u-1",
        "groups": ["g2", "g1"],
        "extra": {"scopes": ["b", "a"]},
    }
    identity.update(kwargs)
    return make_cert_request(**identity)


# --- mutation --------------------------------------------------------------------------------


def test_mutation_overwrites_identity_with_the_requester():
    cr = make_cert_request(username="bob", uid="x", groups=["evil"], extra={"k": ["v"]})
    mutated = mutate_certificate_request_create(cr, ALICE)
    assert (mutated.spec.username, mutated.spec.uid) == ("alice", "u-1")
    assert mutated.spec.groups == ["g1", "g2"]
    assert mutated.spec.extra == {"scopes": ["a", "b"]}
    assert cr.spec.username == "bob"  # the input is untouched


def test_mutation_removes_extra_when_the_requester_has_none():
    cr = make_cert_request(extra={"k": ["v"]})
    mutated = mutate_certificate_request_create(cr, UserInfo(username="bob"))
    assert mutated.spec.extra is None
    assert "extra" not in mutated.to_dict()["spec"]
    assert mutated.spec.groups == []


def test_mutated_request_passes_create_validation():
    mutated = mutate_certificate_request_create(make_cert_request(), ALICE)
    assert validate_certificate_request_create(mutated, ALICE) == []


# --- create ----------------------------------------------------------------------------------

CLIENT_AUTH = (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
CA_TRUE = (x509.BasicConstraints(ca=True, path_length=None), True)
KU_DEFAULT = (
    x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    ),
    True,
)


def pem_prefix(pem: bytes) -> str:
    text = pem.decode()
    escaped = text[:97].replace("\n", "\\n")
    return f'"{escaped}..."'


@dataclass(frozen=True)
class CreateCase:
    id: str
    cr: dict[str, Any] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    csr_extensions: tuple[Any, ...] | None = None


CREATE_CASES = [
    CreateCase("a plain request is allowed"),
    CreateCase("matching KeyUsage in the CSR is allowed", csr_extensions=(KU_DEFAULT,)),
    CreateCase(
        "a CA CSR with isCA true is allowed",
        {"is_ca": True},
        csr_extensions=(CA_TRUE,),
    ),
    CreateCase(
        "identity differing from the requester is refused alone",
        {"username": "bob", "uid": "x", "groups": ["g1"], "extra": {"scopes": ["a"]}, "issuer": ""},
        (
            "spec.uid: Forbidden: uid identity must be that of the requester",
            "spec.username: Forbidden: username identity must be that of the requester",
            "spec.groups: Forbidden: groups identity must be that of the requester",
            "spec.extra: Forbidden: extra identity must be that of the requester",
        ),
    ),
    CreateCase(
        "issuerRef is checked",
        {"issuer_kind": "AWSPCAClusterIssuer"},
        (
            'spec.issuerRef.kind: Invalid value: "AWSPCAClusterIssuer": must be one of Issuer '
            "or ClusterIssuer (did you forget to set spec.issuerRef.kind.group?)",
        ),
    ),
    CreateCase(
        "an EKU the usages do not ask for is refused",
        {"usages": ["server auth"]},
        ("EKU",),
        csr_extensions=(CLIENT_AUTH,),
    ),
    CreateCase(
        "a CA CSR with isCA false is refused",
        {},
        ("ISCA",),
        csr_extensions=(CA_TRUE,),
    ),
    CreateCase(
        "an Approved condition must be True",
        {"conditions": (cond("Approved", "False"),)},
        (
            'status.conditions.Approved: Invalid value: "False": "Approved" condition may only '
            "be set to True",
        ),
    ),
    CreateCase(
        "Approved and Denied may not coexist",
        {"conditions": (cond("Approved"), cond("Denied"))},
        ("status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist",),
    ),
    CreateCase(
        "duplicate Denied conditions are refused",
        {"conditions": (cond("Denied"), cond("Denied", message="again"))},
        ('status.conditions: Forbidden: multiple "Denied" conditions present',),
    ),
]


@pytest.mark.parametrize("case", CREATE_CASES, ids=lambda c: c.id)
def test_create_rules(case: CreateCase):
    kwargs = dict(case.cr)
    identity = {k: kwargs.pop(k) for k in ("username", "uid", "groups", "extra") if k in kwargs}
    csr = None if case.csr_extensions is None else make_csr_pem(extensions=case.csr_extensions)
    cr = as_alice(csr=csr, **identity, **kwargs)
    errors = list(map(str, validate_certificate_request_create(cr, ALICE)))
    if case.expect == ("EKU",):
        assert csr is not None
        assert errors == [
            f"spec.request: Invalid value: {pem_prefix(csr)}: encoded CSR error: the ExtKeyUsages "
            "[ 'client auth' ] do not match the expected ExtKeyUsages [ 'server auth' ]"
        ]
    elif case.expect == ("ISCA",):
        assert csr is not None
        assert errors == [
            f"spec.request: Invalid value: {pem_prefix(csr)}: encoded CSR error: IsCA true does "
            "not match expected value false"
        ]
    else:
        assert tuple(errors) == case.expect


def test_garbage_request_is_reported_with_a_truncated_value():
    garbage = b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"A" * 200 + b"\n"
    cr = as_alice(csr=garbage)
    (error,) = validate_certificate_request_create(cr, ALICE)
    assert str(error).startswith(f"spec.request: Invalid value: {pem_prefix(garbage)}: ")


# --- update ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateCase:
    id: str
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    expect: tuple[str, ...] = ()


ANN = "cert-manager.io/certificate-revision"

UPDATE_CASES = [
    UpdateCase("no change is allowed"),
    UpdateCase(
        "foreign annotations may change",
        {"annotations": {"example.com/x": "1", ANN: "1"}},
        {"annotations": {"example.com/x": "2", ANN: "1"}},
    ),
    UpdateCase(
        "cert-manager annotations may not change, appear or disappear",
        {"annotations": {ANN: "1", "acme.cert-manager.io/http01-override-ingress-name": "a"}},
        {"annotations": {ANN: "2", "cert-manager.io/new": "x"}},
        (
            "metadata.annotations.acme.cert-manager.io/http01-override-ingress-name: Forbidden: "
            "cannot change cert-manager annotation after creation",
            "metadata.annotations.cert-manager.io/certificate-revision: Forbidden: cannot change "
            "cert-manager annotation after creation",
            "metadata.annotations.cert-manager.io/new: Forbidden: cannot change cert-manager "
            "annotation after creation",
        ),
    ),
    UpdateCase(
        "spec may not change",
        {},
        {"is_ca": True},
        ("spec: Forbidden: cannot change spec after creation",),
    ),
    UpdateCase(
        "identity may not change and is reported alone",
        {},
        {"username": "bob", "groups": ["g1"], "annotations": {ANN: "x"}},
        (
            "spec.username: Forbidden: username identity cannot be changed once set",
            "spec.groups: Forbidden: groups identity cannot be changed once set",
        ),
    ),
    UpdateCase(
        "reordered groups pass the identity rule but not spec immutability",
        {},
        {"groups": ["g1", "g2"]},
        ("spec: Forbidden: cannot change spec after creation",),
    ),
    UpdateCase("adding Approved is allowed", {}, {"conditions": (cond("Approved"),)}),
    UpdateCase(
        "modifying Approved is refused",
        {"conditions": (cond("Approved"),)},
        {"conditions": (cond("Approved", message="changed"),)},
        ("status.conditions: Forbidden: 'Approved' condition may not be modified once set",),
    ),
    UpdateCase(
        "removing Denied is refused",
        {"conditions": (cond("Denied"),)},
        {"conditions": ()},
        ("status.conditions: Forbidden: 'Denied' condition may not be modified once set",),
    ),
    UpdateCase(
        "adding Denied next to Approved is refused",
        {"conditions": (cond("Approved"),)},
        {"conditions": (cond("Approved"), cond("Denied"))},
        ("status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist",),
    ),
    UpdateCase(
        "adding Approved False is refused",
        {},
        {"conditions": (cond("Approved", "False"),)},
        (
            'status.conditions.Approved: Invalid value: "False": "Approved" condition may only '
            "be set to True",
        ),
    ),
    UpdateCase(
        "other conditions are free",
        {"conditions": (cond("Approved"),)},
        {"conditions": (cond("Approved"), cond("Ready", "False"))},
    ),
]

SHARED_CSR = make_csr_pem()


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.id)
def test_update_rules(case: UpdateCase):
    old = as_alice(csr=SHARED_CSR, **case.old)
    new = as_alice(csr=SHARED_CSR, **case.new)
    errors = validate_certificate_request_update(old, new, UserInfo(username="someone"))
    assert tuple(map(str, errors)) == case.expect


# --- approval authorization pieces -------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ((), (cond("Approved"),), True),
        ((), (cond("Denied"),), True),
        ((cond("Approved"),), (cond("Approved", message="x"),), False),
        ((cond("Approved"),), (cond("Approved"), cond("Denied")), True),
        ((), (cond("Ready", "False"),), False),
        ((cond("Denied"),), (), False),
    ],
    ids=[
        "approved added",
        "denied added",
        "approved edited",
        "denied added next to approved",
        "other condition",
        "denied removed",
    ],
)
def test_approval_newly_set(old, new, expect):
    assert approval_newly_set(as_alice(conditions=old), as_alice(conditions=new)) is expect


def test_signer_names_for_namespaced_and_cluster_scoped_issuers():
    ref = IssuerReference(name="ca-issuer")
    assert signer_names_for(ref, "sandbox", "issuers", True) == [
        "issuers.cert-manager.io/*",
        "issuers.cert-manager.io/sandbox.ca-issuer",
    ]
    cluster = IssuerReference(name="letsencrypt", kind="ClusterIssuer")
    assert signer_names_for(cluster, "sandbox", "clusterissuers", False) == [
        "clusterissuers.cert-manager.io/*",
        "clusterissuers.cert-manager.io/letsencrypt",
    ]
    external = IssuerReference(name="pca", kind="AWSPCAIssuer", group="awspca.cert-manager.io")
    assert signer_names_for(external, "ns", "awspcaissuers", True)[1] == (
        "awspcaissuers.awspca.cert-manager.io/ns.pca"
    )


def test_forbidden_messages_print_the_reference_as_stored():
    ref = IssuerReference(name="ca")
    assert str(signer_not_found_error(IssuerReference(name="x", kind="Foo"))) == (
        "spec.issuerRef: Forbidden: referenced signer resource does not exist: {x Foo }"
    )
    assert str(approval_forbidden_error("u", ref)) == (
        'status.conditions: Forbidden: user "u" does not have permissions to set '
        "approved/denied conditions for issuer {ca  }"
    )
