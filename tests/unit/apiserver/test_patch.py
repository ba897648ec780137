import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certsmith.api.errors import StatusError
from certsmith.apiserver.patch import (
    PatchType,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
    field_set,
    fields_v1,
    merge_patch,
    patch_type_for,
    paths_of,
    record_update,
    server_side_apply,
)
from certsmith.apiserver.resources import ResourceType, default_registry

NOW = dt.datetime(2025, 1, 2, 12, 0, 0, tzinfo=dt.UTC)
CERT = ResourceType(
    group="cert-manager.io",
    version="v1",
    plural="certificates",
    singular="certificate",
    kind="Certificate",
    list_kind="CertificateList",
    namespaced=True,
    subresources=("status",),
)
_SECRET = default_registry().get("", "v1", "secrets")
assert _SECRET is not None
SECRET: ResourceType = _SECRET
CR_415 = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def status_of(call) -> tuple[int, str, str]:
    with pytest.raises(StatusError) as err:
        call()
    return err.value.code, err.value.reason, err.value.message


def cert(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": "demo",
            "namespace": "default",
            "resourceVersion": "7",
            "finalizers": ["a"],
            "labels": {"app": "demo"},
        },
        "spec": {"secretName": "demo-tls", "dnsNames": ["a.example"], **spec},
    }


# --- content types ------------------------------------------------------------------------

CONTENT_TYPE_CASES = [
    ("merge", "application/merge-patch+json", CERT, PatchType.MERGE),
    ("json with charset", "application/json-patch+json; charset=utf-8", CERT, PatchType.JSON),
    ("apply", "application/apply-patch+yaml", CERT, PatchType.APPLY),
    ("strategic on secret", "application/strategic-merge-patch+json", SECRET, PatchType.STRATEGIC),
]


@pytest.mark.parametrize(
    ("content_type", "rt", "expected"),
    [c[1:] for c in CONTENT_TYPE_CASES],
    ids=[c[0] for c in CONTENT_TYPE_CASES],
)
def test_patch_type_for_reads_the_media_type(content_type, rt, expected):
    assert patch_type_for(content_type, rt) is expected


def test_strategic_merge_on_a_custom_resource_is_415_with_kube_message():
    assert status_of(lambda: patch_type_for("application/strategic-merge-patch+json", CERT)) == (
        415,
        "UnsupportedMediaType",
        CR_415,
    )


