"""A real bind9 (Debian's ``named``) on a free loopback port, for DNS-01 tests.

The configuration follows ``shared/PEERS.md`` §4.2: authoritative only (no recursion), no
rndc channel, RFC 2136 updates allowed for TXT records only, with one TSIG key per algorithm
cert-manager accepts. Zones:

* ``example.test.``: ``ns1``/``www``/``*.apps`` A 127.0.0.1, a catch-all ``*`` A 127.0.0.1 (so
  any name resolves for HTTP-01 tests), ``_acme-challenge.alias`` CNAME into the delegate zone,
  ``_acme-challenge.inzone`` CNAME to ``_acme-challenge.inzone-target.example.test``, and a
  CNAME loop (``_acme-challenge.loop1`` ↔ ``loop2``). With recursion off, bind9 answers a TXT
  query for a CNAME with the target's record only when the target is in the same zone, so a
  validating ACME server (pebble) can follow ``inzone`` but not ``alias``.
* ``acme-delegate.test.``: where ``alias``'s challenge record really lives (CNAME following).
* ``locked.test.``: updates refused for every key.
* ``two-ns.test.``: two NS, ``ns1`` (this bind9) and ``ns2`` → 127.0.0.2, where a test may run
  a stand-in secondary to show that the propagation check asks every NS.

NS records point at 127.0.0.1 (port 53, as real NS records must); the tests query that address
on :attr:`Bind9.port` through the checker's ``authoritative_port`` setting.

Tests share one server per session, so each test writes under its own names
(:meth:`Bind9.unique`).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

ZONE = "example.test."
DELEGATE_ZONE = "acme-delegate.test."
LOCKED_ZONE = "locked.test."
TWO_NS_ZONE = "two-ns.test."
SECONDARY_ADDRESS = "127.0.0.2"
"""Where ``two-ns.test``'s second NS points: nothing listens there unless a test starts a
stand-in secondary on that address and :attr:`Bind9.port`."""

# cert-manager's tsigAlgorithm value -> bind's algorithm name
ALGORITHMS = {
    "HMACMD5": "hmac-md5",
    "HMACSHA1": "hmac-sha1",
    "HMACSHA256": "hmac-sha256",
    "HMACSHA512": "hmac-sha512",
}


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key bind9 knows: its name, algorithms (ours and bind's) and base64 secret."""

    name: str
    algorithm: str
    bind_algorithm: str
    secret: str


@dataclass
class Bind9:
    """A running ``named``; ``keys`` is indexed by cert-manager's algorithm name."""

    port: int
    directory: Path
    keys: dict[str, TsigKey]
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, as an rfc2136 ``nameserver`` or a solver nameserver."""
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def unique(prefix: str = "t") -> str:
        """A fresh DNS label, so tests sharing the server never see each other's records."""
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def txt(self, name: str) -> list[str]:
        """The TXT values at ``name`` as bind9 serves them now (empty when there are none)."""
        request = dns.message.make_query(name, dns.rdatatype.TXT)
        request.flags &= ~dns.flags.RD
        reply = dns.query.udp(request, "127.0.0.1", port=self.port, timeout=5)
        return sorted(
            b"".join(rdata.strings).decode()
            for rrset in reply.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset
        )

    def log(self) -> str:
        """What named wrote so far (for failure messages)."""
        return (self.directory / "named.log").read_text(errors="replace")

    def stop(self) -> None:
        """Terminate named and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1, and for UDP on the secondary's address."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as secondary,
            ):
                try:
                    udp.bind(("127.0.0.1", port))
                    secondary.bind((SECONDARY_ADDRESS, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port for bind9")


def _tsig_key(name: str, bind_algorithm: str) -> tuple[str, str]:
    """``tsig-keygen`` output (a ``key`` clause) and the secret it holds."""
    text = subprocess.run(
        ["tsig-keygen", "-a", bind_algorithm, name], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r'secret "([^"]+)"', text)
    assert match, text
    return text, match.group(1)


_ZONE_FILES = {
    ZONE: """$TTL 60
@       IN SOA  ns1.example.test. hostmaster.example.test. ( 1 60 60 3600 60 )
        IN NS   ns1.example.test.
