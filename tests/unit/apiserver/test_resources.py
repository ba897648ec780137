from pathlib import Path
from typing import Any

import pytest
import yaml

from certsmith.apiserver.resources import (
    PrinterColumn,
    ResourceRegistry,
    ResourceType,
    builtin_types,
    default_registry,
    version_priority,
)

CRD_DIR = Path(__file__).resolve().parents[3] / "../shared/reference/crds"
needs_crds = pytest.mark.skipif(not CRD_DIR.is_dir(), reason="reference CRDs not available")


def load_crd(name: str) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((CRD_DIR / name).read_text())
    return crd


def all_crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]


@needs_crds
def test_certificate_crd_becomes_one_namespaced_v1_resource_with_status():
    [rt] = ResourceType.from_crd(load_crd("cert-manager.io_certificates.yaml"))
    assert (rt.group, rt.version, rt.plural, rt.singular, rt.kind, rt.list_kind) == (
        "cert-manager.io",
        "v1",
        "certificates",
        "certificate",
        "Certificate",
        "CertificateList",
    )
    assert rt.namespaced
    assert rt.short_names == ("cert", "certs")
    assert rt.categories == ("cert-manager",)
    assert rt.subresources == ("status",)
    assert rt.is_custom
    assert rt.schema["properties"]["spec"]["required"][:1] == ["issuerRef"]


@needs_crds
def test_certificaterequest_crd_printer_columns_are_read_in_order():
    [rt] = ResourceType.from_crd(load_crd("cert-manager.io_certificaterequests.yaml"))
    assert [(c.name, c.type, c.priority) for c in rt.printer_columns] == [
        ("Approved", "string", 0),
        ("Denied", "string", 0),
        ("Ready", "string", 0),
        ("Issuer", "string", 0),
        ("Requester", "string", 0),
        ("Status", "string", 1),
        ("Age", "date", 0),
    ]
    assert rt.printer_columns[0].json_path == '.status.conditions[?(@.type == "Approved")].status'


@needs_crds
def test_clusterissuer_crd_is_cluster_scoped():
    [rt] = ResourceType.from_crd(load_crd("cert-manager.io_clusterissuers.yaml"))
    assert not rt.namespaced
    assert rt.short_names == ("ciss",)


def test_crd_lists_only_served_versions_storage_first():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {"name": "v1alpha1", "served": False, "storage": False},
                {"name": "v1beta1", "served": True, "storage": False},
                {"name": "v1", "served": True, "storage": True},
            ],
        },
    }
    types = ResourceType.from_crd(crd)
    assert [t.version for t in types] == ["v1", "v1beta1"]
    assert types[0].singular == "widget"
    assert types[0].list_kind == "WidgetList"
    assert types[0].schema == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


@pytest.mark.parametrize(
    ("crd", "message"),
    [
        ({"kind": "Secret", "apiVersion": "v1"}, "expected kind CustomResourceDefinition"),
        (
            {"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1beta1"},
            "expected apiextensions.k8s.io/v1",
        ),
        (
            {"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1"},
            "has no spec",
        ),
        (
            {
                "kind": "CustomResourceDefinition",
                "apiVersion": "apiextensions.k8s.io/v1",
                "spec": {"group": "g", "names": {"plural": "xs"}},
            },
            "needs spec.group",
        ),
    ],
    ids=["wrong kind", "wrong version", "no spec", "no kind"],
)
def test_from_crd_rejects_manifests_that_are_not_v1_crds(crd, message):
    with pytest.raises(ValueError, match=message):
        ResourceType.from_crd(crd)


def test_resource_type_rejects_uppercase_plural():
    with pytest.raises(ValueError, match="plural must be lowercase"):
        ResourceType(
            group="g",
            version="v1",
            plural="Xs",
            singular="x",
            kind="X",
            list_kind="XList",
            namespaced=True,
        )


def test_resource_type_rejects_a_string_for_short_names():
    with pytest.raises(TypeError, match="short_names must be a tuple"):
        ResourceType(
            group="g",
            version="v1",
            plural="xs",
            singular="x",
            kind="X",
            list_kind="XList",
            namespaced=True,
            short_names="x",  # type: ignore[arg-type]
        )


