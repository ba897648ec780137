"""Composition root: the API server, the controllers, or both, wired into one process.

What this module decides, and why:

* ``certsmith serve`` runs the embedded API server *and* the controllers in one process, but the
  controllers still talk to the server over HTTP through :class:`HttpKubeClient`, as the
  controller identity: by default plain HTTP on ``<data-dir>/controller.sock``, where the server
  authenticates every connection as that identity (no TLS per request, docs/decisions.md), or
  with ``CERTSMITH_CONTROLLER_TRANSPORT=https`` over HTTPS with the client certificate the server
  minted (``<data-dir>/controller.kubeconfig``), for comparison. Standalone and cluster mode are
  one code path either way: only the client's transport differs, and RBAC/admission apply to the
  controllers exactly as they would on a cluster.
* Start-up order: server first (controllers need an answering API), then controllers.
  Shut-down order is the reverse, so in-flight reconciles can still write their status.
* ``certsmith controller`` runs the same controllers against any Kubernetes API, optionally
  behind leader election on a Lease; losing the lease ends the process (as client-go programs
  do) instead of rejoining with stale caches. With ``namespace`` it acts in that namespace only
  (cert-manager's ``--namespace``); ``serve`` has no such mode, since its controllers run with
  an identity the server itself grants cluster-wide.
* Metrics (:mod:`certsmith.util.metrics`): one registry per ``run_serve`` / ``run_controller``,
  made current for everything the controllers run. ``serve`` mounts ``/metrics`` on the API
  port (behind its authentication) and answers ``/readyz`` from the controllers' readiness;
  ``controller`` serves plain-HTTP ``/metrics`` and probes on cert-manager's listen addresses.
  Either may add a plain-HTTP metrics listener (``metrics_listen``).
* This is the only module (with ``cli/``) that sees both ``apiserver`` and ``controllers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from certsmith.api.errors import CertsmithError
from certsmith.apiserver.http.app import ExtraRoute
from certsmith.apiserver.server import (
    CONTROLLER_KUBECONFIG_NAME,
    CONTROLLER_SOCKET_NAME,
    MAX_UNIX_PATH,
    ApiServer,
)
from certsmith.app.controllerprocess import METRICS_SOCKET_NAME, ControllerProcess
from certsmith.client.errors import ConfigError
from certsmith.client.http import HttpKubeClient
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import ResourceRef
from certsmith.controllers.acme.http01 import Http01Responder
from certsmith.controllers.acme.wiring import AcmeOptions
from certsmith.controllers.approver import (
    DEFAULT_APPROVE_SIGNER_NAMES as DEFAULT_APPROVE_SIGNER_NAMES,
)
from certsmith.controllers.certificates.wiring import DEFAULT_BACKOFF
from certsmith.controllers.metrics import Readiness, metrics_routes, probe_routes, watch_manager
from certsmith.controllers.runtime.leader import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    LeaderElector,
)
from certsmith.controllers.runtime.manager import Manager
from certsmith.controllers.setup import (
    DEFAULT_CLUSTER_RESOURCE_NAMESPACE as DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
)
from certsmith.controllers.setup import (
    ControllerOptions,
    available_controllers,
    build_manager,
    parse_controllers,
)
from certsmith.controllers.shims.sync import ShimOptions
from certsmith.issuers import registry
from certsmith.util.clock import Clock, SystemClock, following
from certsmith.util.metrics import Metrics, activated
from certsmith.util.metricsserver import (
    Handler,
    PlainHttpServer,
    UnixHttpServer,
    metrics_handler,
    probe_handler,
)
from certsmith.web.pages import WebUI

log = logging.getLogger(__name__)

DEFAULT_CONTROLLERS: Final = "*"
DEFAULT_LEASE_NAME: Final = "certsmith-controller"
"""Not cert-manager's ``cert-manager-controller``: certsmith must not fight a real cert-manager."""
DEFAULT_LEASE_NAMESPACE: Final = "kube-system"

CONTROLLER_ROLE: Final = "certsmith:controller"
CONTROLLER_TRANSPORT_ENV: Final = "CERTSMITH_CONTROLLER_TRANSPORT"
"""``unix`` (default: ``controller.sock``) or ``https`` (``controller.kubeconfig``), for benches."""
_CONTROLLER_TRANSPORTS: Final = ("unix", "https")
_CLUSTER_ROLES: Final = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", False)


