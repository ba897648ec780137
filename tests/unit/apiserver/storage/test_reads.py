from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.apiserver.storage import (
    ContinueExpiredError,
    GoneError,
    InvalidArgumentError,
    ResourcePrefix,
    ResourceVersionMatch,
    Store,
    TooLargeResourceVersionError,
)
from certsmith.apiserver.storage.model import Continuation, decode
from tests.unit.apiserver.storage.builders import (
    cert_key,
    certs,
    make_cert,
    make_secret,
    names,
    rv,
    secret_key,
)


async def seed(store: Store) -> None:
    for namespace, name in [("b", "y"), ("a", "z"), ("b", "x"), ("a", "c"), ("c", "a")]:
        await store.create(cert_key(name, namespace), make_cert(name, namespace))
    await store.create(secret_key("s", "a"), make_secret("s", "a"))


@dataclass(frozen=True)
class ListCase:
    id: str
    prefix: ResourcePrefix
    expect: list[str]


LIST_CASES = [
    ListCase("all namespaces in key order", certs(), ["a/c", "a/z", "b/x", "b/y", "c/a"]),
    ListCase("one namespace", certs("b"), ["b/x", "b/y"]),
    ListCase("an empty namespace", certs("nope"), []),
    ListCase("another resource", ResourcePrefix("", "secrets"), ["a/s"]),
    ListCase("a resource with nothing stored", ResourcePrefix("", "configmaps"), []),
]


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c.id)
async def test_list_returns_the_objects_under_the_prefix_in_key_order(store: Store, case):
    await seed(store)

    result = await store.list(case.prefix)

    assert names(result.items) == case.expect
    assert result.resource_version == "6"
    assert result.continue_token is None
    assert result.remaining_item_count is None


async def test_list_raw_items_are_the_items_json(store: Store):
    await seed(store)

    result = await store.list(certs())

    assert [decode(raw) for raw in result.raw_items] == result.items


async def test_list_excludes_deleted_objects(store: Store):
    await seed(store)
    await store.delete(cert_key("z", "a"))

    assert names((await store.list(certs("a"))).items) == ["a/c"]


async def test_limit_and_continue_walk_every_object_once(store: Store):
    await seed(store)
    seen: list[str] = []
    remaining: list[int | None] = []
    token = None

    while True:
        page = await store.list(certs(), limit=2, continue_token=token)
        seen += names(page.items)
        remaining.append(page.remaining_item_count)
        token = page.continue_token
        if token is None:
            break

    assert seen == ["a/c", "a/z", "b/x", "b/y", "c/a"]
    assert remaining == [3, 1, None]


async def test_continue_pages_show_the_state_at_the_first_pages_revision(store: Store):
    await seed(store)
    first = await store.list(certs(), limit=2)

    await store.create(cert_key("b0", "b"), make_cert("b0", "b"))
    await store.delete(cert_key("x", "b"))
    await store.update(cert_key("y", "b"), make_cert("y", "b", secret="changed"))
    rest = await store.list(certs(), continue_token=first.continue_token)

    assert names(rest.items) == ["b/x", "b/y", "c/a"]
    assert rest.items[1]["spec"]["secretName"] == "tls"
    assert rest.resource_version == first.resource_version


async def test_exact_resource_version_lists_an_older_state(store: Store):
    await seed(store)
    await store.update(cert_key("c", "a"), make_cert("c", "a", secret="new"))
    await store.delete(cert_key("z", "a"))

    old = await store.list(
        certs("a"), resource_version="5", resource_version_match=ResourceVersionMatch.EXACT
    )

    assert names(old.items) == ["a/c", "a/z"]
    assert old.items[0]["spec"]["secretName"] == "tls"
    assert old.resource_version == "5"


async def test_not_older_than_returns_the_latest_state(store: Store):
    await seed(store)

    result = await store.list(certs(), resource_version="2")

    assert result.resource_version == "6"


