"""What the shims read from an Ingress's or Gateway's annotations (SPEC §7).

What this module decides:

* Activation (:func:`has_shim_annotation`): ``cert-manager.io/issuer`` or
  ``cert-manager.io/cluster-issuer`` present (any value), or, for Ingresses only, an auto
  annotation (``kubernetes.io/tls-acme`` by default) whose value Go's ``strconv.ParseBool``
  reads as true.
* The issuer (:func:`resolve_issuer`): the configured defaults, then ``issuer`` (kind
  ``Issuer``) or ``cluster-issuer`` (kind ``ClusterIssuer``), then ``issuer-kind`` and
  ``issuer-group``. Every inconsistency is collected and reported in one message, joined by
  ``", "``, with cert-manager's words, because users search for them.
* :func:`translate_annotations` applies the ``cert-manager.io/*`` spec annotations in
  cert-manager's order and stops at the first invalid value with cert-manager's message
  (``invalid ingress annotation "<key>": …``); the shim then fails the sync and retries, as
  cert-manager does. Go's texts for its parsers (durations, integers) are reproduced; the CSV,
  e-mail and JSON parsers are Python's, so those error details differ in wording only.
* :func:`issuer_specific_annotations` copies the ACME HTTP-01 hints onto the Certificate so they
  travel Certificate → CertificateRequest → Order to the solver picker.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import io
import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, get_args

from certsmith.api.certmanager import (
    CertificatePrivateKey,
    CertificateSecretTemplate,
    CertificateSpec,
    KeyUsage,
    X509Subject,
)
from certsmith.api.duration import format_go_duration, parse_go_duration
from certsmith.api.errors import CertsmithError, go_quote
from certsmith.controllers.acme.solvers import (
    OVERRIDE_INGRESS_CLASS,
    OVERRIDE_INGRESS_CLASS_NAME,
    OVERRIDE_INGRESS_NAME,
    PARENT_REF_KIND,
    PARENT_REF_NAME,
)

ISSUER: Final = "cert-manager.io/issuer"
CLUSTER_ISSUER: Final = "cert-manager.io/cluster-issuer"
ISSUER_KIND: Final = "cert-manager.io/issuer-kind"
ISSUER_GROUP: Final = "cert-manager.io/issuer-group"
COMMON_NAME: Final = "cert-manager.io/common-name"
ALT_NAMES: Final = "cert-manager.io/alt-names"
IP_SANS: Final = "cert-manager.io/ip-sans"
EMAIL_SANS: Final = "cert-manager.io/email-sans"
SUBJECT_ORGANIZATIONS: Final = "cert-manager.io/subject-organizations"
SUBJECT_ORGANIZATIONAL_UNITS: Final = "cert-manager.io/subject-organizationalunits"
SUBJECT_COUNTRIES: Final = "cert-manager.io/subject-countries"
SUBJECT_PROVINCES: Final = "cert-manager.io/subject-provinces"
SUBJECT_LOCALITIES: Final = "cert-manager.io/subject-localities"
SUBJECT_POSTAL_CODES: Final = "cert-manager.io/subject-postalcodes"
SUBJECT_STREET_ADDRESSES: Final = "cert-manager.io/subject-streetaddresses"
SUBJECT_SERIAL_NUMBER: Final = "cert-manager.io/subject-serialnumber"
DURATION: Final = "cert-manager.io/duration"
RENEW_BEFORE: Final = "cert-manager.io/renew-before"
RENEW_BEFORE_PERCENTAGE: Final = "cert-manager.io/renew-before-percentage"
USAGES: Final = "cert-manager.io/usages"
REVISION_HISTORY_LIMIT: Final = "cert-manager.io/revision-history-limit"
PRIVATE_KEY_ALGORITHM: Final = "cert-manager.io/private-key-algorithm"
PRIVATE_KEY_ENCODING: Final = "cert-manager.io/private-key-encoding"
PRIVATE_KEY_SIZE: Final = "cert-manager.io/private-key-size"
PRIVATE_KEY_ROTATION_POLICY: Final = "cert-manager.io/private-key-rotation-policy"
SECRET_TEMPLATE: Final = "cert-manager.io/secret-template"  # noqa: S105 - an annotation key
IGNORE_TLS_LISTENERS: Final = "cert-manager.io/ignore-tls-listeners"
ISSUE_TEMPORARY_CERTIFICATE: Final = "cert-manager.io/issue-temporary-certificate"
EDIT_IN_PLACE: Final = "acme.cert-manager.io/http01-edit-in-place"
HTTP01_INGRESS_CLASS: Final = "acme.cert-manager.io/http01-ingress-class"
HTTP01_INGRESS_CLASS_NAME: Final = "acme.cert-manager.io/http01-ingress-ingressclassname"

DEFAULT_AUTO_ANNOTATIONS: Final = ("kubernetes.io/tls-acme",)
DEFAULT_ISSUER_KIND: Final = "Issuer"
DEFAULT_ISSUER_GROUP: Final = "cert-manager.io"
#: The usages of a shim's Certificate unless ``cert-manager.io/usages`` says otherwise.
DEFAULT_USAGES: Final[tuple[KeyUsage, ...]] = ("digital signature", "key encipherment")

MINIMUM_DURATION: Final = dt.timedelta(hours=1)
MINIMUM_RENEW_BEFORE: Final = dt.timedelta(minutes=5)
_RSA_MIN, _RSA_MAX = 2048, 8192
_ECDSA_SIZES: Final = (256, 384, 521)
_KEY_USAGES: Final = frozenset(get_args(KeyUsage))
_GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_INT32: Final = (-(2**31), 2**31 - 1)


class IssuerAnnotationError(CertsmithError):
    """The issuer annotations are inconsistent; nothing is created (Warning ``BadConfig``)."""


class InvalidAnnotationError(CertsmithError):
    """A spec annotation has an invalid value; the sync fails and is retried."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"invalid ingress annotation {go_quote(key)}: {detail}")


