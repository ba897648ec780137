"""The install manifests' RBAC is what the controllers need, measured by running them with it.

``certsmith controller`` (a subprocess, with the flags of the rendered Deployment) runs against
an in-process ``certsmith serve``-style server (no controllers of its own) as a ServiceAccount:
a bearer token for ``system:serviceaccount:<ns>:certsmith`` in the groups a real cluster gives
it, bound ONLY by the RBAC objects of the rendered overlay. The server enforces RBAC, so any
call the manifests do not allow fails the run. Every request the controller makes is also
recorded where the server authenticates it, and each one, as (verb, group, resource,
subresource, namespaced), is checked against the manifest's rules with the server's own RBAC
evaluator: the calls come from the controllers, not from a list kept by hand.
``ownerReferences`` with ``blockOwnerDeletion`` on the objects the controllers made add the
``update <owner>/finalizers`` that kube's OwnerReferencesPermissionEnforcement asks for.

The cluster overlay runs the controllers' scenario: a CA Issuer, a CA ClusterIssuer (its Secret
in the install namespace), a SelfSigned Issuer, a bare CertificateRequest, a manual renewal and
an ACME Issuer against pebble (Orders, Challenges, account key), under leader election, with
the Deployment's probes answered. The namespaced overlay runs with Roles only: the request is
approved by someone else (the approval check is cluster-scoped), then by the built-in approver
once the documented approval grant is added. Requests outside the rules get kube's 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from certsmith.api.meta import UserInfo
from certsmith.apiserver.auth import RequestAttributes
from certsmith.apiserver.rbac import PolicyIndex
from certsmith.apiserver.rbacpolicy import bootstrap_objects
from certsmith.apiserver.server import ApiServer
from certsmith.client.errors import ApiError
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    GATEWAYS,
    INGRESSES,
    ISSUERS,
    ISTIO_GATEWAYS,
    LEASES,
    NAMESPACES,
    ORDERS,
    SECRETS,
    ResourceRef,
)
from tests.builders import make_ca_secret, make_cert_request, private_key_pem
from tests.e2e.acmetools import acme_issuer
from tests.e2e.manifestrbac import (
    KUBE_DEFAULTS,
    RBAC,
    RBAC_REFS,
    deployment_args,
    documented_optional_rules,
    rbac_denials,
    rendered,
    service_account,
    token_kubeconfig,
    write_token_file,
)
from tests.e2e.procs import Proc
from tests.peers.pebble import Pebble
from tests.pkitools import make_root, pem
from tests.servertools import eventually_async, free_port, running_server

pytestmark = pytest.mark.e2e

WORKLOAD: Final = "team-a"


# --- recording at the server ---------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Call:
    """One API call in RBAC's terms, without the object's name."""

    verb: str
    group: str
    resource: str
    subresource: str
    namespaced: bool

    def attributes(self, namespace: str, name: str = "") -> RequestAttributes:
        return RequestAttributes(
            verb=self.verb,
            path="",
            group=self.group,
            resource=self.resource,
            subresource=self.subresource,
            namespace=namespace if self.namespaced else "",
            name=name,
        )


@dataclass
class Recorder:
    """Wraps the server's authenticator; keeps what one user asked for."""

    inner: Any
    username: str
    seen: list[RequestAttributes] = field(default_factory=list)

    def __call__(self, request: Any) -> UserInfo | None:
        user: UserInfo | None = self.inner(request)
        if user is not None and user.username == self.username:
            self.seen.append(
                RequestAttributes.from_request(request.method, request.path, request.query)
            )
        return user

    def calls(self) -> set[Call]:
        return {
            Call(a.verb, a.group, a.resource, a.subresource, bool(a.namespace))
            for a in self.seen
            if a.is_resource_request
        }


# --- the install ---------------------------------------------------------------------------


