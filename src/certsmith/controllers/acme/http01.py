"""HTTP-01 in standalone mode: the in-process responder and the self-check (SPEC §6.6).

What this module decides:

* certsmith answers ``GET /.well-known/acme-challenge/<token>`` itself, on a plain-HTTP
  listener of the process that runs the controllers (``certsmith serve`` or ``certsmith
  controller`` with ``--acme-http01-listen``). The answers come from :class:`Http01Registry`,
  which the Challenge controller fills on Present and empties on CleanUp, so nothing is served
  before a Challenge is presented or after it is cleaned up. Unknown tokens get 404.
* The registry also learns presented Challenges from the Challenge informer (``restore``), so a
  restarted process answers for Challenges presented before the restart without presenting
  again.
* The self-check is cert-manager's: ``http://<dnsName>/.well-known/acme-challenge/<token>``,
  five consecutive GETs two seconds apart, each with a 10 s timeout, redirects followed, TLS not
  verified; success is status 200 with a body exactly equal to the key. Names are resolved
  through ``nameservers`` when given (cert-manager's ``--acme-http01-solver-nameservers``), and
  ``port`` replaces 80 (certsmith's ``--acme-http01-self-check-port``, for tests on loopback and
  for set-ups where port 80 is forwarded to another local port).
* Error texts are cert-manager's; certsmith adds what it got (status and URL, the first bytes of
  a wrong body) after them, since "did not get expected response" alone leaves users guessing
  which listener answered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.resolver
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

log = logging.getLogger(__name__)

CHALLENGE_PATH: Final = "/.well-known/acme-challenge/"
REQUIRED_PASSES: Final = 5
PASS_INTERVAL: Final = 2.0
REQUEST_TIMEOUT: Final = 10.0
MAX_BODY: Final = 1 << 20
EXCERPT: Final = 24


class Http01Registry:
    """Tokens being presented and the key authorization to answer with."""

    def __init__(self) -> None:
        """An empty registry."""
        self._keys: dict[str, str] = {}

    def present(self, token: str, key: str) -> None:
        """Answer ``key`` for ``token`` from now on."""
        self._keys[token] = key

    def clean_up(self, token: str) -> None:
        """Stop answering for ``token`` (no error if it was not presented)."""
        self._keys.pop(token, None)

    def get(self, token: str) -> str | None:
        """The key for ``token``, if presented."""
        return self._keys.get(token)

    def __len__(self) -> int:
        return len(self._keys)


class Http01Responder:
    """The plain-HTTP listener answering HTTP-01 challenges from a registry."""

    def __init__(self, registry: Http01Registry, host: str, port: int) -> None:
        """Serve ``registry`` on ``host:port`` once started (port 0 picks a free port)."""
        self.registry = registry
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and start answering.

        Raises:
            OSError: the address cannot be bound.
        """
        app = web.Application()
        app.router.add_get(CHALLENGE_PATH + "{token}", self._answer)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("answering ACME HTTP-01 challenges on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _answer(self, request: web.Request) -> web.Response:
        key = self.registry.get(request.match_info["token"])
        if key is None:
            return web.Response(status=404, text="unknown challenge token\n")
        return web.Response(text=key, content_type="text/plain")


# -- self-check ---------------------------------------------------------------------------------


class SelfCheckError(Exception):
    """The challenge is not reachable yet; the message says what was asked and what came back."""


def parse_nameserver(value: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` → (address, port); the port defaults to 53.

    Raises:
        ValueError: not an IP address with an optional port.
    """
    text = value.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"invalid port in nameserver {value!r}")
    return host, port


class NameserverResolver(AbstractResolver):
    """aiohttp resolver asking given nameservers (A, then AAAA) instead of the system's."""

    def __init__(self, nameservers: Sequence[str]) -> None:
        """Resolve through ``nameservers`` (``HOST[:PORT]`` each).

        Raises:
            ValueError: a nameserver is malformed.
        """
        self._resolvers = []
        for text in nameservers:
            host, port = parse_nameserver(text)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [host]
            resolver.port = port
            resolver.lifetime = 3.0
            self._resolvers.append(resolver)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host`` from the first nameserver that knows it.

        Raises:
            OSError: no nameserver returned an address.
        """
        last: Exception | None = None
        for resolver in self._resolvers:
            for rdtype, fam in (("A", socket.AF_INET), ("AAAA", socket.AF_INET6)):
                try:
                    answer = await resolver.resolve(host, rdtype)
                except (dns.exception.DNSException, OSError) as err:
                    last = err
                    continue
                return [
                    ResolveResult(
                        hostname=host,
                        host=rr.to_text(),
                        port=port,
                        family=fam,
                        proto=0,
                        flags=socket.AI_NUMERICHOST,
                    )
                    for rr in answer
                ]
        raise OSError(f"no address for {host!r} from the configured nameservers: {last}")

    async def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class SelfCheckOptions:
    """How the HTTP-01 self-check reaches the challenge.

    Attributes:
        nameservers: resolve names through these (``HOST[:PORT]``); empty uses the system's.
        port: the port to GET instead of 80; ``None`` keeps 80.
        passes: consecutive successes required.
        interval: seconds between passes.
        timeout: seconds per request.
    """

    nameservers: tuple[str, ...] = ()
    port: int | None = None
    passes: int = REQUIRED_PASSES
    interval: float = PASS_INTERVAL
    timeout: float = REQUEST_TIMEOUT


def challenge_url(dns_name: str, token: str, port: int | None = None) -> str:
    """``http://<dnsName>[:port]/.well-known/acme-challenge/<token>`` (IPv6 in brackets)."""
    host = dns_name
    try:
        if ipaddress.ip_address(dns_name).version == 6:
            host = f"[{dns_name}]"
    except ValueError:
        pass
    if port is not None and port != 80:
        host = f"{host}:{port}"
    return f"http://{host}{CHALLENGE_PATH}{token}"


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if len(text) > EXCERPT:
        return text[:EXCERPT].strip() + "... (truncated)"
    return text


async def check_once(
    session: aiohttp.ClientSession,
    url: str,
    key: str,
    timeout: float,  # noqa: ASYNC109 - per-request timeout handed to aiohttp
) -> None:
    """One GET of ``url``; returns when it answers 200 with exactly ``key``.

    Raises:
        SelfCheckError: it did not (the message is cert-manager's, plus what came back).
    """
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=True, ssl=False
        ) as response:
            if response.status != 200:
                raise SelfCheckError(
                    f"wrong status code '{response.status}', expected '200' (GET '{url}')"
                )
            body = await response.content.read(MAX_BODY)
    except SelfCheckError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        detail = str(err) or type(err).__name__
        raise SelfCheckError(
            f"failed to perform self check GET request '{url}': {detail}"
        ) from None
    if body != key.encode():
        raise SelfCheckError(
            f"did not get expected response \"{key}\" when querying endpoint '{url}': got "
            f'"{_excerpt(body)}"'
        )


async def self_check(
    dns_name: str,
    token: str,
    key: str,
    options: SelfCheckOptions,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """Require ``options.passes`` consecutive good answers, ``options.interval`` apart.

    Raises:
        SelfCheckError: one attempt failed (the first failure ends the check).
    """
    url = challenge_url(dns_name, token, options.port)
    resolver: AbstractResolver | None = (
        NameserverResolver(options.nameservers) if options.nameservers else None
    )
    connector = aiohttp.TCPConnector(resolver=resolver, force_close=True, ssl=False)
    async with aiohttp.ClientSession(connector=connector, trust_env=True) as session:
        for attempt in range(options.passes):
            await check_once(session, url, key, options.timeout)
            if attempt != options.passes - 1:
                await sleep(options.interval)
