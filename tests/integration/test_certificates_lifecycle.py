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
from typing import Any, ClassVar

import pytest
from cryptography import x509

from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import EventReason
from certsmith.api.meta import decode_bytes
from certsmith.client.errors import Conflict, NotFound
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    EVENTS,
    NAMESPACES,
    SECRETS,
)
from certsmith.controllers.setup import ControllerOptions, build_manager
from certsmith.issuers.base import Issued, IssuerContext, IssuerReady, SignFailed, SignPending
from certsmith.issuers.ca import CAIssuer
from certsmith.issuers.registry import build
from certsmith.issuers.selfsigned import SelfSignedIssuer
from certsmith.pki.keys import parse_private_key_pem
from certsmith.util.clock import FakeClock
from tests.builders import make_certificate, private_key_pem
from tests.fakes import FakeSleeper
from tests.integration.test_certificates_issuance import (
    NS,
    condition,
    running,
    seed_ca_issuer,
)
from tests.pkitools import make_root
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
    """What ``kubectl edit`` does; the controllers write the status meanwhile, so retry 409s."""
    for _ in range(20):
        cert = await client.get(CERTIFICATES, NS, name)
        cert["spec"].update(changes)
        try:
            await client.replace(CERTIFICATES, NS, name, cert)
        except Conflict:
            continue
        return
    raise AssertionError("the Certificate kept changing")


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
        for _ in range(5):  # the repaired Secret passes the checks: no apply loop
            await h.sleeper.advance(1)
        steady = await client.get(SECRETS, NS, "web-tls")
        assert steady["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
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


# -- behaviour 23 --------------------------------------------------------------------------------


class FlakyCA(CAIssuer):
    """The CA issuer, except that signing fails (``SignFailed``) while ``failing`` is set."""

    spec_key: ClassVar[str] = "ca"

    def __init__(self) -> None:
        self.failing = True

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        return await super().check(issuer, ctx)

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        if self.failing:
            raise SignFailed(EventReason.SIGNING_ERROR, FAILURE_MESSAGE)
        return await super().sign(request, issuer, ctx)


class PendingCA(CAIssuer):
    """The CA issuer, except that signing stays pending."""

    spec_key: ClassVar[str] = "ca"

    async def sign(
        self, request: CertificateRequest, issuer: AnyIssuer, ctx: IssuerContext
    ) -> Issued:
        raise SignPending(EventReason.SIGNING_ERROR, "not yet")


def failed_with_attempts(client: HttpKubeClient, attempts: int) -> Probe:
    async def probe() -> bool:
        cert = await client.get(CERTIFICATES, NS, "web")
        issuing = condition(cert, "Issuing") or {}
        return (
            issuing.get("status") == "False"
            and (cert.get("status") or {}).get("failedIssuanceAttempts") == attempts
        )

    return probe


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_failed_issuance_backs_off_1h_then_recreates_the_same_request_and_success_clears(
    client: HttpKubeClient,
) -> None:
    """SPEC §12 behaviour 23 on the fake clock, and the ``RetryScheduled`` event."""
    await seed_ca_issuer(client)
    h = Harness()
    flaky = FlakyCA()
    issuers = {**build([SelfSignedIssuer]), "ca": flaky}
    async with running(build_manager(client, options=h.options(issuers=issuers))):
        await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        await h.tick_until(failed_with_attempts(client, 1))
        request = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
        ready = condition(request, "Ready") or {}
        assert ready.get("reason") == "Failed"
        cert = await client.get(CERTIFICATES, NS, "web")
        issuing = condition(cert, "Issuing") or {}
        assert issuing["reason"] == "Failed"
        assert issuing["message"] == (
            "The certificate request has failed to complete and will be retried: "
            + ready["message"]
        )
        assert FAILURE_MESSAGE in issuing["message"]
        failed_at = parse_time(cert["status"]["lastFailureTime"])
        retry_at = (failed_at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        scheduled = (
            "Normal",
            "RetryScheduled",
            f"The next issuance attempt is at {retry_at} (after a backoff of 1h0m0s)",
        )

        async def announced() -> bool:  # Events follow the status write
            return scheduled in await certificate_events(client)

        await eventually_async(announced, timeout=10)

        # 59 minutes later nothing has been retried: the same failed request, no new one.
        await h.sleeper.advance((failed_at + dt.timedelta(minutes=59) - h.clock.now()).seconds)
        for _ in range(5):
            await h.sleeper.advance(1)
        assert await request_names(client) == ["web-1"]
        again = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
        assert again["metadata"]["uid"] == request["metadata"]["uid"]
        assert (await client.get(CERTIFICATES, NS, "web"))["status"]["failedIssuanceAttempts"] == 1

        # After the hour: the failed request is replaced by a new one of the same name.
        flaky.failing = False
        await h.sleeper.advance((failed_at + dt.timedelta(hours=1) - h.clock.now()).seconds + 1)
        await h.tick_until(at_revision(client, 1))
        replaced = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
        assert replaced["metadata"]["uid"] != request["metadata"]["uid"]
        status = (await client.get(CERTIFICATES, NS, "web"))["status"]
        assert "failedIssuanceAttempts" not in status
        assert "lastFailureTime" not in status


async def test_editing_the_spec_during_backoff_retries_at_once(client: HttpKubeClient) -> None:
    """SPEC §12 behaviour 23: an edited spec is a new attempt, not a retry."""
    await seed_ca_issuer(client)
    h = Harness()
    issuers = {**build([SelfSignedIssuer]), "ca": FlakyCA()}
    async with running(build_manager(client, options=h.options(issuers=issuers))):
        await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        await h.tick_until(failed_with_attempts(client, 1))
        first = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
        started = h.clock.now()
        await edit_spec(client, "web", dnsNames=["changed.example.com"])
        await h.tick_until(failed_with_attempts(client, 2))
        assert h.clock.now() - started < dt.timedelta(minutes=10)
        second = await client.get(CERTIFICATE_REQUESTS, NS, "web-1")
        assert second["metadata"]["uid"] != first["metadata"]["uid"]

        async def announced() -> bool:
            return any(
                m.startswith("The next issuance attempt is at ")
                and m.endswith("backoff of 2h0m0s)")
                for _, reason, m in await certificate_events(client)
                if reason == "RetryScheduled"
            )

        await eventually_async(announced, timeout=10)


async def test_tunable_backoff_retries_after_the_minimum(client: HttpKubeClient) -> None:
    """``certificate_request_minimum_backoff`` (``--certificate-request-minimum-...``)."""
    await seed_ca_issuer(client)
    h = Harness()
    flaky = FlakyCA()
    issuers = {**build([SelfSignedIssuer]), "ca": flaky}
    options = h.options(
        issuers=issuers,
        certificate_request_minimum_backoff=dt.timedelta(minutes=5),
        certificate_request_maximum_backoff=dt.timedelta(minutes=5),
    )
    async with running(build_manager(client, options=options)):
        await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        await h.tick_until(failed_with_attempts(client, 1))
        flaky.failing = False
        await h.sleeper.advance(5 * 60)
        await h.tick_until(at_revision(client, 1))


# -- behaviour 22 --------------------------------------------------------------------------------

TRIGGER_AND_READINESS = "certificates-trigger,certificates-readiness"


def condition_is(client: HttpKubeClient, ctype: str, status: str, reason: str) -> Probe:
    async def probe() -> bool:
        cond = condition(await client.get(CERTIFICATES, NS, "web"), ctype) or {}
        return (cond.get("status"), cond.get("reason")) == (status, reason)

    return probe


async def tamper_secret(client: HttpKubeClient, change: Callable[[dict[str, Any]], None]) -> None:
    for _ in range(20):
        secret = await client.get(SECRETS, NS, "web-tls")
        change(secret)
        try:
            await client.replace(SECRETS, NS, "web-tls", secret)
        except Conflict:
            continue
        return
    raise AssertionError("the Secret kept changing")


async def test_secret_tampering_is_detected_and_reissued(client: HttpKubeClient) -> None:
    """SPEC §12 behaviour 22: only trigger+readiness run while the reason is observed."""
    await seed_ca_issuer(client)
    h = Harness()
    async with running(build_manager(client, options=h.options())):
        await client.create(CERTIFICATES, NS, make_certificate("web").to_dict())
        await h.tick_until(at_revision(client, 1))

    # Deleted Secret: Ready=False/DoesNotExist and Issuing=True/DoesNotExist, then reissued.
    await client.delete(SECRETS, NS, "web-tls")
    async with running(build_manager(client, options=h.options(controllers=TRIGGER_AND_READINESS))):
        await h.tick_until(condition_is(client, "Ready", "False", "DoesNotExist"))
        await h.tick_until(condition_is(client, "Issuing", "True", "DoesNotExist"))
    cert = await client.get(CERTIFICATES, NS, "web")
    assert (condition(cert, "Ready") or {}).get("message") == (
        "Issuing certificate as Secret does not exist"
    )
    assert (condition(cert, "Issuing") or {}).get("message") == (
        "Issuing certificate as Secret does not exist"
    )
    async with running(build_manager(client, options=h.options())):
        await h.tick_until(at_revision(client, 2))

    # tls.key replaced by another key: InvalidKeyPair.
    other_key = base64.b64encode(private_key_pem(make_root("other")[1])).decode()

    def replace_key(secret: dict[str, Any]) -> None:
        secret["data"]["tls.key"] = other_key

    await tamper_secret(client, replace_key)
    async with running(build_manager(client, options=h.options(controllers=TRIGGER_AND_READINESS))):
        await h.tick_until(condition_is(client, "Issuing", "True", "InvalidKeyPair"))
    async with running(build_manager(client, options=h.options())):
        await h.tick_until(at_revision(client, 3))

    # Issuer annotation naming another issuer: IncorrectIssuer.
    def other_issuer(secret: dict[str, Any]) -> None:
        secret["metadata"]["annotations"]["cert-manager.io/issuer-name"] = "other"

    await tamper_secret(client, other_issuer)
    async with running(build_manager(client, options=h.options(controllers=TRIGGER_AND_READINESS))):
        await h.tick_until(condition_is(client, "Issuing", "True", "IncorrectIssuer"))
    cert = await client.get(CERTIFICATES, NS, "web")
    assert (condition(cert, "Issuing") or {}).get("message") == (
        'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/other"'
    )
    async with running(build_manager(client, options=h.options())):
        await h.tick_until(at_revision(client, 4))
    secret = await client.get(SECRETS, NS, "web-tls")
    assert secret["metadata"]["annotations"]["cert-manager.io/issuer-name"] == "ca"


# -- temporary certificate -----------------------------------------------------------------------


async def test_temporary_certificate_is_written_while_the_request_is_pending(
    client: HttpKubeClient,
) -> None:
    """SPEC §5.4 issuing step 5: the annotation asks for a temporary certificate."""
    await seed_ca_issuer(client)
    h = Harness()
    issuers = {**build([SelfSignedIssuer]), "ca": PendingCA()}
    async with running(build_manager(client, options=h.options(issuers=issuers))):
        cert = make_certificate("web").to_dict()
        cert["metadata"]["annotations"] = {"cert-manager.io/issue-temporary-certificate": "true"}
        await client.create(CERTIFICATES, NS, cert)

        async def temporary() -> bool:
            try:
                secret = await client.get(SECRETS, NS, "web-tls")
            except NotFound:
                return False
            return "tls.crt" in (secret.get("data") or {})

        await h.tick_until(temporary)
        secret = await client.get(SECRETS, NS, "web-tls")
        leaf = x509.load_pem_x509_certificate(decode_bytes(secret["data"]["tls.crt"]))
        assert leaf.issuer.rfc4514_string() == "CN=cert-manager.local"
        key = parse_private_key_pem(decode_bytes(secret["data"]["tls.key"]))
        assert leaf.public_key() == key.public_key()
        assert secret["metadata"]["annotations"] == {"cert-manager.io/certificate-name": "web"}

        async def announced() -> bool:
            return ("Normal", "Issuing", "Issued temporary certificate") in (
                await certificate_events(client)
            )

        await eventually_async(announced, timeout=10)
