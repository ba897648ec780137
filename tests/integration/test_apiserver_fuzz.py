"""Garbage in over real HTTPS: the server never answers 5xx, and a rejection leaves no trace.

Hypothesis drives malformed JSON, YAML and protobuf bodies, objects with wrong types, huge
strings, deep nesting and unknown fields, garbage patches of every patch type, selectors,
query parameters, object names and CertificateRequests with garbage CSRs. For each request:

* the status is never 5xx (except kube's 504 for a resourceVersion from the future);
* a 4xx answer is a Kubernetes ``Status`` JSON body with the same code;
* a rejected request stored nothing: the store's revision (the resourceVersion of any list)
  is the same before and after, so neither this object nor anything else was written.

One in-process server runs for the whole module on its own thread and event loop, so the
tests stay plain synchronous Hypothesis tests. Examples are derandomized (the same inputs on
every run) and sized so the module takes well under a minute; :data:`EXPLORE` draws new ones.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certsmith.apiserver.server import ApiServer
from tests.builders import cached_ec_key, make_csr_pem
from tests.servertools import credentials, wait_until

NS: Final = "default"
CONFIGMAPS: Final = f"/api/v1/namespaces/{NS}/configmaps"
CRS: Final = f"/apis/cert-manager.io/v1/namespaces/{NS}/certificaterequests"
COLLECTIONS: Final = (CONFIGMAPS, CRS)
EXISTING: Final = "fuzz-target"
"""A ConfigMap and a CertificateRequest of this name exist for PUT, PATCH and DELETE."""

EXPLORE: Final = bool(os.environ.get("CERTSMITH_FUZZ_EXPLORE"))
"""Set ``CERTSMITH_FUZZ_EXPLORE=1`` to draw new random inputs (and 10x as many) instead."""

FUZZ = settings(
    max_examples=1000 if EXPLORE else 100,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(FUZZ, max_examples=200 if EXPLORE else 20)

PATCH_TYPES: Final = (
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
BODY_TYPES: Final = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "",
    "text/plain",
    "application/x-garbage",
)
USAGES: Final = (
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "timestamping",
    "ocsp signing",
)

_names = itertools.count()


# --- the server ------------------------------------------------------------------------------


class ThreadedServer:
    """An :class:`ApiServer` on a private event loop in a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.server = ApiServer(data_dir, "127.0.0.1", 0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=60)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        self.run(self.server.start())
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with ThreadedServer(tmp / "data") as server:
        creds = credentials(server.kubeconfig_path, tmp / "client")
        with httpx.Client(base_url=creds.server, verify=creds.ssl_context(), timeout=60) as c:
            for path, body in ((CONFIGMAPS, configmap(EXISTING)), (CRS, cert_request(EXISTING))):
                created = c.post(path, json=body)
                assert created.status_code == 201, created.text
            yield c


# --- objects and checks ------------------------------------------------------------------------


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}


