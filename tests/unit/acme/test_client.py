"""AcmeClient behaviour that pebble cannot be made to show on demand, over httpx.MockTransport.

A tiny scripted ACME server: each test queues the answers it needs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from certsmith.acme import (
    AcmeClient,
    AcmeProblem,
    AcmeProtocolError,
    AriNotSupportedError,
    Identifier,
    NetworkError,
    NoAccountError,
    PollTimeoutError,
    ProfileNotSupportedError,
    is_bad_nonce,
    is_rate_limited,
    is_replaces_rejection,
)
from certsmith.acme.client import MAX_RESPONSE_BYTES
from tests import pkitools
from tests.unit.acme.keys import account_key

BASE = "https://acme.test"
DIRECTORY = {
    "newNonce": f"{BASE}/nonce",
    "newAccount": f"{BASE}/acct",
    "newOrder": f"{BASE}/order",
    "revokeCert": f"{BASE}/revoke",
}
ORDER = {
    "status": "pending",
    "identifiers": [{"type": "dns", "value": "a.test"}],
    "authorizations": [f"{BASE}/authz/1"],
    "finalize": f"{BASE}/order/1/finalize",
}


class Server:
    """Answers GET /dir and HEAD /nonce itself; everything else from ``handlers``."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[[httpx.Request], httpx.Response]]] = {}
        self.requests: list[httpx.Request] = []
        self.nonces = 0
        self.directory = dict(DIRECTORY)

    def nonce(self) -> str:
        self.nonces += 1
        return f"nonce{self.nonces}"

    def on(self, path: str, *responses: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handlers.setdefault(path, []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/dir":
            return httpx.Response(200, json=self.directory)
        if path == "/nonce":
            return httpx.Response(200, headers={"Replay-Nonce": self.nonce()})
        response = self.handlers[path].pop(0)(request)
        response.headers["Replay-Nonce"] = self.nonce()
        return response

    def posts(self, path: str) -> list[dict[str, Any]]:
        """Protected header and payload of every POST to ``path``."""
        out = []
        for req in self.requests:
            if req.method == "POST" and req.url.path == path:
                body = json.loads(req.content)
                out.append(
                    {
                        "protected": json.loads(_b64(body["protected"])),
                        "payload": json.loads(_b64(body["payload"])) if body["payload"] else None,
                    }
                )
        return out


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def problem(status: int, type_: str, detail: str = "", **headers: str):
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={"type": f"urn:ietf:params:acme:error:{type_}", "detail": detail},
            headers={"Content-Type": "application/problem+json", **headers},
        )

    return answer


def ok(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None):
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers or {})

    return answer


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def observed() -> list[tuple[object, ...]]:
    return []


@pytest.fixture
async def client(server, sleeps, observed):
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    acme = AcmeClient(
        f"{BASE}/dir",
        account_key("p256"),
        account_url=f"{BASE}/acct/7",
        transport=httpx.MockTransport(server),
        sleep=sleep,
        observer=lambda *labels: observed.append(labels),
        max_bad_nonce_retries=3,
    )
    yield acme
    await acme.aclose()


async def test_bad_nonce_is_retried_with_the_nonce_the_refusal_carried(client, server):
    server.on("/order/1", problem(400, "badNonce"), ok(ORDER))
    order = await client.get_order(f"{BASE}/order/1")
    assert order.status == "pending"
    nonces = [p["protected"]["nonce"] for p in server.posts("/order/1")]
    assert nonces == ["nonce1", "nonce2"]  # nonce2 came with the badNonce answer
    assert [r.method for r in server.requests].count("HEAD") == 1


async def test_bad_nonce_retries_are_bounded(client, server):
    server.on("/order/1", *[problem(400, "badNonce")] * 4)
    with pytest.raises(AcmeProblem) as info:
        await client.get_order(f"{BASE}/order/1")
    assert is_bad_nonce(info.value)
    assert len(server.posts("/order/1")) == 4


async def test_rate_limits_are_not_retried_and_carry_retry_after(client, server):
    server.on("/order", problem(429, "rateLimited", "too many new orders", **{"Retry-After": "90"}))
    with pytest.raises(AcmeProblem) as info:
        await client.new_order([Identifier.dns("a.test")])
    assert is_rate_limited(info.value)
    assert info.value.retry_after == 90
    assert "too many new orders" in str(info.value)
    assert len(server.posts("/order")) == 1


async def test_post_as_get_uses_kid_and_an_empty_payload(client, server):
    server.on("/authz/1", ok({"identifier": {"type": "dns", "value": "a.test"}, "status": "valid"}))
    await client.get_authorization(f"{BASE}/authz/1")
    (post,) = server.posts("/authz/1")
    assert post["protected"]["kid"] == f"{BASE}/acct/7"
    assert "jwk" not in post["protected"]
    assert post["protected"]["url"] == f"{BASE}/authz/1"
    assert post["payload"] is None


async def test_account_requests_need_an_account_url(server):
    acme = AcmeClient(f"{BASE}/dir", account_key("p256"), transport=httpx.MockTransport(server))
    async with acme:
        with pytest.raises(NoAccountError, match="not registered"):
            await acme.get_order(f"{BASE}/order/1")


