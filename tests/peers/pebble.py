"""Real pebble (Debian's ``pebble`` package) for ACME tests, on free loopback ports.

``running_pebble(tmp_dir, ...)`` starts ``pebble`` with a freshly generated listener
certificate and, unless a DNS server is given, a ``pebble-challtestsrv`` whose mock DNS
answers ``A 127.0.0.1`` for every name and whose management API sets DNS-01 TXT records.
Pebble's VA validates HTTP-01 by connecting to ``127.0.0.1:<http_port>``: tests serve the
key authorization there (:class:`Http01Responder`).

Pebble generates a new root and intermediate on every start; :meth:`Pebble.root_pem`
fetches the current root to verify issued chains. Logs stay in ``tmp_dir`` (pytest keeps
the directories of recent runs); a failing block prints their paths.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.servertools import free_port

PEBBLE = "pebble"
CHALLTESTSRV = "pebble-challtestsrv"
EAB_EXAMPLE = Path("/usr/share/doc/pebble/examples/pebble-config-external-account-bindings.json")

# The MAC keys of Debian's example EAB configuration (used when the file is absent).
DEFAULT_EAB_KEYS: Mapping[str, str] = {
    "kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
    "kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
}


def eab_keys() -> dict[str, str]:
    """EAB key IDs and MAC keys (un-padded base64url) from Debian's example config."""
    try:
        data = json.loads(EAB_EXAMPLE.read_text())
        keys = data["pebble"]["externalAccountMACKeys"]
        return {str(k): str(v) for k, v in keys.items()}
    except (OSError, ValueError, KeyError):
        return dict(DEFAULT_EAB_KEYS)


def write_listener_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for ``localhost``/``127.0.0.1`` signed by it.

    Returns ``(ca.pem, cert.pem, key.pem)``; ``ca.pem`` is the client's CA bundle.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble listener test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "listener-ca.pem", directory / "listener.pem", directory / "listener.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


@dataclass
class ChallTestSrv:
    """A running pebble-challtestsrv: mock DNS plus its management API."""

    dns_address: str
    management_url: str

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        response = httpx.post(self.management_url + path, json=dict(body), timeout=10)
        response.raise_for_status()

    def set_txt(self, name: str, value: str) -> None:
        """Answer TXT ``value`` for ``name`` (FQDN; a trailing dot is added if missing)."""
        self._post("/set-txt", {"host": _fqdn(name), "value": value})

    def clear_txt(self, name: str) -> None:
        """Stop answering TXT for ``name``."""
        self._post("/clear-txt", {"host": _fqdn(name)})

    def add_a(self, name: str, *addresses: str) -> None:
        """Answer ``A`` records for ``name`` instead of the default 127.0.0.1."""
        self._post("/add-a", {"host": _fqdn(name), "addresses": list(addresses)})


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


@dataclass
class Pebble:
    """A running pebble: where to reach it and how to check what it issued."""

    directory_url: str
    management_url: str
    ca_bundle_path: Path
    http_port: int
    dns_server: str
    log_dir: Path
    eab_keys: dict[str, str] = field(default_factory=dict)
    challtestsrv: ChallTestSrv | None = None

    @property
    def ca_bundle(self) -> bytes:
        """The listener CA (PEM): what an issuer's ``caBundle`` holds to trust pebble."""
        return self.ca_bundle_path.read_bytes()

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting pebble's listener CA."""
        return ssl.create_default_context(cafile=str(self.ca_bundle_path))

    def _management(self, path: str) -> httpx.Response:
        response = httpx.get(self.management_url + path, verify=self.ssl_context(), timeout=10)
        response.raise_for_status()
        return response

    def root_pem(self, index: int = 0) -> bytes:
        """Pebble's current root certificate ``index`` (0 = default chain), PEM."""
        return self._management(f"/roots/{index}").content

    def intermediate_pem(self, index: int = 0) -> bytes:
        """Pebble's current intermediate certificate ``index``, PEM."""
        return self._management(f"/intermediates/{index}").content


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _spawn(
    args: list[str], log: IO[bytes], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def _wait_ready(
    probe: Any, process: subprocess.Popen[bytes], what: str, log_path: Path, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {process.returncode}:\n{log_path.read_text()[-2000:]}"
            )
        try:
            probe()
            return
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout}s ({last}); log: {log_path}")


@contextlib.contextmanager
def running_challtestsrv(tmp_dir: Path) -> Iterator[ChallTestSrv]:
    """Start pebble-challtestsrv with only its mock DNS and management API."""
    dns_port, mgmt_port = free_port(), free_port()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmp_dir / "challtestsrv.log"
    with log_path.open("ab") as log:
        process = _spawn(
            [
                CHALLTESTSRV,
                "-dns01",
                f"127.0.0.1:{dns_port}",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"127.0.0.1:{mgmt_port}",
                "-defaultIPv6",
                "",
            ],
            log,
        )
    srv = ChallTestSrv(f"127.0.0.1:{dns_port}", f"http://127.0.0.1:{mgmt_port}")
    try:
        _wait_ready(
            lambda: httpx.post(
                srv.management_url + "/clear-txt", json={"host": "ready.test."}, timeout=2
            ).raise_for_status(),
            process,
            "pebble-challtestsrv",
            log_path,
        )
        yield srv
    finally:
        _terminate(process)