class StartupError(CertsmithError):
    """The process cannot start: a port is taken, a kubeconfig is unusable, a flag is wrong."""


@dataclass(frozen=True)
class LeaderElection:
    """Leader election settings (client-go's names and defaults)."""

    namespace: str = DEFAULT_LEASE_NAMESPACE
    name: str = DEFAULT_LEASE_NAME
    lease_duration: float = LEASE_DURATION
    renew_deadline: float = RENEW_DEADLINE
    retry_period: float = RETRY_PERIOD
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{uuid.uuid4()}")

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period:g}s / {self.renew_deadline:g}s / {self.lease_duration:g}s"
            )


def controller_options(
    controllers: str = DEFAULT_CONTROLLERS,
    *,
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    approve_signer_names: Sequence[str] = DEFAULT_APPROVE_SIGNER_NAMES,
    namespace: str | None = None,
    certificate_request_backoff: tuple[dt.timedelta, dt.timedelta] = DEFAULT_BACKOFF,
    clock: Clock | None = None,
    acme: AcmeOptions | None = None,
    shims: ShimOptions | None = None,
) -> ControllerOptions | None:
    """The controllers' options from command-line values, or ``None`` for ``--controllers=none``.

    The selection is checked here, before anything starts, so a typo fails fast.
    ``certificate_request_backoff`` is (minimum, maximum) failed-issuance backoff; ``clock``
    the controllers' time (the wall clock unless a test moves it, ``--clock-offset-file``).

    Raises:
        StartupError: the ``--controllers`` value names an unknown controller or is malformed,
            or the minimum backoff exceeds the maximum.
    """
    minimum, maximum = certificate_request_backoff
    if minimum <= dt.timedelta(0) or minimum > maximum:
        raise StartupError(
            "--certificate-request-minimum-backoff-duration must be positive and at most "
            "--certificate-request-maximum-backoff-duration"
        )
    try:
        enabled = parse_controllers(controllers, available_controllers(registry.load()))
    except ValueError as exc:
        raise StartupError(f"--controllers: {exc}") from exc
    if not enabled:
        return None
    return ControllerOptions(
        controllers=controllers,
        cluster_resource_namespace=cluster_resource_namespace,
        approve_signer_names=tuple(approve_signer_names),
        namespace=namespace,
        certificate_request_minimum_backoff=minimum,
        certificate_request_maximum_backoff=maximum,
        clock=clock or SystemClock(),
        acme=acme or AcmeOptions(),
        shims=shims or ShimOptions(),
    )


