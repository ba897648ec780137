"""Deterministic Order and Challenge names, as cert-manager computes them (SPEC §6.3, §6.4).

A name is ``<prefix shortened to 52 DNS-safe characters>-<FNV-1 32-bit hash, decimal>`` where
the hash runs over Go's ``encoding/json`` form of the spec. Matching Go byte for byte matters:
the same CertificateRequest must give the same Order name in certsmith and cert-manager (an
Order created by one is found by the other, and quirk 23 of SPEC §10 depends on it). Go writes
struct fields in declaration order, applies ``omitempty`` to empty strings, slices, maps, nil
pointers and ``false`` but never to structs, sorts map keys, and escapes ``<``, ``>``, ``&``,
U+2028 and U+2029. The field tables below are cert-manager's struct declarations.

Kubernetes types cert-manager only copies through (affinity, tolerations, Gateway
``parentRefs``, a webhook's ``config``) are opaque here and written with sorted keys; a solver
using them may hash differently from cert-manager's, which only matters when both run against
the same objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from certsmith.api.duration import format_go_duration, parse_go_duration

FNV32_OFFSET: Final = 0x811C9DC5
FNV32_PRIME: Final = 0x01000193
MAX_PREFIX: Final = 52


def fnv1_32(data: bytes) -> int:
    """FNV-1 (multiply, then xor) over ``data``: Go's ``hash/fnv.New32``."""
    value = FNV32_OFFSET
    for byte in data:
        value = (value * FNV32_PRIME) & 0xFFFFFFFF
        value ^= byte
    return value


_ALNUM = re.compile(r"[a-zA-Z0-9]")


def dns_safe_shorten(prefix: str, limit: int = MAX_PREFIX) -> str:
    """Cut ``prefix`` to ``limit`` characters, then back to its last letter or digit.

    Shorter prefixes are returned unchanged, as cert-manager does (only a name of ``limit`` or
    more characters is trimmed).
    """
    if len(prefix) < limit:
        return prefix
    cut = prefix[:limit]
    last = None
    for match in _ALNUM.finditer(cut):
        last = match.end()
    return cut[:last] if last is not None else cut


def compute_name(prefix: str, go_json: bytes) -> str:
    """``<dns_safe_shorten(prefix)>-<fnv1_32(go_json)>``."""
    return f"{dns_safe_shorten(prefix)}-{fnv1_32(go_json)}"


# -- Go's encoding/json over cert-manager's struct declarations ----------------------------------


@dataclass(frozen=True)
class F:
    """One struct field: wire name, how it is encoded, and whether it is ``omitempty``.

    ``kind`` is ``str``, ``bool``, ``strs`` (``[]string``), ``map`` (``map[string]string``),
    ``ptr`` (pointer to ``sub``), ``struct`` (``sub`` by value), ``opaque`` (pass-through JSON),
    ``bytes`` (``[]byte``, already base64 on our side), or ``optstr`` (``*string``).
    """

    name: str
    kind: str
    omitempty: bool = True
    sub: str | None = None


_REF = [F("name", "str", False), F("key", "str")]
_DURATION = "duration"

