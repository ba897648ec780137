"""Field errors print like Kubernetes validation errors; StatusError renders a Status body."""

from __future__ import annotations

import pytest

from certsmith.api.errors import FieldError, InvalidError, StatusError

FIELD_ERROR_CASES = [
    (
        FieldError.required("spec.request", "must be specified"),
        "spec.request: Required value: must be specified",
    ),
    (
        FieldError.invalid("spec.issuerRef.kind", "Foo", "must be one of Issuer or ClusterIssuer"),
        'spec.issuerRef.kind: Invalid value: "Foo": must be one of Issuer or ClusterIssuer',
    ),
    (
        FieldError.forbidden("spec", "cannot change spec after creation"),
        "spec: Forbidden: cannot change spec after creation",
    ),
]


@pytest.mark.parametrize(("error", "text"), FIELD_ERROR_CASES, ids=lambda v: str(v)[:30])
def test_field_errors_print_like_kubernetes(error, text):
    assert str(error) == text


def test_invalid_error_renders_a_422_status_with_one_cause_per_field():
    err = InvalidError(
        "cert-manager.io",
        "CertificateRequest",
        "cr",
        [FieldError.required("spec.request", "must be specified")],
    )
    status = err.to_status()
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'CertificateRequest.cert-manager.io "cr" is invalid: '
        "spec.request: Required value: must be specified"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must be specified",
            "field": "spec.request",
        }
    ]


def test_status_error_body_is_a_kubernetes_status():
    body = StatusError(404, "NotFound", 'secrets "x" not found').to_status()
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "x" not found',
        "reason": "NotFound",
        "code": 404,
    }


def test_invalid_error_needs_at_least_one_field_error():
    with pytest.raises(ValueError, match="at least one"):
        InvalidError("", "Secret", "x", [])
