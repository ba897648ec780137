"""The CA issuer: readiness checks, every signing outcome, chains, and the documentation example."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from certsmith.api.certmanager import CertificateRequest
from certsmith.api.conditions import EventReason, IssuerReason
from certsmith.issuers.base import IssuerNotReady, SignFailed, SignPending
from certsmith.issuers.ca import CAIssuer
from certsmith.pki.pem import split_pem_certificates
from tests.builders import make_ca_secret, make_cert_request, make_issuer, make_secret
from tests.fakes import StaticIssuerContext
from tests.pkitools import PrivateKey, key, make_intermediate, make_leaf, make_root, openssl, pem

DATA = Path(__file__).resolve().parents[2] / "data"


def key_pem(private_key: PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def add_root_ca(
    ctx: StaticIssuerContext, namespace: str = "ns"
) -> tuple[x509.Certificate, PrivateKey]:
    root, root_key = make_root("test root")
    ctx.add(make_ca_secret(namespace=namespace, chain_pem=pem(root), key_pem=key_pem(root_key)))
    return root, root_key


def my_ca_cr() -> CertificateRequest:
    manifest = yaml.safe_load((DATA / "my-ca-cr.yaml").read_text())
    manifest["metadata"]["namespace"] = "ns"
    return CertificateRequest.from_dict(manifest)


# --- The documentation's CertificateRequest, checked with openssl ---------------------------------


async def test_documentation_request_is_signed_and_verified_by_openssl(ctx, tmp_path):
    root, _ = add_root_ca(ctx)
    issued = await CAIssuer().sign(my_ca_cr(), make_issuer("ca-issuer"), ctx)

    (tmp_path / "ca.pem").write_bytes(pem(root))
    (tmp_path / "leaf.pem").write_bytes(issued.chain_pem)
    at = str(int(ctx.clock.now().timestamp()) + 3600)
    verify = openssl("verify", "-attime", at, "-CAfile", tmp_path / "ca.pem", tmp_path / "leaf.pem")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip().endswith(": OK")

    text = openssl("x509", "-in", tmp_path / "leaf.pem", "-noout", "-text").stdout
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature\n", text)
    assert re.search(r"X509v3 Extended Key Usage:\s+TLS Web Server Authentication\n", text)
    assert re.search(r"X509v3 Basic Constraints: critical\s+CA:FALSE", text)
    assert "CN=joshvanl" in text.replace(" = ", "=")


async def test_documentation_request_lifetime_is_exactly_2160_hours(ctx):
    add_root_ca(ctx)
    issued = await CAIssuer().sign(my_ca_cr(), make_issuer("ca-issuer"), ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(hours=2160)
    assert leaf.not_valid_before_utc == ctx.clock.now()


async def test_documentation_request_keeps_the_csr_subject_byte_for_byte(ctx):
    add_root_ca(ctx)
    request = my_ca_cr()
    issued = await CAIssuer().sign(request, make_issuer("ca-issuer"), ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    csr = x509.load_pem_x509_csr(request.spec.request_pem)
    assert leaf.subject.public_bytes() == csr.subject.public_bytes()


# --- Defaults and extras (SPEC §12 behaviours 13, 15, 16) -----------------------------------------


async def test_request_without_usages_or_duration_gets_cert_manager_defaults(ctx):
    root, _ = add_root_ca(ctx)
    issued = await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=90)
    assert leaf.issuer == root.subject
    assert issued.chain_pem == pem(leaf)
    assert issued.ca_pem == pem(root)


async def test_ca_request_gets_cert_sign_and_the_issuer_urls(ctx):
    add_root_ca(ctx)
    issuer = make_issuer(
        ca={
            "secretName": "ca-key-pair",
            "crlDistributionPoints": ["http://crl.example.com/ca.crl"],
            "ocspServers": ["http://ocsp.example.com"],
            "issuingCertificateURLs": ["http://ca.example.com/ca.crt"],
        }
    )
    issued = await CAIssuer().sign(make_cert_request(is_ca=True), issuer, ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    assert constraints.path_length is None
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for point in cdp for n in point.full_name or ()] == [
        "http://crl.example.com/ca.crl"
    ]
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    by_method = {(d.access_method, d.access_location.value) for d in aia}
    assert by_method == {
        (AuthorityInformationAccessOID.OCSP, "http://ocsp.example.com"),
        (AuthorityInformationAccessOID.CA_ISSUERS, "http://ca.example.com/ca.crt"),
    }


async def test_leaf_lifetime_is_not_clamped_to_a_ca_that_expires_sooner(ctx):
    from tests.pkitools import make_cert

    now = ctx.clock.now()
    ca_key = key("p256", 3)
    short_ca = make_cert(
        "short-lived ca",
        subject_key=ca_key,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=10),
    )
    ctx.add(make_ca_secret(chain_pem=pem(short_ca), key_pem=key_pem(ca_key)))
    request = make_cert_request()
    request.spec.duration = "2160h"
    issued = await CAIssuer().sign(request, make_issuer(), ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    assert leaf.not_valid_after_utc == now + dt.timedelta(hours=2160)
    assert leaf.not_valid_after_utc > short_ca.not_valid_after_utc


async def test_requested_server_auth_usage_becomes_an_extended_key_usage(ctx):
    add_root_ca(ctx)
    request = make_cert_request(usages=["digital signature", "server auth", "client auth"])
    issued = await CAIssuer().sign(request, make_issuer(), ctx)
    leaf = split_pem_certificates(issued.chain_pem)[0]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


# --- Chains (SPEC §4.3, §12 behaviour 14) ---------------------------------------------------------


@dataclass(frozen=True)
class ChainCase:
    id: str
    tls_crt: tuple[str, ...]
    ca_crt: str | None
    expect_chain: tuple[str, ...]
    expect_ca: str


CHAIN_CASES = [
    ChainCase("root only", ("root",), None, ("leaf",), "root"),
    ChainCase("intermediate then root", ("inter", "root"), None, ("leaf", "inter"), "root"),
    ChainCase("intermediate alone", ("inter",), None, ("leaf", "inter"), "inter"),
    ChainCase("intermediate with root in ca.crt", ("inter",), "root", ("leaf", "inter"), "root"),
    ChainCase("root repeated in ca.crt", ("root",), "root", ("leaf",), "root"),
]


@pytest.mark.parametrize("case", CHAIN_CASES, ids=lambda c: c.id)
async def test_chain_and_ca_come_from_the_ca_secret(case, ctx):
    root, root_key = make_root("chain root", slot=20)
    inter, inter_key = make_intermediate("chain inter", root, root_key, slot=21)
    certs = {"root": root, "inter": inter}
    signing_key = inter_key if case.tls_crt[0] == "inter" else root_key
    ctx.add(
        make_ca_secret(
            chain_pem=pem(*(certs[c] for c in case.tls_crt)),
            key_pem=key_pem(signing_key),
            ca_pem=pem(certs[case.ca_crt]) if case.ca_crt else None,
        )
    )
    issued = await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    chain = split_pem_certificates(issued.chain_pem)
    names = {root.subject: "root", inter.subject: "inter"}
    assert tuple(names.get(c.subject, "leaf") for c in chain) == case.expect_chain
    assert issued.ca_pem == pem(certs[case.expect_ca])


async def test_unrelated_ca_crt_fails_signing_with_a_broken_chain(ctx):
    root, root_key = make_root("real root", slot=30)
    stranger, _ = make_root("stranger", slot=31)
    ctx.add(make_ca_secret(chain_pem=pem(root), key_pem=key_pem(root_key), ca_pem=pem(stranger)))
    with pytest.raises(SignFailed) as failure:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert failure.value.event_reason == EventReason.SIGNING_ERROR
    assert failure.value.message == (
        "Error signing certificate: certificate chain is malformed or broken"
    )


async def test_cluster_issuer_reads_its_secret_from_the_cluster_resource_namespace(ctx):
    add_root_ca(ctx, namespace=ctx.cluster_resource_namespace)
    issuer = make_issuer("cluster-ca", cluster=True)
    issued = await CAIssuer().sign(make_cert_request(namespace="team-a"), issuer, ctx)
    assert issued.chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")


# --- Failure outcomes (SPEC §1.6) -----------------------------------------------------------------


def _root_pair() -> tuple[bytes, bytes]:
    root, root_key = make_root("table root", slot=40)
    return pem(root), key_pem(root_key)


@dataclass(frozen=True)
class SecretCase:
    id: str
    tls_crt: bytes | None
    tls_key: bytes | None
    ca_crt: bytes | None
    expect_detail: str


_CRT, _KEY = _root_pair()
_PREFIX = "Failed to parse signing CA keypair from secret ns/ca-key-pair: "

INVALID_SECRET_CASES = [
    SecretCase(
        "no tls.key", _CRT, None, None, "no data for \"tls.key\" in secret 'ns/ca-key-pair'"
    ),
    SecretCase(
        "no tls.crt", None, _KEY, None, "no data for \"tls.crt\" in secret 'ns/ca-key-pair'"
    ),
    SecretCase("undecodable key", _CRT, b"not a key", None, "error decoding private key PEM block"),
    SecretCase("undecodable certificate", b"nonsense", _KEY, None, "error decoding certificate"),
    SecretCase("undecodable ca.crt", _CRT, _KEY, b"nonsense", "error decoding CA certificate"),
]


@pytest.mark.parametrize("case", INVALID_SECRET_CASES, ids=lambda c: c.id)
async def test_unusable_ca_secret_leaves_the_request_pending(case, ctx):
    data = {"tls.crt": case.tls_crt, "tls.key": case.tls_key, "ca.crt": case.ca_crt}
    ctx.add(make_secret(data={k: v for k, v in data.items() if v is not None}))
    with pytest.raises(SignPending) as pending:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert pending.value.event_reason == EventReason.SECRET_INVALID_DATA
    assert pending.value.message.startswith(_PREFIX + case.expect_detail)
    assert pending.value.retry_after is None


async def test_missing_ca_secret_leaves_the_request_pending_until_it_appears(ctx):
    with pytest.raises(SignPending) as pending:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert pending.value.event_reason == EventReason.SECRET_MISSING
    assert pending.value.message == (
        'Referenced secret ns/ca-key-pair not found: secret "ca-key-pair" not found'
    )
    assert pending.value.retry_after is None


async def test_failing_secret_read_is_pending_and_retried_with_backoff(ctx):
    ctx.fail_reads = ConnectionError("connection refused")
    with pytest.raises(SignPending) as pending:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert pending.value.event_reason == EventReason.SECRET_GET_ERROR
    assert pending.value.message == (
        "Failed to get certificate key pair from secret ns/ca-key-pair: connection refused"
    )
    assert pending.value.retry_after == 0


async def test_usages_that_disagree_with_the_csr_fail_template_generation(ctx):
    add_root_ca(ctx)
    from tests.builders import make_csr_pem

    csr = make_csr_pem(
        extensions=[(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)]
    )
    request = make_cert_request(csr=csr, usages=["server auth"])
    with pytest.raises(SignFailed) as failure:
        await CAIssuer().sign(request, make_issuer(), ctx)
    assert failure.value.event_reason == EventReason.SIGNING_ERROR
    assert failure.value.message.startswith("Error generating certificate template: ")
    assert "ExtKeyUsages" in failure.value.message


async def test_ca_key_too_small_to_sign_fails_the_request(ctx):
    weak_key = key("rsa1024")
    from tests.pkitools import make_cert

    weak_ca = make_cert("weak ca", subject_key=weak_key)
    ctx.add(make_ca_secret(chain_pem=pem(weak_ca), key_pem=key_pem(weak_key)))
    with pytest.raises(SignFailed) as failure:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert failure.value.message == (
        "Error signing certificate: invalid size 1024 for RSA key on signing certificate"
    )


async def test_failure_messages_never_contain_private_key_material(ctx):
    root, root_key = make_root("secretive root", slot=41)
    broken = key_pem(root_key)[:-40] + b"-----END PRIVATE KEY-----\n"
    ctx.add(make_ca_secret(chain_pem=pem(root), key_pem=broken))
    with pytest.raises(SignPending) as pending:
        await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert "-----BEGIN" not in pending.value.message
    body = b"".join(broken.splitlines()[1:-1]).decode()
    assert body[:20] not in pending.value.message


# --- Readiness (SPEC §4.1, §12 behaviour 17) ------------------------------------------------------


async def test_ca_issuer_with_a_ca_key_pair_is_ready_with_key_pair_verified(ctx):
    add_root_ca(ctx)
    ready = await CAIssuer().check(make_issuer(), ctx)
    assert (ready.reason, ready.message) == (IssuerReason.KEY_PAIR_VERIFIED, "Signing CA verified")


async def test_ca_issuer_without_its_secret_is_not_ready_and_retried(ctx):
    with pytest.raises(IssuerNotReady) as not_ready:
        await CAIssuer().check(make_issuer(), ctx)
    assert not_ready.value.reason == IssuerReason.ERR_GET_KEY_PAIR
    assert not_ready.value.message.startswith("Error getting keypair for CA issuer: ")
    assert not_ready.value.retry


async def test_ca_issuer_whose_certificate_is_not_a_ca_is_not_ready_and_not_retried(ctx):
    root, root_key = make_root("leaf issuer root", slot=42)
    leaf_key = key("p256", 43)
    leaf = make_leaf("not a ca", root, root_key, slot=43)
    ctx.add(make_ca_secret(chain_pem=pem(leaf), key_pem=key_pem(leaf_key)))
    with pytest.raises(IssuerNotReady) as not_ready:
        await CAIssuer().check(make_issuer(), ctx)
    assert not_ready.value.reason == IssuerReason.ERR_INVALID_KEY_PAIR
    assert not_ready.value.message == (
        "Error getting keypair for CA issuer: certificate is not a CA"
    )
    assert not not_ready.value.retry


async def test_cluster_issuer_readiness_looks_in_the_cluster_resource_namespace(ctx):
    add_root_ca(ctx, namespace="ns")
    with pytest.raises(IssuerNotReady):
        await CAIssuer().check(make_issuer("cluster-ca", cluster=True), ctx)
    add_root_ca(ctx, namespace=ctx.cluster_resource_namespace)
    ready = await CAIssuer().check(make_issuer("cluster-ca", cluster=True), ctx)
    assert ready.reason == IssuerReason.KEY_PAIR_VERIFIED
