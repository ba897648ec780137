"""The ACME issuer: account check (SPEC §6.1) and the CertificateRequest path (SPEC §6.5)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith.acme.client import AcmeClient
from certsmith.api.certmanager import AnyIssuer, CertificateRequest
from certsmith.api.conditions import EventReason, IssuerReason
from certsmith.api.meta import Condition, encode_bytes
from certsmith.client.resources import ORDERS
from certsmith.issuers.acme import AcmeIssuer
from certsmith.issuers.acme.accounts import NOT_AVAILABLE, AccountRegistry, ClientNotAvailableError
from certsmith.issuers.acme.setup import key_hash
from certsmith.issuers.base import IssuerNotReady, SignFailed, SignPending
from tests.builders import (
    cached_ec_key,
    make_cert_request,
    make_csr_pem,
    make_issuer,
    make_secret,
    private_key_pem,
)
from tests.fakes import StaticIssuerContext
from tests.pkitools import key as pki_key
from tests.pkitools import make_cert, make_leaf, make_root, pem
from tests.unit.acme_controllers.fakeacme import FakeAcme, problem

NS = "ns"


def issuer(**acme: Any) -> AnyIssuer:
    spec = {
        "server": "https://ca.test/dir",
        "email": "ops@example.com",
        "privateKeySecretRef": {"name": "account"},
        "solvers": [{"http01": {"ingress": {}}}],
        **acme,
    }
    obj = make_issuer("le", namespace=NS, acme=spec)
    obj.metadata.uid = "issuer-uid"
    return obj


def ready(obj: AnyIssuer, **acme_status: str) -> AnyIssuer:
    data = obj.to_dict()
    data["status"] = {
        "conditions": [
            Condition(
                type="Ready",
                status="True",
                reason="ACMEAccountRegistered",
                message="",
                last_transition_time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            ).to_dict()
        ],
        "acme": acme_status,
    }
    return type(obj).from_dict(data)


@pytest.fixture
def fake() -> FakeAcme:
    return FakeAcme()


@pytest.fixture
def acme(fake: FakeAcme) -> AcmeIssuer:
    registry = AccountRegistry(factory=lambda settings, key, observer: cast(AcmeClient, fake))
    return AcmeIssuer(registry)


@pytest.fixture
def ctx() -> StaticIssuerContext:
    return StaticIssuerContext()


def rsa_account(ctx: StaticIssuerContext) -> rsa.RSAPrivateKey:
    key = pki_key("rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    ctx.add(make_secret("account", namespace=NS, data={"tls.key": private_key_pem(key)}))
    return key


# -- check ----------------------------------------------------------------------------------------


async def test_v1_url_is_invalid_config(acme: AcmeIssuer, ctx: StaticIssuerContext) -> None:
    url = "https://acme-v01.api.letsencrypt.org/directory"
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(server=url), ctx)
    assert caught.value.reason == IssuerReason.INVALID_CONFIG
    assert caught.value.message == (
        f"Your ACME server URL is set to a v1 endpoint ({url}). You should update the "
        'spec.acme.server field to "https://acme-v02.api.letsencrypt.org/directory"'
    )
    assert caught.value.retry is False


async def test_missing_key_is_generated_and_the_account_registered(
    acme: AcmeIssuer, ctx: StaticIssuerContext, fake: FakeAcme
) -> None:
    fake.account = fake.account.__class__(
        url=fake.account.url, status="valid", contact=("mailto:ops@example.com",)
    )
    result = await acme.check(issuer(), ctx)
    secret = ctx.secrets[(NS, "account")]
    assert secret.metadata.labels == {"app.kubernetes.io/managed-by": "cert-manager"}
    pem_bytes = secret.decoded("tls.key") or b""
    assert pem_bytes.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    key = await ctx.private_key(secret)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert result.reason == IssuerReason.ACME_ACCOUNT_REGISTERED
    assert result.message == "The ACME account was registered with the ACME server"
    assert result.status == {
        "acme": {
            "uri": "https://ca.test/acct/1",
            "lastRegisteredEmail": "ops@example.com",
            "lastPrivateKeyHash": key_hash(key),
        }
    }
    assert acme.accounts.get("issuer-uid") is cast(AcmeClient, fake)
    assert fake.called("register_account")[0][0] == ("ops@example.com",)
    assert fake.called("update_account") == []


async def test_disabled_key_generation_with_no_secret_cannot_verify(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(disableAccountKeyGeneration=True), ctx)
    assert caught.value.reason == IssuerReason.ERR_VERIFY_ACME_ACCOUNT
    assert caught.value.message.startswith(
        "Failed to verify ACME account: the ACME issuer config has "
        "'disableAccountKeyGeneration' set to true, but the secret was not found: "
    )
    assert (NS, "account") not in ctx.secrets


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"tls.key": private_key_pem(pki_key("p256"))},
            'ACME private key in "account" is not of type RSA',
        ),
        ({"tls.key": b"junk"}, "Account private key is invalid: "),
    ],
)
async def test_unusable_account_keys_are_refused(
    acme: AcmeIssuer, ctx: StaticIssuerContext, data: dict[str, bytes], message: str
) -> None:
    ctx.add(make_secret("account", namespace=NS, data=data))
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(), ctx)
    assert caught.value.reason == IssuerReason.ERR_VERIFY_ACME_ACCOUNT
    assert caught.value.message.startswith(message)
    assert caught.value.retry is False


async def test_unchanged_ready_issuer_is_not_registered_again(
    acme: AcmeIssuer, ctx: StaticIssuerContext, fake: FakeAcme
) -> None:
    key = rsa_account(ctx)
    cached = ready(
        issuer(),
        uri="https://ca.test/acct/1",
        lastRegisteredEmail="ops@example.com",
        lastPrivateKeyHash=key_hash(key),
    )
    result = await acme.check(cached, ctx)
    assert result.reason == IssuerReason.ACME_ACCOUNT_REGISTERED
    assert result.status == {}
    assert fake.calls == []
    assert acme.accounts.get("issuer-uid") is cast(AcmeClient, fake)


async def test_changed_email_updates_the_account(
    acme: AcmeIssuer, ctx: StaticIssuerContext, fake: FakeAcme
) -> None:
    key = rsa_account(ctx)
    cached = ready(
        issuer(email="new@example.com"),
        uri="https://ca.test/acct/1",
        lastRegisteredEmail="old@example.com",
        lastPrivateKeyHash=key_hash(key),
    )
    result = await acme.check(cached, ctx)
    assert fake.called("update_account") == [(("new@example.com",), {})]
    assert result.status["acme"]["lastRegisteredEmail"] == "new@example.com"


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (problem(400, "malformed", "bad contact"), False),
        (problem(500, "serverInternal", "boom"), True),
    ],
)
async def test_registration_failures_retry_unless_4xx(
    acme: AcmeIssuer,
    ctx: StaticIssuerContext,
    fake: FakeAcme,
    error: Exception,
    retry: bool,
) -> None:
    rsa_account(ctx)
    fake.fail("register_account", error)
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(), ctx)
    assert caught.value.reason == IssuerReason.ERR_REGISTER_ACME_ACCOUNT
    assert caught.value.message == f"Failed to register ACME account: {error}"
    assert caught.value.retry is retry
    with pytest.raises(ClientNotAvailableError, match=NOT_AVAILABLE):
        acme.accounts.get("issuer-uid")


async def test_eab_key_is_decoded_and_sent(
    acme: AcmeIssuer, ctx: StaticIssuerContext, fake: FakeAcme
) -> None:
    rsa_account(ctx)
    mac = base64.urlsafe_b64encode(b"0123456789abcdef").rstrip(b"=")
    ctx.add(make_secret("eab", namespace=NS, data={"secret": mac}))
    binding = {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}
    await acme.check(issuer(externalAccountBinding=binding), ctx)
    eab = fake.called("register_account")[0][1]["eab"]
    assert eab.key_id == "kid-1"
    assert eab.mac_key == b"0123456789abcdef"


async def test_missing_eab_secret_fails_registration(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    rsa_account(ctx)
    binding = {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(externalAccountBinding=binding), ctx)
    assert caught.value.reason == IssuerReason.ERR_REGISTER_ACME_ACCOUNT
    assert caught.value.message == 'Failed to register ACME account: secrets "eab" not found'


async def test_missing_dns01_credentials_are_an_invalid_solver(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    rsa_account(ctx)
    ctx.add(make_secret("tsig", namespace=NS, data={"other": b"x"}))
    solvers = [
        {
            "dns01": {
                "rfc2136": {
                    "nameserver": "192.0.2.1",
                    "tsigKeyName": "k",
                    "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
                }
            }
        },
        {"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "token"}}}},
    ]
    with pytest.raises(IssuerNotReady) as caught:
        await acme.check(issuer(solvers=solvers), ctx)
    assert caught.value.reason == IssuerReason.INVALID_SOLVER
    assert caught.value.message == (
        'the secret "tsig" does not have key "secret"; '
        'failed to get secret "cf": secrets "cf" not found'
    )


# -- sign -----------------------------------------------------------------------------------------


def request(csr: bytes | None = None) -> CertificateRequest:
    cr = make_cert_request(
        "web-1",
        namespace=NS,
        issuer="le",
        csr=csr or make_csr_pem(common_name="example.com", dns_names=["example.com"]),
        annotations={"cert-manager.io/certificate-name": "web"},
    )
    cr.metadata.uid = "cr-uid"
    cr.metadata.labels = {"app": "web"}
    return cr


async def test_sign_creates_one_order_per_request(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(SignPending) as caught:
        await acme.sign(request(), issuer(), ctx)
    [(resource, namespace, name)] = list(ctx.objects)
    assert (resource, namespace) == (ORDERS.plural, NS)
    assert caught.value.event_reason == EventReason.ORDER_CREATED
    assert caught.value.message == f"Created Order resource {NS}/{name}"
    order = ctx.objects[(resource, namespace, name)]
    assert name.startswith("web-1-")
    assert order["metadata"]["labels"] == {"app": "web"}
    assert order["metadata"]["annotations"] == {"cert-manager.io/certificate-name": "web"}
    [owner] = order["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "CertificateRequest",
        "web-1",
        "cr-uid",
        True,
    )
    assert order["spec"]["commonName"] == "example.com"
    assert order["spec"]["dnsNames"] == ["example.com"]
    # The second sign finds it instead of creating another.
    with pytest.raises(SignPending, match=r'Waiting on certificate issuance from order .*: ""'):
        await acme.sign(request(), issuer(), ctx)
    assert len(ctx.objects) == 1


def set_order(ctx: StaticIssuerContext, **status: Any) -> str:
    [(key, order)] = list(ctx.objects.items())
    order["status"] = status
    return key[2]


async def test_failed_order_fails_the_request_with_its_reason(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(SignPending):
        await acme.sign(request(), issuer(), ctx)
    name = set_order(ctx, state="invalid", reason="urn:...:unauthorized: nope")
    with pytest.raises(SignFailed) as caught:
        await acme.sign(request(), issuer(), ctx)
    assert caught.value.event_reason == EventReason.ORDER_FAILED
    assert caught.value.message == (
        f'Failed to wait for order resource "{name}" to become ready: order is in "invalid" '
        "state: urn:...:unauthorized: nope"
    )


async def test_valid_order_issues_its_chain_without_a_ca(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    csr = make_csr_pem(common_name="example.com", dns_names=["example.com"])
    with pytest.raises(SignPending):
        await acme.sign(request(csr), issuer(), ctx)
    name = set_order(ctx, state="valid")
    with pytest.raises(
        SignPending,
        match=f"Waiting for order-controller to add certificate data to Order {NS}/{name}",
    ):
        await acme.sign(request(csr), issuer(), ctx)
    root, root_key = make_root("Root")
    leaf = make_cert("example.com", subject_key=cached_ec_key(), issuer=root, issuer_key=root_key)
    chain = pem(leaf, root)
    set_order(ctx, state="valid", certificate=encode_bytes(chain))
    issued = await acme.sign(request(csr), issuer(), ctx)
    assert issued.chain_pem == chain
    assert issued.ca_pem == b""


async def test_a_chain_for_another_key_deletes_the_order(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(SignPending):
        await acme.sign(request(), issuer(), ctx)
    root, root_key = make_root("Root")
    leaf = make_leaf("example.com", root, root_key)
    set_order(ctx, state="valid", certificate=encode_bytes(pem(leaf, root)))
    with pytest.raises(SignPending):
        await acme.sign(request(), issuer(), ctx)
    assert ctx.objects == {}


async def test_common_name_outside_the_sans_fails(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    csr = make_csr_pem(common_name="other.example.com", dns_names=["example.com"])
    with pytest.raises(SignFailed) as caught:
        await acme.sign(request(csr), issuer(), ctx)
    assert caught.value.event_reason == EventReason.INVALID_ORDER
    assert caught.value.message.endswith(
        ': "other.example.com" does not exist in [example.com] or []'
    )
    assert ctx.objects == {}


async def test_an_order_owned_by_another_request_is_waited_out(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(SignPending):
        await acme.sign(request(), issuer(), ctx)
    [order] = ctx.objects.values()
    order["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    with pytest.raises(SignPending) as caught:
        await acme.sign(request(), issuer(), ctx)
    assert caught.value.message == (
        "found Order resource not owned by this CertificateRequest, retrying"
    )
    assert caught.value.retry_after == 0


async def test_a_waiting_order_passes_its_reason_on_to_the_request(
    acme: AcmeIssuer, ctx: StaticIssuerContext
) -> None:
    with pytest.raises(SignPending):
        await acme.sign(request(), issuer(), ctx)
    reason = "Failed to create Order: rate limited by the ACME server, not retrying before X"
    name = set_order(ctx, reason=reason)
    with pytest.raises(SignPending) as caught:
        await acme.sign(request(), issuer(), ctx)
    assert caught.value.message == (
        f'Waiting on certificate issuance from order {NS}/{name}: "": {reason}'
    )
