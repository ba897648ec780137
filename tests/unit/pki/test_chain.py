from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from cryptography import x509

from certsmith.pki.chain import (
    Chain,
    ChainError,
    build_chain,
    is_self_signed,
    parse_and_build_chain,
)
from certsmith.pki.pem import PEMError, raw_issuer, raw_subject, split_pem_certificates
from tests.pkitools import key, make_cert, make_intermediate, make_leaf, make_root, pem

ROOT, ROOT_KEY = make_root("root", slot=0)
INTER, INTER_KEY = make_intermediate("intermediate", ROOT, ROOT_KEY, slot=1)
INTER2, INTER2_KEY = make_intermediate("intermediate 2", INTER, INTER_KEY, slot=2)
LEAF = make_leaf("leaf", INTER, INTER_KEY)
LEAF_OF_ROOT = make_leaf("leaf of root", ROOT, ROOT_KEY)
LEAF_OF_INTER2 = make_leaf("deep leaf", INTER2, INTER2_KEY)
OTHER_ROOT, _ = make_root("other root", slot=3)
# Same subject name as ROOT but a different key: the name matches, the signature does not.
IMPOSTOR_ROOT = make_cert("root", subject_key=key("p256", 4))


@dataclass(frozen=True)
class Case:
    id: str
    given: tuple[x509.Certificate, ...]
    chain: tuple[x509.Certificate, ...]
    ca: x509.Certificate


CASES = [
    Case("a lone self-signed root is both chain and ca", (ROOT,), (ROOT,), ROOT),
    Case(
        "leaf and root give the leaf as chain and the root as ca",
        (LEAF_OF_ROOT, ROOT),
        (LEAF_OF_ROOT,),
        ROOT,
    ),
    Case(
        "root, intermediate and leaf exclude the root from the chain",
        (LEAF, INTER, ROOT),
        (LEAF, INTER),
        ROOT,
    ),
    Case("input order does not matter", (ROOT, LEAF, INTER), (LEAF, INTER), ROOT),
    Case(
        "without a root the highest intermediate is the ca and stays in the chain",
        (INTER, LEAF),
        (LEAF, INTER),
        INTER,
    ),
    Case(
        "two intermediates without a root end at the highest one",
        (LEAF_OF_INTER2, INTER2, INTER),
        (LEAF_OF_INTER2, INTER2, INTER),
        INTER,
    ),
    Case(
        "two intermediates with a root separately appended as ca.crt",
        (INTER2, INTER, LEAF_OF_INTER2, ROOT),
        (LEAF_OF_INTER2, INTER2, INTER),
        ROOT,
    ),
    Case(
        "duplicates of the root (tls.crt and ca.crt both hold it) are dropped",
        (INTER, ROOT, LEAF, ROOT),
        (LEAF, INTER),
        ROOT,
    ),
    Case("duplicates of the leaf are dropped", (LEAF, LEAF, INTER), (LEAF, INTER), INTER),
    Case("a lone leaf is its own chain and ca", (LEAF,), (LEAF,), LEAF),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_build_chain_orders_leaf_first_and_splits_off_the_ca(case):
    assert build_chain(case.given) == Chain(chain_pem=pem(*case.chain), ca_pem=pem(case.ca))


BROKEN_CASES = [
    ("an unrelated ca.crt cannot be linked", (LEAF, INTER, ROOT, OTHER_ROOT)),
    ("a root whose name matches but whose key did not sign", (LEAF_OF_ROOT, IMPOSTOR_ROOT)),
    ("a missing intermediate leaves two pieces", (LEAF_OF_INTER2, INTER, ROOT)),
    ("two unrelated self-signed roots", (ROOT, OTHER_ROOT)),
    (
        "two leaves of the same issuer fork the chain",
        (LEAF, make_leaf("leaf b", INTER, INTER_KEY), INTER),
    ),
]


@pytest.mark.parametrize(("given"), [c[1] for c in BROKEN_CASES], ids=[c[0] for c in BROKEN_CASES])
def test_build_chain_rejects_sets_that_are_not_one_chain(given):
    with pytest.raises(ChainError, match=r"^certificate chain is malformed or broken$"):
        build_chain(given)


def test_build_chain_rejects_more_than_1000_unique_certificates():
    certs = [make_cert(f"cert {i}") for i in range(1001)]
    with pytest.raises(ChainError, match="too long"):
        build_chain(certs)


def test_build_chain_links_a_shuffled_1000_certificate_chain():
    certs = [ROOT]
    keys = [ROOT_KEY]
    k = key("p256", 6)
    for i in range(999):
        # One key for every level keeps the test fast; names keep the levels apart.
        certs.append(make_cert(f"level {i}", subject_key=k, issuer=certs[-1], issuer_key=keys[-1]))
        keys.append(k)
    shuffled = certs.copy()
    random.Random(0).shuffle(shuffled)
    chain = build_chain(shuffled)
    assert split_pem_certificates(chain.chain_pem) == list(reversed(certs[1:]))


def test_build_chain_rejects_an_empty_input():
    with pytest.raises(ChainError, match="no certificates"):
        build_chain([])


def test_parse_and_build_chain_reads_a_pem_bundle():
    assert parse_and_build_chain(pem(ROOT, INTER, LEAF)) == Chain(pem(LEAF, INTER), pem(ROOT))


def test_parse_and_build_chain_rejects_text_without_certificates():
    with pytest.raises(PEMError, match="no certificate found"):
        parse_and_build_chain(b"hello")


def test_split_pem_certificates_skips_other_blocks_and_text():
    data = (
        b"comment\n" + pem(LEAF) + b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"
    )
    assert split_pem_certificates(data + pem(ROOT)) == [LEAF, ROOT]


def test_split_pem_certificates_rejects_a_corrupt_block():
    bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(PEMError, match="error parsing certificate 1"):
        split_pem_certificates(pem(ROOT) + bad)


def test_raw_names_are_the_signed_der_names():
    assert raw_subject(LEAF) == LEAF.subject.public_bytes()
    assert raw_issuer(LEAF) == INTER.subject.public_bytes()


@pytest.mark.parametrize(
    ("cert", "expected"),
    [(ROOT, True), (INTER, False), (LEAF, False)],
    ids=["root", "intermediate", "leaf"],
)
def test_is_self_signed_needs_own_name_and_own_signature(cert, expected):
    assert is_self_signed(cert) is expected
