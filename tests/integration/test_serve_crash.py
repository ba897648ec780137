"""A real ``certsmith serve`` is killed with SIGKILL while clients create objects over HTTPS.

Every create the server acknowledged with a 201 must be there after a restart on the same data
dir, and the next write must get a resourceVersion above every one a client ever saw. The kill
comes right after a seeded random number of acknowledgements (the seed is in every assertion
message), so the moment varies from run to run without any timing in the assertions. The
controllers are off: the clients are the only writers, so what they saw is all there is.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith.api.meta import encode_bytes
from tests.builders import make_csr_pem
from tests.servertools import ClientCredentials, credentials, serve_subprocess

WORKERS = 8
ROUNDS = 3
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
CRS = "/apis/cert-manager.io/v1/namespaces/default/certificaterequests"
SERVE_ARGS = ("--controllers=none",)
KILL_DEADLINE = 120.0
"""Seconds the writers may take to reach the kill point before the round counts as hung."""


@dataclass
class Acknowledged:
    """Every create a client saw acknowledged: ``(path, name) -> resourceVersion``."""

    objects: dict[tuple[str, str], int] = field(default_factory=dict)

    def highest_rv(self) -> int:
        return max(self.objects.values(), default=0)


@dataclass(frozen=True)
class Restart:
    """What one restart found, against what had been acknowledged before it."""

    why: str
    acknowledged: dict[tuple[str, str], int]
    stored: dict[tuple[str, str], int]
    probe_rv: int
    exit_code: int | None


@dataclass
class CrashRun:
    """All restarts of one run (seeded)."""

    seed: int
    restarts: list[Restart] = field(default_factory=list)


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"n": name},
    }


def certificate_request(name: str, request: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {
            "request": request,
            "usages": ["digital signature", "server auth"],
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def client_for(creds: ClientCredentials) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=creds.server,
        verify=creds.ssl_context(),
        limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS),
        timeout=30,
    )


async def write_until_killed(
    client: httpx.AsyncClient,
    process: subprocess.Popen[bytes],
    round_: int,
    kill_after: int,
    acked: Acknowledged,
) -> None:
    """Create objects from :data:`WORKERS` tasks; SIGKILL the server at ack ``kill_after``."""
    request = encode_bytes(make_csr_pem())
    count = 0

    async def worker(task: int) -> None:
        nonlocal count
        i = 0
        while True:
            name = f"r{round_}-w{task}-{i}"
            path, body = (
                (CRS, certificate_request(name, request))
                if i % 2
                else (CONFIGMAPS, configmap(name))
            )
            try:
                response = await client.post(path, json=body)
            except httpx.TransportError:
                return  # the server is gone: this create's outcome is unknown, so not recorded
            assert response.status_code == 201, response.text
            acked.objects[path, name] = int(response.json()["metadata"]["resourceVersion"])
            count += 1
            if count == kill_after:
                os.kill(process.pid, signal.SIGKILL)
            i += 1

    async with asyncio.timeout(KILL_DEADLINE):
        await asyncio.gather(*(worker(t) for t in range(WORKERS)))


async def stored_objects(client: httpx.AsyncClient) -> dict[tuple[str, str], int]:
    """``(path, name) -> resourceVersion`` of every ConfigMap and CertificateRequest in default."""
    found: dict[tuple[str, str], int] = {}
    for path in (CONFIGMAPS, CRS):
        response = await client.get(path)
        assert response.status_code == 200, response.text
        for item in response.json()["items"]:
            found[path, item["metadata"]["name"]] = int(item["metadata"]["resourceVersion"])
    return found


async def crash_rounds(tmp_path: Path, seed: int) -> CrashRun:
    """Write and SIGKILL :data:`ROUNDS` times, then restart once more; record each restart."""
    rnd = random.Random(seed)
    data_dir = tmp_path / "data"
    run = CrashRun(seed)
    acked = Acknowledged()
    exit_code: int | None = None
    for round_ in range(ROUNDS + 1):
        why = f"seed {seed}, restart {round_}"
        # A killed server's kubeconfig would pass for the restarted server's: wait for a new one.
        (data_dir / "kubeconfig").unlink(missing_ok=True)
        with serve_subprocess(data_dir, extra_args=SERVE_ARGS) as served:
            async with client_for(credentials(served.kubeconfig, tmp_path / f"c{round_}")) as c:
                if round_ > 0:
                    before = dict(acked.objects)
                    stored = await stored_objects(c)
                    probe = await c.post(CONFIGMAPS, json=configmap(f"probe-{round_}"))
                    assert probe.status_code == 201, f"{why}: {probe.text}"
                    probe_rv = int(probe.json()["metadata"]["resourceVersion"])
                    acked.objects[CONFIGMAPS, f"probe-{round_}"] = probe_rv
                    run.restarts.append(Restart(why, before, stored, probe_rv, exit_code))
                if round_ == ROUNDS:
                    break
                kill_after = rnd.randint(20, 400)
                await write_until_killed(c, served.process, round_, kill_after, acked)
            exit_code = await asyncio.to_thread(served.process.wait, 30)
    return run


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> CrashRun:
    seed = random.randrange(1 << 30)
    return asyncio.run(crash_rounds(tmp_path_factory.mktemp("serve-crash"), seed))


def test_each_round_ended_with_the_server_killed(crash_run: CrashRun) -> None:
    assert len(crash_run.restarts) == ROUNDS, f"seed {crash_run.seed}"
    for restart in crash_run.restarts:
        assert restart.exit_code == -signal.SIGKILL, restart.why


def test_every_acknowledged_create_is_stored_after_each_restart(crash_run: CrashRun) -> None:
    for restart in crash_run.restarts:
        lost = [key for key, rv in restart.acknowledged.items() if restart.stored.get(key) != rv]
        assert not lost, f"{restart.why}: {len(lost)} lost or changed, e.g. {sorted(lost)[:5]}"


def test_the_first_write_after_a_restart_gets_a_higher_resource_version(
    crash_run: CrashRun,
) -> None:
    for restart in crash_run.restarts:
        assert restart.probe_rv > max(restart.acknowledged.values()), restart.why
