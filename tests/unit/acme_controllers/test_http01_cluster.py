"""HTTP-01 cluster mode: the solver Pod, Service, Ingress and HTTPRoute as built (SPEC §6.6)."""

from __future__ import annotations

from typing import Any

import pytest

from certsmith.api.acme import Challenge
from certsmith.controllers.acme.http01cluster import (
    SolverPodSettings,
    add_ingress_path,
    build_http_route,
    build_ingress,
    build_pod,
    build_service,
    covers,
    identity_labels,
    remove_ingress_path,
)

TOKEN = "tok-123"
PATH = f"/.well-known/acme-challenge/{TOKEN}"
SETTINGS = SolverPodSettings(image="registry.test/certsmith:9")


def challenge(
    http01: dict[str, Any] | None = None, dns_name: str = "web.example.test"
) -> Challenge:
    return Challenge.from_dict(
        {
            "metadata": {"name": "web-1-2-3", "namespace": "apps", "uid": "uid-ch"},
            "spec": {
                "url": "https://acme.test/chall/1",
                "authorizationURL": "https://acme.test/authz/1",
                "dnsName": dns_name,
                "type": "HTTP-01",
                "token": TOKEN,
                "key": f"{TOKEN}.thumb",
                "solver": {"http01": http01 if http01 is not None else {"ingress": {}}},
                "issuerRef": {"name": "le"},
            },
        }
    )


def adler32(text: str) -> str:
    """RFC 1950's Adler-32 (Go's hash/adler32.Checksum), written out, as a decimal string."""
    a, b = 1, 0
    for byte in text.encode():
        a = (a + byte) % 65521
        b = (b + a) % 65521
    return str(b << 16 | a)


