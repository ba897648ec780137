"""Admission rules for CertificateRequests: identity, spec checks and approval conditions.

Decides, as pure functions over the stored models, what cert-manager's webhook decides for a
CertificateRequest (SPEC §2.1-§2.3):

* on CREATE the requester's identity is written into the spec (mutation) and then checked,
  so a client can neither forge nor omit who asked for a certificate;
* the issuerRef, the CSR (parse, self-signature, BasicConstraints and key usages against
  ``isCA``/``usages``) and any approval conditions are validated;
* on UPDATE the spec, the requester identity and cert-manager annotations are frozen, and an
  ``Approved``/``Denied`` condition, once set, can never change.

Requests are one-shot (SPEC §1.5), which is why nothing but status and foreign metadata may
change after creation. The SubjectAccessReview that guards newly added approval conditions
needs the API server's RBAC, so only its pure pieces live here: whether it must run
(:func:`approval_newly_set`), which signer names to ask about (:func:`signer_names_for`) and
the exact Forbidden errors (:func:`signer_not_found_error`, :func:`approval_forbidden_error`).
Every function returns a list of :class:`~certsmith.api.errors.FieldError`; empty means allowed.
"""

from __future__ import annotations

import binascii
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from certsmith.admission.fieldpath import Path
from certsmith.admission.issuerref import BUILTIN_GROUP, format_issuer_ref, validate_issuer_ref
from certsmith.api.certmanager import CertificateRequest, CertificateRequestSpec
from certsmith.api.conditions import ConditionStatus, ConditionType
from certsmith.api.errors import FieldError, go_quote
from certsmith.api.meta import Condition, IssuerReference, ObjectMeta, UserInfo, get_condition
from certsmith.pki.template import TemplateError, certificate_template_from_csr
from certsmith.pki.usages import UnknownUsageError, compute_usages

__all__ = [
    "SIGNER_API_GROUP",
    "SIGNER_RESOURCE",
    "SIGNER_VERB",
    "approval_forbidden_error",
    "approval_newly_set",
    "mutate_certificate_request_create",
    "signer_names_for",
    "signer_not_found_error",
    "validate_annotations_unchanged",
    "validate_approval_conditions",
    "validate_approval_conditions_update",
    "validate_certificate_request_create",
    "validate_certificate_request_spec",
    "validate_certificate_request_update",
    "validate_identity_create",
    "validate_identity_update",
]

#: The SubjectAccessReview a user must pass to add Approved/Denied (SPEC §2.3): verb
#: ``approve`` on the cluster-scoped resource ``signers`` of this group, named by a signer name.
SIGNER_VERB: Final = "approve"
SIGNER_RESOURCE: Final = "signers"
SIGNER_API_GROUP: Final = "cert-manager.io"

_SPEC: Final = Path("spec")
_CONDITIONS: Final = Path.root("status", "conditions")
_ANNOTATIONS: Final = Path.root("metadata", "annotations")
# Prefix match, as upstream: "cert-manager.io" also covers e.g. "cert-manager.io.example/x".
_PROTECTED_ANNOTATION_PREFIXES: Final = ("cert-manager.io", "acme.cert-manager.io")
_APPROVAL_TYPES: Final = (ConditionType.APPROVED, ConditionType.DENIED)


class IdentityFields(Protocol):
    """The requester identity fields of a CertificateRequest spec."""

    @property
    def username(self) -> str | None: ...

    @property
    def uid(self) -> str | None: ...

    @property
    def groups(self) -> Sequence[str] | None: ...

    @property
    def extra(self) -> Mapping[str, Sequence[str]] | None: ...


# --------------------------------------------------------------------------------------------
# Entry points


def mutate_certificate_request_create(cr: CertificateRequest, user: UserInfo) -> CertificateRequest:
    """Write the requester's identity into a new CertificateRequest (SPEC §2.1).

    ``uid``, ``username`` and ``groups`` are overwritten with the requester's; ``extra`` is
    replaced by the requester's extra, or removed when the requester has none. Whatever the
    client sent there is silently discarded.

    Args:
        cr: the object as submitted; it is not modified.
        user: the authenticated requester.

    Returns:
        A deep copy with the identity fields set.
    """
    spec = cr.spec.model_copy(
        update={
            "uid": user.uid,
            "username": user.username,
            "groups": list(user.groups),
            "extra": {key: list(values) for key, values in user.extra.items()} or None,
        },
        deep=True,
    )
    return cr.model_copy(update={"spec": spec}, deep=True)


def validate_certificate_request_create(cr: CertificateRequest, user: UserInfo) -> list[FieldError]:
    """Validate a CertificateRequest on CREATE, after mutation (SPEC §2.1, §2.2).

    cert-manager runs its admission plugins as a chain that stops at the first plugin that
    rejects; the identity plugin comes first, so identity errors are reported alone.

    Args:
        cr: the mutated object about to be stored.
        user: the authenticated requester.

    Returns:
        The violations; empty when the object may be created.
    """
    identity = validate_identity_create(cr.spec, user)
    if identity:
        return identity
    errors = validate_certificate_request_spec(cr.spec)
    errors += validate_approval_conditions(cr.status.conditions if cr.status else None)
    return errors


