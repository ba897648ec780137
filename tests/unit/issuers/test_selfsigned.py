"""The SelfSigned issuer: every outcome of SPEC §1.6 and a certificate openssl accepts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certsmith.api.conditions import EventReason, EventType, IssuerReason
from certsmith.issuers.base import SignFailed, SignPending
from certsmith.issuers.selfsigned import PRIVATE_KEY_SECRET_ANNOTATION, SelfSignedIssuer
from certsmith.pki.pem import split_pem_certificates
from tests.builders import cached_ec_key, make_cert_request, make_csr_pem, make_issuer, make_secret
from tests.fakes import StaticIssuerContext
from tests.pkitools import PrivateKey, key, make_csr, openssl


def key_pem(private_key: PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def annotated_request(secret: str = "web-key", **kwargs):
    return make_cert_request(annotations={PRIVATE_KEY_SECRET_ANNOTATION: secret}, **kwargs)


def add_key_secret(ctx: StaticIssuerContext, private_key: PrivateKey, name: str = "web-key"):
    ctx.add(make_secret(name, data={"tls.key": key_pem(private_key)}, secret_type="Opaque"))


async def test_signed_certificate_is_its_own_ca_and_verifies_with_openssl(ctx, tmp_path):
    add_key_secret(ctx, cached_ec_key())
    issued = await SelfSignedIssuer().sign(annotated_request(), make_issuer(selfSigned={}), ctx)
    assert issued.chain_pem == issued.ca_pem
    cert = split_pem_certificates(issued.chain_pem)[0]
    assert cert.issuer == cert.subject
    (tmp_path / "cert.pem").write_bytes(issued.chain_pem)
    at = str(int(ctx.clock.now().timestamp()) + 60)
    verify = openssl(
        "verify", "-attime", at, "-CAfile", tmp_path / "cert.pem", tmp_path / "cert.pem"
    )
    assert verify.returncode == 0, verify.stderr


async def test_crl_distribution_points_of_the_issuer_are_copied(ctx):
    add_key_secret(ctx, cached_ec_key())
    issuer = make_issuer(selfSigned={"crlDistributionPoints": ["http://crl.example.com/x.crl"]})
    issued = await SelfSignedIssuer().sign(annotated_request(), issuer, ctx)
    cert = split_pem_certificates(issued.chain_pem)[0]
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for point in cdp for n in point.full_name or ()] == [
        "http://crl.example.com/x.crl"
    ]


async def test_key_secret_is_read_from_the_request_namespace_even_for_cluster_issuers(ctx):
    add_key_secret(ctx, cached_ec_key())
    issuer = make_issuer("selfsigned", cluster=True, selfSigned={})
    issued = await SelfSignedIssuer().sign(annotated_request(), issuer, ctx)
    assert issued.ca_pem


async def test_empty_subject_is_issued_with_a_bad_config_warning(ctx):
    signer = key("p256", 50)
    add_key_secret(ctx, signer)
    csr = make_csr(subject=x509.Name([]), signer=signer, dns_names=["empty.example.com"])
    issued = await SelfSignedIssuer().sign(
        annotated_request(csr=csr), make_issuer(selfSigned={}), ctx
    )
    assert [(e.type, e.reason) for e in issued.events] == [
        (EventType.WARNING, EventReason.BAD_CONFIG)
    ]
    assert issued.events[0].message.startswith(
        "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280"
    )


async def test_named_subject_is_issued_without_warnings(ctx):
    add_key_secret(ctx, cached_ec_key())
    issued = await SelfSignedIssuer().sign(annotated_request(), make_issuer(selfSigned={}), ctx)
    assert issued.events == ()


async def test_self_signed_issuer_is_always_ready_with_is_ready(ctx):
    ready = await SelfSignedIssuer().check(make_issuer(selfSigned={}), ctx)
    assert (ready.reason, ready.message) == (IssuerReason.IS_READY, "")


@dataclass(frozen=True)
class FailureCase:
    id: str
    annotation: str | None
    secret_data: dict[str, bytes] | None
    expect_outcome: type[Exception]
    expect_reason: EventReason
    expect_message: str


FAILURE_CASES = [
    FailureCase(
        "annotation missing",
        None,
        None,
        SignFailed,
        EventReason.MISSING_ANNOTATION,
        'Annotation "cert-manager.io/private-key-secret-name" missing or reference empty: '
        "secret name missing",
    ),
    FailureCase(
        "annotation empty",
        "",
        None,
        SignFailed,
        EventReason.MISSING_ANNOTATION,
        'Annotation "cert-manager.io/private-key-secret-name" missing or reference empty: '
        "secret name missing",
    ),
    FailureCase(
        "secret missing",
        "web-key",
        None,
        SignPending,
        EventReason.MISSING_SECRET,
        'Referenced secret ns/web-key not found: secret "web-key" not found',
    ),
    FailureCase(
        "secret without tls.key",
        "web-key",
        {"other": b"x"},
        SignPending,
        EventReason.ERROR_PARSING_KEY,
        'Failed to get key "web-key" referenced in annotation '
        '"cert-manager.io/private-key-secret-name": no data for "tls.key"',
    ),
    FailureCase(
        "undecodable key",
        "web-key",
        {"tls.key": b"garbage"},
        SignPending,
        EventReason.ERROR_PARSING_KEY,
        'Failed to get key "web-key" referenced in annotation '
        '"cert-manager.io/private-key-secret-name": ',
    ),
]


@pytest.mark.parametrize("case", FAILURE_CASES, ids=lambda c: c.id)
async def test_sign_reports_each_failure_with_cert_manager_words(case, ctx):
    annotations = (
        None if case.annotation is None else {PRIVATE_KEY_SECRET_ANNOTATION: case.annotation}
    )
    if case.secret_data is not None:
        ctx.add(make_secret("web-key", data=case.secret_data, secret_type="Opaque"))
    request = make_cert_request(annotations=annotations)
    with pytest.raises(case.expect_outcome) as outcome:
        await SelfSignedIssuer().sign(request, make_issuer(selfSigned={}), ctx)
    assert outcome.value.event_reason == case.expect_reason
    assert outcome.value.message.startswith(case.expect_message)


async def test_csr_signed_by_another_key_fails_with_key_match_error(ctx):
    add_key_secret(ctx, key("p256", 51))
    with pytest.raises(SignFailed) as failure:
        await SelfSignedIssuer().sign(annotated_request(), make_issuer(selfSigned={}), ctx)
    assert failure.value.event_reason == EventReason.ERROR_KEY_MATCH
    assert failure.value.message == (
        "Error generating certificate template: CSR not signed by referenced private key"
    )


async def test_failing_secret_read_is_pending_and_retried_with_backoff(ctx):
    ctx.fail_reads = TimeoutError("timed out")
    with pytest.raises(SignPending) as pending:
        await SelfSignedIssuer().sign(annotated_request(), make_issuer(selfSigned={}), ctx)
    assert pending.value.event_reason == EventReason.ERROR_GETTING_SECRET
    assert pending.value.message == (
        "Failed to get certificate key pair from secret ns/web-key: timed out"
    )
    assert pending.value.retry_after == 0


async def test_is_ca_that_disagrees_with_the_csr_fails_template_generation(ctx):
    add_key_secret(ctx, cached_ec_key())
    csr = make_csr_pem(extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    with pytest.raises(SignFailed) as failure:
        await SelfSignedIssuer().sign(
            annotated_request(csr=csr, is_ca=False), make_issuer(selfSigned={}), ctx
        )
    assert failure.value.event_reason == EventReason.ERROR_GENERATING
    assert "IsCA true does not match expected value false" in failure.value.message


async def test_key_too_small_to_sign_fails_with_signing_error(ctx):
    weak = key("rsa1024")
    add_key_secret(ctx, weak)
    csr = make_csr(signer=weak)
    with pytest.raises(SignFailed) as failure:
        await SelfSignedIssuer().sign(annotated_request(csr=csr), make_issuer(selfSigned={}), ctx)
    assert failure.value.event_reason == EventReason.ERROR_SIGNING
    assert failure.value.message == (
        "Error signing certificate: invalid size 1024 for RSA key on signing certificate"
    )
