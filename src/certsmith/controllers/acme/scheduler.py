"""The Challenge scheduler: which Challenges may be processed now (SPEC §6.4).

cert-manager's scheduler runs every second; here it is a reconcile of one fixed key, queued on
every Challenge change and re-queued after a second while candidates are left waiting, so an
idle cluster costs nothing. Each pass:

* candidates are Challenges neither final nor processing, oldest first, one per
  ``(dnsName, type)`` pair, and none whose pair is already being processed (two challenges for
  the same name and type would overwrite each other's TXT record or token);
* at most :data:`MAX_PER_PASS` are picked, and never more than ``max_concurrent`` processing
  in total (cert-manager's ``--max-concurrent-challenges``, default 60);
* a picked Challenge gets ``status.processing=true`` and a Normal ``Started`` event "Challenge
  scheduled for processing".
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any, Final

from certsmith.api.acme import Challenge
from certsmith.api.conditions import EventReason, EventType
from certsmith.client.errors import Conflict, NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CHALLENGES
from certsmith.controllers.acme.common import FINAL_STATES, write_status
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.informers import SharedInformers
from certsmith.controllers.runtime.cache import JSONObject, ObjectKey
from certsmith.controllers.runtime.manager import Requeue

log = logging.getLogger(__name__)

SCHEDULER_KEY: Final = ObjectKey(None, "challenge-scheduler")
MAX_PER_PASS: Final = 20
DEFAULT_MAX_CONCURRENT: Final = 60
PASS_INTERVAL: Final = 1.0
STARTED_MESSAGE: Final = "Challenge scheduled for processing"


def _pair(obj: JSONObject) -> tuple[str, str]:
    spec = obj.get("spec") or {}
    return (str(spec.get("dnsName") or ""), str(spec.get("type") or ""))


def _created(obj: JSONObject) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def select(
    challenges: Sequence[JSONObject],
    *,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    max_per_pass: int = MAX_PER_PASS,
) -> tuple[list[JSONObject], int]:
    """The Challenges to start now, and how many candidates were left waiting."""
    live = [
        c
        for c in challenges
        if not (c.get("metadata") or {}).get("deletionTimestamp")
        and (c.get("status") or {}).get("state") not in FINAL_STATES
    ]
    processing = [c for c in live if (c.get("status") or {}).get("processing")]
    busy = {_pair(c) for c in processing}
    candidates: list[JSONObject] = []
    seen: set[tuple[str, str]] = set()
    for obj in sorted(
        (c for c in live if not (c.get("status") or {}).get("processing")), key=_created
    ):
        pair = _pair(obj)
        if pair in busy or pair in seen:
            continue
        seen.add(pair)
        candidates.append(obj)
    room = max(0, min(max_per_pass, max_concurrent - len(processing)))
    waiting = sum(1 for c in live if not (c.get("status") or {}).get("processing"))
    chosen = candidates[:room]
    return chosen, waiting - len(chosen)


class ChallengeScheduler:
    """Marks Challenges ``processing`` within the concurrency limits."""

    def __init__(
        self,
        client: KubeClient,
        *,
        informers: SharedInformers,
        recorder: EventRecorder,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    ) -> None:
        """Schedule the Challenges in ``informers.challenges``."""
        self._client = client
        self._informers = informers
        self._recorder = recorder
        self._max_concurrent = max_concurrent

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """One scheduling pass; requeues itself while candidates are left waiting.

        Raises:
            certsmith.client.errors.ApiError: a status write failed (other than a conflict).
        """
        chosen, waiting = select(
            list(self._informers.challenges.cache.list()), max_concurrent=self._max_concurrent
        )
        for obj in chosen:
            status: dict[str, Any] = copy.deepcopy(obj.get("status") or {})
            status["processing"] = True
            try:
                stored = await write_status(self._client, CHALLENGES, obj, status)
            except (Conflict, NotFound):
                waiting += 1  # changed or gone meanwhile; the next pass sees the new version
                continue
            challenge = Challenge.from_dict(copy.deepcopy(stored or obj))
            await self._recorder.record(
                challenge, Note(EventType.NORMAL, EventReason.STARTED, STARTED_MESSAGE)
            )
        return Requeue(PASS_INTERVAL) if waiting > 0 else None
