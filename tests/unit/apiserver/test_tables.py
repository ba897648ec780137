import datetime as dt
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from certsmith.api.errors import StatusError
from certsmith.apiserver.resources import NAME_DESCRIPTION, ResourceType, default_registry
from certsmith.apiserver.tables import (
    IncludeObject,
    TableConverter,
    age,
    human_duration,
    parse_include_object,
    table_version,
    to_table,
)

CRD_DIR = Path(__file__).resolve().parents[3] / "../shared/reference/crds"
needs_crds = pytest.mark.skipif(not CRD_DIR.is_dir(), reason="reference CRDs not available")
NOW = dt.datetime(2025, 1, 2, 12, 0, 0, tzinfo=dt.UTC)
KUBECTL_TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


@functools.cache
def crd_type(name: str) -> ResourceType:
    [rt] = ResourceType.from_crd(yaml.safe_load((CRD_DIR / name).read_text()))
    return rt


def builtin(group: str, plural: str) -> ResourceType:
    rt = default_registry().get(group, "v1", plural)
    assert rt is not None
    return rt


def obj(
    name: str = "demo",
    *,
    namespace: str | None = "default",
    created: str = "2025-01-02T11:59:55Z",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "X",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "u-1",
            "resourceVersion": "105",
            "creationTimestamp": created,
            "labels": {"app": "demo"},
        },
        **fields,
    }


def cert_request(**status: Any) -> dict[str, Any]:
    return obj(
        "req",
        spec={"issuerRef": {"name": "ca"}, "username": "system:admin"},
        status={
            "conditions": [
                {"type": "Approved", "status": "True"},
                {"type": "Ready", "status": "True", "message": "Certificate fetched from issuer"},
            ],
            **status,
        },
    )


HUMAN_CASES = [
    (dt.timedelta(seconds=-5), "<invalid>"),
    (dt.timedelta(seconds=-1), "0s"),
    (dt.timedelta(seconds=5), "5s"),
    (dt.timedelta(seconds=119), "119s"),
    (dt.timedelta(minutes=3), "3m"),
    (dt.timedelta(minutes=3, seconds=2), "3m2s"),
    (dt.timedelta(minutes=14, seconds=30), "14m"),
    (dt.timedelta(hours=2, minutes=59), "179m"),
    (dt.timedelta(hours=5, minutes=3), "5h3m"),
    (dt.timedelta(hours=5), "5h"),
    (dt.timedelta(hours=30), "30h"),
    (dt.timedelta(days=2), "2d"),
    (dt.timedelta(days=2, hours=3), "2d3h"),
    (dt.timedelta(days=100), "100d"),
    (dt.timedelta(days=365 * 3), "3y"),
    (dt.timedelta(days=365 * 3 + 10), "3y10d"),
    (dt.timedelta(days=365 * 9), "9y"),
]


@pytest.mark.parametrize(("delta", "expected"), HUMAN_CASES, ids=[c[1] for c in HUMAN_CASES])
def test_human_duration_matches_kubernetes(delta, expected):
    assert human_duration(delta) == expected


def test_age_of_an_unset_timestamp_is_unknown():
    assert age(None, NOW) == "<unknown>"


def test_age_reads_rfc3339_with_z():
    assert age("2025-01-02T11:59:55Z", NOW) == "5s"


ACCEPT_CASES = [
    ("kubectl get", KUBECTL_TABLE_ACCEPT, "v1"),
    ("v1beta1 only", "application/json;as=Table;v=v1beta1;g=meta.k8s.io", "v1beta1"),
    ("plain json", "application/json", None),
    ("json first", "application/json,application/json;as=Table;v=v1;g=meta.k8s.io", None),
    ("unknown table group", "application/json;as=Table;v=v1;g=other.io,application/json", None),
    ("no accept", None, None),
]


@pytest.mark.parametrize(
    ("accept", "expected"), [c[1:] for c in ACCEPT_CASES], ids=[c[0] for c in ACCEPT_CASES]
)
def test_table_version_reads_the_accept_header(accept, expected):
    assert table_version(accept) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, IncludeObject.METADATA),
        ("", IncludeObject.METADATA),
        ("None", IncludeObject.NONE),
        ("Object", IncludeObject.OBJECT),
        ("Metadata", IncludeObject.METADATA),
    ],
)
def test_include_object_defaults_to_metadata(value, expected):
    assert parse_include_object(value) is expected


def test_unknown_include_object_is_a_bad_request():
    with pytest.raises(StatusError) as err:
        parse_include_object("All")
    assert (err.value.code, err.value.reason, err.value.message) == (
        400,
        "BadRequest",
        'unrecognized includeObject value: "All"',
    )


