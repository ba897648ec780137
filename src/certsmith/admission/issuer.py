"""Admission rules for Issuers and ClusterIssuers (SPEC §2.5), identical for both kinds.

Decides whether an issuer configuration is complete enough for its controller to try it:
exactly one issuer type; for CA a secret name and non-empty URLs; for ACME a server, an account
key secret, a CA bundle *or* skipTLSVerify, a usable external account binding, and solvers
that each pick exactly one mechanism with settings the HTTP-01/DNS-01 code can act on.
Whether secrets exist or servers answer is the readiness controller's business, not admission's.

Returns ``(errors, warnings)``: warnings (a deprecated field in use) never block a write but are
shown to the client, as the Kubernetes ``Warning`` header does.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

from cryptography import x509

from certsmith.admission.fieldpath import Path
from certsmith.admission.k8sformats import dns1123_subdomain_errors
from certsmith.api.acme import (
    ACMEChallengeSolver,
    ACMEChallengeSolverDNS01,
    ACMEChallengeSolverHTTP01,
    ACMEIssuer,
)
from certsmith.api.certmanager import CAIssuer, ClusterIssuer, Issuer, IssuerSpec
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import FieldError
from certsmith.api.meta import SecretKeySelector, decode_bytes

__all__ = [
    "DEPRECATED_EAB_KEY_ALGORITHM",
    "validate_issuer",
    "validate_issuer_spec",
]

#: Warning shown when the deprecated ``externalAccountBinding.keyAlgorithm`` is set.
DEPRECATED_EAB_KEY_ALGORITHM: Final = (
    "ACME issuer spec field 'externalAccount.keyAlgorithm' is deprecated. The value of this "
    "field will be ignored."
)

_TYPES: Final = ("acme", "ca", "selfSigned", "vault", "venafi")
_SERVICE_TYPE_MSG: Final = 'must be empty, "ClusterIP" or "NodePort"'
_TSIG_ALGORITHMS: Final = ("HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512")
_BUNDLE_EXCLUSIVE: Final = (
    "caBundle and skipTLSVerify are mutually exclusive and cannot both be set"
)
_RFC2136_NAMESERVER: Final = (
    "nameserver must be set in the form host:port where host is an IPv4 address, an enclosed "
    "IPv6 address or a hostname and port is an optional port number."
)
_DNS01_PROVIDERS: Final = (
    "akamai",
    "azure_dns",
    "cloud_dns",
    "cloudflare",
    "route53",
    "acme_dns",
    "digitalocean",
    "rfc2136",
    "webhook",
)
_WIRE_NAMES: Final = {
    "azure_dns": "azureDNS",
    "cloud_dns": "cloudDNS",
    "acme_dns": "acmeDNS",
}


def validate_issuer(issuer: Issuer | ClusterIssuer) -> tuple[list[FieldError], list[str]]:
    """Validate an Issuer or ClusterIssuer on CREATE or UPDATE.

    Args:
        issuer: the object as it would be stored.

    Returns:
        ``(errors, warnings)``; the write is allowed when ``errors`` is empty.
    """
    return validate_issuer_spec(issuer.spec, Path("spec"))


def validate_issuer_spec(spec: IssuerSpec, path: Path) -> tuple[list[FieldError], list[str]]:
    """Validate an issuer configuration found at ``path``."""
    errors: list[FieldError] = []
    warnings: list[str] = []
    configured = {
        "acme": spec.acme,
        "ca": spec.ca,
        "selfSigned": spec.self_signed,
        "vault": spec.vault,
        "venafi": spec.venafi,
    }
    seen = 0
    for name in _TYPES:
        config = configured[name]
        if config is None:
            continue
        if seen:
            errors.append(
                FieldError.forbidden(
                    str(path.child(name)), "may not specify more than one issuer type"
                )
            )
            continue
        seen += 1
        if spec.acme is not None and name == "acme":
            acme_errors, warnings = _acme(spec.acme, path.child("acme"))
            errors += acme_errors
        elif spec.ca is not None and name == "ca":
            errors += _ca(spec.ca, path.child("ca"))
    if not seen:
        errors.append(FieldError.required(str(path), "at least one issuer must be configured"))
    return errors, warnings


def _ca(ca: CAIssuer, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    if not ca.secret_name:
        errors.append(FieldError.required(str(path.child("secretName"))))
    for i, url in enumerate(ca.ocsp_servers or ()):
        if not url:
            errors.append(
                FieldError.invalid(
                    str(path.child("ocspServer").index(i)),
                    url,
                    "must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org",
                )
            )
    for i, url in enumerate(ca.issuing_certificate_urls or ()):
        if not url:
            errors.append(
                FieldError.invalid(
                    str(path.child("issuingCertificateURLs").index(i)), url, "must be a valid URL"
                )
            )
    return errors


def _secret_key_selector(ref: SecretKeySelector | None, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    if ref is None or not ref.name:
        errors.append(FieldError.required(str(path.child("name")), "secret name is required"))
    if ref is None or not ref.key:
        errors.append(FieldError.required(str(path.child("key")), "secret key is required"))
    return errors


def _bundle_has_certificate(bundle: bytes) -> bool:
    try:
        return bool(x509.load_pem_x509_certificates(bundle))
    except ValueError:
        return False


def _acme(acme: ACMEIssuer, path: Path) -> tuple[list[FieldError], list[str]]:
    errors: list[FieldError] = []
    warnings: list[str] = []
    bundle = decode_bytes(acme.ca_bundle) if acme.ca_bundle else b""
    if bundle and acme.skip_tls_verify:
        errors.append(FieldError.invalid(str(path.child("caBundle")), "", _BUNDLE_EXCLUSIVE))
        errors.append(FieldError.invalid(str(path.child("skipTLSVerify")), True, _BUNDLE_EXCLUSIVE))
    if bundle and not _bundle_has_certificate(bundle):
        errors.append(
            FieldError.invalid(
                str(path.child("caBundle")), "", "cert bundle didn't contain any valid certificates"
            )
        )
    if not acme.private_key_secret_ref.name:
        errors.append(
            FieldError.required(
                str(path.child("privateKeySecretRef", "name")),
                "private key secret name is a required field",
            )
        )
    if not acme.server:
        errors.append(
            FieldError.required(str(path.child("server")), "acme server URL is a required field")
        )
    eab = acme.external_account_binding
    if eab is not None:
        eab_path = path.child("externalAccountBinding")
        if not eab.key_id:
            errors.append(
                FieldError.required(
                    str(eab_path.child("keyID")),
                    "the keyID field is required when using externalAccountBinding",
                )
            )
        errors += _secret_key_selector(eab.key_secret_ref, eab_path.child("keySecretRef"))
        if eab.key_algorithm:
            warnings.append(DEPRECATED_EAB_KEY_ALGORITHM)
    for i, solver in enumerate(acme.solvers or ()):
        errors += _solver(solver, path.child("solvers").index(i))
    return errors, warnings


def _solver(solver: ACMEChallengeSolver, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    providers = 0
    if solver.http01 is not None:
        providers += 1
        errors += _http01(solver.http01, path.child("http01"))
    if solver.dns01 is not None:
        if providers:
            errors.append(
                FieldError.forbidden(
                    str(path), "may not specify more than one solver type in a single solver"
                )
            )
        else:
            providers += 1
            errors += _dns01(solver.dns01, path.child("dns01"))
    if not providers:
        errors.append(FieldError.required(str(path), "no solver type configured"))
    wait = solver.wait_instead_of_self_check
    if wait is not None:
        wait_path = str(path.child("waitInsteadOfSelfCheck"))
        try:
            delta = parse_go_duration(wait)
        except ValueError as err:
            errors.append(FieldError.invalid(wait_path, wait, str(err)))
        else:
            if delta.total_seconds() < 0:
                nanoseconds = int(delta.total_seconds() * 1_000_000) * 1000
                errors.append(
                    FieldError.invalid(
                        wait_path, nanoseconds, "waitInsteadOfSelfCheck must not be negative"
                    )
                )
    return errors


def _service_type(value: str | None, path: Path) -> list[FieldError]:
    if (value or "") in ("", "ClusterIP", "NodePort"):
        return []
    return [FieldError.invalid(str(path), value, _SERVICE_TYPE_MSG)]


def _http01(http01: ACMEChallengeSolverHTTP01, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    defined = 0
    ingress = http01.ingress
    if ingress is not None:
        defined += 1
        ingress_path = path.child("ingress")
        named = [
            ingress.class_ is not None,
            ingress.ingress_class_name is not None,
            bool(ingress.name),
        ]
        if sum(named) > 1:
            errors.append(
                FieldError.forbidden(
                    str(ingress_path),
                    "only one of 'ingressClassName', 'name' or 'class' should be specified",
                )
            )
        if ingress.ingress_class_name is not None:
            problems = dns1123_subdomain_errors(ingress.ingress_class_name)
            if problems:
                errors.append(
                    FieldError.invalid(
                        str(ingress_path.child("ingressClassName")),
                        ingress.ingress_class_name,
                        "must be a valid IngressClass name: " + ", ".join(problems),
                    )
                )
        errors += _service_type(ingress.service_type, ingress_path.child("serviceType"))
    route = http01.gateway_http_route
    if route is not None:
        defined += 1
        # cert-manager reports gateway problems under "gateway", not "gatewayHTTPRoute".
        route_path = path.child("gateway")
        errors += _service_type(route.service_type, route_path.child("serviceType"))
        for i, ref in enumerate(route.parent_refs or ()):
            ref_path = route_path.child("parentRefs").index(i)
            has_name, has_kind = bool(ref.get("name")), ref.get("kind") is not None
            if has_kind and not has_name:
                errors.append(
                    FieldError.required(
                        str(ref_path.child("name")), "name is required when kind is specified"
                    )
                )
                break
            if has_name and not has_kind:
                errors.append(
                    FieldError.required(
                        str(ref_path.child("kind")), "kind is required when name is specified"
                    )
                )
                break
    if defined == 0:
        errors.append(FieldError.required(str(path), "no HTTP01 solver type configured"))
    if defined > 1:
        errors.append(FieldError.required(str(path), "only 1 HTTP01 solver type may be configured"))
    return errors


_HOST_PORT: Final = re.compile(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>[^:]*)$")


def _split_host_port(value: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``: ``None`` when the value is not ``host:port``."""
    match = _HOST_PORT.match(value)
    if match is None:
        return None
    return match.group("v6") or match.group("host") or "", match.group("port")


def _dns01_nameserver_error(value: str) -> str | None:
    if value.startswith("https://"):
        parsed = urllib.parse.urlsplit(value)
        if not parsed.netloc:
            return "must be in the format https://<DoH RFC 8484 server address>"
        return None
    if _split_host_port(value) is None:
        return "must be in the format <ip address>:<port>"
    return None


def _rfc2136_nameserver_is_valid(value: str) -> bool:
    value = value.strip()
    split = _split_host_port(value)
    if split is None:
        if value.startswith("[") and value.endswith("]"):
            host = value[1:-1]
        elif value.count(":") > 1 and not value.startswith("["):
            return False  # "too many colons"
        elif "[" in value or "]" in value:
            return False
        else:
            host = value
    else:
        host = split[0]
    return bool(host)


def _dns01(dns01: ACMEChallengeSolverDNS01, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    if dns01.cname_strategy and dns01.cname_strategy not in ("None", "Follow"):
        errors.append(
            FieldError.invalid(
                str(path.child("cnameStrategy")),
                dns01.cname_strategy,
                'must be one of "None" or "Follow"',
            )
        )
    for i, nameserver in enumerate(dns01.nameservers or ()):
        problem = _dns01_nameserver_error(nameserver)
        if problem is not None:
            errors.append(
                FieldError.invalid(str(path.child("nameservers").index(i)), nameserver, problem)
            )
    configured = [name for name in _DNS01_PROVIDERS if getattr(dns01, name) is not None]
    if not configured:
        errors.append(FieldError.required(str(path), "no DNS01 provider configured"))
        return errors
    for extra in configured[1:]:
        errors.append(
            FieldError.forbidden(
                str(path.child(_WIRE_NAMES.get(extra, extra))),
                "may not specify more than one provider type",
            )
        )
    errors += _dns01_provider(dns01, configured[0], path)
    return errors


def _dns01_provider(dns01: ACMEChallengeSolverDNS01, name: str, path: Path) -> list[FieldError]:
    errors: list[FieldError] = []
    if name == "rfc2136" and dns01.rfc2136 is not None:
        rfc = dns01.rfc2136
        rfc_path = path.child("rfc2136")
        if not rfc.nameserver:
            errors.append(FieldError.required(str(rfc_path.child("nameserver"))))
        elif not _rfc2136_nameserver_is_valid(rfc.nameserver):
            errors.append(
                FieldError.invalid(
                    str(rfc_path.child("nameserver")), rfc.nameserver, _RFC2136_NAMESERVER
                )
            )
        if rfc.tsig_algorithm and rfc.tsig_algorithm.upper() not in _TSIG_ALGORITHMS:
            errors.append(
                FieldError.not_supported(
                    str(rfc_path.child("tsigAlgorithm")), "", list(_TSIG_ALGORITHMS)
                )
            )
        secret_path = rfc_path.child("tsigSecretSecretRef")
        secret_errors = _secret_key_selector(rfc.tsig_secret_secret_ref, secret_path)
        if rfc.tsig_key_name:
            errors += secret_errors
        elif not secret_errors:
            errors.append(FieldError.required(str(rfc_path.child("tsigKeyName"))))
    elif name == "webhook" and dns01.webhook is not None:
        if not dns01.webhook.solver_name:
            errors.append(
                FieldError.required(
                    str(path.child("webhook", "solverName")), "solver name must be specified"
                )
            )
    elif name == "cloudflare" and dns01.cloudflare is not None:
        flare = dns01.cloudflare
        flare_path = path.child("cloudflare")
        if flare.api_key_secret_ref is not None and flare.api_token_secret_ref is not None:
            errors.append(
                FieldError.forbidden(
                    str(flare_path),
                    "apiKeySecretRef and apiTokenSecretRef cannot both be specified",
                )
            )
        elif flare.api_key_secret_ref is None and flare.api_token_secret_ref is None:
            errors.append(
                FieldError.required(
                    str(flare_path), "apiKeySecretRef or apiTokenSecretRef is required"
                )
            )
        if flare.api_key_secret_ref is not None and not flare.email:
            errors.append(FieldError.required(str(flare_path.child("email"))))
    return errors
