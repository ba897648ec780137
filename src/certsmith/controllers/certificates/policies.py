"""The ordered checks that decide whether a Certificate is re-issued, Ready, or its Secret repaired.

Each check (a ``Policy``) looks at one thing and returns a ``Violation`` (reason and message) or
None; ``evaluate`` runs a chain and the first violation wins, so chain order is behaviour: a
missing Secret must be reported as ``DoesNotExist``, never as the ``MissingData`` or
``InvalidKeyPair`` it would also cause. Three chains, as cert-manager's (SPEC §5.8):

* ``TRIGGER_CHAIN``: the first violation sets ``Issuing=True`` with its reason and message;
* ``READINESS_CHAIN``: the same checks, but the last one is "expired" instead of "renewal due",
  so a certificate past its renewal time but not expired is still Ready;
* ``POST_ISSUANCE_CHAIN``: while idle, does the Secret still carry the labels, annotations,
  output formats, owner reference and keystores cert-manager writes? A violation means
  "re-apply the Secret"; the caller ignores ``ManagedFieldsParseError`` and
  ``InvalidCertificate`` (decode errors), as upstream does.

The checks after ``secret_does_not_exist`` and ``secret_is_missing_data`` assume a Secret with
``tls.key`` and ``tls.crt``; chains always put those two first. Messages and reasons are
cert-manager's verbatim, including Go's formatting: ``[a b]`` for a list of fields, ``%q``
quoting, RFC 1123 times and ``time.Time.String()`` for the scheduled renewal time.

Everything is pure: time arrives as ``PolicyInput.now`` and the renewal-time arithmetic is
injected into ``certificate_nearing_expiry``, so tests need neither a clock nor a cluster.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from certsmith.api.certmanager import API_VERSION, Certificate, CertificateRequest
from certsmith.api.conditions import PolicyReason
from certsmith.api.core import Secret
from certsmith.api.duration import parse_go_duration
from certsmith.controllers.certificates.keycache import KEYS
from certsmith.controllers.certificates.match import (
    DEFAULT_ISSUER_GROUP,
    DEFAULT_ISSUER_KIND,
    RequestMatchError,
    request_matches_spec,
    secret_matches_spec,
)
from certsmith.controllers.certificates.secretdata import (
    CA_KEY,
    CERTIFICATE_NAME_ANNOTATION,
    COMBINED_PEM_KEY,
    DER_KEY,
    ISSUER_GROUP_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_NAME_ANNOTATION,
    JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY,
    PART_OF_CERT_MANAGER_LABEL,
    PKCS12_KEYSTORE_KEY,
    PKCS12_TRUSTSTORE_KEY,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    certificate_detail_annotations,
    combined_pem,
    private_key_der,
)
from certsmith.pki.ari import ari_renewal_time
from certsmith.pki.csr import CSRError, decode_csr
from certsmith.pki.keys import KeyDecodeError, PrivateKey, key_matches_spec
from certsmith.pki.keys import public_keys_equal as _public_keys_equal
from certsmith.pki.pem import PEMError, split_pem_certificates
from certsmith.pki.renewal import WindowError, renewal_time, renewal_time_in_windows

__all__ = [
    "POST_ISSUANCE_CHAIN",
    "READINESS_CHAIN",
    "TEMPORARY_CERTIFICATE_CHAIN",
    "TRIGGER_CHAIN",
    "Chain",
    "Policy",
    "PolicyInput",
    "RenewalTimeFunc",
    "Violation",
    "certificate_has_expired",
    "certificate_nearing_expiry",
    "current_request_mismatches_spec",
    "evaluate",
    "format_go_list",
    "format_rfc1123",
    "secret_additional_output_formats_managed_fields_mismatch",
    "secret_additional_output_formats_mismatch",
    "secret_base_label_mismatch",
    "secret_certificate_details_annotations_mismatch",
    "secret_certificate_name_annotation_mismatch",
    "secret_does_not_exist",
    "secret_is_missing_data",
    "secret_issuer_annotations_mismatch",
    "secret_keystore_format_mismatch",
    "secret_managed_metadata_managed_fields_mismatch",
    "secret_owner_reference_managed_field_mismatch",
    "secret_owner_reference_mismatch",
    "secret_private_key_mismatches_spec",
    "secret_public_key_differs_from_current_request",
    "secret_public_keys_differ",
    "secret_template_managed_fields_mismatch",
    "secret_template_mismatch",
]


@dataclass(frozen=True)
class Violation:
    """A failed check: the condition reason and the human-readable message."""

    reason: PolicyReason
    message: str


@dataclass(frozen=True)
class PolicyInput:
    """Everything the checks look at, gathered once per reconcile.

    Attributes:
        certificate: The Certificate.
        secret: Its ``spec.secretName`` Secret, or None when it does not exist.
        current_request: The request of revision ``status.revision`` (produced the Secret).
        next_request: The request of revision ``status.revision + 1`` (being issued).
        now: The time to judge expiry and renewal against.
        field_manager: The field manager the issuing controller writes the Secret as; the
            managed-fields checks are skipped when None.
        owner_ref_enabled: ``--enable-certificate-owner-ref``: the Secret must (True) or must
            not (False) carry a controller reference to the Certificate.
    """

    certificate: Certificate
    secret: Secret | None
    current_request: CertificateRequest | None
    next_request: CertificateRequest | None
    now: dt.datetime
    field_manager: str | None = None
    owner_ref_enabled: bool = False


Policy: TypeAlias = Callable[[PolicyInput], Violation | None]
"""One check: a violation, or None when the input passes."""

Chain: TypeAlias = tuple[Policy, ...]
"""Checks in the order they are evaluated."""


class RenewalTimeFunc(Protocol):
    """The signature of ``certsmith.pki.renewal.renewal_time``."""

    def __call__(
        self,
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        renew_before: dt.timedelta | None,
        renew_before_percentage: int | None,
    ) -> dt.datetime:
        """The desired renewal time of a certificate valid from ``not_before`` to ``not_after``."""


def evaluate(chain: Iterable[Policy], policy_input: PolicyInput) -> Violation | None:
    """Run the checks in order and return the first violation.

    Args:
        chain: The checks.
        policy_input: What they look at.

    Returns:
        The first violation, or None when every check passes.
    """
    for policy in chain:
        violation = policy(policy_input)
        if violation is not None:
            return violation
    return None


# --- formatting as Go prints it ----------------------------------------------------------------

_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def format_go_list(values: Sequence[str]) -> str:
    """A string list as Go's ``%v`` prints it: ``[a b c]``."""
    return "[" + " ".join(values) + "]"


