"""``/metrics`` of a real ``certsmith serve`` (and the controller's plain-HTTP endpoints).

One server with a CA-issued Certificate serves the module: the scrape is parsed with
``prometheus_client``'s parser and each cert-manager family is checked for its type, labels and
values against the objects the API returns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from certsmith.apiserver.server import ApiServer, mint_kubeconfig, write_kubeconfig
from certsmith.app import run_controller
from certsmith.client.errors import Conflict
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATES, CHALLENGES, CLUSTER_ISSUERS
from certsmith.util.metrics import Metrics, activated, observe_acme_request
from tests.integration.test_app import seed_ca_issuer, serving
from tests.servertools import admin_client, credentials, eventually_async, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

CERT_LABELS = ("name", "namespace", "issuer_name", "issuer_kind", "issuer_group")


class Scrape:
    """One ``/metrics`` body, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def type(self, family: str, /) -> str:
        return str(self.families[family].type)

    def values(self, family: str, /, **match: str) -> list[tuple[dict[str, str], float]]:
        """(labels, value) of the samples of ``family`` whose labels include ``match``."""
        return [
            (s.labels, s.value)
            for s in self.families[family].samples
            if all(s.labels.get(k) == v for k, v in match.items())
        ]

    def value(self, family: str, /, **match: str) -> float:
        found = self.values(family, **match)
        assert len(found) == 1, (family, match, found)
        return found[0][1]


def epoch(text: str) -> float:
    return float(int(dt.datetime.fromisoformat(text).timestamp()))


class Env:
    def __init__(
        self, server: ApiServer, admin: httpx.AsyncClient, tmp: Path, metrics: Metrics
    ) -> None:
        self.metrics = metrics
        self.server = server
        self.admin = admin
        self.tmp = tmp
        self.certificate: dict[str, Any] = {}

    async def scrape(self) -> Scrape:
        response = await self.admin.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return Scrape(response.text)

    def user(self, name: str, *groups: str) -> httpx.AsyncClient:
        assert self.server.pki is not None
        path = self.tmp / f"{name}.kubeconfig"
        write_kubeconfig(path, mint_kubeconfig(self.server.pki, self.server.url, name, groups))
        creds = credentials(path, self.tmp / name)
        return httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context())


def certificate_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web"},
        "spec": {
            "secretName": "web-tls",
            "dnsNames": ["web.example.com"],
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("metrics")
    metrics = Metrics()
    async with (
        serving(tmp, metrics=metrics) as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as client,
        admin_client(server, tmp / "admin") as admin,
    ):
        await seed_ca_issuer(client)
        await client.create(
            CLUSTER_ISSUERS,
            None,
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": "selfsigned"},
                "spec": {"selfSigned": {}},
            },
        )
        await client.create(CERTIFICATES, "default", certificate_manifest())
        result = Env(server, admin, tmp, metrics)

        async def certificate_ready() -> bool:
            result.certificate = await client.get(CERTIFICATES, "default", "web")
            return is_ready(result.certificate)

        await eventually_async(certificate_ready, timeout=60)
        yield result


async def settled_scrape(env: Env, check: Any) -> Scrape:
    """Scrape until ``check(scrape)`` passes: the informers' caches trail the API a little."""
    found: list[Scrape] = []

    async def probe() -> bool:
        scrape = await env.scrape()
        check(scrape)
        found.append(scrape)
        return True

    await eventually_async(probe, timeout=15)
    return found[-1]


async def test_certificate_ready_status_is_one_for_true_and_zero_otherwise(env):
    def check(scrape: Scrape) -> None:
        assert scrape.type("certmanager_certificate_ready_status") == "gauge"
        values = {
            labels["condition"]: value
            for labels, value in scrape.values("certmanager_certificate_ready_status", name="web")
        }
        assert values == {"True": 1.0, "False": 0.0, "Unknown": 0.0}

    scrape = await settled_scrape(env, check)
    labels, _ = scrape.values("certmanager_certificate_ready_status", name="web")[0]
    assert labels == {
        "name": "web", "namespace": "default", "condition": "True", "issuer_name": "ca-issuer",
        "issuer_kind": "Issuer", "issuer_group": "cert-manager.io",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("family", "field"),
    [
        ("certmanager_certificate_expiration_timestamp_seconds", "notAfter"),
        ("certmanager_certificate_not_after_timestamp_seconds", "notAfter"),
        ("certmanager_certificate_not_before_timestamp_seconds", "notBefore"),
        ("certmanager_certificate_renewal_timestamp_seconds", "renewalTime"),
    ],
)
async def test_certificate_timestamps_equal_its_status(env, family, field):
    want = epoch(env.certificate["status"][field])

    def check(scrape: Scrape) -> None:
        assert scrape.type(family) == "gauge"
        assert scrape.value(family, name="web") == want

    scrape = await settled_scrape(env, check)
    labels, _ = scrape.values(family, name="web")[0]
    assert tuple(labels) == CERT_LABELS


