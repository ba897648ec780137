"""Builders for DNS-01 tests: Challenges with a dns01 solver, Secrets, and a Secret store."""

from __future__ import annotations

import dataclasses
from typing import Any

from certsmith.acme.dns01 import DNS01Settings, Nameserver
from certsmith.api.acme import Challenge
from certsmith.api.core import Secret
from certsmith.api.meta import encode_bytes
from tests.peers.bind9 import Bind9


def make_dns01_challenge(
    dns01: dict[str, Any],
    *,
    dns_name: str = "www.example.test",
    key: str = "txt-value",
    namespace: str = "ns",
    wildcard: bool = False,
) -> Challenge:
    """A DNS-01 Challenge whose solver is ``{"dns01": dns01}``."""
    return Challenge.from_dict(
        {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Challenge",
            "metadata": {"name": "chal", "namespace": namespace, "uid": "uid-1"},
            "spec": {
                "authorizationURL": "https://acme.test/authz/1",
                "dnsName": dns_name,
                "issuerRef": {"name": "acme", "kind": "Issuer"},
                "key": key,
                "solver": {"dns01": dns01},
                "token": "token-1",
                "type": "DNS-01",
                "url": "https://acme.test/chall/1",
                "wildcard": wildcard,
            },
        }
    )


def make_opaque_secret(name: str, data: dict[str, str], *, namespace: str = "ns") -> Secret:
    """An Opaque Secret holding ``data`` (plain text values, stored base64 as the API does)."""
    return Secret.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "data": {k: encode_bytes(v.encode()) for k, v in data.items()},
        }
    )


class SecretStore:
    """An in-memory ``get_secret(namespace, name)`` (the shape DNS01Solver takes)."""

    def __init__(self, *secrets: Secret) -> None:
        self.secrets = {(s.namespace, s.name): s for s in secrets}
        self.reads: list[tuple[str, str]] = []

    def put(self, secret: Secret) -> None:
        self.secrets[(secret.namespace, secret.name)] = secret

    async def __call__(self, namespace: str, name: str) -> Secret | None:
        self.reads.append((namespace, name))
        return self.secrets.get((namespace, name))


def bind9_settings(bind9: Bind9, **overrides: Any) -> DNS01Settings:
    """Settings that look everything up on ``bind9`` and ask its NS on its loopback port."""
    settings = DNS01Settings(
        recursive_nameservers=(Nameserver("127.0.0.1", bind9.port),),
        authoritative_port=bind9.port,
        query_timeout=5,
        update_timeout=5,
    )
    return dataclasses.replace(settings, **overrides)


def bind9_rfc2136(bind9: Bind9, algorithm: str = "HMACSHA256", **fields: Any) -> dict[str, Any]:
    """A dns01 solver updating ``bind9`` with its ``algorithm`` key (Secret ``tsig``/``secret``)."""
    return {
        "rfc2136": {
            "nameserver": bind9.address,
            "tsigKeyName": bind9.keys[algorithm].name,
            "tsigAlgorithm": algorithm,
            "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
        }
        | fields
    }


def bind9_tsig_store(
    bind9: Bind9, algorithm: str = "HMACSHA256", *, secret: str | None = None
) -> SecretStore:
    """Secret ``ns/tsig`` holding ``secret`` (default: the real secret of ``algorithm``'s key)."""
    value = bind9.keys[algorithm].secret if secret is None else secret
    return SecretStore(make_opaque_secret("tsig", {"secret": value}))