def format_rfc1123(value: dt.datetime) -> str:
    """A time as Go's ``time.RFC1123`` in UTC: ``Mon, 02 Jan 2006 15:04:05 UTC``.

    Written out by hand so the day and month names never follow the process locale.
    """
    t = value.astimezone(dt.UTC)
    return (
        f"{_WEEKDAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} UTC"
    )


def _go_time_string(value: dt.datetime | None) -> str:
    """``*metav1.Time`` printed with ``%s``: ``time.Time.String()``, or ``<nil>`` when unset."""
    if value is None:
        return "<nil>"
    t = value.astimezone(dt.UTC)
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return f"{text} +0000 UTC"


def _go_quote(value: str) -> str:
    """Go's ``%q`` for the strings that show up here (names from annotations)."""
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# --- reading the Secret --------------------------------------------------------------------------


def _secret(policy_input: PolicyInput) -> Secret:
    secret = policy_input.secret
    if secret is None:
        # A chain that lets a missing Secret through to here is mis-ordered: fail loudly.
        raise ValueError("policy needs a Secret; put secret_does_not_exist first in the chain")
    return secret


def _data(secret: Secret, key: str) -> bytes:
    """A data value, ``b""`` when absent (Go reads a nil slice from a missing map key)."""
    try:
        return secret.decoded(key) or b""
    except ValueError:
        return b""


def _has_key(secret: Secret, key: str) -> bool:
    return key in (secret.data or {}) or key in (secret.string_data or {})


def _private_key(secret: Secret) -> PrivateKey | Violation:
    try:
        return KEYS.parse(_data(secret, TLS_KEY_KEY))
    except KeyDecodeError as err:
        return Violation(
            PolicyReason.INVALID_KEY_PAIR,
            f"Issuing certificate as Secret contains invalid private key data: {err}",
        )


def _certificate(secret: Secret) -> x509.Certificate | Violation:
    try:
        return split_pem_certificates(_data(secret, TLS_CERT_KEY))[0]
    except PEMError as err:
        return Violation(
            PolicyReason.INVALID_CERTIFICATE,
            f"Issuing certificate as Secret contains an invalid certificate: {err}",
        )


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


# --- A/B: the checks shared by the trigger and readiness chains ---------------------------------


