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


# --- one small table per policy ---------------------------------------------------------------


def annotated(**annotations: str) -> Secret:
    """The default Secret with only the given annotations."""
    return secret_for(annotations=annotations)


CLUSTER_CERT = cert(issuerRef={"name": "ca", "kind": "ClusterIssuer"})

POLICY_TABLES: dict[Callable[[p.PolicyInput], p.Violation | None], list[Case]] = {
    p.secret_does_not_exist: [
        Case("present", given(), None),
        Case("absent", SECRET_GONE, PolicyReason.DOES_NOT_EXIST),
    ],
    p.secret_is_missing_data: [
        Case("both keys", given(), None),
        Case("no data", NO_DATA, PolicyReason.MISSING_DATA),
        Case("no key", EMPTY_KEY, PolicyReason.MISSING_DATA),
        Case("no cert", EMPTY_CERT, PolicyReason.MISSING_DATA),
    ],
    p.secret_public_keys_differ: [
        Case("one pair", given(), None),
        Case("bad key", GARBAGE_KEY, PolicyReason.INVALID_KEY_PAIR, MSG_INVALID_KEY),
        Case("bad cert", GARBAGE_CERT, PolicyReason.INVALID_CERTIFICATE, MSG_INVALID_CERT),
        Case("two pairs", KEY_REPLACED, PolicyReason.INVALID_KEY_PAIR, MSG_KEY_MISMATCH),
    ],
    p.secret_issuer_annotations_mismatch: [
        Case("annotations match", given(), None),
        Case(
            "empty kind and group annotations mean the defaults",
            given(
                secret=annotated(
                    **{
                        "cert-manager.io/issuer-name": "ca",
                        "cert-manager.io/issuer-kind": "",
                        "cert-manager.io/issuer-group": "",
                    }
                )
            ),
            None,
        ),
        Case("no annotations match a default issuerRef", given(secret=annotated()), None),
        Case(
            "no annotations do not match a ClusterIssuer (temporary certificates)",
            given(CLUSTER_CERT, secret=annotated()),
            PolicyReason.INCORRECT_ISSUER,
            'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/"',
        ),
        Case(
            "kind annotation differs",
            given(
                secret=annotated(
                    **{
                        "cert-manager.io/issuer-name": "ca",
                        "cert-manager.io/issuer-kind": "ClusterIssuer",
                    }
                )
            ),
            PolicyReason.INCORRECT_ISSUER,
            "Issuing certificate as Secret was previously issued by "
            '"ClusterIssuer.cert-manager.io/ca"',
        ),
        Case("name annotation differs", OTHER_ISSUER, PolicyReason.INCORRECT_ISSUER),
    ],
    p.secret_certificate_name_annotation_mismatch: [
        Case("names this Certificate", given(), None),
        Case("absent", given(secret=annotated()), None),
        Case("names another", OTHER_CERTIFICATE, PolicyReason.INCORRECT_CERTIFICATE),
    ],
    p.secret_private_key_mismatches_spec: [
        Case("RSA 2048 by default", given(), None),
        Case("size changed", BIGGER_KEY, PolicyReason.SECRET_MISMATCH),
        Case("algorithm changed", EC_KEY, PolicyReason.SECRET_MISMATCH),
        Case("undecodable key", GARBAGE_KEY, PolicyReason.INVALID_KEY_PAIR, MSG_INVALID_KEY),
    ],
    p.secret_public_key_differs_from_current_request: [
        Case("same key", given(), None),
        Case("no current request", given(current=None), None),
        Case("other key", REQUEST_OTHER_KEY, PolicyReason.SECRET_MISMATCH),
        Case("bad CSR", REQUEST_UNDECODABLE, PolicyReason.INVALID_CERTIFICATE_REQUEST),
    ],
    p.current_request_mismatches_spec: [
        Case("up to date", given(), None),
        Case("dnsNames changed", DNS_CHANGED, PolicyReason.REQUEST_CHANGED),
        Case("undecodable request is not a reason to reissue", REQUEST_UNDECODABLE, None),
        Case("no request, fuzzy match", NO_REQUEST_UP_TO_DATE, None),
        Case("no request, stale cert", NO_REQUEST_STALE, PolicyReason.SECRET_MISMATCH),
    ],
    p.certificate_nearing_expiry(): [
        Case("early", given(), None),
        Case("due", RENEWAL_DUE, PolicyReason.RENEWING, MSG_RENEWING),
        Case(
            "due without status.renewalTime prints <nil>",
            given(now=RENEWAL_AT),
            PolicyReason.RENEWING,
            "Renewing certificate as renewal was scheduled at <nil>",
        ),
        Case(
            "renewBefore 10d moves the time later",
            given(cert(renewBefore="240h"), now=RENEWAL_AT),
            None,
        ),
        Case("Disabled", DISABLED_DUE, None),
    ],
    p.certificate_has_expired: [
        Case("valid", RENEWAL_DUE, None),
        Case("expired", EXPIRED, PolicyReason.EXPIRED, MSG_EXPIRED),
    ],
    p.secret_base_label_mismatch: [
        Case("true", given(), None),
        Case(
            "false",
            given(secret=secret_for(labels={"controller.cert-manager.io/fao": "false"})),
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        ),
        Case(
            "absent",
            given(secret=secret_for(labels={})),
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        ),
    ],
    p.secret_certificate_details_annotations_mismatch: [
        Case("match", given(), None),
        Case(
            "edited",
            given(
                secret=secret_for(
                    annotations={**HEALTHY_ANNOTATIONS, "cert-manager.io/common-name": "x"}
                )
            ),
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
            "Secret metadata x does not match certificate metadata ",
        ),
        Case("missing", given(secret=annotated()), PolicyReason.SECRET_MANAGED_METADATA_MISMATCH),
    ],
    p.secret_template_mismatch: [
        Case("no template", given(), None),
        Case("template applied", post(template_secret()), None),
        Case(
            "template label missing",
            post(template_secret(labels=secret_labels(CERT))),
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
        ),
    ],
    p.secret_additional_output_formats_mismatch: [
        Case("none asked", given(), None),
        Case("both written", post(template_secret()), None),
        Case(
            "DER missing",
            post(template_secret(extra_data={})),
            PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
        ),
    ],
    p.secret_owner_reference_mismatch: [
        Case("disabled", given(), None),
        Case(
            "enabled and present",
            given(secret=secret_for(owner_references=[OWNER_REF]), owner_ref_enabled=True),
            None,
        ),
        Case(
            "enabled but not controller",
            given(
                secret=secret_for(owner_references=[{**OWNER_REF, "controller": False}]),
                owner_ref_enabled=True,
            ),
            PolicyReason.SECRET_OWNER_REF_MISMATCH,
        ),
    ],
    p.secret_keystore_format_mismatch: [
        Case("none", given(), None),
        Case(
            "JKS asked, written without CA",
            given(
                cert(keystores={"jks": {"create": True, "password": "x"}}),
                secret=secret_for(
                    cert(keystores={"jks": {"create": True, "password": "x"}}),
                    extra_data={"keystore.jks": b"jks"},
                ),
            ),
            None,
        ),
        Case(
            "JKS asked, truststore missing although a CA is present",
            given(
                cert(keystores={"jks": {"create": True, "password": "x"}}),
                secret=secret_for(
                    cert(keystores={"jks": {"create": True, "password": "x"}}),
                    extra_data={"keystore.jks": b"jks", "ca.crt": b"ca"},
                ),
            ),
            PolicyReason.SECRET_MISMATCH,
            "JKS Keystore key does not contain data",
        ),
        Case(
            "PKCS12 create disabled but present",
            given(
                cert(keystores={"pkcs12": {"create": False, "password": "x"}}),
                secret=secret_for(
                    cert(keystores={"pkcs12": {"create": False, "password": "x"}}),
                    extra_data={"keystore.p12": b"p12"},
                ),
            ),
            PolicyReason.SECRET_MISMATCH,
            "PKCS12 Keystore create disabled",
        ),
    ],
    p.secret_managed_metadata_managed_fields_mismatch: [
        Case("no field manager: skipped", given(), None),
        Case(
            "owns exactly its keys",
            given(
                secret=secret_for(
                    managed_fields=[
                        managed_metadata(["controller.cert-manager.io/fao"], [*HEALTHY_ANNOTATIONS])
                    ]
                ),
                field_manager=FIELD_MANAGER,
            ),
            None,
        ),
        Case(
            "owns a stale subject annotation",
            given(
                secret=secret_for(
                    managed_fields=[
                        managed_metadata(
                            ["controller.cert-manager.io/fao"],
                            [*HEALTHY_ANNOTATIONS, "cert-manager.io/subject-organizations"],
                        )
                    ]
                ),
                field_manager=FIELD_MANAGER,
            ),
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
            "Secret has these extra Annotations: [cert-manager.io/subject-organizations]",
        ),
        Case(
            "another manager's fields do not count",
            given(
                secret=secret_for(managed_fields=[managed_metadata([], [], ())]),
                field_manager="someone-else",
            ),
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
            "Secret is missing these Managed Labels: [controller.cert-manager.io/fao]",
        ),
    ],
    p.secret_template_managed_fields_mismatch: [
        Case("no field manager: skipped", post(template_secret()), None),
        Case(
            "template label not owned",
            post(
                template_secret(
                    managed_fields=[managed_metadata(["controller.cert-manager.io/fao"], ["owner"])]
                ),
                field_manager=FIELD_MANAGER,
            ),
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
            "Secret is missing these Template Labels: [tier]",
        ),
    ],
    p.secret_additional_output_formats_managed_fields_mismatch: [
        Case(
            "owns both",
            post(template_secret(managed_fields=[HEALTHY_MANAGED]), field_manager=FIELD_MANAGER),
            None,
        ),
        Case(
            "still owns DER after it was dropped",
            given(
                secret=secret_for(managed_fields=[managed_metadata([], [], ("key.der",))]),
                field_manager=FIELD_MANAGER,
            ),
            PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
            "Certificate's AdditionalOutputFormats doesn't match Secret ManagedFields",
        ),
    ],
    p.secret_owner_reference_managed_field_mismatch: [
        Case(
            "disabled and not owned",
            given(secret=secret_for(managed_fields=[HEALTHY_MANAGED]), field_manager=FIELD_MANAGER),
            None,
        ),
        Case(
            "enabled and owned",
            given(
                secret=secret_for(
                    managed_fields=[
                        managed({"f:metadata": {"f:ownerReferences": {'k:{"uid":"uid-web"}': {}}}})
                    ]
                ),
                field_manager=FIELD_MANAGER,
                owner_ref_enabled=True,
            ),
            None,
        ),
        Case(
            "enabled but not owned",
            given(
                secret=secret_for(managed_fields=[HEALTHY_MANAGED]),
                field_manager=FIELD_MANAGER,
                owner_ref_enabled=True,
            ),
            PolicyReason.SECRET_OWNER_REF_MISMATCH,
            "unexpected managed Secret Owner Reference field on Secret "
            "--enable-certificate-owner-ref=true",
        ),
    ],
}

