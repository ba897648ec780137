"""write_status: one conditional status write, skipped when it could only get a 409."""

from __future__ import annotations

from typing import Any

import pytest

from certsmith.api.certmanager import Certificate, CertificateStatus
from certsmith.client.resources import CERTIFICATES
from certsmith.controllers.certificates.state import (
    certificate_informer,
    parse_certificate,
    write_status,
)
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import RetryLater
from tests.builders import make_certificate
from tests.fakes import FakeKubeClient


def _setup() -> tuple[FakeKubeClient, Informer, dict[str, Any]]:
    client = FakeKubeClient()
    stored = client.seed(CERTIFICATES, make_certificate().to_dict())
    informer = certificate_informer(client)
    informer.cache.upsert(stored)
    return client, informer, stored


def _with_revision(cert: Certificate, revision: int) -> Certificate:
    changed = cert.model_copy(deep=True)
    changed.status = CertificateStatus(revision=revision)
    return changed


def _status_writes(client: FakeKubeClient) -> int:
    return sum(1 for verb, *_ in client.calls if verb == "replace_status")


async def test_status_is_written_when_the_cache_is_current() -> None:
    client, informer, stored = _setup()
    original = parse_certificate(stored)
    assert original is not None
    await write_status(client, stored, original, _with_revision(original, 1), certificates=informer)
    assert client.stored(CERTIFICATES, "ns", "web")["status"]["revision"] == 1


async def test_write_based_on_an_outdated_version_is_not_sent() -> None:
    client, informer, stored = _setup()
    original = parse_certificate(stored)
    assert original is not None
    newer = {**stored, "metadata": {**stored["metadata"], "resourceVersion": "999"}}
    informer.cache.upsert(newer)
    with pytest.raises(RetryLater):
        await write_status(
            client, stored, original, _with_revision(original, 1), certificates=informer
        )
    assert _status_writes(client) == 0
