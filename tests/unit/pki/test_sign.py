from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, SignatureAlgorithmOID

from certsmith.pki.chain import Chain
from certsmith.pki.pem import raw_issuer, raw_subject
from certsmith.pki.sign import SignError, self_sign, sign_certificate, sign_with_ca
from certsmith.pki.template import CertificateTemplate, certificate_template_from_csr
from tests.pkitools import (
    ALL_STRING_TYPES_SUBJECT,
    NOW,
    key,
    make_cert,
    make_csr,
    make_intermediate,
    make_root,
    openssl,
    pem,
)

ROOT, ROOT_KEY = make_root("sign root", slot=20)
INTER, INTER_KEY = make_intermediate("sign intermediate", ROOT, ROOT_KEY, slot=21)
OTHER_ROOT, _ = make_root("sign other root", slot=22)
LEAF_KEY = key("p256", 23)

CDP = ("http://crl.example.com/a.crl", "http://crl.example.com/b.crl")
OCSP = ("http://ocsp.example.com",)
CA_ISSUERS = ("http://ca.example.com/ca.crt",)


def leaf_template(*, is_ca: bool = False, **csr_kwargs) -> CertificateTemplate:
    csr = make_csr(signer=csr_kwargs.pop("signer", LEAF_KEY), **csr_kwargs)
    return certificate_template_from_csr(
        csr,
        is_ca=is_ca,
        usages=("digital signature", "key encipherment", "server auth"),
        duration=None,
        now=NOW,
    )


def ext(cert: x509.Certificate, ext_type: type[x509.ExtensionType]) -> x509.Extension[Any]:
    return cert.extensions.get_extension_for_class(ext_type)


# --- signature algorithm follows the signer key ------------------------------------------------

SIGNER_CASES = [
    ("rsa2048", SignatureAlgorithmOID.RSA_WITH_SHA256),
    ("rsa3072", SignatureAlgorithmOID.RSA_WITH_SHA384),
    ("rsa4096", SignatureAlgorithmOID.RSA_WITH_SHA512),
    ("p256", SignatureAlgorithmOID.ECDSA_WITH_SHA256),
    ("p384", SignatureAlgorithmOID.ECDSA_WITH_SHA384),
    ("p521", SignatureAlgorithmOID.ECDSA_WITH_SHA512),
    ("ed25519", SignatureAlgorithmOID.ED25519),
]


@pytest.mark.parametrize(("kind", "oid"), SIGNER_CASES, ids=[c[0] for c in SIGNER_CASES])
def test_ca_signature_algorithm_follows_the_ca_key(kind, oid):
    ca = make_cert(f"{kind} ca", subject_key=key(kind))
    cert = sign_certificate(leaf_template(), issuer_cert=ca, signer_key=key(kind))
    assert cert.signature_algorithm_oid == oid
    cert.verify_directly_issued_by(ca)


@pytest.mark.parametrize(("kind", "oid"), SIGNER_CASES, ids=[c[0] for c in SIGNER_CASES])
def test_self_signed_signature_algorithm_follows_the_own_key(kind, oid):
    cert = self_sign(leaf_template(signer=key(kind)), key(kind))
    assert cert.signature_algorithm_oid == oid
    cert.verify_directly_issued_by(cert)


def test_rsa_signer_below_2048_bits_is_refused():
    ca = make_cert("weak ca", subject_key=key("rsa1024"))
    with pytest.raises(SignError) as err:
        sign_certificate(leaf_template(), issuer_cert=ca, signer_key=key("rsa1024"))
    assert str(err.value) == "invalid size 1024 for RSA key on signing certificate"


def test_leaf_key_type_does_not_choose_the_algorithm():
    cert = sign_certificate(
        leaf_template(signer=key("rsa4096")), issuer_cert=ROOT, signer_key=ROOT_KEY
    )
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256


# --- names, keys and identifiers ---------------------------------------------------------------


def test_signed_certificate_keeps_the_csr_subject_byte_for_byte():
    template = leaf_template(subject=ALL_STRING_TYPES_SUBJECT)
    cert = sign_certificate(template, issuer_cert=ROOT, signer_key=ROOT_KEY)
    assert raw_subject(cert) == template.raw_subject


def test_signed_certificate_issuer_is_the_ca_subject_byte_for_byte():
    cert = sign_certificate(leaf_template(), issuer_cert=INTER, signer_key=INTER_KEY)
    assert raw_issuer(cert) == raw_subject(INTER)


def test_self_signed_certificate_issuer_is_its_subject():
    cert = self_sign(leaf_template(subject=ALL_STRING_TYPES_SUBJECT), LEAF_KEY)
    assert raw_issuer(cert) == raw_subject(cert)


