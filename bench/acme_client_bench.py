"""The ACME client alone: N certificates by HTTP-01 from one real pebble, certsmith vs certbot.

Both clients get a fresh account on the same pebble (no nonce rejection, no authorization
reuse) and obtain N single-name certificates one after another, answering HTTP-01 from a
local responder on pebble's HTTP port: certsmith's ``certsmith.acme.AcmeClient`` (asyncio,
httpx) and certbot's ``acme`` library (``ClientV2``, requests; its ``poll_and_finalize``).
A third run has certsmith obtain the N certificates concurrently. The script prints the
times, certificates per second and the certbot/certsmith ratio, and writes them to
``bench/results/<date>-acme-client.json``.

This measures the protocol clients, not ``certsmith serve`` with its controllers, nor the
certbot command line (the issue's end-to-end comparison). Each library polls its own way:
certsmith without ``Retry-After`` from 0.1 s doubling to 1 s, certbot's ``acme`` every second.

Run: ``.venv/bin/python bench/acme_client_bench.py [--certificates N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from acme import challenges, client, crypto_util, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.acme_client.flows import authorize, finalize, issue_http01  # noqa: E402
from tests.peers.pebble import Pebble, http01_responder, running_pebble  # noqa: E402

from certsmith.acme import AcmeClient, Identifier  # noqa: E402


class _Tokens(dict[str, str]):
    """Token → key authorization, shared with the responder thread."""


def _serve_http01(port: int, tokens: _Tokens) -> ThreadingHTTPServer:
    prefix = "/.well-known/acme-challenge/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = tokens.get(self.path.removeprefix(prefix), "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def certbot_run(pebble: Pebble, names: list[str]) -> float:
    """Obtain a certificate for each name with certbot's acme library; seconds taken."""
    key = ec.generate_private_key(ec.SECP256R1())
    # verify_ssl goes to requests' ``verify``, which takes a CA bundle path; acme types it bool.
    bundle: Any = str(pebble.ca_bundle_path)
    net = client.ClientNetwork(JWKEC(key=key), alg=ES256, verify_ssl=bundle, user_agent="bench")
    directory = client.ClientV2.get_directory(pebble.directory_url, net)
    acme = client.ClientV2(directory, net)
    net.account = acme.new_account(messages.NewRegistration.from_data(terms_of_service_agreed=True))
    tokens = _Tokens()
    server = _serve_http01(pebble.http_port, tokens)
    try:
        started = time.perf_counter()
        for name in names:
            cert_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            order = acme.new_order(crypto_util.make_csr(cert_key, [name]))
            for authz in order.authorizations:
                chall = next(
                    c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)
                )
                response, validation = chall.response_and_validation(net.key)
                tokens[chall.chall.encode("token")] = validation
                acme.answer_challenge(chall, response)
            deadline = dt.datetime.now() + dt.timedelta(seconds=90)
            done = acme.poll_and_finalize(order, deadline)
            assert done.fullchain_pem
        return time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()


async def certsmith_run(pebble: Pebble, names: list[str], *, concurrent: bool) -> float:
    """Obtain a certificate for each name with certsmith.acme; seconds taken."""
    key = ec.generate_private_key(ec.SECP256R1())
    async with AcmeClient(pebble.directory_url, key, ca_bundle=pebble.ca_bundle) as acme:
        await acme.register_account()
        started = time.perf_counter()
        if concurrent:
            # One responder serves every order's tokens.
            async with http01_responder(pebble.http_port) as responder:

                async def one(name: str) -> None:
                    order = await acme.new_order([Identifier.dns(name)])
                    await authorize(acme, order, responder=responder)
                    await finalize(acme, order)

                await asyncio.gather(*(one(n) for n in names))
        else:
            for name in names:
                await issue_http01(acme, pebble, [Identifier.dns(name)])
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=20)
    args = parser.parse_args()
    n = args.certificates
    with tempfile.TemporaryDirectory() as tmp, running_pebble(Path(tmp)) as pebble:
        ours = asyncio.run(
            certsmith_run(pebble, [f"cs{i}.example.test" for i in range(n)], concurrent=False)
        )
        theirs = certbot_run(pebble, [f"cb{i}.example.test" for i in range(n)])
        parallel = asyncio.run(
            certsmith_run(pebble, [f"cp{i}.example.test" for i in range(n)], concurrent=True)
        )
    result = {
        "certificates": n,
        "certsmith_sequential_seconds": round(ours, 3),
        "certbot_acme_sequential_seconds": round(theirs, 3),
        "certbot_over_certsmith": round(theirs / ours, 2),
        "certsmith_concurrent_seconds": round(parallel, 3),
        "note": "certbot's acme polls authorizations and orders every 1 s, certsmith.acme "
        "from 0.1 s doubling to 1 s; against a local pebble that polling is most of the gap",
    }
    print(f"{n} certificates by HTTP-01 from pebble, one after another:")
    print(f"  certsmith.acme   {ours:7.2f} s  ({n / ours:6.1f} certificates/s)")
    print(f"  certbot's acme   {theirs:7.2f} s  ({n / theirs:6.1f} certificates/s)")
    print(f"  ratio certbot/certsmith: {theirs / ours:.2f}")
    print(f"certsmith.acme, {n} at once: {parallel:.2f} s ({n / parallel:.1f} certificates/s)")
    out = ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}-acme-client.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
