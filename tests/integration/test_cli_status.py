"""``certsmith status certificate``: each broken setup, created for real, names its root cause.

Every test builds the situation against the real API server (HTTPS + SQLite) with the real
controllers where they produce it (CA issuer, approver, Certificate pipeline), then runs the CLI
exactly as a user would (``main([...])`` with ``--kubeconfig``) and asserts on the LAST line of
the text output. ACME states are written through the API as the ACME controllers would leave
them (the ACME controllers do not run: their results are what is under test here).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from certsmith.apiserver.server import mint_kubeconfig, write_kubeconfig
from certsmith.client.errors import AlreadyExists
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    ISSUERS,
    NAMESPACES,
    ORDERS,
    SECRETS,
    ResourceRef,
)
from certsmith.controllers.setup import ControllerOptions, build_manager
from certsmith.issuers.registry import build
from certsmith.issuers.selfsigned import SelfSignedIssuer
from tests.builders import (
    acme_issuer_manifest,
    make_ca_secret,
    make_certificate,
    make_csr_pem,
    make_issued_cert,
    make_issuer,
    make_tls_secret,
    private_key_pem,
)
from tests.clitools import Env, cli, dead_kubeconfig, run_cli, server_env
from tests.integration.test_certificates_issuance import running, seed_ca_issuer
from tests.integration.test_certificates_lifecycle import FlakyCA
from tests.pkitools import key as pki_key
from tests.pkitools import make_root, pem
from tests.servertools import eventually_async

NS = "ns"
#: The built-in approver is the only thing approving: without it requests wait for approval.
WITHOUT_APPROVER = "*,-certificaterequests-approver"
READINESS_ONLY = "certificates-readiness"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with server_env(tmp_path / "data", (NS, "cert-manager")) as started:
        yield started


async def status_settles(env: Env, expected: Sequence[str], name: str = "web") -> str:
    """Poll ``status certificate`` until its last line holds every ``expected`` text."""
    seen: list[str] = []

    async def probe() -> bool:
        code, out, err = await cli(env, "status", "certificate", name, "-n", NS)
        assert code == 0, err
        seen[:] = [out]
        last = out.rstrip("\n").splitlines()[-1]
        return all(text in last for text in expected)

    try:
        await eventually_async(probe, timeout=30, interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"last status output:\n{seen[0] if seen else ''}") from exc
    return seen[0].rstrip("\n").splitlines()[-1]


def options(controllers: str = "*", **extra: Any) -> ControllerOptions:
    return ControllerOptions(controllers=controllers, **extra)


async def create_certificate(env: Env, name: str = "web", **spec: Any) -> dict[str, Any]:
    body = make_certificate(name, namespace=NS, **spec).to_dict()
    return await env.client.create(CERTIFICATES, NS, body)


# --- the healthy case and the issuer --------------------------------------------------------


async def test_issued_certificate_is_up_to_date_with_its_next_renewal(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env)
        last = await status_settles(env, ["Certificate is up to date; next renewal at"])
    cert = await env.client.get(CERTIFICATES, NS, "web")
    assert last == f"Certificate is up to date; next renewal at {cert['status']['renewalTime']}."
    _, out, _ = await cli(env, "status", "certificate", "web", "-n", NS)
    for text in ("Certificate ns/web", "Secret ns/web-tls", "CertificateRequest ns/web-1"):
        assert text in out
    assert re.search(r"Key matches +yes", out)


async def test_missing_issuer_is_named_with_the_fix(env: Env) -> None:
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env, issuerRef={"name": "nope"})
        last = await status_settles(env, ["Issuer 'nope' does not exist in namespace ns"])
    assert last.startswith("Root cause: Issuer 'nope' does not exist")
    assert "Next: create the Issuer, or point spec.issuerRef at an existing one" in last


async def test_cluster_issuer_chain_includes_its_events_from_another_namespace(env: Env) -> None:
    # A CA ClusterIssuer reads its Secret in the cluster resource namespace; its Events live in
    # "default" (cluster-scoped objects' Events), not in the Certificate's namespace.
    with contextlib.suppress(AlreadyExists):
        await env.client.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    root, root_key = make_root("cluster root")
    secret = make_ca_secret(
        namespace="cert-manager", chain_pem=pem(root), key_pem=private_key_pem(root_key)
    )
    await env.client.create(SECRETS, "cert-manager", secret.to_dict())
    await env.client.create(CLUSTER_ISSUERS, None, make_issuer("ca", cluster=True).to_dict())
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env, issuerRef={"name": "ca", "kind": "ClusterIssuer"})
        await status_settles(env, ["Certificate is up to date"])
    code, out, _ = await cli(env, "status", "certificate", "web", "-n", NS, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["issuer"]["namespace"], data["issuer"]["type"]) == ("", "ca")
    assert data["issuer"]["ref"]["kind"] == "ClusterIssuer"
    issuer_events = [e for e in data["events"] if e["object_kind"] == "ClusterIssuer"]
    assert [e["reason"] for e in issuer_events] == ["KeyPairVerified"]


async def test_missing_cluster_issuer_is_named(env: Env) -> None:
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env, issuerRef={"name": "gone", "kind": "ClusterIssuer"})
        last = await status_settles(env, ["ClusterIssuer 'gone' does not exist."])
    assert "Next: create the ClusterIssuer" in last


async def test_missing_ca_secret_makes_the_issuer_not_ready_err_get_key_pair(env: Env) -> None:
    await env.client.create(ISSUERS, NS, make_issuer("ca", namespace=NS).to_dict())
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env)
        last = await status_settles(env, ["Issuer ns/ca is not ready (ErrGetKeyPair)"])
    assert "create or fix the CA Secret 'ca-key-pair' in ns" in last


# --- the CertificateRequest -----------------------------------------------------------------


async def test_request_without_an_approver_waits_for_approval(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=options(WITHOUT_APPROVER))):
        await create_certificate(env)
        last = await status_settles(env, ["CertificateRequest ns/web-1 is waiting for approval"])
    assert "Next: approve it with `certsmith approve web-1 -n ns`" in last


async def test_denied_request_names_the_denier_and_the_next_attempt(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=options(WITHOUT_APPROVER))):
        await create_certificate(env)
        await status_settles(env, ["waiting for approval"])
        code, _, err = await cli(env, "deny", "web-1", "-n", NS, "--message", "not this one")
        assert code == 0, err
        last = await status_settles(
            env,
            [
                "CertificateRequest ns/web-1 was denied by KubectlCertManager: not this one",
                "next attempt at",
            ],
        )
    assert "next attempt at" in last
    assert "1 failed attempt)" in last
    assert "`certsmith renew web -n ns` to retry now" in last


async def test_failed_request_shows_the_failure_and_the_backoff(env: Env) -> None:
    await seed_ca_issuer(env.client)
    issuers = {**build([SelfSignedIssuer]), "ca": FlakyCA()}
    async with running(build_manager(env.client, options=options(issuers=issuers))):
        await create_certificate(env)
        # The request fails first; the Certificate records the failure (and the retry) after.
        last = await status_settles(env, ["CertificateRequest ns/web-1 failed", "next attempt at"])
    cert = await env.client.get(CERTIFICATES, NS, "web")
    failed_at = dt.datetime.fromisoformat(cert["status"]["lastFailureTime"].replace("Z", "+00:00"))
    retry = (failed_at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "the signer refuses" in last
    assert f"next attempt at {retry}" in last
    _, out, _ = await cli(env, "status", "certificate", "web", "-n", NS)
    assert re.search(rf"Next retry +{retry} \(in ", out)


async def test_failed_renewal_keeps_the_valid_certificate_in_the_line(env: Env) -> None:
    await seed_ca_issuer(env.client)
    flaky = FlakyCA()
    flaky.failing = False
    issuers = {**build([SelfSignedIssuer]), "ca": flaky}
    async with running(build_manager(env.client, options=options(issuers=issuers))):
        await create_certificate(env)
        await status_settles(env, ["Certificate is up to date"])
        flaky.failing = True
        code, _, err = await cli(env, "renew", "web", "-n", NS)
        assert code == 0, err
        last = await status_settles(env, ["CertificateRequest ns/web-2 failed", "next attempt"])
    cert = await env.client.get(CERTIFICATES, NS, "web")
    assert f"(the current certificate stays valid until {cert['status']['notAfter']})" in last
    assert "the signer refuses" in last
    assert "next attempt at" in last


# --- the Secret -----------------------------------------------------------------------------


async def issue(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=options())):
        await create_certificate(env)
        await status_settles(env, ["Certificate is up to date"])


async def test_deleted_secret_is_named(env: Env) -> None:
    await issue(env)
    # Only readiness runs now: the deletion is seen but not yet repaired by a reissue.
    async with running(build_manager(env.client, options=options(READINESS_ONLY))):
        await env.client.delete(SECRETS, NS, "web-tls")
        last = await status_settles(env, ["Secret ns/web-tls does not exist"])
    assert "`certsmith renew web -n ns`" in last


async def test_secret_with_another_key_is_a_mismatch(env: Env) -> None:
    await issue(env)
    secret = await env.client.get(SECRETS, NS, "web-tls")
    other = base64.b64encode(private_key_pem(pki_key("rsa2048", 3))).decode()
    secret["data"]["tls.key"] = other
    async with running(build_manager(env.client, options=options(READINESS_ONLY))):
        await env.client.replace(SECRETS, NS, "web-tls", secret)
        last = await status_settles(env, ["does not match the Certificate (InvalidKeyPair)"])
    assert last.startswith("Root cause: Secret ns/web-tls does not match the Certificate")
    _, out, _ = await cli(env, "status", "certificate", "web", "-n", NS)
    assert "NO: tls.key is not the certificate's key" in out


async def test_expired_certificate_is_named_with_its_date(env: Env) -> None:
    await seed_ca_issuer(env.client)
    key = pki_key("rsa2048")
    now = dt.datetime.now(dt.UTC)
    expired = make_issued_cert(
        key=key,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    annotations = {
        "cert-manager.io/certificate-name": "web",
        "cert-manager.io/issuer-name": "ca",
        "cert-manager.io/issuer-kind": "Issuer",
        "cert-manager.io/issuer-group": "cert-manager.io",
    }
    secret = make_tls_secret(namespace=NS, key=key, cert=expired, annotations=annotations)
    await env.client.create(SECRETS, NS, secret.to_dict())
    async with running(build_manager(env.client, options=options(READINESS_ONLY))):
        await create_certificate(env)
        last = await status_settles(env, ["Root cause: Certificate expired on"])
    assert "Next: run `certsmith renew web -n ns`" in last


# --- ACME: Orders and Challenges as the ACME controllers leave them --------------------------


def _condition(ctype: str, status: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


async def _set_status(env: Env, resource: Any, obj: dict[str, Any], status: dict[str, Any]) -> None:
    fresh = await env.client.get(resource, NS, obj["metadata"]["name"])
    fresh["status"] = {**(fresh.get("status") or {}), **status}
    await env.client.replace_status(resource, NS, obj["metadata"]["name"], fresh)


async def acme_chain(
    env: Env,
    *,
    request_ready: tuple[str, str],
    order_status: dict[str, Any],
    challenge_status: dict[str, Any],
) -> None:
    """Issuer ``le`` (Ready), Certificate ``web`` issuing, request web-1 → Order → Challenge."""
    issuer = acme_issuer_manifest("le", namespace=NS)
    issuer.pop("status")
    issuer["spec"]["acme"].pop("externalAccountBinding")
    created_issuer = await env.client.create(ISSUERS, NS, issuer)
    await _set_status(
        env,
        ISSUERS,
        created_issuer,
        {
            "conditions": [
                _condition(
                    "Ready",
                    "True",
                    "ACMEAccountRegistered",
                    "The ACME account was registered with the ACME server",
                )
            ]
        },
    )
    cert = await create_certificate(env, issuerRef={"name": "le"})
    await _set_status(
        env,
        CERTIFICATES,
        cert,
        {
            "conditions": [
                _condition(
                    "Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist"
                ),
                _condition(
                    "Issuing",
                    "True",
                    "DoesNotExist",
                    "Issuing certificate as Secret does not exist",
                ),
            ]
        },
    )
    csr = base64.b64encode(make_csr_pem()).decode()
    request = await env.client.create(
        CERTIFICATE_REQUESTS,
        NS,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "CertificateRequest",
            "metadata": {
                "name": "web-1",
                "annotations": {"cert-manager.io/certificate-revision": "1"},
                "ownerReferences": [_owner(cert)],
            },
            "spec": {"request": csr, "issuerRef": {"name": "le"}},
        },
    )
    reason, message = request_ready
    await _set_status(
        env,
        CERTIFICATE_REQUESTS,
        request,
        {
            "conditions": [
                _condition("Approved", "True", "cert-manager.io", "approved"),
                _condition("Ready", "False", reason, message),
            ]
        },
    )
    order = await env.client.create(
        ORDERS,
        NS,
        {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Order",
            "metadata": {"name": "web-1-1234", "ownerReferences": [_owner(request)]},
            "spec": {
                "request": csr,
                "issuerRef": {"name": "le"},
                "dnsNames": ["web.example.com"],
            },
        },
    )
    await _set_status(env, ORDERS, order, order_status)
    challenge = await env.client.create(
        CHALLENGES,
        NS,
        {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Challenge",
            "metadata": {"name": "web-1-1234-5678", "ownerReferences": [_owner(order)]},
            "spec": {
                "url": "https://acme.example/chall/1",
                "authorizationURL": "https://acme.example/authz/1",
                "dnsName": "web.example.com",
                "type": "HTTP-01",
                "token": "tok",
                "key": "tok.thumb",
                "solver": {"http01": {"ingress": {"ingressClassName": "nginx"}}},
                "issuerRef": {"name": "le"},
            },
        },
    )
    await _set_status(env, CHALLENGES, challenge, challenge_status)


PENDING = ("Pending", 'Waiting on certificate issuance from order ns/web-1-1234: "pending"')


async def test_acme_challenge_failing_self_check_is_the_root_cause(env: Env) -> None:
    self_check = (
        "Waiting for HTTP-01 challenge propagation: wrong status code '404', expected '200'"
    )
    await acme_chain(
        env,
        request_ready=PENDING,
        order_status={"state": "pending", "url": "https://acme.example/order/1"},
        challenge_status={
            "state": "pending",
            "processing": True,
            "presented": True,
            "reason": self_check,
        },
    )
    last = await status_settles(env, ["HTTP-01 challenge for 'web.example.com'"])
    assert f"(web-1-1234-5678) is pending: {self_check}" in last
    assert "Next: check that the challenge is reachable" in last
    _, out, _ = await cli(env, "status", "certificate", "web", "-n", NS)
    assert "ACME Order ns/web-1-1234" in out
    assert "Challenges" in out


async def test_acme_invalid_order_is_the_root_cause(env: Env) -> None:
    invalid = "Error accepting authorization: acme: authorization error for web.example.com: 403"
    await acme_chain(
        env,
        request_ready=(
            "Failed",
            'Failed to wait for order resource "web-1-1234" to become ready: order is in '
            f'"invalid" state: {invalid}',
        ),
        order_status={"state": "invalid", "reason": invalid},
        challenge_status={"state": "invalid", "reason": invalid},
    )
    last = await status_settles(env, ["ACME Order ns/web-1-1234 is invalid"])
    assert invalid in last
    assert "a new Order is created for the next attempt" in last


async def test_acme_rate_limit_is_the_root_cause(env: Env) -> None:
    limited = (
        "Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: too many "
        "certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, "
        "retry after 2026-12-01 10:00:00 UTC"
    )
    await acme_chain(
        env,
        request_ready=(
            "Failed",
            f'Failed to wait for order resource "web-1-1234" to become ready: order is in '
            f'"errored" state: {limited}',
        ),
        order_status={"state": "errored", "reason": limited},
        challenge_status={"state": "pending"},
    )
    last = await status_settles(env, ["The ACME server rate limited this issuance"])
    assert "urn:ietf:params:acme:error:rateLimited" in last
    assert "Next: wait for the rate limit window to pass" in last


# --- output formats and errors --------------------------------------------------------------


async def test_json_output_has_stable_keys(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=options(WITHOUT_APPROVER))):
        await create_certificate(env)
        await status_settles(env, ["waiting for approval"])
    code, out, _ = await cli(env, "status", "certificate", "web", "-n", NS, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "observed_at",
        "certificate",
        "secret",
        "issuer",
        "request",
        "order",
        "events",
        "root_cause",
    }
    assert data["root_cause"]["code"] == "WaitingForApproval"
    assert data["root_cause"]["healthy"] is False
    assert data["root_cause"]["line"].startswith("CertificateRequest ns/web-1 is waiting")
    assert data["request"]["state"] == "WaitingForApproval"
    assert data["request"]["role"] == "next"
    assert data["issuer"]["is_ready"] is True
    assert data["certificate"]["issuer_ref"] == {
        "name": "ca",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert {"type", "reason", "message", "count", "last_seen"} <= set(data["events"][0])


RBAC = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", True)
RBAC_BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "rolebindings", True)


async def test_a_user_without_access_to_issuers_and_acme_still_gets_a_diagnosis(
    env: Env, tmp_path: Path
) -> None:
    await issue(env)
    readable = ["certificates", "certificaterequests"]
    rules = [
        {"apiGroups": ["cert-manager.io"], "resources": readable, "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["secrets", "events"], "verbs": ["get", "list"]},
    ]
    await env.client.create(RBAC, NS, {"metadata": {"name": "viewer"}, "rules": rules})
    binding = {
        "metadata": {"name": "viewer"},
        "roleRef": {"apiGroup": RBAC.group, "kind": "Role", "name": "viewer"},
        "subjects": [{"kind": "User", "name": "viewer", "apiGroup": RBAC.group}],
    }
    await env.client.create(RBAC_BINDINGS, NS, binding)
    viewer = tmp_path / "viewer.kubeconfig"
    assert env.server.pki is not None
    write_kubeconfig(viewer, mint_kubeconfig(env.server.pki, env.server.url, "viewer"))
    code, out, err = await asyncio.to_thread(
        run_cli, ["status", "certificate", "web", "-n", NS, "--kubeconfig", str(viewer)]
    )
    assert code == 0, err
    assert re.search(r"Error +issuers.cert-manager.io \"ca\" is forbidden: User \"viewer\"", out)
    assert out.rstrip("\n").splitlines()[-1].startswith("Certificate is up to date")


async def test_unknown_certificate_is_a_clear_error(env: Env) -> None:
    code, out, err = await cli(env, "status", "certificate", "ghost", "-n", NS)
    assert code == 1
    assert out == ""
    assert err.strip() == (
        'certsmith status: Certificate "ghost" not found in namespace "ns" '
        "(list them with `kubectl get certificates -n ns`)"
    )


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    kubeconfig = dead_kubeconfig(tmp_path)
    code, _, err = run_cli(["status", "certificate", "web", "--kubeconfig", str(kubeconfig)])
    assert code == 1
    assert err.startswith("certsmith status: cannot reach the API server:")
    assert "is `certsmith serve` running" in err
