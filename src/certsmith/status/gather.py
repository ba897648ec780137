"""Reading a Certificate's chain from the API: :func:`diagnose`.

What is read, and how objects are tied together (as the Certificate controllers do):

* the CertificateRequests the Certificate **controls** (owner reference uid), picked by the
  ``cert-manager.io/certificate-revision`` annotation: the next revision (``status.revision + 1``,
  the issuance in flight) if it exists, else the current one;
* the ACME Order controlled by that request, and the Challenges controlled by the Order;
* the Issuer (same namespace) or ClusterIssuer of ``spec.issuerRef``; external issuers (another
  API group) are not looked up;
* Events by ``involvedObject.uid`` for each of these (a ClusterIssuer's live in any namespace);
* the next retry after a failed issuance: the newest ``RetryScheduled`` event at or after
  ``lastFailureTime`` (it carries the deployment's real backoff), else ``lastFailureTime`` plus
  cert-manager's default backoff for ``failedIssuanceAttempts``.

An API that does not serve the ACME resources (404 on the list) simply yields no Order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from certsmith.client.errors import ApiError, Forbidden, NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import (
    CERTIFICATE_REQUESTS,
    CERTIFICATES,
    CHALLENGES,
    CLUSTER_ISSUERS,
    EVENTS,
    ISSUERS,
    ORDERS,
    SECRETS,
    ResourceRef,
)
from certsmith.pki.renewal import backoff_delay
from certsmith.status.jsonview import (
    JSONObject,
    conditions,
    controller_uid,
    integer,
    mapping,
    parse_time,
    strings,
    text,
    time_at,
)
from certsmith.status.model import (
    CertificateInfo,
    ChallengeInfo,
    Diagnosis,
    EventInfo,
    IssuerInfo,
    IssuerRefInfo,
    OrderInfo,
    RequestInfo,
)
from certsmith.status.rootcause import analyse
from certsmith.status.secrets import summarize_secret

__all__ = ["DEFAULT_EVENT_LIMIT", "diagnose", "next_retry"]

REVISION_ANNOTATION: Final = "cert-manager.io/certificate-revision"
RETRY_SCHEDULED: Final = "RetryScheduled"
DEFAULT_EVENT_LIMIT: Final = 25
_RETRY_AT = re.compile(r"next issuance attempt is at (\S+?Z)")
_ISSUER_TYPES: Final = ("acme", "ca", "vault", "selfSigned", "venafi")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(obj, "metadata")


def _issuer_ref(spec: Mapping[str, Any]) -> IssuerRefInfo:
    ref = mapping(spec, "issuerRef")
    return IssuerRefInfo(
        name=text(ref, "name"),
        kind=text(ref, "kind") or "Issuer",
        group=text(ref, "group") or "cert-manager.io",
    )


def _certificate_info(obj: Mapping[str, Any]) -> CertificateInfo:
    meta, spec, status = _meta(obj), mapping(obj, "spec"), mapping(obj, "status")
    return CertificateInfo(
        namespace=text(meta, "namespace"),
        name=text(meta, "name"),
        uid=text(meta, "uid"),
        generation=integer(meta, "generation"),
        secret_name=text(spec, "secretName"),
        common_name=text(spec, "commonName"),
        dns_names=strings(spec, "dnsNames"),
        issuer_ref=_issuer_ref(spec),
        conditions=conditions(obj),
        revision=integer(status, "revision"),
        not_before=time_at(status, "notBefore"),
        not_after=time_at(status, "notAfter"),
        renewal_time=time_at(status, "renewalTime"),
        failed_issuance_attempts=integer(status, "failedIssuanceAttempts"),
        last_failure_time=time_at(status, "lastFailureTime"),
        next_private_key_secret_name=text(status, "nextPrivateKeySecretName") or None,
        created=time_at(meta, "creationTimestamp"),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _request_info(obj: Mapping[str, Any], role: str) -> RequestInfo:
    meta, spec, status = _meta(obj), mapping(obj, "spec"), mapping(obj, "status")
    return RequestInfo(
        namespace=text(meta, "namespace"),
        name=text(meta, "name"),
        uid=text(meta, "uid"),
        role=role,
        revision=integer(mapping(meta, "annotations"), REVISION_ANNOTATION),
        conditions=conditions(obj),
        has_certificate=bool(status.get("certificate")),
        failure_time=time_at(status, "failureTime"),
        created=time_at(meta, "creationTimestamp"),
        username=text(spec, "username"),
    )


def _challenge_info(obj: Mapping[str, Any]) -> ChallengeInfo:
    meta, spec, status = _meta(obj), mapping(obj, "spec"), mapping(obj, "status")
    return ChallengeInfo(
        name=text(meta, "name"),
        type=text(spec, "type"),
        dns_name=text(spec, "dnsName"),
        wildcard=spec.get("wildcard") is True,
        state=text(status, "state"),
        reason=text(status, "reason"),
        presented=status.get("presented") is True,
        processing=status.get("processing") is True,
        uid=text(meta, "uid"),
    )


def _order_info(obj: Mapping[str, Any], challenges: Sequence[Mapping[str, Any]]) -> OrderInfo:
    meta, status = _meta(obj), mapping(obj, "status")
    return OrderInfo(
        namespace=text(meta, "namespace"),
        name=text(meta, "name"),
        state=text(status, "state"),
        reason=text(status, "reason"),
        url=text(status, "url"),
        failure_time=time_at(status, "failureTime"),
        challenges=tuple(_challenge_info(c) for c in sorted(challenges, key=_name)),
        uid=text(meta, "uid"),
    )


def _name(obj: Mapping[str, Any]) -> str:
    return text(_meta(obj), "name")


def _issuer_info(ref: IssuerRefInfo, namespace: str, obj: Mapping[str, Any] | None) -> IssuerInfo:
    ns = "" if ref.kind == "ClusterIssuer" else namespace
    if obj is None:
        return IssuerInfo(ref=ref, namespace=ns, exists=False)
    spec = mapping(obj, "spec")
    kind = next((key for key in _ISSUER_TYPES if isinstance(spec.get(key), Mapping)), None)
    secret_name: str | None = None
    acme_server: str | None = None
    if kind == "ca":
        secret_name = text(mapping(spec, "ca"), "secretName") or None
    elif kind == "acme":
        acme = mapping(spec, "acme")
        secret_name = text(mapping(acme, "privateKeySecretRef"), "name") or None
        acme_server = text(acme, "server") or None
    ready = next((c for c in conditions(obj) if c.type == "Ready"), None)
    return IssuerInfo(
        ref=ref,
        namespace=ns,
        exists=True,
        type=kind,
        ready=ready,
        secret_name=secret_name,
        acme_server=acme_server,
        uid=text(_meta(obj), "uid"),
    )


async def _get_or_none(
    client: KubeClient, resource: ResourceRef, namespace: str | None, name: str
) -> JSONObject | None:
    try:
        return await client.get(resource, namespace, name)
    except NotFound:
        return None


async def _list_all(
    client: KubeClient,
    resource: ResourceRef,
    namespace: str | None,
    *,
    field_selector: str | None = None,
) -> list[JSONObject]:
    """Every object of a collection (all pages); an unserved resource (404) is empty."""
    items: list[JSONObject] = []
    token: str | None = None
    while True:
        try:
            page = await client.list(
                resource,
                namespace,
                field_selector=field_selector,
                limit=500,
                continue_token=token,
            )
        except NotFound:
            return items
        items.extend(page.items)
        token = page.continue_token
        if not token:
            return items


def _controlled(items: Iterable[JSONObject], uid: str) -> list[JSONObject]:
    return [obj for obj in items if uid and controller_uid(obj) == uid]


def _pick_request(cert: CertificateInfo, owned: list[JSONObject]) -> RequestInfo | None:
    by_revision: dict[int, list[JSONObject]] = {}
    for obj in owned:
        revision = integer(mapping(_meta(obj), "annotations"), REVISION_ANNOTATION)
        if revision is not None:
            by_revision.setdefault(revision, []).append(obj)
    for revision, role in (((cert.revision or 0) + 1, "next"), (cert.revision, "current")):
        if revision is None or revision not in by_revision:
            continue
        newest = max(by_revision[revision], key=lambda o: text(_meta(o), "creationTimestamp"))
        return _request_info(newest, role)
    return None


async def _order_of(
    client: KubeClient, namespace: str, request: RequestInfo | None
) -> OrderInfo | None:
    if request is None or not request.uid:
        return None
    try:
        orders = _controlled(await _list_all(client, ORDERS, namespace), request.uid)
        if not orders:
            return None
        order = max(orders, key=lambda o: text(_meta(o), "creationTimestamp"))
        order_uid = text(_meta(order), "uid")
        challenges = _controlled(await _list_all(client, CHALLENGES, namespace), order_uid)
    except Forbidden:  # no RBAC on the ACME resources: a diagnosis without them is still one
        return None
    return _order_info(order, challenges)


def _event_info(obj: Mapping[str, Any]) -> EventInfo:
    involved = mapping(obj, "involvedObject")
    last = (
        time_at(obj, "lastTimestamp")
        or parse_time(mapping(obj, "series").get("lastObservedTime"))
        or time_at(obj, "eventTime")
        or time_at(obj, "firstTimestamp")
        or time_at(_meta(obj), "creationTimestamp")
    )
    return EventInfo(
        type=text(obj, "type"),
        reason=text(obj, "reason"),
        message=text(obj, "message"),
        count=integer(obj, "count") or 1,
        last_seen=last,
        object_kind=text(involved, "kind"),
        object_name=text(involved, "name"),
    )


async def _events(
    client: KubeClient, targets: Sequence[tuple[str | None, str]], limit: int
) -> tuple[EventInfo, ...]:
    async def about(namespace: str | None, uid: str) -> list[JSONObject]:
        try:
            return await _list_all(
                client, EVENTS, namespace, field_selector=f"involvedObject.uid={uid}"
            )
        except Forbidden:  # events are a nicety; a diagnosis without them is still one
            return []

    found = await asyncio.gather(*(about(ns, uid) for ns, uid in targets if uid))
    events = [_event_info(obj) for batch in found for obj in batch]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    events.sort(key=lambda e: e.last_seen or oldest)
    return tuple(events[-limit:]) if limit > 0 else ()


def next_retry(
    cert: CertificateInfo, events: Iterable[EventInfo]
) -> tuple[dt.datetime | None, str | None]:
    """When a backing-off Certificate tries again, and where that time comes from.

    Returns:
        ``(time, "event")`` from the newest ``RetryScheduled`` event recorded at or after
        ``lastFailureTime``; ``(time, "default-backoff")`` from cert-manager's default schedule
        without such an event; ``(None, None)`` without a failure.
    """
    failed_at = cert.last_failure_time
    if failed_at is None:
        return None, None
    for event in sorted(
        (e for e in events if e.reason == RETRY_SCHEDULED and e.object_kind == "Certificate"),
        key=lambda e: e.last_seen or failed_at,
        reverse=True,
    ):
        match = _RETRY_AT.search(event.message)
        when = parse_time(match.group(1)) if match else None
        if when is not None and (event.last_seen is None or event.last_seen >= failed_at):
            return when, "event"
    return failed_at + backoff_delay(cert.failed_issuance_attempts), "default-backoff"


async def diagnose(
    client: KubeClient,
    namespace: str,
    name: str,
    *,
    now: dt.datetime | None = None,
    event_limit: int = DEFAULT_EVENT_LIMIT,
) -> Diagnosis:
    """Read the Certificate ``namespace/name`` and everything its issuance depends on.

    Args:
        client: any :class:`~certsmith.client.protocol.KubeClient`.
        namespace: the Certificate's namespace.
        name: the Certificate's name.
        now: the time relative statements refer to (default: the current UTC time).
        event_limit: keep at most this many of the newest Events.

    Raises:
        NotFound: the Certificate does not exist.
        ApiError: another API failure while reading the Certificate or its requests.
        TransportError: the API server did not answer.
    """
    observed = now or dt.datetime.now(dt.UTC)
    raw_cert = await client.get(CERTIFICATES, namespace, name)
    cert = _certificate_info(raw_cert)
    ref = cert.issuer_ref

    async def issuer_obj() -> tuple[JSONObject | None, str | None]:
        if ref.is_external or not ref.name or ref.kind not in ("Issuer", "ClusterIssuer"):
            return None, None
        resource, ns = (
            (CLUSTER_ISSUERS, None) if ref.kind == "ClusterIssuer" else (ISSUERS, namespace)
        )
        try:
            return await _get_or_none(client, resource, ns, ref.name), None
        except ApiError as err:  # e.g. forbidden: say so rather than fail the whole diagnosis
            return None, err.message or str(err)

    async def secret_obj() -> tuple[JSONObject | None, str | None]:
        try:
            return await _get_or_none(client, SECRETS, namespace, cert.secret_name), None
        except ApiError as err:
            return None, err.message or str(err)

    (raw_secret, secret_error), (raw_issuer, issuer_error), requests = await asyncio.gather(
        secret_obj(),
        issuer_obj(),
        _list_all(client, CERTIFICATE_REQUESTS, namespace),
    )
    secret = summarize_secret(namespace, cert.secret_name, raw_secret)
    if secret_error is not None:
        secret = replace(secret, error=secret_error)
    issuer = _issuer_info(ref, namespace, raw_issuer)
    if issuer_error is not None:
        issuer = replace(issuer, error=issuer_error)
    request = _pick_request(cert, _controlled(requests, cert.uid))
    order = await _order_of(client, namespace, request)

    targets: list[tuple[str | None, str]] = [(namespace, cert.uid)]
    if request is not None:
        targets.append((namespace, request.uid))
    if order is not None:
        targets.append((namespace, order.uid))
        targets.extend((namespace, c.uid) for c in order.challenges)
    if issuer.exists:
        targets.append((issuer.namespace or None, issuer.uid))
    events = await _events(client, targets, event_limit)

    retry_at, source = next_retry(cert, events)
    cert = replace(cert, next_retry_time=retry_at, next_retry_source=source)
    return Diagnosis(
        observed_at=observed,
        certificate=cert,
        secret=secret,
        issuer=issuer,
        request=request,
        order=order,
        events=events,
        root_cause=analyse(cert, secret, issuer, request, order, now=observed),
    )