def go_parse_bool_true(value: str) -> bool:
    """Whether Go's ``strconv.ParseBool`` reads ``value`` as true."""
    return value in _GO_TRUE


def has_shim_annotation(annotations: Mapping[str, str], auto: Sequence[str]) -> bool:
    """Whether the object asks for Certificates (see the module docstring)."""
    if ISSUER in annotations or CLUSTER_ISSUER in annotations:
        return True
    return any(go_parse_bool_true(annotations.get(key, "")) for key in auto)


@dataclass(frozen=True)
class IssuerDefaults:
    """``--default-issuer-name``, ``--default-issuer-kind``, ``--default-issuer-group``."""

    name: str = ""
    kind: str = DEFAULT_ISSUER_KIND
    group: str = DEFAULT_ISSUER_GROUP


@dataclass(frozen=True)
class IssuerChoice:
    """The issuerRef a shim's Certificates get."""

    name: str
    kind: str
    group: str


def resolve_issuer(defaults: IssuerDefaults, annotations: Mapping[str, str]) -> IssuerChoice:
    """The issuer the annotations (and the defaults) name.

    Raises:
        IssuerAnnotationError: no name, or contradicting annotations (all problems listed).
    """
    name, kind, group = defaults.name, defaults.kind, defaults.group
    if ISSUER in annotations:
        name, kind = annotations[ISSUER], "Issuer"
    if CLUSTER_ISSUER in annotations:
        name, kind = annotations[CLUSTER_ISSUER], "ClusterIssuer"
    if ISSUER_KIND in annotations:
        kind = annotations[ISSUER_KIND]
    if ISSUER_GROUP in annotations:
        group = annotations[ISSUER_GROUP]
    problems: list[str] = []
    if not name:
        problems.append("failed to determine issuer name to be used for ingress resource")
    for first, second in ((ISSUER, CLUSTER_ISSUER), (CLUSTER_ISSUER, ISSUER_GROUP)):
        if first in annotations and second in annotations:
            problems.append(f"both {go_quote(first)} and {go_quote(second)} may not be set")
    if CLUSTER_ISSUER in annotations and ISSUER_KIND in annotations:
        problems.append(
            f"both {go_quote(CLUSTER_ISSUER)} and {go_quote(ISSUER_KIND)} may not be set"
        )
    if problems:
        raise IssuerAnnotationError(", ".join(problems))
    return IssuerChoice(name, kind, group)