def secret_does_not_exist(policy_input: PolicyInput) -> Violation | None:
    """Row 1: the Secret is missing."""
    if policy_input.secret is None:
        return Violation(
            PolicyReason.DOES_NOT_EXIST, "Issuing certificate as Secret does not exist"
        )
    return None


def secret_is_missing_data(policy_input: PolicyInput) -> Violation | None:
    """Row 2: the Secret has no data, or an empty ``tls.key`` or ``tls.crt``."""
    secret = _secret(policy_input)
    if not secret.data and not secret.string_data:
        return Violation(
            PolicyReason.MISSING_DATA, "Issuing certificate as Secret does not contain any data"
        )
    if not _data(secret, TLS_KEY_KEY):
        return Violation(
            PolicyReason.MISSING_DATA,
            "Issuing certificate as Secret does not contain a private key",
        )
    if not _data(secret, TLS_CERT_KEY):
        return Violation(
            PolicyReason.MISSING_DATA,
            "Issuing certificate as Secret does not contain a certificate",
        )
    return None


def secret_public_keys_differ(policy_input: PolicyInput) -> Violation | None:
    """Row 3: ``tls.key`` or ``tls.crt`` does not decode, or they are not one key pair."""
    secret = _secret(policy_input)
    key = _private_key(secret)
    if isinstance(key, Violation):
        return key
    cert = _certificate(secret)
    if isinstance(cert, Violation):
        return cert
    try:
        equal = _public_keys_equal(cert.public_key(), key)
    except (ValueError, UnsupportedAlgorithm) as err:
        return Violation(
            PolicyReason.INVALID_KEY_PAIR, f"Secret contains an invalid key-pair: {err}"
        )
    if not equal:
        return Violation(
            PolicyReason.INVALID_KEY_PAIR,
            "Issuing certificate as Secret contains a private key that does not match the "
            "certificate",
        )
    return None


def secret_issuer_annotations_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Row 4: the Secret was issued by another issuer than ``spec.issuerRef`` names.

    Empty kind and group mean ``Issuer`` and ``cert-manager.io`` on both sides. A Secret with
    none of the three annotations passes only when the issuerRef is a default-kind,
    default-group issuer: upstream's ``(ok1 || ok2 || ok3) && name != … || kind … || group …``
    binds ``&&`` tighter, so the kind and group comparisons run even without annotations
    (which is why readiness reports ``IncorrectIssuer`` for a ClusterIssuer Certificate holding
    a temporary certificate, SPEC §10 quirk 20).
    """
    secret = _secret(policy_input)
    annotations = secret.annotations
    ref = policy_input.certificate.spec.issuer_ref
    present = any(
        key in annotations
        for key in (ISSUER_NAME_ANNOTATION, ISSUER_KIND_ANNOTATION, ISSUER_GROUP_ANNOTATION)
    )
    name = annotations.get(ISSUER_NAME_ANNOTATION, "")
    kind = annotations.get(ISSUER_KIND_ANNOTATION, "") or DEFAULT_ISSUER_KIND
    group = annotations.get(ISSUER_GROUP_ANNOTATION, "") or DEFAULT_ISSUER_GROUP
    if (
        (present and name != ref.name)
        or kind != (ref.kind or DEFAULT_ISSUER_KIND)
        or group != (ref.group or DEFAULT_ISSUER_GROUP)
    ):
        return Violation(
            PolicyReason.INCORRECT_ISSUER,
            "Issuing certificate as Secret was previously issued by "
            + _go_quote(f"{kind}.{group}/{name}"),
        )
    return None


def secret_certificate_name_annotation_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Row 5: the Secret says it was issued for another Certificate."""
    annotations = _secret(policy_input).annotations
    if CERTIFICATE_NAME_ANNOTATION not in annotations:
        return None
    name = annotations[CERTIFICATE_NAME_ANNOTATION]
    if name == policy_input.certificate.name:
        return None
    return Violation(
        PolicyReason.INCORRECT_CERTIFICATE,
        f"Secret was issued for {_go_quote(name)}. If this message is not transient, you might "
        "have two conflicting Certificates pointing to the same secret.",
    )


