"""Renewal time from ACME Renewal Information (RFC 9773): a point in the server's window.

When a Certificate's ``status.acme.ari`` holds a suggested window for the certificate it has
now, the renewal time is taken from that window instead of ``renewBefore``/one third of the
lifetime (as cert-manager does with ARI on). RFC 9773 §4.2 asks for a random point in the
window so that clients do not all renew at its start; the point here is drawn from the
certificate's serial number, so it is spread across certificates yet the same every time it
is computed (readiness writes it, the trigger acts on it, and they must agree).

A window whose start is not after the certificate's ``notBefore`` describes an earlier
certificate (the status still holds the previous revision's answer) and is ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509

from certsmith.api.certmanager import CertificateStatus


def ari_renewal_time(
    status: CertificateStatus | None, certificate: x509.Certificate
) -> dt.datetime | None:
    """The renewal time inside the ARI window for ``certificate``, or ``None`` without one."""
    acme = status.acme if status is not None else None
    ari = acme.ari if acme is not None else None
    window = ari.suggested_window if ari is not None else None
    if window is None or window.end < window.start:
        return None
    if window.start <= certificate.not_valid_before_utc:
        return None
    digest = hashlib.sha256(certificate.serial_number.to_bytes(20, "big", signed=False)).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64
    when = window.start + (window.end - window.start) * share
    return when.replace(microsecond=0)
