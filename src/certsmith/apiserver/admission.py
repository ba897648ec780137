"""Admission for cert-manager resources: the webhook cert-manager would run, in process.

On CREATE and UPDATE of cert-manager.io and acme.cert-manager.io objects the server runs what
cert-manager's webhook runs (SPEC §2): a CertificateRequest's identity is first overwritten with
the authenticated user's, then the kind's validators run. The answer is worded as the apiserver
reports a webhook denial, because that is what users of cert-manager see and search for::

    admission webhook "webhook.cert-manager.io" denied the request: spec.request: Required value

(403 Forbidden; several errors are joined as ``[a, b]``). An object that does not even fit the
schema (a pydantic failure) is 422 Invalid instead, as kube-apiserver's CRD schema validation
reports it before any webhook runs. Other resources pass through unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import pydantic

from certsmith.admission.acme import validate_challenge_update, validate_order_update
from certsmith.admission.certificate import validate_certificate
from certsmith.admission.certificaterequest import (
    mutate_certificate_request_create,
    validate_certificate_request_create,
    validate_certificate_request_update,
)
from certsmith.admission.issuer import validate_issuer
from certsmith.api.acme import Challenge, Order
from certsmith.api.certmanager import Certificate, CertificateRequest, ClusterIssuer, Issuer
from certsmith.api.errors import FieldError, FieldErrorType, InvalidError, StatusError
from certsmith.api.meta import JSONObject, KubeObject, UserInfo
from certsmith.apiserver.approval import ApprovalAuthorizer

WEBHOOK_NAME: Final = "webhook.cert-manager.io"

_MODELS: Final[dict[tuple[str, str], type[KubeObject]]] = {
    ("cert-manager.io", "certificates"): Certificate,
    ("cert-manager.io", "certificaterequests"): CertificateRequest,
    ("cert-manager.io", "issuers"): Issuer,
    ("cert-manager.io", "clusterissuers"): ClusterIssuer,
    ("acme.cert-manager.io", "orders"): Order,
    ("acme.cert-manager.io", "challenges"): Challenge,
}


@dataclass
class AdmissionResult:
    """What admission made of a write: the object to store and the warnings to send."""

    obj: JSONObject
    warnings: list[str] = field(default_factory=list)


def denied(errors: list[FieldError]) -> StatusError:
    """The 403 a webhook denial reaches clients as."""
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    return StatusError(
        403,
        "Forbidden",
        f'admission webhook "{WEBHOOK_NAME}" denied the request: {joined}',
    )


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def _schema_errors(exc: pydantic.ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in exc.errors(include_url=False):
        path = _loc(tuple(item["loc"])) or "<root>"
        if item["type"] == "missing":
            errors.append(FieldError.required(path))
        else:
            detail = str(item["msg"])
            value = item.get("input")
            if isinstance(value, dict | list):
                errors.append(FieldError(FieldErrorType.INVALID, path, detail))
            else:
                errors.append(FieldError.invalid(path, value, detail))
    return errors


def parse(group: str, resource: str, obj: JSONObject) -> KubeObject | None:
    """Parse a cert-manager object into its model; ``None`` for other resources.

    Raises:
        InvalidError: 422 when the object does not fit the schema.
    """
    model = _MODELS.get((group, resource))
    if model is None:
        return None
    try:
        return model.from_dict(obj)
    except pydantic.ValidationError as exc:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise InvalidError(group, model.KIND, name, _schema_errors(exc)) from None


def _check(errors: list[FieldError]) -> None:
    if errors:
        raise denied(errors)


_IDENTITY_FIELDS: Final = ("username", "uid", "groups", "extra")


def admit_create(group: str, resource: str, obj: JSONObject, user: UserInfo) -> AdmissionResult:
    """Mutate and validate a new object.

    Returns:
        The object to store (identity fields overwritten for a CertificateRequest) and warnings.

    Raises:
        InvalidError: 422 for a schema failure.
        StatusError: 403 for a webhook denial.
    """
    parsed = parse(group, resource, obj)
    if parsed is None:
        return AdmissionResult(obj)
    warnings: list[str] = []
    if isinstance(parsed, CertificateRequest):
        mutated = mutate_certificate_request_create(parsed, user)
        spec_wire = mutated.spec.to_dict()
        obj = copy.deepcopy(obj)
        spec = obj.setdefault("spec", {})
        for key in _IDENTITY_FIELDS:
            if key in spec_wire:
                spec[key] = spec_wire[key]
            else:
                spec.pop(key, None)
        _check(validate_certificate_request_create(mutated, user))
    elif isinstance(parsed, Certificate):
        _check(validate_certificate(parsed))
    elif isinstance(parsed, Issuer | ClusterIssuer):
        errors, warnings = validate_issuer(parsed)
        _check(errors)
    return AdmissionResult(obj, list(warnings))


_UpdateRule = Callable[[Any, Any, UserInfo], tuple[list[FieldError], list[str]]]


def _cr_update(old: Any, new: Any, user: UserInfo) -> tuple[list[FieldError], list[str]]:
    return validate_certificate_request_update(old, new, user), []


def _cert_update(old: Any, new: Any, user: UserInfo) -> tuple[list[FieldError], list[str]]:
    del old, user
    return validate_certificate(new), []


def _issuer_update(old: Any, new: Any, user: UserInfo) -> tuple[list[FieldError], list[str]]:
    del old, user
    return validate_issuer(new)


def _order_update(old: Any, new: Any, user: UserInfo) -> tuple[list[FieldError], list[str]]:
    del user
    return validate_order_update(old, new), []


def _challenge_update(old: Any, new: Any, user: UserInfo) -> tuple[list[FieldError], list[str]]:
    del user
    return validate_challenge_update(old, new), []


_UPDATE_RULES: Final[dict[type[KubeObject], _UpdateRule]] = {
    CertificateRequest: _cr_update,
    Certificate: _cert_update,
    Issuer: _issuer_update,
    ClusterIssuer: _issuer_update,
    Order: _order_update,
    Challenge: _challenge_update,
}


def admit_update(
    group: str,
    resource: str,
    old: JSONObject,
    new: JSONObject,
    user: UserInfo,
    *,
    subresource: str | None = None,
    approval: ApprovalAuthorizer | None = None,
) -> list[str]:
    """Validate an update (main endpoint or ``/status``) of a stored object.

    On ``certificaterequests/status`` the updater's permission to approve or deny is checked
    by ``approval`` (SPEC §2.3) once validation has passed; without one (callers outside the
    HTTP layer) that check is skipped.

    Returns:
        Warnings to send.

    Raises:
        InvalidError: 422 for a schema failure.
        StatusError: 403 for a webhook denial.
    """
    parsed_new = parse(group, resource, new)
    if parsed_new is None:
        return []
    parsed_old = parse(group, resource, old)
    rule = _UPDATE_RULES[type(parsed_new)]
    errors, warnings = rule(parsed_old, parsed_new, user)
    _check(errors)
    if (
        approval is not None
        and subresource == "status"
        and isinstance(parsed_old, CertificateRequest)
        and isinstance(parsed_new, CertificateRequest)
    ):
        _check(approval.check(parsed_old, parsed_new, user))
    return list(warnings)