@dataclass
class Install:
    """An overlay applied to a running server, and its ServiceAccount's kubeconfig."""

    server: ApiServer
    admin: HttpKubeClient
    namespace: str
    objects: list[dict[str, Any]]
    kubeconfig: Path
    recorder: Recorder

    @property
    def user(self) -> UserInfo:
        return service_account(self.namespace)

    def policy(self) -> PolicyIndex:
        """The manifests' RBAC plus the roles every cluster gives authenticated users."""
        by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in RBAC_REFS}
        for obj in self.objects:
            if obj["kind"] in by_kind:
                by_kind[obj["kind"]].append(obj)
        for resource, obj in bootstrap_objects():
            if obj["metadata"]["name"] in KUBE_DEFAULTS:
                kind = "ClusterRole" if resource == "clusterroles" else "ClusterRoleBinding"
                by_kind[kind].append(obj)
        return PolicyIndex.build(
            cluster_roles=by_kind["ClusterRole"],
            roles=by_kind["Role"],
            cluster_role_bindings=by_kind["ClusterRoleBinding"],
            role_bindings=by_kind["RoleBinding"],
        )

    def deployment_args(self) -> list[str]:
        """The container's args with ``$(POD_NAMESPACE)`` expanded, as the kubelet does."""
        return deployment_args(self.objects, self.namespace)

    async def as_service_account(self) -> HttpKubeClient:
        return HttpKubeClient.from_kubeconfig(self.kubeconfig)


@contextlib.asynccontextmanager
async def installed(tmp_path: Path, overlay: str, namespace: str) -> AsyncIterator[Install]:
    """A server with ``overlay`` (moved to ``namespace``) applied, and a token for its SA."""
    data = tmp_path / "data"
    write_token_file(data, namespace)
    user = service_account(namespace)
    objects = rendered(overlay, namespace)
    async with running_server(data) as server:
        assert server.context is not None
        recorder = Recorder(server.context.authenticate, user.username)
        server.context.authenticate = recorder
        admin = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
        try:
            for name in {namespace, WORKLOAD}:
                with contextlib.suppress(ApiError):
                    await admin.create(NAMESPACES, None, {"metadata": {"name": name}})
            for obj in objects:
                ref = RBAC_REFS.get(obj["kind"])
                if ref is not None:
                    ns = obj["metadata"].get("namespace") if ref.namespaced else None
                    await admin.create(ref, ns, obj)
            kubeconfig = token_kubeconfig(server.kubeconfig_path, tmp_path / "sa.kubeconfig")
            yield Install(server, admin, namespace, objects, kubeconfig, recorder)
        finally:
            await admin.aclose()


@contextlib.asynccontextmanager
async def controller(
    install: Install, tmp_path: Path, *extra: str
) -> AsyncIterator[tuple[Proc, int]]:
    """``certsmith controller`` with the Deployment's flags, as the ServiceAccount; yields the
    process and its health probe port."""
    health, metrics = free_port(), free_port()
    args = [
        *install.deployment_args(),
        "--kubeconfig",
        str(install.kubeconfig),
        f"--metrics-listen-address=127.0.0.1:{metrics}",
        f"--health-probe-bind-address=127.0.0.1:{health}",
        "--leader-election-lease-duration=4s",
        *extra,
    ]
    proc = Proc("controller", args, tmp_path)
    proc.start()
    try:

        def started() -> bool:
            if not proc.running:
                raise AssertionError(f"controller exited:\n{proc.log()}")
            return "started controllers" in proc.log()

        await eventually_async(started, timeout=30, interval=0.1)
        yield proc, health
    except BaseException:
        print(proc.log()[-20000:])
        raise
    finally:
        # In a thread: the controller releases its Lease through this process's server.
        code = await asyncio.to_thread(proc.stop)
        assert code == 0, proc.log()[-5000:]