def test_unknown_patch_type_on_a_builtin_lists_strategic_merge_too():
    code, reason, message = status_of(lambda: patch_type_for("text/plain", SECRET))
    assert (code, reason) == (415, "UnsupportedMediaType")
    assert message.endswith(
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


def test_strategic_merge_function_refuses_custom_resources():
    assert status_of(lambda: apply_strategic_merge_patch(cert(), b"{}", CERT))[0] == 415


# --- merge patch --------------------------------------------------------------------------

MERGE_CASES = [
    (
        "rfc 7386 example",
        {"a": "b", "c": {"d": "e", "f": "g"}},
        {"a": "z", "c": {"f": None}},
        {"a": "z", "c": {"d": "e"}},
    ),
    ("lists are replaced", {"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ("null deletes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null of absent key is a no-op", {"a": 1}, {"z": None}, {"a": 1}),
    ("object replaces scalar", {"a": 1}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ("scalar patch replaces", {"a": 1}, "x", "x"),
]


@pytest.mark.parametrize(
    ("target", "patch", "expected"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_merge_patch_follows_rfc_7386(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_merge_patch_does_not_modify_its_inputs():
    target, patch = {"a": {"b": 1}}, {"a": {"c": 2}}
    merge_patch(target, patch)
    assert (target, patch) == ({"a": {"b": 1}}, {"a": {"c": 2}})


def test_merge_patch_body_sets_labels_like_kubectl_label():
    out = apply_merge_patch(cert(), body({"metadata": {"labels": {"tier": "web"}}}))
    assert out["metadata"]["labels"] == {"app": "demo", "tier": "web"}


def test_merge_patch_with_an_array_body_is_422_like_the_apiserver():
    code, reason, message = status_of(
        lambda: apply_merge_patch(cert(), body([{"op": "replace", "path": "/a", "value": 1}]))
    )
    assert (code, reason) == (422, "Invalid")
    assert message.startswith(
        ' "" is invalid: patch: Invalid value: "[{\\"op\\":\\"replace\\",\\"path\\":\\"/a\\",'
        '\\"value\\":1}]": couldn\'t get version/kind; json parse error: json: cannot unmarshal '
        "array into Go value of type struct"
    )


@pytest.mark.parametrize("raw", [b"null", b'"x"', b"3", b"{nope", b"\xff"])
def test_merge_patch_with_a_non_object_body_is_400_invalid_json_patch(raw):
    assert status_of(lambda: apply_merge_patch(cert(), raw)) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


# --- JSON patch ---------------------------------------------------------------------------

JSON_PATCH_CASES = [
    ("add key", [{"op": "add", "path": "/spec/isCA", "value": True}], ("spec", "isCA"), True),
    (
        "add to list end",
        [{"op": "add", "path": "/metadata/finalizers/-", "value": "b"}],
        ("metadata", "finalizers"),
        ["a", "b"],
    ),
    (
        "insert at index",
        [{"op": "add", "path": "/spec/dnsNames/0", "value": "z"}],
        ("spec", "dnsNames"),
        ["z", "a.example"],
    ),
    (
        "remove list item",
        [{"op": "remove", "path": "/metadata/finalizers/0"}],
        ("metadata", "finalizers"),
        [],
    ),
    (
        "replace",
        [{"op": "replace", "path": "/spec/secretName", "value": "x"}],
        ("spec", "secretName"),
        "x",
    ),
    (
        "escaped pointer",
        [{"op": "add", "path": "/metadata/labels/a~1b~0c", "value": "v"}],
        ("metadata", "labels", "a/b~c"),
        "v",
    ),
    (
        "copy",
        [{"op": "copy", "from": "/spec/secretName", "path": "/spec/other"}],
        ("spec", "other"),
        "demo-tls",
    ),
    (
        "move",
        [{"op": "move", "from": "/spec/secretName", "path": "/spec/moved"}],
        ("spec", "moved"),
        "demo-tls",
    ),
    (
        "kopf finalizer dance",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {
                "op": "add",
                "path": "/metadata/finalizers/-",
                "value": "kopf.zalando.org/KopfFinalizerMarker",
            },
        ],
        ("metadata", "finalizers"),
        ["a", "kopf.zalando.org/KopfFinalizerMarker"],
    ),
    ("negative index", [{"op": "remove", "path": "/spec/dnsNames/-1"}], ("spec", "dnsNames"), []),
]


def dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


@pytest.mark.parametrize(
    ("ops", "path", "expected"),
    [c[1:] for c in JSON_PATCH_CASES],
    ids=[c[0] for c in JSON_PATCH_CASES],
)
def test_json_patch_applies_rfc_6902_operations(ops, path, expected):
    assert dig(apply_json_patch(cert(), body(ops)), path) == expected


def test_json_patch_move_removes_the_source():
    out = apply_json_patch(
        cert(), body([{"op": "move", "from": "/spec/secretName", "path": "/spec/x"}])
    )
    assert "secretName" not in out["spec"]


JSON_PATCH_FAILURES = [
    (
        "failed test on resourceVersion",
        [{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}],
    ),
    ("test compares types", [{"op": "test", "path": "/spec/secretName", "value": 1}]),
    ("remove missing key", [{"op": "remove", "path": "/spec/nope"}]),
    ("replace missing key", [{"op": "replace", "path": "/spec/nope", "value": 1}]),
    ("add under missing parent", [{"op": "add", "path": "/nope/deeper", "value": 1}]),
    ("index out of range", [{"op": "add", "path": "/spec/dnsNames/5", "value": "x"}]),
    ("unknown op", [{"op": "frobnicate", "path": "/spec"}]),
    ("missing value", [{"op": "add", "path": "/spec/x"}]),
    ("pointer without slash", [{"op": "add", "path": "spec", "value": 1}]),
]


@pytest.mark.parametrize(
    "ops", [c[1] for c in JSON_PATCH_FAILURES], ids=[c[0] for c in JSON_PATCH_FAILURES]
)
def test_failing_json_patch_is_422_invalid_with_kube_wording(ops):
    assert status_of(lambda: apply_json_patch(cert(), body(ops))) == (
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )


def test_failed_json_patch_leaves_the_original_untouched():
    original = cert()
    with pytest.raises(StatusError):
        apply_json_patch(
            original,
            body(
                [
                    {"op": "remove", "path": "/spec/secretName"},
                    {"op": "test", "path": "/x", "value": 1},
                ]
            ),
        )
    assert original == cert()


def test_json_patch_body_must_be_a_list():
    assert status_of(lambda: apply_json_patch(cert(), body({"op": "add"}))) == (
        400,
        "BadRequest",
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    )


def test_json_patch_operations_must_be_objects():
    assert status_of(lambda: apply_json_patch(cert(), body(["x"])))[2] == (
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation"
    )


def test_json_patch_replacing_the_root_with_a_list_is_422():
    code, reason, _ = status_of(
        lambda: apply_json_patch(cert(), body([{"op": "replace", "path": "", "value": [1]}]))
    )
    assert (code, reason) == (422, "Invalid")


def test_apply_patch_dispatches_by_type():
    out = apply_patch(PatchType.MERGE, cert(), body({"spec": {"isCA": True}}), CERT)
    assert out["spec"]["isCA"] is True
    assert status_of(lambda: apply_patch(PatchType.APPLY, cert(), b"{}", CERT))[0] == 415


# --- strategic merge patch ----------------------------------------------------------------


def secret(**meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default", **meta},
        "type": "Opaque",
        "data": {"a": "MQ==", "b": "Mg=="},
    }


SMP_CASES = [
    (
        "maps merge and null deletes",
        {"data": {"a": None, "c": "Mw=="}},
        ("data",),
        {"b": "Mg==", "c": "Mw=="},
    ),
    (
        "finalizers merge as a set",
        {"metadata": {"finalizers": ["y", "x"]}},
        ("metadata", "finalizers"),
        ["x", "y"],
    ),
    (
        "owner references merge by uid",
        {
            "metadata": {
                "ownerReferences": [
                    {"uid": "1", "name": "renamed"},
                    {"uid": "3", "name": "c", "kind": "K", "apiVersion": "v1"},
                ]
            }
        },
        ("metadata", "ownerReferences"),
        [
            {"uid": "1", "name": "renamed", "kind": "K", "apiVersion": "v1"},
            {"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"},
            {"uid": "3", "name": "c", "kind": "K", "apiVersion": "v1"},
        ],
    ),
    (
        "delete a list element by key",
        {"metadata": {"ownerReferences": [{"uid": "1", "$patch": "delete"}]}},
        ("metadata", "ownerReferences"),
        [{"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"}],
    ),
    (
        "replace a whole list",
        {"metadata": {"finalizers": [{"$patch": "replace"}, "z"]}},
        ("metadata", "finalizers"),
        ["z"],
    ),
    ("replace a map", {"data": {"$patch": "replace", "z": "MA=="}}, ("data",), {"z": "MA=="}),
    (
        "delete a map",
        {"metadata": {"labels": {"$patch": "delete"}}},
        ("metadata",),
        {
            "name": "s",
            "namespace": "default",
            "finalizers": ["x"],
            "ownerReferences": [
                {"uid": "1", "name": "a", "kind": "K", "apiVersion": "v1"},
                {"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"},
            ],
        },
    ),
    (
        "set element order is stripped",
        {"metadata": {"$setElementOrder/finalizers": ["x"], "finalizers": ["x"]}},
        ("metadata", "finalizers"),
        ["x"],
    ),
    (
        "delete from primitive list",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
        ("metadata", "finalizers"),
        [],
    ),
    (
        "retain keys is stripped",
        {"data": {"$retainKeys": ["a"], "a": "MA=="}},
        ("data",),
        {"a": "MA==", "b": "Mg=="},
    ),
    (
        "new nested maps lose nulls and directives",
        {"metadata": {"annotations": {"k": "v", "gone": None, "$patch": "merge"}}},
        ("metadata", "annotations"),
        {"k": "v"},
    ),
]


def owned_secret() -> dict[str, Any]:
    return secret(
        labels={"app": "x"},
        finalizers=["x"],
        ownerReferences=[
            {"uid": "1", "name": "a", "kind": "K", "apiVersion": "v1"},
            {"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"},
        ],
    )


@pytest.mark.parametrize(
    ("patch", "path", "expected"), [c[1:] for c in SMP_CASES], ids=[c[0] for c in SMP_CASES]
)
def test_strategic_merge_patch_on_builtins(patch, path, expected):
    assert dig(apply_strategic_merge_patch(owned_secret(), body(patch), SECRET), path) == expected


def test_strategic_merge_replaces_lists_without_a_strategy():
    role = {"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]}
    rt = default_registry().get("rbac.authorization.k8s.io", "v1", "roles")
    assert rt is not None
    out = apply_strategic_merge_patch(role, body({"rules": [{"verbs": ["watch"]}]}), rt)
    assert out["rules"] == [{"verbs": ["watch"]}]


def test_strategic_merge_needs_the_merge_key_in_each_element():
    code, reason, message = status_of(
        lambda: apply_strategic_merge_patch(
            owned_secret(), body({"metadata": {"ownerReferences": [{"name": "x"}]}}), SECRET
        )
    )
    assert (code, reason, message) == (
        500,
        "Unknown",
        "map: map[name:x] does not contain declared merge key: uid",
    )


def test_strategic_merge_body_must_be_an_object():
    assert status_of(lambda: apply_strategic_merge_patch(secret(), b"[]", SECRET)) == (
        400,
        "BadRequest",
        "json: cannot unmarshal array into Go value of type map[string]interface {}",
    )


# --- server-side apply --------------------------------------------------------------------


def applied(**spec: Any) -> bytes:
    return body(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "demo", "namespace": "default"},
            "spec": spec,
        }
    )


def test_apply_without_field_manager_is_422_with_kube_message():
    assert status_of(
        lambda: server_side_apply(None, applied(), rt=CERT, field_manager=None, now=NOW)
    ) == (
        422,
        "Invalid",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch",
    )


def test_apply_creates_when_absent_and_records_the_manager():
    result = server_side_apply(
        None, applied(secretName="s"), rt=CERT, field_manager="kubectl", now=NOW
    )
    assert result.created
    assert result.object["spec"] == {"secretName": "s"}
    assert result.object["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "cert-manager.io/v1",
            "time": "2025-01-02T12:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:secretName": {}}},
        }
    ]


def test_apply_accepts_yaml_bodies():
    yaml_body = b"apiVersion: cert-manager.io/v1\nkind: Certificate\nspec:\n  secretName: y\n"
    result = server_side_apply(None, yaml_body, rt=CERT, field_manager="m", now=NOW)
    assert result.object["spec"] == {"secretName": "y"}


def test_apply_on_the_main_endpoint_drops_status():
    raw = body(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "spec": {"secretName": "s"},
            "status": {"x": 1},
        }
    )
    result = server_side_apply(None, raw, rt=CERT, field_manager="m", now=NOW)
    assert "status" not in result.object


def test_reapplying_a_smaller_config_removes_fields_the_manager_dropped():
    first = server_side_apply(
        None, applied(secretName="s", isCA=True), rt=CERT, field_manager="kubectl", now=NOW
    ).object
    second = server_side_apply(
        first, applied(secretName="s"), rt=CERT, field_manager="kubectl", now=NOW
    )
    assert not second.created
    assert second.object["spec"] == {"secretName": "s"}


def test_fields_owned_by_another_manager_survive_a_smaller_apply():
    first = server_side_apply(
        None, applied(secretName="s", isCA=True), rt=CERT, field_manager="a", now=NOW
    ).object
    shared = server_side_apply(
        first, applied(isCA=True), rt=CERT, field_manager="b", now=NOW
    ).object
    again = server_side_apply(
        shared, applied(secretName="s"), rt=CERT, field_manager="a", now=NOW
    ).object
    assert again["spec"] == {"secretName": "s", "isCA": True}


def test_changing_a_field_another_manager_owns_is_a_409_conflict():
    first = server_side_apply(
        None, applied(secretName="s"), rt=CERT, field_manager="a", now=NOW
    ).object
    with pytest.raises(StatusError) as err:
        server_side_apply(first, applied(secretName="t"), rt=CERT, field_manager="b", now=NOW)
    assert (err.value.code, err.value.reason, err.value.message) == (
        409,
        "Conflict",
        'Apply failed with 1 conflict: conflict with "a": .spec.secretName',
    )
    assert err.value.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "a"',
                "field": ".spec.secretName",
            }
        ]
    }