STRUCTS: Final[dict[str, list[F]]] = {
    "IssuerReference": [F("name", "str", False), F("kind", "str"), F("group", "str")],
    "SecretKeySelector": _REF,
    "OrderSpec": [
        F("request", "bytes", False),
        F("issuerRef", "struct", False, "IssuerReference"),
        F("commonName", "str"),
        F("dnsNames", "strs"),
        F("ipAddresses", "strs"),
        F("duration", _DURATION),
        F("profile", "str"),
        F("replaces", "str"),
    ],
    "ChallengeSpec": [
        F("url", "str", False),
        F("authorizationURL", "str", False),
        F("dnsName", "str", False),
        F("wildcard", "bool", False),
        F("type", "str", False),
        F("token", "str", False),
        F("key", "str", False),
        F("solver", "struct", False, "Solver"),
        F("issuerRef", "struct", False, "IssuerReference"),
    ],
    "Solver": [
        F("selector", "ptr", sub="Selector"),
        F("http01", "ptr", sub="HTTP01"),
        F("dns01", "ptr", sub="DNS01"),
        F("waitInsteadOfSelfCheck", _DURATION),
    ],
    "Selector": [F("matchLabels", "map"), F("dnsNames", "strs"), F("dnsZones", "strs")],
    "HTTP01": [
        F("ingress", "ptr", sub="Ingress"),
        F("gatewayHTTPRoute", "ptr", sub="GatewayHTTPRoute"),
    ],
    "Ingress": [
        F("serviceType", "str"),
        F("ingressClassName", "optstr"),
        F("class", "optstr"),
        F("name", "str"),
        F("podTemplate", "ptr", sub="PodTemplate"),
        F("ingressTemplate", "ptr", sub="IngressTemplate"),
    ],
    "GatewayHTTPRoute": [
        F("serviceType", "str"),
        F("labels", "map"),
        F("parentRefs", "opaque"),
        F("podTemplate", "ptr", sub="PodTemplate"),
    ],
    "PodTemplate": [
        F("metadata", "struct", False, "ObjectMeta"),
        F("spec", "struct", False, "PodSpec"),
    ],
    "ObjectMeta": [F("annotations", "map"), F("labels", "map")],
    "PodSpec": [
        F("nodeSelector", "map"),
        F("affinity", "opaque"),
        F("tolerations", "opaque"),
        F("priorityClassName", "str"),
        F("serviceAccountName", "str"),
        F("imagePullSecrets", "opaque"),
        F("securityContext", "opaque"),
        F("resources", "opaque"),
    ],
    "IngressTemplate": [F("metadata", "struct", False, "ObjectMeta")],
    "DNS01": [
        F("cnameStrategy", "str"),
        F("nameservers", "strs"),
        F("akamai", "ptr", sub="Akamai"),
        F("cloudDNS", "ptr", sub="CloudDNS"),
        F("cloudflare", "ptr", sub="Cloudflare"),
        F("route53", "ptr", sub="Route53"),
        F("azureDNS", "ptr", sub="AzureDNS"),
        F("digitalocean", "ptr", sub="DigitalOcean"),
        F("acmeDNS", "ptr", sub="AcmeDNS"),
        F("rfc2136", "ptr", sub="RFC2136"),
        F("webhook", "ptr", sub="Webhook"),
    ],
    "Akamai": [
        F("serviceConsumerDomain", "str", False),
        F("clientTokenSecretRef", "struct", False, "SecretKeySelector"),
        F("clientSecretSecretRef", "struct", False, "SecretKeySelector"),
        F("accessTokenSecretRef", "struct", False, "SecretKeySelector"),
    ],
    "CloudDNS": [
        F("serviceAccountSecretRef", "ptr", sub="SecretKeySelector"),
        F("project", "str", False),
        F("hostedZoneName", "str"),
    ],
    "Cloudflare": [
        F("email", "str"),
        F("apiKeySecretRef", "ptr", sub="SecretKeySelector"),
        F("apiTokenSecretRef", "ptr", sub="SecretKeySelector"),
    ],
    "Route53": [
        F("auth", "ptr", sub="Route53Auth"),
        F("accessKeyID", "str"),
        F("accessKeyIDSecretRef", "ptr", sub="SecretKeySelector"),
        F("secretAccessKeySecretRef", "struct", False, "SecretKeySelector"),
        F("role", "str"),
        F("hostedZoneID", "str"),
        F("region", "str"),
    ],
    "Route53Auth": [F("kubernetes", "ptr", False, "Route53Kubernetes")],
    "Route53Kubernetes": [F("serviceAccountRef", "ptr", False, "ServiceAccountRef")],
    "ServiceAccountRef": [F("name", "str", False), F("audiences", "strs")],
    "AzureDNS": [
        F("clientID", "str"),
        F("clientSecretSecretRef", "ptr", sub="SecretKeySelector"),
        F("subscriptionID", "str", False),
        F("tenantID", "str"),
        F("resourceGroupName", "str", False),
        F("hostedZoneName", "str"),
        F("environment", "str"),
        F("managedIdentity", "ptr", sub="AzureManagedIdentity"),
        F("zoneType", "str"),
    ],
    "AzureManagedIdentity": [F("clientID", "str"), F("resourceID", "str"), F("tenantID", "str")],
    "DigitalOcean": [F("tokenSecretRef", "struct", False, "SecretKeySelector")],
    "AcmeDNS": [
        F("host", "str", False),
        F("accountSecretRef", "struct", False, "SecretKeySelector"),
    ],
    "RFC2136": [
        F("nameserver", "str", False),
        F("tsigSecretSecretRef", "struct", False, "SecretKeySelector"),
        F("tsigKeyName", "str"),
        F("tsigAlgorithm", "str"),
        F("protocol", "str"),
    ],
    "Webhook": [
        F("groupName", "str", False),
        F("solverName", "str", False),
        F("config", "opaque"),
    ],
}


