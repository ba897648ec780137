import pytest
from hypothesis import given
from hypothesis import strategies as st

from certsmith.api.errors import StatusError
from certsmith.apiserver.jsonpath import go_quote
from certsmith.apiserver.resources import ResourceType, default_registry
from certsmith.apiserver.selectors import (
    FieldTerm,
    Operator,
    Requirement,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

NAME_PART_ERROR = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_ERROR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',"
    "  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

PARSE_CASES = [
    ("equals", "app=web", [Requirement("app", Operator.EQUALS, ("web",))]),
    ("double equals", "app==web", [Requirement("app", Operator.DOUBLE_EQUALS, ("web",))]),
    ("not equals", "app!=web", [Requirement("app", Operator.NOT_EQUALS, ("web",))]),
    ("in sorts values", "env in (prod, dev)", [Requirement("env", Operator.IN, ("dev", "prod"))]),
    ("notin", "env notin (qa)", [Requirement("env", Operator.NOT_IN, ("qa",))]),
    ("exists", "app", [Requirement("app", Operator.EXISTS)]),
    ("does not exist", "!app", [Requirement("app", Operator.DOES_NOT_EXIST)]),
    ("empty value", "app=", [Requirement("app", Operator.EQUALS, ("",))]),
    ("empty set", "app in ()", [Requirement("app", Operator.IN, ("",))]),
    (
        "prefixed key",
        "app.kubernetes.io/name=cert-manager",
        [Requirement("app.kubernetes.io/name", Operator.EQUALS, ("cert-manager",))],
    ),
    ("gt", "rank>3", [Requirement("rank", Operator.GREATER_THAN, ("3",))]),
    (
        "and of terms",
        "a=1, !b,c",
        [
            Requirement("a", Operator.EQUALS, ("1",)),
            Requirement("b", Operator.DOES_NOT_EXIST),
            Requirement("c", Operator.EXISTS),
        ],
    ),
    ("key named in", "in=x", [Requirement("in", Operator.EQUALS, ("x",))]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_label_selector_parses_every_operator(text, expected):
    assert list(parse_label_selector(text).requirements) == expected


ERROR_CASES = [
    (
        "bad key",
        "-a=b",
        f'unable to parse requirement: <nil>: Invalid value: "-a": {NAME_PART_ERROR}',
    ),
    (
        "bad value",
        "a=-b",
        f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_ERROR}',
    ),
    (
        "missing operator",
        "a b",
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
    ),
    ("trailing comma", "a=b,", "found '', expected: identifier after ','"),
    ("leading operator", "=b", "found '=', expected: !, identifier, or 'end of string'"),
    ("not then operator", "!a=b", "found '=', expected: ',' or 'end of string'"),
    ("in without parens", "a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("unclosed set", "a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    (
        "bad gt value",
        "a>b",
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, "
        "the value must be an integer",
    ),
    ("double operator", "a==!b", "unable to parse requirement: found '!', expected: identifier"),
    ("value after value", "a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("bang alone", "!", "unable to parse requirement: found '', expected: identifier"),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_bad_label_selector_is_a_400_with_kube_wording(text, message):
    with pytest.raises(StatusError) as err:
        parse_label_selector(text)
    assert (err.value.code, err.value.reason, err.value.message) == (400, "BadRequest", message)


def test_two_bad_values_are_reported_as_an_aggregate():
    with pytest.raises(StatusError) as err:
        parse_label_selector("a in (-x,-y)")
    assert err.value.message.startswith(
        'unable to parse requirement: [values[0][a]: Invalid value: "-x"'
    )
    assert 'values[1][a]: Invalid value: "-y"' in err.value.message


MATCH_CASES = [
    ("equals match", "app=web", {"app": "web"}, True),
    ("equals missing", "app=web", {}, False),
    ("not equals when absent", "app!=web", {}, True),
    ("not equals other value", "app!=web", {"app": "db"}, True),
    ("not equals same value", "app!=web", {"app": "web"}, False),
    ("in", "env in (a,b)", {"env": "b"}, True),
    ("notin absent", "env notin (a)", {}, True),
    ("notin present", "env notin (a)", {"env": "a"}, False),
    ("exists", "app", {"app": ""}, True),
    ("does not exist", "!app", {"app": "x"}, False),
    ("gt", "rank>3", {"rank": "4"}, True),
    ("gt non numeric label", "rank>3", {"rank": "x"}, False),
    ("lt", "rank<3", {"rank": "1"}, True),
    ("and", "a=1,b=2", {"a": "1", "b": "3"}, False),
    ("empty selects all", "", {"x": "y"}, True),
]


@pytest.mark.parametrize(
    ("text", "labels", "expected"), [c[1:] for c in MATCH_CASES], ids=[c[0] for c in MATCH_CASES]
)
def test_label_selector_matches_like_kubernetes(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


def test_label_selector_reads_object_labels():
    sel = parse_label_selector("app=web")
    assert sel.matches_object({"metadata": {"labels": {"app": "web"}}})
    assert not sel.matches_object({"metadata": {}})


def test_structured_selector_converts_match_labels_and_expressions():
    sel = label_selector_from_dict(
        {
            "matchLabels": {"a": "1"},
            "matchExpressions": [{"key": "b", "operator": "In", "values": ["y", "x"]}],
        }
    )
    assert sel.requirements == (
        Requirement("a", Operator.EQUALS, ("1",)),
        Requirement("b", Operator.IN, ("x", "y")),
    )


def test_structured_selector_rejects_unknown_operators():
    with pytest.raises(StatusError, match='"Near" is not a valid label selector operator'):
        label_selector_from_dict({"matchExpressions": [{"key": "b", "operator": "Near"}]})


def builtin(group: str, plural: str) -> ResourceType:
    rt = default_registry().get(group, "v1", plural)
    assert rt is not None
    return rt


CERT = ResourceType(
    group="cert-manager.io",
    version="v1",
    plural="certificates",
    singular="certificate",
    kind="Certificate",
    list_kind="CertificateList",
    namespaced=True,
)
EVENT = {
    "metadata": {"name": "e1", "namespace": "default"},
    "involvedObject": {
        "kind": "Certificate",
        "name": "demo",
        "namespace": "default",
        "uid": "u1",
        "apiVersion": "cert-manager.io/v1",
    },
    "reason": "Issuing",
    "type": "Normal",
    "source": {"component": "cert-manager"},
    "reportingComponent": "cert-manager-ctrl",
}

FIELD_MATCH_CASES = [
    (
        "kubectl describe query",
        "involvedObject.name=demo,involvedObject.namespace=default,involvedObject.kind=Certificate,"
        "involvedObject.uid=u1",
        True,
    ),
    (
        "kubectl events query",
        "involvedObject.kind=Certificate,involvedObject.apiVersion=cert-manager.io/v1,"
        "involvedObject.name=demo",
        True,
    ),
    ("other name", "involvedObject.name=other", False),
    ("source is the component", "source=cert-manager", True),
    ("reporting component", "reportingComponent=cert-manager-ctrl", True),
    ("type not equal", "type!=Warning", True),
    ("double equals", "reason==Issuing", True),
    ("absent field is empty", "involvedObject.fieldPath=", True),
    ("metadata name", "metadata.name=e1", True),
    ("metadata namespace", "metadata.namespace=kube-system", False),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in FIELD_MATCH_CASES], ids=[c[0] for c in FIELD_MATCH_CASES]
)
def test_event_field_selectors_match(text, expected):
    assert parse_field_selector(text, builtin("", "events")).matches(EVENT) is expected


def test_secret_supports_type_field():
    sel = parse_field_selector("type=kubernetes.io/tls", builtin("", "secrets"))
    assert sel.matches({"type": "kubernetes.io/tls"})


def test_namespace_supports_status_phase():
    sel = parse_field_selector("status.phase=Active", builtin("", "namespaces"))
    assert sel.matches({"status": {"phase": "Active"}})


@pytest.mark.parametrize(
    ("text", "rt", "message"),
    [
        ("spec.secretName=x", CERT, "field label not supported: spec.secretName"),
        ("type=Opaque", CERT, "field label not supported: type"),
        ("reason=x", None, None),
        ("data=x", builtin("", "secrets"), "field label not supported: data"),
    ],
    ids=["cr spec field", "cr type field", "no kind means no check", "secret data"],
)
def test_unsupported_field_labels_are_400(text, rt, message):
    if message is None:
        parse_field_selector(text, rt)
        return
    with pytest.raises(StatusError) as err:
        parse_field_selector(text, rt)
    assert (err.value.code, err.value.reason, err.value.message) == (400, "BadRequest", message)


def test_crd_selectable_fields_are_supported():
    rt = ResourceType(
        group="g.io",
        version="v1",
        plural="xs",
        singular="x",
        kind="X",
        list_kind="XList",
        namespaced=True,
        selectable_fields=("spec.color",),
    )
    sel = parse_field_selector("spec.color=red", rt)
    assert sel.matches({"spec": {"color": "red"}})


FIELD_SYNTAX_CASES = [
    (
        "no operator",
        "metadata.name",
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
    ),
    ("bad escape", r"metadata.name=a\b", "invalid field selector: invalid escape sequence: \\b"),
    (
        "unescaped equals",
        "metadata.name=a=b",
        "invalid field selector: unescaped character in value: =",
    ),
    (
        "trailing backslash",
        "metadata.name=a\\",
        "invalid field selector: invalid escape sequence: \\",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in FIELD_SYNTAX_CASES], ids=[c[0] for c in FIELD_SYNTAX_CASES]
)
def test_bad_field_selector_syntax_is_400(text, message):
    with pytest.raises(StatusError) as err:
        parse_field_selector(text)
    assert err.value.message == message


def test_field_selector_unescapes_commas_in_values():
    sel = parse_field_selector(r"metadata.name=a\,b")
    assert sel.terms == (FieldTerm("metadata.name", "a,b"),)


def test_field_selector_value_for_finds_an_equality_term():
    sel = parse_field_selector("metadata.name=x,metadata.namespace!=y")
    assert (sel.value_for("metadata.name"), sel.value_for("metadata.namespace")) == ("x", None)


def test_go_quote_escapes_like_go():
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


def status_code_of(call) -> int | None:
    """Run ``call``; return the StatusError code it raised, or None. Anything else propagates."""
    try:
        call()
    except StatusError as err:
        return err.code
    return None


@given(st.text(max_size=60))
def test_label_selector_parsing_never_raises_anything_but_status_error(text):
    assert status_code_of(lambda: parse_label_selector(text)) in (None, 400)


@given(st.text(alphabet="ab=!(),<> in\\notx-_./1", max_size=40))
def test_label_selector_grammar_soup_never_raises_anything_but_status_error(text):
    def parse_and_match() -> None:
        parse_label_selector(text).matches({"a": "1", "b": "x"})

    assert status_code_of(parse_and_match) in (None, 400)


@given(st.text(max_size=60))
def test_field_selector_parsing_never_raises_anything_but_status_error(text):
    def parse_and_match() -> None:
        parse_field_selector(text, CERT).matches({"metadata": {"name": "x"}})

    assert status_code_of(parse_and_match) in (None, 400)
