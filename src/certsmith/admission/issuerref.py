"""The issuerRef rules shared by Certificate and CertificateRequest admission (SPEC §0.1, §2.2).

Decides whether an ``issuerRef`` names an issuer cert-manager can resolve: a name is always
required; for the built-in group (``""`` or ``cert-manager.io``) the kind must be empty,
``Issuer`` or ``ClusterIssuer``. Kinds of other groups belong to external issuers, whose valid
kinds we cannot know, so they pass. When the group was left empty we add a hint, because the
usual cause is an external issuer kind with the group forgotten.
"""

from __future__ import annotations

from typing import Final

from certsmith.admission.fieldpath import Path
from certsmith.api.errors import FieldError
from certsmith.api.meta import IssuerReference

__all__ = ["BUILTIN_GROUP", "format_issuer_ref", "validate_issuer_ref"]

#: The API group of the built-in issuers; an empty group means the same.
BUILTIN_GROUP: Final = "cert-manager.io"

_BUILTIN_KINDS: Final = frozenset({"", "Issuer", "ClusterIssuer"})


def validate_issuer_ref(issuer_ref: IssuerReference, parent: Path) -> list[FieldError]:
    """Check an issuerRef found under ``parent`` (``spec`` for both resources).

    Args:
        issuer_ref: the reference as stored (kind and group not defaulted).
        parent: the path of the object holding ``issuerRef``.

    Returns:
        The violations; empty when the reference is acceptable.
    """
    errors: list[FieldError] = []
    ref_path = parent.child("issuerRef")
    if not issuer_ref.name:
        errors.append(FieldError.required(str(ref_path.child("name")), "must be specified"))
    group = issuer_ref.group or ""
    kind = issuer_ref.kind or ""
    if group in ("", BUILTIN_GROUP) and kind not in _BUILTIN_KINDS:
        kind_path = ref_path.child("kind")
        detail = "must be one of Issuer or ClusterIssuer"
        if not group:
            detail += f" (did you forget to set {kind_path.child('group')}?)"
        errors.append(FieldError.invalid(str(kind_path), kind, detail))
    return errors


def format_issuer_ref(issuer_ref: IssuerReference) -> str:
    """Print a reference as cert-manager's messages do (Go ``%v``): ``{name kind group}``.

    Kind and group are printed as stored, so an empty kind leaves two spaces.
    """
    return f"{{{issuer_ref.name} {issuer_ref.kind or ''} {issuer_ref.group or ''}}}"
