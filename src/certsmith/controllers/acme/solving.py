"""Present, check and clean up one Challenge, by type (SPEC §6.6, §6.7).

* HTTP-01, standalone: the key goes into the in-process :class:`Http01Registry` that the HTTP-01
  responder serves from; the check is cert-manager's self-check
  (:func:`~certsmith.controllers.acme.http01.self_check`): five passes in a row, two seconds
  apart. cert-manager sleeps between them in the worker; here each reconcile makes one GET and
  the Challenge is requeued for the next, so a worker is never held for the eight seconds.
  The solver's ``ingress`` or ``gatewayHTTPRoute`` settings are not used: certsmith answers
  the challenge itself, so the name must reach certsmith's HTTP-01 listener on port 80.
* HTTP-01, cluster mode (a process without an HTTP-01 listener): cert-manager's solver Pod,
  Service and Ingress or HTTPRoute (:mod:`~certsmith.controllers.acme.http01cluster`); the
  self-check is the same.
* DNS-01: :class:`~certsmith.acme.dns01.DNS01Solver` writes and removes the TXT record (RFC 2136
  or the exec provider) and checks propagation; the not-yet reason lists what every nameserver
  answered. After the first passing check the controller waits ``dns01_settle`` seconds
  (cert-manager's 60 s) before accepting, so the CA's resolvers see the record too. cert-manager
  sleeps in the worker; here the Challenge is requeued instead (the reason says until when), so
  sixty settling challenges do not hold every worker for a minute. The settle start is kept in
  memory: a restart waits the full period again, which is the safe side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from certsmith.acme.dns01 import DNS01Error, DNS01Solver, PropagationCheckError
from certsmith.api.acme import Challenge
from certsmith.api.meta import format_time
from certsmith.client.errors import ApiError, TransportError
from certsmith.controllers.acme.http01 import (
    Http01Registry,
    SelfCheckError,
    SelfCheckOptions,
    self_check,
)
from certsmith.controllers.acme.http01cluster import Http01ClusterSolver
from certsmith.util.clock import Clock, SystemClock

DNS01_SETTLE: Final = 60.0


class NotReadyError(Exception):
    """The challenge is presented but not visible yet; the message says what was seen."""


class SettlingError(NotReadyError):
    """The record is visible everywhere; the settle period runs ``remaining`` more seconds."""

    def __init__(self, message: str, remaining: float) -> None:
        super().__init__(message)
        self.remaining = remaining


def _key(challenge: Challenge) -> str:
    return challenge.metadata.uid or f"{challenge.namespace}/{challenge.name}"


class SolverUnavailableError(Exception):
    """This process cannot solve challenges of that type (e.g. no DNS-01 solver configured)."""


@dataclass
class ChallengeSolvers:
    """The solvers of one controller process.

    Attributes:
        http01: the tokens the HTTP-01 responder answers with.
        http01_check: how the HTTP-01 self-check reaches the challenge.
        http01_cluster: cluster mode's solver objects; ``None`` answers from ``http01``.
        dns01: the DNS-01 solver, if this process solves DNS-01.
        dns01_settle: seconds to wait after a passing DNS-01 check before accepting.
        clock: when a DNS-01 record was first seen everywhere.
    """

    http01: Http01Registry = field(default_factory=Http01Registry)
    http01_check: SelfCheckOptions = field(default_factory=SelfCheckOptions)
    http01_cluster: Http01ClusterSolver | None = None
    dns01: DNS01Solver | None = None
    dns01_settle: float = DNS01_SETTLE
    clock: Clock = field(default_factory=SystemClock)
    _propagated: dict[str, dt.datetime] = field(default_factory=dict)
    _passes: dict[str, int] = field(default_factory=dict)

    def _dns01(self) -> DNS01Solver:
        if self.dns01 is None:
            raise SolverUnavailableError("no DNS-01 solver is configured in this process")
        return self.dns01

    async def present(self, challenge: Challenge, resource_namespace: str) -> None:
        """Publish the challenge's key.

        Raises:
            DNS01Error: the DNS record could not be written (the message is the reason).
            certsmith.client.errors.ApiError: a solver object could not be written.
            SolverUnavailableError: no solver for the type.
        """
        if challenge.spec.type == "HTTP-01":
            await self._present_http01(challenge)
            return
        await self._dns01().present(challenge, resource_namespace)

    async def _present_http01(self, challenge: Challenge) -> None:
        if self.http01_cluster is not None:
            await self.http01_cluster.present(challenge)
        else:
            self.http01.present(challenge.spec.token, challenge.spec.key)

    async def check(self, challenge: Challenge) -> None:
        """Whether the published key is visible where the CA will look.

        Raises:
            NotReadyError: not yet; the message says what the check saw.
            SolverUnavailableError: no solver for the type.
        """
        if challenge.spec.type == "HTTP-01":
            await self._check_http01(challenge)
            return
        try:
            result = await self._dns01().check(challenge)
        except PropagationCheckError as err:
            raise NotReadyError(f"{err} ({err.result.fqdn} TXT: {err.result.details()})") from None
        except DNS01Error as err:
            raise NotReadyError(str(err)) from None
        if not result.propagated:
            self._propagated.pop(_key(challenge), None)
            raise NotReadyError(result.reason())
        if self.dns01_settle > 0:
            now = self.clock.now()
            since = self._propagated.setdefault(_key(challenge), now)
            until = since + dt.timedelta(seconds=self.dns01_settle)
            if now < until:
                raise SettlingError(
                    f"{result.message}; waiting until {format_time(until)} before accepting "
                    f"({self.dns01_settle:g}s after it was first seen on every nameserver)",
                    (until - now).total_seconds(),
                )

    async def _check_http01(self, challenge: Challenge) -> None:
        """One GET of the self-check; the passes in a row are counted across reconciles.

        Raises:
            NotReadyError: this GET failed (the count starts again).
            SettlingError: it passed, but fewer times in a row than required.
        """
        # Present is idempotent; re-run it as cert-manager does before checking. In cluster
        # mode that writes to the API: a failure is a not-ready reason, not a lost status.
        try:
            await self._present_http01(challenge)
        except (ApiError, TransportError, ValueError) as err:
            self._passes.pop(_key(challenge), None)
            raise NotReadyError(f"presenting the HTTP-01 solver again failed: {err}") from None
        key = _key(challenge)
        try:
            await self_check(
                challenge.spec.dns_name,
                challenge.spec.token,
                challenge.spec.key,
                dataclasses.replace(self.http01_check, passes=1),
            )
        except SelfCheckError as err:
            self._passes.pop(key, None)
            raise NotReadyError(str(err)) from None
        passed = self._passes.get(key, 0) + 1
        required = self.http01_check.passes
        if passed >= required:
            self._passes.pop(key, None)
            return
        self._passes[key] = passed
        interval = self.http01_check.interval
        raise SettlingError(
            f"self check passed {passed} of {required} times in a row; checking again in "
            f"{interval:g}s",
            interval,
        )

    async def clean_up(self, challenge: Challenge, resource_namespace: str) -> None:
        """Withdraw the key.

        Raises:
            DNS01Error: the DNS record could not be removed.
        """
        if challenge.spec.type == "HTTP-01":
            self._passes.pop(_key(challenge), None)
            if self.http01_cluster is not None:
                await self.http01_cluster.clean_up(challenge)
            else:
                self.http01.clean_up(challenge.spec.token)
            return
        self._propagated.pop(_key(challenge), None)
        self._passes.pop(_key(challenge), None)
        if self.dns01 is None:
            return  # nothing was ever presented by this process
        await self.dns01.cleanup(challenge, resource_namespace)