def secret_private_key_mismatches_spec(policy_input: PolicyInput) -> Violation | None:
    """Row 6: the stored key's algorithm or size is not what ``spec.privateKey`` asks for."""
    key = _private_key(_secret(policy_input))
    if isinstance(key, Violation):
        return key
    private_key = policy_input.certificate.spec.private_key
    violations = key_matches_spec(
        key,
        private_key.algorithm if private_key else None,
        private_key.size if private_key else None,
    )
    if violations:
        return Violation(
            PolicyReason.SECRET_MISMATCH,
            f"Existing private key is not up to date for spec: {format_go_list(violations)}",
        )
    return None


def secret_public_key_differs_from_current_request(policy_input: PolicyInput) -> Violation | None:
    """Row 7: the Secret's key is not the key the current request's CSR was made for.

    Usually the Secret was changed behind cert-manager's back.
    """
    request = policy_input.current_request
    if request is None:
        return None
    key = _private_key(_secret(policy_input))
    if isinstance(key, Violation):
        return key
    try:
        csr = decode_csr(request.spec.request_pem)
    except (CSRError, ValueError) as err:
        return Violation(
            PolicyReason.INVALID_CERTIFICATE_REQUEST,
            f"Failed to decode current CertificateRequest: {err}",
        )
    try:
        equal = _public_keys_equal(csr.public_key(), key)
    except (ValueError, UnsupportedAlgorithm) as err:
        return Violation(
            PolicyReason.INVALID_CERTIFICATE_REQUEST,
            f"CertificateRequest's public key is invalid: {err}",
        )
    if not equal:
        return Violation(
            PolicyReason.SECRET_MISMATCH,
            "Secret contains a private key that does not match the current CertificateRequest",
        )
    return None


def current_request_mismatches_spec(policy_input: PolicyInput) -> Violation | None:
    """Row 8 (and 8'): the current request, or failing that the issued cert, is out of date.

    A request whose CSR cannot be read is not a reason to re-issue: the certificate in the
    Secret may well be fine. Without a current request (deleted), the issued certificate is
    compared leniently instead (``secret_matches_spec``).
    """
    request = policy_input.current_request
    spec = policy_input.certificate.spec
    if request is None:
        cert = _certificate(_secret(policy_input))
        if isinstance(cert, Violation):
            return cert
        try:
            violations = secret_matches_spec(cert, spec)
        except ValueError as err:
            return Violation(
                PolicyReason.INVALID_CERTIFICATE,
                f"Issuing certificate as Secret contains an invalid certificate: {err}",
            )
        if violations:
            return Violation(
                PolicyReason.SECRET_MISMATCH,
                "Issuing certificate as Existing issued Secret is not up to date for spec: "
                + format_go_list(violations),
            )
        return None
    try:
        violations = request_matches_spec(request, spec)
    except RequestMatchError:
        return None
    if violations:
        return Violation(
            PolicyReason.REQUEST_CHANGED,
            "Fields on existing CertificateRequest resource not up to date: "
            + format_go_list(violations),
        )
    return None


def _renew_before(value: str | None) -> dt.timedelta | None:
    if value is None:
        return None
    try:
        return parse_go_duration(value)
    except ValueError:
        return None  # admission rejects these; fall back to the default third


def certificate_nearing_expiry(renewal: RenewalTimeFunc = renewal_time) -> Policy:
    """Row 9 of the trigger chain: renewal is due (``now ≥ renewal time``).

    Args:
        renewal: Computes the desired renewal time from the issued certificate's validity and
            the spec (``certsmith.pki.renewal.renewal_time``).

    Returns:
        The check. It recomputes the renewal time from the certificate in the Secret rather than
        trusting ``status.renewalTime`` (which only appears in the message), skips Certificates
        with ``renewal.policy: Disabled``, and moves the time into ``renewal.windows``; when no
        window fits it uses the unshifted time (readiness reports that ``WindowError``).
    """

    def certificate_nearing_expiry(policy_input: PolicyInput) -> Violation | None:
        cert = _certificate(_secret(policy_input))
        if isinstance(cert, Violation):
            return cert
        spec = policy_input.certificate.spec
        if spec.renewal is not None and spec.renewal.policy == "Disabled":
            return None
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        due = renewal(
            not_before,
            not_after,
            renew_before=_renew_before(spec.renew_before),
            renew_before_percentage=spec.renew_before_percentage,
        )
        if spec.renewal is not None and spec.renewal.windows:
            # SPEC §5.7: when no window fits, the desired time stands.
            with contextlib.suppress(WindowError):
                due = renewal_time_in_windows(due, spec.renewal.windows, not_before, not_after)
        # ACME Renewal Information: the server's window replaces the spec's schedule.
        due = ari_renewal_time(policy_input.certificate.status, cert) or due
        if due > policy_input.now:
            return None
        status = policy_input.certificate.status
        scheduled = status.renewal_time if status is not None else None
        return Violation(
            PolicyReason.RENEWING,
            f"Renewing certificate as renewal was scheduled at {_go_time_string(scheduled)}",
        )

    return certificate_nearing_expiry


