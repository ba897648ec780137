"""Key usage strings: which X.509 KeyUsage bits and ExtendedKeyUsage OIDs a ``usages`` list means.

Decides the mapping of the 23 cert-manager usage strings (SPEC §4.4) onto X.509 and back:

* ten strings set KeyUsage bits, which are OR-ed together (``signing`` and ``digital signature``
  are the same bit, so asking twice is harmless);
* thirteen strings name EKU OIDs, which are kept in list order **with duplicates**, because
  cert-manager compares EKU lists by order and a port that de-duplicated would reject CSRs that
  cert-manager accepts (and the other way round);
* an empty list means the defaults ``digital signature``, ``key encipherment`` and ``is_ca`` adds
  ``cert sign``, as in cert-manager's ``KeyUsagesForCertificateOrCertificateRequest``.

The reverse mapping (bits and OIDs back to strings) exists for error messages; it prefers
``digital signature`` over ``signing`` and ``email protection`` over ``s/mime``, and prints OIDs no
usage string names as dotted strings. ``format_usage_list`` renders such a list exactly as
cert-manager's admission messages do (``[ 'a', 'b' ]``, or ``[]`` when empty).

One place where Python's ``cryptography`` is stricter than Go: ``x509.KeyUsage`` refuses
``encipher_only``/``decipher_only`` unless ``key_agreement`` is set (RFC 5280 gives those bits no
meaning otherwise). Go just sets the bits. We raise ``UsageCombinationError`` when such a
``KeyUsages`` is turned into an extension, rather than crash inside cryptography or silently
drop a bit the user asked for. ``compute_usages`` itself still succeeds, so validation code can
report the combination with a clear message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from certsmith.api.errors import CertsmithError

__all__ = [
    "DEFAULT_USAGES",
    "EXT_KEY_USAGES",
    "KEY_USAGE_BITS",
    "KNOWN_USAGES",
    "KeyUsages",
    "UnknownUsageError",
    "UsageCombinationError",
    "compute_usages",
    "ext_key_usage_names",
    "format_usage_list",
    "key_usage_names",
]

MICROSOFT_SGC: Final = ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")
"""Microsoft Server Gated Crypto, which cryptography has no constant for."""

NETSCAPE_SGC: Final = ObjectIdentifier("2.16.840.1.113730.4.1")
"""Netscape Server Gated Crypto, which cryptography has no constant for."""

KEY_USAGE_BITS: Final[dict[str, str]] = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
"""Usage string -> name of the ``x509.KeyUsage`` constructor argument it sets."""

EXT_KEY_USAGES: Final[dict[str, ObjectIdentifier]] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": MICROSOFT_SGC,
    "netscape sgc": NETSCAPE_SGC,
}
"""Usage string -> ExtendedKeyUsage OID."""

KNOWN_USAGES: Final[tuple[str, ...]] = (*KEY_USAGE_BITS, *EXT_KEY_USAGES)
"""All 23 usage strings cert-manager accepts, KeyUsage strings first."""

DEFAULT_USAGES: Final[tuple[str, ...]] = ("digital signature", "key encipherment")
"""What an empty ``usages`` list means (no ``server auth``, by cert-manager's design)."""

# KeyUsage argument names in X.509 bit order (digitalSignature is bit 0), which is also the order
# cert-manager prints them in. Each maps to its preferred usage string for messages.
_BIT_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("digital_signature", "digital signature"),
    ("content_commitment", "content commitment"),
    ("key_encipherment", "key encipherment"),
    ("data_encipherment", "data encipherment"),
    ("key_agreement", "key agreement"),
    ("key_cert_sign", "cert sign"),
    ("crl_sign", "crl sign"),
    ("encipher_only", "encipher only"),
    ("decipher_only", "decipher only"),
)

# First string wins, so ``email protection`` is preferred over ``s/mime``.
_OID_NAMES: Final[dict[ObjectIdentifier, str]] = {
    oid: usage for usage, oid in reversed(EXT_KEY_USAGES.items())
}


class UnknownUsageError(CertsmithError, ValueError):
    """A ``usages`` list contains strings that are not cert-manager usages.

    Attributes:
        unknown: The unknown strings, in the order given.
    """

    def __init__(self, unknown: Sequence[str]) -> None:
        self.unknown: list[str] = list(unknown)
        # Go's %v rendering of a string slice, as in cert-manager's "unknown key usages: [...]".
        super().__init__(f"unknown key usages: [{' '.join(self.unknown)}]")


