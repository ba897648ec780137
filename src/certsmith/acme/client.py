"""An asyncio ACME client (RFC 8555, RFC 9773 ARI) over httpx.

One :class:`AcmeClient` speaks for one account key against one directory. It keeps the
directory and a pool of nonces, signs every POST with the account key (``jwk`` until the
account URL is known, ``kid`` after), retries ``badNonce`` refusals with the fresh nonce the
refusal carries, and turns error answers into :class:`~certsmith.acme.problems.AcmeProblem`.
It never retries anything else by itself: rate limits and server errors go to the caller
with their ``Retry-After``, since the controllers decide when to try again.

Every HTTP exchange is reported to an optional :data:`RequestObserver` with the labels of
cert-manager's ``certmanager_http_acme_client_request_count``: scheme, host, action, method,
status code (999 when no answer arrived) and the seconds it took. ``action`` names the
logical operation, with cert-manager's values (``pkg/acme/client/middleware/logger.go``):
``discover``, ``register_account``, ``get_registration``, ``update_registration``,
``authorize_order``, ``get_order``, ``wait_order``, ``get_authorization``,
``wait_authorization``, ``get_challenge``, ``accept_challenge``, ``create_order_cert``
(finalize), ``fetch_cert``, ``list_cert_alternates``, ``get_renewal_info``; plus
``revoke_cert``, which cert-manager's controller never calls. Nonce fetches and directory
loads made on behalf of an operation carry that operation's action, as in cert-manager.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certsmith.acme.challenges import ari_cert_id, dns01_txt_value, key_authorization
from certsmith.acme.jws import (
    AccountKey,
    AccountPrivateKey,
    b64url,
    encode_jws,
    external_account_binding,
)
from certsmith.acme.models import (
    Account,
    Authorization,
    CertificateChain,
    CertificateChains,
    Challenge,
    Directory,
    ExternalAccountBinding,
    Identifier,
    Order,
    RenewalInfo,
    Status,
    format_time,
    preferred_chain,
)
from certsmith.acme.problems import (
    AcmeProblem,
    AcmeProtocolError,
    AriNotSupportedError,
    NetworkError,
    NoAccountError,
    PollTimeoutError,
    ProfileNotSupportedError,
    is_bad_nonce,
    parse_retry_after,
    problem_from_response,
)
from certsmith.util.clock import Clock, SystemClock

log = logging.getLogger(__name__)

RequestObserver = Callable[[str, str, str, str, int, float], None]
"""Called after every HTTP exchange: (scheme, host, action, method, status_code, seconds)."""

Sleeper = Callable[[float], Awaitable[None]]

_T = TypeVar("_T")

USER_AGENT = "certsmith-acme/0.1"
JOSE_CONTENT_TYPE = "application/jose+json"
PEM_CHAIN_CONTENT_TYPE = "application/pem-certificate-chain"
FIRST_POLL_DELAY = 0.1
"""First wait between polls without ``Retry-After``; doubles up to the poll ``interval``."""
MAX_RESPONSE_BYTES = 4 << 20
"""Largest response body read (certificate chains are a few KiB; cert-manager caps too)."""
NO_STATUS = 999
"""Status label when no HTTP answer arrived (cert-manager's value)."""

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


@dataclass(frozen=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    retry_after: float | None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise AcmeProtocolError(
                f"the ACME server answered {self.url} with a body that is not JSON"
            ) from None

    def location(self) -> str:
        location = self.headers.get("Location")
        if not location:
            raise AcmeProtocolError(f"the ACME server's answer to {self.url} has no Location")
        return str(location)

    def links(self, rel: str) -> list[str]:
        found: list[str] = []
        for header in self.headers.get_list("Link"):
            for match in _LINK.finditer(header):
                params = match.group(2)
                if re.search(rf'rel\s*=\s*"?{re.escape(rel)}"?(\s*;|\s*$)', params):
                    found.append(str(httpx.URL(self.url).join(match.group(1))))
        return found


def ssl_context(ca_bundle: bytes | None = None, *, skip_tls_verify: bool = False) -> ssl.SSLContext:
    """TLS trust for the ACME server: the issuer's ``caBundle`` (PEM), or system roots.

    ``skip_tls_verify`` (the issuer's ``skipTLSVerify``) turns verification off entirely.
    """
    if ca_bundle and skip_tls_verify:
        raise ValueError("caBundle and skipTLSVerify are mutually exclusive")
    if skip_tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_bundle:
        try:
            return ssl.create_default_context(cadata=ca_bundle.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"the ACME server CA bundle is not valid PEM: {exc}") from None
    return ssl.create_default_context()


def contact_for_email(email: str | None) -> tuple[str, ...]:
    """The account ``contact`` for an issuer's ``email``: ``mailto:<lowercased>`` or none."""
    email = (email or "").strip()
    return (f"mailto:{email.lower()}",) if email else ()


class AcmeClient:
    """An ACME client for one account key and one directory URL.

    Use as ``async with AcmeClient(...) as client:`` or call :meth:`aclose` when done.
    Methods are safe to call concurrently on one event loop.

    Args:
        directory_url: the ACME directory (issuer ``spec.acme.server``).
        account_key: RSA or EC private key of the account.
        account_url: the account URL when already known (issuer ``status.acme.uri``);
            otherwise :meth:`register_account` or :meth:`find_account` sets it.
        ca_bundle: PEM CA certificates to trust for the server (issuer ``caBundle``).
        skip_tls_verify: do not verify the server's certificate (issuer ``skipTLSVerify``).
        observer: called after every HTTP exchange (see module docstring).
        timeout: seconds per HTTP request.
        max_bad_nonce_retries: how often one request is re-signed after ``badNonce``.
        clock: source of "now" (``Retry-After`` dates).
        sleep: how to wait between polls (tests pass a fake).
        transport: an httpx transport to use instead of the network (tests only).
    """

    def __init__(
        self,
        directory_url: str,
        account_key: AccountPrivateKey | AccountKey,
        *,
        account_url: str | None = None,
        ca_bundle: bytes | None = None,
        skip_tls_verify: bool = False,
        observer: RequestObserver | None = None,
        timeout: float = 30.0,
        max_bad_nonce_retries: int = 16,
        user_agent: str = USER_AGENT,
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.directory_url = directory_url
        self._key = account_key if isinstance(account_key, AccountKey) else AccountKey(account_key)
        self._account_url = account_url
        self._observer = observer
        self._max_bad_nonce_retries = max_bad_nonce_retries
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._directory: Directory | None = None
        self._directory_lock = asyncio.Lock()
        self._nonces: deque[str] = deque(maxlen=64)
        self._http = httpx.AsyncClient(
            verify=ssl_context(ca_bundle, skip_tls_verify=skip_tls_verify),
            timeout=timeout,
            http1=True,
            http2=False,
            follow_redirects=False,
            headers={"User-Agent": user_agent},
            transport=transport,
        )

    async def __aenter__(self) -> AcmeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    # -- identity -------------------------------------------------------------------------

    @property
    def account_key(self) -> AccountKey:
        """The account key (JWK, algorithm, thumbprint); never logged."""
        return self._key

    @property
    def account_url(self) -> str | None:
        """The account URL (``kid``), once registered or found."""
        return self._account_url

    def key_authorization(self, token: str) -> str:
        """``<token>.<account key thumbprint>``: what an HTTP-01 solver serves."""
        return key_authorization(token, self._key.thumbprint)

    def dns01_txt_value(self, token: str) -> str:
        """The TXT value a DNS-01 solver publishes for ``token``."""
        return dns01_txt_value(self.key_authorization(token))

    # -- directory and accounts ------------------------------------------------------------

    async def directory(self, *, refresh: bool = False) -> Directory:
        """The server's directory, fetched once and cached (``refresh`` fetches again)."""
        return await self._get_directory("discover", refresh=refresh)

    async def register_account(
        self,
        email: str | None = None,
        *,
        terms_of_service_agreed: bool = True,
        eab: ExternalAccountBinding | None = None,
    ) -> Account:
        """Create the account for this key, or return the existing one (RFC 8555 §7.3).

        ``email`` becomes the contact ``mailto:<lowercased email>``. ``eab`` binds the
        account to the CA's external account (required by some CAs; pebble's EAB config).
        Sets :attr:`account_url`.
        """
        directory = await self._get_directory("register_account")
        payload: dict[str, Any] = {"termsOfServiceAgreed": terms_of_service_agreed}
        contact = contact_for_email(email)
        if contact:
            payload["contact"] = list(contact)
        if eab is not None:
            payload["externalAccountBinding"] = external_account_binding(
                eab, self._key, directory.new_account
            )
        return await self._new_account(directory, payload, "register_account")

    async def find_account(self) -> Account:
        """Look up the existing account for this key (``onlyReturnExisting``).

        Raises ``AcmeProblem`` of type ``accountDoesNotExist`` when there is none.
        Sets :attr:`account_url`.
        """
        directory = await self._get_directory("get_registration")
        return await self._new_account(directory, {"onlyReturnExisting": True}, "get_registration")

    async def get_account(self) -> Account:
        """Fetch the account object (POST-as-GET to the account URL)."""
        url = self._require_account()
        response = await self._post("get_registration", url, None)
        return Account.from_json(url, response.json())

    async def update_account(self, email: str | None) -> Account:
        """Replace the account's contacts with ``mailto:<lowercased email>`` (none if empty)."""
        url = self._require_account()
        payload = {"contact": list(contact_for_email(email))}
        response = await self._post("update_registration", url, payload)
        return Account.from_json(url, response.json())

    # -- orders ---------------------------------------------------------------------------

    async def new_order(
        self,
        identifiers: Sequence[Identifier],
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        profile: str | None = None,
        replaces: str | None = None,
    ) -> Order:
        """Create an order (RFC 8555 §7.4).

        ``not_after`` is sent when the issuer has ``enableDurationFeature``; ``profile``
        names a certificate profile the directory lists; ``replaces`` is the ARI CertID
        (:func:`~certsmith.acme.challenges.ari_cert_id`) of the certificate this renews.

        Raises ``ProfileNotSupportedError`` when the directory does not list ``profile``,
        ``AriNotSupportedError`` when ``replaces`` is given to a server without ARI (see
        :func:`~certsmith.acme.problems.is_replaces_rejection`), ``AcmeProblem`` when the
        server refuses the order.
        """
        directory = await self._get_directory("authorize_order")
        payload: dict[str, Any] = {"identifiers": [i.to_json() for i in identifiers]}
        if not_before is not None:
            payload["notBefore"] = format_time(not_before)
        if not_after is not None:
            payload["notAfter"] = format_time(not_after)
        if profile:
            if not directory.profiles:
                raise ProfileNotSupportedError(
                    "the ACME server does not support certificate profiles"
                )
            if profile not in directory.profiles:
                offered = ", ".join(sorted(directory.profiles))
                raise ProfileNotSupportedError(
                    f"the ACME server does not offer a profile named {profile!r} "
                    f"(it offers: {offered})"
                )
            payload["profile"] = profile
        if replaces:
            # RFC 9773: only servers that advertise renewalInfo understand replaces.
            if directory.renewal_info is None:
                raise AriNotSupportedError(
                    "the ACME server does not support ARI (no renewalInfo in its directory)"
                )
            payload["replaces"] = replaces
        response = await self._post("authorize_order", directory.new_order, payload)
        return Order.from_json(
            response.location(), response.json(), retry_after=response.retry_after
        )

    async def get_order(self, url: str) -> Order:
        """Fetch an order (POST-as-GET)."""
        return await self._fetch_order("get_order", url)

    async def wait_order(
        self,
        url: str,
        *,
        max_wait: float = 120.0,
        interval: float = 1.0,
    ) -> Order:
        """Poll an order until it leaves ``pending``/``processing``; return it.

        Waits as the server's ``Retry-After`` asks; without one, 0.1 s doubling up to
        ``interval`` (validation usually takes well under a second). Raises
        ``PollTimeoutError`` when ``max_wait`` seconds of waiting pass first.
        """
        return await self._poll(
            lambda: self._fetch_order("wait_order", url),
            lambda o: o.status not in (Status.PENDING, Status.PROCESSING),
            lambda o: o.retry_after,
            what=f"order {url}",
            max_wait=max_wait,
            interval=interval,
        )

    async def finalize_order(self, order: Order, csr_der: bytes) -> Order:
        """Send the CSR (DER) to the order's finalize URL; return the updated order.

        The returned order is usually ``processing`` or ``valid``; :meth:`wait_order`
        until ``valid`` and then fetch its certificate.
        """
        payload = {"csr": b64url(csr_der)}
        response = await self._post("create_order_cert", order.finalize, payload)
        url = response.headers.get("Location") or order.url
        return Order.from_json(str(url), response.json(), retry_after=response.retry_after)

    # -- authorizations and challenges -----------------------------------------------------

    async def get_authorization(self, url: str) -> Authorization:
        """Fetch an authorization (POST-as-GET)."""
        return await self._fetch_authorization("get_authorization", url)

    async def wait_authorization(
        self,
        url: str,
        *,
        max_wait: float = 120.0,
        interval: float = 1.0,
    ) -> Authorization:
        """Poll an authorization until it is no longer ``pending``; return it.

        The caller inspects ``status`` (``valid``, ``invalid``...) and, for ``invalid``,
        the challenge's ``error``. Waits like :meth:`wait_order`; raises
        ``PollTimeoutError`` after ``max_wait`` seconds.
        """
        return await self._poll(
            lambda: self._fetch_authorization("wait_authorization", url),
            lambda a: a.status != Status.PENDING,
            lambda a: a.retry_after,
            what=f"authorization {url}",
            max_wait=max_wait,
            interval=interval,
        )

    async def get_challenge(self, url: str) -> Challenge:
        """Fetch a challenge (POST-as-GET)."""
        response = await self._post("get_challenge", url, None)
        return Challenge.from_json(response.json())

    async def accept_challenge(self, challenge: Challenge | str) -> Challenge:
        """Tell the server the challenge is ready to be validated (POST ``{}``)."""
        url = challenge if isinstance(challenge, str) else challenge.url
        response = await self._post("accept_challenge", url, {})
        return Challenge.from_json(response.json())

    # -- certificates ----------------------------------------------------------------------

    async def fetch_certificate_chains(self, url: str) -> CertificateChains:
        """Download the certificate and every alternate chain the server links (RFC 8555 §7.4.2)."""
        default, alternates = await self._download(url, "fetch_cert")
        chains = [default]
        for alt_url in alternates:
            chain, _ = await self._download(alt_url, "list_cert_alternates")
            chains.append(chain)
        return CertificateChains(chains[0], tuple(chains[1:]))

    async def fetch_certificate(
        self, url: str, *, preferred_chain_cn: str | None = None
    ) -> CertificateChain:
        """Download the chain to use: the issuer's ``preferredChain`` if offered, else default.

        Alternates are fetched only when a preferred chain is named and the default chain
        does not match it.
        """
        default, alternates = await self._download(url, "fetch_cert")
        if not preferred_chain_cn or default.top_issuer_cn == preferred_chain_cn:
            return default
        for alt_url in alternates:
            chain, _ = await self._download(alt_url, "list_cert_alternates")
            if chain.top_issuer_cn == preferred_chain_cn:
                return chain
        return default

    async def revoke_certificate(
        self,
        certificate: x509.Certificate | bytes,
        *,
        reason: int | None = None,
        certificate_key: AccountPrivateKey | None = None,
    ) -> None:
        """Revoke a certificate (RFC 8555 §7.6), signed by the account or the certificate's key.

        ``certificate`` is parsed or DER/PEM bytes; ``reason`` an RFC 5280 CRLReason code.
        With ``certificate_key`` the request is signed by that key (``jwk`` header) instead
        of the account.
        """
        cert = _load_certificate(certificate)
        directory = await self._get_directory("revoke_cert")
        payload: dict[str, Any] = {
            "certificate": b64url(cert.public_bytes(serialization.Encoding.DER))
        }
        if reason is not None:
            payload["reason"] = reason
        signer = AccountKey(certificate_key) if certificate_key is not None else None
        await self._post("revoke_cert", directory.revoke_cert, payload, signer=signer)

    # -- ACME Renewal Information (RFC 9773) -----------------------------------------------

    async def supports_renewal_info(self) -> bool:
        """True when the directory has a ``renewalInfo`` URL."""
        directory = await self._get_directory("get_renewal_info")
        return directory.renewal_info is not None

    async def get_renewal_info(self, certificate: x509.Certificate | bytes) -> RenewalInfo | None:
        """The server's suggested renewal window for ``certificate``.

        Returns ``None`` when the server has no ARI (no ``renewalInfo`` in its directory,
        e.g. pebble 2.4); the caller then renews by its own schedule. Raises
        ``ValueError`` when the certificate has no Authority Key Identifier.
        """
        directory = await self._get_directory("get_renewal_info")
        if directory.renewal_info is None:
            return None
        cert_id = ari_cert_id(_load_certificate(certificate))
        url = directory.renewal_info.rstrip("/") + "/" + cert_id
        response = await self._request("get_renewal_info", "GET", url)
        return RenewalInfo.from_json(response.json(), retry_after=response.retry_after)

    # -- internals -------------------------------------------------------------------------

    def _require_account(self) -> str:
        if self._account_url is None:
            raise NoAccountError("the ACME account is not registered yet (no account URL)")
        return self._account_url

    async def _get_directory(self, action: str, *, refresh: bool = False) -> Directory:
        async with self._directory_lock:
            if self._directory is None or refresh:
                response = await self._request(action, "GET", self.directory_url)
                data = response.json()
                if not isinstance(data, Mapping):
                    raise AcmeProtocolError(
                        f"the ACME directory at {self.directory_url} is not a JSON object"
                    )
                self._directory = Directory.from_json(self.directory_url, data)
            return self._directory

    async def _new_account(
        self, directory: Directory, payload: dict[str, Any], action: str
    ) -> Account:
        response = await self._post(action, directory.new_account, payload, use_kid=False)
        account = Account.from_json(response.location(), response.json())
        self._account_url = account.url
        return account

    async def _fetch_order(self, action: str, url: str) -> Order:
        response = await self._post(action, url, None)
        return Order.from_json(url, response.json(), retry_after=response.retry_after)

    async def _fetch_authorization(self, action: str, url: str) -> Authorization:
        response = await self._post(action, url, None)
        return Authorization.from_json(url, response.json(), retry_after=response.retry_after)

    async def _poll(
        self,
        fetch: Callable[[], Awaitable[_T]],
        done: Callable[[_T], bool],
        retry_after: Callable[[_T], float | None],
        *,
        what: str,
        max_wait: float,
        interval: float,
    ) -> _T:
        waited = 0.0
        step = min(FIRST_POLL_DELAY, interval)
        while True:
            item = await fetch()
            if done(item):
                return item
            delay = retry_after(item)
            if not delay:
                delay, step = step, min(step * 2, interval)
            delay = min(delay, max(max_wait - waited, 0.0))
            if delay <= 0:
                raise PollTimeoutError(f"{what} was still pending after {max_wait:g}s")
            await self._sleep(delay)
            waited += delay

    async def _download(self, url: str, action: str) -> tuple[CertificateChain, list[str]]:
        response = await self._post(action, url, None, accept=PEM_CHAIN_CONTENT_TYPE)
        try:
            pem = response.body.decode("ascii")
            certs = x509.load_pem_x509_certificates(response.body)
        except ValueError:
            raise AcmeProtocolError(
                f"the certificate at {url} is not a PEM certificate chain"
            ) from None
        if not certs:
            raise AcmeProtocolError(f"the certificate at {url} is empty")
        return CertificateChain(url, pem), response.links("alternate")

    async def _nonce(self, action: str) -> str:
        if self._nonces:
            return self._nonces.popleft()
        directory = await self._get_directory(action)
        response = await self._request(action, "HEAD", directory.new_nonce)
        nonce = response.headers.get("Replay-Nonce")
        if not nonce:
            raise AcmeProtocolError("the ACME server's newNonce answer has no Replay-Nonce")
        # _request stored it in the pool too; take it back out for this request.
        if nonce in self._nonces:
            self._nonces.remove(nonce)
        return str(nonce)

    async def _post(
        self,
        action: str,
        url: str,
        payload: Any | None,
        *,
        use_kid: bool = True,
        signer: AccountKey | None = None,
        accept: str | None = None,
    ) -> _Response:
        """A signed POST; ``payload=None`` is POST-as-GET. Retries ``badNonce`` only."""
        if signer is not None:
            key, kid = signer, None
        else:
            key = self._key
            kid = self._require_account() if use_kid else None
        attempts = 0
        while True:
            nonce = await self._nonce(action)
            body = encode_jws(key, payload, url=url, nonce=nonce, kid=kid)
            headers = {"Content-Type": JOSE_CONTENT_TYPE}
            if accept:
                headers["Accept"] = accept
            try:
                return await self._request(action, "POST", url, content=body, headers=headers)
            except AcmeProblem as exc:
                if is_bad_nonce(exc) and attempts < self._max_bad_nonce_retries:
                    attempts += 1
                    continue
                raise

    async def _request(
        self,
        action: str,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Response:
        """One HTTP exchange: observed, nonce harvested, errors turned into exceptions."""
        started = time.perf_counter()
        status = NO_STATUS
        try:
            try:
                request = self._http.build_request(method, url, content=content, headers=headers)
                raw = await self._http.send(request, stream=True)
                try:
                    status = raw.status_code
                    body = await _read_capped(raw, url)
                finally:
                    await raw.aclose()
            except httpx.HTTPError as exc:
                raise NetworkError(
                    f"{method} {url}: {type(exc).__name__}: {exc or 'no answer'}"
                ) from None
        finally:
            self._observe(url, action, method, status, time.perf_counter() - started)
        nonce = raw.headers.get("Replay-Nonce")
        if nonce:
            self._nonces.append(nonce)
        retry_after = parse_retry_after(raw.headers.get("Retry-After"), self._clock.now())
        if status >= 400:
            raise problem_from_response(
                status, raw.headers.get("Content-Type"), body, retry_after=retry_after
            )
        return _Response(status, raw.headers, body, url, retry_after)

    def _observe(self, url: str, action: str, method: str, status: int, seconds: float) -> None:
        if self._observer is None:
            return
        parts = urlsplit(url)
        try:
            self._observer(parts.scheme, parts.netloc, action, method, status, seconds)
        except Exception:
            # Metrics must never fail an ACME request.
            log.warning("ACME request observer failed", exc_info=True)


async def _read_capped(response: httpx.Response, url: str) -> bytes:
    """The body, refusing more than MAX_RESPONSE_BYTES (a misbehaving server cannot fill memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise AcmeProtocolError(
                f"the ACME server's answer to {url} is larger than {MAX_RESPONSE_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _load_certificate(certificate: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    data = bytes(certificate)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ValueError("not a PEM or DER certificate") from None


__all__ = [
    "AcmeClient",
    "RequestObserver",
    "contact_for_email",
    "preferred_chain",
    "ssl_context",
]