def certificate_has_expired(policy_input: PolicyInput) -> Violation | None:
    """Row 9 of the readiness chain: the certificate's notAfter has passed."""
    cert = _certificate(_secret(policy_input))
    if isinstance(cert, Violation):
        return cert
    not_after = _not_after(cert)
    if policy_input.now > not_after:
        return Violation(
            PolicyReason.EXPIRED, f"Certificate expired on {format_rfc1123(not_after)}"
        )
    return None


# --- C: post-issuance Secret checks ---------------------------------------------------------------

_CERT_MANAGER_PREFIXES: Final = ("cert-manager.io/", "controller.cert-manager.io/")

# Annotations whose values rows 4 and 5 check; the post-issuance checks leave them alone.
_ISSUANCE_ANNOTATIONS: Final = frozenset(
    {
        CERTIFICATE_NAME_ANNOTATION,
        ISSUER_NAME_ANNOTATION,
        ISSUER_KIND_ANNOTATION,
        ISSUER_GROUP_ANNOTATION,
    }
)


def _first_mismatch(expected: Mapping[str, str], actual: Mapping[str, str]) -> str | None:
    """The first key (sorted) present in both maps with different values."""
    for key in sorted(expected):
        if key in actual and actual[key] != expected[key]:
            return key
    return None


def _missing(expected: Iterable[str], actual: Mapping[str, str]) -> list[str]:
    return sorted(key for key in expected if key not in actual)


def _detail_annotations(secret: Secret) -> dict[str, str] | Violation:
    cert_pem = _data(secret, TLS_CERT_KEY)
    if not cert_pem:
        return {}
    try:
        return certificate_detail_annotations(split_pem_certificates(cert_pem)[0])
    except ValueError as err:
        return Violation(
            PolicyReason.INVALID_CERTIFICATE, f"Failed getting secret annotations: {err}"
        )


def secret_base_label_mismatch(policy_input: PolicyInput) -> Violation | None:
    """The ``controller.cert-manager.io/fao`` label is missing or not ``"true"``."""
    labels = _secret(policy_input).metadata.labels or {}
    if PART_OF_CERT_MANAGER_LABEL not in labels:
        return Violation(
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
            f"Secret is missing these Managed Labels: [{PART_OF_CERT_MANAGER_LABEL}]",
        )
    value = labels[PART_OF_CERT_MANAGER_LABEL]
    if value == "true":
        return None
    return Violation(
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        f'wrong base label {PART_OF_CERT_MANAGER_LABEL} value {_go_quote(value)}, expected "true"',
    )


def secret_certificate_details_annotations_mismatch(policy_input: PolicyInput) -> Violation | None:
    """The certificate-detail annotations are missing or disagree with ``tls.crt``.

    A wrong value is reported with reason ``SecretTemplateMismatch``, as upstream does.
    """
    secret = _secret(policy_input)
    expected = _detail_annotations(secret)
    if isinstance(expected, Violation):
        return expected
    annotations = secret.annotations
    missing = _missing(expected, annotations)
    if missing:
        return Violation(
            PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
            f"Secret is missing these Managed Annotations: {format_go_list(missing)}",
        )
    key = _first_mismatch(expected, annotations)
    if key is not None:
        return Violation(
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
            f"Secret metadata {annotations[key]} does not match certificate metadata "
            f"{expected[key]}",
        )
    return None


def secret_template_mismatch(policy_input: PolicyInput) -> Violation | None:
    """A ``secretTemplate`` annotation or label is missing from the Secret or has another value."""
    template = policy_input.certificate.spec.secret_template
    if template is None:
        return None
    secret = _secret(policy_input)
    annotations, labels = secret.annotations, secret.metadata.labels or {}
    wanted_annotations = template.annotations or {}
    if _missing(wanted_annotations, annotations) or _first_mismatch(
        wanted_annotations, annotations
    ):
        return Violation(
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
            "Certificate's SecretTemplate Annotations missing or incorrect value on Secret",
        )
    wanted_labels = template.labels or {}
    if _missing(wanted_labels, labels) or _first_mismatch(wanted_labels, labels):
        return Violation(
            PolicyReason.SECRET_TEMPLATE_MISMATCH,
            "Certificate's SecretTemplate Labels missing or incorrect value on Secret",
        )
    return None


def secret_additional_output_formats_mismatch(policy_input: PolicyInput) -> Violation | None:
    """A requested ``additionalOutputFormats`` key is missing or does not match the key pair."""
    secret = _secret(policy_input)
    key_pem, cert_pem = _data(secret, TLS_KEY_KEY), _data(secret, TLS_CERT_KEY)
    for output in policy_input.certificate.spec.additional_output_formats or []:
        if output.type == "CombinedPEM":
            data_key, expected = COMBINED_PEM_KEY, combined_pem(key_pem, cert_pem)
        else:
            data_key, expected = DER_KEY, private_key_der(key_pem)
        if not _has_key(secret, data_key) or _data(secret, data_key) != expected:
            return Violation(
                PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
                "Certificate's AdditionalOutputFormats doesn't match Secret Data",
            )
    return None


def secret_owner_reference_mismatch(policy_input: PolicyInput) -> Violation | None:
    """With owner references enabled, the Secret lacks the exact controller reference."""
    if not policy_input.owner_ref_enabled:
        return None
    certificate = policy_input.certificate
    uid = certificate.metadata.uid
    for ref in _secret(policy_input).metadata.owner_references or []:
        if ref.uid != uid:
            continue
        # Owner references are keyed by uid, so the first one with our uid decides.
        if (
            ref.api_version == API_VERSION
            and ref.kind == Certificate.KIND
            and ref.name == certificate.name
            and ref.controller is True
            and ref.block_owner_deletion is True
        ):
            return None
        break
    return Violation(
        PolicyReason.SECRET_OWNER_REF_MISMATCH,
        "unexpected Secret Owner Reference value on Secret --enable-certificate-owner-ref=true",
    )


_KEYSTORE_KEYS: Final = (
    PKCS12_KEYSTORE_KEY,
    PKCS12_TRUSTSTORE_KEY,
    JKS_KEYSTORE_KEY,
    JKS_TRUSTSTORE_KEY,
)


def secret_keystore_format_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Keystores are present that the spec does not ask for, or missing that it does.

    A truststore is only expected when the Secret has a ``ca.crt`` key.
    """
    secret = _secret(policy_input)
    keystores = policy_input.certificate.spec.keystores
    if keystores is None:
        if any(_data(secret, key) for key in _KEYSTORE_KEYS):
            return Violation(PolicyReason.SECRET_MISMATCH, "Keystore is not defined")
        return None
    has_ca = _has_key(secret, CA_KEY)
    stores = (
        ("JKS", keystores.jks, JKS_KEYSTORE_KEY, JKS_TRUSTSTORE_KEY),
        ("PKCS12", keystores.pkcs12, PKCS12_KEYSTORE_KEY, PKCS12_TRUSTSTORE_KEY),
    )
    for label, store, keystore_key, truststore_key in stores:
        keystore, truststore = _data(secret, keystore_key), _data(secret, truststore_key)
        if store is None:
            if keystore or truststore:
                return Violation(PolicyReason.SECRET_MISMATCH, f"{label} Keystore not defined")
        elif store.create:
            if not keystore or (not truststore and has_ca):
                return Violation(
                    PolicyReason.SECRET_MISMATCH, f"{label} Keystore key does not contain data"
                )
        elif keystore or truststore:
            return Violation(PolicyReason.SECRET_MISMATCH, f"{label} Keystore create disabled")
    return None


# --- C: managed-fields checks (skipped without a field manager) ----------------------------------


class _ManagedFieldsError(ValueError):
    pass


def _children(node: Any, path: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _ManagedFieldsError(f"expected an object at {path}")
    return node


def _field_names(node: Any, path: str) -> set[str]:
    """The ``f:<name>`` children of a fieldsV1 node (``.`` is the node itself)."""
    names: set[str] = set()
    for key, child in _children(node, path).items():
        _children(child, f"{path}.{key}")
        if key.startswith("f:"):
            names.add(key[2:])
        elif key != ".":
            raise _ManagedFieldsError(f"unexpected key {key!r} at {path}")
    return names


@dataclass(frozen=True)
class _Managed:
    labels: frozenset[str]
    annotations: frozenset[str]
    data: frozenset[str]
    owner_uids: frozenset[str]


def _managed(secret: Secret, field_manager: str) -> _Managed:
    """What ``field_manager`` owns on the Secret, read from its managedFields."""
    labels: set[str] = set()
    annotations: set[str] = set()
    data: set[str] = set()
    owner_uids: set[str] = set()
    for entry in secret.metadata.managed_fields or []:
        if entry.manager != field_manager or entry.fields_v1 is None:
            continue
        root = _children(entry.fields_v1, "")
        metadata = _children(root.get("f:metadata", {}), ".metadata")
        labels |= _field_names(metadata.get("f:labels", {}), ".metadata.labels")
        annotations |= _field_names(metadata.get("f:annotations", {}), ".metadata.annotations")
        data |= _field_names(root.get("f:data", {}), ".data")
        refs = _children(metadata.get("f:ownerReferences", {}), ".metadata.ownerReferences")
        for key in refs:
            if key == ".":
                continue
            if not key.startswith("k:"):
                raise _ManagedFieldsError(f"unexpected key {key!r} at .metadata.ownerReferences")
            try:
                ref_key = json.loads(key[2:])
            except json.JSONDecodeError as err:
                raise _ManagedFieldsError(f"invalid owner reference key {key!r}: {err}") from None
            if isinstance(ref_key, dict) and isinstance(ref_key.get("uid"), str):
                owner_uids.add(ref_key["uid"])
    return _Managed(
        frozenset(labels), frozenset(annotations), frozenset(data), frozenset(owner_uids)
    )


def _managed_or_violation(policy_input: PolicyInput) -> _Managed | Violation | None:
    if policy_input.field_manager is None:
        return None
    try:
        return _managed(_secret(policy_input), policy_input.field_manager)
    except _ManagedFieldsError as err:
        return Violation(
            PolicyReason.MANAGED_FIELDS_PARSE_ERROR,
            f"failed to decode managed fields on Secret: {err}",
        )


def _set_difference_violation(
    reason: PolicyReason, kind: str, expected: set[str], managed: set[str]
) -> Violation | None:
    missing = sorted(expected - managed)
    if missing:
        return Violation(reason, f"Secret is missing these {kind}: {format_go_list(missing)}")
    extra = sorted(managed - expected)
    if extra:
        noun = kind.split()[-1]
        return Violation(reason, f"Secret has these extra {noun}: {format_go_list(extra)}")
    return None


def _is_cert_manager_key(key: str) -> bool:
    return key.startswith(_CERT_MANAGER_PREFIXES)


def secret_managed_metadata_managed_fields_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Our field manager owns other cert-manager labels/annotations than it should write."""
    managed = _managed_or_violation(policy_input)
    if not isinstance(managed, _Managed):
        return managed
    expected_annotations = _detail_annotations(_secret(policy_input))
    if isinstance(expected_annotations, Violation):
        return expected_annotations
    labels = {k for k in managed.labels if _is_cert_manager_key(k)}
    annotations = {
        k for k in managed.annotations if _is_cert_manager_key(k) and k not in _ISSUANCE_ANNOTATIONS
    }
    return _set_difference_violation(
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        "Managed Labels",
        {PART_OF_CERT_MANAGER_LABEL},
        labels,
    ) or _set_difference_violation(
        PolicyReason.SECRET_MANAGED_METADATA_MISMATCH,
        "Managed Annotations",
        set(expected_annotations),
        annotations,
    )


def secret_template_managed_fields_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Our field manager owns other non-cert-manager labels/annotations than the template's."""
    managed = _managed_or_violation(policy_input)
    if not isinstance(managed, _Managed):
        return managed
    template = policy_input.certificate.spec.secret_template
    expected_labels = set(template.labels or {}) if template else set()
    expected_annotations = set(template.annotations or {}) if template else set()
    return _set_difference_violation(
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Template Labels",
        expected_labels,
        {k for k in managed.labels if not _is_cert_manager_key(k)},
    ) or _set_difference_violation(
        PolicyReason.SECRET_TEMPLATE_MISMATCH,
        "Template Annotations",
        expected_annotations,
        {k for k in managed.annotations if not _is_cert_manager_key(k)},
    )


def secret_additional_output_formats_managed_fields_mismatch(
    policy_input: PolicyInput,
) -> Violation | None:
    """Our field manager owns an output-format key the spec dropped, or lacks one it asks for."""
    managed = _managed_or_violation(policy_input)
    if not isinstance(managed, _Managed):
        return managed
    formats = {o.type for o in policy_input.certificate.spec.additional_output_formats or []}
    if ("CombinedPEM" in formats) != (COMBINED_PEM_KEY in managed.data) or ("DER" in formats) != (
        DER_KEY in managed.data
    ):
        return Violation(
            PolicyReason.ADDITIONAL_OUTPUT_FORMATS_MISMATCH,
            "Certificate's AdditionalOutputFormats doesn't match Secret ManagedFields",
        )
    return None


def secret_owner_reference_managed_field_mismatch(policy_input: PolicyInput) -> Violation | None:
    """Our field manager's ownership of the owner reference disagrees with the flag."""
    managed = _managed_or_violation(policy_input)
    if not isinstance(managed, _Managed):
        return managed
    has_ref = policy_input.certificate.metadata.uid in managed.owner_uids
    if has_ref != policy_input.owner_ref_enabled:
        flag = "true" if policy_input.owner_ref_enabled else "false"
        return Violation(
            PolicyReason.SECRET_OWNER_REF_MISMATCH,
            f"unexpected managed Secret Owner Reference field on Secret "
            f"--enable-certificate-owner-ref={flag}",
        )
    return None


# --- the chains -----------------------------------------------------------------------------------

TRIGGER_CHAIN: Final[Chain] = (
    secret_does_not_exist,  # 1 DoesNotExist: nothing to keep, issue
    secret_is_missing_data,  # 2 MissingData: no data, no tls.key or no tls.crt
    secret_public_keys_differ,  # 3 InvalidKeyPair/InvalidCertificate: unusable key pair
    secret_issuer_annotations_mismatch,  # 4 IncorrectIssuer: issued by another issuer
    secret_certificate_name_annotation_mismatch,  # 5 IncorrectCertificate: for another Certificate
    secret_private_key_mismatches_spec,  # 6 SecretMismatch: key algorithm/size changed
    secret_public_key_differs_from_current_request,  # 7 SecretMismatch: key is not the CSR's
    current_request_mismatches_spec,  # 8 RequestChanged (8' SecretMismatch without a request)
    certificate_nearing_expiry(renewal_time),  # 9 Renewing: renewal time reached
)
"""SPEC §5.8 A: the first violation sets ``Issuing=True``."""

READINESS_CHAIN: Final[Chain] = (
    secret_does_not_exist,  # 1 DoesNotExist
    secret_is_missing_data,  # 2 MissingData
    secret_public_keys_differ,  # 3 InvalidKeyPair/InvalidCertificate
    secret_issuer_annotations_mismatch,  # 4 IncorrectIssuer
    secret_certificate_name_annotation_mismatch,  # 5 IncorrectCertificate
    secret_private_key_mismatches_spec,  # 6 SecretMismatch (key)
    secret_public_key_differs_from_current_request,  # 7 SecretMismatch (current request)
    current_request_mismatches_spec,  # 8 RequestChanged / SecretMismatch
    certificate_has_expired,  # 9 Expired: only expiry, not renewal, makes it unready
)
"""SPEC §5.8 B: the first violation sets ``Ready=False``; none means ``Ready=True``."""

POST_ISSUANCE_CHAIN: Final[Chain] = (
    secret_base_label_mismatch,  # fao label present and "true"
    secret_certificate_details_annotations_mismatch,  # detail annotations match tls.crt
    secret_managed_metadata_managed_fields_mismatch,  # we own exactly our cert-manager keys
    secret_template_mismatch,  # template labels/annotations present with their values
    secret_template_managed_fields_mismatch,  # we own exactly the template's keys
    secret_additional_output_formats_mismatch,  # output formats hold the right bytes
    secret_additional_output_formats_managed_fields_mismatch,  # we own exactly those keys
    secret_owner_reference_mismatch,  # controller reference as the flag says
    secret_owner_reference_managed_field_mismatch,  # and we own it only when enabled
    secret_keystore_format_mismatch,  # keystores exactly as spec.keystores asks
)
"""SPEC §5.8 C: a violation means the issuing controller re-applies the Secret."""

TEMPORARY_CERTIFICATE_CHAIN: Final[Chain] = (
    secret_does_not_exist,  # no Secret: write a temporary certificate
    secret_is_missing_data,  # no key or certificate: write one
    secret_public_keys_differ,  # broken key pair: write one
)
"""SPEC §5.4 issuing step 5: does the Secret lack a valid key pair (so a temporary one helps)?"""
