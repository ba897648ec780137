import base64

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import pytest

from certsmith.acme.dns01 import ChallengeRequest, DNS01ConfigError
from certsmith.acme.dns01.rfc2136 import (
    RFC2136Provider,
    TsigKey,
    build_update,
    parse_tsig_algorithm,
)
from certsmith.api.acme import ACMEIssuerDNS01ProviderRFC2136
from certsmith.util.sensitive import Sensitive
from tests.dns01tools import SecretStore, make_opaque_secret

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def request(action="present", key="txt-value") -> ChallengeRequest:
    return ChallengeRequest(
        uid="uid-1",
        action=action,
        dns_name="www.example.test",
        key=key,
        resource_namespace="ns",
        resolved_fqdn="_acme-challenge.www.example.test.",
        resolved_zone="example.test.",
    )


@pytest.mark.parametrize(
    ("text", "algorithm"),
    [
        (None, dns.tsig.HMAC_MD5),
        ("", dns.tsig.HMAC_MD5),
        ("HMACMD5", dns.tsig.HMAC_MD5),
        ("hmacmd5", dns.tsig.HMAC_MD5),
        ("HMACSHA1", dns.tsig.HMAC_SHA1),
        ("HmacSha256", dns.tsig.HMAC_SHA256),
        ("hmacsha512", dns.tsig.HMAC_SHA512),
    ],
)
def test_tsig_algorithm_parses_case_insensitively_with_md5_default(text, algorithm):
    assert parse_tsig_algorithm(text) == algorithm


@pytest.mark.parametrize("text", ["HMACSHA384", "hmac-sha256", "SHA256"])
def test_unsupported_tsig_algorithm_lists_the_supported_ones(text):
    with pytest.raises(DNS01ConfigError) as err:
        parse_tsig_algorithm(text)
    assert str(err.value) == (
        f'unsupported TSIG algorithm "{text}" (supported: HMACMD5, HMACSHA1, HMACSHA256, '
        "HMACSHA512)"
    )


def test_present_adds_the_txt_value_with_ttl_60_in_the_resolved_zone():
    update = build_update(request("present"), tsig=None)
    assert update.zone[0].name == dns.name.from_text("example.test.")
    (rrset,) = update.update
    assert rrset.name == dns.name.from_text("_acme-challenge.www.example.test.")
    assert rrset.rdclass == dns.rdataclass.IN
    assert rrset.rdtype == dns.rdatatype.TXT
    assert rrset.ttl == 60
    assert [b"".join(r.strings) for r in rrset] == [b"txt-value"]


def test_cleanup_deletes_only_that_txt_value():
    update = build_update(request("cleanup"), tsig=None)
    (rrset,) = update.update
    # RFC 2136 §2.5.4: class NONE, TTL 0, the exact RDATA to delete.
    assert rrset.deleting == dns.rdataclass.NONE
    assert rrset.ttl == 0
    assert [b"".join(r.strings) for r in rrset] == [b"txt-value"]
    assert '_acme-challenge.www.example.test. 0 NONE TXT "txt-value"' in update.to_text()


def test_signed_update_uses_the_key_with_fudge_300():
    key = TsigKey("tsig-key.", dns.tsig.HMAC_SHA256, Sensitive(SECRET))
    update = build_update(request(), tsig=key)
    assert update.keyname == dns.name.from_text("tsig-key.")
    assert update.keyalgorithm == dns.tsig.HMAC_SHA256
    wire = update.to_wire()  # signing happens here
    assert update.tsig is not None
    assert update.tsig[0].fudge == 300
    assert len(wire) > 0


def test_tsig_key_with_invalid_base64_secret_is_a_config_error():
    with pytest.raises(
        DNS01ConfigError, match=r'the TSIG secret for key "k\." is not valid base64'
    ):
        TsigKey("k.", dns.tsig.HMAC_MD5, Sensitive("not base64!"))


def test_tsig_key_never_prints_its_secret():
    key = TsigKey("k.", dns.tsig.HMAC_MD5, Sensitive(SECRET))
    assert SECRET not in repr(key)
    assert SECRET not in str(key)


def provider(store: SecretStore, **config) -> RFC2136Provider:
    fields = {"nameserver": "127.0.0.1:53"} | config
    return RFC2136Provider(ACMEIssuerDNS01ProviderRFC2136.from_dict(fields), store)


async def test_tsig_key_name_is_made_absolute_and_secret_read_from_resource_namespace():
    store = SecretStore(make_opaque_secret("tsig", {"secret": SECRET + "\n"}, namespace="team"))
    rfc = provider(
        store,
        tsigKeyName="tsig-key",
        tsigAlgorithm="HMACSHA512",
        tsigSecretSecretRef={"name": "tsig", "key": "secret"},
    )
    key = await rfc.tsig_key("team")
    assert key is not None
    assert key.name == dns.name.from_text("tsig-key.")
    assert key.algorithm == dns.tsig.HMAC_SHA512
    assert store.reads == [("team", "tsig")]


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"tsigKeyName": "tsig-key"},
        {"tsigSecretSecretRef": {"name": "tsig", "key": "secret"}},
    ],
)
async def test_updates_are_unsigned_without_both_key_name_and_secret(config):
    store = SecretStore(make_opaque_secret("tsig", {"secret": SECRET}))
    assert await provider(store, **config).tsig_key("ns") is None


async def test_updates_are_unsigned_when_the_secret_value_is_empty():
    store = SecretStore(make_opaque_secret("tsig", {"secret": ""}))
    rfc = provider(store, tsigKeyName="k", tsigSecretSecretRef={"name": "tsig", "key": "secret"})
    assert await rfc.tsig_key("ns") is None


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ((), 'failed to get secret "tsig": secrets "tsig" not found'),
        (
            (make_opaque_secret("tsig", {"other": SECRET}),),
            'the secret "tsig" does not have key "secret"',
        ),
    ],
)
async def test_missing_tsig_secret_or_key_gives_cert_manager_texts(secrets, message):
    rfc = provider(
        SecretStore(*secrets),
        tsigKeyName="k",
        tsigSecretSecretRef={"name": "tsig", "key": "secret"},
    )
    with pytest.raises(DNS01ConfigError) as err:
        await rfc.present(request())
    assert str(err.value) == message


async def test_unsupported_algorithm_fails_before_any_secret_is_read():
    store = SecretStore(make_opaque_secret("tsig", {"secret": SECRET}))
    rfc = provider(
        store,
        tsigKeyName="k",
        tsigAlgorithm="HMACSHA384",
        tsigSecretSecretRef={"name": "tsig", "key": "secret"},
    )
    with pytest.raises(DNS01ConfigError, match="unsupported TSIG algorithm"):
        await rfc.present(request())
    assert store.reads == []