def probe(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return int(response.status)


# --- the scenario --------------------------------------------------------------------------


async def ca_secret(client: HttpKubeClient, namespace: str, name: str) -> None:
    root, key = make_root(f"{name} root")
    secret = make_ca_secret(
        name, namespace=namespace, chain_pem=pem(root), key_pem=private_key_pem(key)
    )
    await client.create(SECRETS, namespace, secret.to_dict())


def issuer(name: str, spec: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    kind = "Issuer" if namespace is not None else "ClusterIssuer"
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": meta, "spec": spec}


def certificate(
    name: str, issuer_name: str, *, kind: str = "Issuer", dns: str | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": WORKLOAD},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [dns or f"{name}.example.com"],
            "issuerRef": {"name": issuer_name, "kind": kind},
        },
    }


def ingress(name: str, *, issuer_name: str) -> dict[str, Any]:
    """An Ingress that asks ingress-shim for the Certificate ``<name>-tls``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": WORKLOAD,
            "annotations": {"cert-manager.io/issuer": issuer_name},
        },
        "spec": {
            "tls": [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}],
            "rules": [{"host": f"{name}.example.com"}],
        },
    }


def is_true(obj: dict[str, Any], ctype: str) -> bool:
    return any(
        c.get("type") == ctype and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


async def wait_ready(
    client: HttpKubeClient, ref: ResourceRef, name: str, *, namespace: str | None = WORKLOAD,
    revision: int | None = None, timeout: float = 60,  # noqa: ASYNC109
) -> dict[str, Any]:  # fmt: skip
    found: dict[str, Any] = {}

    async def ready() -> bool:
        found.update(await client.get(ref, namespace if ref.namespaced else None, name))
        if revision is not None and (found.get("status") or {}).get("revision") != revision:
            return False
        return is_true(found, "Ready")

    try:
        await eventually_async(ready, timeout=timeout, interval=0.1)
    except AssertionError:
        raise AssertionError(f"{ref.plural}/{name} not Ready: {found.get('status')}") from None
    return found


async def renew(client: HttpKubeClient, name: str) -> None:
    """What ``certsmith renew`` writes: Issuing=True, ManuallyTriggered."""
    cert = await client.get(CERTIFICATES, WORKLOAD, name)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [c for c in cert["status"].get("conditions") or [] if c["type"] != "Issuing"]
    conditions.append(
        {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance manually triggered",
            "lastTransitionTime": now,
            "observedGeneration": cert["metadata"]["generation"],
        }
    )
    cert["status"]["conditions"] = conditions
    await client.replace_status(CERTIFICATES, WORKLOAD, name, cert)


async def approve(client: HttpKubeClient, name: str) -> None:
    """What ``certsmith approve`` writes, as the admin."""
    cr = await client.get(CERTIFICATE_REQUESTS, WORKLOAD, name)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = cr.setdefault("status", {})
    status.setdefault("conditions", []).append(
        {
            "type": "Approved",
            "status": "True",
            "reason": "KubectlCertManager",
            "message": 'manually approved by "cmctl"',
            "lastTransitionTime": now,
        }
    )
    await client.replace_status(CERTIFICATE_REQUESTS, WORKLOAD, name, cr)


# --- deriving and checking -------------------------------------------------------------------


def finalizer_calls(install: Install, objects: list[dict[str, Any]]) -> set[tuple[Call, str]]:
    """``update <owner>/finalizers`` for every blockOwnerDeletion reference (kube's
    OwnerReferencesPermissionEnforcement), with the owner's namespace; owners are looked up in
    the server's resource registry."""
    assert install.server.context is not None
    registry = install.server.context.registry
    needed: set[tuple[Call, str]] = set()
    for obj in objects:
        for ref in obj["metadata"].get("ownerReferences") or []:
            if not ref.get("blockOwnerDeletion"):
                continue
            group = str(ref["apiVersion"]).rpartition("/")[0]
            owner = registry.by_kind(group, ref["kind"])
            assert owner is not None, ref
            call = Call("update", group, owner.plural, "finalizers", owner.namespaced)
            needed.add((call, obj["metadata"].get("namespace") or ""))
    return needed


async def made_objects(client: HttpKubeClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for ref in (CERTIFICATES, CERTIFICATE_REQUESTS, ORDERS, CHALLENGES, SECRETS):
        items.extend((await client.list(ref, None)).items)
    return items


def denied(install: Install) -> list[str]:
    """Every recorded request the manifests' rules do not allow."""
    policy = install.policy()
    return [
        f"{a.verb} {a.group}/{a.resource}{'/' + a.subresource if a.subresource else ''} "
        f"ns={a.namespace!r} name={a.name!r}"
        for a in install.recorder.seen
        if not policy.allows(install.user, a)
    ]


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


async def test_cluster_overlay_covers_every_call_of_the_controllers_scenario(
    tmp_path: Path, log_dir: Path, pebble: Pebble
) -> None:
    async with installed(tmp_path, "cluster", "cert-manager") as install:
        admin = install.admin
        await ca_secret(admin, WORKLOAD, "ca-key-pair")
        await ca_secret(admin, install.namespace, "cluster-ca-key-pair")
        await admin.create(
            ISSUERS, WORKLOAD, issuer("ca", {"ca": {"secretName": "ca-key-pair"}}, WORKLOAD)
        )
        await admin.create(ISSUERS, WORKLOAD, issuer("selfsigned", {"selfSigned": {}}, WORKLOAD))
        await admin.create(
            CLUSTER_ISSUERS,
            None,
            issuer("cluster-ca", {"ca": {"secretName": "cluster-ca-key-pair"}}),
        )
        acme = acme_issuer("acme", pebble)
        acme["metadata"]["namespace"] = WORKLOAD
        await admin.create(ISSUERS, WORKLOAD, acme)

        async with controller(
            install,
            log_dir,
            f"--acme-http01-listen=127.0.0.1:{pebble.http_port}",
            f"--acme-http01-solver-nameservers={pebble.dns_server}",
            f"--acme-http01-self-check-port={pebble.http_port}",
        ) as (proc, health):
            for name, ref in (("ca", ISSUERS), ("selfsigned", ISSUERS), ("acme", ISSUERS),
                              ("cluster-ca", CLUSTER_ISSUERS)):  # fmt: skip
                await wait_ready(admin, ref, name)
            await admin.create(CERTIFICATES, WORKLOAD, certificate("web", "ca"))
            await admin.create(CERTIFICATES, WORKLOAD, certificate("self", "selfsigned"))
            await admin.create(
                CERTIFICATES, WORKLOAD, certificate("wide", "cluster-ca", kind="ClusterIssuer")
            )
            await admin.create(
                CERTIFICATES, WORKLOAD, certificate("public", "acme", dns="public.example.test")
            )
            await admin.create(INGRESSES, WORKLOAD, ingress("shop", issuer_name="ca"))
            bare = make_cert_request("bare", namespace=WORKLOAD)
            await admin.create(CERTIFICATE_REQUESTS, WORKLOAD, bare.to_dict())
            for name in ("web", "self", "wide", "shop-tls"):
                await wait_ready(admin, CERTIFICATES, name)
            await wait_ready(admin, CERTIFICATES, "public", timeout=120)
            await wait_ready(admin, CERTIFICATE_REQUESTS, "bare")
            await renew(admin, "web")
            await wait_ready(admin, CERTIFICATES, "web", revision=2)
            assert probe(health, "/livez") == 200
            assert probe(health, "/readyz") == 200
            lease = await admin.get(LEASES, install.namespace, "certsmith-controller")
            assert lease["spec"]["holderIdentity"]
        log = proc.log()
        objects = await made_objects(admin)

    assert rbac_denials(log) == []
    assert denied(install) == []
    calls = install.recorder.calls()
    # The recording saw the pipeline's work, so the check above had something to check.
    assert {
        Call("watch", "cert-manager.io", "certificates", "", False),
        Call("update", "cert-manager.io", "certificaterequests", "status", True),
        Call("create", "acme.cert-manager.io", "orders", "", True),
        Call("create", "acme.cert-manager.io", "challenges", "", True),
        Call("patch", "", "secrets", "", True),
        Call("update", "coordination.k8s.io", "leases", "", True),
        Call("watch", "cert-manager.io", "clusterissuers", "", False),
        Call("create", "cert-manager.io", "certificates", "", True),
        Call("watch", "networking.k8s.io", "ingresses", "", False),
    } <= calls, sorted(calls)
    finalizers = finalizer_calls(install, objects)
    owners = {(c.group, c.resource) for c, _ in finalizers}
    assert {
        ("cert-manager.io", "certificates"),
        ("cert-manager.io", "certificaterequests"),
        ("networking.k8s.io", "ingresses"),
    } <= owners, owners
    policy = install.policy()
    for call, namespace in sorted(finalizers):
        assert policy.allows(install.user, call.attributes(namespace)), call


async def test_namespaced_overlay_works_with_roles_only(tmp_path: Path, log_dir: Path) -> None:
    async with installed(tmp_path, "namespaced", WORKLOAD) as install:
        assert not [
            o for o in install.objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")
        ]
        admin = install.admin
        await ca_secret(admin, WORKLOAD, "ca-key-pair")
        await admin.create(
            ISSUERS, WORKLOAD, issuer("ca", {"ca": {"secretName": "ca-key-pair"}}, WORKLOAD)
        )
        # Another namespace's objects: a Role-only identity must never touch them.
        await admin.create(NAMESPACES, None, {"metadata": {"name": "team-b"}})
        await ca_secret(admin, "team-b", "ca-key-pair")
        await admin.create(
            ISSUERS, "team-b", issuer("ca", {"ca": {"secretName": "ca-key-pair"}}, "team-b")
        )

        async with controller(install, log_dir) as (proc, _):
            await wait_ready(admin, ISSUERS, "ca")
            await admin.create(CERTIFICATES, WORKLOAD, certificate("web", "ca"))

            # The approval check is cluster-scoped, so with Roles only the built-in approver is
            # refused; another approver (here the admin, as cmctl approve) approves.
            async def requested() -> bool:
                with contextlib.suppress(ApiError):
                    await admin.get(CERTIFICATE_REQUESTS, WORKLOAD, "web-1")
                    return True
                return False

            await eventually_async(requested, timeout=30, interval=0.1)
            await approve(admin, "web-1")
            await wait_ready(admin, CERTIFICATES, "web")

            # With the approval grant docs/deploy.md gives, the built-in approver works too.
            await grant_approval(admin, WORKLOAD)
            await admin.create(CERTIFICATES, WORKLOAD, certificate("auto", "ca"))
            await wait_ready(admin, CERTIFICATES, "auto")
        log = proc.log()
        team_b = await admin.get(ISSUERS, "team-b", "ca")

    assert rbac_denials(log) == []
    assert denied(install) == []
    assert {a.namespace for a in install.recorder.seen if a.is_resource_request} == {WORKLOAD}
    assert not is_true(team_b, "Ready")


async def grant_approval(admin: HttpKubeClient, namespace: str) -> None:
    """docs/deploy.md's approval grant for a namespaced install (kubectl create clusterrole
    ... / clusterrolebinding ...)."""
    await admin.create(
        RBAC_REFS["ClusterRole"],
        None,
        {
            "metadata": {"name": "certsmith-approve-issuers"},
            "rules": [
                {
                    "apiGroups": ["cert-manager.io"],
                    "resources": ["signers"],
                    "verbs": ["approve"],
                    "resourceNames": ["issuers.cert-manager.io/*"],
                }
            ],
        },
    )
    await admin.create(
        RBAC_REFS["ClusterRoleBinding"],
        None,
        {
            "metadata": {"name": f"certsmith-approve-issuers-{namespace}"},
            "roleRef": {
                "apiGroup": RBAC,
                "kind": "ClusterRole",
                "name": "certsmith-approve-issuers",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "certsmith", "namespace": namespace}],
        },
    )


GATEWAY: Final = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {
        "name": "gw",
        "namespace": WORKLOAD,
        "annotations": {"cert-manager.io/issuer": "ca"},
    },
    "spec": {
        "gatewayClassName": "example",
        "listeners": [
            {
                "name": "https",
                "hostname": "g.example.com",
                "port": 443,
                "protocol": "HTTPS",
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [{"kind": "Secret", "group": "", "name": "g-tls"}],
                },
            }
        ],
    },
}
ISTIO_GATEWAY: Final = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Gateway",
    "metadata": {
        "name": "mesh",
        "namespace": WORKLOAD,
        "annotations": {"cert-manager.io/issuer": "ca"},
    },
    "spec": {
        "selector": {"istio": "ingressgateway"},
        "servers": [
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": ["mesh.example.com"],
                "tls": {"mode": "SIMPLE", "credentialName": "mesh-cred"},
            }
        ],
    },
}