async def test_issuer_and_cluster_issuer_ready_status(env):
    def check(scrape: Scrape) -> None:
        issuer = {
            labels["condition"]: value
            for labels, value in scrape.values(
                "certmanager_issuer_ready_status", name="ca-issuer", namespace="default"
            )
        }
        cluster = {
            labels["condition"]: value
            for labels, value in scrape.values(
                "certmanager_clusterissuer_ready_status", name="selfsigned"
            )
        }
        assert issuer == {"True": 1.0, "False": 0.0, "Unknown": 0.0}
        assert cluster == {"True": 1.0, "False": 0.0, "Unknown": 0.0}

    scrape = await settled_scrape(env, check)
    assert scrape.type("certmanager_issuer_ready_status") == "gauge"
    assert scrape.type("certmanager_clusterissuer_ready_status") == "gauge"


@pytest.mark.parametrize(
    "controller", ["issuers", "clusterissuers", "certificates-trigger", "certificates-issuing"]
)
async def test_sync_calls_are_counted_per_controller(env, controller):
    calls = "certmanager_controller_sync_call_count"

    def check(scrape: Scrape) -> None:
        # Equal once no reconcile is in flight: each is counted first and timed when it ends.
        reconciles = scrape.values(
            "certsmith_controller_reconcile_duration_seconds", controller=controller
        )
        count = [value for labels, value in reconciles if "le" not in labels][-1]
        assert count == scrape.value(calls, controller=controller)

    scrape = await settled_scrape(env, check)
    assert scrape.type(calls) == "counter"
    assert scrape.value(calls, controller=controller) > 0
    assert f'{calls}{{controller="{controller}"}}' in scrape.text  # no _total in the exposition
    assert scrape.type("certmanager_controller_sync_error_count") == "counter"


async def test_clock_gauge_tells_the_current_time(env):
    before = time.time()
    scrape = await env.scrape()
    after = time.time()
    assert scrape.type("certmanager_clock_time_seconds_gauge") == "gauge"
    assert scrape.type("certmanager_clock_time_seconds") == "counter"
    assert int(before) <= scrape.value("certmanager_clock_time_seconds_gauge") <= after
    assert "certmanager_clock_time_seconds " in scrape.text  # the counter, without _total


async def test_work_queue_depth_is_reported_per_controller(env):
    scrape = await env.scrape()
    assert scrape.type("certsmith_workqueue_depth") == "gauge"
    names = {labels["name"] for labels, _ in scrape.values("certsmith_workqueue_depth")}
    assert {"issuers", "certificates-trigger", "certificaterequests-approver"} <= names


async def test_acme_requests_observed_in_the_servers_context_are_served(env):
    # The ACME client calls observe_acme_request from the controllers' tasks, which run with
    # the server's registry current; this records the same way.
    with activated(env.metrics):
        observe_acme_request("https", "acme.test:14000", "new_order", "POST", 201, 0.5)
        observe_acme_request("https", "acme.test:14000", "new_order", "POST", 201, 1.5)
    scrape = await env.scrape()
    labels = {
        "scheme": "https", "host": "acme.test:14000", "action": "new_order", "method": "POST",
        "status": "201",
    }  # fmt: skip
    count = "certmanager_http_acme_client_request_count"
    duration = "certmanager_http_acme_client_request_duration_seconds"
    assert scrape.type(count) == "counter"
    assert scrape.values(count) == [(labels, 2.0)]
    assert scrape.type(duration) == "summary"
    by_sample = {
        (s.name, s.labels.get("quantile")): s.value for s in scrape.families[duration].samples
    }
    assert by_sample == {
        (duration, "0.5"): 0.5,
        (duration, "0.9"): 1.5,
        (duration, "0.99"): 1.5,
        (f"{duration}_sum", None): 2.0,
        (f"{duration}_count", None): 2.0,
    }


async def test_serve_readyz_is_ok_once_the_controllers_run(env):
    async with httpx.AsyncClient(base_url=env.server.url, verify=False) as anonymous:
        response = await anonymous.get("/readyz")
    assert (response.status_code, response.text) == (200, "ok")


