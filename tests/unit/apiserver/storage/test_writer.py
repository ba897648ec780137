from __future__ import annotations

import asyncio

from certsmith.apiserver.storage import Store
from tests.unit.apiserver.storage.builders import cert_key, make_cert, rv


async def test_concurrent_writes_share_transactions(store: Store):
    results = await asyncio.gather(
        *(store.create(cert_key(f"o{i}"), make_cert(f"o{i}")) for i in range(200))
    )

    assert sorted(int(rv(r)) for r in results) == list(range(1, 201))
    assert store.write_transactions() < 200


async def test_writes_to_one_key_in_one_batch_apply_in_submission_order(store: Store):
    await store.create(cert_key(), make_cert())

    results = await asyncio.gather(
        *(store.update(cert_key(), make_cert(secret=f"v{i}")) for i in range(20))
    )

    assert [r["spec"]["secretName"] for r in results] == [f"v{i}" for i in range(20)]
    assert [rv(r) for r in results] == [str(i) for i in range(2, 22)]
    assert (await store.get(cert_key()))["spec"]["secretName"] == "v19"


async def test_conflicting_writes_in_one_batch_let_exactly_one_win(store: Store):
    created = await store.create(cert_key(), make_cert())

    results = await asyncio.gather(
        *(
            store.update(cert_key(), make_cert(secret=f"v{i}"), expected_rv=rv(created))
            for i in range(10)
        ),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1
    assert store.current_revision() == 2
