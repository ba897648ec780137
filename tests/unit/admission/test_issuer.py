from dataclasses import dataclass, field
from typing import Any

import pytest

from certsmith.admission.issuer import DEPRECATED_EAB_KEY_ALGORITHM, validate_issuer
from tests.builders import make_issuer


def acme(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "server": "https://acme.example/directory",
        "privateKeySecretRef": {"name": "account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
    }
    body.update(extra)
    return {"acme": body}


def dns01(**provider: Any) -> dict[str, Any]:
    return acme(solvers=[{"dns01": provider}])


RFC2136_OK = {
    "nameserver": "127.0.0.1:53",
    "tsigKeyName": "k",
    "tsigSecretSecretRef": {"name": "s", "key": "k"},
}


@dataclass(frozen=True)
class Case:
    id: str
    spec: dict[str, Any] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


CASES = [
    Case("a CA issuer is valid", {"ca": {"secretName": "ca-key-pair"}}),
    Case("a selfSigned issuer is valid", {"selfSigned": {}}),
    Case("an ACME issuer is valid", acme()),
    Case(
        "no issuer type is refused",
        {"__empty__": True},
        ("spec: Required value: at least one issuer must be configured",),
    ),
    Case(
        "two issuer types are refused",
        {"ca": {"secretName": "s"}, "selfSigned": {}},
        ("spec.selfSigned: Forbidden: may not specify more than one issuer type",),
    ),
    Case(
        "CA needs a secret name and non-empty URLs",
        {"ca": {"secretName": "", "ocspServers": [""], "issuingCertificateURLs": [""]}},
        (
            "spec.ca.secretName: Required value",
            'spec.ca.ocspServer[0]: Invalid value: "": must be a valid URL, e.g., '
            "http://ocsp.int-x3.letsencrypt.org",
            'spec.ca.issuingCertificateURLs[0]: Invalid value: "": must be a valid URL',
        ),
    ),
    Case(
        "ACME needs a server and an account key name",
        acme(server="", privateKeySecretRef={"name": ""}),
        (
            "spec.acme.privateKeySecretRef.name: Required value: private key secret name is a "
            "required field",
            "spec.acme.server: Required value: acme server URL is a required field",
        ),
    ),
    Case(
        "ACME caBundle and skipTLSVerify are exclusive, and the bundle needs a certificate",
        acme(caBundle="bm90IGEgY2VydA==", skipTLSVerify=True),
        (
            'spec.acme.caBundle: Invalid value: "": caBundle and skipTLSVerify are mutually '
            "exclusive and cannot both be set",
            "spec.acme.skipTLSVerify: Invalid value: true: caBundle and skipTLSVerify are "
            "mutually exclusive and cannot both be set",
            'spec.acme.caBundle: Invalid value: "": cert bundle didn\'t contain any valid '
            "certificates",
        ),
    ),
    Case(
        "EAB needs keyID and a complete secret ref; keyAlgorithm only warns",
        acme(
            externalAccountBinding={
                "keyID": "",
                "keySecretRef": {"name": "eab"},
                "keyAlgorithm": "HS256",
            }
        ),
        (
            "spec.acme.externalAccountBinding.keyID: Required value: the keyID field is required "
            "when using externalAccountBinding",
            "spec.acme.externalAccountBinding.keySecretRef.key: Required value: secret key is "
            "required",
        ),
        (DEPRECATED_EAB_KEY_ALGORITHM,),
    ),
    Case(
        "a solver needs a type",
        acme(solvers=[{}]),
        ("spec.acme.solvers[0]: Required value: no solver type configured",),
    ),
    Case(
        "a solver may not have both types",
        acme(
            solvers=[
                {
                    "http01": {"ingress": {}},
                    "dns01": {"webhook": {"groupName": "g", "solverName": "s"}},
                }
            ]
        ),
        (
            "spec.acme.solvers[0]: Forbidden: may not specify more than one solver type in a "
            "single solver",
        ),
    ),
    Case(
        "waitInsteadOfSelfCheck may not be negative",
        acme(solvers=[{"http01": {"ingress": {}}, "waitInsteadOfSelfCheck": "-1s"}]),
        (
            "spec.acme.solvers[0].waitInsteadOfSelfCheck: Invalid value: -1000000000: "
            "waitInsteadOfSelfCheck must not be negative",
        ),
    ),
    Case(
        "http01 needs ingress or gateway",
        acme(solvers=[{"http01": {}}]),
        ("spec.acme.solvers[0].http01: Required value: no HTTP01 solver type configured",),
    ),
    Case(
        "http01 ingress takes one of class, ingressClassName and name",
        acme(
            solvers=[
                {"http01": {"ingress": {"class": "a", "name": "b", "serviceType": "LoadBalancer"}}}
            ]
        ),
        (
            "spec.acme.solvers[0].http01.ingress: Forbidden: only one of 'ingressClassName', "
            "'name' or 'class' should be specified",
            'spec.acme.solvers[0].http01.ingress.serviceType: Invalid value: "LoadBalancer": '
            'must be empty, "ClusterIP" or "NodePort"',
        ),
    ),
    Case(
        "ingressClassName must be a DNS-1123 subdomain",
        acme(solvers=[{"http01": {"ingress": {"ingressClassName": "Nginx"}}}]),
        (
            'spec.acme.solvers[0].http01.ingress.ingressClassName: Invalid value: "Nginx": must '
            "be a valid IngressClass name: a lowercase RFC 1123 subdomain must consist of lower "
            "case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
    ),
    Case(
        "gateway parentRefs need name and kind together",
        acme(
            solvers=[
                {
                    "http01": {
                        "gatewayHTTPRoute": {
                            "parentRefs": [{"name": "gw", "kind": "Gateway"}, {"name": "x"}]
                        }
                    }
                }
            ]
        ),
        (
            "spec.acme.solvers[0].http01.gateway.parentRefs[1].kind: Required value: kind is "
            "required when name is specified",
        ),
    ),
    Case("dns01 rfc2136 with TSIG is valid", dns01(rfc2136=RFC2136_OK, cnameStrategy="Follow")),
    Case(
        "rfc2136 IPv6 nameserver without port is valid",
        dns01(rfc2136={"nameserver": "[2001:db8::1]"}),
    ),
    Case(
        "dns01 needs a provider",
        dns01(),
        ("spec.acme.solvers[0].dns01: Required value: no DNS01 provider configured",),
    ),
    Case(
        "dns01 takes one provider",
        dns01(rfc2136=RFC2136_OK, webhook={"groupName": "g", "solverName": "s"}),
        (
            "spec.acme.solvers[0].dns01.webhook: Forbidden: may not specify more than one "
            "provider type",
        ),
    ),
    Case(
        "dns01 nameservers are host:port or https",
        dns01(
            webhook={"groupName": "g", "solverName": "s"},
            nameservers=["8.8.8.8", "https://", "1.1.1.1:53", "https://dns.example/dns-query"],
        ),
        (
            'spec.acme.solvers[0].dns01.nameservers[0]: Invalid value: "8.8.8.8": must be in the '
            "format <ip address>:<port>",
            'spec.acme.solvers[0].dns01.nameservers[1]: Invalid value: "https://": must be in '
            "the format https://<DoH RFC 8484 server address>",
        ),
    ),
    Case(
        "rfc2136 nameserver, algorithm and TSIG pairing are checked",
        dns01(rfc2136={"nameserver": "a:b:c", "tsigAlgorithm": "HMACSHA3", "tsigKeyName": "k"}),
        (
            'spec.acme.solvers[0].dns01.rfc2136.nameserver: Invalid value: "a:b:c": nameserver '
            "must be set in the form host:port where host is an IPv4 address, an enclosed IPv6 "
            "address or a hostname and port is an optional port number.",
            'spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm: Unsupported value: "": supported '
            'values: "HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"',
            "spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.name: Required value: secret "
            "name is required",
            "spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.key: Required value: secret "
            "key is required",
        ),
    ),
    Case(
        "rfc2136 TSIG secret needs a key name; algorithm is case-insensitive",
        dns01(
            rfc2136={
                "nameserver": "ns.example",
                "tsigAlgorithm": "hmacsha256",
                "tsigSecretSecretRef": {"name": "s", "key": "k"},
            }
        ),
        ("spec.acme.solvers[0].dns01.rfc2136.tsigKeyName: Required value",),
    ),
    Case(
        "webhook needs a solver name",
        dns01(webhook={"groupName": "acme.example", "solverName": ""}),
        (
            "spec.acme.solvers[0].dns01.webhook.solverName: Required value: solver name must "
            "be specified",
        ),
    ),
    Case(
        "cloudflare needs exactly one credential",
        dns01(cloudflare={"apiKeySecretRef": {"name": "k"}, "apiTokenSecretRef": {"name": "t"}}),
        (
            "spec.acme.solvers[0].dns01.cloudflare: Forbidden: apiKeySecretRef and "
            "apiTokenSecretRef cannot both be specified",
            "spec.acme.solvers[0].dns01.cloudflare.email: Required value",
        ),
    ),
]


@pytest.mark.parametrize("cluster", [False, True], ids=["Issuer", "ClusterIssuer"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_issuer_rules(case: Case, cluster: bool):
    spec = {} if case.spec.get("__empty__") else case.spec
    if spec:
        issuer = make_issuer(cluster=cluster, **spec)
    else:
        issuer = make_issuer(cluster=cluster).model_copy(
            update={"spec": make_issuer().spec.model_copy(update={"ca": None})}
        )
    errors, warnings = validate_issuer(issuer)
    assert tuple(map(str, errors)) == case.expect
    assert tuple(warnings) == case.warnings