async def test_new_account_uses_jwk_and_lowercases_the_email(server):
    server.on("/acct", ok({"status": "valid"}, 201, {"Location": f"{BASE}/acct/9"}))
    acme = AcmeClient(f"{BASE}/dir", account_key("p256"), transport=httpx.MockTransport(server))
    async with acme:
        account = await acme.register_account("Admin@Example.TEST")
    assert account.url == acme.account_url == f"{BASE}/acct/9"
    (post,) = server.posts("/acct")
    assert "kid" not in post["protected"]
    assert post["protected"]["jwk"]["kty"] == "EC"
    assert post["payload"] == {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:admin@example.test"],
    }


async def test_wait_order_sleeps_as_retry_after_asks(client, server, sleeps):
    server.on(
        "/order/1",
        ok({**ORDER, "status": "processing"}, headers={"Retry-After": "3"}),
        ok({**ORDER, "status": "processing"}),
        ok({**ORDER, "status": "valid", "certificate": f"{BASE}/cert/1"}),
    )
    order = await client.wait_order(f"{BASE}/order/1", interval=0.5)
    assert order.status == "valid"
    assert sleeps == [3.0, 0.1]  # the server's wait, then the first of a doubling series


async def test_wait_authorization_gives_up_after_max_wait(client, server, sleeps):
    pending = {"identifier": {"type": "dns", "value": "a.test"}, "status": "pending"}
    server.on("/authz/1", *[ok(pending)] * 10)
    with pytest.raises(PollTimeoutError, match="still pending after 3s"):
        await client.wait_authorization(f"{BASE}/authz/1", max_wait=3, interval=1)
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 0.5])


async def test_renewal_info_is_none_without_ari(client, server):
    cert, _ = pkitools.make_root("ca")
    assert await client.get_renewal_info(cert) is None
    assert not await client.supports_renewal_info()


async def test_transport_failures_are_network_errors_observed_as_999(server, observed):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    acme = AcmeClient(
        f"{BASE}/dir",
        account_key("p256"),
        transport=httpx.MockTransport(refuse),
        observer=lambda *labels: observed.append(labels),
    )
    async with acme:
        with pytest.raises(NetworkError, match="ConnectError"):
            await acme.directory()
    ((scheme, host, action, method, status, seconds),) = observed
    assert (scheme, host, action, method, status) == ("https", "acme.test", "discover", "GET", 999)
    assert seconds >= 0


async def test_observer_labels_name_the_operation(client, server, observed):
    server.on("/authz/1", ok({"identifier": {"type": "dns", "value": "a.test"}, "status": "valid"}))
    await client.get_authorization(f"{BASE}/authz/1")
    assert [(o[2], o[3], o[4]) for o in observed] == [
        ("get_authorization", "GET", 200),  # directory, loaded for the nonce
        ("get_authorization", "HEAD", 200),
        ("get_authorization", "POST", 200),
    ]


async def test_a_profile_is_refused_before_asking_a_server_without_profiles(client, server):
    with pytest.raises(ProfileNotSupportedError, match="does not support certificate profiles"):
        await client.new_order([Identifier.dns("a.test")], profile="shortlived")
    assert not server.posts("/order")


async def test_an_unknown_profile_is_refused_naming_the_offered_ones(client, server):
    server.directory["meta"] = {"profiles": {"classic": "", "tlsserver": ""}}
    with pytest.raises(ProfileNotSupportedError, match=r"'shortlived' \(it offers: classic, tls"):
        await client.new_order([Identifier.dns("a.test")], profile="shortlived")


async def test_an_offered_profile_is_sent(client, server):
    server.directory["meta"] = {"profiles": {"shortlived": "6 days"}}
    server.on("/order", ok(ORDER, 201, {"Location": f"{BASE}/order/1"}))
    await client.new_order([Identifier.dns("a.test")], profile="shortlived")
    assert server.posts("/order")[0]["payload"]["profile"] == "shortlived"


async def test_replaces_needs_a_server_with_ari(client, server):
    with pytest.raises(AriNotSupportedError) as info:
        await client.new_order([Identifier.dns("a.test")], replaces="aYhb.AIdl")
    assert is_replaces_rejection(info.value)
    assert not server.posts("/order")


async def test_wait_authorization_honours_retry_after(client, server, sleeps):
    authz = {"identifier": {"type": "dns", "value": "a.test"}, "status": "pending"}
    server.on(
        "/authz/1",
        ok(authz, headers={"Retry-After": "7"}),
        ok({**authz, "status": "valid"}),
    )
    done = await client.wait_authorization(f"{BASE}/authz/1")
    assert done.status == "valid"
    assert sleeps == [7.0]


async def test_a_failing_observer_does_not_fail_the_request(server, caplog):
    def broken(*labels: object) -> None:
        raise RuntimeError("metrics backend down")

    acme = AcmeClient(
        f"{BASE}/dir", account_key(), transport=httpx.MockTransport(server), observer=broken
    )
    async with acme:
        directory = await acme.directory()
    assert directory.new_order == f"{BASE}/order"
    assert "ACME request observer failed" in caplog.text


async def test_an_oversized_answer_is_a_protocol_error(client, server):
    server.on("/cert/1", lambda _: httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 1)))
    with pytest.raises(AcmeProtocolError, match="larger than"):
        await client.fetch_certificate(f"{BASE}/cert/1")
