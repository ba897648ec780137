"""HttpKubeClient against a tiny fake kube endpoint (aiohttp on loopback) written here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from certsmith.client.config import ClusterConfig, StaticToken
from certsmith.client.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServerError,
    TooManyRequests,
    TransportError,
    Unauthorized,
)
from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import PatchType, WatchEventType
from certsmith.client.resources import CERTIFICATES, CLUSTER_ISSUERS, SECRETS
from certsmith.util.sensitive import Sensitive


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[web.Request], Any]


@dataclass
class FakeKube:
    """Routes every request to ``self.respond`` and records what arrived."""

    seen: list[Seen] = field(default_factory=list)
    respond: Handler | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
            )
        )
        assert self.respond is not None
        result = self.respond(request)
        if hasattr(result, "__await__"):
            result = await result
        return result  # type: ignore[no-any-return]


def status(code: int, reason: str, message: str = "m") -> web.Response:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
    body |= {"code": code, "reason": reason, "message": message}
    return web.json_response(body, status=code)


@pytest.fixture
async def kube() -> AsyncIterator[tuple[FakeKube, str]]:
    fake = FakeKube()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(kube) -> AsyncIterator[HttpKubeClient]:
    _, url = kube
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    config = ClusterConfig(server=url, token_source=StaticToken(Sensitive("s3cret")))
    async with HttpKubeClient(config, sleep=sleep) as c:
        c.slept = slept  # type: ignore[attr-defined]
        yield c


async def test_get_reads_the_namespaced_path_with_a_bearer_token(kube, client):
    fake, _ = kube
    fake.respond = lambda r: web.json_response({"metadata": {"name": "a"}})
    assert await client.get(CERTIFICATES, "ns", "a") == {"metadata": {"name": "a"}}
    seen = fake.seen[0]
    assert seen.path == "/apis/cert-manager.io/v1/namespaces/ns/certificates/a"
    assert seen.headers["Authorization"] == "Bearer s3cret"
    assert seen.headers["User-Agent"].startswith("certsmith/")


async def test_cluster_scoped_and_core_paths(kube, client):
    fake, _ = kube
    fake.respond = lambda r: web.json_response({})
    await client.get(CLUSTER_ISSUERS, None, "ci")
    await client.get(SECRETS, "ns", "s")
    assert [s.path for s in fake.seen] == [
        "/apis/cert-manager.io/v1/clusterissuers/ci",
        "/api/v1/namespaces/ns/secrets/s",
    ]


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (400, "BadRequest", ApiError),
    ],
    ids=lambda v: str(v) if not isinstance(v, type) else v.__name__,
)
async def test_status_answers_become_typed_errors(kube, client, code, reason, expected):
    fake, _ = kube
    fake.respond = lambda r: status(code, reason, f"{reason} message")
    with pytest.raises(expected) as info:
        await client.get(CERTIFICATES, "ns", "a")
    assert type(info.value) is expected
    assert (info.value.code, info.value.reason) == (code, reason)
    assert info.value.message == f"{reason} message"


async def test_a_non_status_error_body_still_gives_the_http_code(kube, client):
    fake, _ = kube
    fake.respond = lambda r: web.Response(status=502, text="<html>bad gateway</html>")
    with pytest.raises(ServerError) as info:
        await client.get(CERTIFICATES, "ns", "a")
    assert info.value.code == 502


async def test_429_is_retried_after_retry_after(kube, client):
    fake, _ = kube
    answers = [status(429, "TooManyRequests"), web.json_response({"ok": True})]
    answers[0].headers["Retry-After"] = "7"
    fake.respond = lambda r: answers.pop(0)
    assert await client.get(CERTIFICATES, "ns", "a") == {"ok": True}
    assert client.slept == [7.0]


async def test_429_gives_up_after_the_retries_with_retry_after_on_the_error(kube, client):
    fake, _ = kube

    def throttle(_request: web.Request) -> web.Response:
        response = status(429, "TooManyRequests")
        response.headers["Retry-After"] = "2"
        return response

    fake.respond = throttle
    with pytest.raises(TooManyRequests) as info:
        await client.get(CERTIFICATES, "ns", "a")
    assert info.value.retry_after == 2.0
    assert len(fake.seen) == 4


async def test_list_sends_query_parameters_and_returns_a_page(kube, client):
    fake, _ = kube
    body: dict[str, Any] = {
        "metadata": {"resourceVersion": "9", "continue": "tok2", "remainingItemCount": 3}
    }
    body["items"] = [{"metadata": {"name": "a"}}]
    fake.respond = lambda r: web.json_response(body)
    page = await client.list(
        CERTIFICATES, None, label_selector="a=b", limit=1, continue_token="tok1"
    )
    assert page.items == [{"metadata": {"name": "a"}}]
    assert (page.resource_version, page.continue_token, page.remaining_item_count) == (
        "9",
        "tok2",
        3,
    )
    seen = fake.seen[0]
    assert seen.path == "/apis/cert-manager.io/v1/certificates"
    assert seen.query == {"labelSelector": "a=b", "limit": "1", "continue": "tok1"}


async def test_create_and_replace_send_json(kube, client):
    fake, _ = kube
    fake.respond = lambda r: web.json_response({"created": True}, status=201)
    await client.create(CERTIFICATES, "ns", {"metadata": {"name": "a"}}, field_manager="me")
    await client.replace_status(CERTIFICATES, "ns", "a", {"status": {}})
    create, put = fake.seen
    assert (create.method, create.headers["Content-Type"]) == ("POST", "application/json")
    assert create.query == {"fieldManager": "me"}
    assert json.loads(create.body) == {"metadata": {"name": "a"}}
    assert (put.method, put.path) == (
        "PUT",
        "/apis/cert-manager.io/v1/namespaces/ns/certificates/a/status",
    )


@pytest.mark.parametrize(
    ("patch_type", "body", "force", "content_type", "query"),
    [
        (PatchType.MERGE, {"a": 1}, False, "application/merge-patch+json", {}),
        (
            PatchType.JSON,
            [{"op": "remove", "path": "/a"}],
            False,
            "application/json-patch+json",
            {},
        ),
        (
            PatchType.APPLY,
            {"a": 1},
            True,
            "application/apply-patch+yaml",
            {"fieldManager": "certsmith", "force": "true"},
        ),
    ],
    ids=["merge", "json", "apply"],
)
async def test_patch_content_types(kube, client, patch_type, body, force, content_type, query):
    fake, _ = kube
    fake.respond = lambda r: web.json_response({})
    manager = "certsmith" if patch_type is PatchType.APPLY else None
    await client.patch(
        CERTIFICATES, "ns", "a", body, patch_type=patch_type, field_manager=manager, force=force
    )
    seen = fake.seen[0]
    assert seen.method == "PATCH"
    assert seen.headers["Content-Type"] == content_type
    assert seen.query == query
    assert json.loads(seen.body) == body


async def test_apply_without_field_manager_is_refused_before_sending(kube, client):
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(CERTIFICATES, "ns", "a", {}, patch_type=PatchType.APPLY)
    assert kube[0].seen == []


async def test_a_json_patch_must_be_a_list(client):
    with pytest.raises(ValueError, match="list of operations"):
        await client.patch_status(CERTIFICATES, "ns", "a", {"op": "x"}, patch_type=PatchType.JSON)


async def test_delete_sends_propagation_and_preconditions(kube, client):
    fake, _ = kube
    fake.respond = lambda r: web.json_response({"kind": "Status", "status": "Success"})
    await client.delete(
        CERTIFICATES, "ns", "a", propagation_policy="Foreground", preconditions_rv="5"
    )
    assert json.loads(fake.seen[0].body) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Foreground",
        "preconditions": {"resourceVersion": "5"},
    }


async def stream(request: web.Request, lines: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for line in lines:
        await response.write(json.dumps(line).encode() + b"\n")
    await response.write_eof()
    return response


async def test_watch_streams_events_and_bookmarks(kube, client):
    fake, _ = kube
    events = [
        {"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "2"}}},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "5"}}},
        {"type": "DELETED", "object": {"metadata": {"name": "a", "resourceVersion": "6"}}},
    ]
    fake.respond = lambda r: stream(r, events)
    seen = [
        (e.type, e.resource_version)
        async for e in client.watch(CERTIFICATES, "ns", resource_version="1", timeout_seconds=30)
    ]
    assert seen == [
        (WatchEventType.ADDED, "2"),
        (WatchEventType.BOOKMARK, "5"),
        (WatchEventType.DELETED, "6"),
    ]
    assert fake.seen[0].query == {
        "watch": "true",
        "resourceVersion": "1",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "30",
    }


async def test_a_410_error_event_raises_gone(kube, client):
    fake, _ = kube
    error = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource"}
    fake.respond = lambda r: stream(r, [{"type": "ERROR", "object": error}])
    with pytest.raises(Gone, match="too old resource"):
        async for _ in client.watch(CERTIFICATES, None, resource_version="1"):
            pass


async def test_a_refused_watch_raises_the_status_error(kube, client):
    fake, _ = kube
    fake.respond = lambda r: status(400, "BadRequest", "field label not supported: spec.foo")
    with pytest.raises(ApiError, match="field label not supported"):
        async for _ in client.watch(CERTIFICATES, None, resource_version="1"):
            pass


async def test_a_refused_connection_is_a_transport_error():
    config = ClusterConfig(server="http://127.0.0.1:9")
    async with HttpKubeClient(config) as c:
        with pytest.raises(TransportError):
            await c.get(CERTIFICATES, "ns", "a")
