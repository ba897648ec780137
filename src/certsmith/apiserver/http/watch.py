"""Watch streams (K8S-API §3.7, §4.4): newline-delimited JSON over chunked HTTP.

* ``resourceVersion`` unset or ``"0"``: synthetic ``ADDED`` for the current state first;
  ``N``: every change after N; a compacted N is an ``ERROR`` event with a 410 ``Expired``
  Status inside a 200 stream, as the watch cache answers, so clients re-list.
* Selectors apply to every event; an object that stops matching is sent as ``DELETED``, one
  that starts matching as ``ADDED``.
* ``allowWatchBookmarks``: a ``BOOKMARK`` at the store's progress revision after every quiet
  ``bookmark_interval``. ``sendInitialEvents=true`` needs ``resourceVersionMatch=NotOlderThan``
  and bookmarks (else 422), and ends the initial state with the ``initial-events-end``
  bookmark; never silently ignored, or client-go would wait for it forever.
* Table watches send one-row Tables, with column headers only on the first; metadata watches
  (``as=PartialObjectMetadata``, client-go's metadata informers) send each object, bookmarks
  included, as ``PartialObjectMetadata``.
* ``timeoutSeconds`` ends the stream with a clean EOF.
* A failure once the stream has started is one ``ERROR`` event (the Status a request would
  have got; a 500 names only the id of the logged error), then a clean end of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from aiohttp import web

from certsmith.api.errors import StatusError
from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.context import context_of
from certsmith.apiserver.http.errors import dumps, logged_internal_error
from certsmith.apiserver.http.negotiate import PARTIAL
from certsmith.apiserver.http.params import flag, non_negative_int, selection
from certsmith.apiserver.http.responses import rendering, table_converter
from certsmith.apiserver.http.target import Target
from certsmith.apiserver.storage import EventType, GoneError, Watch, WatchEvent
from certsmith.apiserver.tables import parse_include_object, partial_object_metadata

_log = logging.getLogger(__name__)

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _invalid(message: str) -> StatusError:
    return StatusError(422, "Invalid", message)


def _bookmark(target: Target, revision: int, *, initial_end: bool = False) -> JSONObject:
    meta: JSONObject = {"resourceVersion": str(revision), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    obj = {"kind": target.rt.kind, "apiVersion": target.rt.api_version, "metadata": meta}
    return {"type": "BOOKMARK", "object": obj}


class _Filter:
    """Decides what a selector-filtered watcher sees of one stored event."""

    def __init__(self, request: web.Request, target: Target) -> None:
        self.selection = selection(request, target.rt)

    def translate(self, event: WatchEvent) -> tuple[str, JSONObject] | None:
        if self.selection.empty:
            return event.type.value, event.object
        now = self.selection.matches(event.object)
        if event.type is EventType.ADDED:
            return ("ADDED", event.object) if now else None
        if event.type is EventType.DELETED:
            last = event.prev_object
            matched = self.selection.matches(last) if last is not None else now
            return ("DELETED", event.object) if matched else None
        prev = event.prev_object
        before = self.selection.matches(prev) if prev is not None else now
        if now and before:
            return "MODIFIED", event.object
        if now:
            return "ADDED", event.object
        if before:
            return "DELETED", event.object
        return None


async def serve_watch(request: web.Request, target: Target) -> web.StreamResponse:
    """Answer ``?watch=1`` on a collection (or on a name, as a name field selector would).

    Raises:
        StatusError: before the stream starts, for bad parameters.
    """
    ctx = context_of(request)
    query = request.query
    event_filter = _Filter(request, target)
    timeout = non_negative_int(query, "timeoutSeconds")
    bookmarks = flag(query, "allowWatchBookmarks")
    send_initial = query.get("sendInitialEvents")
    rv = query.get("resourceVersion") or None
    initial_end = False
    if send_initial is not None and send_initial.lower() in ("1", "true"):
        if query.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks:
            raise _invalid(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                "resourceVersionMatch to NotOlderThan and allowWatchBookmarks to true"
            )
        initial_end = True
    shape = rendering(request)
    shape.require_object()
    converter = table_converter(request, target.rt, shape)
    metadata_only = shape.as_kind == PARTIAL
    include = parse_include_object(query.get("includeObject"))
    name_only = target.name

    gone: GoneError | None = None
    watch: Watch | None = None
    try:
        if rv in (None, "0") or initial_end:
            watch = await ctx.store.watch(target.prefix, from_rv=rv, initial_events=True)
        else:
            watch = await ctx.store.watch(target.prefix, from_rv=rv)
    except GoneError as err:
        gone = err

    response = web.StreamResponse(status=200)
    response.headers["Content-Type"] = "application/json"
    response.enable_chunked_encoding()
    await response.prepare(request)
    first = True

    async def send(event: dict[str, Any]) -> None:
        nonlocal first
        if converter is not None:
            event = converter.watch_event(
                event, now=dt.datetime.now(dt.UTC), include=include, first=first
            )
            first = False
        elif metadata_only and event["type"] != "ERROR":
            event = {**event, "object": partial_object_metadata(event["object"], shape.version)}
        await response.write(dumps(event) + b"\n")

    if gone is not None or watch is None:
        assert gone is not None
        await send({"type": "ERROR", "object": gone.to_status()})
        await response.write_eof()
        return response

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    if deadline is None:
        deadline = loop.time() + ctx.default_watch_timeout
    interval = ctx.bookmark_interval
    # From here on the 200 is on the wire: a failure cannot become an HTTP error response
    # (the error middleware would write a second one into the chunked body). It becomes one
    # ERROR event, then the stream ends cleanly, as kube-apiserver's watch does.
    try:
        async with watch:
            iterator = watch.__aiter__()
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                wait = min(remaining, interval) if bookmarks else remaining
                try:
                    event = await asyncio.wait_for(iterator.__anext__(), wait)
                except TimeoutError:
                    progress = watch.progress_revision
                    if bookmarks and progress is not None and loop.time() < deadline:
                        await send(_bookmark(target, progress))
                    continue
                except StopAsyncIteration:
                    break
                except GoneError as err:
                    await send({"type": "ERROR", "object": err.to_status()})
                    break
                if event.type is EventType.BOOKMARK:
                    if initial_end:
                        await send(_bookmark(target, event.revision, initial_end=True))
                    continue
                if name_only is not None and (event.key is None or event.key.name != name_only):
                    continue
                translated = event_filter.translate(event)
                if translated is None:
                    continue
                await send({"type": translated[0], "object": translated[1]})
    except ConnectionError:
        _log.debug("watch client went away")
        return response
    except Exception as exc:
        failure = exc if isinstance(exc, StatusError) else logged_internal_error(request)
        try:
            await response.write(dumps({"type": "ERROR", "object": failure.to_status()}) + b"\n")
        except ConnectionError:
            return response
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response
