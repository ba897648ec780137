"""ACME Renewal Information (RFC 9773) through the ARI shim in front of pebble."""

from __future__ import annotations

import datetime as dt

import pytest

from certsmith.acme import AcmeClient, AriNotSupportedError, Identifier, ari_cert_id
from tests.integration.acme_client.flows import account_key, issue_http01
from tests.peers.arishim import running_arishim

START = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
END = dt.datetime(2030, 1, 2, 12, 0, tzinfo=dt.UTC)


async def _issue(client: AcmeClient, pebble, name: str, replaces: str | None = None):
    return await issue_http01(client, pebble, [Identifier.dns(name)], replaces=replaces)


async def test_renewal_info_window_is_parsed(pebble, ari_shim):
    shim = ari_shim
    async with AcmeClient(shim.directory_url, account_key(), ca_bundle=pebble.ca_bundle) as c:
        await c.register_account()
        _, chain = await _issue(c, pebble, "ari.example.test")
        leaf = chain.certificates[0]
        shim.set_window(
            START,
            END,
            cert_id=ari_cert_id(leaf),
            retry_after=3600,
            explanation_url="https://ca.test/why",
        )
        assert await c.supports_renewal_info()
        info = await c.get_renewal_info(leaf)
    assert info is not None
    assert (info.start, info.end) == (START, END)
    assert info.retry_after == 3600
    assert info.explanation_url == "https://ca.test/why"
    assert shim.renewal_info_requests == [ari_cert_id(leaf)]


async def test_renewal_order_carries_replaces(pebble):
    async with (
        running_arishim(pebble) as shim,
        AcmeClient(shim.directory_url, account_key(), ca_bundle=pebble.ca_bundle) as c,
    ):
        await c.register_account()
        _, first = await _issue(c, pebble, "renew.example.test")
        cert_id = ari_cert_id(first.certificates[0])
        order, _ = await _issue(c, pebble, "renew.example.test", replaces=cert_id)
    assert shim.replaces_seen == [None, cert_id]
    assert order.status == "valid"


async def test_without_ari_renewal_info_is_none_and_replaces_is_refused(pebble):
    async with AcmeClient(pebble.directory_url, account_key(), ca_bundle=pebble.ca_bundle) as c:
        await c.register_account()
        _, chain = await _issue(c, pebble, "noari.example.test")
        assert not await c.supports_renewal_info()
        assert await c.get_renewal_info(chain.certificates[0]) is None
        with pytest.raises(AriNotSupportedError, match="does not support ARI"):
            await c.new_order(
                [Identifier.dns("noari.example.test")], replaces=ari_cert_id(chain.certificates[0])
            )
