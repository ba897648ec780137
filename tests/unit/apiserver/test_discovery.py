from pathlib import Path

import pytest
import yaml

from certsmith.apiserver.discovery import (
    AGGREGATED_CONTENT_TYPE,
    DiscoveryFormat,
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    negotiate,
    root_discovery,
    storage_version_hash,
    version_info,
)
from certsmith.apiserver.resources import ResourceRegistry, default_registry

CRD_DIR = Path(__file__).resolve().parents[3] / "../shared/reference/crds"
needs_crds = pytest.mark.skipif(not CRD_DIR.is_dir(), reason="reference CRDs not available")

KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def registry() -> ResourceRegistry:
    crds = [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("cert-manager.io_*.yaml"))]
    return default_registry(crds)


NEGOTIATE_CASES = [
    ("kubectl aggregated first", KUBECTL_ACCEPT, DiscoveryFormat.AGGREGATED),
    ("star star", "*/*", DiscoveryFormat.LEGACY),
    ("no header", None, DiscoveryFormat.LEGACY),
    ("plain json", "application/json", DiscoveryFormat.LEGACY),
    ("json listed before aggregated", "application/json," + KUBECTL_ACCEPT, DiscoveryFormat.LEGACY),
    (
        "only v2beta1",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        DiscoveryFormat.LEGACY,
    ),
    (
        "spaces and reordered params",
        "application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io",
        DiscoveryFormat.AGGREGATED,
    ),
    (
        "protobuf then json",
        "application/vnd.kubernetes.protobuf, application/json",
        DiscoveryFormat.LEGACY,
    ),
]


@pytest.mark.parametrize(
    ("accept", "expected"), [c[1:] for c in NEGOTIATE_CASES], ids=[c[0] for c in NEGOTIATE_CASES]
)
def test_negotiate_picks_the_first_servable_accept_entry(accept, expected):
    assert negotiate(accept) is expected


def test_version_reports_kubernetes_1_32():
    body = version_info()
    assert (body["major"], body["minor"], body["gitVersion"]) == ("1", "32", "v1.32.0")
    assert set(body) == {
        "major",
        "minor",
        "gitVersion",
        "gitCommit",
        "gitTreeState",
        "buildDate",
        "goVersion",
        "compiler",
        "platform",
    }


def test_api_versions_is_the_legacy_core_document():
    assert api_versions("127.0.0.1:8080") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:8080"}
        ],
    }


@needs_crds
def test_api_group_list_names_every_non_core_group_with_preferred_version():
    body = api_group_list(registry())
    assert body["kind"] == "APIGroupList"
    assert body["apiVersion"] == "v1"
    assert "" not in [g["name"] for g in body["groups"]]
    assert body["groups"][-1] == {
        "name": "cert-manager.io",
        "versions": [{"groupVersion": "cert-manager.io/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "cert-manager.io/v1", "version": "v1"},
    }


def test_api_group_of_an_unknown_group_is_none():
    assert api_group(default_registry(), "nope.io") is None


def test_api_group_describes_one_group():
    assert api_group(default_registry(), "coordination.k8s.io") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "coordination.k8s.io",
        "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"},
    }


@needs_crds
def test_resource_list_has_certificates_and_their_status_entry():
    body = api_resource_list(registry(), "cert-manager.io", "v1")
    assert body is not None
    assert (body["kind"], body["apiVersion"], body["groupVersion"]) == (
        "APIResourceList",
        "v1",
        "cert-manager.io/v1",
    )
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["certificates"] == {
        "name": "certificates",
        "singularName": "certificate",
        "namespaced": True,
        "kind": "Certificate",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["cert", "certs"],
        "categories": ["cert-manager"],
        "storageVersionHash": storage_version_hash("cert-manager.io", "v1", "Certificate"),
    }
    assert by_name["certificates/status"] == {
        "name": "certificates/status",
        "singularName": "",
        "namespaced": True,
        "kind": "Certificate",
        "verbs": ["get", "patch", "update"],
    }
    assert by_name["clusterissuers"]["namespaced"] is False


def test_core_resource_list_has_no_api_version_and_lists_namespace_status():
    body = api_resource_list(default_registry(), "", "v1")
    assert body is not None
    assert "apiVersion" not in body
    assert body["groupVersion"] == "v1"
    names = [r["name"] for r in body["resources"]]
    assert names == [
        "namespaces",
        "namespaces/status",
        "secrets",
        "configmaps",
        "events",
        "pods",
        "pods/status",
        "services",
        "services/status",
    ]


def test_resource_list_of_an_unserved_group_version_is_none():
    assert api_resource_list(default_registry(), "cert-manager.io", "v2") is None


def test_storage_version_hash_matches_the_apiserver_algorithm():
    # sha256("/v1/Secret")[:8], base64: the value a real cluster reports for core v1 secrets.
    assert storage_version_hash("", "v1", "Secret") == "S6u1pOWzb84="


@needs_crds
def test_aggregated_apis_entry_for_certificates_matches_k8s_api_3_2():
    body = aggregated_discovery(registry(), core=False)
    assert (body["kind"], body["apiVersion"], body["metadata"]) == (
        "APIGroupDiscoveryList",
        "apidiscovery.k8s.io/v2",
        {},
    )
    [group] = [g for g in body["items"] if g["metadata"].get("name") == "cert-manager.io"]
    assert group["metadata"] == {"name": "cert-manager.io", "creationTimestamp": None}
    [version] = group["versions"]
    assert (version["version"], version["freshness"]) == ("v1", "Current")
    [cert] = [r for r in version["resources"] if r["resource"] == "certificates"]
    kind = {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"}
    assert cert == {
        "resource": "certificates",
        "responseKind": kind,
        "scope": "Namespaced",
        "singularResource": "certificate",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["cert", "certs"],
        "categories": ["cert-manager"],
        "subresources": [
            {"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}
        ],
    }


def test_aggregated_api_has_one_unnamed_core_item():
    body = aggregated_discovery(default_registry(), core=True)
    [item] = body["items"]
    assert item["metadata"] == {"creationTimestamp": None}
    [version] = item["versions"]
    assert version["version"] == "v1"
    secrets = next(r for r in version["resources"] if r["resource"] == "secrets")
    assert secrets["responseKind"] == {"group": "", "version": "v1", "kind": "Secret"}
    namespaces = next(r for r in version["resources"] if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"


def test_root_discovery_answers_kubectl_with_the_exact_aggregated_content_type():
    content_type, body = root_discovery(default_registry(), core=False, accept=KUBECTL_ACCEPT)
    assert content_type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert content_type == AGGREGATED_CONTENT_TYPE
    assert body["kind"] == "APIGroupDiscoveryList"


@pytest.mark.parametrize(("core", "kind"), [(True, "APIVersions"), (False, "APIGroupList")])
def test_root_discovery_answers_star_star_with_legacy_json(core, kind):
    content_type, body = root_discovery(default_registry(), core=core, accept="*/*")
    assert content_type == "application/json"
    assert body["kind"] == kind
