"""The ``orders`` controller: an Order's life on the ACME server (SPEC §6.3).

Each reconcile takes the first step that applies, as cert-manager's ``acmeorders/sync.go``:

1. The issuer and its ACME client must exist (the issuer check registers the client); else retry.
2. A failure state (``invalid``, ``expired``, ``errored``) is final: nothing to do.
3. No ``status.url``: create the order on the server (identifiers: dnsNames plus a
   fully-qualified commonName, ipAddresses plus an IP commonName; ``notAfter`` from
   ``spec.duration``; ``profile``; ``replaces`` when ARI is on, retried without it if the server
   refuses it). A 4xx answer → ``errored`` ``Failed to create Order: <problem>``.
4. No ``finalizeURL``: refresh from the server (4xx → ``errored`` ``Failed to retrieve Order
   resource: ...``).
5. Authorizations without identifier: fetch each (4xx → ``errored`` ``Failed to fetch
   authorization: ...``).
6. ``valid``: fetch the certificate if missing; once stored, delete the owned Challenges.
7. One Challenge per authorization not already valid (solver per SPEC §6.2; none applies →
   Warning ``Solver``); create the missing ones (Normal ``Created``), delete owned extras.
8. ``ready``: finalize with the CSR, wait for the certificate, store the (preferred) chain and
   record Normal ``Complete`` "Order completed successfully".
9. A Challenge failed, or all are final: copy the server's order state (still ``pending``
   with all Challenges final: look again in 5 s). When the order ends ``invalid``, its reason
   says why (the server's problem document, else the failed Challenges' reasons), which is what
   the CertificateRequest's Failed message then shows.

A ``rateLimited`` answer with ``Retry-After`` does not fail the Order: its reason says when the
server will take requests again and the Order is looked at again only then, so certsmith never
hammers a CA that asked it to wait.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certsmith.acme.client import AcmeClient
from certsmith.acme.models import Authorization, Identifier
from certsmith.acme.models import Order as AcmeOrder
from certsmith.acme.problems import (
    AcmeError,
    AcmeProblem,
    is_replaces_rejection,
    is_retryable,
)
from certsmith.api.acme import Order
from certsmith.api.conditions import EventReason, EventType
from certsmith.api.duration import parse_go_duration
from certsmith.api.meta import decode_bytes
from certsmith.client.errors import AlreadyExists, NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CHALLENGES, ORDERS
from certsmith.controllers.acme.common import (
    FAILURE_STATES,
    FINAL_STATES,
    IssuerLookupError,
    acme_state,
    lookup_issuer,
    rate_limit_wait,
    set_state,
    until,
    write_status,
)
from certsmith.controllers.acme.solvers import SolverError, challenge_spec
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import CONTROLLER_UID_INDEX, JSONObject, ObjectKey
from certsmith.controllers.runtime.manager import Requeue
from certsmith.issuers.acme.accounts import AccountRegistry, ClientNotAvailableError
from certsmith.issuers.acme.naming import challenge_name
from certsmith.issuers.acme.requests import ari_enabled
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

PENDING_RECHECK: Final = 5.0
FINALIZE_WAIT: Final = 120.0
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class _Done(Exception):  # noqa: N818 - control flow inside one reconcile
    """Stop this reconcile; ``result`` is what it returns."""

    def __init__(self, result: Requeue | None = None) -> None:
        super().__init__("done")
        self.result = result


def is_fqdn(name: str) -> bool:
    """Kubernetes' ``IsFullyQualifiedDomainName``: at least two DNS-1123 labels."""
    name = name.removesuffix(".")
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(x) for x in labels)


def order_identifiers(spec: JSONObject) -> list[Identifier]:
    """The identifiers to order: sorted DNS names, then sorted IP addresses (SPEC §6.3 step 3)."""
    dns_names = set(spec.get("dnsNames") or [])
    ips = set(spec.get("ipAddresses") or [])
    common_name = str(spec.get("commonName") or "")
    if common_name:
        try:
            ipaddress.ip_address(common_name)
            ips.add(common_name)
        except ValueError:
            if is_fqdn(common_name):
                dns_names.add(common_name)
    return [Identifier.dns(d) for d in sorted(dns_names)] + [Identifier.ip(i) for i in sorted(ips)]


def csr_der(request_b64: str) -> bytes:
    """The Order's CSR as DER (``spec.request`` is PEM in practice, DER accepted)."""
    data = decode_bytes(request_b64)
    if b"-----BEGIN" in data:
        csr = x509.load_pem_x509_csr(data)
        return csr.public_bytes(serialization.Encoding.DER)
    return data


