"""Round trips generated from cert-manager's CRD schemas.

For every CRD in ``shared/reference/crds`` a maximal instance is built by walking its
``openAPIV3Schema`` (every property filled), so a field missing from our models, or spelled
differently on the wire, fails the round trip. The inverse tables inject an unknown field into
every object of cert-manager's own types, and a value outside every CRD enum, and expect a
ValidationError.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from certsmith.api.acme import Challenge, Order
from certsmith.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certsmith.api.meta import KubeObject

CRD_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "crds"
if not CRD_DIR.is_dir():
    pytest.skip(f"reference CRDs not found at {CRD_DIR}", allow_module_level=True)

MODELS: dict[str, type[KubeObject]] = {
    "CertificateRequest": CertificateRequest,
    "Certificate": Certificate,
    "Issuer": Issuer,
    "ClusterIssuer": ClusterIssuer,
    "Order": Order,
    "Challenge": Challenge,
}

# Kubernetes-native blocks the models keep as opaque JSON (see api/acme.py): unknown keys inside
# them are passed through, not rejected.
OPAQUE = {
    "affinity",
    "imagePullSecrets",
    "parentRefs",
    "resources",
    "securityContext",
    "tolerations",
}

DATE_TIME = "2026-01-02T03:04:05Z"
BYTES = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()

PathPart = str | int


@dataclass(frozen=True)
class Crd:
    kind: str
    api_version: str
    namespaced: bool
    schema: dict[str, Any]


def load_crds() -> list[Crd]:
    crds = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        spec = doc["spec"]
        for version in spec["versions"]:
            crds.append(
                Crd(
                    kind=spec["names"]["kind"],
                    api_version=f"{spec['group']}/{version['name']}",
                    namespaced=spec["scope"] == "Namespaced",
                    schema=version["schema"]["openAPIV3Schema"],
                )
            )
    return crds


CRDS = load_crds()


def maximal(schema: dict[str, Any]) -> Any:
    """An instance of ``schema`` with every property, array item and map entry filled."""
    if schema.get("x-kubernetes-int-or-string"):
        return "100m"
    if "properties" in schema:
        return {name: maximal(sub) for name, sub in schema["properties"].items()}
    kind = schema.get("type")
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return {"example-key": maximal(schema["additionalProperties"])}
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return {"anything": {"nested": ["goes", 1, True]}}
    if kind == "object":  # only metadata; maximal_object fills it in
        return {}
    if kind == "array":
        return [maximal(schema["items"])]
    if kind == "string":
        if "enum" in schema:
            return schema["enum"][0]
        return {"date-time": DATE_TIME, "byte": BYTES}.get(schema.get("format", ""), "text")
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    raise AssertionError(f"schema node not handled by the generator: {schema}")


def maximal_object(crd: Crd) -> dict[str, Any]:
    body = {k: v for k, v in maximal(crd.schema).items() if k not in {"apiVersion", "kind"}}
    metadata = {"name": "example", "namespace": "default"} if crd.namespaced else {"name": "x"}
    return {"apiVersion": crd.api_version, "kind": crd.kind, **body, "metadata": metadata}


def walk(
    schema: dict[str, Any], path: tuple[PathPart, ...] = ()
) -> list[tuple[tuple[PathPart, ...], dict[str, Any]]]:
    """Every schema node below ``schema`` with its path in a ``maximal`` instance."""
    nodes = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        nodes += walk(sub, (*path, name))
    if "items" in schema:
        nodes += walk(schema["items"], (*path, 0))
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        nodes += walk(additional, (*path, "example-key"))
    return nodes


def dotted(path: tuple[PathPart, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def at(data: Any, path: tuple[PathPart, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def is_own_object(path: tuple[PathPart, ...], schema: dict[str, Any]) -> bool:
    """An object node of cert-manager's own types (not metadata, not an opaque native block)."""
    return (
        "properties" in schema
        and bool(path)
        and path[0] in {"spec", "status"}
        and not any(part in OPAQUE for part in path)
    )


UNKNOWN_FIELD_CASES = [
    pytest.param(crd, path, id=f"{crd.kind}:{dotted(path)}")
    for crd in CRDS
    for path, schema in walk(crd.schema)
    if is_own_object(path, schema)
]

ENUM_CASES = [
    pytest.param(crd, path, id=f"{crd.kind}:{dotted(path)}")
    for crd in CRDS
    for path, schema in walk(crd.schema)
    if "enum" in schema and path and path[0] in {"spec", "status"}
]

BYTE_CASES = [
    pytest.param(crd, path, id=f"{crd.kind}:{dotted(path)}")
    for crd in CRDS
    for path, schema in walk(crd.schema)
    if schema.get("format") == "byte"
]

REQUIRED_CASES = [
    pytest.param(crd, (*path, field), id=f"{crd.kind}:{dotted((*path, field))}")
    for crd in CRDS
    for path, schema in walk(crd.schema)
    if path and is_own_object(path, schema)
    for field in schema.get("required", [])
]


def test_every_reference_crd_has_a_model():
    assert {crd.kind for crd in CRDS} == set(MODELS)


@pytest.mark.parametrize("crd", CRDS, ids=lambda c: c.kind)
def test_a_maximal_instance_of_every_crd_round_trips_unchanged(crd):
    manifest = maximal_object(crd)

    assert MODELS[crd.kind].from_dict(manifest).to_dict() == manifest


@pytest.mark.parametrize("crd", CRDS, ids=lambda c: c.kind)
def test_to_dict_fills_in_api_version_and_kind_from_the_model(crd):
    manifest = maximal_object(crd)
    del manifest["apiVersion"], manifest["kind"]

    data = MODELS[crd.kind].from_dict(manifest).to_dict()

    assert (data["apiVersion"], data["kind"]) == (crd.api_version, crd.kind)


@pytest.mark.parametrize(("crd", "path"), UNKNOWN_FIELD_CASES)
def test_an_unknown_field_in_any_cert_manager_object_is_rejected(crd, path):
    manifest = maximal_object(crd)
    at(manifest, path)["notInTheCrd"] = "x"

    with pytest.raises(ValidationError, match="notInTheCrd"):
        MODELS[crd.kind].from_dict(manifest)


@pytest.mark.parametrize(("crd", "path"), ENUM_CASES)
def test_a_value_outside_a_crd_enum_is_rejected(crd, path):
    manifest = maximal_object(crd)
    at(manifest, path[:-1])[path[-1]] = "NotAnEnumValue"

    with pytest.raises(ValidationError):
        MODELS[crd.kind].from_dict(manifest)


@pytest.mark.parametrize(("crd", "path"), BYTE_CASES)
def test_a_byte_field_that_is_not_base64_is_rejected(crd, path):
    manifest = maximal_object(crd)
    at(manifest, path[:-1])[path[-1]] = "not base64!"

    with pytest.raises(ValidationError, match="illegal base64 data"):
        MODELS[crd.kind].from_dict(manifest)


@pytest.mark.parametrize(("crd", "path"), REQUIRED_CASES)
def test_a_field_the_crd_requires_is_required_by_the_model(crd, path):
    manifest = maximal_object(crd)
    del at(manifest, path[:-1])[path[-1]]

    with pytest.raises(ValidationError, match="Field required"):
        MODELS[crd.kind].from_dict(manifest)