async def _run_manager(manager: Manager, stop: asyncio.Event) -> None:
    """Run ``manager`` until ``stop`` is set; the manager then shuts down gracefully."""
    runner = asyncio.ensure_future(manager.run())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((runner, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        manager.stop()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
        await runner  # re-raises a manager failure


Address = tuple[str, int]


async def _listen(
    address: Address, routes: list[tuple[str, Handler]], what: str
) -> PlainHttpServer:
    """A started plain-HTTP listener for ``routes``.

    Raises:
        StartupError: the address cannot be bound.
    """
    server = PlainHttpServer(*address, routes)
    try:
        await server.start()
    except OSError as exc:
        host, port = address
        raise StartupError(
            f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}"
        ) from exc
    log.info("serving %s on %s", what, server.url)
    return server


@contextlib.asynccontextmanager
async def _http01(
    options: ControllerOptions | None, address: Address | None
) -> AsyncIterator[None]:
    """The HTTP-01 responder on ``address`` while the controllers run (none without either)."""
    if options is None or address is None:
        yield
        return
    responder = Http01Responder(options.acme.http01, *address)
    try:
        await responder.start()
    except OSError as exc:
        host, port = address
        raise StartupError(
            f"cannot listen on {host}:{port} for ACME HTTP-01: {exc.strerror or exc}"
        ) from exc
    try:
        yield
    finally:
        await responder.stop()


@contextlib.asynccontextmanager
async def _endpoints(
    metrics: Metrics,
    readiness: Readiness,
    metrics_listen: Address | None,
    health_listen: Address | None,
) -> AsyncIterator[None]:
    """The controller process's plain-HTTP listeners, with ``metrics`` current inside."""
    servers: list[PlainHttpServer] = []
    try:
        if metrics_listen is not None:
            servers.append(await _listen(metrics_listen, metrics_routes(metrics), "metrics"))
        if health_listen is not None:
            servers.append(await _listen(health_listen, probe_routes(readiness), "health probes"))
        with activated(metrics):
            yield
    finally:
        for server in servers:
            await server.stop()


async def _grant_approval(client: KubeClient, signer_names: Sequence[str]) -> None:
    """Give the controller identity ``approve`` on ``signer_names`` (empty: on every signer).

    The server bootstraps cert-manager's Helm default; this replaces that one rule, as the Helm
    value ``approveSignerNames`` does. It runs at every start because the server re-asserts its
    bootstrap policy at start.
    """
    role = await client.get(_CLUSTER_ROLES, None, CONTROLLER_ROLE)
    wanted: dict[str, object] = {
        "apiGroups": ["cert-manager.io"],
        "resources": ["signers"],
        "verbs": ["approve"],
    }
    if signer_names:
        wanted["resourceNames"] = list(signer_names)
    rules = [r for r in role.get("rules") or [] if "signers" not in (r.get("resources") or [])]
    role["rules"] = [*rules, wanted]
    await client.replace(_CLUSTER_ROLES, None, CONTROLLER_ROLE, role)


async def run_serve(
    data_dir: Path,
    host: str,
    port: int,
    *,
    controllers: str = DEFAULT_CONTROLLERS,
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    approve_signer_names: Sequence[str] = DEFAULT_APPROVE_SIGNER_NAMES,
    certificate_request_backoff: tuple[dt.timedelta, dt.timedelta] = DEFAULT_BACKOFF,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[ApiServer], None] | None = None,
    extra_routes: Sequence[ExtraRoute] = (),
    ui: bool = True,
    metrics_listen: Address | None = None,
    metrics: Metrics | None = None,
    acme: AcmeOptions | None = None,
    shims: ShimOptions | None = None,
    acme_http01_listen: Address | None = None,
    controllers_command: Sequence[str] | None = None,
) -> None:
    """Run the embedded API server and, unless disabled, the controllers until ``stop``.

    Args:
        data_dir: the server's state directory.
        host: the address to listen on.
        port: the port (0 picks a free one).
        controllers: cert-manager's ``--controllers`` syntax; ``none`` serves the API alone.
        cluster_resource_namespace: where ClusterIssuers' Secrets live.
        approve_signer_names: signers the built-in approver may approve (empty: all).
        certificate_request_backoff: (minimum, maximum) failed-issuance backoff.
        clock: the controllers' time; ``None`` is the wall clock.
        stop: set it to shut down; ``None`` runs until cancelled.
        on_ready: called once the server answers (and before the controllers start).
        extra_routes: routes served beside the API, behind its authentication.
        ui: serve the web view at ``/ui`` (:mod:`certsmith.web`); who may open it is RBAC's
            ``/ui``, ``/ui/*`` non-resource URLs. It reads (only GET and LIST) with the admin
            identity: the controllers' may not list Events, which the drill-down shows.
        metrics_listen: also serve ``/metrics`` over plain HTTP, without authentication, here
            (``/metrics`` on the API port needs RBAC's ``/metrics`` non-resource URL).
        metrics: the registry to record into and serve; ``None`` makes a fresh one.
        acme: the ACME controllers' settings (self-checks, DNS-01, concurrency).
        shims: the certificate shims' settings (default issuer, Gateway opt-ins).
        acme_http01_listen: answer ACME HTTP-01 challenges on this plain-HTTP address.
        controllers_command: run the controllers as this child process
            (:mod:`certsmith.app.controllerprocess`; ``certsmith serve-controllers`` with the
            same settings) instead of in this one; it then also owns ``metrics_listen`` and
            ``acme_http01_listen``. ``None`` runs them here.

    Raises:
        StartupError: the controllers' settings are wrong or the listener cannot bind.
        Exception: a controller failure that ended the manager.
    """
    options = controller_options(
        controllers,
        cluster_resource_namespace=cluster_resource_namespace,
        approve_signer_names=approve_signer_names,
        certificate_request_backoff=certificate_request_backoff,
        clock=clock,
        acme=acme,
        shims=shims,
    )
    transport = os.environ.get(CONTROLLER_TRANSPORT_ENV) or "unix"
    if transport not in _CONTROLLER_TRANSPORTS:
        raise StartupError(
            f"{CONTROLLER_TRANSPORT_ENV}={transport!r}: expected one of "
            + ", ".join(_CONTROLLER_TRANSPORTS)
        )
    stop = stop or asyncio.Event()
    web_ui = WebUI(clock or SystemClock()) if ui else None
    web_routes = [ExtraRoute(*route) for route in web_ui.routes()] if web_ui else []
    metrics = metrics or Metrics(options.clock if options else clock)
    readiness = Readiness()
    child = _controller_process(data_dir, options, controllers_command)
    if child is None:
        own_routes = [
            ExtraRoute("GET", "/metrics", metrics_handler(metrics)),
            ExtraRoute(
                "GET",
                "/readyz",
                probe_handler(lambda: options is None or readiness(), "controllers not ready"),
            ),
        ]
    else:
        own_routes = [
            ExtraRoute("GET", "/metrics", child.metrics_handler()),
            ExtraRoute("GET", "/readyz", child.readiness_handler()),
        ]
    server = ApiServer(data_dir, host, port, extra_routes=[*extra_routes, *web_routes, *own_routes])
    ui_client: HttpKubeClient | None = None
    plain: PlainHttpServer | None = None
    approvals = tuple(approve_signer_names) != DEFAULT_APPROVE_SIGNER_NAMES
    try:
        if child is not None and not approvals:
            # Started first, so its imports overlap the server's start; it waits for the socket.
            await child.start()
        try:
            await server.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        if web_ui is not None:
            ui_client = HttpKubeClient.from_kubeconfig(server.kubeconfig_path)
            web_ui.attach(ui_client)
        if metrics_listen is not None and child is None:
            plain = await _listen(metrics_listen, metrics_routes(metrics), "metrics")
        if on_ready is not None:
            on_ready(server)
        if options is None:
            log.info("controllers disabled (--controllers=none); serving the API only")
            await stop.wait()
            return
        if approvals:
            async with HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as admin:
                await _grant_approval(admin, approve_signer_names)
        if child is not None:
            if approvals:
                await child.start()  # only now: its approver must see the granted signers
            await stop.wait()
            return
        async with (
            _serve_controller_client(server, transport) as client,
            following(options.clock),
            _http01(options, acme_http01_listen),
        ):
            await _run_controllers(client, options, metrics, readiness, stop)
    finally:
        if child is not None:
            await child.stop()
        if plain is not None:
            await plain.stop()
        if web_ui is not None and ui_client is not None:
            web_ui.detach()
            await ui_client.aclose()
        await server.stop()


