"""Composition of the API server: store + registry + PKI + HTTPS listener + kubeconfig.

:class:`ApiServer` is what ``certsmith serve`` and the test fixtures run. Start-up order
matters to clients: the store opens, the built-in namespaces are seeded, the listener binds,
and only then is ``<data-dir>/kubeconfig`` written, so a client that waits for the file
finds a server that answers.

Besides HTTPS, the same application listens on ``<data-dir>/controller.sock``: plain HTTP on a
0600 Unix domain socket where every connection is the controllers' identity, so ``serve``'s
in-process controllers skip TLS on each request (docs/decisions.md, "Controller socket").
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from aiohttp import web

from certsmith.api.crds import load_crds
from certsmith.api.meta import JSONObject
from certsmith.apiserver.auth import Authenticator, authenticated_user
from certsmith.apiserver.customresources import CustomResourceController
from certsmith.apiserver.gc import GarbageCollector
from certsmith.apiserver.http.app import ExtraRoute, create_app
from certsmith.apiserver.http.context import ApiContext
from certsmith.apiserver.http.objects import prepare_create
from certsmith.apiserver.rbaccache import PolicyCache
from certsmith.apiserver.rbacpolicy import (
    CONTROLLER_GROUP,
    CONTROLLER_USER,
    ensure_bootstrap_policy,
)
from certsmith.apiserver.resources import ResourceRegistry, default_registry
from certsmith.apiserver.storage import AlreadyExistsError, ObjectKey, Store
from certsmith.apiserver.tls import ServerPKI, ensure_pki, ensure_private_dir, write_private

_log = logging.getLogger(__name__)

SEED_NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBECONFIG_NAME: Final = "kubeconfig"
CONTROLLER_KUBECONFIG_NAME: Final = "controller.kubeconfig"
"""``<data-dir>/controller.kubeconfig``: the controllers' identity (``certsmith:controller``)."""
CONTROLLER_SOCKET_NAME: Final = "controller.sock"
"""``<data-dir>/controller.sock``: plain HTTP as the controllers' identity, for ``serve``."""
MAX_UNIX_PATH: Final = 107  # sun_path is 108 bytes on Linux, with the terminating NUL
ADMIN_USER: Final = "admin"
ADMIN_GROUPS: Final = ("system:masters",)


def project_crds() -> list[JSONObject]:
    """The cert-manager CRDs the project ships, generated from its models."""
    return load_crds()


def url_host(host: str) -> str:
    """A host as it appears in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_kubeconfig(
    server_url: str, ca_pem: bytes, user: str, cert_pem: bytes, key_pem: bytes
) -> dict[str, Any]:
    """A kubeconfig with one cluster, one client-certificate user and one context."""
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "certsmith",
                "cluster": {"server": server_url, "certificate-authority-data": b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(cert_pem),
                    "client-key-data": b64(key_pem),
                },
            }
        ],
        "contexts": [{"name": "certsmith", "context": {"cluster": "certsmith", "user": user}}],
        "current-context": "certsmith",
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: Mapping[str, Any]) -> None:
    """Write a kubeconfig readable by its owner only."""
    write_private(path, yaml.safe_dump(dict(config), sort_keys=False).encode())


def mint_kubeconfig(
    pki: ServerPKI, server_url: str, user: str, groups: Sequence[str] = ()
) -> dict[str, Any]:
    """A kubeconfig for ``user`` (in ``groups``) with a fresh client certificate."""
    cert, key = pki.issue(user, organizations=tuple(groups))
    return build_kubeconfig(server_url, pki.ca_pem(), user, cert, key)


def bind_private_unix_socket(path: Path) -> socket.socket:
    """A listening-ready Unix socket at ``path``, mode 0600, replacing a stale socket file.

    Only call it while holding the data directory's store lock: a socket file left there is
    then from a process that is gone (a crash or ``kill -9``), never from a live server.

    Raises:
        OSError: ``path`` is something other than a socket, or cannot be bound.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(errno.EEXIST, "exists and is not a socket", str(path))
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        # The directory is 0700 already, so the umask's mode never let anyone else in.
        os.chmod(path, 0o600)
    except OSError:
        sock.close()
        raise
    return sock


async def seed_namespaces(store: Store, registry: ResourceRegistry) -> None:
    """Create the namespaces every cluster has, unless they exist."""
    rt = registry.get("", "v1", "namespaces")
    assert rt is not None
    for name in SEED_NAMESPACES:
        obj = prepare_create(rt, {"metadata": {"name": name}}, "")
        with contextlib.suppress(AlreadyExistsError):
            await store.create(ObjectKey("", "namespaces", "", name), obj)


