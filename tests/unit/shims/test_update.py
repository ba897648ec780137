"""When a shim updates a Certificate it controls: cert-manager's compared fields only."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from certsmith.controllers.shims.sync import needs_update

BASE: dict[str, Any] = {
    "metadata": {"name": "a-tls", "labels": {"app": "web"}},
    "spec": {
        "secretName": "a-tls",
        "dnsNames": ["a.example.com", "b.example.com"],
        "ipAddresses": ["10.0.0.1"],
        "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "usages": ["digital signature", "key encipherment"],
        "duration": "2160h0m0s",
        "privateKey": {"algorithm": "Ed25519", "size": 256},
    },
}


def changed(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target = obj
    for part in parents:
        target = target.setdefault(part, {})
    if value is None:
        target.pop(last, None)
    else:
        target[last] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "expect"),
    [
        ("metadata.labels", {"app": "api"}, True),
        ("metadata.labels", None, True),
        ("spec.commonName", "a.example.com", True),
        ("spec.dnsNames", ["b.example.com", "a.example.com"], True),
        ("spec.ipAddresses", ["10.0.0.2"], True),
        ("spec.issuerRef", {"name": "ca", "kind": "ClusterIssuer"}, True),
        ("spec.issuerRef", {"name": "le", "kind": "Issuer", "group": "cert-manager.io"}, True),
        ("spec.revisionHistoryLimit", 3, True),
        ("spec.privateKey", {"algorithm": "RSA"}, True),
        ("spec.renewBefore", "1h", True),
        ("spec.duration", "2160h", False),
        ("spec.duration", "720h", True),
        ("spec.usages", ["server auth"], False),
        ("spec.issuerRef", {"name": "le", "kind": "ClusterIssuer", "group": "other.io"}, False),
        ("spec.privateKey", {"algorithm": "Ed25519", "size": 4096}, False),
        ("spec.subject", {"organizations": ["Acme"]}, False),
        ("metadata.annotations", {"a": "b"}, False),
    ],
    ids=lambda v: str(v)[:40],
)
def test_needs_update_compares_cert_managers_fields_only(
    path: str, value: Any, expect: bool
) -> None:
    assert needs_update(BASE, changed(path, value)) is expect
