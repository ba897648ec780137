"""Field tables of the built-in Kubernetes messages the server reads as protobuf.

Each message is a mapping from field number to :class:`Field`; the numbers are those of
Kubernetes' ``generated.proto`` files (k8s.io/api ``core/v1``, ``rbac/v1``,
``coordination/v1``, ``networking/v1``, ``authorization/v1`` and apimachinery ``meta/v1``).
Only the fields the server stores are listed; the decoder skips any other field number, as
Go's generated unmarshalers skip unknown fields.

Zero values: Go's marshalers write every non-pointer scalar, empty or not, while its JSON
encoder drops them (``omitempty``). A field is therefore unset when it holds ``""``, ``0`` or
``false``, unless ``keep`` says the Go field is a pointer (or a required field without
``omitempty``), where presence on the wire is the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

Scalar = Literal["string", "bool", "int", "bytes", "time", "microtime", "fieldsv1"]
MapOf = Literal["map<string>", "map<bytes>"]
Message: TypeAlias = Mapping[int, "Field"]


@dataclass(frozen=True)
class Field:
    """How one protobuf field becomes a JSON member.

    ``type`` is a scalar name, a map (``map<string>``/``map<bytes>``, entries ``{1 key,
    2 value}``) or a nested message. ``inline`` merges a nested message into its parent, as
    Go's embedded structs (``json:",inline"``) are.
    """

    name: str
    type: Scalar | MapOf | Message
    repeated: bool = False
    keep: bool = False
    inline: bool = False


def _s(name: str, *, keep: bool = False) -> Field:
    return Field(name, "string", keep=keep)


def _i(name: str, *, keep: bool = False) -> Field:
    return Field(name, "int", keep=keep)


def _strings(name: str) -> Field:
    return Field(name, "string", repeated=True)


def _m(name: str, message: Message, *, repeated: bool = False, inline: bool = False) -> Field:
    return Field(name, message, repeated=repeated, inline=inline)


# --- apimachinery meta/v1 -------------------------------------------------------------------

OWNER_REFERENCE: Final[Message] = {
    1: _s("kind"),
    3: _s("name"),
    4: _s("uid"),
    5: _s("apiVersion"),
    6: Field("controller", "bool", keep=True),
    7: Field("blockOwnerDeletion", "bool", keep=True),
}

MANAGED_FIELDS_ENTRY: Final[Message] = {
    1: _s("manager"),
    2: _s("operation"),
    3: _s("apiVersion"),
    4: Field("time", "time"),
    6: _s("fieldsType"),
    7: Field("fieldsV1", "fieldsv1"),
    8: _s("subresource"),
}

OBJECT_META: Final[Message] = {
    1: _s("name"),
    2: _s("generateName"),
    3: _s("namespace"),
    4: _s("selfLink"),
    5: _s("uid"),
    6: _s("resourceVersion"),
    7: _i("generation"),
    8: Field("creationTimestamp", "time"),
    9: Field("deletionTimestamp", "time"),
    10: _i("deletionGracePeriodSeconds", keep=True),
    11: Field("labels", "map<string>"),
    12: Field("annotations", "map<string>"),
    13: _m("ownerReferences", OWNER_REFERENCE, repeated=True),
    14: _strings("finalizers"),
    17: _m("managedFields", MANAGED_FIELDS_ENTRY, repeated=True),
}

_LABEL_SELECTOR: Final[Message] = {
    1: Field("matchLabels", "map<string>"),
    2: _m(
        "matchExpressions",
        {1: _s("key"), 2: _s("operator"), 3: _strings("values")},
        repeated=True,
    ),
}

# --- core/v1 --------------------------------------------------------------------------------

SECRET: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: Field("data", "map<bytes>"),
    3: _s("type"),
    4: Field("stringData", "map<string>"),
    5: Field("immutable", "bool", keep=True),
}

CONFIG_MAP: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: Field("data", "map<string>"),
    3: Field("binaryData", "map<bytes>"),
    4: Field("immutable", "bool", keep=True),
}

NAMESPACE: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m("spec", {1: _strings("finalizers")}),
    3: _m(
        "status",
        {
            1: _s("phase"),
            2: _m(
                "conditions",
                {
                    1: _s("type"),
                    2: _s("status"),
                    4: Field("lastTransitionTime", "time"),
                    5: _s("reason"),
                    6: _s("message"),
                },
                repeated=True,
            ),
        },
    ),
}

_OBJECT_REFERENCE: Final[Message] = {
    1: _s("kind"),
    2: _s("namespace"),
    3: _s("name"),
    4: _s("uid"),
    5: _s("apiVersion"),
    6: _s("resourceVersion"),
    7: _s("fieldPath"),
}

EVENT: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m("involvedObject", _OBJECT_REFERENCE),
    3: _s("reason"),
    4: _s("message"),
    5: _m("source", {1: _s("component"), 2: _s("host")}),
    6: Field("firstTimestamp", "time"),
    7: Field("lastTimestamp", "time"),
    8: _i("count"),
    9: _s("type"),
    10: Field("eventTime", "microtime"),
    11: _m("series", {1: _i("count"), 2: Field("lastObservedTime", "microtime")}),
    12: _s("action"),
    13: _m("related", _OBJECT_REFERENCE),
    14: _s("reportingComponent"),
    15: _s("reportingInstance"),
}

_TYPED_LOCAL_OBJECT_REFERENCE: Final[Message] = {
    1: _s("apiGroup", keep=True),
    2: _s("kind"),
    3: _s("name"),
}

# --- rbac.authorization.k8s.io/v1 -----------------------------------------------------------

_POLICY_RULE: Final[Message] = {
    1: _strings("verbs"),
    2: _strings("apiGroups"),
    3: _strings("resources"),
    4: _strings("resourceNames"),
    5: _strings("nonResourceURLs"),
}

_SUBJECT: Final[Message] = {
    1: _s("kind"),
    2: _s("apiGroup"),
    3: _s("name"),
    4: _s("namespace"),
}

_ROLE_REF: Final[Message] = {1: _s("apiGroup"), 2: _s("kind"), 3: _s("name")}

ROLE: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m("rules", _POLICY_RULE, repeated=True),
}

CLUSTER_ROLE: Final[Message] = {
    **ROLE,
    3: _m("aggregationRule", {1: _m("clusterRoleSelectors", _LABEL_SELECTOR, repeated=True)}),
}

ROLE_BINDING: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m("subjects", _SUBJECT, repeated=True),
    3: _m("roleRef", _ROLE_REF),
}

# --- coordination.k8s.io/v1 -----------------------------------------------------------------

LEASE: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m(
        "spec",
        {
            # Every LeaseSpec field is a Go pointer: a present zero is a value.
            1: _s("holderIdentity", keep=True),
            2: _i("leaseDurationSeconds", keep=True),
            3: Field("acquireTime", "microtime", keep=True),
            4: Field("renewTime", "microtime", keep=True),
            5: _i("leaseTransitions", keep=True),
            6: _s("strategy", keep=True),
            7: _s("preferredHolder", keep=True),
        },
    ),
}

# --- networking.k8s.io/v1 -------------------------------------------------------------------

_INGRESS_BACKEND: Final[Message] = {
    3: _m("resource", _TYPED_LOCAL_OBJECT_REFERENCE),
    4: _m("service", {1: _s("name"), 2: _m("port", {1: _s("name"), 2: _i("number")})}),
}

_HTTP_INGRESS_PATH: Final[Message] = {
    1: _s("path"),
    2: _m("backend", _INGRESS_BACKEND),
    3: _s("pathType", keep=True),
}

_INGRESS_RULE: Final[Message] = {
    1: _s("host"),
    # IngressRuleValue is embedded inline: its "http" member sits in the rule itself.
    2: _m(
        "ingressRuleValue",
        {1: _m("http", {1: _m("paths", _HTTP_INGRESS_PATH, repeated=True)})},
        inline=True,
    ),
}

_INGRESS_LOAD_BALANCER_INGRESS: Final[Message] = {
    1: _s("ip"),
    2: _s("hostname"),
    4: _m(
        "ports",
        {1: _i("port", keep=True), 2: _s("protocol", keep=True), 3: _s("error", keep=True)},
        repeated=True,
    ),
}

INGRESS: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m(
        "spec",
        {
            1: _m("defaultBackend", _INGRESS_BACKEND),
            2: _m("tls", {1: _strings("hosts"), 2: _s("secretName")}, repeated=True),
            3: _m("rules", _INGRESS_RULE, repeated=True),
            4: _s("ingressClassName", keep=True),
        },
    ),
    3: _m(
        "status",
        {1: _m("loadBalancer", {1: _m("ingress", _INGRESS_LOAD_BALANCER_INGRESS, repeated=True)})},
    ),
}

INGRESS_CLASS: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m(
        "spec",
        {
            1: _s("controller"),
            2: _m(
                "parameters",
                {
                    1: _s("apiGroup", keep=True),
                    2: _s("kind"),
                    3: _s("name"),
                    4: _s("scope", keep=True),
                    5: _s("namespace", keep=True),
                },
            ),
        },
    ),
}

# --- authorization.k8s.io/v1 ----------------------------------------------------------------

SELF_SUBJECT_ACCESS_REVIEW: Final[Message] = {
    1: _m("metadata", OBJECT_META),
    2: _m(
        "spec",
        {
            # Field and label selectors (8, 9) are not evaluated by this server.
            1: _m(
                "resourceAttributes",
                {
                    1: _s("namespace"),
                    2: _s("verb"),
                    3: _s("group"),
                    4: _s("version"),
                    5: _s("resource"),
                    6: _s("subresource"),
                    7: _s("name"),
                },
            ),
            2: _m("nonResourceAttributes", {1: _s("path"), 2: _s("verb")}),
        },
    ),
}

KINDS: Final[Mapping[tuple[str, str], Message]] = {
    ("v1", "Secret"): SECRET,
    ("v1", "ConfigMap"): CONFIG_MAP,
    ("v1", "Namespace"): NAMESPACE,
    ("v1", "Event"): EVENT,
    ("rbac.authorization.k8s.io/v1", "Role"): ROLE,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): CLUSTER_ROLE,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ROLE_BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ROLE_BINDING,
    ("coordination.k8s.io/v1", "Lease"): LEASE,
    ("networking.k8s.io/v1", "Ingress"): INGRESS,
    ("networking.k8s.io/v1", "IngressClass"): INGRESS_CLASS,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): SELF_SUBJECT_ACCESS_REVIEW,
}
"""The messages of every kind the server accepts as protobuf, by (apiVersion, kind)."""
