"""Render the install manifests under ``deploy/`` without kubectl: the kustomize subset they use.

``certsmith install manifests`` must work where kubectl is not installed, and must print exactly
what ``kubectl kustomize deploy/overlays/<x>`` prints (a test compares the two object by
object), so the overlays stay the one source. This module implements only the kustomize
features the project's kustomizations use, and refuses any other field rather than ignore it:

* ``resources``: YAML files (one or more documents) and directories holding a kustomization,
  loaded depth first in order;
* ``namespace``: sets ``metadata.namespace`` of every namespaced object, renames the Namespace
  object, and moves the ServiceAccount subjects of bindings that name a ServiceAccount of the
  same build along with it (kustomize's default subject rule);
* ``patches`` with an inline JSON 6902 patch (``add``, ``replace``, ``remove``) and a target
  by group, version, kind and name.

Output order is kustomize's default ("legacy") order: Namespaces first, then CRDs,
ServiceAccounts and RBAC, Services, workloads, so ``kubectl apply -f -`` creates a namespace
before its contents.
"""

from __future__ import annotations

import copy
import os
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

import certsmith
from certsmith.api.meta import JSONObject

KUSTOMIZATION_FILES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")
DEPLOY_DIR_ENV: Final = "CERTSMITH_DEPLOY_DIR"

_KNOWN_FIELDS: Final = frozenset({"apiVersion", "kind", "namespace", "resources", "patches"})
_CLUSTER_SCOPED: Final = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
)
_BINDINGS: Final = frozenset({"RoleBinding", "ClusterRoleBinding"})
_MOVED: Final = "\0moved-by-namespace"  # marks a subject kustomize would keep moving
# kustomize's legacy order (api/resid/gvk.go): these kinds first, in this order; then every
# other kind; then the webhook configurations.
_ORDER_FIRST: Final = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
    "ConfigMap", "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass",
    "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob",
    "PodDisruptionBudget",
)  # fmt: skip
_ORDER_LAST: Final = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


class KustomizeError(Exception):
    """A kustomization this renderer cannot build (a missing file, an unsupported field)."""


def deploy_dir() -> Path:
    """Where the ``deploy/`` tree is: ``$CERTSMITH_DEPLOY_DIR``, the installed data, the checkout.

    The container image and other installs copy it to ``<prefix>/share/certsmith/deploy``;
    a source checkout (or an editable install) has it next to ``src/``.

    Raises:
        KustomizeError: none of these holds the overlays.
    """
    candidates = []
    if os.environ.get(DEPLOY_DIR_ENV):
        candidates.append(Path(os.environ[DEPLOY_DIR_ENV]))
    candidates.append(Path(sysconfig.get_path("data")) / "share" / "certsmith" / "deploy")
    candidates.append(Path(certsmith.__file__).resolve().parents[2] / "deploy")
    for candidate in candidates:
        if (candidate / "overlays").is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise KustomizeError(f"cannot find the deploy/ manifests (tried {tried}); set {DEPLOY_DIR_ENV}")


def overlay_dir(name: str, root: Path | None = None) -> Path:
    """The directory of overlay ``name`` (``cluster`` or ``namespaced``)."""
    return (root or deploy_dir()) / "overlays" / name


def build(directory: Path, *, namespace: str | None = None) -> list[JSONObject]:
    """Build the kustomization in ``directory``, as ``kubectl kustomize`` does.

    Args:
        directory: a directory holding a kustomization file.
        namespace: a further ``namespace:`` applied on top, as an overlay with only that field
            would (``certsmith install manifests --namespace``).

    Raises:
        KustomizeError: a file is missing or malformed, or a field is not supported.
    """
    objects = _build(directory.resolve(), ())
    if namespace is not None:
        objects = _set_namespace(objects, namespace)
    return sorted((_strip_marks(o) for o in objects), key=_sort_key)


def render(objects: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML, keys sorted like kustomize's output."""
    return "---\n".join(
        yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, width=1 << 16)
        for obj in objects
    )


def _kustomization(directory: Path) -> Mapping[str, Any]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            loaded = _load_yaml(path)
            if len(loaded) != 1:
                raise KustomizeError(f"{path}: expected one document")
            doc = loaded[0]
            unknown = sorted(set(doc) - _KNOWN_FIELDS)
            if unknown:
                raise KustomizeError(
                    f"{path}: unsupported field(s) {', '.join(unknown)} "
                    "(certsmith renders only resources, namespace and patches)"
                )
            return doc
    raise KustomizeError(f"{directory}: no kustomization file")


