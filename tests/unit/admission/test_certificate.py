from dataclasses import dataclass, field
from typing import Any

import pytest

from certsmith.admission.certificate import validate_certificate
from tests.builders import make_certificate

DNS_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
SAN_MSG = (
    'spec: Invalid value: "": at least one of commonName (from the commonName field or from a '
    "literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"
)
CRON_TAIL = ". cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"


@dataclass(frozen=True)
class Case:
    id: str
    spec: dict[str, Any] = field(default_factory=dict)
    expect: tuple[str, ...] = ()


CASES = [
    Case("a minimal certificate is valid"),
    # secretName
    Case(
        "secretName must be a DNS-1123 subdomain",
        {"secretName": "Web_TLS"},
        (f'spec.secretName: Invalid value: "Web_TLS": {DNS_MSG}',),
    ),
    Case(
        "secretName is required",
        {"secretName": ""},
        ("spec.secretName: Required value: must be specified",),
    ),
    # issuerRef
    Case(
        "issuerRef kind is checked",
        {"issuerRef": {"name": "ca", "kind": "Foo", "group": "cert-manager.io"}},
        ('spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer',),
    ),
    # identities
    Case("commonName alone is enough", {"dnsNames": None, "commonName": "web"}),
    Case("an email SAN alone is enough", {"dnsNames": None, "emailAddresses": ["a@b.example"]}),
    Case("no subject and no SAN is refused", {"dnsNames": None}, (SAN_MSG,)),
    Case(
        "commonName longer than 64 bytes is refused",
        {"commonName": "a" * 65},
        ("spec.commonName: Too long: may not be more than 64 bytes",),
    ),
    Case("commonName of exactly 64 bytes is fine", {"commonName": "a" * 64}),
    # literalSubject
    Case(
        "literalSubject CN counts as the common name",
        {"dnsNames": None, "literalSubject": "CN=web,O=Example,SERIALNUMBER=1,1.2.3.4=x"},
    ),
    Case(
        "literalSubject forbids commonName and subject",
        {"commonName": "web", "literalSubject": "CN=web", "subject": {"organizations": ["o"]}},
        (
            'spec.commonName: Invalid value: "web": When providing a `LiteralSubject` no '
            "`commonName` may be provided.",
            'spec.subject: Invalid value: {"Organizations":["o"],"Countries":null,'
            '"OrganizationalUnits":null,"Localities":null,"Provinces":null,'
            '"StreetAddresses":null,"PostalCodes":null,"SerialNumber":""}: When providing a '
            "`LiteralSubject` no `Subject` properties may be provided.",
        ),
    ),
    Case(
        "literalSubject with unknown attribute key is refused",
        {"literalSubject": "CN=web,FOO=bar"},
        (
            'spec.literalSubject: Invalid value: "CN=web,FOO=bar": Literal subject contains '
            "unrecognized key with value [bar]",
        ),
    ),
    Case(
        "literalSubject that does not parse is refused",
        {"literalSubject": "CN"},
        ('spec.literalSubject: Invalid value: "CN": DN ended with incomplete type, value pair',),
    ),
    Case(
        "literalSubject CN in BER form is not a string",
        {"literalSubject": "CN=#0c03616263"},
        (
            'spec.literalSubject: Invalid value: "#0c03616263": Field with type CN should be a '
            "string",
        ),
    ),
    # SANs
    Case("IPv4 and IPv6 addresses parse", {"ipAddresses": ["10.0.0.1", "::1", "::ffff:1.2.3.4"]}),
    Case(
        "bad IP addresses are refused",
        {"ipAddresses": ["10.0.0.256", "fe80::1%eth0"]},
        (
            'spec.ipAddresses[0]: Invalid value: "10.0.0.256": invalid IP address',
            'spec.ipAddresses[1]: Invalid value: "fe80::1%eth0": invalid IP address',
        ),
    ),
    Case(
        "email with display name is refused",
        {"emailAddresses": ["Alice <alice@example.com>"]},
        (
            'spec.emailAddresses[0]: Invalid value: "Alice <alice@example.com>": invalid email '
            "address: make sure the supplied value only contains the email address itself",
        ),
    ),
    Case(
        "email without @ is refused",
        {"emailAddresses": ["alice"]},
        (
            'spec.emailAddresses[0]: Invalid value: "alice": invalid email address: mail: '
            "missing '@' or angle-addr",
        ),
    ),
    # otherNames
    Case(
        "otherNames with OID and value are fine",
        {"otherNames": [{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "upn@example.com"}]},
    ),
    Case(
        "otherNames need an OID and a value",
        {"otherNames": [{"oid": "", "utf8Value": ""}, {"oid": "1.x", "utf8Value": "v"}]},
        (
            "spec.otherNames[0].oid: Required value: must be specified",
            'spec.otherNames[0].oid: Invalid value: "": invalid oid syntax',
            "spec.otherNames[0].utf8Value: Required value: must be set to a valid non-empty "
            "UTF8 string",
            'spec.otherNames[1].oid: Invalid value: "1.x": invalid oid syntax',
        ),
    ),
    # privateKey
    Case("RSA size in range is fine", {"privateKey": {"algorithm": "RSA", "size": 3072}}),
    Case(
        "RSA size out of range is refused",
        {"privateKey": {"size": 1024}},
        (
            "spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for rsa "
            "keyAlgorithm",
        ),
    ),
    Case("ECDSA 384 is fine", {"privateKey": {"algorithm": "ECDSA", "size": 384}}),
    Case(
        "ECDSA size must be a curve size",
        {"privateKey": {"algorithm": "ECDSA", "size": 512}},
        ('spec.privateKey.size: Unsupported value: 512: supported values: "256", "384", "521"',),
    ),
    Case("Ed25519 ignores size", {"privateKey": {"algorithm": "Ed25519", "size": 1}}),
    # signatureAlgorithm
    Case(
        "signature algorithm fits ECDSA",
        {"privateKey": {"algorithm": "ECDSA"}, "signatureAlgorithm": "ECDSAWithSHA384"},
    ),
    Case(
        "signature algorithm must fit the key (empty means RSA)",
        {"signatureAlgorithm": "PureEd25519"},
        (
            'spec.signatureAlgorithm: Invalid value: "PureEd25519": for key algorithm RSA the '
            "allowed signature algorithms are [SHA256WithRSA SHA384WithRSA SHA512WithRSA]",
        ),
    ),
    # durations
    Case("duration of 1h is fine", {"duration": "1h", "renewBefore": "5m"}),
    Case(
        "duration below 1h is refused",
        {"duration": "30m"},
        (
            "spec.duration: Invalid value: 1800000000000: certificate duration must be greater "
            "than 1h0m0s",
        ),
    ),
    Case(
        "renewBefore below 5m is refused",
        {"renewBefore": "1m"},
        (
            "spec.renewBefore: Invalid value: 60000000000: certificate renewBefore must be "
            "greater than 5m0s",
        ),
    ),
    Case(
        "renewBefore must be below duration",
        {"duration": "2h", "renewBefore": "2h"},
        (
            "spec.renewBefore: Invalid value: 7200000000000: certificate duration 2h0m0s must be "
            "greater than renewBefore 2h0m0s",
        ),
    ),
    Case(
        "renewBefore and percentage are exclusive",
        {"renewBefore": "1h", "renewBeforePercentage": 50},
        (
            "spec.renewBefore: Invalid value: 3600000000000: renewBefore and "
            "renewBeforePercentage are mutually exclusive and cannot both be set",
            "spec.renewBeforePercentage: Invalid value: 50: renewBefore and "
            "renewBeforePercentage are mutually exclusive and cannot both be set",
        ),
    ),
    Case(
        "percentage is checked as the complement when duration is set",
        {"duration": "1h", "renewBeforePercentage": 95},
        (
            "spec.renewBeforePercentage: Invalid value: 95: certificate renewBeforePercentage "
            "must result in a renewBefore greater than 5m0s",
        ),
    ),
    Case(
        "percentage of zero makes renewBefore equal the duration",
        {"duration": "2h", "renewBeforePercentage": 0},
        (
            "spec.renewBeforePercentage: Invalid value: 0: certificate renewBeforePercentage "
            "must result in a renewBefore less than duration",
        ),
    ),
    Case("percentage alone is not checked at all", {"renewBeforePercentage": 150}),
    # revisionHistoryLimit
    Case("revisionHistoryLimit of 1 is fine", {"revisionHistoryLimit": 1}),
    Case(
        "revisionHistoryLimit below 1 is refused",
        {"revisionHistoryLimit": 0},
        ("spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1",),
    ),
    # secretTemplate
    Case(
        "secretTemplate with valid labels and annotations is fine",
        {
            "secretTemplate": {
                "labels": {"app.kubernetes.io/name": "web", "empty": ""},
                "annotations": {"cert-manager.io/allow-direct-injection": "true", "x/y": "z"},
            }
        },
    ),
    Case(
        "secretTemplate label key and value must be valid",
        {"secretTemplate": {"labels": {"bad key": "bad value"}}},
        (
            'spec.secretTemplate.labels: Invalid value: "bad key": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            'spec.secretTemplate.labels: Invalid value: "bad value": a valid label must be an '
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ),
    Case(
        "secretTemplate may not carry cert-manager.io annotations",
        {"secretTemplate": {"annotations": {"cert-manager.io/issuer-name": "x"}}},
        (
            'spec.secretTemplate.annotations: Invalid value: "cert-manager.io/issuer-name": '
            "cert-manager.io/* annotations are not allowed",
        ),
    ),
    # nameConstraints
    Case(
        "nameConstraints on a CA are fine",
        {"isCA": True, "nameConstraints": {"permitted": {"ipRanges": ["10.0.0.0/8"]}}},
    ),
    Case(
        "nameConstraints need isCA and some constraint",
        {"nameConstraints": {"critical": True}},
        (
            'spec.nameConstraints: Invalid value: {"Critical":true,"Permitted":null,'
            '"Excluded":null}: isCA should be true when nameConstraints is set',
            'spec.nameConstraints: Invalid value: {"Critical":true,"Permitted":null,'
            '"Excluded":null}: either permitted or excluded must be set',
        ),
    ),
    Case(
        "nameConstraints ipRanges must be CIDRs",
        {"isCA": True, "nameConstraints": {"excluded": {"ipRanges": ["10.0.0.1", "::/129"]}}},
        (
            'spec.nameConstraints.excluded.ipRanges[0]: Invalid value: "10.0.0.1": invalid CIDR '
            "address",
            'spec.nameConstraints.excluded.ipRanges[1]: Invalid value: "::/129": invalid CIDR '
            "address",
        ),
    ),
    # additionalOutputFormats
    Case(
        "distinct output formats are fine",
        {"additionalOutputFormats": [{"type": "DER"}, {"type": "CombinedPEM"}]},
    ),
    Case(
        "duplicate output formats are refused",
        {"additionalOutputFormats": [{"type": "DER"}, {"type": "DER"}]},
        ('spec.additionalOutputFormats[type]: Duplicate value: "DER"',),
    ),
    # keystores
    Case(
        "keystores with one password source are fine",
        {
            "keystores": {
                "jks": {"create": True, "password": "changeit"},
                "pkcs12": {"create": True, "passwordSecretRef": {"name": "p", "key": "k"}},
            }
        },
    ),
    Case(
        "keystores with both password sources are refused",
        {
            "keystores": {
                "jks": {"create": True, "password": "x", "passwordSecretRef": {"name": "p"}}
            }
        },
        (
            "spec.keystores.jks: Forbidden: exactly one of passwordSecretRef and password must "
            "be provided for JKS keystores; cannot set both",
        ),
    ),
    Case(
        "keystores without a password are refused",
        {"keystores": {"pkcs12": {"create": True}}},
        (
            "spec.keystores.pkcs12: Forbidden: must set exactly one of passwordSecretRef and "
            "password must for PKCS#12 keystores",
        ),
    ),
    Case(
        "keystores with an empty literal password are refused",
        {"keystores": {"jks": {"create": True, "password": ""}}},
        (
            "spec.keystores.jks.password: Forbidden: literal password cannot be empty if set on "
            "JKS keystores",
        ),
    ),
    # renewal
    Case(
        "renewal windows with cron and timezone are fine",
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [
                    {"cron": "0 9 * * mon-fri", "windowDuration": "8h", "timezone": "Europe/Paris"}
                ],
            }
        },
    ),
    Case(
        "disabled renewal forbids windows",
        {
            "renewal": {
                "policy": "Disabled",
                "windows": [{"cron": "0 9 * * *", "windowDuration": "1h"}],
            }
        },
        (
            "spec.renewal.windows: Forbidden: windows cannot be set when `renewal.policy` is set "
            "to Disabled",
        ),
    ),
    Case(
        "renewal windows need a duration, a known timezone and a 5-field cron",
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"cron": "0 9 * *", "windowDuration": "", "timezone": "Mars/Base"}],
            }
        },
        (
            "spec.renewal.windows[0].windowDuration: Required value: windowDuration must be "
            "specified and should be greater than 0",
            'spec.renewal.windows[0].timezone: Invalid value: "Mars/Base": invalid value for '
            "timezone. timezone must be IANA compliant",
            'spec.renewal.windows[0].cron: Invalid value: "0 9 * *": invalid cron syntax: failed '
            "to parse cron spec '0 9 * *': provided bad location Mars/Base: unknown time zone "
            "Mars/Base" + CRON_TAIL,
        ),
    ),
    Case(
        "renewal cron field out of range is refused",
        {"renewal": {"windows": [{"cron": "0 24 * * *", "windowDuration": "1h"}]}},
        (
            'spec.renewal.policy: Unsupported value: "": supported values: "Disabled", '
            '"RenewBefore"',
            'spec.renewal.windows[0].cron: Invalid value: "0 24 * * *": invalid cron syntax: '
            "failed to parse cron spec '0 24 * * *': end of range (24) above maximum (23): 24"
            + CRON_TAIL,
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_certificate_rules(case: Case):
    errors = validate_certificate(make_certificate(**case.spec))
    assert tuple(map(str, errors)) == case.expect