class ApiServer:
    """One running API server on HTTPS; use :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 6443,
        *,
        crds: Sequence[Mapping[str, Any]] | None = None,
        bookmark_interval: float = 60.0,
        extra_routes: Sequence[ExtraRoute] = (),
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self._crds = crds
        self._bookmark_interval = bookmark_interval
        self._extra_routes = tuple(extra_routes)
        self.store: Store | None = None
        self.context: ApiContext | None = None
        self.pki: ServerPKI | None = None
        self._runner: web.AppRunner | None = None
        self.rbac: PolicyCache | None = None
        self.crd_controller: CustomResourceController | None = None
        self.gc: GarbageCollector | None = None
        self.controller_socket: Path | None = None
        """``controller.sock`` while it listens; ``None`` if not (a path too long to bind)."""

    @property
    def url(self) -> str:
        """The server's base URL (with the port actually bound)."""
        return f"https://{url_host(self.host)}:{self.port}"

    @property
    def kubeconfig_path(self) -> Path:
        """Where the admin kubeconfig is written once the server answers."""
        return self.data_dir / KUBECONFIG_NAME

    @property
    def controller_kubeconfig_path(self) -> Path:
        """Where the controllers' kubeconfig (user ``system:certsmith:controller``) is written."""
        return self.data_dir / CONTROLLER_KUBECONFIG_NAME

    async def start(self) -> None:
        """Open the store, bind the listener, then write the admin kubeconfig."""
        ensure_private_dir(self.data_dir)
        self.kubeconfig_path.unlink(missing_ok=True)
        crds = list(self._crds) if self._crds is not None else project_crds()
        registry = default_registry(crds)
        self.pki = await asyncio.to_thread(ensure_pki, self.data_dir / "pki", self.host)
        self.store = await Store.open(self.data_dir)
        await seed_namespaces(self.store, registry)
        await ensure_bootstrap_policy(self.store, registry)
        self.rbac = PolicyCache(self.store)
        await self.rbac.start()
        self.context = ApiContext(
            store=self.store,
            registry=registry,
            authenticate=Authenticator.from_data_dir(
                self.data_dir,
                unix_socket_user=authenticated_user(CONTROLLER_USER, (CONTROLLER_GROUP,)),
            ),
            rbac=self.rbac,
            bookmark_interval=self._bookmark_interval,
        )
        # Stored CRDs are served before the listener binds; GC watches whatever is served.
        self.crd_controller = CustomResourceController(self.context)
        await self.crd_controller.install(crds)
        await self.crd_controller.start()
        self.gc = GarbageCollector(self.context)
        self.gc.start()
        app = create_app(self.context, self._extra_routes)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, ssl_context=self.pki.server_ssl_context()
        )
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.context.server_address = f"{url_host(self.host)}:{self.port}"
        await self._listen_controller_socket(self._runner)
        controller = await asyncio.to_thread(
            mint_kubeconfig, self.pki, self.url, CONTROLLER_USER, (CONTROLLER_GROUP,)
        )
        write_kubeconfig(self.controller_kubeconfig_path, controller)
        config = await asyncio.to_thread(
            mint_kubeconfig, self.pki, self.url, ADMIN_USER, ADMIN_GROUPS
        )
        write_kubeconfig(self.kubeconfig_path, config)
        _log.info("serving on %s", self.url)

    async def _listen_controller_socket(self, runner: web.AppRunner) -> None:
        """Serve the app on ``controller.sock`` too, unless its path is too long for a socket."""
        path = self.data_dir / CONTROLLER_SOCKET_NAME
        if len(os.fsencode(path.absolute())) > MAX_UNIX_PATH:
            _log.warning(
                "data directory path too long for %s; controllers will use HTTPS",
                CONTROLLER_SOCKET_NAME,
            )
            return
        site = web.SockSite(runner, bind_private_unix_socket(path.absolute()))
        await site.start()
        self.controller_socket = path.absolute()

    async def stop(self) -> None:
        """Stop listening, end background work and close the store."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.controller_socket is not None:
            self.controller_socket.unlink(missing_ok=True)
            self.controller_socket = None
        if self.gc is not None:
            await self.gc.stop()
            self.gc = None
        if self.crd_controller is not None:
            await self.crd_controller.stop()
            self.crd_controller = None
        if self.context is not None:
            for task in list(self.context.background):
                task.cancel()
            for task in list(self.context.background):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.rbac is not None:
            await self.rbac.stop()
            self.rbac = None
        if self.store is not None:
            await self.store.close()
            self.store = None
