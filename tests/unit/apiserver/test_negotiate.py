"""Accept negotiation: the first entry the server can produce (JSON only) decides the shape."""

import pytest

from certsmith.apiserver.http.negotiate import Rendering, negotiate

KUBECTL_TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
GO_METADATA_LIST = (
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, Rendering()),
        ("*/*", Rendering()),
        ("application/vnd.kubernetes.protobuf,application/json", Rendering()),
        (KUBECTL_TABLE, Rendering("Table", "v1")),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", Rendering("Table", "v1beta1")),
        (GO_METADATA_LIST, Rendering("PartialObjectMetadataList", "v1")),
        (
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1",
            Rendering("PartialObjectMetadata", "v1beta1"),
        ),
        ("application/json,application/json;as=Table;v=v1;g=meta.k8s.io", Rendering()),
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", Rendering()),
        ("application/json;as=Table;v=v1;g=example.com,application/json", Rendering()),
        ("application/json;as=Unknown;v=v1;g=meta.k8s.io", Rendering()),
    ],
    ids=[
        "none",
        "any",
        "protobuf then json",
        "kubectl get",
        "table v1beta1",
        "client-go metadata list (protobuf skipped)",
        "metadata v1beta1",
        "json first wins",
        "unknown meta version",
        "foreign group",
        "unknown conversion",
    ],
)
def test_negotiated_shape(accept, expected):
    assert negotiate(accept) == expected