ns1     IN A    127.0.0.1
www     IN A    127.0.0.1
*.apps  IN A    127.0.0.1
*       IN A    127.0.0.1
_acme-challenge.alias  IN CNAME _acme-challenge.target.acme-delegate.test.
_acme-challenge.inzone IN CNAME _acme-challenge.inzone-target.example.test.
_acme-challenge.loop1  IN CNAME _acme-challenge.loop2.example.test.
_acme-challenge.loop2  IN CNAME _acme-challenge.loop1.example.test.
""",
    DELEGATE_ZONE: """$TTL 60
@       IN SOA  ns1.acme-delegate.test. hostmaster.acme-delegate.test. ( 1 60 60 3600 60 )
        IN NS   ns1.acme-delegate.test.
ns1     IN A    127.0.0.1
""",
    TWO_NS_ZONE: """$TTL 60
@       IN SOA  ns1.two-ns.test. hostmaster.two-ns.test. ( 1 60 60 3600 60 )
        IN NS   ns1.two-ns.test.
        IN NS   ns2.two-ns.test.
ns1     IN A    127.0.0.1
ns2     IN A    127.0.0.2
""",
    LOCKED_ZONE: """$TTL 60
@       IN SOA  ns1.locked.test. hostmaster.locked.test. ( 1 60 60 3600 60 )
        IN NS   ns1.locked.test.
ns1     IN A    127.0.0.1
""",
}


def _named_conf(directory: Path, port: int, keys: dict[str, TsigKey], key_clauses: str) -> str:
    grants = " ".join(f"grant {key.name} zonesub TXT;" for key in keys.values())
    zones = []
    for zone in _ZONE_FILES:
        bare = zone.rstrip(".")
        policy = (
            "allow-update { none; };" if zone == LOCKED_ZONE else f"update-policy {{ {grants} }};"
        )
        zones.append(f'zone "{bare}" {{ type primary; file "{directory}/{bare}.zone"; {policy} }};')
    return f"""{key_clauses}
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ 127.0.0.1; }};
    allow-transfer {{ none; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
{chr(10).join(zones)}
"""


def start_bind9(directory: Path) -> Bind9:
    """Write the configuration under ``directory``, start ``named -g`` and wait until it answers.

    Raises:
        RuntimeError: named is not installed, or did not answer within 20 s (its log attached).
    """
    named = shutil.which("named") or "/usr/sbin/named"
    if not Path(named).exists():
        raise RuntimeError("named not found: install bind9 (scripts/install.sh does)")
    directory.mkdir(parents=True, exist_ok=True)
    keys: dict[str, TsigKey] = {}
    clauses = []
    for algorithm, bind_algorithm in ALGORITHMS.items():
        name = f"certsmith-{bind_algorithm}"
        clause, secret = _tsig_key(name, bind_algorithm)
        clauses.append(clause)
        keys[algorithm] = TsigKey(name, algorithm, bind_algorithm, secret)
    for zone, text in _ZONE_FILES.items():
        (directory / f"{zone.rstrip('.')}.zone").write_text(text)
    port = _free_port()
    conf = directory / "named.conf"
    conf.write_text(_named_conf(directory, port, keys, "\n".join(clauses)))
    with (directory / "named.log").open("wb") as log:  # named keeps its own descriptor
        process = subprocess.Popen(
            [named, "-g", "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Bind9(port, directory, keys, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"named exited with {process.returncode}:\n{server.log()}")
        if _answers_soa(port):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"named did not answer within 20 s:\n{server.log()}")


def _answers_soa(port: int) -> bool:
    request = dns.message.make_query(ZONE, dns.rdatatype.SOA)
    try:
        reply = dns.query.udp(request, "127.0.0.1", port=port, timeout=0.5)
    except (OSError, dns.exception.Timeout):
        return False
    return any(rrset.rdtype == dns.rdatatype.SOA for rrset in reply.answer)


@pytest.fixture(scope="session")
def bind9(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind9]:
    """One bind9 for the whole session (each test uses :meth:`Bind9.unique` names)."""
    server = start_bind9(tmp_path_factory.mktemp("bind9"))
    try:
        yield server
    finally:
        server.stop()
