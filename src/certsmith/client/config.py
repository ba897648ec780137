"""Where the client connects and how it authenticates: kubeconfig and in-cluster loading.

Hand-written instead of using the ``kubernetes`` package's loader (see docs/decisions.md): the
subset we accept is small and explicit — server, CA (file or data), client certificate and key
(file or data), bearer token (inline or file), ``insecure-skip-tls-verify`` and the context
namespace. Exec plugins, auth providers and basic auth are refused with a clear
:class:`~certsmith.client.errors.ConfigError` instead of being half supported.

Key material never touches a log and never outlives loading on disk: inline client keys go to a
private (0700) temp directory as 0600 files only for the ``load_cert_chain`` call, and are
removed right after it, because :class:`ssl.SSLContext` keeps them in memory.
Bearer tokens are read from files again once a minute, as client-go does, because projected
service account tokens rotate (about hourly) while the process runs for weeks.
:func:`unix_socket_config` needs no kubeconfig: ``serve``'s controller socket authenticates by
who can open it, so the configuration is only where it is.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

from certsmith.client.errors import ConfigError
from certsmith.util.clock import Clock, SystemClock
from certsmith.util.sensitive import Sensitive

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICE_ACCOUNT_DIR_ENV: Final = "CERTSMITH_SERVICE_ACCOUNT_DIR"
"""Names a directory to use instead of :data:`SERVICE_ACCOUNT_DIR`. For tests only: it lets an
end-to-end test run ``certsmith controller`` in-cluster style (no ``--kubeconfig``) against a
local server, with the token, ``ca.crt`` and ``namespace`` in a temporary directory. A pod
never needs it; the kubelet mounts the real directory."""
TOKEN_REFRESH_SECONDS: Final = 60.0


class TokenSource(Protocol):
    """Supplies the current bearer token."""

    def token(self) -> Sensitive[str]:
        """Return the token to send now.

        Raises:
            ConfigError: the token cannot be read.
        """
        ...


@dataclass(frozen=True)
class StaticToken:
    """A token given inline (kubeconfig ``token``)."""

    value: Sensitive[str]

    def token(self) -> Sensitive[str]:
        """Return the fixed token."""
        return self.value


class FileToken:
    """A token read from a file, re-read every ``refresh_seconds`` (bound tokens rotate)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        refresh_seconds: float = TOKEN_REFRESH_SECONDS,
    ) -> None:
        self.path = path
        self._clock = clock or SystemClock()
        self._refresh = refresh_seconds
        self._cached: Sensitive[str] | None = None
        self._read_at = 0.0
        self.token()  # fail at construction, not on the first request

    def token(self) -> Sensitive[str]:
        """Return the token, reading the file again when the cached copy is old.

        Raises:
            ConfigError: the file cannot be read and no earlier token is cached.
        """
        now = self._clock.now().timestamp()
        if self._cached is None or now - self._read_at >= self._refresh:
            try:
                text = self.path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                if self._cached is not None:
                    # A rotation in progress can briefly remove the file; keep the old token.
                    return self._cached
                raise ConfigError(f"cannot read token file {self.path}: {exc.strerror}") from exc
            self._cached = Sensitive(text)
            self._read_at = now
        return self._cached


@dataclass
class ClusterConfig:
    """Everything needed to open a connection: URL, TLS context, credentials, namespace."""

    server: str
    ssl_context: ssl.SSLContext | None = None
    token_source: TokenSource | None = None
    namespace: str = "default"
    insecure: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    unix_socket: Path | None = None
    """Connect to this Unix domain socket instead of ``server``'s host (``server`` names it)."""

    def __repr__(self) -> str:
        # The token source is deliberately left out.
        where = f", unix_socket={str(self.unix_socket)!r}" if self.unix_socket else ""
        return f"ClusterConfig(server={self.server!r}, namespace={self.namespace!r}{where})"


UNIX_SOCKET_SERVER: Final = "http://localhost"
"""The URL requests over a Unix socket are built against (only its Host header is sent)."""


def unix_socket_config(path: Path | str, *, namespace: str = "default") -> ClusterConfig:
    """Plain HTTP over the Unix domain socket at ``path``, without credentials.

    The server on the other end decides who the connection is (``serve``'s controller socket:
    the controllers' identity), so nothing here authenticates and no TLS is set up.
    """
    return ClusterConfig(server=UNIX_SOCKET_SERVER, namespace=namespace, unix_socket=Path(path))


