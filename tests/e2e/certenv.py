"""What the Certificate end-to-end tests share: a movable clock, a CA per namespace, waits.

:class:`MovableClock` is the test side of ``--clock-offset-file``: the controllers (in ``certsmith
serve`` or ``certsmith controller``) run on the wall clock plus the number of seconds in that
file, and wake their timers when it changes, so a test moves a running process days ahead in a
second. Certificates are then issued "in the future" relative to the real time, so openssl
checks them at the controllers' time (``-attime``).

:class:`CaNamespace` is a namespace holding a CA key pair Secret and an Issuer signing with it.
Its CA can be taken away (:meth:`CaNamespace.stall`) so that a request the Certificate pipeline
creates stays pending: conditions that are otherwise gone within a second (``Issuing=True``
with the trigger's reason) then hold still long enough to be read with kubectl, and giving the
CA back (:meth:`CaNamespace.resume`) lets the reissue complete.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.procs import Deployment, Mode, Serve, condition, deployed
from tests.servertools import wait_until

#: kubectl polls are processes: poll twice a second, and give a loaded machine a minute.
POLL = 0.5
TIMEOUT = 90.0


class MovableClock:
    """The offset file a deployment's controllers follow (``--clock-offset-file``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = dt.timedelta(0)
        self._write()

    def now(self) -> dt.datetime:
        """The controllers' current time (to within their half-second polling of the file)."""
        return dt.datetime.now(dt.UTC) + self.offset

    def move_to(self, when: dt.datetime) -> None:
        """Make the controllers' time ``when`` (it keeps running from there)."""
        self.offset = when - dt.datetime.now(dt.UTC)
        self._write()

    def advance(self, delta: dt.timedelta) -> None:
        """Move the controllers' time ``delta`` ahead."""
        self.offset += delta
        self._write()

    def _write(self) -> None:
        # Replace, never rewrite in place: the controllers must not read half a number.
        partial = self.path.with_suffix(".partial")
        partial.write_text(f"{self.offset.total_seconds():.3f}\n")
        os.replace(partial, self.path)


@contextmanager
def deployed_with_clock(
    mode: Mode, root: Path, controller_args: tuple[str, ...] = ()
) -> Iterator[tuple[Deployment, MovableClock]]:
    """A started deployment whose controllers run on a :class:`MovableClock`."""
    clock = MovableClock(root / "clock-offset")
    args = ("--clock-offset-file", str(clock.path), *controller_args)
    with deployed(mode, root, args) as deployment:
        yield deployment, clock


def openssl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )
    if check:
        assert result.returncode == 0, f"openssl {args} failed:\n{result.stdout}{result.stderr}"
    return result


