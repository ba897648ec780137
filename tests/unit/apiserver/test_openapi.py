import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from certsmith.apiserver.openapi import (
    OpenAPIV3,
    document_hash,
    gv_path,
    openapi_document,
    schema_name,
)
from certsmith.apiserver.resources import ResourceRegistry, ResourceType, default_registry

CRD_DIR = Path(__file__).resolve().parents[3] / "../shared/reference/crds"
needs_crds = pytest.mark.skipif(not CRD_DIR.is_dir(), reason="reference CRDs not available")
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
CERT_GVK = {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"}


@functools.cache
def crds() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml")))


def registry() -> ResourceRegistry:
    return default_registry(crds())


def cert_doc() -> dict[str, Any]:
    doc = openapi_document(registry(), "cert-manager.io", "v1")
    assert doc is not None
    return doc


def patch_ops_for(doc: dict[str, Any], gvk: dict[str, str]) -> list[dict[str, Any]]:
    """What kubectl's queryParamVerifierV3 scans: PATCH ops carrying the GVK object."""
    return [
        item["patch"]
        for item in doc["paths"].values()
        if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"] == gvk
    ]


SCHEMA_NAME_CASES = [
    ("", "Secret", "io.k8s.api.core.v1.Secret"),
    ("coordination.k8s.io", "Lease", "io.k8s.api.coordination.v1.Lease"),
    ("rbac.authorization.k8s.io", "Role", "io.k8s.api.rbac.v1.Role"),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ),
    ("cert-manager.io", "Certificate", "io.cert-manager.v1.Certificate"),
    ("acme.cert-manager.io", "Order", "io.cert-manager.acme.v1.Order"),
    ("gateway.networking.k8s.io", "Gateway", "io.k8s.networking.gateway.v1.Gateway"),
]


@pytest.mark.parametrize(
    ("group", "kind", "expected"), SCHEMA_NAME_CASES, ids=[c[2] for c in SCHEMA_NAME_CASES]
)
def test_schema_name_follows_the_apiserver(group, kind, expected):
    rt = ResourceType(
        group=group,
        version="v1",
        plural=kind.lower() + "s",
        singular=kind.lower(),
        kind=kind,
        list_kind=kind + "List",
        namespaced=True,
    )
    assert schema_name(rt) == expected


def test_gv_path_for_core_and_named_groups():
    assert (gv_path("", "v1"), gv_path("cert-manager.io", "v1")) == (
        "api/v1",
        "apis/cert-manager.io/v1",
    )


