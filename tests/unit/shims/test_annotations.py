"""The shims' annotations: activation, issuer resolution and spec translation (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from certsmith.api.certmanager import CertificateSpec
from certsmith.api.meta import IssuerReference
from certsmith.controllers.shims.annotations import (
    InvalidAnnotationError,
    IssuerAnnotationError,
    IssuerChoice,
    IssuerDefaults,
    has_shim_annotation,
    issuer_specific_annotations,
    resolve_issuer,
    translate_annotations,
)

AUTO = ("kubernetes.io/tls-acme",)


@pytest.mark.parametrize(
    ("annotations", "auto", "expect"),
    [
        ({"cert-manager.io/issuer": "ca"}, (), True),
        ({"cert-manager.io/cluster-issuer": ""}, (), True),
        ({"kubernetes.io/tls-acme": "true"}, AUTO, True),
        ({"kubernetes.io/tls-acme": "T"}, AUTO, True),
        ({"kubernetes.io/tls-acme": "yes"}, AUTO, False),
        ({"kubernetes.io/tls-acme": "true"}, (), False),
        ({"cert-manager.io/issuer-kind": "Issuer"}, AUTO, False),
    ],
    ids=["issuer", "cluster_issuer_even_empty", "tls_acme_true", "go_bool_t",
         "yes_is_not_a_go_bool", "auto_off_for_gateways", "kind_alone_is_not_enough"],
)  # fmt: skip
def test_activation(annotations: dict[str, str], auto: tuple[str, ...], expect: bool) -> None:
    assert has_shim_annotation(annotations, auto) is expect


@dataclass(frozen=True)
class IssuerCase:
    id: str
    annotations: dict[str, str]
    defaults: IssuerDefaults
    expect: IssuerChoice | str


ISSUER_CASES = [
    IssuerCase("cluster_issuer", {"cert-manager.io/cluster-issuer": "le"}, IssuerDefaults(),
               IssuerChoice("le", "ClusterIssuer", "cert-manager.io")),
    IssuerCase("issuer", {"cert-manager.io/issuer": "ca"}, IssuerDefaults(),
               IssuerChoice("ca", "Issuer", "cert-manager.io")),
    IssuerCase("external_issuer_kind_and_group",
               {"cert-manager.io/issuer": "pca", "cert-manager.io/issuer-kind": "AWSPCAIssuer",
                "cert-manager.io/issuer-group": "awspca.cert-manager.io"}, IssuerDefaults(),
               IssuerChoice("pca", "AWSPCAIssuer", "awspca.cert-manager.io")),
    IssuerCase("defaults_for_tls_acme", {"kubernetes.io/tls-acme": "true"},
               IssuerDefaults("le", "ClusterIssuer", "cert-manager.io"),
               IssuerChoice("le", "ClusterIssuer", "cert-manager.io")),
    IssuerCase("no_name", {"kubernetes.io/tls-acme": "true"}, IssuerDefaults(),
               "failed to determine issuer name to be used for ingress resource"),
    IssuerCase("both_issuer_annotations",
               {"cert-manager.io/issuer": "a", "cert-manager.io/cluster-issuer": "b"},
               IssuerDefaults(),
               'both "cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set'),
    IssuerCase("cluster_issuer_with_group",
               {"cert-manager.io/cluster-issuer": "b", "cert-manager.io/issuer-group": "g"},
               IssuerDefaults(),
               'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-group" may '
               "not be set"),
    IssuerCase("cluster_issuer_with_kind",
               {"cert-manager.io/cluster-issuer": "b", "cert-manager.io/issuer-kind": "K"},
               IssuerDefaults(),
               'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-kind" may '
               "not be set"),
    IssuerCase("every_problem_listed",
               {"cert-manager.io/issuer": "", "cert-manager.io/cluster-issuer": "",
                "cert-manager.io/issuer-kind": "K"},
               IssuerDefaults(),
               "failed to determine issuer name to be used for ingress resource, "
               'both "cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be '
               'set, both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-kind" '
               "may not be set"),
]  # fmt: skip


@pytest.mark.parametrize("case", ISSUER_CASES, ids=lambda c: c.id)
def test_issuer_resolution(case: IssuerCase) -> None:
    if isinstance(case.expect, str):
        with pytest.raises(IssuerAnnotationError) as err:
            resolve_issuer(case.defaults, case.annotations)
        assert str(err.value) == case.expect
    else:
        assert resolve_issuer(case.defaults, case.annotations) == case.expect


def spec() -> CertificateSpec:
    return CertificateSpec(
        secret_name="a-tls", dns_names=["a.example.com"], issuer_ref=IssuerReference(name="le")
    )


@dataclass(frozen=True)
class Translation:
    id: str
    annotations: dict[str, str]
    expect: dict[str, Any]


TRANSLATIONS = [
    Translation("common_name", {"cert-manager.io/common-name": "a.example.com"},
                {"commonName": "a.example.com"}),
    Translation("alt_names_appended", {"cert-manager.io/alt-names": "b.example.com,c.example.com"},
                {"dnsNames": ["a.example.com", "b.example.com", "c.example.com"]}),
    Translation("ip_sans_trimmed", {"cert-manager.io/ip-sans": "10.0.0.1, ::1"},
                {"ipAddresses": ["10.0.0.1", "::1"]}),
    Translation("email_sans", {"cert-manager.io/email-sans": "a@example.com"},
                {"emailAddresses": ["a@example.com"]}),
    Translation("subject_csv", {"cert-manager.io/subject-organizations": 'Acme,"Foo, Inc"',
                                "cert-manager.io/subject-serialnumber": "42"},
                {"subject": {"organizations": ["Acme", "Foo, Inc"], "serialNumber": "42"}}),
    Translation("duration_in_go_form", {"cert-manager.io/duration": "2160h"},
                {"duration": "2160h0m0s"}),
    Translation("renew_before", {"cert-manager.io/renew-before": "5m"},
                {"renewBefore": "5m0s"}),
    Translation("renew_before_percentage", {"cert-manager.io/renew-before-percentage": "25"},
                {"renewBeforePercentage": 25}),
    Translation("usages", {"cert-manager.io/usages": "server auth, client auth"},
                {"usages": ["server auth", "client auth"]}),
    Translation("revision_history_limit", {"cert-manager.io/revision-history-limit": "7"},
                {"revisionHistoryLimit": 7}),
    Translation("private_key", {"cert-manager.io/private-key-algorithm": "ECDSA",
                                "cert-manager.io/private-key-size": "384",
                                "cert-manager.io/private-key-encoding": "PKCS8",
                                "cert-manager.io/private-key-rotation-policy": "Never"},
                {"privateKey": {"algorithm": "ECDSA", "size": 384, "encoding": "PKCS8",
                                "rotationPolicy": "Never"}}),
    Translation("secret_template", {"cert-manager.io/secret-template": '{"labels":{"a":"b"}}'},
                {"secretTemplate": {"labels": {"a": "b"}}}),
]  # fmt: skip


@pytest.mark.parametrize("case", TRANSLATIONS, ids=lambda c: c.id)
def test_translation(case: Translation) -> None:
    result = spec()
    translate_annotations(result, case.annotations)
    data = result.to_dict()
    for key, value in case.expect.items():
        assert data[key] == value


def key(name: str) -> str:
    return f'invalid ingress annotation "cert-manager.io/{name}": '


ERRORS = [
    ("common-name", "c" * 65, "common name may not be more than 64 bytes"),
    ("ip-sans", "10.0.0.1,nope", '"nope" is not a valid IP address'),
    ("email-sans", "not-an-email", '"not-an-email" is not a valid email address'),
    ("email-sans", "Me <me@example.com>",
     '"Me <me@example.com>" must only contain the email address itself'),
    ("subject-countries", "", 'no values found after parsing ""'),
    ("subject-countries", "a\nb", 'refusing to use "a\\nb" as input as it parses as multiple '
     "lines of CSV"),
    ("duration", "abc", 'time: invalid duration "abc"'),
    ("duration", "59m", "duration must be greater than or equal to 1h0m0s"),
    ("renew-before", "4m", "renewBefore must be greater than or equal to 5m0s"),
    ("renew-before-percentage", "x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("usages", "server auth,bogus", 'invalid key usage name "bogus"'),
    ("revision-history-limit", "0", 'revision history limit must be a positive number "0"'),
    ("revision-history-limit", "99999999999",
     'strconv.ParseInt: parsing "99999999999": value out of range'),
    ("private-key-algorithm", "DSA", 'invalid private key algorithm "DSA"'),
    ("private-key-encoding", "DER", 'invalid private key encoding "DER"'),
    ("private-key-size", "big", 'strconv.Atoi: parsing "big": invalid syntax'),
    ("private-key-size", "1024", 'invalid private key size for RSA algorithm "1024"'),
    ("private-key-rotation-policy", "Sometimes", 'invalid private key rotation policy "Sometimes"'),
    ("secret-template", '{"data":{}}', 'error parsing secret template JSON: json: unknown field '
     '"data"'),
    ("secret-template", '{"annotations":{"cert-manager.io/x":"y"}}',
     'secretTemplate must not have cert-manager.io/ annotations: "cert-manager.io/x"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "detail"), ERRORS, ids=[f"{e[0]}:{e[1][:12]}" for e in ERRORS]
)
def test_invalid_annotation_aborts_with_cert_managers_text(
    name: str, value: str, detail: str
) -> None:
    with pytest.raises(InvalidAnnotationError) as err:
        translate_annotations(spec(), {f"cert-manager.io/{name}": value})
    assert str(err.value) == key(name) + detail


def test_ecdsa_size_is_checked_against_the_curves() -> None:
    with pytest.raises(InvalidAnnotationError, match="invalid private key size for ECDSA"):
        translate_annotations(
            spec(),
            {
                "cert-manager.io/private-key-algorithm": "ECDSA",
                "cert-manager.io/private-key-size": "2048",
            },
        )


def test_organizational_units_errors_name_the_organizations_key_as_cert_manager_does() -> None:
    with pytest.raises(InvalidAnnotationError) as err:
        translate_annotations(spec(), {"cert-manager.io/subject-organizationalunits": ""})
    assert str(err.value).startswith(key("subject-organizations"))


@pytest.mark.parametrize(
    ("annotations", "gateway", "expect"),
    [
        ({"acme.cert-manager.io/http01-edit-in-place": "true"}, False,
         {"acme.cert-manager.io/http01-override-ingress-name": "app",
          "cert-manager.io/issue-temporary-certificate": "true"}),
        ({"acme.cert-manager.io/http01-ingress-class": "nginx",
          "acme.cert-manager.io/http01-ingress-ingressclassname": "traefik"}, False,
         {"acme.cert-manager.io/http01-override-ingress-class": "nginx",
          "acme.cert-manager.io/http01-override-ingress-ingressclassname": "traefik"}),
        ({}, True, {"acme.cert-manager.io/http01-parentrefkind": "Gateway",
                    "acme.cert-manager.io/http01-parentrefname": "app"}),
        ({"acme.cert-manager.io/http01-edit-in-place": "yes"}, False, {}),
    ],
    ids=["edit_in_place", "ingress_classes", "gateway_parent", "edit_in_place_needs_true"],
)  # fmt: skip
def test_issuer_specific_annotations(
    annotations: dict[str, str], gateway: bool, expect: dict[str, str]
) -> None:
    assert issuer_specific_annotations(annotations, name="app", gateway_parent=gateway) == expect
