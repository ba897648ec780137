"""Kubernetes RBAC evaluation: which rules apply to a user, and whether one allows a request.

This decides exactly what kube-apiserver's RBAC authorizer (``plugin/pkg/auth/authorizer/rbac``)
decides, because RBAC objects written for a real cluster must mean the same here:

* ClusterRoleBindings grant their ClusterRole's rules everywhere (every namespace and the
  cluster scope); RoleBindings grant a Role of their namespace, or a ClusterRole, only inside
  their namespace. A binding to a role that does not exist grants nothing.
* Subjects are ``User`` (by name), ``Group`` (by membership) and ``ServiceAccount``, which is
  the user ``system:serviceaccount:<namespace>:<name>``; a ServiceAccount subject of a
  RoleBinding without a namespace means the binding's namespace.
* A rule allows a resource request when its verbs, apiGroups, resources and resourceNames all
  match: ``*`` matches any verb, group or resource, ``resource/subresource`` names a
  subresource (``*/status`` any resource's), an empty ``resourceNames`` any name. A request
  for a path (``/version``) is allowed by ``nonResourceURLs``: exact, ``*``, or a prefix ending
  in ``*``. RBAC only ever allows; nothing here denies.

Not supported (documented in ``docs/decisions.md``): aggregated ClusterRoles
(``aggregationRule`` is ignored, its own ``rules`` still count), and the escalation checks kube
runs when roles and bindings are written (``escalate``/``bind``): whoever may write RBAC
objects may grant anything. ``system:masters`` is handled before RBAC, in
:func:`certsmith.apiserver.auth.authorize`.

Evaluation works on an immutable :class:`PolicyIndex` built from the stored objects; the
store-fed cache that keeps one current is :mod:`certsmith.apiserver.rbaccache`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from certsmith.api.meta import JSONObject, UserInfo
from certsmith.apiserver.auth import RequestAttributes

RBAC_GROUP: Final = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT_PREFIX: Final = "system:serviceaccount:"
ALL: Final = "*"


class RuleSource(Protocol):
    """Anything that can answer an RBAC question (an index, or the cache holding one)."""

    def allows(self, user: UserInfo, attrs: RequestAttributes) -> bool:
        """Whether some rule bound to ``user`` allows ``attrs``."""
        ...


def _strings(raw: Any) -> frozenset[str]:
    # Stored RBAC objects are not validated by this server, so read defensively: a field
    # that is not a list of strings grants nothing rather than crashing authorization.
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(item for item in raw if isinstance(item, str))


@dataclass(frozen=True)
class PolicyRule:
    """One ``rules[]`` entry of a Role or ClusterRole."""

    verbs: frozenset[str]
    api_groups: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    resource_names: frozenset[str] = frozenset()
    non_resource_urls: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, raw: Any) -> PolicyRule:
        """Read a stored rule; malformed fields read as empty (matching nothing)."""
        if not isinstance(raw, Mapping):
            return cls(frozenset())
        return cls(
            verbs=_strings(raw.get("verbs")),
            api_groups=_strings(raw.get("apiGroups")),
            resources=_strings(raw.get("resources")),
            resource_names=_strings(raw.get("resourceNames")),
            non_resource_urls=_strings(raw.get("nonResourceURLs")),
        )

    def allows(self, attrs: RequestAttributes) -> bool:
        """Whether this rule allows the request (kube's ``RuleAllows``)."""
        if ALL not in self.verbs and attrs.verb not in self.verbs:
            return False
        if not attrs.is_resource_request:
            return self._url_matches(attrs.path)
        return (
            (ALL in self.api_groups or attrs.group in self.api_groups)
            and self._resource_matches(attrs.resource, attrs.subresource)
            and (not self.resource_names or attrs.name in self.resource_names)
        )

    def _resource_matches(self, resource: str, subresource: str) -> bool:
        combined = f"{resource}/{subresource}" if subresource else resource
        if ALL in self.resources or combined in self.resources:
            return True
        return bool(subresource) and f"*/{subresource}" in self.resources

    def _url_matches(self, path: str) -> bool:
        for url in self.non_resource_urls:
            if url in (ALL, path):
                return True
            if url.endswith("*") and path.startswith(url.rstrip("*")):
                return True
        return False


@dataclass(frozen=True)
class Subject:
    """One ``subjects[]`` entry of a binding."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def from_dict(cls, raw: Any) -> Subject | None:
        """Read a stored subject; ``None`` when it is unusable."""
        if not isinstance(raw, Mapping):
            return None
        kind, name, namespace = raw.get("kind"), raw.get("name"), raw.get("namespace") or ""
        if not isinstance(kind, str) or not isinstance(name, str) or not isinstance(namespace, str):
            return None
        return cls(kind, name, namespace)

    def applies_to(self, user: UserInfo, binding_namespace: str) -> bool:
        """Whether ``user`` is this subject (kube's ``appliesToUser``)."""
        if self.kind == "User":
            return user.username == self.name
        if self.kind == "Group":
            return self.name in user.groups
        if self.kind == "ServiceAccount":
            namespace = self.namespace or binding_namespace
            return bool(namespace) and user.username == service_account_username(
                namespace, self.name
            )
        return False


def service_account_username(namespace: str, name: str) -> str:
    """The user name a ServiceAccount authenticates as."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


@dataclass(frozen=True)
class Binding:
    """A RoleBinding (``namespace`` set) or ClusterRoleBinding (``namespace`` empty)."""

    namespace: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]

    @classmethod
    def from_object(cls, obj: JSONObject) -> Binding | None:
        """Read a stored binding; ``None`` when its roleRef is unusable."""
        ref = obj.get("roleRef")
        if not isinstance(ref, Mapping):
            return None
        kind, name = ref.get("kind"), ref.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            return None
        raw_subjects = obj.get("subjects")
        subjects = tuple(
            s
            for s in map(Subject.from_dict, raw_subjects if isinstance(raw_subjects, list) else [])
            if s is not None
        )
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        return cls(namespace, kind, name, subjects)

    def applies_to(self, user: UserInfo) -> bool:
        """Whether any subject is ``user``."""
        return any(s.applies_to(user, self.namespace) for s in self.subjects)


def rules_of(obj: JSONObject) -> tuple[PolicyRule, ...]:
    """The rules of a stored Role or ClusterRole (``aggregationRule`` is not evaluated)."""
    raw = obj.get("rules")
    return tuple(PolicyRule.from_dict(r) for r in raw) if isinstance(raw, list) else ()


def _name(obj: JSONObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@dataclass(frozen=True)
class PolicyIndex:
    """A snapshot of every Role, ClusterRole and binding, arranged for evaluation."""

    cluster_roles: Mapping[str, tuple[PolicyRule, ...]] = field(default_factory=dict)
    roles: Mapping[tuple[str, str], tuple[PolicyRule, ...]] = field(default_factory=dict)
    cluster_bindings: tuple[Binding, ...] = ()
    role_bindings: Mapping[str, tuple[Binding, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        cluster_roles: Iterable[JSONObject] = (),
        roles: Iterable[JSONObject] = (),
        cluster_role_bindings: Iterable[JSONObject] = (),
        role_bindings: Iterable[JSONObject] = (),
    ) -> PolicyIndex:
        """Index stored objects (as the store returns them)."""
        by_namespace: dict[str, list[Binding]] = {}
        for obj in role_bindings:
            binding = Binding.from_object(obj)
            if binding is not None and binding.namespace:
                by_namespace.setdefault(binding.namespace, []).append(binding)
        cluster: list[Binding] = []
        for obj in cluster_role_bindings:
            binding = Binding.from_object(obj)
            if binding is not None:
                cluster.append(Binding("", binding.role_kind, binding.role_name, binding.subjects))
        return cls(
            cluster_roles={_name(o)[1]: rules_of(o) for o in cluster_roles},
            roles={_name(o): rules_of(o) for o in roles},
            cluster_bindings=tuple(cluster),
            role_bindings={ns: tuple(bs) for ns, bs in by_namespace.items()},
        )

    def _role_rules(self, binding: Binding) -> tuple[PolicyRule, ...]:
        if binding.role_kind == "ClusterRole":
            return self.cluster_roles.get(binding.role_name, ())
        if binding.role_kind == "Role" and binding.namespace:
            return self.roles.get((binding.namespace, binding.role_name), ())
        return ()

    def rules_for(self, user: UserInfo, namespace: str) -> Iterator[PolicyRule]:
        """Every rule that applies to ``user`` in ``namespace`` (``""``: cluster scope only)."""
        for binding in self.cluster_bindings:
            if binding.applies_to(user):
                yield from self._role_rules(binding)
        if not namespace:
            return
        for binding in self.role_bindings.get(namespace, ()):
            if binding.applies_to(user):
                yield from self._role_rules(binding)

    def allows(self, user: UserInfo, attrs: RequestAttributes) -> bool:
        """Whether some rule bound to ``user`` allows ``attrs`` (``system:masters`` aside)."""
        return any(rule.allows(attrs) for rule in self.rules_for(user, attrs.namespace))