@needs_crds
def test_certificaterequest_columns_come_from_the_crd():
    conv = TableConverter(crd_type("cert-manager.io_certificaterequests.yaml"))
    defs = conv.column_definitions
    assert [(d["name"], d["type"], d["priority"]) for d in defs] == [
        ("Name", "string", 0),
        ("Approved", "string", 0),
        ("Denied", "string", 0),
        ("Ready", "string", 0),
        ("Issuer", "string", 0),
        ("Requester", "string", 0),
        ("Status", "string", 1),
        ("Age", "date", 0),
    ]
    assert defs[0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_DESCRIPTION,
        "priority": 0,
    }
    assert defs[1]["description"] == (
        "Custom resource definition column (in JSONPath format): "
        '.status.conditions[?(@.type == "Approved")].status'
    )
    assert defs[7]["description"].startswith("CreationTimestamp is a timestamp")


@needs_crds
def test_certificaterequest_row_cells_follow_the_printer_columns():
    conv = TableConverter(crd_type("cert-manager.io_certificaterequests.yaml"))
    assert conv.cells(cert_request(), NOW) == [
        "req",
        "True",
        None,
        "True",
        "ca",
        "system:admin",
        "Certificate fetched from issuer",
        "5s",
    ]


@needs_crds
def test_table_rows_carry_partial_object_metadata():
    rt = crd_type("cert-manager.io_certificates.yaml")
    table = to_table(rt, [obj()], now=NOW, list_metadata={"resourceVersion": "105"})
    assert (table["kind"], table["apiVersion"], table["metadata"]) == (
        "Table",
        "meta.k8s.io/v1",
        {"resourceVersion": "105"},
    )
    [row] = table["rows"]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj()["metadata"],
    }
    assert row["cells"] == ["demo", None, None, None, None, None, "5s"]


@needs_crds
@pytest.mark.parametrize(
    ("include", "expected_object"),
    [(IncludeObject.NONE, None), (IncludeObject.OBJECT, obj())],
    ids=["none", "object"],
)
def test_include_object_controls_the_row_object(include, expected_object):
    rt = crd_type("cert-manager.io_certificates.yaml")
    [row] = to_table(rt, [obj()], now=NOW, include=include)["rows"]
    assert row.get("object") == expected_object


def test_crd_without_printer_columns_gets_name_and_age():
    rt = ResourceType(
        group="g.io",
        version="v1",
        plural="xs",
        singular="x",
        kind="X",
        list_kind="XList",
        namespaced=True,
    )
    conv = TableConverter(rt)
    assert [d["name"] for d in conv.column_definitions] == ["Name", "Age"]
    assert conv.cells(obj(), NOW) == ["demo", "5s"]


CELL_TYPE_CASES = [
    ("integer from int", "integer", 3, 3),
    ("integer from float", "integer", 3.7, 3),
    ("integer from string is null", "integer", "3", None),
    ("number", "number", 2, 2.0),
    ("boolean", "boolean", True, True),
    ("boolean from string is null", "boolean", "true", None),
    ("string from map prints json", "string", {"a": 1}, '{"a":1}'),
    ("string from bool", "string", False, "false"),
    ("date from garbage is invalid", "date", "yesterday", "<invalid>"),
]


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [c[1:] for c in CELL_TYPE_CASES],
    ids=[c[0] for c in CELL_TYPE_CASES],
)
def test_custom_column_cells_are_coerced_by_column_type(type_, value, expected):
    from certsmith.apiserver.resources import PrinterColumn

    rt = ResourceType(
        group="g.io",
        version="v1",
        plural="xs",
        singular="x",
        kind="X",
        list_kind="XList",
        namespaced=True,
        printer_columns=(PrinterColumn("V", type_, ".spec.v"),),
    )
    assert TableConverter(rt).cells(obj(spec={"v": value}), NOW) == ["demo", expected]