def issuer_specific_annotations(
    annotations: Mapping[str, str], *, name: str, gateway_parent: bool
) -> dict[str, str]:
    """The ACME HTTP-01 annotations the Certificate of object ``name`` carries (SPEC §7)."""
    out: dict[str, str] = {}
    if annotations.get(EDIT_IN_PLACE) == "true":
        out[OVERRIDE_INGRESS_NAME] = name
        # A temporary certificate first, so GCE-style ingress controllers have a Secret to load.
        out[ISSUE_TEMPORARY_CERTIFICATE] = "true"
    if annotations.get(HTTP01_INGRESS_CLASS):
        out[OVERRIDE_INGRESS_CLASS] = annotations[HTTP01_INGRESS_CLASS]
    if annotations.get(HTTP01_INGRESS_CLASS_NAME):
        out[OVERRIDE_INGRESS_CLASS_NAME] = annotations[HTTP01_INGRESS_CLASS_NAME]
    if gateway_parent:
        out[PARENT_REF_KIND] = "Gateway"
        out[PARENT_REF_NAME] = name
    return out


# --- translateAnnotations ----------------------------------------------------------------


def _go_parse_int(value: str, func: str = "strconv.ParseInt") -> int:
    """Go's ``strconv.ParseInt(value, 10, 32)`` (or ``Atoi``), with Go's error text."""
    body = value[1:] if value[:1] in "+-" else value
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"{func}: parsing {go_quote(value)}: invalid syntax")
    number = int(value)
    low, high = _INT32 if func == "strconv.ParseInt" else (-(2**63), 2**63 - 1)
    if not low <= number <= high:
        raise ValueError(f"{func}: parsing {go_quote(value)}: value out of range")
    return number


def split_csv(value: str) -> list[str]:
    """cert-manager's ``SplitWithEscapeCSV``: exactly one CSV record.

    Raises:
        ValueError: not CSV, no values, or several lines.
    """
    try:
        rows = [row for row in csv.reader(io.StringIO(value), strict=True) if row]
    except csv.Error as exc:
        raise ValueError(f"failed to parse {go_quote(value)} as CSV: {exc}") from exc
    if not rows:
        raise ValueError(f"no values found after parsing {go_quote(value)}")
    if len(rows) > 1:
        raise ValueError(
            f"refusing to use {go_quote(value)} as input as it parses as multiple lines of CSV"
        )
    return rows[0]


def is_ip(value: str) -> bool:
    """Whether Go's ``net.ParseIP`` accepts ``value`` (no zones, no prefixes)."""
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _email_problem(value: str) -> str | None:
    _, address = email.utils.parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not address or not at or not local or not domain:
        return f"{go_quote(value)} is not a valid email address"
    if address != value:
        return f"{go_quote(value)} must only contain the email address itself"
    return None


_SUBJECT_LISTS: Final[tuple[tuple[str, str, str], ...]] = (
    (SUBJECT_ORGANIZATIONS, "organizations", SUBJECT_ORGANIZATIONS),
    # cert-manager names the organizations key in this one's errors; kept, users search for it.
    (SUBJECT_ORGANIZATIONAL_UNITS, "organizational_units", SUBJECT_ORGANIZATIONS),
    (SUBJECT_COUNTRIES, "countries", SUBJECT_COUNTRIES),
    (SUBJECT_PROVINCES, "provinces", SUBJECT_PROVINCES),
    (SUBJECT_LOCALITIES, "localities", SUBJECT_LOCALITIES),
    (SUBJECT_POSTAL_CODES, "postal_codes", SUBJECT_POSTAL_CODES),
    (SUBJECT_STREET_ADDRESSES, "street_addresses", SUBJECT_STREET_ADDRESSES),
)


def _names(spec: CertificateSpec, ann: Mapping[str, str]) -> None:
    if COMMON_NAME in ann:
        if len(ann[COMMON_NAME].encode()) > 64:
            raise InvalidAnnotationError(COMMON_NAME, "common name may not be more than 64 bytes")
        spec.common_name = ann[COMMON_NAME]
    if ann.get(ALT_NAMES):
        # Appended as written (cert-manager does not trim them); duplicates go later.
        spec.dns_names = [*(spec.dns_names or []), *ann[ALT_NAMES].split(",")]
    if ann.get(IP_SANS):
        ips = [part.strip() for part in ann[IP_SANS].split(",")]
        for ip in ips:
            if not is_ip(ip):
                raise InvalidAnnotationError(IP_SANS, f"{go_quote(ip)} is not a valid IP address")
        spec.ip_addresses = [*(spec.ip_addresses or []), *ips]
    if ann.get(EMAIL_SANS):
        emails = [part.strip() for part in ann[EMAIL_SANS].split(",")]
        for address in emails:
            problem = _email_problem(address)
            if problem:
                raise InvalidAnnotationError(EMAIL_SANS, problem)
        spec.email_addresses = emails


def _subject(spec: CertificateSpec, ann: Mapping[str, str]) -> None:
    subject = X509Subject()
    for key, attr, reported in _SUBJECT_LISTS:
        if key in ann:
            try:
                setattr(subject, attr, split_csv(ann[key]))
            except ValueError as exc:
                raise InvalidAnnotationError(reported, str(exc)) from None
    if SUBJECT_SERIAL_NUMBER in ann:
        subject.serial_number = ann[SUBJECT_SERIAL_NUMBER]
    if subject != X509Subject():
        spec.subject = subject


def _duration(ann: Mapping[str, str], key: str, minimum: dt.timedelta, field: str) -> str | None:
    if key not in ann:
        return None
    try:
        value = parse_go_duration(ann[key])
    except ValueError as exc:
        raise InvalidAnnotationError(key, str(exc)) from None
    if value < minimum:
        raise InvalidAnnotationError(
            key, f"{field} must be greater than or equal to {format_go_duration(minimum)}"
        )
    # metav1.Duration prints Go's Duration.String(): "2160h" becomes "2160h0m0s".
    return format_go_duration(value)


def _lifetime(spec: CertificateSpec, ann: Mapping[str, str]) -> None:
    spec.duration = _duration(ann, DURATION, MINIMUM_DURATION, "duration") or spec.duration
    spec.renew_before = (
        _duration(ann, RENEW_BEFORE, MINIMUM_RENEW_BEFORE, "renewBefore") or spec.renew_before
    )
    if RENEW_BEFORE_PERCENTAGE in ann:
        try:
            spec.renew_before_percentage = _go_parse_int(ann[RENEW_BEFORE_PERCENTAGE])
        except ValueError as exc:
            raise InvalidAnnotationError(RENEW_BEFORE_PERCENTAGE, str(exc)) from None
    if USAGES in ann:
        usages: list[KeyUsage] = []
        for raw in ann[USAGES].split(","):
            usage = raw.strip(" ")
            if usage not in _KEY_USAGES:
                raise InvalidAnnotationError(USAGES, f"invalid key usage name {go_quote(raw)}")
            usages.append(usage)  # type: ignore[arg-type] # checked against KeyUsage above
        spec.usages = usages
    if REVISION_HISTORY_LIMIT in ann:
        raw = ann[REVISION_HISTORY_LIMIT]
        try:
            limit = _go_parse_int(raw)
        except ValueError as exc:
            raise InvalidAnnotationError(REVISION_HISTORY_LIMIT, str(exc)) from None
        if limit < 1:
            raise InvalidAnnotationError(
                REVISION_HISTORY_LIMIT,
                f"revision history limit must be a positive number {go_quote(raw)}",
            )
        spec.revision_history_limit = limit


