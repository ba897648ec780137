"""The project's own CustomResourceDefinitions, generated from the resource models.

What this module decides:

* The pydantic models in ``certsmith.api`` are the one source of truth for the wire format of the
  six cert-manager resources. Their OpenAPI schemas are *derived* from the models' JSON schema, so
  the server can never validate against a schema the models disagree with.
  ``deploy/crds/*.yaml`` is the human-facing copy, written by
  ``python -m certsmith.api.crds --write deploy/crds`` and checked by a test, so nobody edits it by
  hand. The server calls :func:`load_crds` and never needs the repository checkout.
* What a model cannot say (names, short names, categories, scope, printer columns) is declared
  once, in ``_RESOURCES``. Those are API behaviour users see in ``kubectl get``, so they follow
  cert-manager's CRDs exactly.
* The conversion produces a *structural* schema (``K8S-API.md``: pruning and field validation
  need one): every ``$ref`` is inlined, ``X | None`` becomes ``X`` (optional means "may be
  absent", never ``null``), ``Literal``/enum types become ``enum``, ``dict[str, Any]`` and ``Any``
  become ``x-kubernetes-preserve-unknown-fields``, model docstrings become (first-paragraph)
  descriptions, and anything the rules do not cover raises, rather than leak into a manifest.
  Validations and defaults the apiserver applies (``minLength``, ``pattern``, CEL rules, the ACME
  ``renewalInformationSource`` default) are declared on the model fields themselves.
* Lists of ``Condition`` are ``x-kubernetes-list-type: map`` keyed by ``type``, as in every
  Kubernetes API, so server-side apply merges conditions per type; other lists stay atomic.

Compatibility with cert-manager's own CRDs is checked field by field in
``tests/unit/api/test_crds_compat.py``, which also lists every known difference and why.
"""

from __future__ import annotations

import argparse
import copy
import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from certsmith.api.acme import ACME_API_VERSION, Challenge, Order
from certsmith.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certsmith.api.meta import Condition, JSONObject, KubeObject

__all__ = [
    "CRD_API_VERSION",
    "build_crds",
    "crd_filename",
    "load_crds",
    "main",
    "render_crd",
    "render_kustomization",
    "write_crds",
]

CRD_API_VERSION: Final = "apiextensions.k8s.io/v1"
#: Written next to the CRDs by :func:`write_crds` (see :func:`render_kustomization`).
KUSTOMIZATION: Final = "kustomization.yaml"

_HEADER: Final = (
    "# Generated from the certsmith.api models by `python -m certsmith.api.crds --write "
    "deploy/crds`.\n# Do not edit: change the models and regenerate.\n"
)

_PRESERVE: Final = "x-kubernetes-preserve-unknown-fields"

# Lists whose items are these models are maps keyed by these fields (server-side apply merges
# them entry by entry instead of replacing the whole list).
_LIST_MAP_KEYS: Final[Mapping[str, tuple[str, ...]]] = {Condition.__name__: ("type",)}

# Schema keywords passed through unchanged; every other keyword is handled explicitly below.
_PASSED: Final = frozenset(
    {
        "type",
        "format",
        "enum",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
    }
)


@dataclass(frozen=True)
class _Resource:
    """What the model cannot say about a resource: names, scope and printer columns."""

    model: type[KubeObject]
    plural: str
    scope: Literal["Namespaced", "Cluster"]
    short_names: tuple[str, ...]
    columns: tuple[JSONObject, ...]


def _column(name: str, kind: str, json_path: str, priority: int = 0) -> JSONObject:
    column: JSONObject = {"name": name, "type": kind, "jsonPath": json_path}
    if priority:
        column["priority"] = priority
    return column


def _condition(ctype: str, field: str) -> str:
    return f'.status.conditions[?(@.type == "{ctype}")].{field}'


_READY: Final = _column("Ready", "string", _condition("Ready", "status"))
_STATUS: Final = _column("Status", "string", _condition("Ready", "message"), 1)
_AGE: Final = {
    **_column("Age", "date", ".metadata.creationTimestamp"),
    "description": "When the object was created.",
}

