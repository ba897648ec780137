"""The server's own PKI: a CA, a serving certificate and client certificates, in the data dir.

On first start :func:`ensure_pki` creates ``ca.crt``/``ca.key`` (the CA clients trust and that
signs client certificates, as kube's client-CA) and ``serving.crt``/``serving.key`` for
localhost, 127.0.0.1, ::1 and the listen host; the serving certificate is re-issued when the
listen host is not among its names. ECDSA P-256 keys: fast to make, accepted by every client.
Key files are written 0600 in a 0700 directory and are never logged.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS: Final = 3650
LEAF_DAYS: Final = 365
_DEFAULT_HOSTS: Final = ("localhost", "127.0.0.1", "::1")


def write_private(path: Path, data: bytes) -> None:
    """Write a file only the owner can read (0600), replacing it atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_private_dir(path: Path) -> None:
    """Create a directory (0700) or tighten an existing one."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class ServerPKI:
    """Paths of the server's CA and serving certificate."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM)."""
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA private key (PEM, 0600)."""
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        """The serving certificate (PEM)."""
        return self.directory / "serving.crt"

    @property
    def serving_key(self) -> Path:
        """The serving private key (PEM, 0600)."""
        return self.directory / "serving.key"

    def ca_pem(self) -> bytes:
        """The CA certificate's PEM."""
        return self.ca_cert.read_bytes()

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the server CA key is not an ECDSA key")
        return cert, key

    def issue(
        self,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        hosts: tuple[str, ...] = (),
        client: bool = True,
    ) -> tuple[bytes, bytes]:
        """Sign a leaf certificate with the server CA; returns (cert PEM, key PEM)."""
        ca_cert, ca_key = self._ca()
        key = _key()
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def serving_hosts(self) -> set[str]:
        """The names and addresses the current serving certificate covers."""
        if not self.serving_cert.exists():
            return set()
        cert = x509.load_pem_x509_certificate(self.serving_cert.read_bytes())
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return set()
        names = {str(n) for n in san.get_values_for_type(x509.DNSName)}
        names |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        return names

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS for the server: serving cert, client certs optional but verified against the CA."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.serving_cert, self.serving_key)
        ctx.load_verify_locations(cafile=str(self.ca_cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx


def _new_ca(pki: ServerPKI) -> None:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certsmith-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(pki.ca_key, _key_pem(key))
    write_private(pki.ca_cert, cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(directory: Path, listen_host: str) -> ServerPKI:
    """Create the CA and serving certificate if missing (or if the host is not covered)."""
    ensure_private_dir(directory)
    pki = ServerPKI(directory)
    if not pki.ca_cert.exists() or not pki.ca_key.exists():
        _new_ca(pki)
        pki.serving_cert.unlink(missing_ok=True)
    hosts = tuple(dict.fromkeys((*_DEFAULT_HOSTS, listen_host.strip("[]"))))
    wanted = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts if h}
    if not wanted <= pki.serving_hosts() or not pki.serving_key.exists():
        cert, key = pki.issue("certsmith-apiserver", hosts=hosts, client=False)
        write_private(pki.serving_key, key)
        write_private(pki.serving_cert, cert)
    return pki


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
