"""HTTP-01 cluster mode against the real embedded API server: present, again, drift, clean up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certsmith.api.acme import Challenge
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CHALLENGES, HTTP_ROUTES, INGRESSES, PODS, SERVICES
from certsmith.controllers.acme.http01cluster import (
    Http01ClusterSolver,
    SolverPodSettings,
    identity_labels,
)
from certsmith.controllers.acme.solving import ChallengeSolvers, NotReadyError
from tests.servertools import eventually_async, running_server

NS = "default"
TOKEN = "tok-abc"
PATH = f"/.well-known/acme-challenge/{TOKEN}"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[HttpKubeClient]:
    async with (
        running_server(tmp_path / "data") as server,
        HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as c,
    ):
        yield c


async def stored_challenge(client: HttpKubeClient, http01: dict[str, Any]) -> Challenge:
    body = {
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "metadata": {"name": "web-1", "namespace": NS},
        "spec": {
            "url": "https://acme.test/chall/1",
            "authorizationURL": "https://acme.test/authz/1",
            "dnsName": "web.example.test",
            "type": "HTTP-01",
            "token": TOKEN,
            "key": f"{TOKEN}.thumb",
            "solver": {"http01": http01},
            "issuerRef": {"name": "le", "kind": "Issuer", "group": "cert-manager.io"},
        },
    }
    return Challenge.from_dict(await client.create(CHALLENGES, NS, body))


async def names(client: HttpKubeClient, resource: Any) -> list[str]:
    page = await client.list(resource, NS)
    return sorted(item["metadata"]["name"] for item in page.items)


def solver(client: HttpKubeClient, image: str = "certsmith:test") -> Http01ClusterSolver:
    return Http01ClusterSolver(client, SolverPodSettings(image=image))


async def test_present_creates_pod_service_and_ingress_once_and_clean_up_deletes_them(
    client: HttpKubeClient,
) -> None:
    challenge = await stored_challenge(client, {"ingress": {"ingressClassName": "nginx"}})
    await solver(client).present(challenge)
    pods, services, ingresses = [
        (await client.list(r, NS)).items for r in (PODS, SERVICES, INGRESSES)
    ]
    assert len(pods) == len(services) == len(ingresses) == 1
    labels = identity_labels("web.example.test", TOKEN)
    for obj in (pods[0], services[0], ingresses[0]):
        assert obj["metadata"]["name"].startswith("cm-acme-http-solver-")
        assert obj["metadata"]["labels"] == labels
        assert obj["metadata"]["ownerReferences"][0]["uid"] == challenge.metadata.uid
    service = services[0]["metadata"]["name"]
    (path,) = ingresses[0]["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"] == {"name": service, "port": {"number": 8089}}
    assert ingresses[0]["spec"]["ingressClassName"] == "nginx"

    before = [await names(client, r) for r in (PODS, SERVICES, INGRESSES)]
    await solver(client).present(challenge)  # the store fills in nothing that counts as drift
    assert [await names(client, r) for r in (PODS, SERVICES, INGRESSES)] == before

    await solver(client).clean_up(challenge)
    assert [await names(client, r) for r in (PODS, SERVICES, INGRESSES)] == [[], [], []]


async def test_a_drifted_pod_is_replaced(client: HttpKubeClient) -> None:
    challenge = await stored_challenge(client, {"ingress": {}})
    await solver(client, "certsmith:old").present(challenge)
    (old,) = await names(client, PODS)
    service = await names(client, SERVICES)
    await solver(client, "certsmith:new").present(challenge)
    pods = (await client.list(PODS, NS)).items
    assert len(pods) == 1
    assert pods[0]["metadata"]["name"] != old
    assert pods[0]["spec"]["containers"][0]["image"] == "certsmith:new"
    assert await names(client, SERVICES) == service


async def test_edit_in_place_adds_and_removes_the_path_of_the_named_ingress(
    client: HttpKubeClient,
) -> None:
    backend = {"service": {"name": "app", "port": {"number": 80}}}
    app = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {
            "rules": [
                {
                    "host": "web.example.test",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }
    await client.create(INGRESSES, NS, app)
    challenge = await stored_challenge(client, {"ingress": {"name": "app"}})
    await solver(client).present(challenge)
    assert await names(client, INGRESSES) == ["app"]
    edited = await client.get(INGRESSES, NS, "app")
    paths = edited["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [(PATH, "Exact"), ("/", "Prefix")]
    await solver(client).present(challenge)
    again = await client.get(INGRESSES, NS, "app")
    assert again["metadata"]["resourceVersion"] == edited["metadata"]["resourceVersion"]
    await solver(client).clean_up(challenge)
    restored = await client.get(INGRESSES, NS, "app")
    assert restored["spec"] == app["spec"]
    assert await names(client, PODS) == await names(client, SERVICES) == []


async def test_missing_edit_in_place_ingress_is_a_clear_error(client: HttpKubeClient) -> None:
    challenge = await stored_challenge(client, {"ingress": {"name": "absent"}})
    with pytest.raises(ValueError, match='the Ingress "absent" to edit'):
        await solver(client).present(challenge)


async def test_gateway_solver_creates_an_http_route_and_deletes_it(
    client: HttpKubeClient,
) -> None:
    challenge = await stored_challenge(
        client,
        {"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}], "serviceType": "ClusterIP"}},
    )
    await solver(client).present(challenge)
    (route,) = (await client.list(HTTP_ROUTES, NS)).items
    (service,) = (await client.list(SERVICES, NS)).items
    assert service["spec"]["type"] == "ClusterIP"
    assert route["spec"]["parentRefs"] == [{"name": "gw"}]
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == service["metadata"]["name"]
    assert await names(client, INGRESSES) == []
    await solver(client).clean_up(challenge)
    assert await names(client, HTTP_ROUTES) == await names(client, SERVICES) == []


async def test_solver_objects_go_with_their_challenge(client: HttpKubeClient) -> None:
    challenge = await stored_challenge(client, {"ingress": {}})
    await solver(client).present(challenge)
    await client.delete(CHALLENGES, NS, "web-1")

    async def gone() -> bool:
        return [await names(client, r) for r in (PODS, SERVICES, INGRESSES)] == [[], [], []]

    await eventually_async(gone, timeout=10)


async def test_challenge_solvers_dispatch_http01_to_cluster_mode(client: HttpKubeClient) -> None:
    challenge = await stored_challenge(client, {"ingress": {}})
    solvers = ChallengeSolvers(http01_cluster=solver(client))
    await solvers.present(challenge, NS)
    assert len(solvers.http01) == 0  # nothing for an in-process listener
    assert len(await names(client, PODS)) == 1
    await solvers.clean_up(challenge, NS)
    assert await names(client, PODS) == []


async def test_a_failing_re_present_before_the_self_check_is_a_not_ready_reason(
    client: HttpKubeClient,
) -> None:
    challenge = await stored_challenge(client, {"ingress": {"name": "absent"}})
    solvers = ChallengeSolvers(http01_cluster=solver(client))
    with pytest.raises(NotReadyError, match='solver again failed: the Ingress "absent" to edit'):
        await solvers.check(challenge)
