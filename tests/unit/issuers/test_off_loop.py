"""Both built-in issuers take their key from the context and sign in a worker thread.

The context is the one place keys are parsed (and, in the controllers, cached); signing off the
event loop keeps the controllers and an in-process API server responsive during a burst.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from certsmith.api.core import Secret
from certsmith.issuers import ca as ca_module
from certsmith.issuers import selfsigned as selfsigned_module
from certsmith.issuers.ca import CAIssuer
from certsmith.issuers.selfsigned import PRIVATE_KEY_SECRET_ANNOTATION, SelfSignedIssuer
from certsmith.pki.keys import PrivateKey
from tests.builders import (
    cached_ec_key,
    make_ca_secret,
    make_cert_request,
    make_issuer,
    make_secret,
    private_key_pem,
)
from tests.fakes import StaticIssuerContext
from tests.pkitools import make_root, pem


class CountingContext(StaticIssuerContext):
    """Records which Secrets' keys the issuer asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str]] = []

    async def private_key(self, secret: Secret, key: str = "tls.key") -> PrivateKey | None:
        self.asked.append((secret.name, key))
        return await super().private_key(secret, key)


def record_thread(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    threads: list[int] = []
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return threads


async def test_ca_issuer_signs_in_a_worker_thread_with_the_contexts_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = record_thread(monkeypatch, ca_module, "sign_with_ca")
    ctx = CountingContext()
    root, root_key = make_root("root")
    ctx.add(make_ca_secret(namespace="ns", chain_pem=pem(root), key_pem=private_key_pem(root_key)))
    await CAIssuer().sign(make_cert_request(), make_issuer(), ctx)
    assert ctx.asked == [("ca-key-pair", "tls.key")]
    assert threads
    assert threads[0] != threading.get_ident()


async def test_selfsigned_issuer_signs_in_a_worker_thread_with_the_contexts_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = record_thread(monkeypatch, selfsigned_module, "sign_certificate")
    ctx = CountingContext()
    key_pem = cached_ec_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ctx.add(make_secret("web-key", data={"tls.key": key_pem}, secret_type="Opaque"))
    request = make_cert_request(annotations={PRIVATE_KEY_SECRET_ANNOTATION: "web-key"})
    await SelfSignedIssuer().sign(request, make_issuer(selfSigned={}), ctx)
    assert ctx.asked == [("web-key", "tls.key")]
    assert threads
    assert threads[0] != threading.get_ident()