async def test_the_documented_rules_cover_the_gateway_shims(tmp_path: Path, log_dir: Path) -> None:
    async with installed(tmp_path, "cluster", "cert-manager") as install:
        admin = install.admin
        role = await admin.get(RBAC_REFS["ClusterRole"], None, "certsmith-controller")
        role["rules"].extend(documented_optional_rules())
        await admin.replace(RBAC_REFS["ClusterRole"], None, "certsmith-controller", role)
        for obj in install.objects:
            if obj["kind"] == "ClusterRole" and obj["metadata"]["name"] == "certsmith-controller":
                obj["rules"] = role["rules"]
        await ca_secret(admin, WORKLOAD, "ca-key-pair")
        await admin.create(
            ISSUERS, WORKLOAD, issuer("ca", {"ca": {"secretName": "ca-key-pair"}}, WORKLOAD)
        )
        async with controller(
            install, log_dir, "--enable-gateway-api", "--enable-istio-gateway"
        ) as (proc, _):
            await admin.create(GATEWAYS, WORKLOAD, GATEWAY)
            await admin.create(ISTIO_GATEWAYS, WORKLOAD, ISTIO_GATEWAY)

            async def made() -> bool:
                with contextlib.suppress(ApiError):
                    await admin.get(CERTIFICATES, WORKLOAD, "g-tls")
                    await admin.get(CERTIFICATES, WORKLOAD, "mesh-cred")
                    return True
                return False

            await eventually_async(made, timeout=30, interval=0.1)
            await wait_ready(admin, CERTIFICATES, "g-tls")
            await wait_ready(admin, CERTIFICATES, "mesh-cred")
        log = proc.log()
        objects = await made_objects(admin)

    assert rbac_denials(log) == []
    assert denied(install) == []
    calls = install.recorder.calls()
    assert Call("watch", "gateway.networking.k8s.io", "gateways", "", False) in calls
    assert Call("watch", "networking.istio.io", "gateways", "", False) in calls
    policy = install.policy()
    finalizers = finalizer_calls(install, objects)
    assert {c.group for c, _ in finalizers} >= {"gateway.networking.k8s.io", "networking.istio.io"}
    for call, namespace in sorted(finalizers):
        assert policy.allows(install.user, call.attributes(namespace)), call