def _private_key(spec: CertificateSpec, ann: Mapping[str, str]) -> None:
    def key() -> CertificatePrivateKey:
        if spec.private_key is None:
            spec.private_key = CertificatePrivateKey()
        return spec.private_key

    def set_algorithm(value: str) -> None:
        key().algorithm = value  # type: ignore[assignment] # checked by _choose

    def set_encoding(value: str) -> None:
        key().encoding = value  # type: ignore[assignment] # checked by _choose

    def set_rotation(value: str) -> None:
        key().rotation_policy = value  # type: ignore[assignment] # checked by _choose

    _choose(ann, PRIVATE_KEY_ALGORITHM, ("RSA", "ECDSA", "Ed25519"), "algorithm", set_algorithm)
    _choose(ann, PRIVATE_KEY_ENCODING, ("PKCS1", "PKCS8"), "encoding", set_encoding)
    if PRIVATE_KEY_SIZE in ann:
        raw = ann[PRIVATE_KEY_SIZE]
        try:
            size = _go_parse_int(raw, "strconv.Atoi")
        except ValueError as exc:
            raise InvalidAnnotationError(PRIVATE_KEY_SIZE, str(exc)) from None
        algorithm = (spec.private_key.algorithm if spec.private_key else None) or "RSA"
        if algorithm == "RSA" and not _RSA_MIN <= size <= _RSA_MAX:
            raise InvalidAnnotationError(
                PRIVATE_KEY_SIZE, f"invalid private key size for RSA algorithm {go_quote(raw)}"
            )
        if algorithm == "ECDSA" and size not in _ECDSA_SIZES:
            raise InvalidAnnotationError(
                PRIVATE_KEY_SIZE, f"invalid private key size for ECDSA algorithm {go_quote(raw)}"
            )
        key().size = size
    _choose(ann, PRIVATE_KEY_ROTATION_POLICY, ("Never", "Always"), "rotation policy", set_rotation)


def _choose(
    ann: Mapping[str, str],
    annotation: str,
    allowed: tuple[str, ...],
    word: str,
    assign: Callable[[str], None],
) -> None:
    if annotation not in ann:
        return
    value = ann[annotation]
    if value not in allowed:
        raise InvalidAnnotationError(annotation, f"invalid private key {word} {go_quote(value)}")
    assign(value)


def _secret_template(spec: CertificateSpec, ann: Mapping[str, str]) -> None:
    if SECRET_TEMPLATE not in ann:
        return

    def fail(detail: str) -> InvalidAnnotationError:
        return InvalidAnnotationError(
            SECRET_TEMPLATE, f"error parsing secret template JSON: {detail}"
        )

    try:
        data = json.loads(ann[SECRET_TEMPLATE])
    except json.JSONDecodeError as exc:
        raise fail(str(exc)) from None
    if not isinstance(data, dict):
        raise fail(f"cannot unmarshal {type(data).__name__} into CertificateSecretTemplate")
    for name in data:
        if name not in ("annotations", "labels"):
            raise fail(f"json: unknown field {go_quote(name)}")
    maps: dict[str, dict[str, str]] = {}
    for name in ("annotations", "labels"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise fail(f"json: cannot unmarshal {name} into map[string]string")
        maps[name] = value
    for key in maps.get("annotations", {}):
        if key.startswith("cert-manager.io/"):
            raise InvalidAnnotationError(
                SECRET_TEMPLATE,
                f"secretTemplate must not have cert-manager.io/ annotations: {go_quote(key)}",
            )
    if maps.get("annotations") or maps.get("labels"):
        spec.secret_template = CertificateSecretTemplate(
            annotations=maps.get("annotations"), labels=maps.get("labels")
        )


def translate_annotations(spec: CertificateSpec, annotations: Mapping[str, str]) -> None:
    """Apply the ``cert-manager.io/*`` spec annotations to ``spec`` in place.

    Raises:
        InvalidAnnotationError: the first invalid value, in cert-manager's order.
    """
    _names(spec, annotations)
    _subject(spec, annotations)
    _lifetime(spec, annotations)
    _private_key(spec, annotations)
    _secret_template(spec, annotations)
