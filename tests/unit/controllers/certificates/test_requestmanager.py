"""Pure decisions of the request manager: stable names, copied annotations (SPEC §5.4)."""

from __future__ import annotations

import hashlib

import pytest

from certsmith.controllers.certificates.requestmanager import (
    copied_annotations,
    dns_safe_shorten,
    request_name,
)


def test_short_names_are_cert_dash_revision() -> None:
    assert request_name("web", 1) == "web-1"


def test_names_up_to_233_characters_are_kept() -> None:
    assert request_name("a" * 233, 7) == "a" * 233 + "-7"


def test_longer_names_become_a_168_character_prefix_and_the_sha256_of_the_name() -> None:
    name = "a" * 234
    digest = hashlib.sha256(name.encode()).hexdigest()
    assert request_name(name, 2) == f"{'a' * 168}-{digest}-2"


def test_the_prefix_never_ends_in_a_dot_or_dash() -> None:
    assert dns_safe_shorten("abc.-def", 5) == "abc"


@pytest.mark.parametrize(
    ("key", "copied"),
    [
        ("example.com/team", True),
        ("kubectl.kubernetes.io/last-applied-configuration", False),
        ("fluxcd.io/sync", False),
        ("argocd.argoproj.io/tracking-id", False),
    ],
)
def test_default_prefixes_copy_all_but_tooling_annotations(key: str, copied: bool) -> None:
    assert (key in copied_annotations({key: "v"})) is copied


def test_an_explicit_include_list_copies_only_those_prefixes() -> None:
    given = {"a.io/x": "1", "b.io/y": "2"}
    assert copied_annotations(given, ["a.io/"]) == {"a.io/x": "1"}
