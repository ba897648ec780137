"""Our generated CRDs against cert-manager's, schema node by schema node.

For every reference CRD in ``shared/reference/crds`` the generated one must have the same names,
scope and printer columns, and its schema must agree on every property path in both directions:
``type``, ``format``, ``enum``, ``required``, ``default``, the validations the apiserver applies,
the list type, and free-form (preserve-unknown-fields) nodes. Whatever differs on purpose is in
``KNOWN_DIFFERENCES`` with a reason; an entry that no longer explains a difference fails too, so
the table only shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from certsmith.api.crds import build_crds, crd_filename

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
REFERENCE_DIR = SHARED / "reference" / "crds"
if not REFERENCE_DIR.is_dir():
    pytest.skip(f"reference CRDs not found at {REFERENCE_DIR}", allow_module_level=True)

PRESERVE = "x-kubernetes-preserve-unknown-fields"

# Keywords compared as they are (absent on both sides is equal).
SAME_VALUE = (
    "type",
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
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
)


@dataclass(frozen=True)
class Known:
    """A difference we keep on purpose.

    It covers ``path`` and everything below it (``path`` may be a suffix of a longer path), in
    ``kind`` or in every kind (``*``), and only the ``aspect`` (``required``...) when one is given.
    """

    kind: str
    path: str
    reason: str
    aspect: str = ""

    def explains(self, kind: str, path: str, what: str = "") -> bool:
        if self.kind not in {"*", kind}:
            return False
        if self.aspect and not what.startswith(f"{self.aspect}:"):
            return False
        if not path or not self.path:
            return path == self.path
        return any(
            prefix == self.path or prefix.endswith(f".{self.path}") for prefix in prefixes(path)
        )


_OPAQUE = (
    "a core Kubernetes type the solver copies into the pod unchanged; the model keeps it as opaque"
    " JSON (api/acme.py) instead of re-modelling core/v1, so the CRD preserves unknown fields"
    " there instead of pruning and validating them"
)

KNOWN_DIFFERENCES = (
    Known("*", "podTemplate.spec.affinity", _OPAQUE),
    Known("*", "podTemplate.spec.resources", _OPAQUE),
    Known("*", "podTemplate.spec.securityContext", _OPAQUE),
    Known("*", "podTemplate.spec.tolerations", _OPAQUE),
    Known(
        "*",
        "podTemplate.spec.imagePullSecrets",
        _OPAQUE + "; being opaque its items have no required `name`, which a list-map key needs,"
        " so the list is atomic instead of a map keyed by name (server-side apply replaces it"
        " whole)",
    ),
    Known(
        "*",
        "gatewayHTTPRoute.parentRefs",
        "Gateway API ParentReference, passed to the HTTPRoute unchanged and kept opaque like the"
        " core types; its group/kind defaults are applied by the Gateway API CRD when the route is"
        " created, not here",
    ),
    Known(
        "CertificateRequest",
        "status.conditions[].observedGeneration",
        "one Condition model serves every resource; cert-manager's request conditions lack"
        " observedGeneration, and the controllers never set it on requests",
    ),
    Known(
        "CertificateRequest",
        "",
        "the model requires `spec` (every reader needs it); cert-manager's schema leaves it"
        " optional but its webhook rejects a request without issuerRef and request anyway",
        aspect="required",
    ),
    Known(
        "Certificate",
        "",
        "the model requires `spec`; cert-manager's schema leaves it optional but its webhook"
        " rejects a Certificate without issuerRef and secretName anyway",
        aspect="required",
    ),
    Known(
        "Order",
        "",
        "`metadata` has a default in the model (builders create objects without one); a created"
        " object always has metadata, as its name is required, so requiring it changes nothing",
        aspect="required",
    ),
    Known(
        "Challenge",
        "",
        "as for Order: `metadata` is defaulted by the model and always present on a created object",
        aspect="required",
    ),
)


# --- walking -----------------------------------------------------------------------------------


def prefixes(path: str) -> list[str]:
    """``a.b[].c`` → ``a``, ``a.b``, ``a.b[]``, ``a.b[].c``."""
    cuts = [i for i, ch in enumerate(path) if ch in ".[{" and i] + [len(path)]
    return [path[:i] for i in cuts]


def props(node: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = node.get("properties", {})
    return found


def list_type(node: dict[str, Any]) -> str | None:
    if node.get("type") != "array":
        return None
    return str(node.get("x-kubernetes-list-type", "atomic"))  # no annotation means atomic


def rules(node: dict[str, Any]) -> set[str]:
    return {" ".join(v["rule"].split()) for v in node.get("x-kubernetes-validations", ())}


def compare(ref: dict[str, Any], ours: dict[str, Any] | None, path: str) -> list[tuple[str, str]]:
    """Every difference between two schema nodes and their subtrees, as (path, what)."""
    if ours is None:
        return [(path, "missing from ours")]
    diffs: list[tuple[str, str]] = []

    def check(what: str, theirs: Any, mine: Any) -> None:
        if theirs != mine:
            diffs.append((path, f"{what}: reference {theirs!r}, ours {mine!r}"))

    for key in SAME_VALUE:
        check(key, ref.get(key), ours.get(key))
    check("format", ref.get("format"), ours.get("format"))
    check("enum", set(ref.get("enum", ())), set(ours.get("enum", ())))
    check("required", set(ref.get("required", ())), set(ours.get("required", ())))
    check(PRESERVE, bool(ref.get(PRESERVE)), bool(ours.get(PRESERVE)))
    check("list type", list_type(ref), list_type(ours))
    check("x-kubernetes-validations", rules(ref), rules(ours))

    for name in props(ref).keys() | props(ours).keys():
        sub = f"{path}.{name}" if path else name
        if name not in props(ref):
            diffs.append((sub, "not in the reference"))
        else:
            diffs += compare(props(ref)[name], props(ours).get(name), sub)
    if "items" in ref or "items" in ours:
        diffs += compare(ref.get("items", {}), ours.get("items"), f"{path}[]")
    theirs_map, mine_map = ref.get("additionalProperties"), ours.get("additionalProperties")
    if isinstance(theirs_map, dict):
        diffs += compare(theirs_map, mine_map, f"{path}{{}}")
    elif mine_map is not None:
        diffs.append((f"{path}{{}}", "additionalProperties only in ours"))
    return diffs


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


REFERENCE = {path.name: load(path) for path in sorted(REFERENCE_DIR.glob("*.yaml"))}
OURS = {crd_filename(crd): crd for crd in build_crds()}
FILES = sorted(REFERENCE)


def version(crd: dict[str, Any]) -> dict[str, Any]:
    [ver] = crd["spec"]["versions"]
    return ver  # type: ignore[no-any-return]


def schema(crd: dict[str, Any]) -> dict[str, Any]:
    return version(crd)["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def all_differences() -> list[tuple[str, str, str]]:
    out = []
    for name in FILES:
        kind = REFERENCE[name]["spec"]["names"]["kind"]
        found = compare(schema(REFERENCE[name]), schema(OURS[name]), "")
        out += [(kind, path, what) for path, what in found]
    return out


DIFFERENCES = all_differences()


# --- tests -------------------------------------------------------------------------------------


def test_we_generate_exactly_the_reference_crds():
    assert sorted(OURS) == FILES


@pytest.mark.parametrize("name", FILES)
def test_names_scope_and_group_match_the_reference(name):
    theirs, mine = REFERENCE[name], OURS[name]

    assert mine["metadata"]["name"] == theirs["metadata"]["name"]
    assert mine["spec"]["group"] == theirs["spec"]["group"]
    assert mine["spec"]["scope"] == theirs["spec"]["scope"]
    assert mine["spec"]["names"] == theirs["spec"]["names"]


@pytest.mark.parametrize("name", FILES)
def test_one_served_storage_version_with_a_status_subresource_like_the_reference(name):
    theirs, mine = version(REFERENCE[name]), version(OURS[name])

    for key in ("name", "served", "storage", "subresources"):
        assert mine[key] == theirs[key], key


@pytest.mark.parametrize("name", FILES)
def test_printer_columns_match_the_reference(name):
    def columns(crd: dict[str, Any]) -> list[tuple[str, str, str, int]]:
        return [
            (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
            for c in version(crd)["additionalPrinterColumns"]
        ]

    assert columns(OURS[name]) == columns(REFERENCE[name])


def test_every_schema_difference_from_the_reference_is_a_known_one():
    unexplained = [
        f"{kind}: {path}: {what}"
        for kind, path, what in DIFFERENCES
        if not any(known.explains(kind, path, what) for known in KNOWN_DIFFERENCES)
    ]

    assert unexplained == []


@pytest.mark.parametrize("known", KNOWN_DIFFERENCES, ids=lambda k: f"{k.kind}:{k.path}")
def test_every_known_difference_still_explains_a_difference(known):
    assert any(known.explains(kind, path, what) for kind, path, what in DIFFERENCES)


@pytest.mark.parametrize(
    "known", [k for k in KNOWN_DIFFERENCES if "opaque" in k.reason], ids=lambda k: k.path
)
def test_opaque_blocks_are_free_form_in_ours_where_the_reference_has_a_schema(known):
    found = 0
    for name in FILES:
        for path, node in walk(schema(OURS[name])):
            if known.explains(REFERENCE[name]["spec"]["names"]["kind"], path) and path.endswith(
                known.path
            ):
                found += 1
                target = node["items"] if node.get("type") == "array" else node
                assert target == {"type": "object", PRESERVE: True}, path
    assert found


def walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in props(node).items():
        out += walk(sub, f"{path}.{name}" if path else name)
    if "items" in node:
        out += walk(node["items"], f"{path}[]")
    return out
