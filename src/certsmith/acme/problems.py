"""Errors of the ACME client: RFC 8555 problem documents, transport failures, timeouts.

::

    CertsmithError
    └── AcmeError                 anything the ACME client raises on purpose
        ├── AcmeProblem           the server answered with a problem document (or an error status)
        ├── NetworkError          no usable HTTP answer: connection, TLS, timeout
        ├── AcmeProtocolError     an answer that breaks RFC 8555 (bad JSON, missing fields)
        ├── PollTimeoutError      an order or authorization stayed pending too long
        ├── NoAccountError        an account-bound request before the account URL is known
        ├── ProfileNotSupportedError  newOrder with a profile the directory does not offer
        └── AriNotSupportedError  ``replaces`` for a server without ``renewalInfo``

Messages carry what the server said and never key material: the client signs with the
account key but never formats it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certsmith.api.errors import CertsmithError

ERROR_PREFIX = "urn:ietf:params:acme:error:"
"""Namespace of the problem types RFC 8555 §6.7 defines."""

BAD_NONCE = ERROR_PREFIX + "badNonce"
MALFORMED = ERROR_PREFIX + "malformed"
RATE_LIMITED = ERROR_PREFIX + "rateLimited"
REJECTED_IDENTIFIER = ERROR_PREFIX + "rejectedIdentifier"
ACCOUNT_DOES_NOT_EXIST = ERROR_PREFIX + "accountDoesNotExist"
EXTERNAL_ACCOUNT_REQUIRED = ERROR_PREFIX + "externalAccountRequired"
UNAUTHORIZED = ERROR_PREFIX + "unauthorized"
ORDER_NOT_READY = ERROR_PREFIX + "orderNotReady"
ALREADY_REVOKED = ERROR_PREFIX + "alreadyRevoked"
INVALID_PROFILE = ERROR_PREFIX + "invalidProfile"
ALREADY_REPLACED = ERROR_PREFIX + "alreadyReplaced"

PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Problem:
    """An RFC 7807 problem document as ACME uses it (RFC 8555 §6.7).

    ``type`` is the full URN (``urn:ietf:params:acme:error:malformed``); servers in the wild
    also use older namespaces, so predicates compare the last segment.
    """

    type: str
    detail: str = ""
    status: int | None = None
    identifier: tuple[str, str] | None = None
    """``(type, value)`` of the identifier a subproblem is about."""
    subproblems: tuple[Problem, ...] = ()

    @property
    def short_type(self) -> str:
        """The type without its namespace (``malformed``), for messages and comparisons."""
        return self.type.rsplit(":", 1)[-1]

    def is_type(self, full_type: str) -> bool:
        """True if this problem is ``full_type``, whatever namespace the server used."""
        return self.short_type.lower() == full_type.rsplit(":", 1)[-1].lower()

    def describe(self) -> str:
        """One line for users: ``<status> <type>: <detail>`` plus each subproblem."""
        head = f"{self.status} " if self.status else ""
        text = f"{head}{self.type}: {self.detail}".rstrip(": ")
        for sub in self.subproblems:
            who = f"{sub.identifier[0]} {sub.identifier[1]}: " if sub.identifier else ""
            text += f"; {who}{sub.type}: {sub.detail}"
        return text

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, status: int | None = None) -> Problem:
        """Parse a problem object; tolerant of missing fields, as servers differ."""
        ident = data.get("identifier")
        identifier: tuple[str, str] | None = None
        if isinstance(ident, Mapping) and "value" in ident:
            identifier = (str(ident.get("type", "")), str(ident["value"]))
        raw_status = data.get("status", status)
        subs = data.get("subproblems") or ()
        return cls(
            type=str(data.get("type") or "about:blank"),
            detail=str(data.get("detail") or ""),
            status=int(raw_status) if isinstance(raw_status, int | str) and raw_status else None,
            identifier=identifier,
            subproblems=tuple(cls.from_json(s) for s in subs if isinstance(s, Mapping)),
        )


class AcmeError(CertsmithError):
    """Root of the errors the ACME client raises."""


class AcmeProblem(AcmeError):  # noqa: N818 -- the name the issue and callers use
    """The ACME server refused a request; carries the parsed problem document.

    ``retry_after`` is the server's ``Retry-After`` in seconds (``None`` if absent): a
    ``rateLimited`` problem means "do not ask again before then".
    """

    def __init__(self, problem: Problem, *, retry_after: float | None = None) -> None:
        super().__init__(problem.describe())
        self.problem = problem
        self.retry_after = retry_after

    @property
    def type(self) -> str:
        """The problem type URN."""
        return self.problem.type

    @property
    def detail(self) -> str:
        """The server's human-readable detail."""
        return self.problem.detail

    @property
    def status(self) -> int | None:
        """The HTTP status of the response (or the document's ``status``)."""
        return self.problem.status

    @property
    def subproblems(self) -> tuple[Problem, ...]:
        """Per-identifier problems (RFC 8555 §6.7.1)."""
        return self.problem.subproblems

    @property
    def identifier(self) -> tuple[str, str] | None:
        """``(type, value)`` of the identifier the problem is about, if the server said."""
        return self.problem.identifier