_RESOURCES: Final = (
    _Resource(
        model=CertificateRequest,
        plural="certificaterequests",
        scope="Namespaced",
        short_names=("cr", "crs"),
        columns=(
            _column("Approved", "string", _condition("Approved", "status")),
            _column("Denied", "string", _condition("Denied", "status")),
            _READY,
            _column("Issuer", "string", ".spec.issuerRef.name"),
            _column("Requester", "string", ".spec.username"),
            _STATUS,
            _AGE,
        ),
    ),
    _Resource(
        model=Certificate,
        plural="certificates",
        scope="Namespaced",
        short_names=("cert", "certs"),
        columns=(
            _READY,
            _column("Secret", "string", ".spec.secretName"),
            _column("Issuer", "string", ".spec.issuerRef.name", 1),
            _STATUS,
            _column("Expiration", "string", ".status.notAfter", 1),
            _AGE,
        ),
    ),
    _Resource(
        model=Issuer,
        plural="issuers",
        scope="Namespaced",
        short_names=("iss",),
        columns=(_READY, _STATUS, _AGE),
    ),
    _Resource(
        model=ClusterIssuer,
        plural="clusterissuers",
        scope="Cluster",
        short_names=("ciss",),
        columns=(_READY, _STATUS, _AGE),
    ),
    _Resource(
        model=Order,
        plural="orders",
        scope="Namespaced",
        short_names=(),
        columns=(
            _column("State", "string", ".status.state"),
            _column("Issuer", "string", ".spec.issuerRef.name", 1),
            _column("Reason", "string", ".status.reason", 1),
            _AGE,
        ),
    ),
    _Resource(
        model=Challenge,
        plural="challenges",
        scope="Namespaced",
        short_names=(),
        columns=(
            _column("State", "string", ".status.state"),
            _column("Domain", "string", ".spec.dnsName"),
            _column("Reason", "string", ".status.reason", 1),
            _AGE,
        ),
    ),
)


