"""The policy chains of SPEC §5.8: one whole-chain table per chain, one small table per policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509

from certsmith.api.certmanager import Certificate
from certsmith.api.conditions import PolicyReason
from certsmith.api.core import Secret
from certsmith.controllers.certificates import policies as p
from certsmith.controllers.certificates.secretdata import (
    combined_pem,
    private_key_der,
    secret_annotations,
    secret_labels,
)
from tests.builders import (
    ISSUED_NOT_AFTER,
    make_cert_request,
    make_certificate,
    make_issued_cert,
    make_request_for,
    make_tls_secret,
    private_key_pem,
    with_certificate_meta,
)
from tests.pkitools import NOW, key

RSA = key("rsa2048")
OTHER_RSA = key("rsa2048", 1)
EC = key("p256")

CERT = with_certificate_meta(make_certificate(), uid="uid-web")
LEAF = make_issued_cert(key=RSA)
RENEWAL_AT = ISSUED_NOT_AFTER - dt.timedelta(days=30)  # a third of the 90-day lifetime
FIELD_MANAGER = "cert-manager-certificates-issuing"

_DEFAULT: Any = object()


def cert(**spec: Any) -> Certificate:
    """The default Certificate with spec fields (wire names) replaced."""
    return with_certificate_meta(make_certificate(**spec), uid="uid-web")


def secret_for(
    certificate: Certificate = CERT,
    *,
    leaf: x509.Certificate | None = None,
    **overrides: Any,
) -> Secret:
    """A Secret exactly as the issuing controller writes it for ``certificate``."""
    leaf = leaf if leaf is not None else LEAF
    kwargs: dict[str, Any] = {
        "key": RSA,
        "cert": leaf,
        "annotations": secret_annotations(certificate, leaf, certificate.spec.issuer_ref),
        "labels": secret_labels(certificate),
    }
    kwargs.update(overrides)
    return make_tls_secret(**kwargs)


def given(
    certificate: Certificate = CERT,
    *,
    secret: Any = _DEFAULT,
    current: Any = _DEFAULT,
    now: dt.datetime = NOW,
    field_manager: str | None = None,
    owner_ref_enabled: bool = False,
) -> p.PolicyInput:
    """A PolicyInput for a healthy, issued Certificate, with the given parts replaced."""
    return p.PolicyInput(
        certificate=certificate,
        secret=secret_for(certificate) if secret is _DEFAULT else secret,
        current_request=make_request_for(certificate, key=RSA) if current is _DEFAULT else current,
        next_request=None,
        now=now,
        field_manager=field_manager,
        owner_ref_enabled=owner_ref_enabled,
    )


@dataclass(frozen=True)
class Case:
    id: str
    given: p.PolicyInput
    expect_reason: PolicyReason | None
    expect_message: str | None = None


def check(policy: Callable[[p.PolicyInput], p.Violation | None], case: Case) -> None:
    violation = policy(case.given)
    if case.expect_reason is None:
        assert violation is None
        return
    assert violation is not None
    assert violation.reason is case.expect_reason
    if case.expect_message is not None:
        assert violation.message == case.expect_message


def run_chain(chain: p.Chain, case: Case) -> None:
    check(lambda given: p.evaluate(chain, given), case)


# Shared inputs ---------------------------------------------------------------------------------

SECRET_GONE = given(secret=None)
NO_DATA = given(secret=Secret.from_dict({"metadata": {"name": "web-tls", "namespace": "ns"}}))
EMPTY_KEY = given(secret=secret_for(key_pem=b""))
EMPTY_CERT = given(secret=secret_for(crt_pem=b""))
GARBAGE_KEY = given(secret=secret_for(key_pem=b"not a key"))
GARBAGE_CERT = given(secret=secret_for(crt_pem=b"not a certificate"))
KEY_REPLACED = given(secret=secret_for(key_pem=private_key_pem(OTHER_RSA)))
OTHER_ISSUER = given(
    secret=secret_for(
        annotations={
            **secret_annotations(CERT, LEAF, CERT.spec.issuer_ref),
            "cert-manager.io/issuer-name": "other",
        }
    )
)
OTHER_CERTIFICATE = given(
    secret=secret_for(
        annotations={
            **secret_annotations(CERT, LEAF, CERT.spec.issuer_ref),
            "cert-manager.io/certificate-name": "api",
        }
    )
)
BIGGER_KEY_CERT = cert(privateKey={"size": 4096})
BIGGER_KEY = given(BIGGER_KEY_CERT, secret=secret_for(BIGGER_KEY_CERT))
EC_KEY_CERT = cert(privateKey={"algorithm": "ECDSA"})
EC_KEY = given(EC_KEY_CERT, secret=secret_for(EC_KEY_CERT))
REQUEST_OTHER_KEY = given(current=make_request_for(CERT, key=OTHER_RSA))
REQUEST_UNDECODABLE = given(current=make_cert_request("web-1", csr=b"garbage"))
DNS_CHANGED_CERT = cert(dnsNames=["web.example.com", "www.example.com"])
DNS_CHANGED = given(
    DNS_CHANGED_CERT,
    secret=secret_for(DNS_CHANGED_CERT),
    current=make_request_for(DNS_CHANGED_CERT, key=RSA, spec=CERT.spec),
)
NO_REQUEST_UP_TO_DATE = given(current=None)
NO_REQUEST_STALE = given(DNS_CHANGED_CERT, secret=secret_for(DNS_CHANGED_CERT), current=None)
RENEWAL_DUE = given(with_certificate_meta(CERT, renewal_time=RENEWAL_AT), now=RENEWAL_AT)
JUST_BEFORE_RENEWAL = given(now=RENEWAL_AT - dt.timedelta(seconds=1))
EXPIRED = given(
    with_certificate_meta(CERT, renewal_time=RENEWAL_AT),
    now=ISSUED_NOT_AFTER + dt.timedelta(seconds=1),
)
DISABLED_CERT = cert(renewal={"policy": "Disabled"})
DISABLED_DUE = given(DISABLED_CERT, secret=secret_for(DISABLED_CERT), now=RENEWAL_AT)
DISABLED_EXPIRED = given(
    DISABLED_CERT, secret=secret_for(DISABLED_CERT), now=ISSUED_NOT_AFTER + dt.timedelta(hours=1)
)

MSG_RENEWING = "Renewing certificate as renewal was scheduled at 2025-03-02 03:04:05 +0000 UTC"
MSG_EXPIRED = "Certificate expired on Tue, 01 Apr 2025 03:04:05 UTC"
MSG_INVALID_KEY = (
    "Issuing certificate as Secret contains invalid private key data: no PEM data found"
)
MSG_INVALID_CERT = (
    "Issuing certificate as Secret contains an invalid certificate: "
    "error decoding certificate PEM block: no certificate found"
)
MSG_KEY_MISMATCH = (
    "Issuing certificate as Secret contains a private key that does not match the certificate"
)

SHARED_CASES = [
    Case("healthy Secret passes", given(), None),
    Case(
        "deleted Secret is DoesNotExist",
        SECRET_GONE,
        PolicyReason.DOES_NOT_EXIST,
        "Issuing certificate as Secret does not exist",
    ),
    Case(
        "Secret without data is MissingData",
        NO_DATA,
        PolicyReason.MISSING_DATA,
        "Issuing certificate as Secret does not contain any data",
    ),
    Case(
        "empty tls.key is MissingData",
        EMPTY_KEY,
        PolicyReason.MISSING_DATA,
        "Issuing certificate as Secret does not contain a private key",
    ),
    Case(
        "empty tls.crt is MissingData",
        EMPTY_CERT,
        PolicyReason.MISSING_DATA,
        "Issuing certificate as Secret does not contain a certificate",
    ),
    Case(
        "garbage tls.key is InvalidKeyPair",
        GARBAGE_KEY,
        PolicyReason.INVALID_KEY_PAIR,
        MSG_INVALID_KEY,
    ),
    Case(
        "garbage tls.crt is InvalidCertificate",
        GARBAGE_CERT,
        PolicyReason.INVALID_CERTIFICATE,
        MSG_INVALID_CERT,
    ),
    Case(
        "tls.key replaced by another key is InvalidKeyPair",
        KEY_REPLACED,
        PolicyReason.INVALID_KEY_PAIR,
        MSG_KEY_MISMATCH,
    ),
    Case(
        "issuer-name annotation naming another issuer is IncorrectIssuer",
        OTHER_ISSUER,
        PolicyReason.INCORRECT_ISSUER,
        'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/other"',
    ),
    Case(
        "certificate-name annotation naming another Certificate is IncorrectCertificate",
        OTHER_CERTIFICATE,
        PolicyReason.INCORRECT_CERTIFICATE,
        'Secret was issued for "api". If this message is not transient, you might have two '
        "conflicting Certificates pointing to the same secret.",
    ),
    Case(
        "RSA size changed in the spec is SecretMismatch",
        BIGGER_KEY,
        PolicyReason.SECRET_MISMATCH,
        "Existing private key is not up to date for spec: [spec.privateKey.size]",
    ),
    Case(
        "algorithm changed in the spec is SecretMismatch",
        EC_KEY,
        PolicyReason.SECRET_MISMATCH,
        "Existing private key is not up to date for spec: [spec.privateKey.algorithm]",
    ),
    Case(
        "current request for another key is SecretMismatch",
        REQUEST_OTHER_KEY,
        PolicyReason.SECRET_MISMATCH,
        "Secret contains a private key that does not match the current CertificateRequest",
    ),
    Case(
        "undecodable current request is InvalidCertificateRequest",
        REQUEST_UNDECODABLE,
        PolicyReason.INVALID_CERTIFICATE_REQUEST,
        "Failed to decode current CertificateRequest: error decoding certificate request PEM block",
    ),
    Case(
        "dnsNames changed is RequestChanged [spec.dnsNames]",
        DNS_CHANGED,
        PolicyReason.REQUEST_CHANGED,
        "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]",
    ),
    Case("no current request and matching cert passes", NO_REQUEST_UP_TO_DATE, None),
    Case(
        "no current request and stale cert is SecretMismatch",
        NO_REQUEST_STALE,
        PolicyReason.SECRET_MISMATCH,
        "Issuing certificate as Existing issued Secret is not up to date for spec: [spec.dnsNames]",
    ),
]

TRIGGER_CASES = [
    *SHARED_CASES,
    Case("renewal time reached is Renewing", RENEWAL_DUE, PolicyReason.RENEWING, MSG_RENEWING),
    Case("one second before the renewal time passes", JUST_BEFORE_RENEWAL, None),
    Case("expired certificate is Renewing", EXPIRED, PolicyReason.RENEWING, MSG_RENEWING),
    Case("renewal policy Disabled never renews", DISABLED_DUE, None),
    Case("renewal policy Disabled does not renew even after expiry", DISABLED_EXPIRED, None),
]


@pytest.mark.parametrize("case", TRIGGER_CASES, ids=lambda c: c.id)
def test_trigger_chain(case: Case) -> None:
    run_chain(p.TRIGGER_CHAIN, case)


READINESS_CASES = [
    *SHARED_CASES,
    Case("renewal due but not expired is still ready", RENEWAL_DUE, None),
    Case("expired certificate is Expired", EXPIRED, PolicyReason.EXPIRED, MSG_EXPIRED),
    Case(
        "renewal Disabled and expired is Expired",
        DISABLED_EXPIRED,
        PolicyReason.EXPIRED,
        MSG_EXPIRED,
    ),
    Case("exactly at notAfter is not yet expired", given(now=ISSUED_NOT_AFTER), None),
]


@pytest.mark.parametrize("case", READINESS_CASES, ids=lambda c: c.id)
def test_readiness_chain(case: Case) -> None:
    run_chain(p.READINESS_CHAIN, case)


def test_chains_list_the_rows_of_spec_5_8_in_order() -> None:
    names = [f.__name__ for f in p.TRIGGER_CHAIN]
    assert names == [
        "secret_does_not_exist",
        "secret_is_missing_data",
        "secret_public_keys_differ",
        "secret_issuer_annotations_mismatch",
        "secret_certificate_name_annotation_mismatch",
        "secret_private_key_mismatches_spec",
        "secret_public_key_differs_from_current_request",
        "current_request_mismatches_spec",
        "certificate_nearing_expiry",
    ]
    assert p.READINESS_CHAIN[:-1] == p.TRIGGER_CHAIN[:-1]
    assert p.READINESS_CHAIN[-1] is p.certificate_has_expired


# --- C: post-issuance chain -------------------------------------------------------------------

TEMPLATE_CERT = cert(
    secretTemplate={"annotations": {"owner": "web"}, "labels": {"tier": "edge"}},
    additionalOutputFormats=[{"type": "CombinedPEM"}, {"type": "DER"}],
)
KEY_PEM = private_key_pem(RSA)
CRT_PEM = make_tls_secret(key=RSA, cert=LEAF).decoded("tls.crt") or b""
OUTPUTS = {"tls-combined.pem": combined_pem(KEY_PEM, CRT_PEM), "key.der": private_key_der(KEY_PEM)}
TEMPLATE_ANNOTATIONS = secret_annotations(TEMPLATE_CERT, LEAF, TEMPLATE_CERT.spec.issuer_ref)
TEMPLATE_LABELS = secret_labels(TEMPLATE_CERT)
HEALTHY_ANNOTATIONS = secret_annotations(CERT, LEAF, CERT.spec.issuer_ref)


def managed(fields: dict[str, Any], manager: str = FIELD_MANAGER) -> dict[str, Any]:
    return {"manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields}


def managed_metadata(
    labels: list[str], annotations: list[str], data: tuple[str, ...] = ()
) -> dict[str, Any]:
    return managed(
        {
            "f:metadata": {
                "f:labels": {f"f:{k}": {} for k in labels},
                "f:annotations": {f"f:{k}": {} for k in annotations},
            },
            "f:data": {f"f:{k}": {} for k in ["tls.crt", "tls.key", *data]},
        }
    )


HEALTHY_MANAGED = managed_metadata(
    ["controller.cert-manager.io/fao", "tier"],
    [*TEMPLATE_ANNOTATIONS],
    ("tls-combined.pem", "key.der"),
)


def template_secret(**overrides: Any) -> Secret:
    kwargs: dict[str, Any] = {
        "annotations": TEMPLATE_ANNOTATIONS,
        "labels": TEMPLATE_LABELS,
        "extra_data": OUTPUTS,
    }
    kwargs.update(overrides)
    return secret_for(TEMPLATE_CERT, **kwargs)


def post(secret: Secret, certificate: Certificate = TEMPLATE_CERT, **kwargs: Any) -> p.PolicyInput:
    return given(certificate, secret=secret, **kwargs)


OWNER_REF = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "name": "web",
    "uid": "uid-web",
    "controller": True,
    "blockOwnerDeletion": True,
}

POST_ISSUANCE_CASES = [
    Case("Secret as written passes", post(template_secret()), None),
    Case(
        "Secret as written with its managed fields passes",
        post(template_secret(managed_fields=[HEALTHY_MANAGED]), field_manager=FIELD_MANAGER),
        None,
    ),
    Case(
        "base label with another value is SecretManagedMetadataMismatch",
        post(template_secret(labels={**TEMPLATE_LABELS, "controller.cert-manager.io/fao": "no"})),
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        'wrong base label controller.cert-manager.io/fao value "no", expected "true"',
    ),
    Case(
        "base label removed is SecretManagedMetadataMismatch",
        post(template_secret(labels={"tier": "edge"})),
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        "Secret is missing these Managed Labels: [controller.cert-manager.io/fao]",
    ),
    Case(
        "alt-names annotation edited is reported as SecretTemplateMismatch",
        post(
            template_secret(
                annotations={**TEMPLATE_ANNOTATIONS, "cert-manager.io/alt-names": "x.example.com"}
            )
        ),
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Secret metadata x.example.com does not match certificate metadata web.example.com",
    ),
    Case(
        "detail annotation removed is SecretManagedMetadataMismatch",
        post(
            template_secret(
                annotations={
                    k: v for k, v in TEMPLATE_ANNOTATIONS.items() if k != "cert-manager.io/ip-sans"
                }
            )
        ),
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        "Secret is missing these Managed Annotations: [cert-manager.io/ip-sans]",
    ),
    Case(
        "template annotation missing is SecretTemplateMismatch",
        post(
            template_secret(
                annotations={k: v for k, v in TEMPLATE_ANNOTATIONS.items() if k != "owner"}
            )
        ),
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Certificate's SecretTemplate Annotations missing or incorrect value on Secret",
    ),
    Case(
        "template label with another value is SecretTemplateMismatch",
        post(template_secret(labels={**TEMPLATE_LABELS, "tier": "core"})),
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Certificate's SecretTemplate Labels missing or incorrect value on Secret",
    ),
    Case(
        "label dropped from the template but still owned is SecretTemplateMismatch",
        post(
            secret_for(
                managed_fields=[
                    managed_metadata(
                        ["controller.cert-manager.io/fao", "tier"], [*HEALTHY_ANNOTATIONS]
                    )
                ]
            ),
            CERT,
            field_manager=FIELD_MANAGER,
        ),
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Secret has these extra Labels: [tier]",
    ),
    Case(
        "combined PEM missing is AdditionalOutputFormatsMismatch",
        post(template_secret(extra_data={"key.der": OUTPUTS["key.der"]})),
        PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
        "Certificate's AdditionalOutputFormats doesn't match Secret Data",
    ),
    Case(
        "DER output with stale bytes is AdditionalOutputFormatsMismatch",
        post(template_secret(extra_data={**OUTPUTS, "key.der": b"old"})),
        PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
        "Certificate's AdditionalOutputFormats doesn't match Secret Data",
    ),
    Case(
        "owner reference enabled but absent is SecretOwnerRefMismatch",
        post(template_secret(), owner_ref_enabled=True),
        PolicyReason.SECRET_OWNER_REF_MISMATCH,
        "unexpected Secret Owner Reference value on Secret --enable-certificate-owner-ref=true",
    ),
    Case(
        "owner reference enabled and present passes",
        post(template_secret(owner_references=[OWNER_REF]), owner_ref_enabled=True),
        None,
    ),
    Case(
        "keystore present but not in the spec is SecretMismatch",
        post(template_secret(extra_data={**OUTPUTS, "keystore.p12": b"p12"})),
        PolicyReason.SECRET_MISMATCH,
        "Keystore is not defined",
    ),
    Case(
        "managed fields that do not parse are ManagedFieldsParseError",
        post(
            template_secret(managed_fields=[managed({"f:metadata": {"f:labels": []}})]),
            field_manager=FIELD_MANAGER,
        ),
        PolicyReason.MANAGED_FIELDS_PARSE_ERROR,
        "failed to decode managed fields on Secret: expected an object at .metadata.labels",
    ),
]


@pytest.mark.parametrize("case", POST_ISSUANCE_CASES, ids=lambda c: c.id)
def test_post_issuance_chain(case: Case) -> None:
    run_chain(p.POST_ISSUANCE_CHAIN, case)


TEMPORARY_CASES = [
    Case("valid key pair needs no temporary certificate", given(), None),
    Case("no Secret needs one", SECRET_GONE, PolicyReason.DOES_NOT_EXIST),
    Case("broken key pair needs one", KEY_REPLACED, PolicyReason.INVALID_KEY_PAIR),
    Case("issuer mismatch is not its business", OTHER_ISSUER, None),
]


@pytest.mark.parametrize("case", TEMPORARY_CASES, ids=lambda c: c.id)
def test_temporary_certificate_chain(case: Case) -> None:
    run_chain(p.TEMPORARY_CERTIFICATE_CHAIN, case)
