"""Which Certificate owns a Secret several Certificates name (SPEC §5.4 trigger step 2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from certsmith.api.certmanager import Certificate
from certsmith.api.core import Secret
from certsmith.controllers.certificates.ownership import owns_secret, secret_owner
from tests.builders import make_certificate, make_secret, with_certificate_meta

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def certificate(name: str, *, age: int, secret: str = "shared-tls") -> Certificate:
    """A Certificate created ``age`` hours after T0, writing ``secret``."""
    return with_certificate_meta(
        make_certificate(name, secretName=secret), created=T0 + dt.timedelta(hours=age)
    )


def secret(owner: str | None = None) -> Secret:
    s = make_secret("shared-tls")
    if owner is not None:
        s.metadata.annotations = {"cert-manager.io/certificate-name": owner}
    return s


OLD = certificate("old", age=0)
NEW = certificate("new", age=1)
TWIN_A = certificate("a", age=2)
TWIN_B = certificate("b", age=2)
ELSEWHERE = certificate("elsewhere", age=-1, secret="other-tls")


@dataclass(frozen=True)
class Case:
    id: str
    certificates: list[Certificate]
    secret: Secret | None
    expect: str | None


CASES = [
    Case("a lone Certificate owns its Secret", [NEW], secret(), "new"),
    Case("the oldest wins when the Secret does not exist", [NEW, OLD], None, "old"),
    Case("the oldest wins without an annotation", [NEW, OLD], secret(), "old"),
    Case("the annotation names the owner", [OLD, NEW], secret("new"), "new"),
    Case("an annotation naming a stranger is ignored", [NEW, OLD], secret("gone"), "old"),
    Case("the name breaks a tie in age", [TWIN_B, TWIN_A], None, "a"),
    Case("Certificates of other Secrets do not count", [ELSEWHERE, NEW], None, "new"),
    Case("nobody owns a Secret no Certificate names", [ELSEWHERE], secret(), None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_secret_owner(case: Case) -> None:
    owner = secret_owner(case.certificates, case.secret, secret_name="shared-tls")
    assert (owner.name if owner else None) == case.expect


def test_secret_name_defaults_to_the_secret() -> None:
    owner = secret_owner([NEW, OLD], secret())
    assert owner is not None
    assert owner.name == "old"


def test_missing_secret_needs_a_name() -> None:
    with pytest.raises(ValueError, match="secret_name"):
        secret_owner([NEW], None)


def test_owns_secret_for_owner_and_non_owner() -> None:
    assert owns_secret(OLD, [OLD, NEW], None)
    assert not owns_secret(NEW, [OLD, NEW], None)
    assert owns_secret(NEW, [OLD, NEW], secret("new"))
    assert owns_secret(NEW, [], None)  # the Certificate itself is always a candidate