async def _run_controllers(
    client: KubeClient,
    options: ControllerOptions,
    metrics: Metrics,
    readiness: Readiness,
    stop: asyncio.Event,
) -> None:
    with activated(metrics):
        manager = build_manager(client, options=options)
        watch_manager(metrics, manager, readiness=readiness, backoff=_backoff(options))
        await _run_manager(manager, stop)


def _controller_process(
    data_dir: Path, options: ControllerOptions | None, command: Sequence[str] | None
) -> ControllerProcess | None:
    """The child process to run the controllers in, if one was asked for and can be used."""
    if options is None or command is None:
        return None
    relay = (data_dir / METRICS_SOCKET_NAME).absolute()
    if len(os.fsencode(relay)) > MAX_UNIX_PATH:
        log.warning("data directory path too long for %s; controllers run in-process", relay)
        return None
    return ControllerProcess(command, relay)


async def run_serve_controllers(
    data_dir: Path,
    *,
    controllers: str = DEFAULT_CONTROLLERS,
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    approve_signer_names: Sequence[str] = DEFAULT_APPROVE_SIGNER_NAMES,
    certificate_request_backoff: tuple[dt.timedelta, dt.timedelta] = DEFAULT_BACKOFF,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    metrics_listen: Address | None = None,
    acme: AcmeOptions | None = None,
    shims: ShimOptions | None = None,
    acme_http01_listen: Address | None = None,
    connect_timeout: float = 120.0,
) -> None:
    """The child half of ``serve``: its controllers, against the server in ``data_dir``.

    It waits for the server's ``controller.sock`` (or, with the HTTPS transport, its
    controller kubeconfig), answers ``/metrics`` and ``/readyz`` on
    ``<data-dir>/controller-metrics.sock`` for ``serve`` to relay, and runs until ``stop``.

    Raises:
        StartupError: bad settings, the server never answered, or a listener cannot bind.
    """
    options = controller_options(
        controllers,
        cluster_resource_namespace=cluster_resource_namespace,
        approve_signer_names=approve_signer_names,
        certificate_request_backoff=certificate_request_backoff,
        clock=clock,
        acme=acme,
        shims=shims,
    )
    if options is None:
        raise StartupError("--controllers=none: there is nothing to run")
    stop = stop or asyncio.Event()
    transport = os.environ.get(CONTROLLER_TRANSPORT_ENV) or "unix"
    metrics = Metrics(options.clock)
    readiness = Readiness()
    relay = UnixHttpServer(
        (data_dir / METRICS_SOCKET_NAME).absolute(),
        [*metrics_routes(metrics), *probe_routes(readiness)],
    )
    await relay.start()
    plain: PlainHttpServer | None = None
    try:
        client = await _await_server(data_dir, transport, stop, connect_timeout)
        if client is None:
            return
        if metrics_listen is not None:
            plain = await _listen(metrics_listen, metrics_routes(metrics), "metrics")
        async with client, following(options.clock), _http01(options, acme_http01_listen):
            await _run_controllers(client, options, metrics, readiness, stop)
    finally:
        if plain is not None:
            await plain.stop()
        await relay.stop()