# --- schema conversion -------------------------------------------------------------------------


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _flatten(schema: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> JSONObject:
    """Inline ``$ref`` and unwrap ``anyOf [X, null]``; keywords next to them win."""
    siblings = {k: v for k, v in schema.items() if k not in ("$ref", "anyOf")}
    name = _ref_name(schema)
    if name is not None:
        if name not in defs:
            raise ValueError(f"{path or '<root>'}: unresolved $ref {schema['$ref']!r}")
        base = _flatten(defs[name], defs, path)
    elif "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o != {"type": "null"}]
        if len(options) != 1:
            raise ValueError(
                f"{path or '<root>'}: a union of several types has no structural schema"
            )
        base = _flatten(options[0], defs, path)
    else:
        return dict(schema)
    return {**base, **siblings}


def _description(text: str) -> str:
    summary = text.strip().split("\n\n", 1)[0]
    return " ".join(summary.split()).replace("``", "`")


def _structural(schema: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> JSONObject:
    """Convert one pydantic JSON schema node (and everything below it)."""
    flat = _flatten(schema, defs, path)
    out: JSONObject = {}
    for key, value in flat.items():
        if key == "title" or (key == "default" and value is None):
            continue
        if key == "description":
            out[key] = _description(value)
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {
                name: _structural(sub, defs, f"{path}.{name}") for name, sub in value.items()
            }
        elif key == "items":
            out[key] = _structural(value, defs, f"{path}[]")
            keys = _LIST_MAP_KEYS.get(_ref_name(value) or "")
            if keys:
                out["x-kubernetes-list-type"] = "map"
                out["x-kubernetes-list-map-keys"] = list(keys)
        elif key == "additionalProperties":
            # false is the model's extra="forbid": pruning and strict field validation do that
            # job in a CRD, where additionalProperties: false is not allowed.
            if value is True:
                out[_PRESERVE] = True
            elif value is not False:
                out[key] = _structural(value, defs, f"{path}{{}}")
        elif key in _PASSED or key.startswith("x-kubernetes-"):
            out[key] = copy.deepcopy(value)
        else:
            raise ValueError(f"{path or '<root>'}: {key!r} has no place in a structural schema")
    if not out.get("required"):
        out.pop("required", None)
    if "type" not in out and not out.get(_PRESERVE):
        if set(out) - {"description", "default"}:
            raise ValueError(f"{path or '<root>'}: schema node without a type: {flat!r}")
        out[_PRESERVE] = True  # ``Any``: free-form JSON of any type
    return out


def _open_api_schema(model: type[KubeObject]) -> JSONObject:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema = _structural(raw, defs, "")
    properties = schema["properties"]
    properties["apiVersion"]["description"] = "The versioned schema of this object."
    properties["kind"]["description"] = "The kind of this object."
    properties["metadata"] = {"type": "object"}
    return schema


# --- public API --------------------------------------------------------------------------------


def build_crds() -> list[JSONObject]:
    """Generate the CustomResourceDefinitions of the six cert-manager resources.

    Returns:
        apiextensions.k8s.io/v1 ``CustomResourceDefinition`` manifests, in the order
        CertificateRequest, Certificate, Issuer, ClusterIssuer, Order, Challenge.

    Raises:
        ValueError: a model uses a type that has no structural schema (a union of several
            types, an unresolved reference, or an unsupported keyword).
    """
    crds: list[JSONObject] = []
    for res in _RESOURCES:
        group, version = res.model.API_VERSION.split("/")
        kind = res.model.KIND
        names: JSONObject = {
            "plural": res.plural,
            "singular": kind.lower(),
            "kind": kind,
            "listKind": f"{kind}List",
            "categories": ["cert-manager"]
            + (["cert-manager-acme"] if res.model.API_VERSION == ACME_API_VERSION else []),
        }
        if res.short_names:
            names["shortNames"] = list(res.short_names)
        crds.append(
            {
                "apiVersion": CRD_API_VERSION,
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{res.plural}.{group}"},
                "spec": {
                    "group": group,
                    "names": names,
                    "scope": res.scope,
                    "versions": [
                        {
                            "name": version,
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            "additionalPrinterColumns": copy.deepcopy(list(res.columns)),
                            "schema": {"openAPIV3Schema": _open_api_schema(res.model)},
                        }
                    ],
                },
            }
        )
    return crds


@functools.cache
def _cached_crds() -> tuple[JSONObject, ...]:
    return tuple(build_crds())


def load_crds() -> list[JSONObject]:
    """The CRDs the server serves: :func:`build_crds`, built once per process.

    Returns:
        A fresh deep copy on every call, so callers may modify it.
    """
    return copy.deepcopy(list(_cached_crds()))


def crd_filename(crd: Mapping[str, Any]) -> str:
    """The file name of a CRD under ``deploy/crds``: ``<group>_<plural>.yaml`` (cert-manager's)."""
    spec = crd["spec"]
    return f"{spec['group']}_{spec['names']['plural']}.yaml"


def render_crd(crd: Mapping[str, Any]) -> str:
    """The YAML text of one CRD, as committed under ``deploy/crds`` (keys sorted)."""
    body = yaml.safe_dump(dict(crd), sort_keys=True, default_flow_style=False, width=100)
    return _HEADER + body


def write_crds(directory: Path) -> list[Path]:
    """Write every generated CRD to ``directory`` (created if missing).

    Returns:
        The paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in _expected().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render_kustomization(crds: Sequence[Mapping[str, Any]]) -> str:
    """The ``kustomization.yaml`` listing the CRD files, so ``deploy/crds`` is a kustomize base.

    kustomize only loads files at or below a kustomization's own directory and refuses a base
    that is an ancestor of the overlay, so the install overlays under ``deploy/overlays`` can
    only reach the CRDs through a kustomization here.
    """
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(crd_filename(crd) for crd in crds),
    }
    return _HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def _expected() -> dict[str, str]:
    crds = build_crds()
    expected = {crd_filename(crd): render_crd(crd) for crd in crds}
    expected[KUSTOMIZATION] = render_kustomization(crds)
    return expected


def _stale(directory: Path) -> list[str]:
    expected = _expected()
    present = {p.name for p in directory.glob("*.yaml")} if directory.is_dir() else set()
    stale = sorted(present - set(expected))
    for name, text in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--write DIR`` regenerates the manifests, ``--check DIR`` verifies them.

    Returns:
        The exit code: 0, or 1 when ``--check`` finds a missing, extra or outdated file.
    """
    parser = argparse.ArgumentParser(
        prog="python -m certsmith.api.crds",
        description="Generate the cert-manager CRDs from the certsmith.api models.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, metavar="DIR", help="write the CRDs to DIR")
    action.add_argument("--check", type=Path, metavar="DIR", help="fail if DIR is out of date")
    args = parser.parse_args(argv)
    if args.write is not None:
        for path in write_crds(args.write):
            sys.stdout.write(f"wrote {path}\n")
        return 0
    stale = _stale(args.check)
    for name in stale:
        sys.stderr.write(f"{args.check / name}: out of date; run --write {args.check}\n")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