def authorization_status(authz: Authorization) -> dict[str, Any]:
    """An authorization as ``Order.status.authorizations[]`` records it."""
    entry: dict[str, Any] = {
        "url": authz.url,
        "identifier": authz.identifier.value,
        "initialState": acme_state(authz.status),
        "challenges": [{"url": c.url, "token": c.token, "type": c.type} for c in authz.challenges],
    }
    if authz.wildcard:
        entry["wildcard"] = True
    return entry


class OrderReconciler:
    """Drives Orders to completion with the issuer's ACME client."""

    def __init__(
        self,
        client: KubeClient,
        *,
        informers: SharedInformers,
        accounts: AccountRegistry,
        recorder: EventRecorder,
        clock: Clock,
        finalize_wait: float = FINALIZE_WAIT,
    ) -> None:
        """Create the reconciler; ``accounts`` holds the clients the issuer checks registered."""
        self._client = client
        self._informers = informers
        self._accounts = accounts
        self._recorder = recorder
        self._clock = clock
        self._finalize_wait = finalize_wait

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """One step of the Order's life; see the module docstring.

        Raises:
            RetryLater: the issuer or its client is not available yet, or the server failed in
                a way that may pass.
            certsmith.client.errors.ApiError: a write failed (409 included; retried).
        """
        obj = self._informers.orders.cache.get_key(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return None
        order = Order.from_dict(copy.deepcopy(obj))
        status: dict[str, Any] = copy.deepcopy(obj.get("status") or {})
        notes: list[Note] = []
        result: Requeue | None = None
        error: BaseException | None = None
        try:
            result = await self._sync(obj, order, status, notes)
        except _Done as done:
            result = done.result
        except (RetryLater, AcmeError, OSError) as err:
            error = err
        stored = await write_status(self._client, ORDERS, obj, status)
        if stored is not None:
            order.metadata.resource_version = (stored.get("metadata") or {}).get("resourceVersion")
        for note in notes:
            await self._recorder.record(order, note)
        if error is not None:
            if isinstance(error, RetryLater):
                raise error
            raise RetryLater(f"order {key}: {error}") from error
        return result

    async def _sync(
        self, obj: JSONObject, order: Order, status: dict[str, Any], notes: list[Note]
    ) -> Requeue | None:
        spec = obj.get("spec") or {}
        try:
            issuer = lookup_issuer(self._informers, spec.get("issuerRef") or {}, order.namespace)
            acme_client = self._accounts.get(issuer.metadata.uid or "")
        except (IssuerLookupError, ClientNotAvailableError) as err:
            raise RetryLater(str(err)) from None
        state = str(status.get("state") or "")
        if state in FAILURE_STATES:
            return None
        acme_spec = issuer.spec.acme
        if acme_spec is None:
            raise RetryLater(f"issuer {issuer.name} is not an ACME issuer")
        call = _Caller(self._clock, status)
        if not status.get("url"):
            await self._create(acme_client, spec, status, call, ari_enabled(acme_spec))
            return None
        if not status.get("finalizeURL"):
            fetched = await call(
                "Failed to retrieve Order resource", acme_client.get_order, status["url"]
            )
            self._copy_order(status, fetched)
            return None
        if any(not a.get("identifier") for a in status.get("authorizations") or []):
            await self._fetch_authorizations(acme_client, status, call)
            return None
        preferred = acme_spec.preferred_chain
        if state == "valid" and not status.get("certificate"):
            fetched = await call(
                "Failed to retrieve Order resource", acme_client.get_order, status["url"]
            )
            await self._store_certificate(acme_client, fetched, status, preferred, call)
            return None
        owned = self._owned_challenges(obj)
        if state == "valid":
            await self._delete_challenges(owned.values())
            return None

        required: dict[str, dict[str, Any]] = {}
        for authz in status.get("authorizations") or []:
            if authz.get("initialState") == "valid":
                continue
            try:
                ch_spec = challenge_spec(
                    authz,
                    acme_spec.to_dict().get("solvers") or [],
                    order.metadata.labels or {},
                    order.metadata.annotations or {},
                    order.namespace,
                    spec.get("issuerRef") or {},
                )
            except SolverError as err:
                notes.append(
                    Note(
                        EventType.WARNING,
                        EventReason.SOLVER,
                        "Failed to determine a valid solver configuration for the set of "
                        f"domains on the Order: {err}",
                    )
                )
                return None
            required[challenge_name(order.name, ch_spec)] = ch_spec
        missing = [name for name in required if name not in owned]
        if missing:
            for name in missing:
                await self._create_challenge(obj, order, name, required[name], acme_client, notes)
            return None
        extras = [ch for name, ch in owned.items() if name not in required]
        if extras:
            await self._delete_challenges(extras)
            return None

        if state == "ready":
            fetched = await call(
                "Failed to retrieve Order resource", acme_client.get_order, status["url"]
            )
            await self._finalize(acme_client, fetched, spec, status, preferred, call, notes)
            return None

        challenges = list(owned.values())
        states = [str((c.get("status") or {}).get("state") or "") for c in challenges]
        any_failed = any(s in FAILURE_STATES for s in states)
        all_final = all(s in FINAL_STATES for s in states)
        if not any_failed and not all_final:
            return None
        fetched = await call(
            "Failed to retrieve Order resource", acme_client.get_order, status["url"]
        )
        if not any_failed and fetched.status == "pending":
            set_state(status, "pending", self._clock.now())
            return Requeue(PENDING_RECHECK)
        self._copy_order(status, fetched)
        if status.get("state") in FAILURE_STATES and not status.get("reason"):
            status["reason"] = _failure_reason(fetched, challenges)
        return None

    # -- steps ----------------------------------------------------------------------------

    async def _create(
        self,
        acme_client: AcmeClient,
        spec: JSONObject,
        status: dict[str, Any],
        call: _Caller,
        ari: bool,
    ) -> None:
        options: dict[str, Any] = {}
        if spec.get("duration"):
            options["not_after"] = self._clock.now() + parse_go_duration(str(spec["duration"]))
        if spec.get("profile"):
            options["profile"] = spec["profile"]
        identifiers = order_identifiers(spec)
        replaces = spec.get("replaces") if ari else None
        try:
            created = await acme_client.new_order(identifiers, replaces=replaces, **options)
        except AcmeError as err:
            if not (replaces and is_replaces_rejection(err)):
                await call("Failed to create Order", _reraise, err)
                raise  # unreachable: call() raises for every error
            # RFC 9773: a server may refuse ``replaces`` (already replaced, unknown
            # certificate, no ARI at all); renewing matters more than the link.
            log.info("ACME server refused replaces=%s (%s); ordering without it", replaces, err)
            created = await call(
                "Failed to create Order", acme_client.new_order, identifiers, **options
            )
        status["url"] = created.url
        status["finalizeURL"] = created.finalize
        status["authorizations"] = [{"url": url} for url in created.authorizations]
        status.pop("reason", None)
        set_state(status, acme_state(created.status), self._clock.now())

    def _copy_order(self, status: dict[str, Any], fetched: AcmeOrder) -> None:
        if fetched.url:
            status["url"] = fetched.url
        status["finalizeURL"] = fetched.finalize
        if not status.get("authorizations"):
            status["authorizations"] = [{"url": url} for url in fetched.authorizations]
        set_state(status, acme_state(fetched.status), self._clock.now())
        if fetched.error is not None and status["state"] in FAILURE_STATES:
            status["reason"] = fetched.error.describe()

    async def _fetch_authorizations(
        self, acme_client: AcmeClient, status: dict[str, Any], call: _Caller
    ) -> None:
        authorizations = []
        for entry in status.get("authorizations") or []:
            if entry.get("identifier"):
                authorizations.append(entry)
                continue
            authz = await call(
                "Failed to fetch authorization", acme_client.get_authorization, entry["url"]
            )
            authorizations.append(authorization_status(authz))
        status["authorizations"] = authorizations

    def _owned_challenges(self, obj: JSONObject) -> dict[str, JSONObject]:
        uid = (obj.get("metadata") or {}).get("uid")
        if not uid:
            return {}
        cache = self._informers.challenges.cache
        return {c["metadata"]["name"]: c for c in cache.by_index(CONTROLLER_UID_INDEX, str(uid))}

    async def _create_challenge(
        self,
        obj: JSONObject,
        order: Order,
        name: str,
        spec: dict[str, Any],
        acme_client: AcmeClient,
        notes: list[Note],
    ) -> None:
        token = str(spec["token"])
        if spec["type"] == "HTTP-01":
            key = acme_client.key_authorization(token)
        else:
            key = acme_client.dns01_txt_value(token)
        meta = obj.get("metadata") or {}
        body: dict[str, Any] = {
            "apiVersion": "acme.cert-manager.io/v1",
            "kind": "Challenge",
            "metadata": {
                "name": name,
                "namespace": order.namespace,
                "ownerReferences": [
                    {
                        "apiVersion": "acme.cert-manager.io/v1",
                        "kind": "Order",
                        "name": order.name,
                        "uid": meta.get("uid"),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {**spec, "key": key},
        }
        if meta.get("labels"):
            body["metadata"]["labels"] = dict(meta["labels"])
        if meta.get("annotations"):
            body["metadata"]["annotations"] = dict(meta["annotations"])
        try:
            await self._client.create(CHALLENGES, order.namespace, body)
        except AlreadyExists:
            return
        notes.append(
            Note(
                EventType.NORMAL,
                EventReason.CREATED,
                f'Created Challenge resource "{name}" for domain "{spec["dnsName"]}"',
            )
        )

    async def _delete_challenges(self, challenges: Any) -> None:
        for challenge in challenges:
            meta = challenge.get("metadata") or {}
            try:
                await self._client.delete(CHALLENGES, meta.get("namespace"), meta["name"])
            except NotFound:
                continue

    async def _finalize(
        self,
        acme_client: AcmeClient,
        fetched: AcmeOrder,
        spec: JSONObject,
        status: dict[str, Any],
        preferred: str | None,
        call: _Caller,
        notes: list[Note],
    ) -> None:
        if fetched.status == "ready":
            try:
                fetched = await acme_client.finalize_order(fetched, csr_der(str(spec["request"])))
            except AcmeProblem as err:
                if err.status == 403:
                    again = await call(
                        "Failed to finalize Order", acme_client.get_order, fetched.url
                    )
                    if again.status != "valid":
                        fail(status, f"Failed to finalize Order: {err}", self._clock)
                    fetched = again
                else:
                    await call("Failed to finalize Order", _reraise, err)
        if fetched.status in ("processing", "ready"):
            fetched = await call(
                "Failed to finalize Order",
                acme_client.wait_order,
                fetched.url,
                max_wait=self._finalize_wait,
            )
        if fetched.status != "valid":
            self._copy_order(status, fetched)
            return
        await self._store_certificate(acme_client, fetched, status, preferred, call)
        notes.append(Note(EventType.NORMAL, EventReason.COMPLETE, "Order completed successfully"))

    async def _store_certificate(
        self,
        acme_client: AcmeClient,
        fetched: AcmeOrder,
        status: dict[str, Any],
        preferred: str | None,
        call: _Caller,
    ) -> None:
        if not fetched.certificate:
            self._copy_order(status, fetched)
            return
        chain = await call(
            "Failed to retrieve Order resource",
            acme_client.fetch_certificate,
            fetched.certificate,
            preferred_chain_cn=preferred or None,
        )
        status["certificate"] = base64.b64encode(chain.pem.encode()).decode()
        set_state(status, "valid", self._clock.now())
        status.pop("reason", None)


def fail(status: dict[str, Any], reason: str, clock: Clock) -> None:
    """Mark the Order ``errored`` with ``reason`` and end the reconcile.

    Raises:
        _Done: always.
    """
    set_state(status, "errored", clock.now())
    status["reason"] = reason
    raise _Done()


async def _reraise(err: BaseException) -> None:
    raise err


def _failure_reason(fetched: AcmeOrder, challenges: list[JSONObject]) -> str:
    failed = [
        f'{(c.get("spec") or {}).get("type")} for "{(c.get("spec") or {}).get("dnsName")}": '
        f"{(c.get('status') or {}).get('reason') or (c.get('status') or {}).get('state')}"
        for c in challenges
        if (c.get("status") or {}).get("state") in FAILURE_STATES
    ]
    if failed:
        return "challenge failed: " + "; ".join(failed)
    return f'the ACME server reports the order as "{fetched.status}"'


class _Caller:
    """Calls the ACME client and turns its errors into the Order's status (SPEC §6.3).

    4xx answers and unsupported profiles end the Order (``errored``, ``<what>: <problem>``);
    ``rateLimited`` with
    ``Retry-After`` waits (reason says until when, the Order is requeued then); anything
    else propagates and is retried with backoff.
    """

    def __init__(self, clock: Clock, status: dict[str, Any]) -> None:
        self._clock = clock
        self._status = status

    async def __call__(
        self, what: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        try:
            return await fn(*args, **kwargs)
        except AcmeError as err:
            wait = rate_limit_wait(err)
            now = self._clock.now()
            if wait is not None:
                self._status["reason"] = (
                    f"{what}: rate limited by the ACME server, not retrying before "
                    f"{until(now, wait)}: {err}"
                )
                raise _Done(Requeue(wait)) from None
            if not is_retryable(err):
                fail(self._status, f"{what}: {err}", self._clock)
            raise
