from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.api.errors import StatusError
from certsmith.apiserver.storage import (
    AlreadyExistsError,
    ConflictError,
    ContinueExpiredError,
    GoneError,
    NotFoundError,
    ObjectKey,
    StorageError,
)

CERT = ObjectKey("cert-manager.io", "certificates", "ns", "foo")
SECRET = ObjectKey("", "secrets", "ns", "foo")


@dataclass(frozen=True)
class Case:
    id: str
    error: StorageError
    code: int
    reason: str
    message: str
    details: dict[str, Any] | None


CASES = [
    Case(
        "not found in a named group",
        NotFoundError(CERT),
        404,
        "NotFound",
        'certificates.cert-manager.io "foo" not found',
        {"name": "foo", "group": "cert-manager.io", "kind": "certificates"},
    ),
    Case(
        "not found in the core group",
        NotFoundError(SECRET),
        404,
        "NotFound",
        'secrets "foo" not found',
        {"name": "foo", "kind": "secrets"},
    ),
    Case(
        "already exists",
        AlreadyExistsError(CERT),
        409,
        "AlreadyExists",
        'certificates.cert-manager.io "foo" already exists',
        {"name": "foo", "group": "cert-manager.io", "kind": "certificates"},
    ),
    Case(
        "conflict",
        ConflictError(SECRET),
        409,
        "Conflict",
        'Operation cannot be fulfilled on secrets "foo": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": "foo", "kind": "secrets"},
    ),
    Case(
        "too old resource version",
        GoneError(101, 106),
        410,
        "Expired",
        "too old resource version: 101 (106)",
        None,
    ),
    Case(
        "expired continue",
        ContinueExpiredError(3, 9),
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. "
        "You can start a new list without the continue parameter.",
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_storage_errors_render_as_kube_status_bodies(case: Case):
    status = case.error.to_status()

    assert isinstance(case.error, StatusError)
    assert (status["code"], status["reason"], status["message"]) == (
        case.code,
        case.reason,
        case.message,
    )
    assert status.get("details") == case.details


def test_an_expired_continue_is_a_kind_of_gone():
    assert isinstance(ContinueExpiredError(1, 2), GoneError)
