"""Parsing resource URLs into a :class:`Target` (K8S-API §2).

Paths are parsed by hand rather than with an aiohttp route per shape: one parser tolerates
trailing slashes (kr8s needs them) and tells "unknown resource" (404) from "unsupported verb"
(405) the way kube-apiserver does::

    /api/v1/{res}[/{name}[/status]]                       cluster-scoped, or all namespaces
    /api/v1/namespaces/{ns}/{res}[/{name}[/status]]       namespaced
    /apis/{group}/{version}/...                           the same below a named group
"""

from __future__ import annotations

from dataclasses import dataclass

from certsmith.api.errors import StatusError
from certsmith.apiserver.http.errors import not_found_path
from certsmith.apiserver.resources import ResourceRegistry, ResourceType
from certsmith.apiserver.storage import ObjectKey, ResourcePrefix


@dataclass(frozen=True)
class Target:
    """What a resource request addresses."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def key(self) -> ObjectKey:
        """The storage key of a named target."""
        assert self.name is not None
        return ObjectKey(self.rt.group, self.rt.plural, self.namespace or "", self.name)

    @property
    def prefix(self) -> ResourcePrefix:
        """The storage prefix of a collection target (``None`` namespace = all)."""
        return ResourcePrefix(self.rt.group, self.rt.plural, self.namespace)


def parse_target(registry: ResourceRegistry, group: str, version: str, rest: list[str]) -> Target:
    """Resolve the segments after ``/api/v1`` or ``/apis/g/v``.

    Raises:
        StatusError: 404 when no served resource matches.
    """
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and registry.get(group, version, rest[2]):
        rt = registry.get(group, version, rest[2])
        if rt is not None and rt.namespaced:
            namespace = rest[1]
            rest = rest[2:]
    if not rest:
        raise not_found_path()
    rt = registry.get(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise not_found_path()
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and sub not in rt.subresources:
        raise not_found_path()
    if rt.namespaced and namespace is None and name is not None:
        raise not_found_path()
    if name == "":
        raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
    return Target(rt, namespace, name, sub)
