from __future__ import annotations

import pytest

from certsmith.apiserver.storage import InvalidArgumentError, ObjectKey, ResourcePrefix
from certsmith.apiserver.storage.model import Continuation, encode, parse_revision


def test_a_continue_token_round_trips():
    token = Continuation(42, "cert-manager.io", "certificates", "ns", 'name/with "odd" chars')

    assert Continuation.decode(token.encode()) == token


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.5", " 1", "١٢"])
def test_resource_versions_must_be_decimal_integers(text):
    with pytest.raises(InvalidArgumentError):
        parse_revision(text)


def test_encoding_is_canonical_whatever_the_key_order():
    one = {"metadata": {"name": "a", "namespace": "n"}, "spec": {"x": 1, "y": 2}}
    two = {"spec": {"y": 2, "x": 1}, "metadata": {"namespace": "n", "name": "a"}}

    assert encode(one, "7") == encode(two, "7")


@pytest.mark.parametrize(
    ("prefix", "matches"),
    [
        (ResourcePrefix("g", "r"), True),
        (ResourcePrefix("g", "r", "ns"), True),
        (ResourcePrefix("g", "r", "other"), False),
        (ResourcePrefix("", "r"), False),
        (ResourcePrefix("g", "other"), False),
    ],
)
def test_a_prefix_matches_its_resource_and_namespace(prefix, matches):
    assert prefix.matches(ObjectKey("g", "r", "ns", "n")) is matches


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        (("g", "", "ns", "n"), ValueError),
        (("g", "r", "ns", ""), ValueError),
        (("g", "r", None, "n"), TypeError),
    ],
)
def test_keys_are_validated_when_built(parts, error):
    with pytest.raises(error):
        ObjectKey(*parts)
