"""View models of the inventory: one row per Certificate, its state, and the page's query.

Objects are read as plain JSON with :mod:`certsmith.status.jsonview`'s lenient readers rather
than parsed into the strict :mod:`certsmith.api` models: against a real cluster a newer
cert-manager may have added fields the models reject, and a dashboard that hides a Certificate
because of an unknown field would hide exactly the ones people need to look at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from certsmith.status import jsonview
from certsmith.status.jsonview import (
    controller_uid,
    integer,
    mapping,
    strings,
    text,
    time_at,
)
from certsmith.status.model import ConditionInfo

EXPIRING_SOON: Final = dt.timedelta(days=7)
"""A Ready certificate with less validity left than this is shown as expiring soon.

cert-manager renews a 90-day certificate 30 days ahead, so a healthy long-lived certificate never
gets here; one that does is either short-lived or its renewal is not happening."""


class State(StrEnum):
    """What the inventory says about a Certificate, worst last (the sort order)."""

    READY = "Ready"
    EXPIRING = "Expiring soon"
    NOT_READY = "Not ready"
    FAILED = "Failed"
    EXPIRED = "Expired"

    @property
    def slug(self) -> str:
        """The query-parameter and CSS-class form (``expiring-soon``)."""
        return self.value.lower().replace(" ", "-")

    @classmethod
    def from_slug(cls, slug: str) -> State | None:
        """The state a slug names, or ``None``."""
        for state in cls:
            if state.slug == slug:
                return state
        return None


STATE_ORDER: Final = {state: index for index, state in enumerate(State)}


def find_condition(conditions: Iterable[ConditionInfo], ctype: str) -> ConditionInfo | None:
    """The condition of type ``ctype``, or ``None``."""
    return next((c for c in conditions if c.type == ctype), None)


@dataclass(frozen=True)
class CertificateRow:
    """One line of the inventory."""

    namespace: str
    name: str
    state: State
    reason: str
    message: str
    issuer_kind: str
    issuer_name: str
    secret_name: str
    dns_names: tuple[str, ...]
    not_after: dt.datetime | None
    renewal_time: dt.datetime | None
    time_left: dt.timedelta | None
    failures: int
    issuing: bool
    conditions: tuple[ConditionInfo, ...] = field(default=(), compare=False)
    uid: str = ""
    issuer_group: str = "cert-manager.io"
    cause: str = ""
    """A short why for a row that is not Ready (:func:`with_causes`); blank when unknown."""

    @property
    def issuer(self) -> str:
        """``Kind/name`` as the inventory prints it."""
        return f"{self.issuer_kind}/{self.issuer_name}"


def classify(
    ready: ConditionInfo | None,
    *,
    not_after: dt.datetime | None,
    failures: int,
    now: dt.datetime,
    expiring_soon: dt.timedelta = EXPIRING_SOON,
) -> State:
    """The inventory state of a Certificate.

    Expired wins over everything (the certificate in the Secret no longer works, whatever the
    controllers think); then a recorded failed issuance (cert-manager backs off before retrying,
    so it will not fix itself soon); then Ready, split by the validity left.
    """
    if not_after is not None and not_after <= now:
        return State.EXPIRED
    is_ready = ready is not None and ready.status == "True"
    if failures > 0 and not is_ready:
        return State.FAILED
    if not is_ready:
        return State.NOT_READY
    if not_after is not None and not_after - now < expiring_soon:
        return State.EXPIRING
    return State.READY


def certificate_row(
    obj: Mapping[str, Any], now: dt.datetime, expiring_soon: dt.timedelta = EXPIRING_SOON
) -> CertificateRow:
    """The inventory row of one Certificate object (its JSON form)."""
    meta, spec, status = mapping(obj, "metadata"), mapping(obj, "spec"), mapping(obj, "status")
    ref = mapping(spec, "issuerRef")
    conditions = jsonview.conditions(obj)
    ready = find_condition(conditions, "Ready")
    issuing = find_condition(conditions, "Issuing")
    not_after = time_at(status, "notAfter")
    failures = integer(status, "failedIssuanceAttempts") or 0
    state = classify(
        ready, not_after=not_after, failures=failures, now=now, expiring_soon=expiring_soon
    )
    if ready is None:
        reason, message = "NoStatus", "no Ready condition yet"
    else:
        reason, message = ready.reason, ready.message
    if state is State.FAILED and issuing is not None and issuing.status == "False":
        reason, message = issuing.reason or reason, issuing.message or message
    return CertificateRow(
        namespace=text(meta, "namespace"),
        name=text(meta, "name"),
        state=state,
        reason=reason,
        message=message,
        issuer_kind=text(ref, "kind") or "Issuer",
        issuer_name=text(ref, "name"),
        secret_name=text(spec, "secretName"),
        dns_names=strings(spec, "dnsNames"),
        not_after=not_after,
        renewal_time=time_at(status, "renewalTime"),
        time_left=None if not_after is None else not_after - now,
        failures=failures,
        issuing=issuing is not None and issuing.status == "True",
        conditions=conditions,
        uid=text(meta, "uid"),
        issuer_group=text(ref, "group") or "cert-manager.io",
    )


@dataclass(frozen=True)
class Surroundings:
    """What the inventory knows beside the Certificates: issuers and requests, listed once.

    ``issuers`` maps (kind, namespace, name), namespace ``""`` for ClusterIssuers, to whether
    the issuer is Ready; ``requests`` maps a Certificate's uid to its newest CertificateRequest.
    """

    issuers: Mapping[tuple[str, str, str], bool]
    requests: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_objects(
        cls,
        issuers: Iterable[Mapping[str, Any]],
        cluster_issuers: Iterable[Mapping[str, Any]],
        requests: Iterable[Mapping[str, Any]],
    ) -> Surroundings:
        """Index listed Issuers, ClusterIssuers and CertificateRequests."""
        known: dict[tuple[str, str, str], bool] = {}
        for kind, objs in (("Issuer", issuers), ("ClusterIssuer", cluster_issuers)):
            for obj in objs:
                meta = mapping(obj, "metadata")
                namespace = text(meta, "namespace") if kind == "Issuer" else ""
                ready = find_condition(jsonview.conditions(obj), "Ready")
                known[(kind, namespace, text(meta, "name"))] = ready is not None and ready.is_true
        newest: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for obj in requests:
            owner = controller_uid(obj)
            revision = integer(mapping(obj, "metadata", "annotations"), REVISION_ANNOTATION)
            if owner and revision is not None and revision >= newest.get(owner, (-1, {}))[0]:
                newest[owner] = (revision, obj)
        return cls(known, {uid: obj for uid, (_, obj) in newest.items()})


REVISION_ANNOTATION: Final = "cert-manager.io/certificate-revision"


def request_cause(request: Mapping[str, Any]) -> str:
    """Where a CertificateRequest is stuck, in a few words; blank when it is not."""
    conditions = jsonview.conditions(request)
    approved = find_condition(conditions, "Approved")
    denied = find_condition(conditions, "Denied")
    invalid = find_condition(conditions, "InvalidRequest")
    ready = find_condition(conditions, "Ready")
    if denied is not None and denied.is_true:
        return "Request denied"
    if invalid is not None and invalid.is_true:
        return "Request invalid"
    if ready is not None and ready.reason == "Failed":
        return "Request failed"
    if approved is None or not approved.is_true:
        return "Waiting for approval"
    if ready is not None and not ready.is_true:
        return f"Request {ready.reason or 'pending'}"
    return ""


def cause_of(row: CertificateRow, around: Surroundings) -> str:
    """Why a Certificate that is not Ready is stuck, as far as the listed objects tell.

    The issuer comes first (a missing or unready issuer explains a waiting request), then the
    newest request. The drill-down page has the full diagnosis; this is the inventory's hint.
    """
    if row.state in (State.READY, State.EXPIRING):
        return ""
    if row.issuer_group == "cert-manager.io" and row.issuer_kind in ("Issuer", "ClusterIssuer"):
        namespace = row.namespace if row.issuer_kind == "Issuer" else ""
        ready = around.issuers.get((row.issuer_kind, namespace, row.issuer_name))
        if ready is None:
            return f"{row.issuer_kind} not found"
        if not ready:
            return f"{row.issuer_kind} not ready"
    request = around.requests.get(row.uid)
    return request_cause(request) if request is not None else ""


def with_causes(rows: Iterable[CertificateRow], around: Surroundings) -> list[CertificateRow]:
    """``rows`` with :attr:`CertificateRow.cause` filled in."""
    return [replace(row, cause=cause_of(row, around)) for row in rows]


SORT_KEYS: Final = ("state", "namespace", "name", "issuer", "notAfter", "renewalTime")


def _far_future() -> dt.datetime:
    return dt.datetime.max.replace(tzinfo=dt.UTC)


def _sort_key(key: str, row: CertificateRow) -> tuple[Any, ...]:
    ident = (row.namespace, row.name)
    if key == "namespace":
        return ident
    if key == "name":
        return (row.name, row.namespace)
    if key == "issuer":
        return (row.issuer_kind, row.issuer_name, *ident)
    if key == "notAfter":
        return (row.not_after or _far_future(), *ident)
    if key == "renewalTime":
        return (row.renewal_time or _far_future(), *ident)
    # "state": worst first, then what expires first
    return (-STATE_ORDER[row.state], row.not_after or _far_future(), *ident)


@dataclass(frozen=True)
class Query:
    """The inventory's filters and order, from the page's query parameters.

    Every value is matched, never interpreted: unknown sort keys and states fall back to the
    defaults, so a hand-edited URL cannot break the page.
    """

    state: State | None = None
    namespace: str = ""
    issuer: str = ""
    text: str = ""
    sort: str = "state"
    descending: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Query:
        """Read ``state``, ``namespace``, ``issuer``, ``q``, ``sort`` and ``order``."""
        sort = params.get("sort", "state")
        return cls(
            state=State.from_slug(params.get("state", "")),
            namespace=params.get("namespace", "").strip(),
            issuer=params.get("issuer", "").strip(),
            text=params.get("q", "").strip(),
            sort=sort if sort in SORT_KEYS else "state",
            descending=params.get("order") == "desc",
        )

    def to_params(self, **changes: str | None) -> dict[str, str]:
        """The query parameters of this query with ``changes`` applied (``None`` removes)."""
        params = {
            "state": self.state.slug if self.state else "",
            "namespace": self.namespace,
            "issuer": self.issuer,
            "q": self.text,
            "sort": "" if self.sort == "state" else self.sort,
            "order": "desc" if self.descending else "",
        }
        for key, value in changes.items():
            params[key] = value or ""
        return {k: v for k, v in params.items() if v}

    def matches(self, row: CertificateRow, *, ignore_state: bool = False) -> bool:
        """Whether ``row`` passes every filter (all but the state with ``ignore_state``)."""
        if self.state is not None and not ignore_state and row.state is not self.state:
            return False
        if self.namespace and row.namespace != self.namespace:
            return False
        if self.issuer and self.issuer not in (row.issuer_name, row.issuer):
            return False
        if self.text:
            needle = self.text.lower()
            haystack = (
                row.name,
                row.namespace,
                row.secret_name,
                row.reason,
                row.cause,
                *row.dns_names,
            )
            if not any(needle in value.lower() for value in haystack):
                return False
        return True

    def apply(self, rows: Sequence[CertificateRow]) -> list[CertificateRow]:
        """The rows that match, in the requested order."""
        selected = [row for row in rows if self.matches(row)]
        selected.sort(key=lambda row: _sort_key(self.sort, row), reverse=self.descending)
        return selected


def summary(rows: Iterable[CertificateRow]) -> dict[State, int]:
    """How many rows are in each state (every state present, zeros included)."""
    counts = dict.fromkeys(State, 0)
    for row in rows:
        counts[row.state] += 1
    return counts


def format_delta(delta: dt.timedelta | None) -> str:
    """A short human duration (``3d 4h``, ``45m``, ``-2h 5m`` for the past); blank for None."""
    if delta is None:
        return ""
    sign = "-" if delta < dt.timedelta(0) else ""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h" if hours and days < 10 else f"{days}d"
    elif hours:
        text = f"{hours}h {minutes}m" if minutes else f"{hours}h"
    else:
        text = f"{minutes}m" if minutes else f"{seconds}s"
    return sign + text
