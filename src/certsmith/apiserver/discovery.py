"""Discovery documents: ``/version``, legacy ``/api``/``/apis`` and aggregated discovery v2.

Clients learn what the server serves from these bodies, and they are picky (K8S-API §1.3, §3.1,
§3.2): kubectl ≥1.30 asks for aggregated discovery first and recognises it **only** by the exact
response Content-Type :data:`AGGREGATED_CONTENT_TYPE`; kopf, kr8s and lightkube send ``*/*`` and
need legacy documents, and kopf finds a resource's ``status`` subresource only through the
``x/status`` entry of the legacy ``APIResourceList``. :func:`negotiate` picks the format the way
the apiserver does: the first Accept entry the server can answer wins.

Everything here is a pure function of a :class:`ResourceRegistry`; the HTTP layer only frames it.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Final

from certsmith.api.meta import JSONObject
from certsmith.apiserver.resources import SUBRESOURCE_VERBS, ResourceRegistry, ResourceType

AGGREGATED_CONTENT_TYPE: Final = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
)
"""The exact response Content-Type by which kubectl recognises aggregated discovery."""

DEFAULT_SERVER_ADDRESS: Final = "127.0.0.1:6443"


class DiscoveryFormat(StrEnum):
    """Which shape of ``/api`` and ``/apis`` a client gets."""

    LEGACY = "legacy"
    AGGREGATED = "aggregated"


def _media_params(media_range: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in media_range.split(";")]
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def negotiate(accept: str | None) -> DiscoveryFormat:
    """Choose aggregated (v2) or legacy discovery from an Accept header.

    The first Accept entry the server can serve wins, as in the apiserver's negotiation: an
    aggregated v2 entry selects aggregated discovery; ``application/json``, ``application/*``,
    ``*/*`` (or anything else, or no header) selects legacy. ``v2beta1`` is not served.
    """
    for media_range in (accept or "").split(","):
        mtype, params = _media_params(media_range)
        if params.get("as") == "APIGroupDiscoveryList":
            if (
                mtype == "application/json"
                and params.get("g") == "apidiscovery.k8s.io"
                and params.get("v") == "v2"
            ):
                return DiscoveryFormat.AGGREGATED
            continue
        if mtype in ("application/json", "application/*", "*/*"):
            return DiscoveryFormat.LEGACY
    return DiscoveryFormat.LEGACY


def version_info(
    *,
    major: str = "1",
    minor: str = "32",
    git_version: str = "v1.32.0",
    git_commit: str = "0000000000000000000000000000000000000000",
    build_date: str = "2025-01-01T00:00:00Z",
    platform: str = "linux/amd64",
) -> JSONObject:
    """The ``/version`` body (K8S-API §1.5): minor 32 makes the kubectl dispatcher predictable."""
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": git_commit,
        "gitTreeState": "clean",
        "buildDate": build_date,
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": platform,
    }


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """The apiserver's ``storageVersionHash``: base64 of the first 8 bytes of sha256(g/v/k)."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_versions(server_address: str = DEFAULT_SERVER_ADDRESS) -> JSONObject:
    """Legacy ``GET /api``: the ``APIVersions`` object."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(registry: ResourceRegistry, group: str) -> JSONObject:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: ResourceRegistry) -> JSONObject:
    """Legacy ``GET /apis``: every named group as an ``APIGroupList``."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(registry, g) for g in registry.groups() if g],
    }


def api_group(registry: ResourceRegistry, group: str) -> JSONObject | None:
    """``GET /apis/{group}``: the ``APIGroup``, or ``None`` when the group is not served."""
    if not group or not registry.versions(group):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(registry, group)}


def _legacy_resource(rt: ResourceType) -> list[JSONObject]:
    entry: JSONObject = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    entry["storageVersionHash"] = storage_version_hash(rt.group, rt.version, rt.kind)
    subs: list[JSONObject] = [
        {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(SUBRESOURCE_VERBS),
        }
        for sub in rt.subresources
    ]
    return [entry, *subs]


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> JSONObject | None:
    """``GET /api/v1`` or ``/apis/{g}/{v}``: the ``APIResourceList``, or ``None`` if unserved.

    Each resource is followed by its ``x/status`` entries (kopf needs them). The core list has
    no ``apiVersion``, as the real apiserver's has none.
    """
    resources = registry.resources(group, version)
    if not resources:
        return None
    body: JSONObject = {"kind": "APIResourceList"}
    if group:
        body["apiVersion"] = "v1"
    body["groupVersion"] = f"{group}/{version}" if group else version
    body["resources"] = [entry for rt in resources for entry in _legacy_resource(rt)]
    return body


def _aggregated_resource(rt: ResourceType) -> JSONObject:
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    entry: JSONObject = {
        "resource": rt.plural,
        "responseKind": kind,
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            {"subresource": sub, "responseKind": dict(kind), "verbs": list(SUBRESOURCE_VERBS)}
            for sub in rt.subresources
        ]
    return entry


def _aggregated_group(registry: ResourceRegistry, group: str) -> JSONObject:
    metadata: JSONObject = (
        {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None}
    )
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [
                    _aggregated_resource(rt) for rt in registry.resources(group, version)
                ],
                "freshness": "Current",
            }
            for version in registry.versions(group)
        ],
    }


def aggregated_discovery(registry: ResourceRegistry, *, core: bool) -> JSONObject:
    """The ``APIGroupDiscoveryList`` for ``/api`` (``core=True``) or ``/apis``.

    Serve it with Content-Type :data:`AGGREGATED_CONTENT_TYPE`, never plain JSON.
    """
    groups = [g for g in registry.groups() if (g == "") == core]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(registry, g) for g in groups],
    }


def root_discovery(
    registry: ResourceRegistry,
    *,
    core: bool,
    accept: str | None,
    server_address: str = DEFAULT_SERVER_ADDRESS,
) -> tuple[str, JSONObject]:
    """Answer ``GET /api`` (``core=True``) or ``GET /apis`` for an Accept header.

    Returns:
        The response Content-Type and body.
    """
    if negotiate(accept) is DiscoveryFormat.AGGREGATED:
        return AGGREGATED_CONTENT_TYPE, aggregated_discovery(registry, core=core)
    body = api_versions(server_address) if core else api_group_list(registry)
    return "application/json", body