def load_kubeconfig(
    path: Path | str, context: str | None = None, *, clock: Clock | None = None
) -> ClusterConfig:
    """Load a cluster configuration from a kubeconfig file.

    Relative file paths in the kubeconfig are resolved against the kubeconfig's directory, as
    kubectl does.

    Args:
        path: the kubeconfig file.
        context: the context to use; ``current-context`` when ``None``.
        clock: time source for re-reading ``tokenFile``.

    Raises:
        ConfigError: the file is missing or malformed, the context, cluster or user is missing,
            or the user uses an unsupported authentication method.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {path} is not valid YAML") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    base = path.parent
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context and none was given")
    ctx = _named(doc, "contexts", "context", name)
    cluster = _named(doc, "clusters", "cluster", _str(ctx, "cluster", f"context {name!r}"))
    user_name = ctx.get("user")
    user = _named(doc, "users", "user", user_name) if user_name else {}

    server = _str(cluster, "server", f"cluster of context {name!r}").rstrip("/")
    insecure = bool(cluster.get("insecure-skip-tls-verify", False))
    for unsupported in ("exec", "auth-provider", "username", "password"):
        if user.get(unsupported):
            raise ConfigError(
                f"user {user_name!r}: {unsupported!r} authentication is not supported; "
                "use a token, a tokenFile or a client certificate"
            )

    token_source: TokenSource | None = None
    if user.get("token"):
        token_source = StaticToken(Sensitive(str(user["token"]).strip()))
    elif user.get("tokenFile"):
        token_source = FileToken(_resolve(base, user["tokenFile"]), clock=clock)

    ssl_context: ssl.SSLContext | None = None
    if server.startswith("https://"):
        ca_pem = _pem(cluster, "certificate-authority", base, "cluster")
        ssl_context = _ssl_context(ca_pem=ca_pem, insecure=insecure)
        cert_pem = _pem(user, "client-certificate", base, "user")
        key_pem = _pem(user, "client-key", base, "user")
        if (cert_pem is None) != (key_pem is None):
            raise ConfigError(f"user {user_name!r}: client certificate and key must come together")
        if cert_pem is not None and key_pem is not None:
            load_client_certificate(ssl_context, cert_pem, Sensitive(key_pem))
    elif not server.startswith("http://"):
        raise ConfigError(f"server {server!r} must be an http:// or https:// URL")

    return ClusterConfig(
        server=server,
        ssl_context=ssl_context,
        token_source=token_source,
        namespace=str(ctx.get("namespace") or "default"),
        insecure=insecure,
    )


def load_in_cluster(
    *,
    root: Path = SERVICE_ACCOUNT_DIR,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> ClusterConfig:
    """Load the configuration a pod gets from its service account.

    Args:
        root: the service account directory holding ``token``, ``ca.crt`` and ``namespace``;
            the default one is replaced by ``$CERTSMITH_SERVICE_ACCOUNT_DIR`` if that is set
            (:data:`SERVICE_ACCOUNT_DIR_ENV`, for tests).
        environ: the environment (``KUBERNETES_SERVICE_HOST``/``_PORT``); ``os.environ`` if
            ``None``.
        clock: time source for re-reading the rotating token.

    Raises:
        ConfigError: not running in a cluster (no service host/port) or the token is unreadable.
    """
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service address
    if root == SERVICE_ACCOUNT_DIR and env.get(SERVICE_ACCOUNT_DIR_ENV):
        root = Path(env[SERVICE_ACCOUNT_DIR_ENV])
    ca = root / "ca.crt"
    try:
        ca_pem = ca.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read service account CA {ca}: {exc.strerror}") from exc
    try:
        namespace = (root / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        namespace = "default"
    return ClusterConfig(
        server=f"https://{host}:{port}",
        ssl_context=_ssl_context(ca_pem=ca_pem, insecure=False),
        token_source=FileToken(root / "token", clock=clock),
        namespace=namespace,
    )


def load_client_certificate(
    context: ssl.SSLContext, cert_pem: bytes, key: Sensitive[bytes]
) -> None:
    """Load a client certificate and key into ``context`` through short-lived private files.

    ``SSLContext.load_cert_chain`` only reads files, so the PEM goes to a fresh 0700 directory
    as 0600 files, which are removed as soon as the context holds the key.

    Raises:
        ConfigError: the certificate or key is not valid PEM, or they do not match.
    """
    directory = Path(tempfile.mkdtemp(prefix="certsmith-client-"))  # mode 0700
    try:
        cert_file, key_file = directory / "client.crt", directory / "client.key"
        for target, data in ((cert_file, cert_pem), (key_file, key.reveal())):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        try:
            context.load_cert_chain(cert_file, key_file)
        except ssl.SSLError as exc:
            # The exception text names files and OpenSSL reasons only, never key bytes.
            raise ConfigError(f"client certificate/key unusable: {exc.reason}") from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _ssl_context(*, ca_pem: bytes | None, insecure: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_pem is not None:
        try:
            context.load_verify_locations(cadata=ca_pem.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError("certificate-authority is not valid PEM") from exc
    return context


def _named(doc: dict[str, Any], section: str, inner: str, name: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(inner) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"{section} entry {name!r} is malformed")
            return value
    raise ConfigError(f"kubeconfig has no {inner} named {name!r}")


def _str(section: dict[str, Any], key: str, where: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} has no {key!r}")
    return value


def _resolve(base: Path, value: object) -> Path:
    candidate = Path(str(value)).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _pem(section: dict[str, Any], key: str, base: Path, where: str) -> bytes | None:
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where} {key}-data is not valid base64") from None
    file = section.get(key)
    if file:
        path = _resolve(base, file)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {where} {key} {path}: {exc.strerror}") from exc
    return None
