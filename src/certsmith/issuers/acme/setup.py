"""The ACME issuer's check: the account key, the account, and the Ready condition (SPEC §6.1).

Steps, as cert-manager's ``pkg/issuer/acme/setup.go``:

1. A Let's Encrypt v1 directory → ``InvalidConfig`` (not retried).
2. The account key from ``privateKeySecretRef`` (key ``tls.key`` by default) in the resource
   namespace. Missing: generate RSA-2048, store it PKCS#1 (label
   ``app.kubernetes.io/managed-by: cert-manager``) and forget the old account URI, unless
   ``disableAccountKeyGeneration`` (then ``ErrVerifyACMEAccount``). Undecodable → ``Account
   private key is invalid: ...``; not RSA → ``ACME private key in "<name>" is not of type RSA``.
3. DNS-01 credential Secrets must exist and hold their keys (``InvalidSolver``).
4. Server and account URLs must parse (``InvalidURL``, with a Warning event).
5. Skip the server round trip when already Ready, the account URI is on the server's host, and
   email and key hash are unchanged (the client is registered from the cached details).
6. Otherwise register (idempotent for an existing key, with EAB from ``keySecretRef``, MAC key
   unpadded base64url), update the contact email if it differs, and record ``status.acme``
   (``uri``, ``lastRegisteredEmail``, ``lastPrivateKeyHash`` = base64 SHA-256 of the PKCS#1 key).
   4xx answers are not retried; other failures are.

The client that passed goes to the :class:`~certsmith.issuers.acme.accounts.AccountRegistry`
under the issuer's UID, where the Order and Challenge controllers find it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith.acme.jws import decode_mac_key
from certsmith.acme.models import ExternalAccountBinding
from certsmith.acme.problems import AcmeError, is_client_error
from certsmith.api.acme import ACMEIssuer, ACMEIssuerStatus
from certsmith.api.certmanager import AnyIssuer
from certsmith.api.conditions import (
    ConditionStatus,
    ConditionType,
    EventReason,
    EventType,
    IssuerReason,
)
from certsmith.api.core import Secret
from certsmith.api.meta import ObjectMeta, get_condition
from certsmith.client.errors import AlreadyExists
from certsmith.issuers.acme.accounts import AccountRegistry, ClientSettings
from certsmith.issuers.base import (
    IssuerContext,
    IssuerEvent,
    IssuerNotReady,
    IssuerReady,
)
from certsmith.pki.keys import KeyDecodeError, encode_private_key_pem

log = logging.getLogger(__name__)

DEFAULT_KEY: Final = "tls.key"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "cert-manager"
ACCOUNT_KEY_BITS: Final = 2048

REGISTERED_MESSAGE: Final = "The ACME account was registered with the ACME server"
REGISTRATION_FAILED: Final = "Failed to register ACME account: "
VERIFICATION_FAILED: Final = "Failed to verify ACME account: "
UPDATE_FAILED: Final = "Failed to update ACME account:"
KEY_GENERATION_DISABLED: Final = (
    "the ACME issuer config has 'disableAccountKeyGeneration' set to true, but the secret "
    "was not found: "
)
INVALID_PRIVATE_KEY: Final = "Account private key is invalid: "

V1_TO_V2: Final = {
    "https://acme-staging.api.letsencrypt.org/directory": (
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    ),
    "https://acme-v01.api.letsencrypt.org/directory": (
        "https://acme-v02.api.letsencrypt.org/directory"
    ),
}


def key_hash(key: rsa.RSAPrivateKey) -> str:
    """``lastPrivateKeyHash``: base64 (standard) of SHA-256 over the PKCS#1 DER key."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def acme_spec(issuer: AnyIssuer) -> ACMEIssuer:
    """The issuer's ``spec.acme``.

    Raises:
        TypeError: the issuer is not an ACME issuer.
    """
    if issuer.spec.acme is None:
        raise TypeError("AcmeIssuer called for an issuer without spec.acme")
    return issuer.spec.acme


def _not_ready(
    reason: IssuerReason,
    message: str,
    *,
    retry: bool,
    event: EventReason | None = None,
    status: dict[str, Any] | None = None,
) -> IssuerNotReady:
    note = IssuerEvent(EventType.WARNING, event, message) if event is not None else None
    return IssuerNotReady(reason, message, retry=retry, event=note, status=status)


