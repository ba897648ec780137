"""ACME accounts against real pebble: registration, lookup, contact update, EAB."""

from __future__ import annotations

import pytest

from certsmith.acme import AcmeClient, AcmeProblem, ExternalAccountBinding, decode_mac_key
from certsmith.acme.problems import ACCOUNT_DOES_NOT_EXIST, EXTERNAL_ACCOUNT_REQUIRED
from tests.integration.acme_client.flows import account_key


def _client(pebble, key=None, **kwargs) -> AcmeClient:
    return AcmeClient(
        pebble.directory_url, key or account_key(), ca_bundle=pebble.ca_bundle, **kwargs
    )


async def test_new_account_has_a_lowercased_mailto_contact(pebble):
    async with _client(pebble) as client:
        account = await client.register_account("Admin@Example.TEST")
    assert account.status == "valid"
    assert account.contact == ("mailto:admin@example.test",)
    assert account.url.startswith(pebble.directory_url.rsplit("/", 1)[0])


async def test_registering_the_same_key_again_returns_the_same_account(pebble):
    key = account_key()
    async with _client(pebble, key) as first:
        created = await first.register_account("a@example.test")
    async with _client(pebble, key) as second:
        again = await second.register_account("a@example.test")
    assert again.url == created.url


async def test_find_account_returns_the_existing_account(pebble):
    key = account_key()
    async with _client(pebble, key) as first:
        created = await first.register_account("a@example.test")
    async with _client(pebble, key) as second:
        found = await second.find_account()
        assert second.account_url == created.url
    assert found.url == created.url
    assert found.contact == ("mailto:a@example.test",)


async def test_find_account_for_an_unknown_key_is_account_does_not_exist(pebble):
    async with _client(pebble) as client:
        with pytest.raises(AcmeProblem) as info:
            await client.find_account()
    assert info.value.problem.is_type(ACCOUNT_DOES_NOT_EXIST)
    assert info.value.status == 400
    assert client.account_url is None


async def test_contact_update_replaces_the_email(pebble):
    async with _client(pebble) as client:
        await client.register_account("old@example.test")
        updated = await client.update_account("New@Example.TEST")
        fetched = await client.get_account()
    assert updated.contact == fetched.contact == ("mailto:new@example.test",)


async def test_eab_server_refuses_an_account_without_binding(pebble_factory):
    pebble = pebble_factory(eab=True)
    async with _client(pebble) as client:
        assert (await client.directory()).external_account_required
        with pytest.raises(AcmeProblem) as info:
            await client.register_account("a@example.test")
    assert info.value.problem.is_type(EXTERNAL_ACCOUNT_REQUIRED)


async def test_eab_with_the_right_key_registers(pebble_factory):
    pebble = pebble_factory(eab=True)
    kid, mac = next(iter(pebble.eab_keys.items()))
    async with _client(pebble) as client:
        account = await client.register_account(
            "a@example.test", eab=ExternalAccountBinding(kid, decode_mac_key(mac))
        )
    assert account.status == "valid"


async def test_eab_with_a_wrong_key_is_refused(pebble_factory):
    pebble = pebble_factory(eab=True)
    kid, mac = next(iter(pebble.eab_keys.items()))
    wrong = bytes(b ^ 0xFF for b in decode_mac_key(mac))
    async with _client(pebble) as client:
        with pytest.raises(AcmeProblem) as info:
            await client.register_account("a@example.test", eab=ExternalAccountBinding(kid, wrong))
    assert info.value.status is not None
    assert 400 <= info.value.status < 500
    assert mac not in str(info.value)
