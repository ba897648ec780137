"""The HTTP-01 responder and self-check (SPEC §6.6) against real local listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import dns.message
import dns.rrset
import pytest
from aiohttp import web

from certsmith.controllers.acme.http01 import (
    Http01Registry,
    Http01Responder,
    SelfCheckError,
    SelfCheckOptions,
    challenge_url,
    parse_nameserver,
    self_check,
)
from tests.servertools import free_port


@pytest.fixture
async def responder() -> AsyncIterator[Http01Responder]:
    server = Http01Responder(Http01Registry(), "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_responder_answers_presented_tokens_only(responder: Http01Responder) -> None:
    responder.registry.present("tok", "tok.thumb")
    options = SelfCheckOptions(port=responder.port, interval=0.0)
    await self_check("127.0.0.1", "tok", "tok.thumb", options)
    responder.registry.clean_up("tok")
    with pytest.raises(SelfCheckError, match="wrong status code '404', expected '200'"):
        await self_check("127.0.0.1", "tok", "tok.thumb", options)


async def test_self_check_needs_every_pass(responder: Http01Responder) -> None:
    responder.registry.present("tok", "tok.thumb")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            responder.registry.clean_up("tok")  # the third GET finds nothing

    options = SelfCheckOptions(port=responder.port)
    with pytest.raises(SelfCheckError, match="wrong status code '404'"):
        await self_check("127.0.0.1", "tok", "tok.thumb", options, sleep=sleep)
    assert sleeps == [2.0, 2.0]


async def test_wrong_body_names_the_key_the_url_and_what_came_back(
    responder: Http01Responder,
) -> None:
    responder.registry.present("tok", "something-else-entirely-and-long")
    options = SelfCheckOptions(port=responder.port, interval=0.0)
    with pytest.raises(SelfCheckError) as caught:
        await self_check("127.0.0.1", "tok", "tok.thumb", options)
    message = str(caught.value)
    assert message.startswith('did not get expected response "tok.thumb" when querying endpoint')
    assert f"'http://127.0.0.1:{responder.port}/.well-known/acme-challenge/tok'" in message
    assert 'got "something-else-entirely-... (truncated)"' in message


async def test_connection_failure_names_the_url() -> None:
    port = free_port()
    options = SelfCheckOptions(port=port, interval=0.0)
    with pytest.raises(SelfCheckError) as caught:
        await self_check("127.0.0.1", "tok", "k", options)
    assert str(caught.value).startswith(
        f"failed to perform self check GET request "
        f"'http://127.0.0.1:{port}/.well-known/acme-challenge/tok': "
    )


async def test_redirects_are_followed() -> None:
    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound("/final")

    async def final(_: web.Request) -> web.Response:
        return web.Response(text="k")

    app = web.Application()
    app.router.add_get("/.well-known/acme-challenge/tok", redirect)
    app.router.add_get("/final", final)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await self_check("127.0.0.1", "tok", "k", SelfCheckOptions(port=port, interval=0.0))
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("name", "port", "expect"),
    [
        ("a.example.com", None, "http://a.example.com/.well-known/acme-challenge/t"),
        ("a.example.com", 80, "http://a.example.com/.well-known/acme-challenge/t"),
        ("a.example.com", 5002, "http://a.example.com:5002/.well-known/acme-challenge/t"),
        ("2001:db8::1", None, "http://[2001:db8::1]/.well-known/acme-challenge/t"),
    ],
)
def test_challenge_url(name: str, port: int | None, expect: str) -> None:
    assert challenge_url(name, "t", port) == expect


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("10.0.0.1", ("10.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_nameserver(text: str, expect: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expect


def test_parse_nameserver_refuses_names() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        parse_nameserver("dns.example.com:53")


async def test_the_self_check_resolves_through_the_given_nameservers(
    responder: Http01Responder,
) -> None:
    # A one-answer DNS server: every A query gets 127.0.0.1.
    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            if question.rdtype == 1:
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.1"))
            self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Answer, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        responder.registry.present("tok", "key")
        options = SelfCheckOptions(
            nameservers=(f"127.0.0.1:{port}",), port=responder.port, interval=0.0
        )
        await self_check("nowhere.invalid", "tok", "key", options)
    finally:
        transport.close()
