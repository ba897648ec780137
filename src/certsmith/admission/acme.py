"""Admission rules for ACME Orders and Challenges (SPEC §2.6).

Decides which updates of the controller-owned ACME objects are allowed. Orders and
Challenges mirror state held by the ACME server, so anything that identifies that state
(the CSR sent, the order, finalize and authorization URLs, identifiers, challenge tokens, the
issued chain) may be filled in once and never rewritten, while progress fields (``state``,
``reason``, ``presented``...) stay free. Creation is never checked. A Challenge's spec is
frozen as a whole because it is the exact solver configuration being presented.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from certsmith.admission.fieldpath import Path
from certsmith.api.acme import ACMEAuthorization, Challenge, Order, OrderStatus
from certsmith.api.errors import FieldError

__all__ = ["validate_challenge_update", "validate_order_update"]

_IMMUTABLE: Final = "field is immutable once set"


def validate_order_update(old: Order, new: Order) -> list[FieldError]:
    """Validate an UPDATE of an Order (main resource or ``/status``).

    Returns:
        One Forbidden ``field is immutable once set`` error per frozen field that changed.
    """
    errors: list[FieldError] = []
    if old.spec.request and old.spec.request != new.spec.request:
        errors.append(_immutable(Path.root("spec", "request")))
    errors += _validate_order_status(old.status or OrderStatus(), new.status or OrderStatus())
    return errors


def validate_challenge_update(old: Challenge, new: Challenge) -> list[FieldError]:
    """Validate an UPDATE of a Challenge: its spec may not change at all.

    Returns:
        ``spec: Forbidden: challenge spec is immutable after creation`` when it changed.
    """
    if old.spec != new.spec:
        return [FieldError.forbidden("spec", "challenge spec is immutable after creation")]
    return []


def _immutable(path: Path) -> FieldError:
    return FieldError.forbidden(str(path), _IMMUTABLE)


def _changed(old: object, new: object) -> bool:
    """A field set in ``old`` (non-empty) that differs in ``new``."""
    return bool(old) and old != new


def _validate_order_status(old: OrderStatus, new: OrderStatus) -> list[FieldError]:
    status = Path("status")
    errors: list[FieldError] = []
    if _changed(old.url, new.url):
        errors.append(_immutable(status.child("url")))
    if _changed(old.finalize_url, new.finalize_url):
        errors.append(_immutable(status.child("finalizeURL")))
    if _changed(old.certificate, new.certificate):
        errors.append(_immutable(status.child("certificate")))
    if old.authorizations:
        errors += _validate_authorizations(
            old.authorizations, new.authorizations or [], status.child("authorizations")
        )
    return errors


def _validate_authorizations(
    old: Sequence[ACMEAuthorization], new: Sequence[ACMEAuthorization], path: Path
) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(old) != len(new):
        errors.append(_immutable(path))
    for index, (before, after) in enumerate(zip(old, new, strict=False)):
        item = path.index(index)
        if _changed(before.url, after.url):
            errors.append(_immutable(item.child("url")))
        if _changed(before.identifier, after.identifier):
            errors.append(_immutable(item.child("identifier")))
        # Unlike the other fields, wildcard is frozen once present even when false.
        if before.wildcard is not None and before.wildcard != after.wildcard:
            errors.append(_immutable(item.child("wildcard")))
        if _changed(before.initial_state, after.initial_state):
            errors.append(_immutable(item.child("initialState")))
        if before.challenges:
            errors += _validate_challenges(before, after, item.child("challenges"))
    return errors


def _validate_challenges(
    before: ACMEAuthorization, after: ACMEAuthorization, path: Path
) -> list[FieldError]:
    old, new = before.challenges or [], after.challenges or []
    errors: list[FieldError] = []
    if len(old) != len(new):
        errors.append(_immutable(path))
    for index, (was, now) in enumerate(zip(old, new, strict=False)):
        item = path.index(index)
        if _changed(was.url, now.url):
            errors.append(_immutable(item.child("url")))
        if _changed(was.type, now.type):
            errors.append(_immutable(item.child("type")))
        if _changed(was.token, now.token):
            errors.append(_immutable(item.child("token")))
    return errors