class UsageCombinationError(CertsmithError, ValueError):
    """KeyUsage bits that cannot be encoded together (``encipher only``/``decipher only``).

    ``cryptography`` (following RFC 5280) only allows those bits together with ``key agreement``.
    """


@dataclass(frozen=True)
class KeyUsages:
    """The X.509 meaning of a ``usages`` list.

    Attributes:
        bits: Names of the ``x509.KeyUsage`` constructor arguments that are set
            (``digital_signature``, ``key_cert_sign``, ...).
        ext: ExtendedKeyUsage OIDs in the order asked for, duplicates kept.
    """

    bits: frozenset[str]
    ext: tuple[ObjectIdentifier, ...]

    def to_key_usage(self) -> x509.KeyUsage:
        """Build the KeyUsage extension value (all bits False when ``bits`` is empty).

        Returns:
            The ``x509.KeyUsage`` with exactly ``bits`` set.

        Raises:
            UsageCombinationError: ``encipher only`` or ``decipher only`` without ``key agreement``.
        """
        if "key_agreement" not in self.bits:
            bad = sorted(self.bits & {"encipher_only", "decipher_only"})
            if bad:
                names = " and ".join(f"'{n.replace('_', ' ')}'" for n in bad)
                raise UsageCombinationError(
                    f"key usage {names} requires 'key agreement' to be requested too"
                )
        flags = {arg: arg in self.bits for arg, _ in _BIT_NAMES}
        return x509.KeyUsage(**flags)

    def to_extended_key_usage(self) -> x509.ExtendedKeyUsage | None:
        """Build the ExtendedKeyUsage extension value.

        Returns:
            The extension value with ``ext`` in order, or None when ``ext`` is empty (cert-manager
            then omits the extension).
        """
        if not self.ext:
            return None
        return x509.ExtendedKeyUsage(list(self.ext))


def compute_usages(usages: Sequence[str], *, is_ca: bool) -> KeyUsages:
    """Map a ``usages`` list to KeyUsage bits and EKU OIDs.

    Args:
        usages: cert-manager usage strings; empty means ``DEFAULT_USAGES``.
        is_ca: Whether the certificate is a CA, which adds ``cert sign``.

    Returns:
        The bits and the ordered EKU list.

    Raises:
        UnknownUsageError: Some strings are not usages; all of them are listed.
    """
    unknown = [u for u in usages if u not in KEY_USAGE_BITS and u not in EXT_KEY_USAGES]
    if unknown:
        raise UnknownUsageError(unknown)
    effective = usages or DEFAULT_USAGES
    bits = {KEY_USAGE_BITS[u] for u in effective if u in KEY_USAGE_BITS}
    if is_ca:
        bits.add("key_cert_sign")
    ext = tuple(EXT_KEY_USAGES[u] for u in effective if u in EXT_KEY_USAGES)
    return KeyUsages(bits=frozenset(bits), ext=ext)


def key_usage_names(ku: x509.KeyUsage) -> list[str]:
    """Name the bits of a KeyUsage value, for messages.

    Args:
        ku: A KeyUsage extension value.

    Returns:
        Usage strings in X.509 bit order (``digital signature`` rather than ``signing``).
    """
    names: list[str] = []
    for arg, name in _BIT_NAMES:
        # cryptography raises when encipher_only/decipher_only are read without key_agreement.
        if arg in ("encipher_only", "decipher_only") and not ku.key_agreement:
            continue
        if getattr(ku, arg):
            names.append(name)
    return names


def ext_key_usage_names(oids: Iterable[ObjectIdentifier]) -> list[str]:
    """Name EKU OIDs, for messages.

    Args:
        oids: EKU OIDs (an ``x509.ExtendedKeyUsage`` works too), in order.

    Returns:
        Usage strings in the same order (``email protection`` rather than ``s/mime``); OIDs no
        usage string names are given as their dotted string.
    """
    return [_OID_NAMES.get(oid, oid.dotted_string) for oid in oids]


def format_usage_list(names: Sequence[str]) -> str:
    """Render usage names as cert-manager's admission messages do.

    Args:
        names: Usage strings.

    Returns:
        ``[ 'a', 'b' ]``, or ``[]`` for an empty list.
    """
    if not names:
        return "[]"
    return "[ " + ", ".join(f"'{n}'" for n in names) + " ]"