POLICY_CASES = [
    pytest.param(policy, case, id=f"{policy.__name__}: {case.id}")
    for policy, cases in POLICY_TABLES.items()
    for case in cases
]


@pytest.mark.parametrize(("policy", "case"), POLICY_CASES)
def test_policy(policy: Callable[[p.PolicyInput], p.Violation | None], case: Case) -> None:
    check(policy, case)


def test_every_chain_policy_has_a_table() -> None:
    named = {f.__name__ for f in POLICY_TABLES}
    chained = {f.__name__ for f in (*p.TRIGGER_CHAIN, *p.READINESS_CHAIN, *p.POST_ISSUANCE_CHAIN)}
    assert chained <= named


# --- the pieces around the checks ---------------------------------------------------------------


def test_nearing_expiry_uses_the_injected_renewal_time() -> None:
    calls: list[tuple[dt.datetime, dt.datetime, dt.timedelta | None, int | None]] = []

    def renew_now(
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        renew_before: dt.timedelta | None,
        renew_before_percentage: int | None,
    ) -> dt.datetime:
        calls.append((not_before, not_after, renew_before, renew_before_percentage))
        return NOW

    policy = p.certificate_nearing_expiry(renew_now)
    certificate = cert(renewBefore="1h", renewBeforePercentage=None)
    violation = policy(given(certificate, secret=secret_for(certificate)))
    assert violation is not None
    assert violation.reason is PolicyReason.RENEWING
    assert calls == [(LEAF.not_valid_before_utc, ISSUED_NOT_AFTER, dt.timedelta(hours=1), None)]