def _build(directory: Path, visiting: tuple[Path, ...]) -> list[JSONObject]:
    if directory in visiting:
        raise KustomizeError(f"{directory}: kustomization cycle")
    doc = _kustomization(directory)
    objects: list[JSONObject] = []
    for entry in doc.get("resources") or []:
        path = (directory / str(entry)).resolve()
        if path.is_dir():
            objects.extend(_build(path, (*visiting, directory)))
        elif path.is_file():
            if not path.is_relative_to(directory):
                raise KustomizeError(f"{path}: a file outside {directory} (kustomize refuses it)")
            objects.extend(_load_yaml(path))
        else:
            raise KustomizeError(f"{directory}: resource {entry!r} does not exist")
    for patch in doc.get("patches") or []:
        objects = _apply_patch(objects, patch, directory)
    namespace = doc.get("namespace")
    if namespace:
        objects = _set_namespace(objects, str(namespace))
    return objects


def _load_yaml(path: Path) -> list[JSONObject]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise KustomizeError(f"{path}: {exc}") from exc
    found = [d for d in docs if d is not None]
    if not all(isinstance(d, dict) for d in found):
        raise KustomizeError(f"{path}: every document must be a mapping")
    return found


def _api_group_version(obj: Mapping[str, Any]) -> tuple[str, str]:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return group, version


def _matches(obj: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    group, version = _api_group_version(obj)
    actual = {
        "group": group,
        "version": version,
        "kind": obj.get("kind"),
        "name": (obj.get("metadata") or {}).get("name"),
        "namespace": (obj.get("metadata") or {}).get("namespace"),
    }
    unknown = sorted(set(target) - set(actual))
    if unknown:
        raise KustomizeError(f"unsupported patch target field(s) {', '.join(unknown)}")
    return all(actual[key] == value for key, value in target.items())


def _apply_patch(
    objects: list[JSONObject], patch: Mapping[str, Any], directory: Path
) -> list[JSONObject]:
    if set(patch) != {"target", "patch"}:
        raise KustomizeError(f"{directory}: only inline JSON 6902 patches with a target")
    ops = yaml.safe_load(str(patch["patch"]))
    if not isinstance(ops, list):
        raise KustomizeError(f"{directory}: a patch must be a JSON 6902 list of operations")
    matched = False
    result = []
    for obj in objects:
        if _matches(obj, patch["target"]):
            matched = True
            obj = copy.deepcopy(obj)
            for op in ops:
                _apply_op(obj, op, directory)
        result.append(obj)
    if not matched:
        raise KustomizeError(f"{directory}: patch target {patch['target']} matches nothing")
    return result


def _apply_op(obj: JSONObject, op: Mapping[str, Any], directory: Path) -> None:
    kind = op.get("op")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")]
    if parts[:1] != [""] or len(parts) < 2 or kind not in ("add", "replace", "remove"):
        raise KustomizeError(f"{directory}: unsupported patch operation {dict(op)}")
    parent: Any = obj
    for part in parts[1:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if isinstance(parent, list):
        if kind == "add":
            parent.insert(len(parent) if last == "-" else int(last), op["value"])
        elif kind == "replace":
            parent[int(last)] = op["value"]
        else:
            del parent[int(last)]
    elif kind == "remove":
        del parent[last]
    else:
        parent[last] = op["value"]


def _set_namespace(objects: list[JSONObject], namespace: str) -> list[JSONObject]:
    result = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        kind = obj.get("kind")
        if kind == "Namespace":
            meta["name"] = namespace
        elif kind not in _CLUSTER_SCOPED:
            meta["namespace"] = namespace
        if kind in _BINDINGS:
            for subject in obj.get("subjects") or []:
                # kustomize moves the subjects its files left without a namespace (or in
                # "default"), and keeps moving them in outer overlays; an explicit namespace in
                # a file stays.
                if subject.get("kind") != "ServiceAccount":
                    continue
                if subject.get(_MOVED) or (subject.get("namespace") or "default") == "default":
                    subject["namespace"] = namespace
                    subject[_MOVED] = True
        result.append(obj)
    return result


def _strip_marks(obj: JSONObject) -> JSONObject:
    for subject in obj.get("subjects") or [] if obj.get("kind") in _BINDINGS else []:
        subject.pop(_MOVED, None)
    return obj


def _sort_key(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    kind = str(obj.get("kind", ""))
    if kind in _ORDER_FIRST:
        rank = _ORDER_FIRST.index(kind)
    elif kind in _ORDER_LAST:
        rank = len(_ORDER_FIRST) + 1 + _ORDER_LAST.index(kind)
    else:
        rank = len(_ORDER_FIRST)
    meta = obj.get("metadata") or {}
    return (
        rank,
        f"{obj.get('apiVersion', '')}/{kind}",
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )
