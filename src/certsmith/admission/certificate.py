"""Admission rules for Certificates (SPEC §2.4), the same on CREATE and UPDATE.

Decides whether a Certificate describes something the controllers can turn into a CSR and a
Secret: a valid Secret name and issuerRef, a subject (``commonName`` or ``literalSubject``, not
both) and at least one identity, SANs that parse, a key algorithm with a size and signature
algorithm that fit it, a lifetime long enough to renew before it ends, keystores with exactly
one password source, and renewal windows whose cron and timezone the renewal code can use.

Certificates are fully mutable, unlike CertificateRequests: a spec change is how users ask for
a new certificate. Messages are cert-manager's; values inside them are rendered as
Kubernetes renders them (durations as nanoseconds, structs as JSON with Go field names).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from typing import Any, Final, get_args

from certsmith.admission.cron import cron_error, timezone_is_valid
from certsmith.admission.fieldpath import Path
from certsmith.admission.issuerref import validate_issuer_ref
from certsmith.admission.k8sformats import (
    dns1123_subdomain_errors,
    validate_annotations,
    validate_labels,
)
from certsmith.api.certmanager import (
    Certificate,
    CertificateSpec,
    KeyUsage,
    NameConstraintItem,
    NameConstraints,
    X509Subject,
)
from certsmith.api.duration import format_go_duration, parse_go_duration
from certsmith.api.errors import FieldError, GoJSON

__all__ = [
    "DEFAULT_DURATION_NS",
    "MINIMUM_DURATION_NS",
    "MINIMUM_RENEW_BEFORE_NS",
    "validate_certificate",
    "validate_certificate_spec",
]

_SECOND: Final = 1_000_000_000
#: Effective lifetime when ``duration`` is unset: 90 days.
DEFAULT_DURATION_NS: Final = 2160 * 3600 * _SECOND
#: Shortest allowed ``duration``: one hour.
MINIMUM_DURATION_NS: Final = 3600 * _SECOND
#: Shortest allowed ``renewBefore`` (and the one a percentage must yield): five minutes.
MINIMUM_RENEW_BEFORE_NS: Final = 300 * _SECOND

_MAX_COMMON_NAME: Final = 64
_RSA_MIN, _RSA_MAX = 2048, 8192
_ECDSA_SIZES: Final = (256, 384, 521)
_ALLOWED_SIGNATURES: Final = {
    "RSA": ("SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA"),
    "ECDSA": ("ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512"),
    "Ed25519": ("PureEd25519",),
}
_KNOWN_USAGES: Final = frozenset(get_args(KeyUsage))
_DIRECT_INJECTION: Final = "cert-manager.io/allow-direct-injection"
_SAN_REQUIRED: Final = (
    "at least one of commonName (from the commonName field or from a literalSubject), dnsNames, "
    "emailSANs, ipAddresses, otherNames, or uriSANs must be set"
)
_KEYSTORE_BOTH: Final = (
    "exactly one of passwordSecretRef and password must be provided for {} keystores; "
    "cannot set both"
)
_KEYSTORE_NEITHER: Final = (
    "must set exactly one of passwordSecretRef and password must for {} keystores"
)
_KEYSTORE_EMPTY_LITERAL: Final = "literal password cannot be empty if set on {} keystores"
_EMAIL_NOT_BARE: Final = (
    "invalid email address: make sure the supplied value only contains the email address itself"
)
_CRON_SHAPE: Final = (
    "cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"
)


def validate_certificate(cert: Certificate) -> list[FieldError]:
    """Validate a Certificate on CREATE or UPDATE.

    Args:
        cert: the object as it would be stored.

    Returns:
        The violations; empty when the object may be stored.
    """
    return validate_certificate_spec(cert.spec, Path("spec"))


def validate_certificate_spec(spec: CertificateSpec, path: Path) -> list[FieldError]:
    """Validate a Certificate spec found at ``path``, rule by rule in cert-manager's order."""
    errors: list[FieldError] = []
    errors += _secret_name(spec, path)
    errors += validate_issuer_ref(spec.issuer_ref, path)
    common_name, subject_errors = _subject(spec, path)
    errors += subject_errors
    if not (
        common_name
        or spec.dns_names
        or spec.uris
        or spec.email_addresses
        or spec.ip_addresses
        or spec.other_names
    ):
        errors.append(FieldError.invalid(str(path), "", _SAN_REQUIRED))
    if len(common_name.encode()) > _MAX_COMMON_NAME:
        errors.append(FieldError.too_long(str(path.child("commonName")), _MAX_COMMON_NAME))
    errors += _ip_addresses(spec.ip_addresses or (), path.child("ipAddresses"))
    errors += _email_addresses(spec.email_addresses or (), path.child("emailAddresses"))
    errors += _other_names(spec, path.child("otherNames"))
    errors += _private_key(spec, path.child("privateKey"))
    errors += _signature_algorithm(spec, path)
    if spec.duration is not None or spec.renew_before is not None:
        errors += _durations(spec, path)
    errors += [
        FieldError.invalid(str(path.child("usages").index(i)), usage, "unknown keyusage")
        for i, usage in enumerate(spec.usages or ())
        if usage not in _KNOWN_USAGES
    ]
    if spec.revision_history_limit is not None and spec.revision_history_limit < 1:
        errors.append(
            FieldError.invalid(
                str(path.child("revisionHistoryLimit")),
                spec.revision_history_limit,
                "must not be less than 1",
            )
        )
    errors += _secret_template(spec, path.child("secretTemplate"))
    if spec.name_constraints is not None:
        errors += _name_constraints(spec, spec.name_constraints, path.child("nameConstraints"))
    errors += _additional_output_formats(spec, path.child("additionalOutputFormats"))
    errors += _keystores(spec, path.child("keystores"))
    errors += _renewal(spec, path.child("renewal"))
    return errors


# --------------------------------------------------------------------------------------------
# Names and subject


def _secret_name(spec: CertificateSpec, path: Path) -> list[FieldError]:
    field = str(path.child("secretName"))
    if not spec.secret_name:
        return [FieldError.required(field, "must be specified")]
    return [
        FieldError.invalid(field, spec.secret_name, msg)
        for msg in dns1123_subdomain_errors(spec.secret_name)
    ]


def _subject(spec: CertificateSpec, path: Path) -> tuple[str, list[FieldError]]:
    """Return the effective common name and the subject errors."""
    common_name = spec.common_name or ""
    if not spec.literal_subject:
        return common_name, []
    errors: list[FieldError] = []
    literal = spec.literal_subject
    literal_path = str(path.child("literalSubject"))
    if common_name:
        errors.append(
            FieldError.invalid(
                str(path.child("commonName")),
                common_name,
                "When providing a `LiteralSubject` no `commonName` may be provided.",
            )
        )
    if spec.subject is not None and _subject_is_set(spec.subject):
        errors.append(
            FieldError.invalid(
                str(path.child("subject")),
                GoJSON(_subject_as_go(spec.subject)),
                "When providing a `LiteralSubject` no `Subject` properties may be provided.",
            )
        )
    try:
        rdns = _parse_dn(literal)
    except ValueError as err:
        errors.append(FieldError.invalid(literal_path, literal, str(err)))
        rdns = []
    for attr_type, value, is_string in (atv for rdn in rdns for atv in rdn):
        if attr_type in ("CN", "2.5.4.3"):
            if is_string:
                common_name = value
            else:
                errors.append(
                    FieldError.invalid(literal_path, value, "Field with type CN should be a string")
                )
    for attr_type, value, _ in (atv for rdn in rdns for atv in rdn):
        if attr_type not in _DN_ATTRIBUTE_NAMES and not _is_go_oid(attr_type):
            errors.append(
                FieldError.invalid(
                    literal_path,
                    literal,
                    f"Literal subject contains unrecognized key with value [{value}]",
                )
            )
    return common_name, errors


def _subject_is_set(subject: X509Subject) -> bool:
    return bool(
        subject.organizations
        or subject.countries
        or subject.organizational_units
        or subject.localities
        or subject.provinces
        or subject.street_addresses
        or subject.postal_codes
        or subject.serial_number
    )


def _subject_as_go(subject: X509Subject) -> dict[str, Any]:
    return {
        "Organizations": subject.organizations,
        "Countries": subject.countries,
        "OrganizationalUnits": subject.organizational_units,
        "Localities": subject.localities,
        "Provinces": subject.provinces,
        "StreetAddresses": subject.street_addresses,
        "PostalCodes": subject.postal_codes,
        "SerialNumber": subject.serial_number or "",
    }


#: Attribute type names a literal subject may use besides dotted OIDs (case-sensitive).
_DN_ATTRIBUTE_NAMES: Final = frozenset(
    {"C", "O", "OU", "CN", "SERIALNUMBER", "L", "ST", "STREET", "DC", "UID"}
)
_GO_INT: Final = re.compile(r"[+-]?[0-9]+")
_HEX_PAIR: Final = re.compile(r"[0-9A-Fa-f]{2}")


def _is_go_oid(text: str) -> bool:
    return bool(text) and all(_GO_INT.fullmatch(part) for part in text.split("."))


def _parse_dn(text: str) -> list[list[tuple[str, str, bool]]]:
    """Split an RFC 4514 string into RDNs of ``(type, value, value_is_string)``.

    Types are kept as written; ``#hex`` values are BER and not strings. The order is the
    string's; only membership matters to the rules.

    Raises:
        ValueError: the string is not a distinguished name.
    """
    rdns: list[list[tuple[str, str, bool]]] = []
    current: list[tuple[str, str, bool]] = []
    attr_type: str | None = None
    buffer: list[str] = []
    trailing_spaces = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and attr_type is not None:
            escape = text[index + 1 : index + 3]
            if _HEX_PAIR.fullmatch(escape):
                buffer.append(bytes.fromhex(escape).decode("latin-1"))
                index += 3
            elif index + 1 < len(text):
                buffer.append(text[index + 1])
                index += 2
            else:
                raise ValueError("got corrupted escaped character")
            trailing_spaces = 0
            continue
        if char == "=" and attr_type is None:
            attr_type = "".join(buffer).strip()
            if not attr_type:
                raise ValueError("incomplete type, value pair")
            buffer, trailing_spaces = [], 0
        elif char in ",+;" and attr_type is not None:
            current.append(_finish_atv(attr_type, buffer, trailing_spaces))
            attr_type, buffer, trailing_spaces = None, [], 0
            if char != "+":
                rdns.append(current)
                current = []
        elif char in ",+;=":
            raise ValueError("incomplete type, value pair")
        else:
            if char == " " and attr_type is not None and not buffer:
                index += 1
                continue  # leading spaces of a value
            buffer.append(char)
            trailing_spaces = trailing_spaces + 1 if char == " " else 0
        index += 1
    if attr_type is None:
        if "".join(buffer).strip() or rdns or current:
            raise ValueError("DN ended with incomplete type, value pair")
        return rdns
    current.append(_finish_atv(attr_type, buffer, trailing_spaces))
    rdns.append(current)
    return rdns


def _finish_atv(attr_type: str, buffer: list[str], trailing_spaces: int) -> tuple[str, str, bool]:
    value = "".join(buffer)
    if trailing_spaces:
        value = value[:-trailing_spaces]
    if value.startswith("#"):
        try:
            bytes.fromhex(value[1:])
        except ValueError as err:
            raise ValueError(f"failed to decode BER encoding: {err}") from err
        return attr_type, value, False
    return attr_type, value, True


# --------------------------------------------------------------------------------------------
# SANs


def _ip_addresses(values: Sequence[str], path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, value in enumerate(values):
        if not _is_go_ip(value):
            errors.append(FieldError.invalid(str(path.index(i)), value, "invalid IP address"))
    return errors


def _is_go_ip(value: str) -> bool:
    if "%" in value:  # Go's net.ParseIP has no zones
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM: Final = rf"{_ATOM}(?:\.{_ATOM})*"
_QUOTED: Final = r'"(?:[^"\\\r\n]|\\.)*"'
_DOMAIN_LITERAL: Final = r"\[[^\[\]\\\r\n]*\]"
_ADDR_SPEC: Final = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?:{_DOT_ATOM}|{_DOMAIN_LITERAL})")
_NAME_ADDR: Final = re.compile(rf"[^<>]*<\s*({_ADDR_SPEC.pattern})\s*>\s*")


def _email_error(value: str) -> str | None:
    """Mimic Go's ``net/mail.ParseAddress`` plus cert-manager's bare-address rule."""
    if _ADDR_SPEC.fullmatch(value):
        return None
    stripped = value.strip()
    if _ADDR_SPEC.fullmatch(stripped) or _NAME_ADDR.fullmatch(value):
        return _EMAIL_NOT_BARE
    if "@" not in value and "<" not in value:
        return "invalid email address: mail: missing '@' or angle-addr"
    if stripped.endswith("@"):
        return "invalid email address: mail: no domain in addr-spec"
    return "invalid email address: mail: no angle-addr"


def _email_addresses(values: Sequence[str], path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, value in enumerate(values):
        message = _email_error(value)
        if message is not None:
            errors.append(FieldError.invalid(str(path.index(i)), value, message))
    return errors


def _other_names(spec: CertificateSpec, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, other in enumerate(spec.other_names or ()):
        item = path.index(i)
        oid = other.oid or ""
        if not oid:
            errors.append(FieldError.required(str(item.child("oid")), "must be specified"))
        if not _is_go_oid(oid):
            errors.append(FieldError.invalid(str(item.child("oid")), oid, "invalid oid syntax"))
        if not other.utf8_value:
            errors.append(
                FieldError.required(
                    str(item.child("utf8Value")), "must be set to a valid non-empty UTF8 string"
                )
            )
    return errors


# --------------------------------------------------------------------------------------------
# Key and signature


def _private_key(spec: CertificateSpec, path: Path) -> list[FieldError]:
    key = spec.private_key
    if key is None:
        return []
    algorithm = key.algorithm or ""
    size = key.size or 0
    if algorithm in ("", "RSA"):
        if size > 0 and not _RSA_MIN <= size <= _RSA_MAX:
            return [
                FieldError.invalid(
                    str(path.child("size")),
                    size,
                    f"must be between {_RSA_MIN} and {_RSA_MAX} for rsa keyAlgorithm",
                )
            ]
    elif algorithm == "ECDSA":
        if size > 0 and size not in _ECDSA_SIZES:
            return [
                FieldError.not_supported(
                    str(path.child("size")), size, [str(s) for s in _ECDSA_SIZES]
                )
            ]
    elif algorithm != "Ed25519":
        return [
            FieldError.invalid(
                str(path.child("algorithm")),
                algorithm,
                "must be either empty or one of rsa, ecdsa or ed25519",
            )
        ]
    return []


def _signature_algorithm(spec: CertificateSpec, path: Path) -> list[FieldError]:
    signature = spec.signature_algorithm
    if not signature:
        return []
    algorithm = (spec.private_key.algorithm if spec.private_key else None) or "RSA"
    allowed = _ALLOWED_SIGNATURES.get(algorithm)
    if allowed is None or signature in allowed:
        return []
    return [
        FieldError.invalid(
            str(path.child("signatureAlgorithm")),
            signature,
            f"for key algorithm {algorithm} the allowed signature algorithms are "
            f"[{' '.join(allowed)}]",
        )
    ]


# --------------------------------------------------------------------------------------------
# Lifetime


def _nanoseconds(text: str) -> int:
    delta = parse_go_duration(text)
    return (delta.days * 86_400 + delta.seconds) * _SECOND + delta.microseconds * 1000


def _go_duration(nanoseconds: int) -> str:
    return format_go_duration(dt.timedelta(microseconds=nanoseconds // 1000))


def _durations(spec: CertificateSpec, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    try:
        duration = DEFAULT_DURATION_NS if spec.duration is None else _nanoseconds(spec.duration)
    except ValueError as err:
        return [FieldError.invalid(str(path.child("duration")), spec.duration, str(err))]
    try:
        renew_before = None if spec.renew_before is None else _nanoseconds(spec.renew_before)
    except ValueError as err:
        return [FieldError.invalid(str(path.child("renewBefore")), spec.renew_before, str(err))]
    percentage = spec.renew_before_percentage
    rb_path, pct_path = str(path.child("renewBefore")), str(path.child("renewBeforePercentage"))

    if duration < MINIMUM_DURATION_NS:
        errors.append(
            FieldError.invalid(
                str(path.child("duration")),
                duration,
                f"certificate duration must be greater than {_go_duration(MINIMUM_DURATION_NS)}",
            )
        )
    if renew_before is not None and percentage is not None:
        exclusive = (
            "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"
        )
        errors.append(FieldError.invalid(rb_path, renew_before, exclusive))
        errors.append(FieldError.invalid(pct_path, percentage, exclusive))
    if renew_before is not None and renew_before < MINIMUM_RENEW_BEFORE_NS:
        minimum = _go_duration(MINIMUM_RENEW_BEFORE_NS)
        errors.append(
            FieldError.invalid(
                rb_path, renew_before, f"certificate renewBefore must be greater than {minimum}"
            )
        )
    if renew_before is not None and renew_before >= duration:
        errors.append(
            FieldError.invalid(
                rb_path,
                renew_before,
                f"certificate duration {_go_duration(duration)} must be greater than "
                f"renewBefore {_go_duration(renew_before)}",
            )
        )
    if percentage is not None:
        # The complement of the runtime formula, as upstream computes it (SPEC §10 quirk 5).
        implied = int(float(duration) * float(100 - percentage) / 100)
        if implied < MINIMUM_RENEW_BEFORE_NS:
            minimum = _go_duration(MINIMUM_RENEW_BEFORE_NS)
            errors.append(
                FieldError.invalid(
                    pct_path,
                    percentage,
                    f"certificate renewBeforePercentage must result in a renewBefore greater "
                    f"than {minimum}",
                )
            )
        if implied >= duration:
            errors.append(
                FieldError.invalid(
                    pct_path,
                    percentage,
                    "certificate renewBeforePercentage must result in a renewBefore less than "
                    "duration",
                )
            )
    return errors


# --------------------------------------------------------------------------------------------
# Secret, constraints, outputs, renewal


def _secret_template(spec: CertificateSpec, path: Path) -> list[FieldError]:
    template = spec.secret_template
    if template is None:
        return []
    errors: list[FieldError] = []
    if template.labels:
        errors += validate_labels(template.labels, path.child("labels"))
    if template.annotations:
        annotations_path = path.child("annotations")
        errors += [
            FieldError.invalid(
                str(annotations_path), key, "cert-manager.io/* annotations are not allowed"
            )
            for key in sorted(template.annotations)
            if key.startswith("cert-manager.io/") and key != _DIRECT_INJECTION
        ]
        errors += validate_annotations(template.annotations, annotations_path)
    return errors


def _item_as_go(item: NameConstraintItem | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {
        "DNSDomains": item.dns_domains,
        "IPRanges": item.ip_ranges,
        "EmailAddresses": item.email_addresses,
        "URIDomains": item.uri_domains,
    }


def _constraints_as_go(constraints: NameConstraints) -> GoJSON:
    return GoJSON(
        {
            "Critical": bool(constraints.critical),
            "Permitted": _item_as_go(constraints.permitted),
            "Excluded": _item_as_go(constraints.excluded),
        }
    )


def _name_constraints(
    spec: CertificateSpec, constraints: NameConstraints, path: Path
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not spec.is_ca:
        errors.append(
            FieldError.invalid(
                str(path),
                _constraints_as_go(constraints),
                "isCA should be true when nameConstraints is set",
            )
        )
    if constraints.permitted is None and constraints.excluded is None:
        errors.append(
            FieldError.invalid(
                str(path),
                _constraints_as_go(constraints),
                "either permitted or excluded must be set",
            )
        )
    for name, item in (("permitted", constraints.permitted), ("excluded", constraints.excluded)):
        if item is None:
            continue
        for i, cidr in enumerate(item.ip_ranges or ()):
            if not _is_go_cidr(cidr):
                errors.append(
                    FieldError.invalid(
                        str(path.child(name, "ipRanges").index(i)), cidr, "invalid CIDR address"
                    )
                )
    return errors


def _is_go_cidr(value: str) -> bool:
    address, slash, prefix = value.partition("/")
    if not slash or not prefix.isdigit() or not _is_go_ip(address):
        return False
    return int(prefix) <= ipaddress.ip_address(address).max_prefixlen


def _additional_output_formats(spec: CertificateSpec, path: Path) -> list[FieldError]:
    seen: set[str] = set()
    errors: list[FieldError] = []
    for output in spec.additional_output_formats or ():
        if output.type in seen:
            errors.append(FieldError.duplicate(str(path.key("type")), output.type))
            continue
        seen.add(output.type)
    return errors


def _keystores(spec: CertificateSpec, path: Path) -> list[FieldError]:
    keystores = spec.keystores
    if keystores is None:
        return []
    errors: list[FieldError] = []
    for field, label, store in (
        ("jks", "JKS", keystores.jks),
        ("pkcs12", "PKCS#12", keystores.pkcs12),
    ):
        if store is None:
            continue
        has_ref = bool(store.password_secret_ref and store.password_secret_ref.name)
        has_literal = store.password is not None
        if has_literal and has_ref:
            errors.append(
                FieldError.forbidden(str(path.child(field)), _KEYSTORE_BOTH.format(label))
            )
        if not has_literal and not has_ref:
            errors.append(
                FieldError.forbidden(str(path.child(field)), _KEYSTORE_NEITHER.format(label))
            )
        if store.password is not None and not store.password:
            errors.append(
                FieldError.forbidden(
                    str(path.child(field, "password")), _KEYSTORE_EMPTY_LITERAL.format(label)
                )
            )
    return errors


def _renewal(spec: CertificateSpec, path: Path) -> list[FieldError]:
    renewal = spec.renewal
    if renewal is None:
        return []
    errors: list[FieldError] = []
    policy = renewal.policy or ""
    if policy == "Disabled":
        if renewal.windows:
            errors.append(
                FieldError.forbidden(
                    str(path.child("windows")),
                    "windows cannot be set when `renewal.policy` is set to Disabled",
                )
            )
        return errors
    if policy != "RenewBefore":
        errors.append(
            FieldError.not_supported(str(path.child("policy")), policy, ["Disabled", "RenewBefore"])
        )
    for i, window in enumerate(renewal.windows or ()):
        item = path.child("windows").index(i)
        if not window.window_duration:
            errors.append(
                FieldError.required(
                    str(item.child("windowDuration")),
                    "windowDuration must be specified and should be greater than 0",
                )
            )
        timezone = window.timezone or ""
        if not timezone_is_valid(timezone):
            errors.append(
                FieldError.invalid(
                    str(item.child("timezone")),
                    timezone,
                    "invalid value for timezone. timezone must be IANA compliant",
                )
            )
        problem = cron_error(window.cron, timezone)
        if problem is not None:
            errors.append(
                FieldError.invalid(
                    str(item.child("cron")),
                    window.cron,
                    f"invalid cron syntax: {problem}. {_CRON_SHAPE}",
                )
            )
    return errors
