"""What the Order and Challenge controllers share: issuer lookup, status writes, ACME errors."""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any, Final

import pydantic

from certsmith.acme.problems import AcmeProblem, is_rate_limited
from certsmith.api.certmanager import AnyIssuer
from certsmith.api.meta import format_time
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import ResourceRef
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.issuers import parse_issuer
from certsmith.controllers.runtime.cache import JSONObject

log = logging.getLogger(__name__)

FAILURE_STATES: Final = frozenset({"invalid", "expired", "errored"})
FINAL_STATES: Final = FAILURE_STATES | {"valid"}
STATES: Final = frozenset({"valid", "ready", "pending", "processing"}) | FAILURE_STATES


class IssuerLookupError(LookupError):
    """The referenced issuer is not in the cache (or its kind is not a cert-manager kind)."""


def lookup_issuer(informers: SharedInformers, ref: JSONObject, namespace: str) -> AnyIssuer:
    """The issuer an Order or Challenge references, from the informer caches.

    Raises:
        IssuerLookupError: it does not exist, cannot be parsed, or the kind is unknown.
    """
    kind = str(ref.get("kind") or "")
    name = str(ref.get("name") or "")
    if kind in ("", "Issuer"):
        obj = informers.issuers.cache.get(namespace, name)
    elif kind == "ClusterIssuer" and informers.cluster_scoped:
        obj = informers.cluster_issuers.cache.get(None, name)
    else:
        raise IssuerLookupError(f'error reading (cluster)issuer "{name}": unknown kind "{kind}"')
    if obj is None:
        raise IssuerLookupError(f'error reading (cluster)issuer "{name}": not found')
    try:
        return parse_issuer(obj)
    except pydantic.ValidationError as err:
        raise IssuerLookupError(f'error reading (cluster)issuer "{name}": {err}') from None


def acme_state(status: str) -> str:
    """An ACME status as a State enum value (unknown ones, e.g. ``deactivated``, are invalid)."""
    return status if status in STATES else "invalid"


def set_state(status: dict[str, Any], state: str, now: dt.datetime) -> None:
    """Set ``state``; a failure state also stamps ``failureTime`` (as cert-manager does)."""
    status["state"] = state
    if state in FAILURE_STATES:
        status["failureTime"] = format_time(now)


def rate_limit_wait(err: BaseException) -> float | None:
    """Seconds to wait after a ``rateLimited`` problem with ``Retry-After``; ``None`` otherwise."""
    if is_rate_limited(err) and isinstance(err, AcmeProblem) and err.retry_after:
        return max(float(err.retry_after), 1.0)
    return None


def until(now: dt.datetime, seconds: float) -> str:
    """``now + seconds`` as an RFC 3339 time, for messages."""
    return format_time(now + dt.timedelta(seconds=seconds))


async def write_status(
    client: KubeClient, resource: ResourceRef, obj: JSONObject, status: dict[str, Any]
) -> JSONObject | None:
    """Replace ``obj``'s status with ``status`` when it changed; returns the stored object.

    Raises:
        certsmith.client.errors.ApiError: the write failed (a 409 is retried by the caller).
    """
    if (obj.get("status") or {}) == status:
        return None
    body = copy.deepcopy(obj)
    body["status"] = status
    meta = obj.get("metadata") or {}
    return await client.replace_status(resource, meta.get("namespace"), meta["name"], body)
