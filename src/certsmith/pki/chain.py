"""Chain building: turn a bag of certificates into ``status.certificate`` and ``status.ca``.

Decides the order and the split of an issued chain the way cert-manager's CA issuer does (SPEC
§4.3). The input is unordered (the CA secret's ``tls.crt`` and ``ca.crt`` plus the new leaf), may
repeat certificates, and may or may not include a self-signed root. A certificate links below
another only when its raw issuer DER equals the other's raw subject DER *and* the other's key
verifies its signature, so look-alike names never join unrelated chains. Anything that does not
reduce to exactly one chain is refused with cert-manager's message, because handing out a
partial chain would produce certificates clients cannot verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from certsmith.api.errors import CertsmithError
from certsmith.pki.pem import certificates_to_pem, raw_issuer, raw_subject, split_pem_certificates

__all__ = [
    "MAX_CHAIN_CERTIFICATES",
    "Chain",
    "ChainError",
    "build_chain",
    "is_self_signed",
    "parse_and_build_chain",
]

MAX_CHAIN_CERTIFICATES = 1000
"""More unique certificates than this are refused before any (quadratic) linking work."""

_BROKEN = "certificate chain is malformed or broken"


class ChainError(CertsmithError, ValueError):
    """The certificates do not form exactly one chain, or there are too many of them."""


@dataclass(frozen=True)
class Chain:
    """A built chain, PEM encoded.

    Attributes:
        chain_pem: leaf first, then its issuers upward, without a self-signed root
            (``status.certificate`` / ``tls.crt``).
        ca_pem: the root-most certificate: the self-signed root when present, else the
            highest intermediate (``status.ca`` / ``ca.crt``).
    """

    chain_pem: bytes
    ca_pem: bytes


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if raw_issuer(cert) != raw_subject(issuer):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        # ValueError: names or signature algorithm disagree; TypeError: key type that cannot
        # sign; InvalidSignature: a different key. None of them is a link.
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` names itself as issuer and its own key verifies its signature."""
    return _signed_by(cert, cert)


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out: list[x509.Certificate] = []
    for cert in certs:
        der = cert.tbs_certificate_bytes + cert.signature
        if der not in seen:
            seen.add(der)
            out.append(cert)
    return out


def _link(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    """Join single-certificate chains until one chain (leaf first) is left.

    Chains are indexed by their head's raw subject, so each step is a dictionary lookup plus
    signature checks on same-named candidates only; 1000 certificates stay cheap.
    """
    chains: dict[int, list[x509.Certificate]] = dict(enumerate([cert] for cert in certs))
    heads: dict[bytes, list[int]] = {}
    for cid, (cert,) in chains.items():
        heads.setdefault(raw_subject(cert), []).append(cid)
    changed = True
    while changed and len(chains) > 1:
        changed = False
        for cid in list(chains):
            chain = chains.get(cid)
            while chain is not None:
                tail = chain[-1]
                upper_id = next(
                    (
                        other
                        for other in heads.get(raw_issuer(tail), ())
                        if other != cid and _signed_by(tail, chains[other][0])
                    ),
                    None,
                )
                if upper_id is None:
                    break
                upper = chains.pop(upper_id)
                heads[raw_subject(upper[0])].remove(upper_id)
                chain.extend(upper)
                changed = True
    if len(chains) != 1:
        raise ChainError(_BROKEN)
    return next(iter(chains.values()))


def build_chain(certs: Sequence[x509.Certificate]) -> Chain:
    """Order ``certs`` into one chain and split off the CA, as SPEC §4.3 describes.

    Args:
        certs: certificates in any order, duplicates allowed.

    Returns:
        The chain PEM (leaf first, self-signed root excluded) and the CA PEM (root-most
        certificate). A lone self-signed certificate is both.

    Raises:
        ChainError: no certificates, more than ``MAX_CHAIN_CERTIFICATES`` unique ones, or they do
            not reduce to a single chain (``certificate chain is malformed or broken``).
    """
    unique = _unique(certs)
    if not unique:
        raise ChainError("no certificates to build a chain from")
    if len(unique) > MAX_CHAIN_CERTIFICATES:
        raise ChainError(
            f"certificate chain is too long: {len(unique)} unique certificates, "
            f"at most {MAX_CHAIN_CERTIFICATES} allowed"
        )
    ordered = _link(unique)
    root = ordered[-1]
    body = ordered[:-1] if len(ordered) > 1 and is_self_signed(root) else ordered
    return Chain(chain_pem=certificates_to_pem(body), ca_pem=certificates_to_pem([root]))


def parse_and_build_chain(pem: bytes) -> Chain:
    """Split a PEM bundle into certificates and build the chain from them.

    Args:
        pem: one or more PEM ``CERTIFICATE`` blocks in any order.

    Returns:
        The chain and CA PEM, as from ``build_chain``.

    Raises:
        PEMError: the bundle holds no certificate or an unparseable one.
        ChainError: the certificates do not form one chain.
    """
    return build_chain(split_pem_certificates(pem))
