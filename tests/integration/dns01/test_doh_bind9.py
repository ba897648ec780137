"""DNS-over-HTTPS nameservers (``https://`` in a solver's ``nameservers``), RFC 8484 POST.

The DoH server is a small aiohttp relay in front of the session's bind9, over TLS with a
test CA (the one certsmith's API server generates for itself).
"""

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import pytest
from aiohttp import web

from certsmith.acme.dns01 import (
    DNS01Solver,
    PropagationCheckError,
    parse_nameserver,
)
from certsmith.apiserver.tls import ensure_pki
from tests.dns01tools import bind9_rfc2136, bind9_settings, bind9_tsig_store, make_dns01_challenge
from tests.peers.bind9 import Bind9


@dataclass
class DoHServer:
    url: str
    client_ssl: ssl.SSLContext
    status: int = 200
    media_types: list[str] = field(default_factory=list)


@pytest.fixture
async def doh(bind9: Bind9, tmp_path: Path) -> AsyncIterator[DoHServer]:
    pki = ensure_pki(tmp_path / "pki", "127.0.0.1")
    state = DoHServer("", ssl.create_default_context(cafile=str(pki.ca_cert)))

    async def relay(request: web.Request) -> web.Response:
        state.media_types.append(request.content_type)
        if state.status != 200:
            return web.Response(status=state.status)
        query = dns.message.from_wire(await request.read())
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=bind9.port, timeout=2)
        return web.Response(body=reply.to_wire(), content_type="application/dns-message")

    app = web.Application()
    app.router.add_post("/dns-query", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_ssl_context())
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"https://127.0.0.1:{port}/dns-query"
    try:
        yield state
    finally:
        await runner.cleanup()


def solver_for(bind9: Bind9, doh: DoHServer, *, trusted: bool = True) -> DNS01Solver:
    settings = bind9_settings(bind9, doh_ssl_context=doh.client_ssl if trusted else None)
    return DNS01Solver(settings, bind9_tsig_store(bind9))


def dns01(bind9: Bind9, doh: DoHServer, **extra: Any) -> dict[str, Any]:
    return bind9_rfc2136(bind9) | {"nameservers": [doh.url]} | extra


def test_doh_url_parses_with_default_port_443():
    server = parse_nameserver("https://dns.example/dns-query")
    assert (server.host, server.port, str(server)) == (
        "dns.example",
        443,
        "https://dns.example/dns-query",
    )


async def test_check_through_doh_sees_the_record_appear(bind9, doh):
    solver = solver_for(bind9, doh)
    name = f"{bind9.unique()}.www.example.test"
    challenge = make_dns01_challenge(dns01(bind9, doh), dns_name=name, key="via-doh")
    before = await solver.check(challenge)
    assert before.authoritative is False
    assert before.details() == f"{doh.url}: NXDOMAIN"
    request = await solver.present(challenge, "ns")  # zone found through DoH too
    assert request.resolved_zone == "example.test."
    after = await solver.check(challenge)
    assert after.propagated is True
    assert after.details() == f'{doh.url}: TXT "via-doh"'
    assert set(doh.media_types) == {"application/dns-message"}


async def test_cname_following_works_through_doh(bind9, doh):
    solver = solver_for(bind9, doh)
    challenge = make_dns01_challenge(
        dns01(bind9, doh, cnameStrategy="Follow"), dns_name="alias.example.test"
    )
    assert await solver.record_name(challenge) == "_acme-challenge.target.acme-delegate.test."


async def test_doh_http_error_is_a_check_error_naming_the_url(bind9, doh):
    solver = solver_for(bind9, doh)
    doh.status = 503
    challenge = make_dns01_challenge(dns01(bind9, doh), dns_name="www.example.test")
    with pytest.raises(PropagationCheckError) as err:
        await solver.check(challenge)
    assert str(err.value) == (
        f"checking _acme-challenge.www.example.test. TXT: {doh.url}: TXT query for "
        f"_acme-challenge.www.example.test. to {doh.url} failed: HTTP 503 Service Unavailable"
    )


async def test_untrusted_doh_certificate_is_refused(bind9, doh):
    solver = solver_for(bind9, doh, trusted=False)
    challenge = make_dns01_challenge(dns01(bind9, doh), dns_name="www.example.test")
    with pytest.raises(PropagationCheckError, match="certificate verify failed"):
        await solver.check(challenge)
    assert doh.media_types == []