class NetworkError(AcmeError):
    """The request got no HTTP answer (DNS, connect, TLS, timeout); worth retrying later."""


class AcmeProtocolError(AcmeError):
    """The server's answer does not follow RFC 8555 (e.g. no Location, unparsable JSON)."""


class PollTimeoutError(AcmeError):
    """An order or authorization was still pending when the wait ended."""


class NoAccountError(AcmeError):
    """An account-bound request was made before the account URL was known."""


class ProfileNotSupportedError(AcmeError):
    """The order asks for a profile the server's directory does not list (not retryable)."""


class AriNotSupportedError(AcmeError):
    """``replaces`` was asked of a server whose directory has no ``renewalInfo`` (RFC 9773)."""


def is_rate_limited(err: BaseException) -> bool:
    """True for ``rateLimited`` problems (HTTP 429): wait ``retry_after`` before asking again."""
    return isinstance(err, AcmeProblem) and err.problem.is_type(RATE_LIMITED)


def is_bad_nonce(err: BaseException) -> bool:
    """True for ``badNonce`` problems, which the client retries by itself."""
    return isinstance(err, AcmeProblem) and err.problem.is_type(BAD_NONCE)


def is_malformed(err: BaseException) -> bool:
    """True for ``malformed`` problems (cert-manager marks such Challenges ``expired``)."""
    return isinstance(err, AcmeProblem) and err.problem.is_type(MALFORMED)


def is_client_error(err: BaseException) -> bool:
    """True for 4xx answers: retrying the same request will not help (SPEC §6.3, §6.4)."""
    return isinstance(err, AcmeProblem) and err.status is not None and 400 <= err.status < 500


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds from ``now`` a ``Retry-After`` header asks to wait (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def problem_from_response(
    status: int, content_type: str | None, body: bytes, *, retry_after: float | None
) -> AcmeProblem:
    """Build the exception for an error response, problem document or not."""
    data: Any = None
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    if isinstance(data, Mapping) and ("type" in data or "detail" in data):
        problem = Problem.from_json(data, status=status)
        if problem.status is None:
            problem = Problem(
                problem.type, problem.detail, status, problem.identifier, problem.subproblems
            )
    else:
        # Not a problem document (a proxy's HTML page, say): keep a short, safe excerpt.
        excerpt = body[:200].decode("utf-8", "replace").strip()
        kind = (content_type or "no content type").split(";")[0]
        problem = Problem(type="about:blank", detail=excerpt or kind, status=status)
    return AcmeProblem(problem, retry_after=retry_after)


def is_replaces_rejection(err: BaseException) -> bool:
    """True when a newOrder failed because of its ``replaces`` field: order again without it.

    RFC 9773 servers answer ``alreadyReplaced``; some say ``malformed`` and name the field;
    a server without ARI cannot take ``replaces`` at all (cert-manager treats all alike).
    """
    if isinstance(err, AriNotSupportedError):
        return True
    if not isinstance(err, AcmeProblem):
        return False
    if err.problem.is_type(ALREADY_REPLACED):
        return True
    return err.problem.is_type(MALFORMED) and "replaces" in err.detail.lower()


def is_retryable(err: BaseException) -> bool:
    """Whether trying the same request later may succeed (cert-manager's ``isRetryableError``).

    4xx problems and unsupported profiles are final; network failures, 5xx and anything
    unexpected are worth retrying. ``badNonce`` never reaches callers unless retries ran out.
    Rate limits (429) are 4xx here as in cert-manager; callers that wait them out read
    :func:`is_rate_limited` and ``retry_after`` first.
    """
    if isinstance(err, ProfileNotSupportedError | AriNotSupportedError):
        return False
    return not is_client_error(err)
