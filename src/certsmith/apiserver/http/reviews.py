"""SelfSubjectAccessReviews: "may I?", as ``kubectl auth can-i`` asks it.

The review is answered by the same :func:`certsmith.apiserver.auth.authorize` that guards every
request, so ``can-i`` and the real request cannot disagree. Nothing is stored (kube does not
store reviews either). Creating a review is itself authorized like any request; the bootstrap
``system:basic-user`` role lets every authenticated user do it. Only the ``allowed`` answer is
given: kube's ``reason`` (which binding allowed it) is not reported.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from certsmith.api.errors import StatusError
from certsmith.apiserver.auth import RequestAttributes, authorize
from certsmith.apiserver.http.body import decode_object, read_body
from certsmith.apiserver.http.context import context_of, user_of
from certsmith.apiserver.http.errors import json_response

PATH: Final = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
_API_VERSION: Final = "authorization.k8s.io/v1"
_KIND: Final = "SelfSubjectAccessReview"


def _text(attrs: dict[str, Any], key: str) -> str:
    value = attrs.get(key)
    return value if isinstance(value, str) else ""


def review_attributes(spec: Any) -> RequestAttributes:
    """The request a review's ``spec`` asks about.

    Raises:
        StatusError: 422 unless exactly one of ``resourceAttributes`` and
            ``nonResourceAttributes`` is given (kube's wording).
    """
    spec = spec if isinstance(spec, dict) else {}
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(resource, dict) == isinstance(non_resource, dict):
        raise StatusError(
            422,
            "Invalid",
            f'{_KIND}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid '
            'value: "null": exactly one of nonResourceAttributes or resourceAttributes must be '
            "specified",
            {"group": "authorization.k8s.io", "kind": _KIND},
        )
    if isinstance(non_resource, dict):
        return RequestAttributes(verb=_text(non_resource, "verb"), path=_text(non_resource, "path"))
    assert isinstance(resource, dict)
    return RequestAttributes(
        verb=_text(resource, "verb"),
        path="",
        group=_text(resource, "group"),
        resource=_text(resource, "resource"),
        subresource=_text(resource, "subresource"),
        namespace=_text(resource, "namespace"),
        name=_text(resource, "name"),
    )


async def self_subject_access_review(request: web.Request) -> web.StreamResponse:
    """Answer whether the requesting user may do what the review describes (201, not stored).

    Raises:
        StatusError: 400/415 for an unreadable body, 422 for an invalid spec.
    """
    body = decode_object(await read_body(request), request.headers.get("Content-Type"))
    attrs = review_attributes(body.get("spec"))
    allowed = authorize(user_of(request), attrs, context_of(request).rbac)
    raw_meta = body.get("metadata")
    metadata: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    answer = {
        "kind": _KIND,
        "apiVersion": _API_VERSION,
        "metadata": {**metadata, "creationTimestamp": None},
        "spec": body.get("spec"),
        "status": {"allowed": allowed},
    }
    return json_response(answer, status=201)
