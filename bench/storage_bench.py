"""Object store throughput: create (concurrent and sequential), get, list of 10k, watch fan-out.

Run: ``.venv/bin/python bench/storage_bench.py [--objects 10000] [--watchers 10]``.
Figures depend on the disk's fsync latency (synchronous=FULL is the default).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from certsmith.apiserver.storage import (
    CompactionPolicy,
    ObjectKey,
    ResourcePrefix,
    Store,
    StoreOptions,
)

PREFIX = ResourcePrefix("cert-manager.io", "certificates")


def make(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "bench", "tier": "web"},
            "annotations": {"note": "x" * 200},
        },
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.example.com", f"www.{name}.example.com"],
            "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Ready",
                    "message": "Certificate is up to date and has not expired",
                    "lastTransitionTime": "2030-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
            ],
            "notAfter": "2030-04-01T00:00:00Z",
            "revision": 1,
        },
    }


def key(i: int) -> ObjectKey:
    return ObjectKey("cert-manager.io", "certificates", f"ns{i % 10}", f"cert-{i:06}")


def rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<44} {count:>7} in {seconds * 1000:8.1f} ms = {count / seconds:>10,.0f}/s")


async def main(objects: int, watchers: int, concurrency: int) -> None:
    options = StoreOptions(compaction=CompactionPolicy(enabled=False))
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp), options=options)
        try:
            sem = asyncio.Semaphore(concurrency)

            async def create(i: int) -> None:
                async with sem:
                    await store.create(key(i), make(key(i).name, key(i).namespace))

            t = time.perf_counter()
            await asyncio.gather(*(create(i) for i in range(objects)))
            rate(
                f"create, {concurrency} concurrent (group commit)", objects, time.perf_counter() - t
            )
            print(f"{'':<44} {store.write_transactions()} transactions for {objects} writes")

            n = 500
            t = time.perf_counter()
            for i in range(objects, objects + n):
                await store.create(key(i), make(key(i).name, key(i).namespace))
            rate("create, one at a time (fsync each)", n, time.perf_counter() - t)

            n = 5_000
            t = time.perf_counter()
            for i in range(n):
                await store.get(key(i))
            rate("get, one at a time", n, time.perf_counter() - t)

            t = time.perf_counter()
            await asyncio.gather(*(store.get(key(i)) for i in range(n)))
            rate("get, all concurrent", n, time.perf_counter() - t)

            for _ in range(3):
                t = time.perf_counter()
                page = await store.list(PREFIX)
                rate(
                    f"list of {len(page.items)} (one call), per object",
                    len(page.items),
                    time.perf_counter() - t,
                )

            t = time.perf_counter()
            token, total = None, 0
            while True:
                page = await store.list(PREFIX, limit=500, continue_token=token)
                total += len(page.items)
                token = page.continue_token
                if token is None:
                    break
            rate("list in pages of 500, per object", total, time.perf_counter() - t)

            watches = [await store.watch(PREFIX) for _ in range(watchers)]
            updates = 2_000

            async def drain(watch: Any) -> None:
                for _ in range(updates):
                    event = await anext(watch)
                    _ = event.json_line  # what the HTTP layer writes

            drains = [asyncio.create_task(drain(w)) for w in watches]

            async def update(i: int) -> None:
                async with sem:
                    obj = make(key(i).name, key(i).namespace)
                    obj["spec"]["secretName"] = "changed"
                    await store.update(key(i), obj)

            t = time.perf_counter()
            await asyncio.gather(*(update(i) for i in range(updates)))
            await asyncio.gather(*drains)
            seconds = time.perf_counter() - t
            rate(f"update + deliver to {watchers} watchers, events", updates * watchers, seconds)
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.watchers, args.concurrency))