def test_conflict_with_an_update_manager_names_its_api_version_and_time():
    live = record_update(
        None, cert(), manager="kubectl-client-side-apply", api_version="cert-manager.io/v1", now=NOW
    )
    with pytest.raises(StatusError) as err:
        server_side_apply(
            live, applied(secretName="other"), rt=CERT, field_manager="kubectl", now=NOW
        )
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
        "cert-manager.io/v1 at 2025-01-02T12:00:00Z: .spec.secretName"
    )


def test_force_takes_ownership_from_the_other_manager():
    first = server_side_apply(
        None, applied(secretName="s"), rt=CERT, field_manager="a", now=NOW
    ).object
    forced = server_side_apply(
        first, applied(secretName="t"), rt=CERT, field_manager="b", force=True, now=NOW
    ).object
    assert forced["spec"]["secretName"] == "t"
    assert [e["manager"] for e in forced["metadata"]["managedFields"]] == ["b"]


def test_applying_the_same_value_as_another_manager_is_not_a_conflict():
    first = server_side_apply(
        None, applied(secretName="s"), rt=CERT, field_manager="a", now=NOW
    ).object
    shared = server_side_apply(
        first, applied(secretName="s"), rt=CERT, field_manager="b", now=NOW
    ).object
    assert [e["manager"] for e in shared["metadata"]["managedFields"]] == ["a", "b"]


