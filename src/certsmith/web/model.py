"""View models of the inventory: one row per Certificate, its state, and the page's query.

Objects are read as plain JSON rather than parsed into :mod:`certsmith.api` models on purpose:
against a real cluster a newer cert-manager may have added fields the strict models reject, and
a dashboard that hides a Certificate because of an unknown field would hide exactly the ones
people need to look at. Missing or malformed fields show as blanks instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

JSONObject = dict[str, Any]

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


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 timestamp as an aware datetime; ``None`` when absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ConditionView:
    """One status condition as shown on a page."""

    type: str
    status: str
    reason: str
    message: str
    last_transition: dt.datetime | None


def conditions_of(obj: Mapping[str, Any]) -> list[ConditionView]:
    """The ``status.conditions`` of an object, skipping malformed entries."""
    status = obj.get("status")
    raw = status.get("conditions") if isinstance(status, Mapping) else None
    result: list[ConditionView] = []
    for cond in raw if isinstance(raw, list) else ():
        if not isinstance(cond, Mapping) or not isinstance(cond.get("type"), str):
            continue
        result.append(
            ConditionView(
                type=cond["type"],
                status=str(cond.get("status") or "Unknown"),
                reason=str(cond.get("reason") or ""),
                message=str(cond.get("message") or ""),
                last_transition=parse_time(cond.get("lastTransitionTime")),
            )
        )
    return result


def find_condition(conditions: Iterable[ConditionView], ctype: str) -> ConditionView | None:
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
    conditions: tuple[ConditionView, ...] = field(default=(), compare=False)

    @property
    def issuer(self) -> str:
        """``Kind/name`` as the inventory prints it."""
        return f"{self.issuer_kind}/{self.issuer_name}"


def _mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def classify(
    ready: ConditionView | None,
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
    meta, spec, status = _mapping(obj, "metadata"), _mapping(obj, "spec"), _mapping(obj, "status")
    ref = _mapping(spec, "issuerRef")
    conditions = conditions_of(obj)
    ready = find_condition(conditions, "Ready")
    issuing = find_condition(conditions, "Issuing")
    not_after = parse_time(status.get("notAfter"))
    failures = _int(status.get("failedIssuanceAttempts"))
    state = classify(
        ready, not_after=not_after, failures=failures, now=now, expiring_soon=expiring_soon
    )
    dns = spec.get("dnsNames")
    if ready is None:
        reason, message = "NoStatus", "no Ready condition yet"
    else:
        reason, message = ready.reason, ready.message
    if state is State.FAILED and issuing is not None and issuing.status == "False":
        reason, message = issuing.reason or reason, issuing.message or message
    return CertificateRow(
        namespace=_str(meta.get("namespace")),
        name=_str(meta.get("name")),
        state=state,
        reason=reason,
        message=message,
        issuer_kind=_str(ref.get("kind")) or "Issuer",
        issuer_name=_str(ref.get("name")),
        secret_name=_str(spec.get("secretName")),
        dns_names=tuple(d for d in dns if isinstance(d, str)) if isinstance(dns, list) else (),
        not_after=not_after,
        renewal_time=parse_time(status.get("renewalTime")),
        time_left=None if not_after is None else not_after - now,
        failures=failures,
        issuing=issuing is not None and issuing.status == "True",
        conditions=tuple(conditions),
    )


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
            haystack = (row.name, row.namespace, row.secret_name, row.reason, *row.dns_names)
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