@pytest.mark.parametrize(
    ("overlay", "ref", "verb", "namespace", "message"),
    [
        ("cluster", CLUSTER_ISSUERS, "create", None,
         'create resource "clusterissuers" in API group "cert-manager.io" at the cluster scope'),
        ("cluster", LEASES, "list", "kube-system",
         'list resource "leases" in API group "coordination.k8s.io" in the namespace '
         '"kube-system"'),
        ("namespaced", SECRETS, "list", "team-b",
         'list resource "secrets" in API group "" in the namespace "team-b"'),
        ("namespaced", CERTIFICATES, "list", None,
         'list resource "certificates" in API group "cert-manager.io" at the cluster scope'),
    ],
)  # fmt: skip
async def test_a_request_outside_the_rules_is_refused(
    tmp_path: Path, overlay: str, ref: ResourceRef, verb: str, namespace: str | None, message: str
) -> None:
    install_ns = WORKLOAD if overlay == "namespaced" else "cert-manager"
    async with installed(tmp_path, overlay, install_ns) as install:
        client = await install.as_service_account()

        async def call() -> object:
            if verb == "create":
                return await client.create(ref, namespace, issuer("x", {"selfSigned": {}}))
            return await client.list(ref, namespace)

        try:
            with pytest.raises(ApiError) as exc:
                await call()
        finally:
            await client.aclose()

    assert exc.value.code == 403
    assert f'User "system:serviceaccount:{install_ns}:certsmith" cannot {message}' in str(exc.value)


def test_the_recorded_calls_are_checked_by_rule_not_by_name_only() -> None:
    # The evaluator used above refuses what the manifests do not grant (a check that can fail).
    objects = rendered("namespaced", WORKLOAD)
    install = Install(None, None, WORKLOAD, objects, Path(), Recorder(None, ""))  # type: ignore[arg-type]
    policy = install.policy()
    user = install.user

    assert policy.allows(user, Call("watch", "", "secrets", "", True).attributes(WORKLOAD))
    assert not policy.allows(user, Call("watch", "", "secrets", "", True).attributes("team-b"))
    assert not policy.allows(user, Call("update", "", "secrets", "", True).attributes(WORKLOAD))
    assert not policy.allows(
        user,
        Call("update", "coordination.k8s.io", "leases", "", True).attributes(WORKLOAD, "other"),
    )