def test_secret_row_is_name_type_data_count_age():
    conv = TableConverter(builtin("", "secrets"))
    assert [d["name"] for d in conv.column_definitions] == ["Name", "Type", "Data", "Age"]
    secret = obj("tls", type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": "", "ca.crt": ""})
    assert conv.cells(secret, NOW) == ["tls", "kubernetes.io/tls", 3, "5s"]


def test_namespace_row_is_name_status_age():
    conv = TableConverter(builtin("", "namespaces"))
    ns = obj("default", namespace=None, status={"phase": "Active"})
    assert conv.cells(ns, NOW) == ["default", "Active", "5s"]


def test_configmap_data_counts_binary_data_too():
    conv = TableConverter(builtin("", "configmaps"))
    assert conv.cells(obj("cm", data={"a": "1"}, binaryData={"b": "AA=="}), NOW) == ["cm", 2, "5s"]


def test_lease_row_shows_the_holder():
    conv = TableConverter(builtin("coordination.k8s.io", "leases"))
    assert conv.cells(obj("lock", spec={"holderIdentity": "pod-1"}), NOW) == [
        "lock",
        "pod-1",
        "5s",
    ]


def test_event_row_matches_kubectl_get_events():
    conv = TableConverter(builtin("", "events"))
    assert [d["name"] for d in conv.column_definitions] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    event = obj(
        "demo.17a",
        involvedObject={"kind": "Certificate", "name": "demo"},
        reason="Issuing",
        message="Issuing certificate as Secret does not exist\n",
        type="Normal",
        source={"component": "cert-manager-certificates-trigger"},
        firstTimestamp="2025-01-02T11:00:00Z",
        lastTimestamp="2025-01-02T11:59:00Z",
        count=2,
    )
    assert conv.cells(event, NOW) == [
        "60s",
        "Normal",
        "Issuing",
        "certificate/demo",
        "",
        "cert-manager-certificates-trigger",
        "Issuing certificate as Secret does not exist",
        "60m",
        2,
        "demo.17a",
    ]


def test_event_without_timestamps_uses_event_time_and_count_one():
    conv = TableConverter(builtin("", "events"))
    event = obj(
        "e",
        involvedObject={"kind": "Pod"},
        eventTime="2025-01-02T11:59:50.000000Z",
        reportingComponent="ctrl",
        reportingInstance="host-1",
    )
    cells = conv.cells(event, NOW)
    assert (cells[0], cells[3], cells[5], cells[7], cells[8]) == (
        "10s",
        "pod",
        "ctrl, host-1",
        "10s",
        1,
    )


def test_rolebinding_row_lists_role_and_subjects():
    conv = TableConverter(builtin("rbac.authorization.k8s.io", "rolebindings"))
    binding = obj(
        "rb",
        roleRef={"kind": "Role", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"},
        subjects=[
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
        ],
    )
    assert conv.cells(binding, NOW) == ["rb", "Role/reader", "5s", "alice", "devs", "ns/sa"]


def test_role_row_shows_created_at_in_rfc3339():
    conv = TableConverter(builtin("rbac.authorization.k8s.io", "roles"))
    assert conv.cells(obj("r"), NOW) == ["r", "2025-01-02T11:59:55Z"]


@pytest.mark.parametrize(
    ("parameters", "shown"),
    [
        (None, "<none>"),
        ({"kind": "ConfigMap", "name": "cfg"}, "ConfigMap/cfg"),
        (
            {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"},
            "Params.k8s.example.com/p",
        ),
    ],
)
def test_ingress_class_row_shows_controller_and_parameters(parameters, shown):
    conv = TableConverter(builtin("networking.k8s.io", "ingressclasses"), version="v1")
    spec: dict[str, Any] = {"controller": "k8s.io/ingress-nginx"}
    if parameters is not None:
        spec["parameters"] = parameters
    row = conv.cells(obj("nginx", namespace=None, spec=spec), NOW)
    assert row == ["nginx", "k8s.io/ingress-nginx", shown, "5s"]


def test_ingress_row_shows_hosts_address_and_ports():
    conv = TableConverter(builtin("networking.k8s.io", "ingresses"))
    ing = obj(
        "web",
        spec={"rules": [{"host": f"h{i}.example"} for i in range(5)], "tls": [{"hosts": ["x"]}]},
        status={"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"hostname": "lb.example"}]}},
    )
    assert conv.cells(ing, NOW) == [
        "web",
        "<none>",
        "h0.example,h1.example,h2.example + 2 more...",
        "10.0.0.1,lb.example",
        "80, 443",
        "5s",
    ]


def test_gateway_uses_its_crd_printer_columns():
    conv = TableConverter(builtin("gateway.networking.k8s.io", "gateways"))
    gtw = obj(
        "gw",
        spec={"gatewayClassName": "istio"},
        status={
            "addresses": [{"value": "1.2.3.4"}],
            "conditions": [{"type": "Programmed", "status": "True"}],
        },
    )
    assert conv.cells(gtw, NOW) == ["gw", "istio", "1.2.3.4", "True", "5s"]


@needs_crds
def test_table_watch_sends_headers_only_on_the_first_event():
    conv = TableConverter(crd_type("cert-manager.io_certificates.yaml"))
    first = conv.watch_event({"type": "ADDED", "object": obj()}, now=NOW, first=True)
    later = conv.watch_event({"type": "MODIFIED", "object": obj()}, now=NOW, first=False)
    assert first["type"] == "ADDED"
    assert first["object"]["kind"] == "Table"
    assert first["object"]["columnDefinitions"] == conv.column_definitions
    assert first["object"]["metadata"] == {"resourceVersion": "105"}
    assert len(first["object"]["rows"]) == 1
    assert later["object"]["columnDefinitions"] is None
    assert later["object"]["rows"] == first["object"]["rows"]


@needs_crds
@pytest.mark.parametrize("event_type", ["ERROR", "BOOKMARK"])
def test_table_watch_passes_error_and_bookmark_events_through(event_type):
    conv = TableConverter(crd_type("cert-manager.io_certificates.yaml"))
    event = {"type": event_type, "object": {"kind": "Status", "code": 410}}
    assert conv.watch_event(event, now=NOW, first=True) == event
