"""Builders for DNS-01 tests: Challenges with a dns01 solver, Secrets, and a Secret store."""

from __future__ import annotations

from typing import Any

from certsmith.api.acme import Challenge
from certsmith.api.core import Secret
from certsmith.api.meta import encode_bytes


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