@contextlib.contextmanager
def running_pebble(
    tmp_dir: Path,
    *,
    nonce_reject: int = 0,
    authz_reuse: int = 0,
    eab: bool = False,
    http_port: int | None = None,
    dns_server: str | None = None,
    validity_seconds: int | None = None,
    alternate_roots: int = 0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Pebble]:
    """Run pebble on free loopback ports for the duration of the block.

    Args:
        tmp_dir: where config, listener certificate and logs go.
        nonce_reject: percentage of good nonces pebble rejects (PEBBLE_WFE_NONCEREJECT).
        authz_reuse: percentage of valid authorizations reused (PEBBLE_AUTHZREUSE).
        eab: require External Account Binding with Debian's example keys (:func:`eab_keys`).
        http_port: the port pebble's VA connects to for HTTP-01 (default: a free port;
            tests serve their responder there).
        dns_server: ``host:port`` pebble resolves through; default: a challtestsrv it starts.
        validity_seconds: ``certificateValidityPeriod`` of issued certificates.
        alternate_roots: PEBBLE_ALTERNATE_ROOTS (alternate chains linked from certificates).
        extra_env: more PEBBLE_* settings.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = write_listener_cert(tmp_dir / "pebble-listener")
    with contextlib.ExitStack() as stack:
        challtestsrv: ChallTestSrv | None = None
        if dns_server is None:
            challtestsrv = stack.enter_context(running_challtestsrv(tmp_dir))
            dns_server = challtestsrv.dns_address
        port, mgmt_port = free_port(), free_port()
        http_port = http_port or free_port()
        keys = eab_keys() if eab else {}
        config: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{mgmt_port}",
            "certificate": str(cert_path),
            "privateKey": str(key_path),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": eab,
        }
        if keys:
            config["externalAccountMACKeys"] = keys
        if validity_seconds is not None:
            config["certificateValidityPeriod"] = validity_seconds
        config_path = tmp_dir / "pebble-config.json"
        config_path.write_text(json.dumps({"pebble": config}, indent=2))
        env = {
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": str(nonce_reject),
            "PEBBLE_AUTHZREUSE": str(authz_reuse),
            "PEBBLE_ALTERNATE_ROOTS": str(alternate_roots),
            **(extra_env or {}),
        }
        log_path = tmp_dir / "pebble.log"
        with log_path.open("ab") as log:
            process = _spawn(
                [PEBBLE, "-config", str(config_path), "-dnsserver", dns_server, "-strict=false"],
                log,
                env,
            )
        stack.callback(_terminate, process)
        pebble = Pebble(
            directory_url=f"https://127.0.0.1:{port}/dir",
            management_url=f"https://127.0.0.1:{mgmt_port}",
            ca_bundle_path=ca_path,
            http_port=http_port,
            dns_server=dns_server,
            log_dir=tmp_dir,
            eab_keys=keys,
            challtestsrv=challtestsrv,
        )
        _wait_ready(
            lambda: httpx.get(
                pebble.directory_url, verify=pebble.ssl_context(), timeout=2
            ).raise_for_status(),
            process,
            "pebble",
            log_path,
        )
        try:
            yield pebble
        except BaseException:
            print(f"pebble logs: {tmp_dir}", file=sys.stderr)
            raise


class Http01Responder:
    """A tiny aiohttp server answering ``/.well-known/acme-challenge/<token>`` from a dict.

    Start it on the pebble's ``http_port``; ``requests`` records every token asked for.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self.tokens: dict[str, str] = {}
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        self.requests.append(token)
        body = self.tokens.get(token)
        if body is None:
            return web.Response(status=404, text="unknown token")
        return web.Response(text=body)

    async def start(self) -> None:
        """Listen on ``host:port``."""
        app = web.Application()
        app.router.add_get("/.well-known/acme-challenge/{token}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextlib.asynccontextmanager
async def http01_responder(port: int) -> AsyncIterator[Http01Responder]:
    """An :class:`Http01Responder` running for the duration of the block."""
    responder = Http01Responder(port)
    await responder.start()
    try:
        yield responder
    finally:
        await responder.stop()


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """One pebble for the session: no nonce rejection, no authorization reuse, no EAB."""
    with running_pebble(tmp_path_factory.mktemp("pebble")) as server:
        yield server


@pytest.fixture
def pebble_factory(tmp_path: Path) -> Iterator[Callable[..., Pebble]]:
    """Start pebbles with custom options (``running_pebble``'s keywords); stopped after the test."""
    with contextlib.ExitStack() as stack:
        count = 0

        def start(**options: Any) -> Pebble:
            nonlocal count
            count += 1
            return stack.enter_context(running_pebble(tmp_path / f"pebble-{count}", **options))

        yield start