async def _await_server(
    data_dir: Path, transport: str, stop: asyncio.Event, patience: float
) -> HttpKubeClient | None:
    """A client once serve's controller endpoint answers; ``None`` if stopped first.

    Raises:
        StartupError: nothing answered within ``patience`` seconds.
    """
    sock = (data_dir / CONTROLLER_SOCKET_NAME).absolute()
    kubeconfig = data_dir / CONTROLLER_KUBECONFIG_NAME
    use_socket = transport == "unix" and len(os.fsencode(sock)) <= MAX_UNIX_PATH
    deadline = asyncio.get_running_loop().time() + patience
    while not stop.is_set():
        if use_socket:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_unix_connection(str(sock))
                writer.close()
                log.info("controllers reach the API over %s", sock)
                return HttpKubeClient.from_unix_socket(sock, qps=0)
        elif kubeconfig.exists():
            log.info("controllers reach the API with %s", kubeconfig)
            return HttpKubeClient.from_kubeconfig(kubeconfig)
        if asyncio.get_running_loop().time() > deadline:
            raise StartupError(f"the API server in {data_dir} did not answer in {patience:.0f}s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)
    return None


def _serve_controller_client(server: ApiServer, transport: str) -> HttpKubeClient:
    """The controllers' client in ``serve``: ``controller.sock`` unless HTTPS is asked for.

    HTTPS is also the fallback when the server has no socket (a data directory path too long
    for one); the identity, and so what RBAC allows, is the same on both.
    """
    if transport == "unix" and server.controller_socket is not None:
        log.info("controllers reach the API over %s", server.controller_socket)
        # No client-side rate limit on the server's own socket: the limiter protects a shared
        # API server from a runaway loop, while here it only delayed a burst's own requests
        # (~24 per Certificate met its 200/s). The workers' count bounds the concurrency.
        return HttpKubeClient.from_unix_socket(server.controller_socket, qps=0)
    log.info("controllers reach the API over %s", server.url)
    return HttpKubeClient.from_kubeconfig(server.controller_kubeconfig_path)


def _backoff(options: ControllerOptions) -> tuple[dt.timedelta, dt.timedelta]:
    return (
        options.certificate_request_minimum_backoff,
        options.certificate_request_maximum_backoff,
    )


def controller_client(kubeconfig: Path | None) -> HttpKubeClient:
    """A client from ``kubeconfig``, or from the pod's service account when it is ``None``.

    Raises:
        StartupError: no kubeconfig and not in a cluster, or the configuration is unusable.
    """
    if kubeconfig is None:
        if not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise StartupError(
                "no --kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST is "
                "unset); pass --kubeconfig FILE"
            )
        try:
            return HttpKubeClient.in_cluster()
        except ConfigError as exc:
            raise StartupError(f"in-cluster configuration: {exc}") from exc
    try:
        return HttpKubeClient.from_kubeconfig(kubeconfig)
    except ConfigError as exc:
        raise StartupError(str(exc)) from exc


async def run_controller(
    kubeconfig: Path | None,
    *,
    controllers: str = DEFAULT_CONTROLLERS,
    cluster_resource_namespace: str = DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
    approve_signer_names: Sequence[str] = DEFAULT_APPROVE_SIGNER_NAMES,
    namespace: str | None = None,
    certificate_request_backoff: tuple[dt.timedelta, dt.timedelta] = DEFAULT_BACKOFF,
    clock: Clock | None = None,
    leader_election: LeaderElection | None = None,
    stop: asyncio.Event | None = None,
    metrics_listen: Address | None = None,
    health_listen: Address | None = None,
    metrics: Metrics | None = None,
    acme: AcmeOptions | None = None,
    shims: ShimOptions | None = None,
    acme_http01_listen: Address | None = None,
) -> None:
    """Run the controllers against a Kubernetes API until ``stop``.

    Args:
        kubeconfig: a kubeconfig file; ``None`` uses the in-cluster service account.
        controllers: cert-manager's ``--controllers`` syntax.
        cluster_resource_namespace: where ClusterIssuers' Secrets live.
        approve_signer_names: signers the built-in approver approves (empty: all); the
            cluster's RBAC must grant ``approve`` on them.
        namespace: watch and act only in this namespace, without ClusterIssuers; ``None``
            covers the whole cluster.
        certificate_request_backoff: (minimum, maximum) failed-issuance backoff.
        clock: the controllers' time; ``None`` is the wall clock (leases always use it).
        leader_election: run only while holding this Lease; ``None`` runs unconditionally.
        stop: set it to shut down; ``None`` runs until cancelled.
        metrics_listen: serve plain-HTTP ``/metrics`` here (``--metrics-listen-address``).
        health_listen: serve ``/livez`` and ``/readyz`` here (``--health-probe-bind-address``).
        metrics: the registry to record into and serve; ``None`` makes a fresh one.
        acme: the ACME controllers' settings (self-checks, DNS-01, concurrency).
        shims: the certificate shims' settings (default issuer, Gateway opt-ins).
        acme_http01_listen: answer ACME HTTP-01 challenges on this plain-HTTP address.

    Raises:
        StartupError: bad settings, no usable cluster configuration, ``--controllers=none``,
            or a listen address that cannot be bound.
        LeadershipLostError: the lease could not be renewed; the controllers were stopped.
    """
    options = controller_options(
        controllers,
        cluster_resource_namespace=cluster_resource_namespace,
        approve_signer_names=approve_signer_names,
        namespace=namespace,
        certificate_request_backoff=certificate_request_backoff,
        clock=clock,
        acme=acme,
        shims=shims,
    )
    if options is None:
        raise StartupError("--controllers=none leaves nothing to run")
    stop = stop or asyncio.Event()
    metrics = metrics or Metrics(options.clock)
    readiness = Readiness()
    async with (
        controller_client(kubeconfig) as client,
        following(options.clock),
        _endpoints(metrics, readiness, metrics_listen, health_listen),
        _http01(options, acme_http01_listen),
    ):
        manager = build_manager(client, options=options)
        watch_manager(metrics, manager, readiness=readiness, backoff=_backoff(options))
        if leader_election is None:
            await _run_manager(manager, stop)
            return
        elector = LeaderElector(
            client,
            namespace=leader_election.namespace,
            name=leader_election.name,
            identity=leader_election.identity,
            clock=SystemClock(),
            lease_duration=leader_election.lease_duration,
            renew_deadline=leader_election.renew_deadline,
            retry_period=leader_election.retry_period,
        )
        log.info(
            "waiting to acquire lease %s/%s as %s",
            leader_election.namespace,
            leader_election.name,
            leader_election.identity,
        )
        readiness.elector = elector
        election = asyncio.ensure_future(elector.run(lambda: _run_manager(manager, stop)))
        readiness.election = election
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((election, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not election.done() and not elector.is_leader:
                # Still waiting for the lease: nothing runs that needs a graceful stop.
                election.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await election
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
