"""The revision manager (``certificates-revision-manager``): how many old requests to keep.

What it decides (SPEC §5.4, §10 quirk 16): only while ``Ready=True`` (an issuance in flight
needs its requests), among the owned requests with a numeric revision, keep the
``revisionHistoryLimit`` (default 1) highest revisions and delete the rest, whatever their
state. Requests without a revision are the request manager's to delete.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from certsmith.api.conditions import ConditionType
from certsmith.api.meta import is_true
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATE_REQUESTS
from certsmith.controllers.certificates.state import (
    owned_requests,
    parse_certificate,
    request_revision,
)
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue

log = logging.getLogger(__name__)

DEFAULT_REVISION_HISTORY_LIMIT: Final = 1


class RevisionManager:
    """Deletes the oldest CertificateRequests beyond ``revisionHistoryLimit``."""

    def __init__(self, client: KubeClient, *, certificates: Informer, requests: Informer) -> None:
        """Create the controller.

        Args:
            client: the API client deletes go through.
            certificates: the Certificate informer.
            requests: the CertificateRequest informer.
        """
        self._client = client
        self._certificates = certificates
        self._requests = requests

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's request history; see the module docstring.

        Raises:
            certsmith.client.errors.ApiError: a delete failed (retried with backoff).
        """
        cert = parse_certificate(self._certificates.cache.get_key(key))
        if cert is None or cert.status is None:
            return None
        if not is_true(cert.status.conditions, ConditionType.READY):
            return None
        limit = max(cert.spec.revision_history_limit or DEFAULT_REVISION_HISTORY_LIMIT, 1)
        numbered = [
            (revision, request)
            for request in owned_requests(self._requests, cert)
            if (revision := request_revision(request)) is not None
        ]
        numbered.sort(key=lambda item: (item[0], item[1].name))
        for _, request in numbered[: max(len(numbered) - limit, 0)]:
            log.info(
                "deleting certificaterequest %s/%s: beyond revision history",
                request.namespace,
                request.name,
            )
            with contextlib.suppress(NotFound):
                await self._client.delete(CERTIFICATE_REQUESTS, request.namespace, request.name)
        return None


__all__ = ["DEFAULT_REVISION_HISTORY_LIMIT", "RevisionManager"]
