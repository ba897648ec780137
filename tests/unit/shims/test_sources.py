"""What an Ingress, a Gateway API Gateway and an Istio Gateway ask for (SPEC §7 mapping)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from certsmith.controllers.shims.sources import gateway_targets, ingress_targets, istio_targets


def ingress(*tls: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "app", "namespace": "ns"}, "spec": {"tls": list(tls)}}


def test_ingress_asks_for_one_certificate_per_tls_entry() -> None:
    targets = ingress_targets(
        ingress(
            {"hosts": ["a.example.com", "10.0.0.1"], "secretName": "a-tls"},
            {"hosts": ["b.example.com"], "secretName": "b-tls"},
        )
    )
    assert targets.hosts == {"a-tls": ["a.example.com", "10.0.0.1"], "b-tls": ["b.example.com"]}
    assert targets.skipped == []
    assert targets.invalid is None
    assert targets.referenced == {"a-tls", "b-tls"}


def test_ingress_tls_entry_without_hosts_or_secret_is_skipped_with_both_reasons() -> None:
    targets = ingress_targets(ingress({"hosts": []}, {"hosts": ["b"], "secretName": "b-tls"}))
    assert targets.hosts == {"b-tls": ["b"]}
    assert targets.skipped == [
        "Skipped a TLS block: [spec.tls[0].hosts: Required value, "
        "spec.tls[0].secretName: Required value]"
    ]


def test_ingress_sharing_a_secret_name_is_invalid_as_a_whole() -> None:
    targets = ingress_targets(
        ingress({"hosts": ["a"], "secretName": "x"}, {"hosts": ["b"], "secretName": "x"})
    )
    assert targets.hosts == {}
    assert targets.invalid == (
        'spec.tls[0].secretName: Invalid value: "x": this secret name must only appear in a '
        "single TLS entry but is also used in spec.tls[1].secretName"
    )


def listener(name: str = "https", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "hostname": f"{name}.example.com",
        "port": 443,
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "certificateRefs": [{"name": f"{name}-tls"}]},
    }
    base.update(over)
    return base


@dataclass(frozen=True)
class ListenerCase:
    id: str
    listeners: list[dict[str, Any]]
    expect: dict[str, list[str]]
    skipped: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()


LISTENER_CASES = [
    ListenerCase("https_listener", [listener()], {"https-tls": ["https.example.com"]}),
    ListenerCase("tls_protocol", [listener(protocol="TLS")], {"https-tls": ["https.example.com"]}),
    ListenerCase("http_ignored", [listener(protocol="HTTP")], {}),
    ListenerCase("extra_protocol", [listener(protocol="DTLS")],
                 {"https-tls": ["https.example.com"]}, extra=("DTLS",)),
    ListenerCase("passthrough_ignored",
                 [listener(tls={"mode": "Passthrough", "certificateRefs": [{"name": "x"}]})], {}),
    ListenerCase("ignored_by_annotation", [listener("a"), listener("b")],
                 {"b-tls": ["b.example.com"]},
                 annotations={"cert-manager.io/ignore-tls-listeners": " a ,c"}),
    ListenerCase("defaults_of_the_crd", [listener(tls={"certificateRefs": [{"name": "d-tls"}]})],
                 {"d-tls": ["https.example.com"]}),
    ListenerCase("hosts_merged_per_secret",
                 [listener("a"), listener("b", tls={"certificateRefs": [{"name": "a-tls"}]})],
                 {"a-tls": ["a.example.com", "b.example.com"]}),
    ListenerCase("no_hostname", [listener(hostname="")], {},
                 ["Skipped a listener block: spec.listeners[0].hostname: Required value: the "
                  "hostname cannot be empty"]),
    ListenerCase("no_tls", [listener(tls=None)], {},
                 ["Skipped a listener block: spec.listeners[0].tls: Required value: the TLS block "
                  "cannot be empty"]),
    ListenerCase("no_refs", [listener(tls={"mode": "Terminate", "certificateRefs": []})], {},
                 ["Skipped a listener block: spec.listeners[0].tls.certificateRef: Required "
                  "value: listener has no certificateRefs"]),
    ListenerCase("foreign_ref",
                 [listener(tls={"certificateRefs": [
                     {"name": "x", "group": "cm.io", "kind": "Cert", "namespace": "other"}]})],
                 {},
                 ['Skipped a listener block: [spec.listeners[0].tls.certificateRef[0].group: '
                  'Unsupported value: "cm.io": supported values: "core", "", '
                  'spec.listeners[0].tls.certificateRef[0].kind: Unsupported value: "Cert": '
                  'supported values: "Secret", "", '
                  'spec.listeners[0].tls.certificateRef[0].namespace: Invalid value: "other": '
                  "cross-namespace secret references are not allowed in listeners]"]),
]  # fmt: skip


@pytest.mark.parametrize("case", LISTENER_CASES, ids=lambda c: c.id)
def test_gateway_listener_selection(case: ListenerCase) -> None:
    gateway = {
        "metadata": {"name": "gw", "namespace": "ns", "annotations": case.annotations},
        "spec": {"gatewayClassName": "x", "listeners": case.listeners},
    }
    targets = gateway_targets(gateway, case.extra)
    assert targets.hosts == case.expect
    assert targets.skipped == case.skipped


def test_gateway_references_every_tls_secret_even_of_skipped_listeners() -> None:
    gateway = {
        "metadata": {"name": "gw", "namespace": "ns"},
        "spec": {"listeners": [listener(protocol="HTTP"), listener("b", hostname="")]},
    }
    assert gateway_targets(gateway, ()).referenced == {"https-tls", "b-tls"}


def test_istio_gateway_maps_credential_name_and_hosts() -> None:
    gateway = {
        "metadata": {"name": "gw", "namespace": "istio-system"},
        "spec": {
            "servers": [
                {"port": {"number": 80, "protocol": "HTTP"}, "hosts": ["*"]},
                {
                    "port": {"number": 443, "protocol": "HTTPS"},
                    "hosts": ["bookinfo/a.example.com", "*", "*.b.example.com"],
                    "tls": {"mode": "SIMPLE", "credentialName": "a-cred"},
                },
                {"hosts": ["c.example.com"], "tls": {"mode": "PASSTHROUGH"}},
                {"hosts": ["*"], "tls": {"credentialName": "star-cred"}},
            ]
        },
    }
    targets = istio_targets(gateway, ())
    assert targets.hosts == {"a-cred": ["a.example.com", "*.b.example.com"]}
    assert targets.referenced == {"a-cred", "star-cred"}
    assert targets.skipped == [
        "Skipped a server block: spec.servers[3].hosts: Required value: no host names but '*'"
    ]