def test_apply_merges_finalizers_as_a_set_and_owner_references_by_uid():
    live = cert()
    live["metadata"]["ownerReferences"] = [
        {"uid": "1", "name": "a", "kind": "K", "apiVersion": "v1"}
    ]
    config = body(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {
                "finalizers": ["b"],
                "ownerReferences": [{"uid": "2", "name": "b", "kind": "K", "apiVersion": "v1"}],
            },
        }
    )
    out = server_side_apply(live, config, rt=CERT, field_manager="m", now=NOW).object
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["1", "2"]


def test_apply_body_must_be_an_object():
    code, reason, message = status_of(
        lambda: server_side_apply(None, b"[1]", rt=CERT, field_manager="m", now=NOW)
    )
    assert (code, reason) == (400, "BadRequest")
    assert message.startswith("error decoding YAML:")


def test_field_set_uses_fieldsv1_keys_for_sets_and_map_lists():
    obj = {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {
            "name": "n",
            "finalizers": ["f"],
            "ownerReferences": [{"uid": "u", "name": "o"}],
        },
        "spec": {"a": [1, 2]},
    }
    assert fields_v1(field_set(obj)) == {
        "f:metadata": {
            "f:finalizers": {'v:"f"': {}},
            "f:ownerReferences": {'k:{"uid":"u"}': {".": {}, "f:name": {}, "f:uid": {}}},
        },
        "f:spec": {"f:a": {}},
    }


