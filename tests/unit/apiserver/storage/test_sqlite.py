from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from certsmith.apiserver.storage import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    ObjectKey,
    Store,
    StoreClosedError,
    StoreLockedError,
)
from tests.unit.apiserver.storage.builders import (
    cert_key,
    certs,
    make_cert,
    make_secret,
    rv,
    secret_key,
)
from tests.unit.apiserver.storage.conftest import NO_AUTO_COMPACTION


async def test_create_sets_resource_version_and_get_returns_the_stored_object(store: Store):
    created = await store.create(cert_key(), make_cert())

    assert rv(created) == "1"
    assert await store.get(cert_key()) == created


async def test_create_does_not_change_the_callers_object(store: Store):
    body = make_cert()

    await store.create(cert_key(), body)

    assert "resourceVersion" not in body["metadata"]


async def test_create_ignores_a_resource_version_in_the_body(store: Store):
    body = make_cert()
    body["metadata"]["resourceVersion"] = "999"

    created = await store.create(cert_key(), body)

    assert rv(created) == "1"


async def test_create_of_an_existing_key_raises_already_exists(store: Store):
    await store.create(cert_key(), make_cert())

    with pytest.raises(AlreadyExistsError) as err:
        await store.create(cert_key(), make_cert())

    assert err.value.code == 409
    assert err.value.message == 'certificates.cert-manager.io "a" already exists'


async def test_get_of_a_missing_key_raises_not_found_in_kube_words(store: Store):
    with pytest.raises(NotFoundError) as err:
        await store.get(secret_key("nope"))

    assert err.value.to_status()["message"] == 'secrets "nope" not found'
    assert err.value.to_status()["details"] == {"name": "nope", "kind": "secrets"}


async def test_update_with_the_current_rv_writes_a_new_rv(store: Store):
    created = await store.create(cert_key(), make_cert())

    updated = await store.update(cert_key(), make_cert(secret="other"), expected_rv=rv(created))

    assert int(rv(updated)) > int(rv(created))
    assert (await store.get(cert_key()))["spec"]["secretName"] == "other"


async def test_update_with_a_stale_rv_raises_conflict_and_changes_nothing(store: Store):
    created = await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="second"))

    with pytest.raises(ConflictError) as err:
        await store.update(cert_key(), make_cert(secret="third"), expected_rv=rv(created))

    assert err.value.message.startswith(
        'Operation cannot be fulfilled on certificates.cert-manager.io "a": '
        "the object has been modified"
    )
    assert (await store.get(cert_key()))["spec"]["secretName"] == "second"


@pytest.mark.parametrize("expected_rv", [None, ""], ids=["none", "empty"])
async def test_update_without_an_expected_rv_is_unconditional(store: Store, expected_rv):
    await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="second"))

    updated = await store.update(cert_key(), make_cert(secret="third"), expected_rv=expected_rv)

    assert updated["spec"]["secretName"] == "third"


async def test_update_of_a_missing_key_raises_not_found(store: Store):
    with pytest.raises(NotFoundError):
        await store.update(cert_key(), make_cert())


async def test_noop_update_keeps_the_rv_and_writes_nothing(store: Store):
    created = await store.create(cert_key(), make_cert())
    same = make_cert()
    same["metadata"]["resourceVersion"] = "12345"

    result = await store.update(cert_key(), same, expected_rv=rv(created))

    assert result == created
    assert store.current_revision() == 1


async def test_noop_detection_ignores_key_order(store: Store):
    created = await store.create(cert_key(), make_cert())
    reordered = dict(reversed(list(make_cert().items())))

    result = await store.update(cert_key(), reordered)

    assert rv(result) == rv(created)


async def test_delete_returns_the_last_state_with_a_new_rv(store: Store):
    created = await store.create(cert_key(), make_cert())

    deleted = await store.delete(cert_key())

    assert int(rv(deleted)) == int(rv(created)) + 1
    assert deleted["spec"] == created["spec"]
    with pytest.raises(NotFoundError):
        await store.get(cert_key())


async def test_delete_with_a_stale_rv_raises_conflict_and_keeps_the_object(store: Store):
    created = await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="second"))

    with pytest.raises(ConflictError):
        await store.delete(cert_key(), expected_rv=rv(created))

    assert (await store.get(cert_key()))["spec"]["secretName"] == "second"


async def test_delete_of_a_missing_key_raises_not_found(store: Store):
    with pytest.raises(NotFoundError):
        await store.delete(cert_key())


async def test_a_deleted_key_can_be_created_again(store: Store):
    await store.create(cert_key(), make_cert())
    await store.delete(cert_key())

    again = await store.create(cert_key(), make_cert(secret="new"))

    assert rv(again) == "3"


async def test_revisions_increase_by_one_across_resources_and_namespaces(store: Store):
    results = [
        await store.create(cert_key("a", "ns1"), make_cert("a", "ns1")),
        await store.create(secret_key("s", "ns2"), make_secret("s", "ns2")),
        await store.update(cert_key("a", "ns1"), make_cert("a", "ns1", secret="x")),
        await store.delete(secret_key("s", "ns2")),
        await store.create(ObjectKey("", "namespaces", "", "ns3"), {"metadata": {"name": "ns3"}}),
    ]

    assert [rv(r) for r in results] == ["1", "2", "3", "4", "5"]
    assert store.current_revision() == 5


