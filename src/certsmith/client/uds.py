"""An httpx transport for ``controller.sock`` that hands out keep-alive connections in O(1).

httpcore's pool re-examines every connection it holds on each request and each response close
(``has_expired`` is a ``select`` per socket, and queued requests multiply the scan). serve's
controllers keep dozens of reconciles in flight over one socket, and py-spy put that scan at
about a quarter of the event loop's work while a burst of Certificates was issued. Here a
request takes the most recently released idle connection (one ``has_expired`` check for that
one) or opens a new one, so the cost does not grow with the number of connections. There is no
connection limit: the caller's concurrency bounds it, and the idle list is capped.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Final

import httpcore
import httpx

DEFAULT_MAX_IDLE: Final = 64
# aiohttp closes idle keep-alive connections after 75 s; retire ours before it does.
KEEPALIVE_EXPIRY: Final = 60.0


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raise httpcore's exceptions as httpx's classes of the same name, as httpx does."""
    try:
        yield
    except httpcore.UnsupportedProtocol as exc:
        raise httpx.UnsupportedProtocol(str(exc)) from exc
    except Exception as exc:
        if type(exc).__module__.startswith("httpcore"):
            mapped = getattr(httpx, type(exc).__name__, httpx.TransportError)
            if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
                raise mapped(str(exc)) from exc
            raise httpx.TransportError(str(exc)) from exc
        raise


class UnixSocketTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over one Unix domain socket path, with a LIFO list of idle connections."""

    def __init__(self, path: str, *, max_idle: int = DEFAULT_MAX_IDLE) -> None:
        self._path = path
        self._max_idle = max_idle
        self._idle: collections.deque[httpcore.AsyncHTTPConnection] = collections.deque()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        """Connections kept open for the next requests."""
        return len(self._idle)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle or new connection; the body's close releases it."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        connection = await self._checkout(core_request.url.origin)
        try:
            with _httpx_errors():
                response = await connection.handle_async_request(core_request)
        except BaseException:
            await connection.aclose()
            raise
        assert not isinstance(response.stream, collections.abc.Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ReleasingStream(self, connection, response.stream),
            extensions=response.extensions,
        )

    async def _checkout(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(
            origin=origin, uds=self._path, keepalive_expiry=KEEPALIVE_EXPIRY
        )

    async def release(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """Keep ``connection`` for reuse if its response was read to the end, else close it."""
        if self._closed or not connection.is_idle() or len(self._idle) >= self._max_idle:
            await connection.aclose()
        else:
            self._idle.append(connection)

    async def aclose(self) -> None:
        """Close the idle connections; those still answering close when their body does."""
        self._closed = True
        while self._idle:
            await self._idle.pop().aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its connection back to the transport when closed."""

    def __init__(
        self,
        transport: UnixSocketTransport,
        connection: httpcore.AsyncHTTPConnection,
        stream: collections.abc.AsyncIterable[bytes],
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._stream = stream
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            with _httpx_errors():
                close = getattr(self._stream, "aclose", None)
                if close is not None:
                    await close()
        finally:
            await self._transport.release(self._connection)