def validate_certificate_request_update(
    old: CertificateRequest, new: CertificateRequest, user: UserInfo
) -> list[FieldError]:
    """Validate an UPDATE of a CertificateRequest or of its ``/status`` (SPEC §2.1-§2.3).

    The RBAC check for newly added approval conditions is not part of this; see
    :func:`approval_newly_set`.

    Args:
        old: the stored object.
        new: the object as it would be stored.
        user: the authenticated requester (unused by the rules, kept for a stable signature).

    Returns:
        The violations; empty when the update may be stored.
    """
    del user  # identity on update compares old with new, never with the updater
    identity = validate_identity_update(old.spec, new.spec)
    if identity:
        return identity
    errors = validate_annotations_unchanged(old.metadata, new.metadata)
    errors += validate_approval_conditions_update(
        old.status.conditions if old.status else None,
        new.status.conditions if new.status else None,
    )
    if old.spec != new.spec:
        errors.append(FieldError.forbidden(str(_SPEC), "cannot change spec after creation"))
    return errors


# --------------------------------------------------------------------------------------------
# Identity (SPEC §2.1)


def validate_identity_create(spec: IdentityFields, user: UserInfo) -> list[FieldError]:
    """Check that the identity fields are exactly the requester's.

    Groups compare without order; extra needs the same keys with the same values in any order.

    Returns:
        One Forbidden error per field that differs.
    """
    detail = "{} identity must be that of the requester"
    errors: list[FieldError] = []
    if (spec.uid or "") != user.uid:
        errors.append(FieldError.forbidden(str(_SPEC.child("uid")), detail.format("uid")))
    if (spec.username or "") != user.username:
        errors.append(FieldError.forbidden(str(_SPEC.child("username")), detail.format("username")))
    if sorted(spec.groups or ()) != sorted(user.groups):
        errors.append(FieldError.forbidden(str(_SPEC.child("groups")), detail.format("groups")))
    if not _extras_match(spec.extra or {}, user.extra):
        errors.append(FieldError.forbidden(str(_SPEC.child("extra")), detail.format("extra")))
    return errors


def validate_identity_update(old: IdentityFields, new: IdentityFields) -> list[FieldError]:
    """Check that no identity field changed; groups compare without order.

    Returns:
        One Forbidden error per field that changed.
    """
    detail = "{} identity cannot be changed once set"
    errors: list[FieldError] = []
    if (old.uid or "") != (new.uid or ""):
        errors.append(FieldError.forbidden(str(_SPEC.child("uid")), detail.format("uid")))
    if (old.username or "") != (new.username or ""):
        errors.append(FieldError.forbidden(str(_SPEC.child("username")), detail.format("username")))
    if sorted(old.groups or ()) != sorted(new.groups or ()):
        errors.append(FieldError.forbidden(str(_SPEC.child("groups")), detail.format("groups")))
    if _plain_extra(old.extra) != _plain_extra(new.extra):
        errors.append(FieldError.forbidden(str(_SPEC.child("extra")), detail.format("extra")))
    return errors


def _extras_match(spec: Mapping[str, Sequence[str]], user: Mapping[str, Sequence[str]]) -> bool:
    if spec.keys() != user.keys():
        return False
    return all(sorted(values) == sorted(user[key]) for key, values in spec.items())


