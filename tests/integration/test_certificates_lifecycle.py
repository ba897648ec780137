"""Certificate changes after issuance, against the real server with a fake clock (SPEC §12).

Behaviours 21 (spec change reissues; ``secretTemplate`` repaired in place), 22 (Secret tampering
reissues), 23 (failure backoff on the fake clock) and keystores written with the Secret and read
back with ``keytool``.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith.api.meta import decode_bytes
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    EVENTS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.setup import ControllerOptions, build_manager
from certsmith.util.clock import FakeClock
from tests.builders import make_certificate
from tests.fakes import FakeSleeper
from tests.integration.test_certificates_issuance import (
    NS,
    condition,
    running,
    seed_ca_issuer,
)
from tests.servertools import eventually_async, running_server

Probe = Callable[[], Awaitable[bool]]
FAILURE_MESSAGE = "the signer refuses"


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


class Harness:
    """A fake clock the controllers run on, and probes that move it a second at a time."""

    def __init__(self) -> None:
        self.clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        self.sleeper = FakeSleeper(self.clock)

    def options(self, **extra: Any) -> ControllerOptions:
        return ControllerOptions(workers=2, clock=self.clock, sleep=self.sleeper, **extra)

    async def tick_until(self, probe: Probe, *, limit: float = 30) -> None:
        async def moved() -> bool:
            if await probe():
                return True
            await self.sleeper.advance(1)
            return False

        await eventually_async(moved, timeout=limit)


def at_revision(client: HttpKubeClient, revision: int, name: str = "web") -> Probe:
    async def probe() -> bool:
        cert = await client.get(CERTIFICATES, NS, name)
        ready = condition(cert, "Ready") or {}
        return (cert.get("status") or {}).get("revision") == revision and ready.get(
            "status"
        ) == "True"

    return probe


async def request_names(client: HttpKubeClient) -> list[str]:
    return sorted(
        r["metadata"]["name"] for r in (await client.list(CERTIFICATE_REQUESTS, NS)).items
    )


async def edit_spec(client: HttpKubeClient, name: str, **changes: Any) -> None:
    cert = await client.get(CERTIFICATES, NS, name)
    cert["spec"].update(changes)
    await client.replace(CERTIFICATES, NS, name, cert)


async def certificate_events(client: HttpKubeClient) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["reason"], e["message"])
        for e in (await client.list(EVENTS, NS)).items
        if e["involvedObject"]["kind"] == "Certificate"
    ]


# -- behaviour 21 --------------------------------------------------------------------------------


async def test_dns_names_change_reissues_revision_2_and_template_change_repairs_in_place(
    client: HttpKubeClient,
) -> None:
    """SPEC §12 behaviour 21."""
    await seed_ca_issuer(client)
    h = Harness()
    async with running(build_manager(client, options=h.options())):
        await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        await h.tick_until(at_revision(client, 1))

        await edit_spec(client, "web", dnsNames=["web.example.com", "www.example.com"])
        await h.tick_until(at_revision(client, 2))
        events = await certificate_events(client)
        assert (
            "Normal",
            "Issuing",
            "Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]",
        ) in events
        secret = await client.get(SECRETS, NS, "web-tls")
        assert (
            secret["metadata"]["annotations"]["cert-manager.io/alt-names"]
            == "web.example.com,www.example.com"
        )

        async def only_web_2() -> bool:
            return await request_names(client) == ["web-2"]

        await h.tick_until(only_web_2)
        before = await client.get(SECRETS, NS, "web-tls")

        await edit_spec(
            client, "web", secretTemplate={"labels": {"team": "a"}, "annotations": {"x": "1"}}
        )

        async def labelled() -> bool:
            secret = await client.get(SECRETS, NS, "web-tls")
            meta = secret["metadata"]
            return (meta.get("labels") or {}).get("team") == "a" and (
                meta.get("annotations") or {}
            ).get("x") == "1"

        await h.tick_until(labelled)
        await edit_spec(client, "web", secretTemplate={"labels": {"team": "b"}})

        async def relabelled() -> bool:
            secret = await client.get(SECRETS, NS, "web-tls")
            meta = secret["metadata"]
            return (meta.get("labels") or {}).get("team") == "b" and "x" not in (
                meta.get("annotations") or {}
            )

        await h.tick_until(relabelled)
        after = await client.get(SECRETS, NS, "web-tls")
        assert after["data"] == before["data"]
        assert await request_names(client) == ["web-2"]
        cert = await client.get(CERTIFICATES, NS, "web")
        assert cert["status"]["revision"] == 2
        assert condition(cert, "Issuing") is None


def keytool_list(path: Path, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "keytool",
            "-list",
            "-storetype",
            "PKCS12",
            "-keystore",
            str(path),
            "-storepass",
            password,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


# -- keystores -----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("keytool") is None, reason="needs keytool")
async def test_pkcs12_keystore_with_password_secret_is_readable_by_keytool(
    client: HttpKubeClient, tmp_path: Path
) -> None:
    await seed_ca_issuer(client)
    password = "s3cret-store"
    await client.create(
        SECRETS,
        NS,
        {
            "metadata": {"name": "p12-pass"},
            "data": {"password": base64.b64encode(password.encode()).decode()},
        },
    )
    h = Harness()
    keystores = {
        "pkcs12": {"create": True, "passwordSecretRef": {"name": "p12-pass", "key": "password"}}
    }
    async with running(build_manager(client, options=h.options())):
        await client.create(
            CERTIFICATES, NS, make_certificate("web", keystores=keystores).to_dict()
        )
        await h.tick_until(at_revision(client, 1))
    secret = await client.get(SECRETS, NS, "web-tls")
    data = {k: decode_bytes(v) for k, v in secret["data"].items()}
    assert {"keystore.p12", "truststore.p12", "tls.key", "tls.crt", "ca.crt"} <= set(data)
    for name in ("keystore.p12", "truststore.p12"):
        (tmp_path / name).write_bytes(data[name])
        listed = keytool_list(tmp_path / name, password)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "1 entr" in listed.stdout or "Your keystore contains 1" in listed.stdout


async def test_missing_keystore_password_secret_is_a_warning_and_the_rest_is_written(
    client: HttpKubeClient,
) -> None:
    await seed_ca_issuer(client)
    h = Harness()
    keystores = {"jks": {"create": True, "passwordSecretRef": {"name": "absent", "key": "pw"}}}
    async with running(build_manager(client, options=h.options())):
        await client.create(
            CERTIFICATES, NS, make_certificate("web", keystores=keystores).to_dict()
        )
        await h.tick_until(at_revision(client, 1))
        secret = await client.get(SECRETS, NS, "web-tls")
        assert "keystore.jks" not in secret["data"]
        assert {"tls.key", "tls.crt"} <= set(secret["data"])
        events = await certificate_events(client)
        assert any(
            (kind, reason) == ("Warning", "KeystorePasswordSecretNotFound")
            for kind, reason, _ in events
        )