async def test_guaranteed_update_applies_the_function_to_the_latest_state(store: Store):
    await store.create(cert_key(), make_cert())
    await store.update(cert_key(), make_cert(secret="second"))

    def rename(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["secretName"] += "-renamed"
        return obj

    result = await store.guaranteed_update(cert_key(), rename)

    assert result["spec"]["secretName"] == "second-renamed"


async def test_guaranteed_update_retries_after_losing_a_race(store: Store):
    await store.create(cert_key(), make_cert())
    calls = 0

    def append(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        obj["spec"]["dnsNames"].append(f"call{calls}")
        return obj

    # Between the first attempt's read and its write, another client writes.
    real_update = store.update

    async def racing_update(key, obj, *, expected_rv=None):
        if calls == 1:
            await real_update(key, make_cert(secret="racer"))
        return await real_update(key, obj, expected_rv=expected_rv)

    store.update = racing_update  # type: ignore[method-assign]
    try:
        result = await store.guaranteed_update(cert_key(), append)
    finally:
        del store.update

    assert calls == 2
    assert result["spec"]["secretName"] == "racer"
    assert result["spec"]["dnsNames"][-1] == "call2"


async def test_guaranteed_update_returning_none_writes_nothing(store: Store):
    created = await store.create(cert_key(), make_cert())

    result = await store.guaranteed_update(cert_key(), lambda obj: None)

    assert result == created
    assert store.current_revision() == 1


@dataclass(frozen=True)
class BadObject:
    id: str
    key: ObjectKey
    obj: Any
    error: type[Exception]


BAD_OBJECTS = [
    BadObject("not a dict", cert_key(), ["x"], TypeError),
    BadObject("no metadata", cert_key(), {"spec": {}}, ValueError),
    BadObject("name differs from key", cert_key("a"), make_cert("b"), ValueError),
    BadObject("namespace differs from key", cert_key("a", "x"), make_cert("a", "y"), ValueError),
    BadObject("not JSON", cert_key(), {**make_cert(), "spec": {1: "int key"}}, TypeError),
]


@pytest.mark.parametrize("case", BAD_OBJECTS, ids=lambda c: c.id)
async def test_create_rejects_objects_it_cannot_store(store: Store, case: BadObject):
    with pytest.raises(case.error):
        await store.create(case.key, case.obj)

    assert store.current_revision() == 0


async def test_a_failed_write_does_not_disturb_others_in_the_same_batch(store: Store):
    import asyncio

    results = await asyncio.gather(
        store.create(cert_key("a"), make_cert("a")),
        store.create(cert_key("b"), {**make_cert("b"), "spec": {1: "bad"}}),
        store.create(cert_key("c"), make_cert("c")),
        return_exceptions=True,
    )

    assert isinstance(results[1], TypeError)
    assert [rv(r) for r in (results[0], results[2])] == ["1", "2"]  # type: ignore[arg-type]


async def test_reopening_continues_from_the_last_revision(tmp_path: Path):
    async with await Store.open(tmp_path, options=NO_AUTO_COMPACTION) as first:
        await first.create(cert_key("a"), make_cert("a"))
        await first.create(cert_key("b"), make_cert("b"))
        await first.delete(cert_key("b"))

    async with await Store.open(tmp_path, options=NO_AUTO_COMPACTION) as second:
        assert second.current_revision() == 3
        assert rv(await second.get(cert_key("a"))) == "1"
        assert rv(await second.create(cert_key("c"), make_cert("c"))) == "4"


async def test_revision_survives_compaction_of_the_newest_tombstone(tmp_path: Path):
    async with await Store.open(tmp_path, options=NO_AUTO_COMPACTION) as first:
        await first.create(cert_key("a"), make_cert("a"))
        await first.delete(cert_key("a"))
        await first.compact(2)

    async with await Store.open(tmp_path, options=NO_AUTO_COMPACTION) as second:
        assert second.current_revision() == 2
        assert rv(await second.create(cert_key("a"), make_cert("a"))) == "3"


async def test_files_are_private_to_the_owner(store: Store, tmp_path: Path):
    await store.create(cert_key(), make_cert())

    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


async def test_a_second_store_on_the_same_directory_is_refused(store: Store, tmp_path: Path):
    with pytest.raises(StoreLockedError):
        await Store.open(tmp_path / "data")


async def test_calls_after_close_raise_store_closed(tmp_path: Path):
    store = await Store.open(tmp_path, options=NO_AUTO_COMPACTION)
    await store.close()
    await store.close()

    with pytest.raises(StoreClosedError):
        await store.get(cert_key())
    with pytest.raises(StoreClosedError):
        await store.create(cert_key(), make_cert())
    with pytest.raises(StoreClosedError):
        await store.list(certs())


async def test_close_releases_the_directory_for_a_new_store(tmp_path: Path):
    first = await Store.open(tmp_path, options=NO_AUTO_COMPACTION)
    await first.close()

    second = await Store.open(tmp_path, options=NO_AUTO_COMPACTION)
    await second.close()


async def test_default_options_start_and_stop_the_background_compactor(tmp_path: Path):
    async with await Store.open(tmp_path) as store:
        assert rv(await store.create(cert_key(), make_cert())) == "1"
    assert os.listdir(tmp_path)