class AccountSetup:
    """Runs the check of one ACME issuer against ``registry``."""

    def __init__(self, registry: AccountRegistry) -> None:
        """Register verified clients in ``registry``."""
        self.registry = registry

    async def check(self, issuer: AnyIssuer, ctx: IssuerContext) -> IssuerReady:
        """See the module docstring.

        Raises:
            IssuerNotReady: any step failed; ``retry`` as cert-manager decides.
        """
        spec = acme_spec(issuer)
        uid = issuer.metadata.uid or f"{issuer.namespace}/{issuer.name}"
        v2 = V1_TO_V2.get(spec.server)
        if v2 is not None:
            raise _not_ready(
                IssuerReason.INVALID_CONFIG,
                f"Your ACME server URL is set to a v1 endpoint ({spec.server}). You should "
                f'update the spec.acme.server field to "{v2}"',
                retry=False,
            )
        namespace = ctx.resource_namespace(issuer)
        status = (
            issuer.status.acme.model_copy()
            if issuer.status and issuer.status.acme
            else ACMEIssuerStatus()
        )
        key = await self._account_key(spec, namespace, ctx, status)
        await self._check_solver_secrets(spec, namespace, ctx)

        server = urlsplit(spec.server)
        if not server.scheme or not server.netloc:
            message = f'Failed to parse existing ACME server URI "{spec.server}": missing host'
            raise _not_ready(
                IssuerReason.INVALID_URL, message, retry=False, event=EventReason.INVALID_URL
            )
        account_host = urlsplit(status.uri).netloc if status.uri else ""
        hashed = key_hash(key)
        settings = ClientSettings(
            server=spec.server,
            key_hash=hashed,
            ca_bundle=spec.ca_bundle_pem,
            skip_tls_verify=bool(spec.skip_tls_verify),
            account_url=status.uri if status.uri and account_host == server.netloc else None,
        )
        ready = get_condition(
            issuer.status.conditions if issuer.status else None, ConditionType.READY
        )
        if (
            ready is not None
            and ready.status == ConditionStatus.TRUE
            and status.uri
            and account_host == server.netloc
            and (status.last_registered_email or "") == (spec.email or "")
            and status.last_private_key_hash == hashed
        ):
            self.registry.put(uid, settings, self.registry.client_for(uid, settings, key))
            return IssuerReady(IssuerReason.ACME_ACCOUNT_REGISTERED, REGISTERED_MESSAGE)

        eab = await self._eab(spec, namespace, ctx)
        client = self.registry.client_for(uid, settings, key)
        try:
            account = await client.register_account(spec.email or None, eab=eab)
        except (AcmeError, ValueError) as err:
            self.registry.remove(uid)
            retry = not is_client_error(err)
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT, f"{REGISTRATION_FAILED}{err}", retry=retry
            ) from None
        registered = account.emails[0] if account.emails else ""
        spec_email = spec.email or ""
        if registered != spec_email:
            try:
                await client.update_account(spec_email or None)
            except AcmeError as err:
                self.registry.remove(uid)
                raise _not_ready(
                    IssuerReason.ERR_UPDATE_ACME_ACCOUNT,
                    f"{UPDATE_FAILED}{err}",
                    retry=not is_client_error(err),
                    event=EventReason.ERR_UPDATE_ACME_ACCOUNT,
                ) from None
            registered = spec_email
        self.registry.put(uid, settings, client)
        new_status = ACMEIssuerStatus(
            uri=account.url,
            last_registered_email=registered or None,
            last_private_key_hash=hashed,
        )
        return IssuerReady(
            IssuerReason.ACME_ACCOUNT_REGISTERED,
            REGISTERED_MESSAGE,
            status={"acme": new_status.to_dict()},
        )

    async def _account_key(
        self, spec: ACMEIssuer, namespace: str, ctx: IssuerContext, status: ACMEIssuerStatus
    ) -> rsa.RSAPrivateKey:
        ref = spec.private_key_secret_ref
        data_key = ref.key or DEFAULT_KEY
        try:
            secret = await ctx.get_secret(namespace, ref.name)
        except Exception as err:
            raise _not_ready(
                IssuerReason.ERR_VERIFY_ACME_ACCOUNT, f"{VERIFICATION_FAILED}{err}", retry=True
            ) from None
        if secret is None:
            if spec.disable_account_key_generation:
                raise _not_ready(
                    IssuerReason.ERR_VERIFY_ACME_ACCOUNT,
                    f'{VERIFICATION_FAILED}{KEY_GENERATION_DISABLED}secrets "{ref.name}" not found',
                    retry=True,
                )
            status.uri = None
            return await self._generate(ref.name, data_key, namespace, ctx)
        try:
            key = await ctx.private_key(secret, data_key)
        except KeyDecodeError as err:
            raise _not_ready(
                IssuerReason.ERR_VERIFY_ACME_ACCOUNT, f"{INVALID_PRIVATE_KEY}{err}", retry=False
            ) from None
        if key is None:
            raise _not_ready(
                IssuerReason.ERR_VERIFY_ACME_ACCOUNT,
                f'{INVALID_PRIVATE_KEY}no data for "{data_key}" in secret '
                f"'{namespace}/{ref.name}'",
                retry=False,
            )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise _not_ready(
                IssuerReason.ERR_VERIFY_ACME_ACCOUNT,
                f'ACME private key in "{ref.name}" is not of type RSA',
                retry=False,
            )
        return key

    async def _generate(
        self, name: str, data_key: str, namespace: str, ctx: IssuerContext
    ) -> rsa.RSAPrivateKey:
        key = await asyncio.to_thread(rsa.generate_private_key, 65537, ACCOUNT_KEY_BITS)
        secret = Secret(
            metadata=ObjectMeta(
                name=name, namespace=namespace, labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE}
            ),
            data=Secret.encode_data({data_key: encode_private_key_pem(key, "PKCS1")}),
        )
        try:
            await ctx.create_secret(secret)
        except AlreadyExists:
            # Another check created it first; use that one next time round.
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT,
                f'{REGISTRATION_FAILED}secret "{name}" was created concurrently; retrying',
                retry=True,
            ) from None
        except Exception as err:
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT, f"{REGISTRATION_FAILED}{err}", retry=True
            ) from None
        log.info("generated ACME account key in secret %s/%s", namespace, name)
        return key

    async def _eab(
        self, spec: ACMEIssuer, namespace: str, ctx: IssuerContext
    ) -> ExternalAccountBinding | None:
        binding = spec.external_account_binding
        if binding is None:
            return None
        ref = binding.key_secret_ref
        try:
            secret = await ctx.get_secret(namespace, ref.name)
        except Exception as err:
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT,
                f"{REGISTRATION_FAILED}failed to get External Account Binding key from "
                f"secret: {err}",
                retry=True,
            ) from None
        if secret is None:
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT,
                f'{REGISTRATION_FAILED}secrets "{ref.name}" not found',
                retry=False,
                event=EventReason.ERR_REGISTER_ACME_ACCOUNT,
            )
        raw = secret.decoded(ref.key or "")
        if raw is None:
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT,
                f"{REGISTRATION_FAILED}failed to find external account binding key data in "
                f'Secret "{ref.name}" at index "{ref.key or ""}"',
                retry=False,
                event=EventReason.ERR_REGISTER_ACME_ACCOUNT,
            )
        try:
            mac_key = decode_mac_key(raw.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError) as err:
            raise _not_ready(
                IssuerReason.ERR_REGISTER_ACME_ACCOUNT,
                f"{REGISTRATION_FAILED}failed to decode external account binding key data: {err}",
                retry=False,
                event=EventReason.ERR_REGISTER_ACME_ACCOUNT,
            ) from None
        return ExternalAccountBinding(key_id=binding.key_id, mac_key=mac_key)

    async def _check_solver_secrets(
        self, spec: ACMEIssuer, namespace: str, ctx: IssuerContext
    ) -> None:
        problems: list[str] = []
        for name, key in dns01_secret_refs(spec):
            try:
                secret = await ctx.get_secret(namespace, name)
            except Exception as err:
                problems.append(f'failed to get secret "{name}": {err}')
                continue
            if secret is None:
                problems.append(f'failed to get secret "{name}": secrets "{name}" not found')
            elif key and secret.decoded(key) is None:
                problems.append(f'the secret "{name}" does not have key "{key}"')
        if problems:
            raise _not_ready(IssuerReason.INVALID_SOLVER, "; ".join(problems), retry=False)


def dns01_secret_refs(spec: ACMEIssuer) -> list[tuple[str, str]]:
    """``(name, key)`` of every Secret the DNS-01 solvers of ``spec`` read."""
    refs: list[tuple[str, str]] = []
    for solver in spec.solvers or ():
        if solver.dns01 is None:
            continue
        refs.extend(_secret_refs(solver.dns01.to_dict()))
    return refs


def _secret_refs(data: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for field_name, value in data.items():
            if field_name.endswith("SecretRef") and isinstance(value, dict) and value.get("name"):
                found.append((str(value["name"]), str(value.get("key") or "")))
            elif field_name != "webhook":
                found.extend(_secret_refs(value))
    return found
