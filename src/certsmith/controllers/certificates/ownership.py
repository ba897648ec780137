"""Which Certificate owns a Secret that several Certificates name as their ``secretName``.

Two Certificates writing one Secret would re-issue each other forever, so only one may act
(SPEC §5.4 trigger step 2, upstream ``CertificateOwnsSecret``): among the Certificates of the
namespace with that ``secretName``, the one named by the Secret's
``cert-manager.io/certificate-name`` annotation wins if it is among them; otherwise the oldest
by ``creationTimestamp`` wins, the name breaking ties. A Certificate without a timestamp counts
as oldest (Go's zero time). Upstream sorts with a comparator that is not a strict order
(``before || name <``); we use the order it means, so the answer never depends on list order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from certsmith.api.certmanager import Certificate
from certsmith.api.core import Secret
from certsmith.controllers.certificates.secretdata import CERTIFICATE_NAME_ANNOTATION

__all__ = ["owns_secret", "secret_owner"]

_ZERO_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


def _age_key(certificate: Certificate) -> tuple[dt.datetime, str]:
    created = certificate.metadata.creation_timestamp or _ZERO_TIME
    return created, certificate.name


def secret_owner(
    certificates_in_namespace: Iterable[Certificate],
    secret: Secret | None,
    *,
    secret_name: str | None = None,
) -> Certificate | None:
    """The Certificate that may manage a Secret.

    Args:
        certificates_in_namespace: Every Certificate of the Secret's namespace.
        secret: The Secret, or None when it does not exist (then ``secret_name`` is required).
        secret_name: The Secret's name; defaults to ``secret.metadata.name``.

    Returns:
        The owning Certificate, or None when no Certificate names the Secret.

    Raises:
        ValueError: neither a Secret nor a ``secret_name`` was given.
    """
    name = secret_name if secret_name is not None else (secret.name if secret else None)
    if not name:
        raise ValueError("secret_owner needs a Secret or a secret_name")
    candidates = sorted(
        (c for c in certificates_in_namespace if c.spec.secret_name == name), key=_age_key
    )
    if not candidates:
        return None
    if secret is not None:
        named = secret.annotations.get(CERTIFICATE_NAME_ANNOTATION)
        for candidate in candidates:
            if candidate.name == named:
                return candidate
    return candidates[0]


def owns_secret(
    certificate: Certificate,
    certificates_in_namespace: Iterable[Certificate],
    secret: Secret | None,
) -> bool:
    """Whether ``certificate`` owns its ``spec.secretName`` Secret (trigger step 2).

    Args:
        certificate: The Certificate being reconciled.
        certificates_in_namespace: Every Certificate of its namespace (may include itself).
        secret: Its Secret, or None when the Secret does not exist.

    Returns:
        True when it is the owner; non-owners do nothing and look again later.
    """
    others = [c for c in certificates_in_namespace if c.name != certificate.name]
    owner = secret_owner([certificate, *others], secret, secret_name=certificate.spec.secret_name)
    return owner is not None and owner.name == certificate.name
