import pytest

from certsmith.apiserver.jsonpath import JSONPath, JSONPathError, go_float, go_print

DOC = {
    "metadata": {"name": "demo", "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
    "spec": {"issuerRef": {"name": "ca"}, "dnsNames": ["a.example", "b.example", "c.example"]},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True", "message": "up to date", "observedGeneration": 2},
            {"type": "Issuing", "status": "False"},
        ],
        "addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}],
        "revision": 3,
    },
}

FIND_CASES = [
    ("dotted field", ".spec.issuerRef.name", ["ca"]),
    ("braces as kubectl writes", "{.spec.issuerRef.name}", ["ca"]),
    ("missing key yields nothing", ".spec.nope.name", []),
    (
        "filter with spaces as cert-manager CRDs write it",
        '.status.conditions[?(@.type == "Ready")].status',
        ["True"],
    ),
    ("filter without spaces", '.status.conditions[?(@.type=="Issuing")].status', ["False"]),
    ("filter with single quotes", ".status.conditions[?(@.type=='Ready')].message", ["up to date"]),
    ("filter with no match", '.status.conditions[?(@.type=="Gone")].status', []),
    ("filter not equal", '.status.conditions[?(@.type!="Ready")].type', ["Issuing"]),
    ("numeric filter", ".status.conditions[?(@.observedGeneration>1)].type", ["Ready"]),
    ("existence filter", ".status.conditions[?(@.message)].type", ["Ready"]),
    ("wildcard", ".status.addresses[*].value", ["10.0.0.1", "10.0.0.2"]),
    ("index", ".spec.dnsNames[1]", ["b.example"]),
    ("negative index", ".spec.dnsNames[-1]", ["c.example"]),
    ("out of range index", ".spec.dnsNames[7]", []),
    ("slice", ".spec.dnsNames[0:2]", ["a.example", "b.example"]),
    ("escaped dot in key", r".metadata.labels.app\.kubernetes\.io/name", ["web"]),
    ("bracketed key", ".metadata.labels['app.kubernetes.io/name']", ["web"]),
    ("recursive descent", "..name", ["demo", "ca"]),
    ("dot star on a map", ".metadata.labels.*", ["web", "front"]),
    ("field on a list yields nothing", ".spec.dnsNames.name", []),
    ("empty path is the document", "", [DOC]),
]


@pytest.mark.parametrize(
    ("expr", "expected"), [c[1:] for c in FIND_CASES], ids=[c[0] for c in FIND_CASES]
)
def test_find_selects_like_kubernetes_jsonpath(expr, expected):
    assert JSONPath.parse(expr).find(DOC) == expected


def test_first_returns_default_when_nothing_matches():
    assert JSONPath.parse(".status.nope").first(DOC, "x") == "x"


@pytest.mark.parametrize(
    "expr",
    [".spec[", ".spec[abc]", ".spec[?(@.a == bare)]", ".spec[?@.a]", ".spec[1:2:0]", ".a..b c["],
)
def test_parse_rejects_expressions_outside_the_subset(expr):
    with pytest.raises(JSONPathError):
        JSONPath.parse(expr)


PRINT_CASES = [
    ("text", "text"),
    (True, "true"),
    (False, "false"),
    (3, "3"),
    (2.5, "2.5"),
    (None, "<nil>"),
    ({"a": 1}, '{"a":1}'),
    (["x", 1], '["x",1]'),
]


@pytest.mark.parametrize(("value", "expected"), PRINT_CASES, ids=[c[1] for c in PRINT_CASES])
def test_go_print_matches_kubectl_jsonpath_output(value, expected):
    assert go_print(value) == expected


FLOAT_CASES = [
    (3.0, "3"),
    (1.5, "1.5"),
    (1e6, "1e+06"),
    (123456.0, "123456"),
    (1234567.5, "1.2345675e+06"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (-2.25, "-2.25"),
    (0.0, "0"),
    (float("inf"), "+Inf"),
]


@pytest.mark.parametrize(("value", "expected"), FLOAT_CASES, ids=[c[1] for c in FLOAT_CASES])
def test_go_float_matches_go_percent_v(value, expected):
    assert go_float(value) == expected
