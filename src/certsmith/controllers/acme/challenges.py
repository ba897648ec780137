"""The ``challenges`` controller: present, self-check, accept, clean up (SPEC §6.4).

Each reconcile, as cert-manager's ``acmechallenges/sync.go``:

1. Deleted or final (``valid``, ``invalid``, ``expired``, ``errored``): with the finalizer, clean
   up (Warning ``CleanUpError`` and retry on failure) and remove the finalizers; set
   ``presented`` and ``processing`` false. Nothing else.
2. Not ``processing`` (the scheduler has not picked it): wait.
3. Ensure the finalizer ``acme.cert-manager.io/finalizer`` (replacing the legacy one).
4. No state yet: read the challenge from the server and copy its status and error.
5. Not presented: present (Warning ``PresentError`` and retry on failure; Normal ``Presented``).
6. Ready? The self-check, or ``waitInsteadOfSelfCheck`` after ``presentedAt``. Not yet: the reason
   is ``Waiting for <type> challenge propagation: <what the check saw>``, look again in 10 s.
7. Accept with the server and wait (2 min at most) for the authorization: ``valid`` →
   ``Successfully authorized domain`` (Normal ``DomainVerified``); ``invalid`` →
   ``Error accepting authorization: <the server's problem>`` (Warning ``Failed``).

ACME errors: ``malformed`` → ``expired``; other 4xx → ``errored``; ``rateLimited`` with
``Retry-After`` → the reason says until when, and the Challenge is looked at again only then;
network errors and timeouts → retry with backoff.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any, Final

from certsmith.acme.client import AcmeClient
from certsmith.acme.models import Authorization
from certsmith.acme.problems import (
    AcmeError,
    AcmeProblem,
    NetworkError,
    is_client_error,
    is_malformed,
)
from certsmith.api.acme import Challenge
from certsmith.api.conditions import EventReason, EventType
from certsmith.api.duration import parse_go_duration
from certsmith.api.meta import format_time
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CHALLENGES
from certsmith.controllers.acme.common import (
    FINAL_STATES,
    IssuerLookupError,
    acme_state,
    lookup_issuer,
    rate_limit_wait,
    until,
    write_status,
)
from certsmith.controllers.acme.solving import (
    ChallengeSolvers,
    NotReadyError,
    SettlingError,
    SolverUnavailableError,
)
from certsmith.controllers.errors import RetryLater
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.manager import Requeue
from certsmith.issuers.acme.accounts import AccountRegistry, ClientNotAvailableError
from certsmith.issuers.base import IssuerContext
from certsmith.util.clock import Clock

log = logging.getLogger(__name__)

FINALIZER: Final = "acme.cert-manager.io/finalizer"
LEGACY_FINALIZER: Final = "finalizer.acme.cert-manager.io"
CHECK_RETRY_PERIOD: Final = 10.0
AUTHORIZATION_WAIT: Final = 120.0


class ChallengeReconciler:
    """Solves Challenges with the issuer's ACME client and this process's solvers."""

    def __init__(
        self,
        client: KubeClient,
        *,
        informers: SharedInformers,
        accounts: AccountRegistry,
        solvers: ChallengeSolvers,
        context: IssuerContext,
        recorder: EventRecorder,
        clock: Clock,
        check_retry_period: float = CHECK_RETRY_PERIOD,
        authorization_wait: float = AUTHORIZATION_WAIT,
    ) -> None:
        """Create the reconciler; ``context`` gives the issuers' resource namespaces."""
        self._client = client
        self._informers = informers
        self._accounts = accounts
        self._solvers = solvers
        self._context = context
        self._recorder = recorder
        self._clock = clock
        self._check_retry_period = check_retry_period
        self._authorization_wait = authorization_wait

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """One step of the Challenge's life; see the module docstring.

        Raises:
            RetryLater: a step failed in a way that may pass.
            certsmith.client.errors.ApiError: a write failed (409 included; retried).
        """
        obj = self._informers.challenges.cache.get_key(key)
        if obj is None:
            return None
        challenge = Challenge.from_dict(copy.deepcopy(obj))
        status: dict[str, Any] = copy.deepcopy(obj.get("status") or {})
        meta = obj.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp") or status.get("state") in FINAL_STATES:
            return await self._finish(obj, challenge, status, finalizers)
        if not status.get("processing"):
            return None
        if FINALIZER not in finalizers or LEGACY_FINALIZER in finalizers:
            wanted = [f for f in finalizers if f not in (FINALIZER, LEGACY_FINALIZER)]
            await self._set_finalizers(obj, [*wanted, FINALIZER])
            return None

        notes: list[Note] = []
        result: Requeue | None = None
        error: BaseException | None = None
        try:
            result = await self._sync(challenge, status, notes)
        except (RetryLater, AcmeError, OSError) as err:
            error = err
        stored = await write_status(self._client, CHALLENGES, obj, status)
        if stored is not None:
            challenge.metadata.resource_version = (stored.get("metadata") or {}).get(
                "resourceVersion"
            )
        for note in notes:
            await self._recorder.record(challenge, note)
        if error is not None:
            if isinstance(error, RetryLater):
                raise error
            raise RetryLater(f"challenge {key}: {error}") from error
        return result

    async def _sync(
        self, challenge: Challenge, status: dict[str, Any], notes: list[Note]
    ) -> Requeue | None:
        try:
            issuer = lookup_issuer(
                self._informers, challenge.spec.issuer_ref.to_dict(), challenge.namespace
            )
            acme_client = self._accounts.get(issuer.metadata.uid or "")
        except (IssuerLookupError, ClientNotAvailableError) as err:
            raise RetryLater(str(err)) from None
        if not status.get("state"):
            try:
                current = await acme_client.get_challenge(challenge.spec.url)
            except AcmeError as err:
                return self._handle_error(status, err, f"Failed to retrieve Order resource: {err}")
            status["state"] = acme_state(current.status)
            status["reason"] = current.error.describe() if current.error is not None else ""
            if not status["reason"]:
                status.pop("reason")
            return None

        kind = challenge.spec.type
        if not status.get("presented"):
            try:
                await self._solvers.present(challenge, self._context.resource_namespace(issuer))
            except Exception as err:
                message = str(err) or type(err).__name__
                status["reason"] = message
                notes.append(
                    Note(
                        EventType.WARNING,
                        EventReason.PRESENT_ERROR,
                        f"Error presenting challenge: {message}",
                    )
                )
                raise RetryLater(f"present failed: {message}") from None
            status["presented"] = True
            status["presentedAt"] = format_time(self._clock.now())
            notes.append(
                Note(
                    EventType.NORMAL,
                    EventReason.PRESENTED,
                    f"Presented challenge using {kind} challenge mechanism",
                )
            )

        waiting = await self._readiness(challenge, status)
        if waiting is not None:
            return waiting
        return await self._accept(acme_client, challenge, status, notes)

    async def _readiness(self, challenge: Challenge, status: dict[str, Any]) -> Requeue | None:
        kind = challenge.spec.type
        wait_text = challenge.spec.solver.wait_instead_of_self_check
        if wait_text:
            wait = parse_go_duration(wait_text)
            presented_at = _parse_time(status.get("presentedAt")) or self._clock.now()
            remaining = (presented_at + wait - self._clock.now()).total_seconds()
            if remaining > 0:
                status["reason"] = (
                    f"Waiting {wait_text} before accepting {kind} challenge without self-check"
                )
                return Requeue(remaining)
            return None
        try:
            await self._solvers.check(challenge)
        except (NotReadyError, SolverUnavailableError) as err:
            status["reason"] = f"Waiting for {kind} challenge propagation: {err}"
            if isinstance(err, SettlingError):
                return Requeue(min(self._check_retry_period, err.remaining))
            return Requeue(self._check_retry_period)
        return None

    async def _accept(
        self,
        acme_client: AcmeClient,
        challenge: Challenge,
        status: dict[str, Any],
        notes: list[Note],
    ) -> Requeue | None:
        try:
            accepted = await acme_client.accept_challenge(challenge.spec.url)
        except AcmeError as err:
            return self._handle_error(status, err, f"Error accepting challenge: {err}")
        status["state"] = acme_state(accepted.status)
        try:
            authz = await acme_client.wait_authorization(
                challenge.spec.authorization_url, max_wait=self._authorization_wait
            )
        except AcmeError as err:
            return self._handle_error(status, err, f"Error accepting authorization: {err}")
        status["state"] = acme_state(authz.status)
        if authz.status == "valid":
            status["reason"] = "Successfully authorized domain"
            notes.append(
                Note(
                    EventType.NORMAL,
                    EventReason.DOMAIN_VERIFIED,
                    f'Domain "{challenge.spec.dns_name}" verified with "{challenge.spec.type}" '
                    "validation",
                )
            )
            return None
        problem = authorization_problem(authz, challenge.spec.url)
        status["reason"] = f"Error accepting authorization: {problem}"
        notes.append(
            Note(
                EventType.WARNING,
                EventReason.FAILED,
                f"Accepting challenge authorization failed: {problem}",
            )
        )
        return None

    def _handle_error(self, status: dict[str, Any], err: AcmeError, reason: str) -> Requeue | None:
        """cert-manager's ``handleError``, plus waiting out rate limits.

        Raises:
            RetryLater: a transient failure (network, timeout, 5xx).
        """
        wait = rate_limit_wait(err)
        if wait is not None:
            status["reason"] = (
                f"rate limited by the ACME server, not retrying before "
                f"{until(self._clock.now(), wait)}: {err}"
            )
            return Requeue(wait)
        if is_malformed(err):
            status["state"] = "expired"
            status["reason"] = reason
            return None
        if is_client_error(err):
            status["state"] = "errored"
            status["reason"] = reason
            return None
        if isinstance(err, AcmeProblem | NetworkError) or "Timeout" in type(err).__name__:
            raise RetryLater(f"ACME server: {err}")
        status["state"] = "errored"
        status["reason"] = f"unexpected non-ACME API error: {err}"
        return None

    async def _finish(
        self,
        obj: JSONObject,
        challenge: Challenge,
        status: dict[str, Any],
        finalizers: list[str],
    ) -> Requeue | None:
        ours = {FINALIZER, LEGACY_FINALIZER}
        if ours & set(finalizers):
            namespace = challenge.namespace
            try:
                issuer = lookup_issuer(
                    self._informers, challenge.spec.issuer_ref.to_dict(), challenge.namespace
                )
                namespace = self._context.resource_namespace(issuer)
            except IssuerLookupError:
                pass
            try:
                await self._solvers.clean_up(challenge, namespace)
            except Exception as err:
                message = str(err) or type(err).__name__
                status["reason"] = message
                await write_status(self._client, CHALLENGES, obj, status)
                await self._recorder.record(
                    challenge, Note(EventType.WARNING, EventReason.CLEAN_UP_ERROR, message)
                )
                raise RetryLater(f"clean-up failed: {message}") from None
        status["presented"] = False
        status["processing"] = False
        stored = await write_status(self._client, CHALLENGES, obj, status)
        if ours & set(finalizers):
            await self._set_finalizers(stored or obj, [f for f in finalizers if f not in ours])
        return None

    async def _set_finalizers(self, obj: JSONObject, finalizers: list[str]) -> None:
        meta = obj.get("metadata") or {}
        body = {
            "metadata": {
                "finalizers": finalizers,
                "resourceVersion": meta.get("resourceVersion"),
            }
        }
        try:
            await self._client.patch(CHALLENGES, meta.get("namespace"), meta["name"], body)
        except NotFound:
            return


def authorization_problem(authz: Authorization, challenge_url: str) -> str:
    """What the server said about a failed authorization: the challenge's problem document."""
    identifier = authz.identifier.value
    for candidate in authz.challenges:
        if candidate.url == challenge_url and candidate.error is not None:
            return f"acme: authorization error for {identifier}: {candidate.error.describe()}"
    errors = [c.error.describe() for c in authz.challenges if c.error is not None]
    if errors:
        return f"acme: authorization error for {identifier}: {'; '.join(errors)}"
    return f'acme: authorization for {identifier} is "{authz.status}"'


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
