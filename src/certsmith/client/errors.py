"""Errors the Kubernetes client raises, parsed from the server's ``Status`` body.

::

    CertsmithError
    └── ClientError                 anything the client seam raises
        ├── ConfigError             kubeconfig / in-cluster configuration unusable
        ├── TransportError          no HTTP answer (connect, TLS, timeout, reset)
        └── ApiError                a non-2xx answer or a watch ERROR event (a Status)
            ├── Unauthorized        401
            ├── Forbidden           403
            ├── NotFound            404
            ├── AlreadyExists       409, reason AlreadyExists
            ├── Conflict            409, any other reason (stale resourceVersion, SSA)
            ├── Gone                410 (too old resourceVersion, expired continue token)
            ├── Invalid             422
            ├── TooManyRequests     429, with ``retry_after`` from the Retry-After header
            └── ServerError         5xx

The class is chosen by HTTP code (and for 409 by reason), not by reason alone: the code is the
part of a Status every server sets, while reasons vary (410 arrives as ``Gone`` or ``Expired``).
Controllers may not import httpx, so transport failures are wrapped in :class:`TransportError`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

from certsmith.api.errors import CertsmithError


class ClientError(CertsmithError):
    """Root of the errors raised by the Kubernetes client seam."""


class ConfigError(ClientError):
    """The client configuration (kubeconfig or in-cluster files) cannot be used."""


class TransportError(ClientError):
    """The request got no HTTP answer: connection refused, TLS failure, timeout, reset."""


class ApiError(ClientError):
    """The API server answered with a Kubernetes ``Status`` describing a failure."""

    def __init__(self, status: dict[str, Any], *, retry_after: float | None = None) -> None:
        self.status = status
        code = status.get("code")
        self.code: int = code if isinstance(code, int) else 0
        self.reason: str = str(status.get("reason") or "")
        self.message: str = str(status.get("message") or "")
        details = status.get("details")
        self.details: dict[str, Any] = details if isinstance(details, dict) else {}
        self.retry_after = retry_after
        super().__init__(f"{self.code} {self.reason}: {self.message}")


class Unauthorized(ApiError):  # noqa: N818 - Kubernetes' reason name
    """401: the credentials were missing, wrong or expired."""


class Forbidden(ApiError):  # noqa: N818 - Kubernetes' reason name
    """403: the caller may not do this (RBAC, terminating namespace)."""


class NotFound(ApiError):  # noqa: N818 - Kubernetes' reason name
    """404: the object (or its namespace, or the resource) does not exist."""


class AlreadyExists(ApiError):  # noqa: N818 - Kubernetes' reason name
    """409 AlreadyExists: a create hit an existing name."""


class Conflict(ApiError):  # noqa: N818 - Kubernetes' reason name
    """409: a stale ``resourceVersion``, a failed precondition or a field manager conflict."""


class Gone(ApiError):  # noqa: N818 - Kubernetes' reason name
    """410: the requested resourceVersion is compacted; list again from scratch."""


class Invalid(ApiError):  # noqa: N818 - Kubernetes' reason name
    """422: the object failed validation, or a JSON Patch ``test`` failed."""


class TooManyRequests(ApiError):  # noqa: N818 - Kubernetes' reason name
    """429: the server asks the client to slow down for ``retry_after`` seconds."""


class ServerError(ApiError):
    """5xx: the server failed; retrying later may help."""


_BY_CODE: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def error_from_status(
    status: dict[str, Any], *, http_code: int | None = None, retry_after: float | None = None
) -> ApiError:
    """Build the :class:`ApiError` subclass that matches a Status body.

    Args:
        status: the decoded ``Status`` object (or whatever JSON the server sent).
        http_code: the HTTP status code; used when the body carries no ``code``.
        retry_after: seconds from a Retry-After header, if any.

    Returns:
        The error to raise; never raises itself.
    """
    body = dict(status)
    code = body.get("code")
    if not isinstance(code, int) or code == 0:
        body["code"] = code = http_code or 0
    cls: type[ApiError]
    if code == 409 and body.get("reason") == "AlreadyExists":
        cls = AlreadyExists
    elif code >= 500:
        cls = ServerError
    else:
        cls = _BY_CODE.get(code, ApiError)
    return cls(body, retry_after=retry_after)


def status_for_unparsable(code: int, text: str) -> dict[str, Any]:
    """A synthetic Status for an error answer whose body is not a Status (proxies, gateways)."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": "Unknown",
        # The body of a misbehaving proxy is not ours to trust; keep it short.
        "message": text[:200] or f"the server responded with HTTP {code}",
    }


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())
