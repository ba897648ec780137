"""The ACME steps integration tests repeat: solve authorizations, finalize, verify a chain."""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith.acme import (
    AcmeClient,
    Authorization,
    CertificateChain,
    ChallengeType,
    Identifier,
    Order,
    Status,
    dns01_record_name,
)
from tests.peers.pebble import ChallTestSrv, Http01Responder, Pebble, http01_responder


def account_key() -> ec.EllipticCurvePrivateKey:
    """A fresh account key, so every test has its own account."""
    return ec.generate_private_key(ec.SECP256R1())


def csr_der(
    identifiers: Sequence[Identifier], key: ec.EllipticCurvePrivateKey | None = None
) -> bytes:
    """A CSR (DER) for the identifiers, with ``key`` or a fresh P-256 key."""
    names: list[x509.GeneralName] = []
    for ident in identifiers:
        if ident.type == "ip":
            names.append(x509.IPAddress(ipaddress.ip_address(ident.value)))
        else:
            names.append(x509.DNSName(ident.value))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key or ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


async def solve_http01(
    client: AcmeClient, authz: Authorization, responder: Http01Responder
) -> None:
    """Serve the key authorization and tell the server to validate."""
    challenge = authz.challenge(ChallengeType.HTTP01)
    assert challenge is not None, f"no http-01 challenge in {authz}"
    responder.tokens[challenge.token] = client.key_authorization(challenge.token)
    await client.accept_challenge(challenge)


async def solve_dns01(client: AcmeClient, authz: Authorization, dns: ChallTestSrv) -> None:
    """Publish the TXT record in challtestsrv and tell the server to validate."""
    challenge = authz.challenge(ChallengeType.DNS01)
    assert challenge is not None, f"no dns-01 challenge in {authz}"
    dns.set_txt(dns01_record_name(authz.identifier.value), client.dns01_txt_value(challenge.token))
    await client.accept_challenge(challenge)


async def authorize(
    client: AcmeClient,
    order: Order,
    *,
    responder: Http01Responder | None = None,
    dns: ChallTestSrv | None = None,
) -> list[Authorization]:
    """Solve every pending authorization of ``order`` (HTTP-01 or DNS-01); return them final."""
    done = []
    for url in order.authorizations:
        authz = await client.get_authorization(url)
        if authz.status == Status.PENDING:
            if dns is not None:
                await solve_dns01(client, authz, dns)
            else:
                assert responder is not None
                await solve_http01(client, authz, responder)
            authz = await client.wait_authorization(url, max_wait=60)
        done.append(authz)
    return done


async def finalize(client: AcmeClient, order: Order) -> tuple[Order, CertificateChain]:
    """Wait for ``ready``, finalize with a fresh CSR, wait for ``valid``, download the chain."""
    order = await client.wait_order(order.url, max_wait=60)
    assert order.status == Status.READY, order
    order = await client.finalize_order(order, csr_der(order.identifiers))
    order = await client.wait_order(order.url, max_wait=60)
    assert order.status == Status.VALID, order
    assert order.certificate is not None
    return order, await client.fetch_certificate(order.certificate)


def openssl_verify(chain: CertificateChain, root_pem: bytes, tmp: Path) -> str:
    """``openssl verify`` the leaf against ``root_pem`` with the chain's intermediates."""
    certs = chain.certificates
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "root.pem").write_bytes(root_pem)
    (tmp / "leaf.pem").write_bytes(certs[0].public_bytes(serialization.Encoding.PEM))
    (tmp / "untrusted.pem").write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs[1:])
    )
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp / "root.pem"),
            "-untrusted",
            str(tmp / "untrusted.pem"),
            str(tmp / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.stdout + result.stderr


async def issue_http01(
    client: AcmeClient, pebble: Pebble, identifiers: Sequence[Identifier], **order_options: Any
) -> tuple[Order, CertificateChain]:
    """Order ``identifiers``, solve by HTTP-01 on pebble's ``http_port``, finalize, download."""
    async with http01_responder(pebble.http_port) as responder:
        order = await client.new_order(identifiers, **order_options)
        await authorize(client, order, responder=responder)
        return await finalize(client, order)
