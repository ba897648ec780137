"""Running API servers for tests: in-process (:func:`running_server`) and as a subprocess.

Both use the server's own HTTPS and the admin kubeconfig it writes, exactly as users do.
:func:`admin_client` builds an httpx client from that kubeconfig's client certificate.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from certsmith.apiserver.server import ApiServer


@contextlib.asynccontextmanager
async def running_server(data_dir: Path, **kwargs: Any) -> AsyncIterator[ApiServer]:
    """An in-process server on a free loopback port; stopped on exit."""
    server = ApiServer(data_dir, "127.0.0.1", 0, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass(frozen=True)
class ClientCredentials:
    """Files an HTTP client needs, extracted from a kubeconfig."""

    server: str
    ca_file: Path
    cert_file: Path
    key_file: Path

    def ssl_context(self) -> ssl.SSLContext:
        """TLS trusting the server CA and presenting the client certificate."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def credentials(kubeconfig: Path, out_dir: Path) -> ClientCredentials:
    """Write the kubeconfig's CA, cert and key to files under ``out_dir``."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in (
        ("ca.crt", cluster["certificate-authority-data"]),
        ("client.crt", user["client-certificate-data"]),
        ("client.key", user["client-key-data"]),
    ):
        path = out_dir / name
        path.write_bytes(base64.b64decode(data))
        path.chmod(0o600)
        paths[name] = path
    return ClientCredentials(
        cluster["server"], paths["ca.crt"], paths["client.crt"], paths["client.key"]
    )


def admin_client(server: ApiServer, out_dir: Path, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client authenticated as the admin of ``server`` (close it!)."""
    creds = credentials(server.kubeconfig_path, out_dir)
    return httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context(), **kwargs)


def kubectl_path() -> Path:
    """The pinned kubectl next to the test interpreter."""
    return Path(sys.executable).parent / "kubectl"


@dataclass
class ServeProcess:
    """A ``certsmith serve`` subprocess and where to reach it."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    kubeconfig: Path
    cache_dir: Path

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this server with a private cache dir."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.cache_dir),
            "HOME": str(self.cache_dir),
        }
        result = subprocess.run(
            [str(kubectl_path()), *args],
            input=input_text,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_subprocess(
    data_dir: Path, *, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Iterator[ServeProcess]:
    """Run ``certsmith serve`` until the kubeconfig appears; SIGTERM it on exit."""
    port = free_port()
    certsmith = Path(sys.executable).parent / "certsmith"
    # A file, not a pipe: serve runs the controllers and logs as it works, and a pipe nobody
    # reads fills up (64 KiB) and blocks the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [
            str(certsmith),
            "serve",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    kubeconfig = data_dir / "kubeconfig"
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=5)
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise AssertionError(f"certsmith serve did not start:\n{output}")
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as cache:
            yield ServeProcess(process, data_dir, kubeconfig, Path(cache))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


async def eventually_async(
    probe: Callable[[], Awaitable[object] | object],
    *,
    timeout: float = 5.0,  # noqa: ASYNC109
    interval: float = 0.02,
) -> None:
    """Call (and await) ``probe()`` until it is truthy or stops raising AssertionError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = probe()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            failure: BaseException | None = None
        except AssertionError as exc:
            failure = exc
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s") from failure
        await asyncio.sleep(interval)


def wait_until(
    check: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.1
) -> None:
    """The blocking form of :func:`eventually_async`, for subprocess (kubectl) tests."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
            failure: BaseException | None = None
        except AssertionError as exc:
            failure = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s") from failure
        time.sleep(interval)
