"""``certsmith acmesolver``: one token's key for one domain, 404 otherwise, clean SIGTERM exit."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servertools import free_port, wait_until

CERTSMITH = Path(sys.executable).parent / "certsmith"
TOKEN = "tok-1"
KEY = "tok-1.thumbprint"


@pytest.fixture(scope="module")
def solver_port() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(CERTSMITH),
            "acmesolver",
            f"--listen-port={port}",
            "--domain=web.example.test",
            f"--token={TOKEN}",
            f"--key={KEY}",
            "--listen-host=127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/")
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(listening, timeout=20)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=10)[0]
    # A pod's SIGTERM ends the solver cleanly, and the key never reaches its log.
    assert process.returncode == 0, output
    assert KEY.encode() not in output


@pytest.mark.parametrize(
    ("host", "path", "status", "body"),
    [
        ("web.example.test", f"/.well-known/acme-challenge/{TOKEN}", 200, KEY),
        ("web.example.test:8089", f"/.well-known/acme-challenge/{TOKEN}", 200, KEY),
        ("WEB.example.test", f"/.well-known/acme-challenge/{TOKEN}", 200, KEY),
        ("web.example.test", "/.well-known/acme-challenge/other", 404, None),
        ("web.example.test", f"/.well-known/acme-challenge/{TOKEN}/x", 404, None),
        ("web.example.test", "/", 404, None),
        ("other.example.test", f"/.well-known/acme-challenge/{TOKEN}", 404, None),
    ],
)
def test_answers_only_its_token_on_its_domain(
    solver_port: int, host: str, path: str, status: int, body: str | None
) -> None:
    response = httpx.get(f"http://127.0.0.1:{solver_port}{path}", headers={"Host": host})
    assert response.status_code == status
    if body is not None:
        assert response.text == body
        assert response.headers["content-type"].startswith("text/plain")


def test_a_taken_port_is_a_clear_error(solver_port: int) -> None:
    result = subprocess.run(
        [
            str(CERTSMITH),
            "acmesolver",
            f"--listen-port={solver_port}",
            "--domain=d",
            "--token=t",
            "--key=k",
            "--listen-host=127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "certsmith acmesolver: cannot listen" in result.stderr
