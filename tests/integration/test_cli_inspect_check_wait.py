"""``certsmith inspect secret``, ``check api`` and ``wait certificate`` against a real server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certsmith.cli.main import main
from certsmith.client.resources import CERTIFICATES, ISSUERS, SECRETS
from certsmith.controllers.setup import ControllerOptions, build_manager
from certsmith.pki.pem import split_pem_certificates
from tests.builders import make_ca_secret, make_certificate, make_issuer, private_key_pem
from tests.clitools import Env, cli, dead_kubeconfig, run_cli, server_env
from tests.integration.test_certificates_issuance import running, seed_ca_issuer
from tests.pkitools import key as pki_key
from tests.pkitools import make_intermediate, make_root, pem
from tests.servertools import eventually_async

NS = "ns"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with server_env(tmp_path / "data", (NS, "cert-manager")) as started:
        yield started


async def issue_through_intermediate(env: Env) -> dict[str, object]:
    """A CA issuer signing with an intermediate (tls.crt = intermediate + root); issue web."""
    root, root_key = make_root("status root")
    inter, inter_key = make_intermediate("status intermediate", root, root_key)
    secret = make_ca_secret(
        namespace=NS, chain_pem=pem(inter, root), key_pem=private_key_pem(inter_key)
    )
    await env.client.create(SECRETS, NS, secret.to_dict())
    await env.client.create(ISSUERS, NS, make_issuer("ca", namespace=NS).to_dict())
    async with running(build_manager(env.client, options=ControllerOptions())):
        await env.client.create(CERTIFICATES, NS, make_certificate("web", namespace=NS).to_dict())

        async def issued() -> bool:
            cert = await env.client.get(CERTIFICATES, NS, "web")
            return (cert.get("status") or {}).get("revision") == 1

        await eventually_async(issued, timeout=30)
    return await env.client.get(SECRETS, NS, "web-tls")


def row(out: str, field: str) -> str:
    """The value of a ``field   value`` row."""
    match = re.search(rf"^\s*{re.escape(field)}\s{{2,}}(.+?)\s*$", out, re.MULTILINE)
    assert match, f"no row {field!r} in:\n{out}"
    return match.group(1)


# --- inspect secret -------------------------------------------------------------------------


async def test_inspect_issued_secret_checks_chain_order_key_and_ca(env: Env) -> None:
    secret = await issue_through_intermediate(env)
    code, out, err = await cli(env, "inspect", "secret", "web-tls", "-n", NS)
    assert code == 0, err
    chain = split_pem_certificates(base64.b64decode(secret["data"]["tls.crt"]))  # type: ignore[index]
    assert len(chain) == 2
    assert "tls.crt certificate 1 of 2" in out
    assert "tls.crt certificate 2 of 2" in out
    assert "ca.crt certificate 1 of 1" in out
    assert row(out, "Certificate 1 signed by 2") == "yes"
    assert row(out, "Chain order") == "ok"
    assert row(out, "Key matches tls.crt") == "yes"
    assert row(out, "ca.crt") == "ca.crt signed the last certificate of tls.crt"
    assert row(out, "DNS names").startswith("web.example.com")
    assert "CN=status intermediate" in out
    assert "PRIVATE KEY" not in out


async def test_inspect_reports_a_reversed_chain_and_a_foreign_key(env: Env) -> None:
    secret = await issue_through_intermediate(env)
    data = secret["data"]
    assert isinstance(data, dict)
    chain = base64.b64decode(data["tls.crt"])
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", chain, re.S)
    reversed_chain = b"".join(reversed(blocks))
    broken = {
        "metadata": {"name": "broken", "namespace": NS},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(reversed_chain).decode(),
            "tls.key": base64.b64encode(private_key_pem(pki_key("p256", 7))).decode(),
        },
    }
    await env.client.create(SECRETS, NS, broken)
    code, out, err = await cli(env, "inspect", "secret", "broken", "-n", NS)
    assert code == 0, err
    assert row(out, "Certificate 1 signed by 2") == "NO: out of order or not part of this chain"
    assert row(out, "Chain order") == "BROKEN"
    assert row(out, "Key matches tls.crt") == "NO: tls.key is not the certificate's key"


async def test_inspect_unknown_secret_is_a_clear_error(env: Env) -> None:
    code, _, err = await cli(env, "inspect", "secret", "ghost", "-n", NS)
    assert code == 1
    assert err.strip() == (
        'certsmith inspect: Secret "ghost" not found in namespace "ns" '
        "(list them with `kubectl get secrets -n ns`)"
    )


# --- check api ------------------------------------------------------------------------------


async def test_check_api_reports_ready(env: Env) -> None:
    code, out, err = await cli(env, "check", "api", "-n", NS)
    assert (code, out, err) == (0, "The cert-manager API is ready\n", "")


async def test_check_api_in_a_missing_namespace_says_what_to_pass(env: Env) -> None:
    code, _, err = await cli(env, "check", "api", "-n", "nowhere")
    assert code == 1
    assert err.startswith("certsmith check api: Not ready: cannot create a CertificateRequest")
    assert "pass -n with an existing namespace" in err


def test_check_api_with_the_server_down_fails_clearly(tmp_path: Path) -> None:
    code, out, err = run_cli(["check", "api", "--kubeconfig", str(dead_kubeconfig(tmp_path))])
    assert code == 1
    assert out == ""
    assert err.startswith("certsmith check api: Not ready: cannot reach the API server:")


def test_check_api_wait_shows_each_attempt_then_times_out(tmp_path: Path) -> None:
    kubeconfig = dead_kubeconfig(tmp_path)
    code, _, err = run_cli(
        ["check", "api", "--wait", "3s", "--interval", "300ms", "--kubeconfig", str(kubeconfig)]
    )
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("Not ready (") for line in lines[:-1])
    assert "of 3s): cannot reach the API server" in lines[0]
    assert lines[-1].startswith(
        "certsmith check api: timed out after 3s waiting for the cert-manager API: cannot reach"
    )


# --- wait certificate -----------------------------------------------------------------------


class _Signal(io.StringIO):
    """A stdout that sets ``seen`` once ``text`` has been written (a terminal if ``tty``)."""

    def __init__(self, text: str, *, tty: bool = False) -> None:
        super().__init__()
        self.tty = tty
        self.text = text
        self.seen = threading.Event()

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> int:
        written = super().write(s)
        if self.text in self.getvalue():
            self.seen.set()
        return written


async def test_wait_all_shows_progress_until_every_certificate_is_ready(env: Env) -> None:
    await seed_ca_issuer(env.client)
    names = [f"c{i}" for i in range(3)]
    options = ControllerOptions(controllers="*,-certificaterequests-approver")
    async with running(build_manager(env.client, options=options)):
        for name in names:
            body = make_certificate(name, namespace=NS).to_dict()
            await env.client.create(CERTIFICATES, NS, body)
        out = _Signal("0/3 Certificates ready")
        argv = ["wait", "certificate", "--all", "-n", NS, "--timeout", "60s"]
        argv += ["--interval", "100ms", "--kubeconfig", str(env.kubeconfig)]

        def call() -> int:
            with contextlib.redirect_stdout(out):
                return main(argv)

        waiting = asyncio.create_task(asyncio.to_thread(call))
        assert await asyncio.to_thread(out.seen.wait, 30)
        for name in names:  # approve one at a time: the count moves 0 → 3
            approve = functools.partial(_approve, env, f"{name}-1")
            await eventually_async(approve, timeout=30, interval=0.1)
        code = await waiting
    lines = out.getvalue().strip().splitlines()
    assert code == 0
    assert lines[0] == "0/3 Certificates ready"
    assert lines[-2:] == ["3/3 Certificates ready", "All 3 Certificates are Ready"]
    counts = [int(line.split("/")[0]) for line in lines[:-1]]
    assert counts == sorted(counts)


async def _approve(env: Env, request: str) -> bool:
    code, _, _ = await cli(env, "approve", request, "-n", NS)
    return code == 0


async def test_wait_times_out_with_the_root_cause_of_each_pending_certificate(env: Env) -> None:
    async with running(build_manager(env.client, options=ControllerOptions())):
        body = make_certificate("web", namespace=NS, issuerRef={"name": "nope"}).to_dict()
        await env.client.create(CERTIFICATES, NS, body)
        code, out, err = await cli(
            env, "wait", "certificate", "web", "-n", NS, "--timeout", "1s", "--interval", "200ms"
        )
    assert code == 1
    assert out.strip().splitlines()[-1] == "0/1 Certificates ready"
    lines = err.strip().splitlines()
    assert lines[0] == "timed out after 1s: 0/1 Certificates ready; not ready:"
    assert lines[1].startswith("  ns/web: Issuer 'nope' does not exist in namespace ns.")


async def test_wait_for_an_unknown_certificate_is_a_clear_error(env: Env) -> None:
    code, _, err = await cli(env, "wait", "certificate", "ghost", "-n", NS, "--timeout", "1s")
    assert code == 1
    assert "Certificate(s) not found: ns/ghost" in err


async def test_wait_on_a_terminal_draws_a_progress_bar(env: Env) -> None:
    await seed_ca_issuer(env.client)
    async with running(build_manager(env.client, options=ControllerOptions())):
        await env.client.create(CERTIFICATES, NS, make_certificate("web", namespace=NS).to_dict())
        terminal = _Signal("", tty=True)
        argv = ["wait", "certificate", "web", "-n", NS, "--timeout", "60s"]
        argv += ["--kubeconfig", str(env.kubeconfig)]

        def call() -> int:
            with contextlib.redirect_stdout(terminal):
                return main(argv)

        code = await asyncio.to_thread(call)
    screen = terminal.getvalue()
    assert code == 0
    assert "Waiting for Certificates" in screen
    assert "1/1" in screen
    assert "\x1b[" in screen  # drawn with terminal control sequences, not plain lines
    assert "Certificates ready\n" not in screen
    assert screen.rstrip().endswith("All 1 Certificates are Ready")