def parse_time(value: str) -> dt.datetime:
    """A ``metav1.Time`` (``2026-01-02T03:04:05Z``)."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_ca(workdir: Path, name: str = "ca") -> tuple[Path, Path]:
    """A self-signed RSA CA (valid ten years) as ``<name>.crt`` and ``<name>.key``."""
    cert, key = workdir / f"{name}.crt", workdir / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
        "-days", "3650", "-subj", f"/CN=certsmith e2e {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


class CaNamespace:
    """Namespace ``name``: CA Secret ``ca-key-pair``, Issuer ``ca-issuer`` signing with it."""

    def __init__(self, serve: Serve, name: str, workdir: Path) -> None:
        self.serve = serve
        self.name = name
        self.workdir = workdir
        self.ca_cert, self.ca_key = make_ca(workdir)
        serve.kubectl("create", "namespace", name)
        self._create_ca_secret()
        self.add_issuer("ca-issuer", "ca-key-pair")

    def _create_ca_secret(self) -> None:
        self.serve.kubectl("create", "secret", "tls", "ca-key-pair", f"--cert={self.ca_cert}",
                           f"--key={self.ca_key}", "-n", self.name)  # fmt: skip

    def add_issuer(self, issuer: str, secret: str) -> None:
        """A CA Issuer over ``secret``, waited for until Ready."""
        self.apply({
            "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": {"name": issuer}, "spec": {"ca": {"secretName": secret}},
        })  # fmt: skip
        self.wait_issuer(issuer, "True")

    def wait_issuer(self, issuer: str, status: str) -> None:
        def ready_is() -> bool:
            cond = condition(self.get("issuer", issuer), "Ready") or {}
            return cond.get("status") == status

        wait_until(ready_is, timeout=TIMEOUT, interval=POLL)

    def stall(self) -> None:
        """Take the CA away: new requests stay pending until :meth:`resume`."""
        self.kubectl("delete", "secret", "ca-key-pair")
        self.wait_issuer("ca-issuer", "False")

    def resume(self) -> None:
        """Give the CA back; pending requests are then signed."""
        self._create_ca_secret()
        self.wait_issuer("ca-issuer", "True")

    # -- kubectl in this namespace -------------------------------------------------------------

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.serve.kubectl(*args, "-n", self.name, input_text=input_text, check=check)

    def apply(self, manifest: dict[str, Any] | str) -> None:
        self.serve.apply(manifest if isinstance(manifest, str) else yaml.safe_dump(manifest),
                         self.name)  # fmt: skip

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.serve.get(kind, name, self.name)

    def secret_data(self, name: str) -> dict[str, bytes]:
        data = self.get("secret", name).get("data") or {}
        return {k: base64.b64decode(v) for k, v in data.items()}

    def request_names(self) -> list[str]:
        return sorted(cr["metadata"]["name"] for cr in self.serve.list("cr", self.name))

    def events(self, reason: str) -> list[str]:
        """Messages of the Events with ``reason`` about Certificates."""
        return [
            e["message"]
            for e in self.serve.list("events", self.name)
            if e["reason"] == reason and e["involvedObject"]["kind"] == "Certificate"
        ]

    # -- Certificates --------------------------------------------------------------------------

    def certificate(self, name: str, **spec: Any) -> None:
        """``kubectl apply`` Certificate ``name`` (Secret ``<name>-tls``) from ``ca-issuer``."""
        body = {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.example.com"],
            "issuerRef": {"name": "ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
            **spec,
        }
        self.apply({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                    "metadata": {"name": name}, "spec": body})  # fmt: skip

    def wait_condition(self, name: str, ctype: str, status: str, reason: str) -> dict[str, Any]:
        """Wait until Certificate ``name`` has that condition; return the Certificate."""
        seen: list[dict[str, Any]] = []

        def holds() -> bool:
            seen[:] = [self.get("certificate", name)]
            cond = condition(seen[0], ctype) or {}
            return (cond.get("status"), cond.get("reason")) == (status, reason)

        wait_until(holds, timeout=TIMEOUT, interval=POLL)
        return seen[0]

    def wait_revision(self, name: str, revision: int) -> dict[str, Any]:
        """Wait until Certificate ``name`` is Ready at ``revision``; return it."""
        seen: list[dict[str, Any]] = []

        def ready() -> bool:
            seen[:] = [self.get("certificate", name)]
            status = seen[0].get("status") or {}
            cond = condition(seen[0], "Ready") or {}
            return status.get("revision") == revision and cond.get("status") == "True"

        wait_until(ready, timeout=TIMEOUT, interval=POLL)
        return seen[0]

    def wait_requests(self, names: list[str]) -> None:
        self.wait(lambda: self.request_names() == names)

    def wait(self, check: Callable[[], object]) -> None:
        """Poll ``check`` until it is truthy (kubectl-friendly pace, generous bound)."""
        wait_until(check, timeout=TIMEOUT, interval=POLL)

    def verify(self, secret: str, at: dt.datetime | None = None) -> None:
        """``openssl verify -CAfile ca.crt tls.crt`` (at the controllers' time ``at``, if moved)
        and tls.key is tls.crt's key."""
        data = self.secret_data(secret)
        out = self.workdir / secret
        out.mkdir(exist_ok=True)
        for key in ("tls.crt", "tls.key", "ca.crt"):
            (out / key).write_bytes(data[key])
        attime = str(int((at or dt.datetime.now(dt.UTC)).timestamp()))
        result = openssl("verify", "-attime", attime, "-CAfile", out / "ca.crt", out / "tls.crt")
        assert result.stdout.strip().endswith(": OK"), result.stdout
        cert_pub = openssl("x509", "-noout", "-pubkey", "-in", out / "tls.crt").stdout
        assert cert_pub == openssl("pkey", "-pubout", "-in", out / "tls.key").stdout