def test_signed_certificate_is_v3_with_the_template_contents():
    template = leaf_template(dns_names=["a.example.com"])
    cert = sign_certificate(template, issuer_cert=ROOT, signer_key=ROOT_KEY)
    assert cert.version == x509.Version.v3
    assert cert.serial_number == template.serial_number
    assert cert.public_key() == LEAF_KEY.public_key()
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=90)
    for want in template.extensions():
        assert cert.extensions.get_extension_for_oid(want.oid) == want


def test_subject_key_identifier_comes_from_the_certificate_public_key():
    cert = sign_certificate(leaf_template(), issuer_cert=ROOT, signer_key=ROOT_KEY)
    assert ext(cert, x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(LEAF_KEY.public_key())
    )


def test_authority_key_identifier_is_the_issuer_subject_key_identifier():
    cert = sign_certificate(leaf_template(), issuer_cert=INTER, signer_key=INTER_KEY)
    issuer_ski = ext(INTER, x509.SubjectKeyIdentifier).value.digest
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == issuer_ski


def test_authority_key_identifier_is_derived_from_an_issuer_without_one():
    ca = make_cert("no ski ca", subject_key=key("p384", 24), with_ski=False)
    cert = sign_certificate(leaf_template(), issuer_cert=ca, signer_key=key("p384", 24))
    assert ext(cert, x509.AuthorityKeyIdentifier).value == (
        x509.AuthorityKeyIdentifier.from_issuer_public_key(key("p384", 24).public_key())
    )


def test_self_signed_authority_key_identifier_is_its_own_subject_key_identifier():
    cert = self_sign(leaf_template(is_ca=True), LEAF_KEY)
    own = ext(cert, x509.SubjectKeyIdentifier).value.digest
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == own


def test_signing_with_a_key_that_is_not_the_issuers_is_refused():
    with pytest.raises(SignError, match="does not match the public key of the issuer"):
        sign_certificate(leaf_template(), issuer_cert=ROOT, signer_key=INTER_KEY)


def test_self_signing_with_a_key_that_is_not_the_csrs_is_refused():
    with pytest.raises(SignError, match="does not match the public key of the certificate request"):
        self_sign(leaf_template(), ROOT_KEY)


# --- CDP and AIA -------------------------------------------------------------------------------


def test_crl_distribution_points_hold_one_point_per_url():
    cert = sign_certificate(
        leaf_template(), issuer_cert=ROOT, signer_key=ROOT_KEY, crl_distribution_points=CDP
    )
    cdp = ext(cert, x509.CRLDistributionPoints)
    assert not cdp.critical
    assert [[n.value for n in dp.full_name] for dp in cdp.value] == [[u] for u in CDP]


def test_authority_information_access_lists_ocsp_then_ca_issuers():
    cert = sign_certificate(
        leaf_template(),
        issuer_cert=ROOT,
        signer_key=ROOT_KEY,
        ocsp_servers=OCSP,
        issuing_certificate_urls=CA_ISSUERS,
    )
    aia = ext(cert, x509.AuthorityInformationAccess)
    assert not aia.critical
    assert [(d.access_method, d.access_location.value) for d in aia.value] == [
        (AuthorityInformationAccessOID.OCSP, OCSP[0]),
        (AuthorityInformationAccessOID.CA_ISSUERS, CA_ISSUERS[0]),
    ]


def test_no_cdp_or_aia_without_urls():
    cert = sign_certificate(leaf_template(), issuer_cert=ROOT, signer_key=ROOT_KEY)
    oids = {e.oid for e in cert.extensions}
    assert x509.CRLDistributionPoints.oid not in oids
    assert x509.AuthorityInformationAccess.oid not in oids


def test_self_sign_copies_crl_distribution_points():
    cert = self_sign(leaf_template(), LEAF_KEY, crl_distribution_points=CDP[:1])
    assert ext(cert, x509.CRLDistributionPoints).value[0].full_name[0].value == CDP[0]


# --- sign_with_ca: the CA issuer flow ----------------------------------------------------------


def test_sign_with_root_ca_gives_leaf_chain_and_root_ca():
    chain = sign_with_ca(leaf_template(), [ROOT], ROOT_KEY)
    leaf = x509.load_pem_x509_certificate(chain.chain_pem)
    assert chain == Chain(chain_pem=pem(leaf), ca_pem=pem(ROOT))


def test_sign_with_intermediate_and_ca_crt_gives_leaf_and_intermediate_with_root_ca():
    chain = sign_with_ca(leaf_template(), [INTER, ROOT], INTER_KEY)
    certs = x509.load_pem_x509_certificates(chain.chain_pem)
    assert certs[1:] == [INTER]
    assert chain.ca_pem == pem(ROOT)


def test_sign_with_intermediate_without_root_makes_the_intermediate_the_ca():
    chain = sign_with_ca(leaf_template(), [INTER], INTER_KEY)
    assert x509.load_pem_x509_certificates(chain.chain_pem)[1:] == [INTER]
    assert chain.ca_pem == pem(INTER)


