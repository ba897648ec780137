"""Bodies are built with a tiny encoder, the way kubectl's generated Go marshalers lay them out."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certsmith.api.errors import StatusError
from certsmith.apiserver.protobuf import decode, decode_object_meta, iter_fields
from tests.prototools import (
    envelope,
    field_bytes,
    field_varint,
    map_entries,
    object_meta,
    varint,
)


def secret_body(**kw) -> bytes:
    raw = field_bytes(1, object_meta(**kw.pop("meta", {})))
    raw += map_entries(2, kw.pop("data", {}))
    raw += field_bytes(3, kw.pop("type", ""))
    raw += map_entries(4, kw.pop("string_data", {}))
    return envelope("v1", "Secret", raw)


def test_kubectl_create_secret_generic_decodes_to_json_form():
    body = secret_body(
        meta={
            "name": "db",
            "namespace": "default",
            "labels": {"app": "db"},
            "annotations": {"note": "x"},
        },
        data={"password": b"s3cr\xffet", "user": b"admin"},
        type="Opaque",
    )
    assert decode(body) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": "default",
            "labels": {"app": "db"},
            "annotations": {"note": "x"},
        },
        "data": {
            "password": base64.b64encode(b"s3cr\xffet").decode(),
            "user": base64.b64encode(b"admin").decode(),
        },
        "type": "Opaque",
    }


def test_empty_secret_type_is_treated_as_unset():
    assert "type" not in decode(secret_body(meta={"name": "s"}))


def test_secret_string_data_is_kept_as_text():
    body = secret_body(meta={"name": "s"}, string_data={"k": "välue"}, type="kubernetes.io/tls")
    obj = decode(body)
    assert (obj["stringData"], obj["type"]) == ({"k": "välue"}, "kubernetes.io/tls")


def test_secret_immutable_flag_is_read():
    raw = field_bytes(1, object_meta(name="s")) + field_varint(5, 1)
    assert decode(envelope("v1", "Secret", raw))["immutable"] is True


def test_kubectl_create_configmap_decodes_data_and_binary_data():
    raw = field_bytes(1, object_meta(name="cfg", namespace="ns1"))
    raw += map_entries(2, {"a.txt": "hello\n"}) + map_entries(3, {"blob": b"\x00\x01"})
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "ns1"},
        "data": {"a.txt": "hello\n"},
        "binaryData": {"blob": "AAE="},
    }


def test_kubectl_create_namespace_decodes_with_empty_spec_and_status():
    raw = field_bytes(1, object_meta(name="team-a")) + field_bytes(2, b"") + field_bytes(3, b"")
    assert decode(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a"},
        "spec": {},
        "status": {},
    }


def test_namespace_spec_finalizers_and_phase_are_read():
    raw = (
        field_bytes(1, object_meta(name="n"))
        + field_bytes(2, field_bytes(1, "kubernetes"))
        + field_bytes(3, field_bytes(1, "Active"))
    )
    obj = decode(envelope("v1", "Namespace", raw))
    assert (obj["spec"], obj["status"]) == ({"finalizers": ["kubernetes"]}, {"phase": "Active"})


def test_object_meta_reads_generate_name_finalizers_owner_and_timestamp():
    meta = decode_object_meta(
        object_meta(
            generate_name="job-",
            finalizers=("a", "b"),
            created=1735819200,
            owner={
                "kind": "Certificate",
                "name": "c",
                "uid": "u1",
                "apiVersion": "cert-manager.io/v1",
            },
        )
    )
    assert meta == {
        "generateName": "job-",
        "creationTimestamp": "2025-01-02T12:00:00Z",
        "ownerReferences": [
            {
                "kind": "Certificate",
                "name": "c",
                "uid": "u1",
                "apiVersion": "cert-manager.io/v1",
                "controller": True,
            }
        ],
        "finalizers": ["a", "b"],
    }


def test_iter_fields_reads_fixed_width_fields():
    data = (
        varint(1 << 3 | 1)
        + (7).to_bytes(8, "little")
        + varint(2 << 3 | 5)
        + (9).to_bytes(4, "little")
    )
    assert list(iter_fields(data)) == [(1, 1, 7), (2, 5, 9)]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("v1", "Pod"), ("cert-manager.io/v1", "Certificate"), ("v2", "Secret")],
)
def test_other_kinds_are_415(api_version, kind):
    with pytest.raises(StatusError) as err:
        decode(envelope(api_version, kind, b""))
    assert (err.value.code, err.value.reason) == (415, "UnsupportedMediaType")


def test_content_encoding_is_not_supported():
    with pytest.raises(StatusError) as err:
        decode(envelope("v1", "Secret", b"", encoding="gzip"))
    assert err.value.code == 415


def test_body_without_magic_is_400():
    with pytest.raises(StatusError) as err:
        decode(b'{"kind":"Secret"}')
    assert (err.value.code, err.value.message) == (
        400,
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"k8s\x00\x0a",
        b"k8s\x00\x0a\xff",
        b"k8s\x00\x0b",
        b"k8s\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    ],
    ids=["truncated length", "length past end", "group wire type", "endless varint"],
)
def test_malformed_bodies_are_400(body):
    with pytest.raises(StatusError) as err:
        decode(body)
    assert err.value.code == 400


def status_code_of(call) -> int | None:
    try:
        call()
    except StatusError as err:
        return err.code
    return None


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_garbage_after_the_magic_raises_only_status_errors(tail):
    assert status_code_of(lambda: decode(b"k8s\x00" + tail)) in (None, 400, 415)


@settings(max_examples=200)
@given(st.binary(max_size=60))
def test_garbage_secret_payload_raises_only_status_errors(raw):
    assert status_code_of(lambda: decode(envelope("v1", "Secret", raw))) in (None, 400)
