"""The Certificate pipeline against the real server, through ``build_manager`` (SPEC §5.4, §12).

The test applies objects as a user would and waits for the controllers: key manager, request
manager and issuing (and trigger/readiness/revision manager where they run) over the real
HTTPS API server backed by SQLite, with the CA issuer signing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith.api.meta import decode_bytes
from certsmith.client.errors import NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    EVENTS,
    ISSUERS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.runtime.manager import Manager
from certsmith.controllers.setup import ControllerOptions, build_manager
from certsmith.pki.keys import parse_private_key_pem
from certsmith.util.clock import FakeClock
from tests.builders import make_ca_secret, make_certificate, make_issuer, private_key_pem
from tests.fakes import FakeSleeper
from tests.pkitools import make_root, openssl, pem
from tests.servertools import eventually_async, running_server

NS = "ns"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[HttpKubeClient]:
    async with running_server(tmp_path / "data") as server:
        raw = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            for name in (NS, "cert-manager"):
                await raw.create(NAMESPACES, None, {"metadata": {"name": name}})
            yield raw
        finally:
            await raw.aclose()


@contextlib.asynccontextmanager
async def running(manager: Manager) -> AsyncIterator[Manager]:
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(manager.wait_started(), 10)
        yield manager
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


async def seed_ca_issuer(client: HttpKubeClient) -> x509.Certificate:
    root, root_key = make_root("certificates root")
    secret = make_ca_secret(namespace=NS, chain_pem=pem(root), key_pem=private_key_pem(root_key))
    await client.create(SECRETS, NS, secret.to_dict())
    await client.create(ISSUERS, NS, make_issuer("ca", namespace=NS).to_dict())
    return root


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return dict(cond)
    return None


async def force_issuing(client: HttpKubeClient, name: str) -> None:
    """What the trigger (or ``cmctl renew``) does: set Issuing=True on the Certificate."""
    current = await client.get(CERTIFICATES, NS, name)
    status = current.get("status") or {}
    status["conditions"] = [c for c in status.get("conditions") or [] if c["type"] != "Issuing"] + [
        {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance manually triggered",
            "lastTransitionTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ]
    current["status"] = status
    await client.replace_status(CERTIFICATES, NS, name, current)


async def secret_or_none(client: HttpKubeClient, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(SECRETS, NS, name)
    except NotFound:
        return None


async def wait_issued(client: HttpKubeClient, name: str, revision: int) -> dict[str, Any]:
    async def done() -> bool:
        cert = await client.get(CERTIFICATES, NS, name)
        status = cert.get("status") or {}
        return (
            status.get("revision") == revision
            and condition(cert, "Issuing") is None
            and not status.get("nextPrivateKeySecretName")
        )

    await eventually_async(done, timeout=30)
    return await client.get(CERTIFICATES, NS, name)


async def test_issuing_certificate_gets_request_secret_and_revision_1(
    client: HttpKubeClient, tmp_path: Path
) -> None:
    """SPEC §12 behaviour 18: the whole pipeline from a new Certificate to Ready."""
    await seed_ca_issuer(client)
    async with running(build_manager(client, options=ControllerOptions(workers=2))):
        created = await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        cert = await wait_issued(client, "web", 1)

        async def ready() -> bool:
            obj = await client.get(CERTIFICATES, NS, "web")
            cond = condition(obj, "Ready") or {}
            return (cond.get("status"), cond.get("reason"), cond.get("message")) == (
                "True",
                "Ready",
                "Certificate is up to date and has not expired",
            )

        await eventually_async(ready, timeout=20)

        # The temporary key Secret is gone once issuance finished (key manager cleanup).
        async def no_key_secrets() -> bool:
            secrets = (await client.list(SECRETS, NS)).items
            labelled = [
                s
                for s in secrets
                if (s["metadata"].get("labels") or {}).get("cert-manager.io/next-private-key")
            ]
            return not labelled

        await eventually_async(no_key_secrets, timeout=20)

    cert = await client.get(CERTIFICATES, NS, "web")
    status = cert["status"]
    assert status["revision"] == 1
    assert "nextPrivateKeySecretName" not in status
    assert condition(cert, "Issuing") is None
    leaf_times = {status["notBefore"], status["notAfter"], status["renewalTime"]}
    assert len(leaf_times) == 3
    assert (cert["status"] or {}).get("failedIssuanceAttempts") is None
    assert (cert["status"] or {}).get("lastFailureTime") is None

    request = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
    annotations = request["metadata"]["annotations"]
    assert annotations["cert-manager.io/certificate-revision"] == "1"
    assert annotations["cert-manager.io/certificate-name"] == "web"
    assert annotations["cert-manager.io/private-key-secret-name"].startswith("web-")
    owner = request["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"], o["uid"], o.get("controller")) for o in owner] == [
        ("Certificate", "web", created["metadata"]["uid"], True)
    ]
    assert request["spec"]["issuerRef"] == {"name": "ca"}

    secret = await client.get(SECRETS, NS, "web-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {"controller.cert-manager.io/fao": "true"}
    assert secret["metadata"]["annotations"] == {
        "cert-manager.io/certificate-name": "web",
        "cert-manager.io/issuer-name": "ca",
        "cert-manager.io/issuer-kind": "",
        "cert-manager.io/issuer-group": "",
        "cert-manager.io/common-name": "",
        "cert-manager.io/alt-names": "web.example.com",
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/uri-sans": "",
    }
    data = {k: decode_bytes(v) for k, v in secret["data"].items()}
    assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
    assert data["tls.key"].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    key = parse_private_key_pem(data["tls.key"])
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    leaf = x509.load_pem_x509_certificate(data["tls.crt"])
    assert leaf.public_key() == key.public_key()

    (tmp_path / "tls.crt").write_bytes(data["tls.crt"])
    (tmp_path / "ca.crt").write_bytes(data["ca.crt"])
    result = openssl("verify", "-CAfile", tmp_path / "ca.crt", tmp_path / "tls.crt")
    assert result.returncode == 0, result.stderr

    events = (await client.list(EVENTS, NS)).items
    reasons = {e["reason"] for e in events if e["involvedObject"]["kind"] == "Certificate"}
    assert {"Generated", "Requested", "Issuing"} <= reasons


async def test_renewal_time_passing_issues_revision_2_with_a_new_key_and_keeps_one_request(
    client: HttpKubeClient,
) -> None:
    """SPEC §12 behaviour 20, with fake time: the trigger's timer fires at renewalTime."""
    await seed_ca_issuer(client)
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    sleeper = FakeSleeper(clock)
    options = ControllerOptions(workers=2, clock=clock, sleep=sleeper)

    async def tick_until(probe: Any) -> None:
        # Work-queue retries (409s) wait on the fake clock too: keep it moving a second a time.
        async def moved() -> bool:
            if await probe():
                return True
            await sleeper.advance(1)
            return False

        await eventually_async(moved, timeout=30)

    async with running(build_manager(client, options=options)):
        await client.create(CERTIFICATES, NS, make_certificate("web", duration="1h").to_dict())

        async def at_revision(revision: int) -> bool:
            cert = await client.get(CERTIFICATES, NS, "web")
            status = cert.get("status") or {}
            ready = condition(cert, "Ready") or {}
            return (
                status.get("revision") == revision
                and ready.get("status") == "True"
                and bool(status.get("renewalTime"))
            )

        await tick_until(lambda: at_revision(1))
        first = await client.get(SECRETS, NS, "web-tls")
        cert = await client.get(CERTIFICATES, NS, "web")
        renewal = dt.datetime.fromisoformat(cert["status"]["renewalTime"].replace("Z", "+00:00"))
        not_after = dt.datetime.fromisoformat(cert["status"]["notAfter"].replace("Z", "+00:00"))
        assert not_after - renewal == dt.timedelta(minutes=20)

        await sleeper.advance((renewal - clock.now()).total_seconds() + 1)
        await tick_until(lambda: at_revision(2))

        async def only_newest_request() -> bool:
            items = (await client.list(CERTIFICATE_REQUESTS, NS)).items
            return [r["metadata"]["name"] for r in items] == ["web-2"]

        await tick_until(only_newest_request)

    second = await client.get(SECRETS, NS, "web-tls")
    assert second["data"]["tls.key"] != first["data"]["tls.key"]
    assert second["data"]["tls.crt"] != first["data"]["tls.crt"]
