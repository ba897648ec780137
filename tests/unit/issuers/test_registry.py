import pytest

from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.ca import CAIssuer
from certsmith.issuers.registry import BUILTIN, build, load
from certsmith.issuers.selfsigned import SelfSignedIssuer


def test_builtin_issuers_are_keyed_by_their_issuer_spec_field():
    issuers = load(plugins=False)
    assert set(issuers) == {"ca", "selfSigned", "acme"}
    assert isinstance(issuers["acme"], AcmeIssuer)
    assert isinstance(issuers["ca"], CAIssuer)
    assert isinstance(issuers["selfSigned"], SelfSignedIssuer)


def test_two_issuers_claiming_one_spec_key_are_refused():
    with pytest.raises(ValueError, match="'ca'"):
        build((*BUILTIN, CAIssuer))


def test_loading_with_plugins_still_serves_the_builtins():
    assert {"ca", "selfSigned"} <= set(load())