async def test_a_user_without_the_metrics_url_in_rbac_is_forbidden(env):
    async with env.user("alice") as alice:
        response = await alice.get("/metrics")
    assert response.status_code == 403
    assert response.json()["message"] == ('forbidden: User "alice" cannot get path "/metrics"')


async def test_the_system_monitoring_group_may_scrape(env):
    async with env.user("prometheus", "system:monitoring") as scraper:
        response = await scraper.get("/metrics")
    assert response.status_code == 200
    assert "certmanager_certificate_ready_status" in response.text


async def test_anonymous_scrapes_are_refused(env):
    async with httpx.AsyncClient(base_url=env.server.url, verify=False) as anonymous:
        response = await anonymous.get("/metrics")
    assert response.status_code == 401


async def test_challenges_created_through_the_api_are_reported_per_state(env):
    # A Challenge in a final state stays as written: the challenges controller only tidies it.
    async with HttpKubeClient.from_kubeconfig(env.server.kubeconfig_path) as client:
        current = await client.create(CHALLENGES, "default", challenge_manifest())
        # The challenges scheduler may mark the new Challenge processing first: write the final
        # state on top of whatever it wrote.
        for _ in range(50):
            current["status"] = {
                "state": "valid",
                "processing": False,
                "reason": "Successfully authorized domain",
            }
            try:
                await client.replace_status(CHALLENGES, "default", "web-1-123", current)
                break
            except Conflict:
                current = await client.get(CHALLENGES, "default", "web-1-123")
        else:
            pytest.fail("the Challenge's status could not be written")
    family = "certmanager_certificate_challenge_status"

    def check(scrape: Scrape) -> None:
        assert scrape.type(family) == "gauge"
        states = {labels["status"]: value for labels, value in scrape.values(family)}
        assert states == {
            "ready": 0.0, "valid": 1.0, "errored": 0.0, "expired": 0.0, "invalid": 0.0,
            "processing": 0.0, "": 0.0, "pending": 0.0,
        }  # fmt: skip

    scrape = await settled_scrape(env, check)
    assert scrape.values(family, status="valid")[0][0] == {
        "status": "valid", "domain": "web.example.com", "reason": "Successfully authorized domain",
        "processing": "false", "name": "web-1-123", "namespace": "default", "type": "HTTP-01",
    }  # fmt: skip


def challenge_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": {"name": "web-1-123"},
        "spec": {
            "url": "https://acme.test/chall/1",
            "authorizationURL": "https://acme.test/authz/1",
            "dnsName": "web.example.com",
            "type": "HTTP-01",
            "token": "tok",
            "key": "tok.thumb",
            "solver": {"http01": {"ingress": {}}},
            "issuerRef": {"name": "acme", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }


async def test_serve_can_also_serve_metrics_over_plain_http(tmp_path):
    port = free_port()
    async with (
        serving(tmp_path, controllers="none", metrics_listen=("127.0.0.1", port)),
        httpx.AsyncClient() as anonymous,
    ):
        response = await anonymous.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert "certmanager_clock_time_seconds_gauge" in response.text


async def test_the_controller_command_serves_metrics_and_probes_over_plain_http(env):
    metrics_port, health_port = free_port(), free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_controller(
            env.server.controller_kubeconfig_path,
            controllers="issuers,clusterissuers",
            metrics_listen=("127.0.0.1", metrics_port),
            health_listen=("127.0.0.1", health_port),
            stop=stop,
        )
    )
    try:
        async with httpx.AsyncClient() as anonymous:

            async def ready() -> bool:
                assert not task.done(), task
                try:
                    response = await anonymous.get(f"http://127.0.0.1:{health_port}/readyz")
                except httpx.ConnectError:
                    return False  # not listening yet
                return response.status_code == 200

            await eventually_async(ready, timeout=30)
            livez = await anonymous.get(f"http://127.0.0.1:{health_port}/livez")
            scraped = await anonymous.get(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert (livez.status_code, livez.text) == (200, "ok")
    assert scraped.status_code == 200
    scrape = Scrape(scraped.text)
    assert (
        scrape.value("certmanager_issuer_ready_status", name="ca-issuer", condition="True") == 1.0
    )
    assert scrape.value("certmanager_controller_sync_call_count", controller="issuers") > 0
    assert "certificates-trigger" not in {
        labels["controller"]
        for labels, _ in scrape.values("certmanager_controller_sync_call_count")
    }  # this process runs only the issuer controllers, and has a registry of its own