def _go_string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _opaque(value: Any) -> str:
    if isinstance(value, Mapping):
        items = ",".join(f"{_go_string(str(k))}:{_opaque(value[k])}" for k in sorted(value))
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_opaque(v) for v in value) + "]"
    if isinstance(value, str):
        return _go_string(value)
    return json.dumps(value)


def _empty(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind in ("str", "bytes", _DURATION, "bool", "strs", "map", "opaque"):
        return not value
    return False  # ptr/optstr present (non-nil) are never empty; structs never are


def _value(field: F, value: Any) -> str:
    kind = field.kind
    if kind == _DURATION and value:
        # metav1.Duration re-encodes through time.Duration: "1h" is hashed as "1h0m0s".
        return _go_string(format_go_duration(parse_go_duration(str(value))))
    if kind in ("str", "optstr", "bytes", _DURATION):
        return "null" if value is None and kind != "str" else _go_string(str(value or ""))
    if kind == "bool":
        return "true" if value else "false"
    if kind == "strs":
        return "null" if value is None else "[" + ",".join(_go_string(v) for v in value) + "]"
    if kind == "map":
        if value is None:
            return "null"
        return (
            "{" + ",".join(f"{_go_string(k)}:{_go_string(value[k])}" for k in sorted(value)) + "}"
        )
    if kind == "opaque":
        return "null" if value is None else _opaque(value)
    if kind == "ptr":
        return "null" if value is None else go_struct(field.sub or "", value)
    if kind == "struct":
        return go_struct(field.sub or "", value or {})
    raise ValueError(f"unknown field kind {kind!r}")


def go_struct(struct: str, data: Mapping[str, Any]) -> str:
    """Go's JSON for ``data`` (wire-form dict) as the struct ``struct`` of :data:`STRUCTS`."""
    parts: list[str] = []
    for field in STRUCTS[struct]:
        value = data.get(field.name)
        if field.omitempty and _empty(field.kind, value):
            continue
        parts.append(f"{_go_string(field.name)}:{_value(field, value)}")
    return "{" + ",".join(parts) + "}"


def order_name(request_name: str, spec: Mapping[str, Any]) -> str:
    """The Order name for a request named ``request_name`` with Order ``spec`` (wire form).

    The hash leaves out ``request``; a request name of 52 characters or more is hashed in too,
    so long names truncated to the same prefix still get different Orders.
    """
    spec_json = go_struct("OrderSpec", {**spec, "request": None})
    if len(request_name) >= MAX_PREFIX:
        body = f'{{"certificateRequestName":{_go_string(request_name)},"spec":{spec_json}}}'
    else:
        body = spec_json
    return compute_name(request_name, body.encode())


def challenge_name(order_name_: str, spec: Mapping[str, Any]) -> str:
    """The Challenge name for ``spec`` (wire form) of the Order ``order_name_``; key left out."""
    return compute_name(order_name_, go_struct("ChallengeSpec", {**spec, "key": ""}).encode())