def test_sign_with_an_unrelated_ca_crt_is_a_broken_chain():
    with pytest.raises(SignError) as err:
        sign_with_ca(leaf_template(), [INTER, OTHER_ROOT], INTER_KEY)
    assert str(err.value) == "certificate chain is malformed or broken"


def test_sign_with_no_ca_certificate_is_refused():
    with pytest.raises(SignError, match="no CA certificate"):
        sign_with_ca(leaf_template(), [], ROOT_KEY)


# --- openssl agrees ----------------------------------------------------------------------------

AT_TIME = str(int((NOW + dt.timedelta(days=1)).timestamp()))


def write(tmp_path: Path, filename: str, data: bytes) -> Path:
    path = tmp_path / filename
    path.write_bytes(data)
    return path


def test_openssl_verifies_a_leaf_signed_by_the_root(tmp_path):
    chain = sign_with_ca(leaf_template(), [ROOT], ROOT_KEY, crl_distribution_points=CDP)
    root = write(tmp_path, "root.pem", chain.ca_pem)
    leaf = write(tmp_path, "leaf.pem", chain.chain_pem)
    result = openssl("verify", "-attime", AT_TIME, "-CAfile", root, leaf)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{leaf}: OK"


def test_openssl_verifies_a_leaf_signed_by_an_intermediate(tmp_path):
    chain = sign_with_ca(leaf_template(), [INTER, ROOT], INTER_KEY, ocsp_servers=OCSP)
    leaf_cert, inter_cert = x509.load_pem_x509_certificates(chain.chain_pem)
    root = write(tmp_path, "root.pem", chain.ca_pem)
    inter = write(tmp_path, "inter.pem", pem(inter_cert))
    leaf = write(tmp_path, "leaf.pem", pem(leaf_cert))
    result = openssl("verify", "-attime", AT_TIME, "-CAfile", root, "-untrusted", inter, leaf)
    assert result.returncode == 0, result.stderr


def test_openssl_refuses_the_leaf_without_the_intermediate(tmp_path):
    chain = sign_with_ca(leaf_template(), [INTER, ROOT], INTER_KEY)
    root = write(tmp_path, "root.pem", chain.ca_pem)
    leaf = write(tmp_path, "leaf.pem", pem(x509.load_pem_x509_certificates(chain.chain_pem)[0]))
    assert openssl("verify", "-attime", AT_TIME, "-CAfile", root, leaf).returncode != 0


@pytest.mark.parametrize("kind", ["rsa2048", "p384", "ed25519"])
def test_openssl_verifies_a_self_signed_ca(tmp_path, kind):
    cert = self_sign(leaf_template(is_ca=True, signer=key(kind)), key(kind))
    path = write(tmp_path, "self.pem", pem(cert))
    result = openssl("verify", "-attime", AT_TIME, "-CAfile", path, path)
    assert result.returncode == 0, result.stderr


def test_openssl_verifies_a_leaf_signed_by_a_ca_that_was_itself_issued_by_us(tmp_path):
    root = self_sign(leaf_template(is_ca=True, signer=key("rsa3072")), key("rsa3072"))
    inter_chain = sign_with_ca(
        leaf_template(is_ca=True, signer=key("p521")), [root], key("rsa3072")
    )
    inter = x509.load_pem_x509_certificate(inter_chain.chain_pem)
    chain = sign_with_ca(leaf_template(), [inter, root], key("p521"))
    root_path = write(tmp_path, "root.pem", chain.ca_pem)
    bundle = write(tmp_path, "chain.pem", chain.chain_pem)
    result = openssl(
        "verify", "-attime", AT_TIME, "-CAfile", root_path, "-untrusted", bundle, bundle
    )
    assert result.returncode == 0, result.stderr


def test_openssl_text_shows_the_extensions(tmp_path):
    san_other = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x02me")
    template = leaf_template(
        extensions=[
            (x509.SubjectAlternativeName([x509.DNSName("a.example.com"), san_other]), False)
        ]
    )
    cert = sign_certificate(
        template,
        issuer_cert=INTER,
        signer_key=INTER_KEY,
        crl_distribution_points=CDP,
        ocsp_servers=OCSP,
        issuing_certificate_urls=CA_ISSUERS,
    )
    path = write(tmp_path, "leaf.pem", pem(cert))
    result = openssl("x509", "-noout", "-text", "-in", path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in [
        "Version: 3 (0x2)",
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment",
        "X509v3 Extended Key Usage: \n                TLS Web Server Authentication",
        "X509v3 Subject Alternative Name: \n                DNS:a.example.com, othername: UPN::me",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "X509v3 CRL Distribution Points",
        f"URI:{CDP[0]}",
        f"URI:{CDP[1]}",
        f"OCSP - URI:{OCSP[0]}",
        f"CA Issuers - URI:{CA_ISSUERS[0]}",
        "Signature Algorithm: ecdsa-with-SHA256",
    ]:
        assert expected in text