def test_paths_of_inverts_fields_v1():
    paths = {("f:spec", "f:a"), ("f:metadata", "f:labels", "f:x")}
    assert paths_of(fields_v1(paths)) == paths


def test_record_update_gives_changed_fields_to_the_updater():
    created = record_update(
        None, cert(), manager="kubectl-create", api_version="cert-manager.io/v1", now=NOW
    )
    changed = cert(secretName="new")
    changed["metadata"]["managedFields"] = created["metadata"]["managedFields"]
    updated = record_update(
        created, changed, manager="kubectl-edit", api_version="cert-manager.io/v1", now=NOW
    )
    owners = {e["manager"]: paths_of(e["fieldsV1"]) for e in updated["metadata"]["managedFields"]}
    assert owners["kubectl-edit"] == {("f:spec", "f:secretName")}
    assert ("f:spec", "f:secretName") not in owners["kubectl-create"]


# --- properties -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
op_names = st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"])
pointers = st.lists(st.sampled_from(["spec", "metadata", "0", "-", "a", "~1", ""]), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts)
)
operations = st.fixed_dictionaries(
    {"op": op_names, "path": pointers},
    optional={"value": json_values, "from": pointers},
)


def status_code_of(call) -> int | None:
    try:
        call()
    except StatusError as err:
        return err.code
    return None


@settings(max_examples=200)
@given(st.lists(operations, max_size=4) | json_values)
def test_json_patch_on_garbage_raises_only_status_errors(ops):
    assert status_code_of(lambda: apply_json_patch(cert(), body(ops))) in (None, 400, 413, 422)


@settings(max_examples=200)
@given(json_values)
def test_merge_patch_on_garbage_raises_only_status_errors(patch):
    assert status_code_of(lambda: apply_merge_patch(cert(), body(patch))) in (None, 400, 422)


@settings(max_examples=200)
@given(json_values)
def test_strategic_merge_on_garbage_raises_only_status_errors(patch):
    assert status_code_of(
        lambda: apply_strategic_merge_patch(owned_secret(), body(patch), SECRET)
    ) in (None, 400, 500)


@settings(max_examples=100)
@given(st.binary(max_size=40))
def test_patch_bodies_that_are_not_json_raise_only_status_errors(raw):
    for call in (
        lambda: apply_json_patch(cert(), raw),
        lambda: apply_merge_patch(cert(), raw),
        lambda: apply_strategic_merge_patch(secret(), raw, SECRET),
        lambda: server_side_apply(cert(), raw, rt=CERT, field_manager="m", now=NOW),
    ):
        assert status_code_of(call) in (None, 400, 409, 422, 500)


@settings(max_examples=100)
@given(
    st.dictionaries(st.sampled_from(["spec", "metadata", "status", "x"]), json_values, max_size=3)
)
def test_server_side_apply_on_garbage_raises_only_status_errors(config):
    config = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", **config}
    assert status_code_of(
        lambda: server_side_apply(cert(), body(config), rt=CERT, field_manager="m", now=NOW)
    ) in (None, 400, 409)
