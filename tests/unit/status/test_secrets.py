"""Decoding Secrets: certificate details, chain order, key match, ca.crt relation, leniency."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from certsmith.status.jsonview import conditions, controller_uid, parse_time
from certsmith.status.secrets import inspect_secret, summarize_secret
from certsmith.status.x509info import describe_certificate
from tests.builders import private_key_pem
from tests.pkitools import key, make_intermediate, make_leaf, make_root, pem


def secret(**data: bytes) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-tls", "namespace": "ns"},
        "type": "kubernetes.io/tls",
        "data": {k.replace("_", "."): base64.b64encode(v).decode() for k, v in data.items()},
    }


def test_describe_reads_sans_usages_urls_and_fingerprints():
    root, root_key = make_root("r")
    leaf_key = key("p256", 5)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "web")]))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(0x0102AB)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("web.example.com"),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                    x509.UniformResourceIdentifier("spiffe://x/y"),
                    x509.RFC822Name("a@example.com"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://crl.example/ca.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://ocsp.example"),
                    )
                ]
            ),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    info = describe_certificate(cert)
    assert info.subject == "CN=web"
    assert info.issuer == "CN=r"
    assert info.serial == "01:02:AB"
    assert info.dns_names == ("web.example.com",)
    assert info.ip_addresses == ("10.0.0.1",)
    assert info.uris == ("spiffe://x/y",)
    assert info.email_addresses == ("a@example.com",)
    assert info.extended_key_usages == ("server auth",)
    assert info.crl_distribution_points == ("http://crl.example/ca.crl",)
    assert info.ocsp_servers == ("http://ocsp.example",)
    assert info.key_algorithm == "ECDSA P-256"
    assert info.is_ca is False
    assert info.self_signed is False
    assert len(info.sha256_fingerprint.split(":")) == 32


def test_inspect_flags_an_unrelated_ca_crt():
    root, root_key = make_root("r")
    leaf = make_leaf("leaf", root, root_key)
    other, _ = make_root("other", slot=3)
    report = inspect_secret(
        secret(tls_crt=pem(leaf), tls_key=private_key_pem(key("p256", 9)), ca_crt=pem(other))
    )
    assert report.key_matches is True
    assert report.chain_signed == ()
    assert report.ca_signs_chain is False
    assert report.ca_relation == "ca.crt did NOT sign the last certificate of tls.crt"


def test_inspect_accepts_a_root_repeated_in_ca_crt():
    root, root_key = make_root("r")
    inter, inter_key = make_intermediate("i", root, root_key)
    leaf = make_leaf("leaf", inter, inter_key)
    report = inspect_secret(secret(tls_crt=pem(leaf, inter, root), ca_crt=pem(root)))
    assert report.chain_signed == (True, True)
    assert report.chain_in_order
    assert report.key_matches is None
    assert report.ca_relation.startswith("ca.crt is the last certificate of tls.crt")


def test_garbage_is_reported_not_raised():
    report = inspect_secret(secret(tls_crt=b"not pem", tls_key=b"not a key"))
    assert report.certificates == ()
    assert report.problems == (
        "tls.crt: error decoding certificate PEM block: no certificate found",
    )
    info = summarize_secret("ns", "web-tls", secret(tls_crt=pem(make_root()[0]), tls_key=b"x"))
    assert info.key_matches is None
    assert info.decode_error is not None
    assert info.decode_error.startswith("tls.key:")


def test_missing_secret_summary():
    assert summarize_secret("ns", "web-tls", None).exists is False


def test_json_readers_skip_malformed_entries():
    obj = {
        "metadata": {
            "ownerReferences": [{"uid": "a"}, {"uid": "b", "controller": True}, "junk"],
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "garbage"},
                {"status": "True"},
                7,
            ]
        },
    }
    (ready,) = conditions(obj)
    assert (ready.type, ready.status, ready.last_transition_time) == ("Ready", "True", None)
    assert controller_uid(obj) == "b"
    assert parse_time("2026-01-02T03:04:05Z") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert conditions({"status": "weird"}) == ()
