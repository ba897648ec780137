"""Small builders for storage tests: keys, prefixes and valid-by-default objects."""

from __future__ import annotations

from typing import Any

from certsmith.apiserver.storage import ObjectKey, ResourcePrefix

GROUP = "cert-manager.io"
RESOURCE = "certificates"


def cert_key(name: str = "a", namespace: str = "ns") -> ObjectKey:
    return ObjectKey(GROUP, RESOURCE, namespace, name)


def certs(namespace: str | None = None) -> ResourcePrefix:
    return ResourcePrefix(GROUP, RESOURCE, namespace)


def make_cert(name: str = "a", namespace: str = "ns", *, secret: str = "tls") -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"secretName": secret, "dnsNames": [f"{name}.example.com"]},
    }


def secret_key(name: str = "s", namespace: str = "ns") -> ObjectKey:
    return ObjectKey("", "secrets", namespace, name)


def make_secret(name: str = "s", namespace: str = "ns") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"tls.crt": "AAAA"},
    }


def rv(obj: dict[str, Any]) -> str:
    value = obj["metadata"]["resourceVersion"]
    assert isinstance(value, str)
    return value


def names(items: list[dict[str, Any]]) -> list[str]:
    return [f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in items]