def cert_request(name: str, request: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(make_csr_pem()).decode() if request is None else request,
            "usages": ["digital signature", "key encipherment", "server auth"],
            "issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def template(collection: str, name: str) -> dict[str, Any]:
    return configmap(name) if collection == CONFIGMAPS else cert_request(name)


def unique(prefix: str = "fuzz") -> str:
    return f"{prefix}-{next(_names)}"


def revision(client: httpx.Client) -> str:
    """The store's current revision: any list answers with it."""
    response = client.get(CONFIGMAPS, params={"limit": "1"})
    assert response.status_code == 200, response.text
    rv = response.json()["metadata"]["resourceVersion"]
    assert isinstance(rv, str)
    return rv


def is_future_resource_version(response: httpx.Response) -> bool:
    """kube's one deliberate 5xx: 504 for a resourceVersion the store has not reached yet."""
    if response.status_code != 504:
        return False
    causes = response.json().get("details", {}).get("causes", [])
    return [c.get("reason") for c in causes] == ["ResourceVersionTooLarge"]


def check(client: httpx.Client, before: str, response: httpx.Response) -> None:
    """No 5xx; a 4xx is a matching Status and changed nothing."""
    request = response.request
    where = f"{request.method} {request.url}"
    assert response.status_code < 500 or is_future_resource_version(response), (
        f"{where}: {response.status_code} {response.text}"
    )
    if response.status_code >= 400:  # a refusal
        assert response.headers["Content-Type"].startswith("application/json"), where
        status = response.json()
        assert status["kind"] == "Status", f"{where}: {status}"
        assert status["apiVersion"] == "v1", where
        assert status["status"] == "Failure", where
        assert status["code"] == response.status_code, where
        assert isinstance(status["reason"], str), where
        assert isinstance(status["message"], str), where
        assert revision(client) == before, f"{where}: a rejected request wrote"


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request and :func:`check` it; returns the response."""
    before = revision(client)
    response = client.request(method, path, **kwargs)
    check(client, before, response)
    return response


def rejected(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Like :func:`send`, and the request must have been refused with a 4xx."""
    response = send(client, method, path, **kwargs)
    assert 400 <= response.status_code < 500, f"{method} {path}: accepted: {response.text}"
    return response


# --- strategies --------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
collections = st.sampled_from(COLLECTIONS)
field_validations = st.sampled_from(["Strict", "Warn", "Ignore", "", "strict", "Bogus"])


def dumps(value: Any) -> bytes:
    """JSON as Go would never write it: NaN, Infinity and 70-bit integers included."""
    return json.dumps(value).encode()


def paths_of(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into a JSON value, containers included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths_of(child, (*prefix, i))
    return found


def replaced(obj: dict[str, Any], path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``obj`` with the value at ``path`` replaced (the root when ``path`` is empty)."""
    if not path:
        return value
    copy = json.loads(json.dumps(obj))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return copy


def nested_text(depth: int) -> str:
    """JSON text nesting arrays and objects ``depth`` deep (too deep for ``json.dumps``)."""
    opening = "".join("[" if i % 2 else '{"n":' for i in range(depth))
    closing = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return f'{opening}"x"{closing}'


# --- tests -------------------------------------------------------------------------------------


def test_the_revision_probe_moves_with_a_write_in_another_collection(client: httpx.Client) -> None:
    before = revision(client)
    created = client.post(CRS, json=cert_request(unique()))
    assert created.status_code == 201, created.text
    assert revision(client) != before


@FUZZ
@given(
    collection=collections,
    method=st.sampled_from(["POST", "PUT"]),
    content_type=st.sampled_from(BODY_TYPES),
    body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode),
)
def test_undecodable_bodies_are_refused_with_a_status(
    client: httpx.Client, collection: str, method: str, content_type: str, body: bytes
) -> None:
    path = collection if method == "POST" else f"{collection}/{EXISTING}"
    headers = {"Content-Type": content_type} if content_type else {}
    send(client, method, path, content=body, headers=headers)


@FUZZ
@given(
    collection=collections,
    kind=st.sampled_from(["ConfigMap", "Secret", "Namespace", "SelfSubjectAccessReview", ""]),
    tail=st.binary(max_size=200),
)
def test_protobuf_garbage_behind_the_magic_is_refused_with_a_status(
    client: httpx.Client, collection: str, kind: str, tail: bytes
) -> None:
    # runtime.Unknown{typeMeta{apiVersion: v1, kind}, raw: garbage}
    type_meta = b"\x0a\x02v1" + (b"\x12" + bytes([len(kind)]) + kind.encode() if kind else b"")
    envelope = b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(tail) % 128])
    for body in (b"k8s\x00" + tail, b"k8s\x00" + envelope + tail):
        headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
        send(client, "POST", collection, content=body, headers=headers)


@FUZZ
@given(collection=collections, data=st.data(), value=json_values, validation=field_validations)
def test_objects_with_wrongly_typed_fields_never_fail_the_server(
    client: httpx.Client, collection: str, data: st.DataObject, value: Any, validation: str
) -> None:
    obj = template(collection, unique())
    path = data.draw(st.sampled_from(paths_of(obj)), label="path")
    body = dumps(replaced(obj, path, value))
    params = {"fieldValidation": validation} if validation else {}
    send(client, "POST", collection, content=body, params=params)


@FUZZ
@given(
    collection=collections,
    where=st.sampled_from([(), ("metadata",), ("spec",), ("spec", "issuerRef")]),
    key=st.text(min_size=1, max_size=12).map(lambda k: f"zz{k}"),
    value=json_values,
)
def test_unknown_fields_are_refused_under_strict_field_validation(
    client: httpx.Client, collection: str, where: tuple[str, ...], key: str, value: Any
) -> None:
    obj = template(collection, unique())
    if collection == CONFIGMAPS and where[:1] == ("spec",):
        where = ()
    parent = obj
    for step in where:
        parent = parent[step]
    parent[key] = value
    rejected(client, "POST", collection, content=dumps(obj), params={"fieldValidation": "Strict"})


@FEW
@given(
    collection=collections,
    content_type=st.sampled_from(["application/json", "application/yaml"]),
    depth=st.integers(min_value=1, max_value=4000),
    spot=st.sampled_from(["data", "labels", "spec", "top"]),
)
def test_deeply_nested_values_never_fail_the_server(
    client: httpx.Client, collection: str, content_type: str, depth: int, spot: str
) -> None:
    obj = template(collection, unique())
    marker = "NESTED-HERE"
    if spot == "labels":
        obj["metadata"]["labels"] = {"a": marker}
    elif spot == "top":
        obj["zz"] = marker
    else:
        obj["data" if collection == CONFIGMAPS else "spec"]["zz"] = marker
    text = json.dumps(obj).replace(f'"{marker}"', nested_text(depth))  # JSON is YAML too
    send(client, "POST", collection, content=text.encode(), headers={"Content-Type": content_type})


@FEW
@given(
    collection=collections,
    size=st.integers(min_value=1, max_value=4 * 1024 * 1024),
    spot=st.sampled_from(["name", "annotation", "label", "data", "unknown"]),
)
def test_huge_strings_never_fail_the_server(
    client: httpx.Client, collection: str, size: int, spot: str
) -> None:
    obj = template(collection, unique())
    huge = "a" * size
    if spot == "name":
        obj["metadata"]["name"] = huge
    elif spot == "annotation":
        obj["metadata"]["annotations"] = {"a": huge}
    elif spot == "label":
        obj["metadata"]["labels"] = {"a": huge}
    elif spot == "data" and collection == CONFIGMAPS:
        obj["data"] = {"a": huge}
    else:
        obj["zz"] = huge
    send(client, "POST", collection, content=dumps(obj))


@FUZZ
@given(
    collection=collections,
    status=st.booleans(),
    patch_type=st.sampled_from(PATCH_TYPES),
    body=st.binary(max_size=200) | json_values.map(dumps),
    force=st.sampled_from([None, "true", "false", "maybe"]),
)
def test_garbage_patches_never_fail_the_server(
    client: httpx.Client,
    collection: str,
    status: bool,
    patch_type: str,
    body: bytes,
    force: str | None,
) -> None:
    path = f"{collection}/{EXISTING}" + ("/status" if status and collection == CRS else "")
    params = {"fieldManager": "fuzz"}
    if force is not None:
        params["force"] = force
    send(client, "PATCH", path, content=body, headers={"Content-Type": patch_type}, params=params)


json_pointers = st.lists(
    st.sampled_from(["metadata", "spec", "data", "labels", "0", "-", "~1", "~0", "", "a", "99"]),
    max_size=4,
).map(lambda parts: "".join(f"/{p}" for p in parts))
json_patch_ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "nope"])},
    optional={"path": json_pointers | json_values, "from": json_pointers, "value": json_values},
)


@FUZZ
@given(collection=collections, ops=st.lists(json_patch_ops, max_size=4))
def test_json_patches_with_garbage_operations_never_fail_the_server(
    client: httpx.Client, collection: str, ops: list[dict[str, Any]]
) -> None:
    headers = {"Content-Type": "application/json-patch+json"}
    send(client, "PATCH", f"{collection}/{EXISTING}", content=dumps(ops), headers=headers)


@FUZZ
@given(
    collection=collections,
    patch_type=st.sampled_from(PATCH_TYPES[::2]),
    data=st.data(),
    value=json_values,
)
def test_merge_and_apply_patches_with_wrong_types_never_fail_the_server(
    client: httpx.Client, collection: str, patch_type: str, data: st.DataObject, value: Any
) -> None:
    obj = template(collection, EXISTING)
    path = data.draw(st.sampled_from(paths_of(obj)[1:]), label="path")
    body = dumps(replaced(obj, path, value))
    send(
        client,
        "PATCH",
        f"{collection}/{EXISTING}",
        content=body,
        headers={"Content-Type": patch_type},
        params={"fieldManager": "fuzz"},
    )


@FUZZ
@given(
    collection=collections,
    labels=st.none() | st.text(max_size=40),
    fields=st.none() | st.text(max_size=40),
    watch=st.booleans(),
)
def test_label_and_field_selectors_never_fail_the_server(
    client: httpx.Client, collection: str, labels: str | None, fields: str | None, watch: bool
) -> None:
    params = {"labelSelector": labels, "fieldSelector": fields}
    query = {k: v for k, v in params.items() if v is not None}
    if watch:
        # A valid selector starts a stream that ends after timeoutSeconds.
        query |= {"watch": "1", "timeoutSeconds": "1"}
    send(client, "GET", collection, params=query)


query_values = st.text(max_size=30) | st.integers(min_value=-(2**70), max_value=2**70).map(str)


@FUZZ
@given(
    collection=collections,
    query=st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "continue",
                "resourceVersion",
                "resourceVersionMatch",
                "timeoutSeconds",
                "allowWatchBookmarks",
                "sendInitialEvents",
                "includeObject",
                "dryRun",
                "fieldManager",
                "pretty",
            ]
        ),
        query_values,
        max_size=4,
    ),
    table=st.booleans(),
)
def test_garbage_list_parameters_never_fail_the_server(
    client: httpx.Client, collection: str, query: dict[str, str], table: bool
) -> None:
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"} if table else {}
    send(client, "GET", collection, params=query, headers=headers)


@FUZZ
@given(
    collection=collections,
    continue_token=st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | json_values.map(lambda v: base64.b64encode(dumps(v)).decode()),
)
def test_forged_continue_tokens_never_fail_the_server(
    client: httpx.Client, collection: str, continue_token: str
) -> None:
    send(client, "GET", collection, params={"limit": "1", "continue": continue_token})


dns1123 = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
invalid_names = st.text(min_size=1, max_size=300).filter(
    lambda n: len(n) > 253 or not __import__("re").fullmatch(dns1123, n)
)


@FUZZ
@given(collection=collections, name=invalid_names)
def test_objects_with_invalid_names_are_refused(
    client: httpx.Client, collection: str, name: str
) -> None:
    rejected(client, "POST", collection, content=dumps(template(collection, name)))


@FUZZ
@given(
    collection=collections,
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
    name=st.text(min_size=1, max_size=80),
)
def test_invalid_names_in_the_url_never_fail_the_server(
    client: httpx.Client, collection: str, method: str, name: str
) -> None:
    body = dumps(template(collection, name))
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    path = f"{collection}/{quote(name, safe='')}"
    send(client, method, path, content=body if method != "GET" else None, headers=headers)


@FUZZ
@given(
    collection=collections,
    body=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "propagationPolicy": json_values | st.sampled_from(["Orphan", "Foreground"]),
            "preconditions": json_values,
            "gracePeriodSeconds": json_values,
            "dryRun": json_values,
            "kind": json_values,
        },
    ),
)
def test_garbage_delete_options_never_fail_the_server(
    client: httpx.Client, collection: str, body: Any
) -> None:
    path = f"{collection}/{EXISTING}"
    response = send(client, "DELETE", path, content=dumps(body))
    if response.status_code < 300:
        # Foreground deletion finishes in the background (GC): wait for it, or it would
        # write while a later example checks that a refusal wrote nothing.
        wait_until(lambda: settled(client.get(path)))
        if client.get(path).status_code == 404:
            recreated = client.post(collection, json=template(collection, EXISTING))
            assert recreated.status_code == 201, recreated.text


def settled(response: httpx.Response) -> bool:
    """Gone, or still there and not being deleted (a dry run)."""
    if response.status_code == 404:
        return True
    return "deletionTimestamp" not in response.json()["metadata"]


garbage_requests = st.one_of(
    st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()),
    st.integers(min_value=1, max_value=400).map(
        lambda n: base64.b64encode(make_csr_pem()[:n]).decode()
    ),
    st.text(max_size=100),
    st.integers(min_value=0, max_value=200).map(
        lambda n: base64.b64encode(make_csr_pem().replace(b"\n", b"")[:n] + b"\n").decode()
    ),
)


@FUZZ
@given(request=garbage_requests)
def test_certificate_requests_with_garbage_csrs_are_refused(
    client: httpx.Client, request: str
) -> None:
    rejected(client, "POST", CRS, content=dumps(cert_request(unique(), request)))


_KEY_USAGES: Final = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)
_EKUS: Final = (
    ExtendedKeyUsageOID.SERVER_AUTH,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.CODE_SIGNING,
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.OCSP_SIGNING,
)


def csr_with_usages(key_usages: set[str], ekus: list[x509.ObjectIdentifier], is_ca: bool) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz.example.com")])
    )
    if key_usages:
        flags = {name: name in key_usages for name in _KEY_USAGES}
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=is_ca, path_length=None), critical=True
    )
    csr = builder.sign(cached_ec_key(), hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


@FUZZ
@given(
    key_usages=st.sets(st.sampled_from(_KEY_USAGES)),
    ekus=st.lists(st.sampled_from(_EKUS), unique=True),
    csr_is_ca=st.booleans(),
    spec_is_ca=st.booleans(),
    spec_usages=st.lists(st.sampled_from(USAGES) | st.text(max_size=10), unique=True, max_size=5),
)
def test_csr_usages_that_disagree_with_the_spec_never_fail_the_server(
    client: httpx.Client,
    key_usages: set[str],
    ekus: list[x509.ObjectIdentifier],
    csr_is_ca: bool,
    spec_is_ca: bool,
    spec_usages: list[str],
) -> None:
    obj = cert_request(unique(), csr_with_usages(key_usages, ekus, csr_is_ca))
    obj["spec"]["isCA"] = spec_is_ca
    obj["spec"]["usages"] = spec_usages
    send(client, "POST", CRS, content=dumps(obj))
