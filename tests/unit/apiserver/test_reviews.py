"""SelfSubjectAccessReview bodies: JSON spec to attributes, and the protobuf kubectl sends."""

from __future__ import annotations

import pytest

from certsmith.api.errors import StatusError
from certsmith.apiserver.auth import RequestAttributes
from certsmith.apiserver.http.reviews import review_attributes
from certsmith.apiserver.protobuf import MAGIC, decode


def test_resource_attributes() -> None:
    spec = {"resourceAttributes": {"verb": "list", "group": "cert-manager.io",
                                   "resource": "certificates", "namespace": "team-b"}}  # fmt: skip
    assert review_attributes(spec) == RequestAttributes(
        "list", "", "cert-manager.io", "certificates", namespace="team-b"
    )


def test_non_resource_attributes() -> None:
    spec = {"nonResourceAttributes": {"verb": "get", "path": "/version"}}
    assert review_attributes(spec) == RequestAttributes("get", "/version")


@pytest.mark.parametrize("spec", [{}, None, {"resourceAttributes": {},
                                            "nonResourceAttributes": {}}])  # fmt: skip
def test_exactly_one_kind_of_attributes(spec: object) -> None:
    with pytest.raises(StatusError) as caught:
        review_attributes(spec)
    assert caught.value.code == 422
    assert "exactly one of nonResourceAttributes or resourceAttributes" in caught.value.message


def _field(number: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_review_as_kubectl_sends_it() -> None:
    attrs = _field(1, b"team-b") + _field(2, b"list") + _field(3, b"cert-manager.io")
    attrs += _field(5, b"certificates")
    review = _field(2, _field(1, attrs))
    type_meta = _field(1, b"authorization.k8s.io/v1") + _field(2, b"SelfSubjectAccessReview")
    body = MAGIC + _field(1, type_meta) + _field(2, review)
    assert decode(body)["spec"] == {
        "resourceAttributes": {
            "namespace": "team-b",
            "verb": "list",
            "group": "cert-manager.io",
            "resource": "certificates",
        }
    }
