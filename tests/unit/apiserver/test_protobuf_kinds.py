"""Every built-in kind the server serves decodes from protobuf with Kubernetes' field numbers.

Each row encodes an object field by field with the numbers of k8s.io/api's ``generated.proto``
(written out here by hand, not taken from the server's tables) and states the JSON that
kube-apiserver would store for it.
"""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certsmith.api.errors import StatusError
from certsmith.apiserver.protobuf import decode, decode_object_meta
from tests.prototools import (
    envelope,
    field_bytes,
    field_varint,
    map_entries,
    message,
    object_meta,
    timestamp,
)

RBAC = "rbac.authorization.k8s.io/v1"
META = field_bytes(1, object_meta(name="x", namespace="ns"))
META_JSON = {"name": "x", "namespace": "ns"}

# PolicyRule{1 verbs, 2 apiGroups, 3 resources, 4 resourceNames, 5 nonResourceURLs}
RULE = message(
    2,
    field_bytes(1, "get"),
    field_bytes(1, "list"),
    field_bytes(2, ""),
    field_bytes(3, "secrets"),
    field_bytes(4, "db"),
)
RULE_JSON = {
    "verbs": ["get", "list"],
    "apiGroups": [""],
    "resources": ["secrets"],
    "resourceNames": ["db"],
}
# Subject{1 kind, 2 apiGroup, 3 name, 4 namespace}; RoleRef{1 apiGroup, 2 kind, 3 name}
SUBJECTS = message(
    2, field_bytes(1, "User"), field_bytes(2, "rbac.authorization.k8s.io"), field_bytes(3, "alice")
) + message(
    2, field_bytes(1, "ServiceAccount"), field_bytes(2, ""), field_bytes(3, "sa"),
    field_bytes(4, "ns"),
)  # fmt: skip
SUBJECTS_JSON = [
    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
    {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
]
ROLE_REF = message(
    3, field_bytes(1, "rbac.authorization.k8s.io"), field_bytes(2, "Role"), field_bytes(3, "r")
)
ROLE_REF_JSON = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}

# IngressBackend{4 service{1 name, 2 port{1 name, 2 number}},
#                3 resource{1 apiGroup, 2 kind, 3 name}}
SERVICE_BACKEND = message(
    4, field_bytes(1, "web"), message(2, field_bytes(1, ""), field_varint(2, 8080))
)
# HTTPIngressPath{1 path, 3 pathType, 2 backend};
# IngressRule{1 host, 2 ingressRuleValue{1 http{1 paths}}}
INGRESS_RULE = message(
    3,
    field_bytes(1, "foo.example"),
    message(
        2,
        message(
            1,
            message(
                1,
                field_bytes(1, "/api"),
                field_bytes(3, "Prefix"),
                message(2, SERVICE_BACKEND),
            ),
        ),
    ),
)
INGRESS_RULE_JSON = {
    "host": "foo.example",
    "http": {
        "paths": [
            {
                "path": "/api",
                "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 8080}}},
            }
        ]
    },
}
DEFAULT_BACKEND = message(
    1,
    message(3, field_bytes(1, "k8s.example.com"), field_bytes(2, "Bucket"), field_bytes(3, "b")),
)