@needs_crds
def test_certificate_item_path_has_a_patch_op_kubectl_accepts():
    doc = cert_doc()
    item = doc["paths"]["/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == CERT_GVK
    assert patch["x-kubernetes-action"] == "patch"
    assert {
        "name": "fieldValidation",
        "in": "query",
        "schema": {"type": "string"},
        "uniqueItems": True,
    } in patch["parameters"]
    assert list(patch["requestBody"]["content"]) == [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    ]
    assert patch["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.cert-manager.v1.Certificate"
    }
    assert [p["name"] for p in item["parameters"][:2]] == ["name", "namespace"]


@needs_crds
def test_every_kind_of_every_document_has_a_fieldvalidation_patch_op():
    reg = registry()
    for rt in reg:
        doc = openapi_document(reg, rt.group, rt.version)
        assert doc is not None
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ops = patch_ops_for(doc, gvk)
        assert ops, rt.kind
        for op in ops:
            names = [p["name"] for p in op["parameters"] if p["in"] == "query"]
            assert "fieldValidation" in names


@needs_crds
def test_no_patch_op_advertises_strategic_merge_patch():
    reg = registry()
    for group in reg.groups():
        doc = openapi_document(reg, group, "v1")
        assert doc is not None
        for item in doc["paths"].values():
            if "patch" in item:
                assert (
                    "application/strategic-merge-patch+json"
                    not in item["patch"]["requestBody"]["content"]
                )


@needs_crds
def test_status_subresource_gets_its_own_paths():
    doc = cert_doc()
    status = doc["paths"][
        "/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{name}/status"
    ]
    assert set(status) == {"parameters", "get", "put", "patch"}
    assert status["patch"]["operationId"] == "patchCertManagerIoV1NamespacedCertificateStatus"


@needs_crds
def test_cluster_scoped_kind_has_no_namespace_in_its_paths():
    doc = cert_doc()
    assert "/apis/cert-manager.io/v1/clusterissuers/{name}" in doc["paths"]
    assert not any("namespaces/{namespace}/clusterissuers" in p for p in doc["paths"])


@needs_crds
def test_namespaced_kind_also_lists_across_all_namespaces():
    doc = cert_doc()
    op = doc["paths"]["/apis/cert-manager.io/v1/certificates"]["get"]
    assert op["x-kubernetes-action"] == "list"
    assert op["operationId"] == "listCertManagerIoV1CertificateForAllNamespaces"


@needs_crds
def test_certificate_schema_is_explainable():
    schema = cert_doc()["components"]["schemas"]["io.cert-manager.v1.Certificate"]
    assert schema["x-kubernetes-group-version-kind"] == [CERT_GVK]
    assert schema["properties"]["metadata"] == {"$ref": f"#/components/schemas/{META}.ObjectMeta"}
    assert "secretName" in schema["properties"]["spec"]["properties"]
    assert schema["description"].startswith("A Certificate resource should be created")


@needs_crds
def test_list_schema_carries_the_list_kind():
    schema = cert_doc()["components"]["schemas"]["io.cert-manager.v1.CertificateList"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "cert-manager.io", "version": "v1", "kind": "CertificateList"}
    ]
    assert schema["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/io.cert-manager.v1.Certificate"
    }


def test_building_a_document_leaves_the_registered_schema_untouched():
    reg = default_registry()
    secret = reg.get("", "v1", "secrets")
    assert secret is not None
    openapi_document(reg, "", "v1")
    assert secret.schema["properties"]["metadata"] == {"type": "object"}


def test_core_document_has_object_meta_with_set_and_map_lists():
    doc = openapi_document(default_registry(), "", "v1")
    assert doc is not None
    meta = doc["components"]["schemas"][f"{META}.ObjectMeta"]["properties"]
    assert meta["finalizers"]["x-kubernetes-list-type"] == "set"
    assert meta["ownerReferences"]["x-kubernetes-list-map-keys"] == ["uid"]
    assert f"{META}.Patch" in doc["components"]["schemas"]
    assert (doc["openapi"], doc["info"]) == ("3.0.0", {"title": "Kubernetes", "version": "v1.32.0"})


def test_unserved_group_version_has_no_document():
    assert openapi_document(default_registry(), "cert-manager.io", "v1") is None


def test_index_lists_every_group_version_with_its_document_hash():
    api = OpenAPIV3(default_registry())
    index = api.index()
    assert list(index["paths"])[:2] == ["api/v1", "apis/coordination.k8s.io/v1"]
    found = api.document("api/v1")
    assert found is not None
    doc, digest = found
    assert index["paths"]["api/v1"] == {"serverRelativeURL": f"/openapi/v3/api/v1?hash={digest}"}
    assert digest == document_hash(doc)
    assert len(digest) == 128


@needs_crds
def test_registering_a_crd_changes_the_index_and_hashes():
    reg = default_registry()
    api = OpenAPIV3(reg)
    before = api.index()
    assert "apis/cert-manager.io/v1" not in before["paths"]
    reg.register_crd(yaml.safe_load((CRD_DIR / "cert-manager.io_certificates.yaml").read_text()))
    after = api.index()
    assert "apis/cert-manager.io/v1" in after["paths"]
    assert api.document("/apis/cert-manager.io/v1") is not None


def test_document_hash_ignores_key_order():
    assert document_hash({"a": 1, "b": 2}) == document_hash({"b": 2, "a": 1})