def test_nearing_expiry_moves_into_renewal_windows() -> None:
    # A one-hour window on the 15th: the window before the desired time (15 February) has
    # closed, so renewal waits for the next one, 15 March 00:00.
    certificate = cert(
        renewal={
            "policy": "RenewBefore",
            "windows": [{"cron": "0 0 15 * *", "windowDuration": "1h"}],
        }
    )
    policy = p.certificate_nearing_expiry()
    secret = secret_for(certificate)
    assert policy(given(certificate, secret=secret, now=RENEWAL_AT)) is None
    window_opens = dt.datetime(2025, 3, 15, tzinfo=dt.UTC)
    violation = policy(given(certificate, secret=secret, now=window_opens))
    assert violation is not None
    assert violation.reason is PolicyReason.RENEWING


def test_evaluate_returns_the_first_violation_only() -> None:
    first = p.Violation(PolicyReason.RENEWING, "first")

    def boom(_: p.PolicyInput) -> p.Violation | None:
        raise AssertionError("evaluated past the first violation")

    assert p.evaluate((lambda _: None, lambda _: first, boom), given()) is first
    assert p.evaluate((), given()) is None


def test_a_misordered_chain_fails_loudly_without_a_secret() -> None:
    with pytest.raises(ValueError, match="secret_does_not_exist first"):
        p.secret_is_missing_data(SECRET_GONE)


@pytest.mark.parametrize(
    ("when", "expect"),
    [
        (dt.datetime(2006, 1, 2, 15, 4, 5, tzinfo=dt.UTC), "Mon, 02 Jan 2006 15:04:05 UTC"),
        (dt.datetime(2025, 4, 1, 3, 4, 5, tzinfo=dt.UTC), "Tue, 01 Apr 2025 03:04:05 UTC"),
        (
            dt.datetime(2025, 4, 1, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "Tue, 01 Apr 2025 03:04:05 UTC",
        ),
    ],
)
def test_format_rfc1123(when: dt.datetime, expect: str) -> None:
    assert p.format_rfc1123(when) == expect


def test_format_go_list() -> None:
    assert p.format_go_list(["spec.dnsNames", "spec.commonName"]) == (
        "[spec.dnsNames spec.commonName]"
    )
    assert p.format_go_list([]) == "[]"
