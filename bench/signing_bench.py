"""CA signing throughput: 200 CertificateRequests against an RSA-2048 CA, in one process.

An in-process API server and the controllers share one event loop, as in ``certsmith serve``.
The requests are created first (Pending: their issuer does not exist yet); the clock starts when
the CA Secret and Issuer are created and stops when every request is Issued. A ticker measures
how late the event loop wakes it up meanwhile: CPU-bound signing on the loop shows up there.

Run: ``.venv/bin/python bench/signing_bench.py [--requests 200] [--workers 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certsmith.apiserver.server import ApiServer
from certsmith.client.http import HttpKubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS, ISSUERS, SECRETS
from certsmith.controllers.setup import ControllerOptions, build_manager

NAMESPACE = "default"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ca_secret() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "metadata": {"name": "ca-key-pair", "namespace": NAMESPACE},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(cert.public_bytes(serialization.Encoding.PEM)),
            "tls.key": b64(key_pem),
        },
    }


def requests(count: int) -> list[dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP256R1())
    items = []
    for index in range(count):
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"n{index}")]))
            .sign(key, hashes.SHA256())
        )
        items.append(
            {
                "metadata": {"name": f"bench-{index:04d}", "namespace": NAMESPACE},
                "spec": {
                    "request": b64(csr.public_bytes(serialization.Encoding.PEM)),
                    "issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
                },
            }
        )
    return items


def ready_reason(obj: dict[str, Any]) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("reason"))
    return None


async def run(count: int, workers: int, data_dir: Path) -> None:
    server = ApiServer(data_dir, "127.0.0.1", 0)
    await server.start()
    lags: list[float] = []
    measuring = False

    async def ticker() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            if measuring:
                lags.append(time.perf_counter() - start - 0.01)

    tick = asyncio.create_task(ticker())
    try:
        async with (
            HttpKubeClient.from_kubeconfig(server.kubeconfig_path) as admin,
            HttpKubeClient.from_kubeconfig(server.controller_kubeconfig_path) as client,
        ):
            manager = build_manager(client, options=ControllerOptions(workers=workers))
            task = asyncio.create_task(manager.run())
            await manager.wait_started()
            await asyncio.gather(
                *(admin.create(CERTIFICATE_REQUESTS, NAMESPACE, r) for r in requests(count))
            )

            async def wait_for(reason: str, interval: float) -> None:
                # Polling, not a watch: the figure is what a user polling kubectl would see.
                while True:
                    items = (await admin.list(CERTIFICATE_REQUESTS, NAMESPACE)).items
                    if [ready_reason(item) for item in items].count(reason) == count:
                        return
                    await asyncio.sleep(interval)

            await wait_for("Pending", 0.1)
            measuring = True
            start = time.perf_counter()
            await admin.create(SECRETS, NAMESPACE, ca_secret())
            await admin.create(
                ISSUERS,
                NAMESPACE,
                {"metadata": {"name": "ca"}, "spec": {"ca": {"secretName": "ca-key-pair"}}},
            )
            await wait_for("Issued", 0.25)
            took = time.perf_counter() - start
            measuring = False
            manager.stop()
            await task
    finally:
        tick.cancel()
        await server.stop()
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] if lags else 0.0
    print(f"{count} requests, {workers} workers, RSA-2048 CA")
    print(f"  issuer created -> all Issued: {took:.2f} s ({count / took:.1f} signatures/s)")
    print(f"  event loop lag: p99 {p99 * 1000:.1f} ms, max {max(lags, default=0) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.requests, args.workers, Path(tmp)))


if __name__ == "__main__":
    main()