LABELS = {
    "acme.cert-manager.io/http-domain": adler32("web.example.test"),
    "acme.cert-manager.io/http-token": adler32(TOKEN),
    "acme.cert-manager.io/http01-solver": "true",
}
OWNER = {
    "apiVersion": "acme.cert-manager.io/v1",
    "kind": "Challenge",
    "name": "web-1-2-3",
    "uid": "uid-ch",
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_identity_labels_are_adler32_of_the_name_and_token() -> None:
    assert identity_labels("web.example.test", TOKEN) == LABELS
    # RFC 1950's example: Adler-32 of "Wikipedia" is 0x11E60398.
    assert adler32("Wikipedia") == str(0x11E60398)


def test_pod_runs_acmesolver_with_the_challenge_args_non_root() -> None:
    pod = build_pod(challenge(), SETTINGS)
    meta = pod["metadata"]
    assert meta["generateName"] == "cm-acme-http-solver-"
    assert meta["namespace"] == "apps"
    assert meta["labels"] == LABELS
    assert meta["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert meta["ownerReferences"] == [OWNER]
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "acmesolver"
    assert container["image"] == "registry.test/certsmith:9"
    assert container["command"] == ["certsmith", "acmesolver"]
    assert container["args"] == [
        "--listen-port=8089",
        "--domain=web.example.test",
        f"--token={TOKEN}",
        f"--key={TOKEN}.thumb",
    ]
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_pod_template_is_merged() -> None:
    template = {
        "metadata": {"labels": {"team": "web"}, "annotations": {"sidecar.istio.io/inject": "true"}},
        "spec": {
            "nodeSelector": {"pool": "edge"},
            "tolerations": [{"key": "edge", "operator": "Exists"}],
            "serviceAccountName": "solver",
            "priorityClassName": "low",
            "resources": {"requests": {"cpu": "1m"}},
        },
    }
    pod = build_pod(challenge({"ingress": {"podTemplate": template}}), SETTINGS)
    assert pod["metadata"]["labels"] == {**LABELS, "team": "web"}
    assert pod["metadata"]["annotations"] == {"sidecar.istio.io/inject": "true"}
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "edge"}
    assert spec["tolerations"] == [{"key": "edge", "operator": "Exists"}]
    assert spec["serviceAccountName"] == "solver"
    assert spec["priorityClassName"] == "low"
    assert spec["containers"][0]["resources"] == {"requests": {"cpu": "1m"}}
    # The pod template of a gatewayHTTPRoute solver is merged the same way.
    route_pod = build_pod(challenge({"gatewayHTTPRoute": {"podTemplate": template}}), SETTINGS)
    assert route_pod["spec"]["serviceAccountName"] == "solver"


@pytest.mark.parametrize(
    ("http01", "expected"),
    [
        ({"ingress": {}}, "NodePort"),
        ({"ingress": {"serviceType": "ClusterIP"}}, "ClusterIP"),
        ({"gatewayHTTPRoute": {}}, "NodePort"),
        ({"gatewayHTTPRoute": {"serviceType": "ClusterIP"}}, "ClusterIP"),
    ],
)
def test_service_type(http01: dict[str, Any], expected: str) -> None:
    service = build_service(challenge(http01))
    assert service["spec"]["type"] == expected
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8089, "targetPort": 8089, "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == LABELS
    assert service["metadata"]["labels"] == LABELS
    assert service["metadata"]["ownerReferences"] == [OWNER]


WHITELIST = "nginx.ingress.kubernetes.io/whitelist-source-range"


@pytest.mark.parametrize(
    ("ingress", "class_name", "annotations"),
    [
        ({}, None, {WHITELIST: "0.0.0.0/0,::/0"}),
        (
            {"class": "nginx"},
            None,
            {WHITELIST: "0.0.0.0/0,::/0", "kubernetes.io/ingress.class": "nginx"},
        ),
        ({"ingressClassName": "traefik"}, "traefik", {WHITELIST: "0.0.0.0/0,::/0"}),
        (
            {"ingressTemplate": {"metadata": {"annotations": {WHITELIST: "10.0.0.0/8"}}}},
            None,
            {WHITELIST: "10.0.0.0/8"},
        ),
        (
            {"ingressTemplate": {"metadata": {"annotations": {"a": "b"}}}},
            None,
            {WHITELIST: "0.0.0.0/0,::/0", "a": "b"},
        ),
    ],
)
def test_new_ingress_class_and_annotations(
    ingress: dict[str, Any], class_name: str | None, annotations: dict[str, str]
) -> None:
    built = build_ingress(challenge({"ingress": ingress}), "cm-acme-http-solver-abcde")
    assert built["metadata"]["generateName"] == "cm-acme-http-solver-"
    assert built["metadata"]["annotations"] == annotations
    assert built["spec"].get("ingressClassName") == class_name
    assert built["metadata"]["ownerReferences"] == [OWNER]
    assert built["spec"]["rules"] == [
        {
            "host": "web.example.test",
            "http": {
                "paths": [
                    {
                        "path": PATH,
                        "pathType": "Exact",
                        "backend": {
                            "service": {
                                "name": "cm-acme-http-solver-abcde",
                                "port": {"number": 8089},
                            }
                        },
                    }
                ]
            },
        }
    ]


def test_ingress_template_labels_are_added() -> None:
    built = build_ingress(
        challenge({"ingress": {"ingressTemplate": {"metadata": {"labels": {"x": "y"}}}}}), "svc"
    )
    assert built["metadata"]["labels"] == {**LABELS, "x": "y"}


def test_ip_identifier_ingress_rule_has_no_host() -> None:
    built = build_ingress(challenge(dns_name="192.0.2.7"), "svc")
    assert "host" not in built["spec"]["rules"][0]


def existing_ingress() -> dict[str, Any]:
    backend = {"service": {"name": "app", "port": {"number": 80}}}
    return {
        "metadata": {"name": "app"},
        "spec": {
            "rules": [
                {
                    "host": "web.example.test",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                },
                {
                    "host": "other.test",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                },
            ]
        },
    }


def test_edit_in_place_adds_the_path_to_the_hosts_rule_once_then_removes_it() -> None:
    ch = challenge({"ingress": {"name": "app"}})
    ingress = existing_ingress()
    before = existing_ingress()
    assert add_ingress_path(ingress, ch, "svc")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == [PATH, "/"]
    assert paths[0]["pathType"] == "Exact"
    assert ingress["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert not add_ingress_path(ingress, ch, "svc")
    assert add_ingress_path(ingress, ch, "other-svc")  # a stale backend is replaced
    assert len(ingress["spec"]["rules"][0]["http"]["paths"]) == 2
    assert remove_ingress_path(ingress, ch)
    assert ingress == before
    assert not remove_ingress_path(ingress, ch)


def test_edit_in_place_without_a_rule_for_the_host_adds_one_and_cleanup_drops_it() -> None:
    ch = challenge({"ingress": {"name": "app"}}, dns_name="new.example.test")
    ingress = existing_ingress()
    assert add_ingress_path(ingress, ch, "svc")
    assert ingress["spec"]["rules"][-1]["host"] == "new.example.test"
    assert remove_ingress_path(ingress, ch)
    assert ingress == existing_ingress()


@pytest.mark.parametrize(
    ("route", "labels"),
    [
        ({"parentRefs": [{"name": "gw", "kind": "Gateway"}]}, LABELS),
        (
            {"parentRefs": [{"name": "gw", "namespace": "infra"}], "labels": {"route": "acme"}},
            {**LABELS, "route": "acme"},
        ),
    ],
)
def test_http_route(route: dict[str, Any], labels: dict[str, str]) -> None:
    built = build_http_route(challenge({"gatewayHTTPRoute": route}), "svc")
    assert built["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert built["metadata"]["labels"] == labels
    assert built["metadata"]["ownerReferences"] == [OWNER]
    assert built["spec"] == {
        "parentRefs": route["parentRefs"],
        "hostnames": ["web.example.test"],
        "rules": [
            {
                "matches": [{"path": {"type": "Exact", "value": PATH}}],
                "backendRefs": [
                    {
                        "group": "",
                        "kind": "Service",
                        "name": "svc",
                        "namespace": "apps",
                        "port": 8089,
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("existing", "wanted", "expected"),
    [
        ({"type": "NodePort", "clusterIP": "10.0.0.1"}, {"type": "NodePort"}, True),
        ({"ports": [{"port": 8089, "nodePort": 30001}]}, {"ports": [{"port": 8089}]}, True),
        ({"ports": [{"port": 8089}]}, {"ports": [{"port": 8089}]}, True),
        ({"type": "ClusterIP"}, {"type": "NodePort"}, False),
        ({"args": ["--key=a"]}, {"args": ["--key=b"]}, False),
        ({"args": ["a", "b"]}, {"args": ["a"]}, False),
        ({}, {"selector": {"a": "b"}}, False),
    ],
)
def test_covers_ignores_only_server_filled_fields(
    existing: dict[str, Any], wanted: dict[str, Any], expected: bool
) -> None:
    assert covers(existing, wanted) is expected