async def test_a_resource_version_from_the_future_is_too_large(store: Store):
    await seed(store)

    with pytest.raises(TooLargeResourceVersionError) as err:
        await store.list(certs(), resource_version="99")

    assert err.value.code == 504


async def test_a_continue_token_older_than_the_compacted_revision_expired(store: Store):
    await seed(store)
    first = await store.list(certs(), limit=2)
    await store.update(cert_key("y", "b"), make_cert("y", "b", secret="changed"))
    await store.compact(store.current_revision())

    with pytest.raises(ContinueExpiredError) as err:
        await store.list(certs(), continue_token=first.continue_token)

    assert err.value.code == 410
    assert err.value.reason == "Expired"
    assert err.value.message.startswith("The provided continue parameter is too old")


async def test_an_exact_list_below_the_compacted_revision_is_gone(store: Store):
    await seed(store)
    await store.update(cert_key("y", "b"), make_cert("y", "b", secret="changed"))
    await store.compact(7)

    with pytest.raises(GoneError) as err:
        await store.list(certs(), resource_version="3", resource_version_match="Exact")  # type: ignore[arg-type]

    assert err.value.code == 410


async def test_lists_at_or_after_the_compacted_revision_still_work(store: Store):
    await seed(store)
    await store.delete(cert_key("x", "b"))
    await store.update(cert_key("y", "b"), make_cert("y", "b", secret="changed"))
    await store.compact(8)
    await store.update(cert_key("y", "b"), make_cert("y", "b", secret="latest"))

    at_compaction = await store.list(
        certs("b"), resource_version="8", resource_version_match=ResourceVersionMatch.EXACT
    )

    assert names(at_compaction.items) == ["b/y"]
    assert at_compaction.items[0]["spec"]["secretName"] == "changed"


async def test_a_predicate_filters_and_pages_still_fill_up_to_the_limit(store: Store):
    await seed(store)

    def not_in_a(obj: dict[str, Any]) -> bool:
        return bool(obj["metadata"]["namespace"] != "a")

    first = await store.list(certs(), limit=2, predicate=not_in_a)
    rest = await store.list(
        certs(), limit=2, predicate=not_in_a, continue_token=first.continue_token
    )

    assert names(first.items) == ["b/x", "b/y"]
    assert first.remaining_item_count is None
    assert names(rest.items) == ["c/a"]
    assert rest.continue_token is None


@dataclass(frozen=True)
class BadArgs:
    id: str
    continue_token: str | None = None
    resource_version: str | None = None
    match: ResourceVersionMatch | None = None


BAD_ARGS = [
    BadArgs("a resource version that is not a number", resource_version="abc"),
    BadArgs("a negative resource version", resource_version="-1"),
    BadArgs("a continue token that is not base64", continue_token="%%%"),
    BadArgs("a continue token of another shape", continue_token="W10="),
    BadArgs(
        "a continue token and a resource version",
        continue_token=Continuation(1, "cert-manager.io", "certificates", "a", "b").encode(),
        resource_version="1",
    ),
    BadArgs(
        "a continue token of another resource",
        continue_token=Continuation(1, "", "secrets", "a", "b").encode(),
    ),
    BadArgs("exact resource version 0", resource_version="0", match=ResourceVersionMatch.EXACT),
]


@pytest.mark.parametrize("case", BAD_ARGS, ids=lambda c: c.id)
async def test_malformed_list_arguments_are_bad_requests(store: Store, case: BadArgs):
    await seed(store)

    with pytest.raises(InvalidArgumentError) as err:
        await store.list(
            certs(),
            continue_token=case.continue_token,
            resource_version=case.resource_version,
            resource_version_match=case.match,
        )

    assert err.value.code == 400


async def test_get_returns_what_list_returns(store: Store):
    created = await store.create(cert_key(), make_cert())

    assert (await store.list(certs())).items == [created] == [await store.get(cert_key())]
    assert rv(created) == "1"