CASES = [
    pytest.param(RBAC, "ClusterRole", META + RULE, {"rules": [RULE_JSON]}, id="clusterrole"),
    pytest.param(RBAC, "Role", META + RULE, {"rules": [RULE_JSON]}, id="role"),
    pytest.param(
        RBAC,
        "ClusterRole",
        META
        # AggregationRule{1 clusterRoleSelectors: LabelSelector{1 matchLabels, 2 matchExpressions}}
        + message(
            3,
            message(
                1,
                map_entries(1, {"agg": "true"}),
                message(2, field_bytes(1, "tier"), field_bytes(2, "In"), field_bytes(3, "a")),
            ),
        ),
        {
            "aggregationRule": {
                "clusterRoleSelectors": [
                    {
                        "matchLabels": {"agg": "true"},
                        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
                    }
                ]
            }
        },
        id="clusterrole aggregation",
    ),
    pytest.param(
        RBAC,
        "RoleBinding",
        META + SUBJECTS + ROLE_REF,
        {"subjects": SUBJECTS_JSON, "roleRef": ROLE_REF_JSON},
        id="rolebinding",
    ),
    pytest.param(
        RBAC,
        "ClusterRoleBinding",
        META + SUBJECTS + ROLE_REF,
        {"subjects": SUBJECTS_JSON, "roleRef": ROLE_REF_JSON},
        id="clusterrolebinding",
    ),
    pytest.param(
        "networking.k8s.io/v1",
        "Ingress",
        META
        # IngressSpec{4 ingressClassName, 1 defaultBackend, 2 tls{1 hosts, 2 secretName}, 3 rules}
        + message(
            2,
            field_bytes(4, "nginx"),
            DEFAULT_BACKEND,
            message(2, field_bytes(1, "foo.example"), field_bytes(2, "foo-tls")),
            INGRESS_RULE,
        )
        # IngressStatus{1 loadBalancer{1 ingress{1 ip, 2 hostname, 4 ports{1 port, 2 protocol}}}}
        + message(
            3,
            message(
                1,
                message(
                    1,
                    field_bytes(1, "10.0.0.1"),
                    field_bytes(2, ""),
                    message(4, field_varint(1, 443), field_bytes(2, "TCP")),
                ),
            ),
        ),
        {
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {
                    "resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}
                },
                "tls": [{"hosts": ["foo.example"], "secretName": "foo-tls"}],
                "rules": [INGRESS_RULE_JSON],
            },
            "status": {
                "loadBalancer": {
                    "ingress": [{"ip": "10.0.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}]
                }
            },
        },
        id="ingress",
    ),
    pytest.param(
        "networking.k8s.io/v1",
        "IngressClass",
        META
        # IngressClassSpec{1 controller, 2 parameters{1 apiGroup, 2 kind, 3 name, 4 scope, 5 ns}}
        + message(
            2,
            field_bytes(1, "example.com/ingress"),
            message(
                2,
                field_bytes(1, "k8s.example.com"),
                field_bytes(2, "Params"),
                field_bytes(3, "p"),
                field_bytes(4, "Namespace"),
                field_bytes(5, "ns"),
            ),
        ),
        {
            "spec": {
                "controller": "example.com/ingress",
                "parameters": {
                    "apiGroup": "k8s.example.com",
                    "kind": "Params",
                    "name": "p",
                    "scope": "Namespace",
                    "namespace": "ns",
                },
            }
        },
        id="ingressclass",
    ),
    pytest.param(
        "coordination.k8s.io/v1",
        "Lease",
        META
        # LeaseSpec{1 holderIdentity, 2 leaseDurationSeconds, 3 acquireTime, 4 renewTime,
        #           5 leaseTransitions}; every field a Go pointer, so a present 0 is kept
        + message(
            2,
            field_bytes(1, "pod-a"),
            field_varint(2, 15),
            timestamp(3, 1735819200, 123456000),
            timestamp(4, 1735819205),
            field_varint(5, 0),
        ),
        {
            "spec": {
                "holderIdentity": "pod-a",
                "leaseDurationSeconds": 15,
                "acquireTime": "2025-01-02T12:00:00.123456Z",
                "renewTime": "2025-01-02T12:00:05.000000Z",
                "leaseTransitions": 0,
            }
        },
        id="lease",
    ),
    pytest.param(
        "v1",
        "Event",
        META
        # ObjectReference{1 kind, 2 namespace, 3 name, 4 uid, 5 apiVersion, 6 rv, 7 fieldPath}
        + message(
            2,
            field_bytes(1, "Certificate"),
            field_bytes(2, "ns"),
            field_bytes(3, "c"),
            field_bytes(4, "u1"),
            field_bytes(5, "cert-manager.io/v1"),
            field_bytes(6, ""),
            field_bytes(7, ""),
        )
        + field_bytes(3, "Issuing")
        + field_bytes(4, "Issuing certificate")
        + message(5, field_bytes(1, "cert-manager"), field_bytes(2, ""))
        + timestamp(6, 1735819200)
        + timestamp(7, 1735819260)
        + field_varint(8, 2)
        + field_bytes(9, "Normal")
        + timestamp(10, 0)
        + field_bytes(12, "")
        + field_bytes(14, "")
        + field_bytes(15, ""),
        {
            "involvedObject": {
                "kind": "Certificate",
                "namespace": "ns",
                "name": "c",
                "uid": "u1",
                "apiVersion": "cert-manager.io/v1",
            },
            "reason": "Issuing",
            "message": "Issuing certificate",
            "source": {"component": "cert-manager"},
            "firstTimestamp": "2025-01-02T12:00:00Z",
            "lastTimestamp": "2025-01-02T12:01:00Z",
            "count": 2,
            "type": "Normal",
        },
        id="event",
    ),
    pytest.param(
        "v1",
        "Secret",
        META
        + map_entries(2, {"tls.crt": b"\x30\x82", "tls.key": b"k"})
        + field_bytes(3, "kubernetes.io/tls"),
        {
            "data": {
                "tls.crt": base64.b64encode(b"\x30\x82").decode(),
                "tls.key": base64.b64encode(b"k").decode(),
            },
            "type": "kubernetes.io/tls",
        },
        id="secret tls",
    ),
]


@pytest.mark.parametrize(("api_version", "kind", "raw", "expected"), CASES)
def test_built_in_kind_decodes_with_kubernetes_field_numbers(api_version, kind, raw, expected):
    assert decode(envelope(api_version, kind, raw)) == {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": META_JSON,
        **expected,
    }


def test_unknown_field_numbers_are_skipped_as_go_does():
    raw = META + field_bytes(99, "future") + field_varint(98, 7) + RULE
    assert decode(envelope(RBAC, "Role", raw))["rules"] == [RULE_JSON]


def test_object_meta_reads_managed_fields_deletion_and_self_link():
    # ManagedFieldsEntry{1 manager, 2 operation, 3 apiVersion, 4 time, 6 fieldsType,
    #                    7 fieldsV1{1 Raw}, 8 subresource}
    entry = message(
        17,
        field_bytes(1, "kubectl-create"),
        field_bytes(2, "Update"),
        field_bytes(3, "v1"),
        timestamp(4, 1735819200),
        field_bytes(6, "FieldsV1"),
        message(7, field_bytes(1, b'{"f:data":{".":{}}}')),
        field_bytes(8, ""),
    )
    raw = field_bytes(4, "/api/v1/x") + timestamp(9, 1735819200) + field_varint(10, 0) + entry
    assert decode_object_meta(raw) == {
        "selfLink": "/api/v1/x",
        "deletionTimestamp": "2025-01-02T12:00:00Z",
        "deletionGracePeriodSeconds": 0,
        "managedFields": [
            {
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2025-01-02T12:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}}},
            }
        ],
    }


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(timestamp(8, 1 << 62), id="time out of range"),
        pytest.param(message(17, message(7, field_bytes(1, b"{not json"))), id="fieldsV1 not json"),
        pytest.param(field_varint(1, 5), id="string field as varint"),
        pytest.param(field_bytes(7, "1"), id="int field as bytes"),
    ],
)
def test_malformed_fields_are_400_not_500(meta):
    with pytest.raises(StatusError) as err:
        decode(envelope(RBAC, "Role", field_bytes(1, meta)))
    assert (err.value.code, err.value.reason) == (400, "BadRequest")


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "Event"),
        (RBAC, "ClusterRole"),
        (RBAC, "ClusterRoleBinding"),
        ("coordination.k8s.io/v1", "Lease"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "IngressClass"),
    ],
)
@settings(max_examples=150)
@given(raw=st.binary(max_size=80))
def test_garbage_payload_of_any_kind_raises_only_400(api_version, kind, raw):
    code = None
    try:
        decode(envelope(api_version, kind, raw))
    except StatusError as err:
        code = err.code
    assert code in (None, 400)
