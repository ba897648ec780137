"""The generated CRDs: committed copies are fresh, schemas are structural and fit the models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from certsmith.api import crds as crds_module
from certsmith.api.acme import Challenge, Order
from certsmith.api.certmanager import (
    Certificate,
    CertificateRequest,
    CertificateRequestSpec,
    ClusterIssuer,
    Issuer,
)
from certsmith.api.crds import build_crds, crd_filename, load_crds, main, render_crd, write_crds
from certsmith.api.meta import KubeObject

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "crds"
CRDS = build_crds()
IDS = [crd["spec"]["names"]["kind"] for crd in CRDS]
MODELS: dict[str, type[KubeObject]] = {
    m.KIND: m for m in (CertificateRequest, Certificate, Issuer, ClusterIssuer, Order, Challenge)
}
PRESERVE = "x-kubernetes-preserve-unknown-fields"
NOT_STRUCTURAL = {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not", "nullable"}


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def nodes(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path or "<root>", node)]
    for name, sub in node.get("properties", {}).items():
        out += nodes(sub, f"{path}.{name}")
    if "items" in node:
        out += nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += nodes(node["additionalProperties"], f"{path}{{}}")
    return out


def structural_violations(node: dict[str, Any]) -> list[str]:
    """What makes a schema non-structural (or unusable) in apiextensions.k8s.io/v1."""
    found = []
    for path, sub in nodes(node):
        if leftover := NOT_STRUCTURAL & set(sub):
            found.append(f"{path}: {sorted(leftover)}")
        if (
            "type" not in sub
            and not sub.get(PRESERVE)
            and not sub.get("x-kubernetes-int-or-string")
        ):
            found.append(f"{path}: no type")
        if "properties" in sub and "additionalProperties" in sub:
            found.append(f"{path}: properties and additionalProperties together")
        if isinstance(sub.get("additionalProperties"), bool):
            found.append(f"{path}: boolean additionalProperties")
        if sub.get("type") == "array" and "items" not in sub:
            found.append(f"{path}: array without items")
        if sub.get("x-kubernetes-list-type") == "map":
            item = sub["items"]
            missing = set(sub["x-kubernetes-list-map-keys"]) - set(item.get("required", ()))
            if missing:
                found.append(f"{path}: list-map keys {sorted(missing)} not required in items")
        if "default" in sub and "enum" in sub and sub["default"] not in sub["enum"]:
            found.append(f"{path}: default {sub['default']!r} outside the enum")
        for rule in sub.get("x-kubernetes-validations", ()):
            if set(rule) - {"rule", "message"} or "rule" not in rule:
                found.append(f"{path}: malformed validation rule {rule!r}")
    return found


def maximal(node: dict[str, Any]) -> Any:
    """An instance of one of our schema nodes with every property filled."""
    if "properties" in node:
        return {name: maximal(sub) for name, sub in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        return {"example-key": maximal(node["additionalProperties"])}
    if node.get(PRESERVE):
        return {"anything": {"nested": ["goes", 1, True]}}
    kind = node.get("type")
    if kind == "object":  # metadata: filled in by the caller
        return {}
    if kind == "array":
        return [maximal(node["items"])]
    if kind == "string":
        if "enum" in node:
            return node["enum"][-1]
        if "pattern" in node:
            assert re.fullmatch(node["pattern"], "1h30m")
            return "1h30m"
        samples = {"date-time": "2026-01-02T03:04:05Z", "byte": "QUJD"}
        return samples.get(node.get("format", ""), "x")
    if kind == "integer":
        return 7
    if kind == "boolean":
        return True
    raise AssertionError(f"unexpected node {node}")


# --- the committed copy ------------------------------------------------------------------------


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_the_committed_manifest_is_exactly_what_the_generator_writes(crd):
    path = DEPLOY / crd_filename(crd)

    assert path.is_file(), f"missing {path}: run python -m certsmith.api.crds --write deploy/crds"
    assert path.read_text(encoding="utf-8") == render_crd(crd), (
        f"{path} is stale or was edited by hand: run python -m certsmith.api.crds --write "
        "deploy/crds"
    )


def test_deploy_crds_holds_only_generated_manifests():
    expected = [crd_filename(c) for c in CRDS] + [crds_module.KUSTOMIZATION]
    assert sorted(p.name for p in DEPLOY.iterdir()) == sorted(expected)


def test_check_passes_on_the_committed_directory():
    assert main(["--check", str(DEPLOY)]) == 0


def test_write_then_check_round_trips_and_check_spots_an_edit(tmp_path, capsys):
    assert main(["--write", str(tmp_path / "crds")]) == 0
    assert main(["--check", str(tmp_path / "crds")]) == 0

    edited = tmp_path / "crds" / "cert-manager.io_certificates.yaml"
    edited.write_text(edited.read_text().replace("shortNames", "shortnames"))

    assert main(["--check", str(tmp_path / "crds")]) == 1
    assert "cert-manager.io_certificates.yaml: out of date" in capsys.readouterr().err


def test_check_spots_a_missing_and_an_extra_file(tmp_path):
    paths = write_crds(tmp_path)
    paths[0].unlink()
    (tmp_path / "extra.yaml").write_text("{}\n")

    assert crds_module._stale(tmp_path) == sorted([paths[0].name, "extra.yaml"])


def test_load_crds_returns_the_generated_crds_as_fresh_copies():
    first = load_crds()
    first[0]["spec"]["names"]["kind"] = "Changed"

    assert load_crds() == CRDS


# --- shape of the manifests --------------------------------------------------------------------


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_every_generated_schema_is_structural(crd):
    assert structural_violations(schema_of(crd)) == []


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_metadata_is_a_bare_object_and_the_name_is_plural_dot_group(crd):
    spec = crd["spec"]

    assert schema_of(crd)["properties"]["metadata"] == {"type": "object"}
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"


WITH_CONDITIONS = [
    c for c in CRDS if "conditions" in schema_of(c)["properties"]["status"]["properties"]
]


@pytest.mark.parametrize("crd", WITH_CONDITIONS, ids=lambda c: c["spec"]["names"]["kind"])
def test_conditions_are_a_list_map_keyed_by_type(crd):
    conditions = schema_of(crd)["properties"]["status"]["properties"]["conditions"]

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


@pytest.mark.parametrize("crd", CRDS, ids=IDS)
def test_a_maximal_instance_of_our_schema_round_trips_through_the_model(crd):
    kind = crd["spec"]["names"]["kind"]
    body = maximal(schema_of(crd))
    body.update(apiVersion=f"{crd['spec']['group']}/v1", kind=kind, metadata={"name": "x"})

    assert MODELS[kind].from_dict(body).to_dict() == body


def test_descriptions_come_from_our_docstrings():
    spec = schema_of(CRDS[0])["properties"]["spec"]

    assert spec["description"] == CertificateRequestSpec.__doc__


def test_a_field_with_several_types_has_no_structural_schema():
    class Odd(KubeObject):
        KIND: ClassVar[str] = "Odd"

        spec: Mixed

    with pytest.raises(ValueError, match=r"\.spec\.value: a union of several types"):
        crds_module._open_api_schema(Odd)


class Mixed(BaseModel):
    value: str | int