BUILTIN_CASES = [
    ("", "namespaces", "Namespace", False, ("ns",), False),
    ("", "secrets", "Secret", True, (), False),
    ("", "configmaps", "ConfigMap", True, ("cm",), False),
    ("", "events", "Event", True, ("ev",), False),
    ("coordination.k8s.io", "leases", "Lease", True, (), False),
    ("rbac.authorization.k8s.io", "roles", "Role", True, (), False),
    ("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False, (), False),
    ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", True, (), False),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False, (), False),
    ("networking.k8s.io", "ingresses", "Ingress", True, ("ing",), False),
    ("networking.k8s.io", "ingressclasses", "IngressClass", False, (), False),
    ("gateway.networking.k8s.io", "gateways", "Gateway", True, ("gtw",), True),
    ("gateway.networking.k8s.io", "httproutes", "HTTPRoute", True, (), True),
    ("networking.istio.io", "gateways", "Gateway", True, ("gw",), True),
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        False,
    ),
]


@pytest.mark.parametrize(
    ("group", "plural", "kind", "namespaced", "short_names", "is_custom"),
    BUILTIN_CASES,
    ids=[f"{c[1]}.{c[0]}" for c in BUILTIN_CASES],
)
def test_builtin_is_registered_like_real_kubernetes(
    group, plural, kind, namespaced, short_names, is_custom
):
    rt = default_registry().get(group, "v1", plural)
    assert rt is not None
    assert (rt.kind, rt.namespaced, rt.short_names, rt.is_custom) == (
        kind,
        namespaced,
        short_names,
        is_custom,
    )


def test_namespace_has_no_deletecollection_verb():
    rt = default_registry().get("", "v1", "namespaces")
    assert rt is not None
    assert "deletecollection" not in rt.verbs


def test_secret_printer_columns_are_type_data_age():
    rt = default_registry().get("", "v1", "secrets")
    assert rt is not None
    assert [c.name for c in rt.printer_columns] == ["Type", "Data", "Age"]


def test_builtin_schemas_are_objects_with_metadata():
    for rt in builtin_types():
        assert rt.schema["type"] == "object"
        assert "metadata" in rt.schema["properties"], rt.kind


@needs_crds
def test_registry_finds_resources_by_url_kind_short_name_and_category():
    registry = default_registry(all_crds())
    cert = registry.get("cert-manager.io", "v1", "certificates")
    assert cert is not None
    assert registry.by_kind("cert-manager.io", "Certificate") is cert
    assert registry.by_short_name("cert") == [cert]
    assert [rt.plural for rt in registry.by_category("cert-manager")] == [
        "challenges",
        "orders",
        "certificaterequests",
        "certificates",
        "clusterissuers",
        "issuers",
    ]


@needs_crds
def test_registry_lists_core_group_first_and_groups_in_registration_order():
    registry = default_registry(all_crds())
    assert registry.groups() == [
        "",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "gateway.networking.k8s.io",
        "networking.istio.io",
        "apiextensions.k8s.io",
        "acme.cert-manager.io",
        "cert-manager.io",
    ]


def test_registry_remove_forgets_every_version_and_the_empty_group():
    registry = ResourceRegistry()
    for version in ("v1", "v1beta1"):
        registry.register(
            ResourceType(
                group="g.io",
                version=version,
                plural="xs",
                singular="x",
                kind="X",
                list_kind="XList",
                namespaced=True,
            )
        )
    assert registry.versions("g.io") == ["v1", "v1beta1"]
    registry.remove("g.io", "xs")
    assert len(registry) == 0
    assert registry.groups() == []


def test_registry_generation_changes_on_every_registration():
    registry = ResourceRegistry()
    before = registry.generation
    registry.register(PLAIN)
    assert registry.generation == before + 1


PLAIN = ResourceType(
    group="g.io",
    version="v1",
    plural="xs",
    singular="x",
    kind="X",
    list_kind="XList",
    namespaced=True,
    printer_columns=(PrinterColumn("A", "string", ".a"),),
)


def test_version_priority_orders_like_kubernetes():
    versions = ["v1alpha1", "v1", "foo", "v2beta1", "v1beta2", "v2", "v1beta1"]
    assert sorted(versions, key=version_priority) == [
        "v2",
        "v1",
        "v2beta1",
        "v1beta2",
        "v1beta1",
        "v1alpha1",
        "foo",
    ]


def test_resource_type_names_for_core_and_group():
    core = default_registry().get("", "v1", "secrets")
    assert core is not None
    assert (core.api_version, core.group_resource, core.group_kind, core.url_prefix) == (
        "v1",
        "secrets",
        "Secret",
        "/api/v1",
    )
    assert (PLAIN.api_version, PLAIN.group_resource, PLAIN.group_kind, PLAIN.url_prefix) == (
        "g.io/v1",
        "xs.g.io",
        "X.g.io",
        "/apis/g.io/v1",
    )