def _plain_extra(extra: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    return {key: list(values) for key, values in (extra or {}).items()}


# --------------------------------------------------------------------------------------------
# Spec (SPEC §2.2)


def validate_certificate_request_spec(spec: CertificateRequestSpec) -> list[FieldError]:
    """Check the issuerRef and the CSR against ``isCA`` and ``usages`` (SPEC §2.2 items 1-4).

    No duration minimum and no SAN or common name checks apply to requests.

    Returns:
        The violations; at most one for the request itself.
    """
    errors = validate_issuer_ref(spec.issuer_ref, _SPEC)
    errors += _validate_request(spec)
    return errors


# Only the validity window depends on it, and admission discards the template.
_ANY_TIME: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_MAX_VALUE_IN_ERROR: Final = 100


def _truncate(text: str) -> str:
    """Keep error messages short: the first 97 characters of the PEM and ``...``."""
    if len(text) <= _MAX_VALUE_IN_ERROR:
        return text
    return text[: _MAX_VALUE_IN_ERROR - 3] + "..."


def _validate_request(spec: CertificateRequestSpec) -> list[FieldError]:
    request_path = str(_SPEC.child("request"))
    if not spec.request:
        return [FieldError.required(request_path, "must be specified")]
    usages = list(spec.usages or ())
    try:
        compute_usages(usages, is_ca=bool(spec.is_ca))
    except UnknownUsageError as err:
        return [FieldError.invalid(str(_SPEC.child("usages")), usages, str(err))]
    try:
        pem = spec.request_pem
    except (binascii.Error, ValueError) as err:
        return [FieldError.invalid(request_path, _truncate(spec.request), str(err))]
    try:
        certificate_template_from_csr(
            pem, is_ca=bool(spec.is_ca), usages=usages, duration=None, now=_ANY_TIME
        )
    except TemplateError as err:
        message = str(err)
        text = pem.decode("utf-8", errors="replace")
        return [FieldError.invalid(request_path, _truncate(text), message)]
    return []


def validate_annotations_unchanged(old: ObjectMeta, new: ObjectMeta) -> list[FieldError]:
    """Forbid adding, removing or changing ``cert-manager.io``/``acme.cert-manager.io`` annotations.

    Other annotations and all labels stay mutable. Each offending key is reported once, in
    key order.
    """
    before, after = old.annotations or {}, new.annotations or {}
    changed = sorted(
        key
        for key in before.keys() | after.keys()
        if key.startswith(_PROTECTED_ANNOTATION_PREFIXES) and before.get(key) != after.get(key)
    )
    return [
        FieldError.forbidden(
            str(_ANNOTATIONS.child(key)), "cannot change cert-manager annotation after creation"
        )
        for key in changed
    ]


# --------------------------------------------------------------------------------------------
# Approval conditions (SPEC §2.3)


def validate_approval_conditions(conditions: Sequence[Condition] | None) -> list[FieldError]:
    """Check the Approved/Denied conditions of an object on their own.

    At most one of each type, each with status ``True``, and never both types together.
    """
    conds = list(conditions or ())
    found = {ctype: [c for c in conds if c.type == ctype] for ctype in _APPROVAL_TYPES}
    errors: list[FieldError] = []
    for ctype, matches in found.items():
        if len(matches) > 1:
            errors.append(
                FieldError.forbidden(
                    str(_CONDITIONS), f"multiple {go_quote(ctype)} conditions present"
                )
            )
        elif matches and matches[0].status != ConditionStatus.TRUE:
            errors.append(
                FieldError.invalid(
                    str(_CONDITIONS.child(ctype)),
                    str(matches[0].status),
                    f"{go_quote(ctype)} condition may only be set to True",
                )
            )
    if all(found.values()):
        errors.append(
            FieldError.forbidden(
                str(_CONDITIONS), "both 'Denied' and 'Approved' conditions cannot coexist"
            )
        )
    return errors


def validate_approval_conditions_update(
    old: Sequence[Condition] | None, new: Sequence[Condition] | None
) -> list[FieldError]:
    """Forbid modifying or removing an Approved/Denied condition, then check ``new`` alone.

    Any difference counts, including reason, message and ``lastTransitionTime``.
    """
    errors: list[FieldError] = []
    for ctype in _APPROVAL_TYPES:
        before = get_condition(old, ctype)
        if before is not None and before != get_condition(new, ctype):
            errors.append(
                FieldError.forbidden(
                    str(_CONDITIONS), f"'{ctype}' condition may not be modified once set"
                )
            )
    return errors + validate_approval_conditions(new)


def approval_newly_set(old: CertificateRequest, new: CertificateRequest) -> bool:
    """Tell whether an update adds an Approved or a Denied condition that ``old`` lacked.

    Only then must the updater pass the ``approve`` SubjectAccessReview (SPEC §2.3); edits of
    existing conditions are refused by validation instead.
    """
    old_conds = old.status.conditions if old.status else None
    new_conds = new.status.conditions if new.status else None
    return any(
        get_condition(old_conds, ctype) is None and get_condition(new_conds, ctype) is not None
        for ctype in _APPROVAL_TYPES
    )


def signer_names_for(
    issuer_ref: IssuerReference, cr_namespace: str, resource_plural: str, namespaced: bool
) -> list[str]:
    """The signer names to authorize, in order; the first allowed one admits the update.

    Args:
        issuer_ref: the request's issuerRef; an empty group means ``cert-manager.io``.
        cr_namespace: the CertificateRequest's namespace.
        resource_plural: the plural resource of the issuer kind, from API discovery.
        namespaced: whether that resource is namespaced.

    Returns:
        ``<resource>.<group>/*``, then ``<resource>.<group>/<namespace>.<name>`` for
        namespaced kinds or ``<resource>.<group>/<name>`` for cluster-scoped ones.
    """
    prefix = f"{resource_plural}.{issuer_ref.group or BUILTIN_GROUP}"
    scoped = f"{cr_namespace}.{issuer_ref.name}" if namespaced else issuer_ref.name
    return [f"{prefix}/*", f"{prefix}/{scoped}"]


def signer_not_found_error(issuer_ref: IssuerReference) -> FieldError:
    """The error when discovery knows no resource for the issuerRef's group and kind."""
    return FieldError.forbidden(
        str(_SPEC.child("issuerRef")),
        f"referenced signer resource does not exist: {format_issuer_ref(issuer_ref)}",
    )


def approval_forbidden_error(username: str, issuer_ref: IssuerReference) -> FieldError:
    """The error when the updater may not approve or deny for the referenced issuer."""
    return FieldError.forbidden(
        str(_CONDITIONS),
        f"user {go_quote(username)} does not have permissions to set approved/denied "
        f"conditions for issuer {format_issuer_ref(issuer_ref)}",
    )
