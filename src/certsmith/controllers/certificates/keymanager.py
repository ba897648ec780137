"""The key manager (``certificates-key-manager``): the private key of the next issuance.

What it decides (SPEC §5.4 "key manager"), and why:

* The next key lives in a temporary Secret (``generateName: <cert>-``, labelled
  ``cert-manager.io/next-private-key: "true"``, controller-owned by the Certificate, ``tls.key``
  in PKCS#8) **only while** ``Issuing=True``: the request manager signs the CSR with it and the
  issuing controller copies it into the target Secret. When not issuing, every such Secret is
  deleted and ``status.nextPrivateKeySecretName`` unset, so a key never outlives its attempt.
* ``rotationPolicy`` ``Always`` (the runtime default, SPEC §10 quirk 22) generates a fresh key;
  ``Never`` copies the key already in ``spec.secretName`` when it fits the spec (``Reused``),
  generates one when there is none or it does not decode (``DecodeFailed``), and **stalls** with
  ``CannotRegenerateKey`` when it no longer fits: regenerating would break the user's promise.
* Crash safety: the Secret is created before the status names it, so a crash in between leaves
  one unnamed Secret, which the next run adopts. Several Secrets (a lost race) are reduced to
  the one named in status; a stale, empty, undecodable or off-spec one is deleted and replaced.

Key material never leaves this module except as the Secret's data: events and logs carry names
and field paths only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from certsmith.api.certmanager import Certificate, CertificateStatus
from certsmith.api.conditions import ConditionType, EventReason, EventType
from certsmith.api.core import Secret
from certsmith.api.meta import is_true
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import SECRETS
from certsmith.controllers.certificates.keycache import KEYS
from certsmith.controllers.certificates.state import (
    FAO_LABEL,
    NEXT_PRIVATE_KEY_LABEL,
    get_secret,
    next_key_secrets,
    owner_reference,
    parse_certificate,
    write_status,
)
from certsmith.controllers.events import EventRecorder, Note
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.pki.keys import (
    KeyDecodeError,
    PrivateKey,
    encode_private_key_pem,
    generate_private_key,
    key_matches_spec,
)

log = logging.getLogger(__name__)


def rotation_policy(cert: Certificate) -> str:
    """``spec.privateKey.rotationPolicy`` with the runtime default ``Always`` applied."""
    private_key = cert.spec.private_key
    return (private_key.rotation_policy if private_key else None) or "Always"


def key_spec(cert: Certificate) -> tuple[str | None, int | None]:
    """``spec.privateKey`` algorithm and size (``None`` means the default)."""
    private_key = cert.spec.private_key
    if private_key is None:
        return None, None
    return private_key.algorithm, private_key.size


def key_violations(cert: Certificate, key: PrivateKey) -> list[str]:
    """The ``spec.privateKey`` fields ``key`` does not satisfy."""
    algorithm, size = key_spec(cert)
    return key_matches_spec(key, algorithm, size)


class KeyManager:
    """Keeps exactly one fitting next-key Secret per issuing Certificate, and none otherwise."""

    def __init__(
        self,
        client: KubeClient,
        *,
        certificates: Informer,
        secrets: Informer,
        recorder: EventRecorder,
    ) -> None:
        """Create the controller.

        Args:
            client: the API client writes go through.
            certificates: the Certificate informer.
            secrets: the metadata-only Secret informer.
            recorder: where Events go.
        """
        self._client = client
        self._certificates = certificates
        self._secrets = secrets
        self._recorder = recorder

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Reconcile one Certificate's next private key; see the module docstring.

        Raises:
            certsmith.client.errors.ApiError: a read or write failed (retried with backoff).
        """
        obj = self._certificates.cache.get_key(key)
        original = parse_certificate(obj)
        if obj is None or original is None:
            return None
        cert = original.model_copy(deep=True)
        status = cert.status or CertificateStatus()
        cert.status = status
        notes: list[Note] = []
        secrets = next_key_secrets(self._secrets, cert)
        names = sorted(str(s["metadata"]["name"]) for s in secrets)
        named = status.next_private_key_secret_name

        if not is_true(status.conditions, ConditionType.ISSUING):
            for name in names:
                await self._delete(cert.namespace, name)
            status.next_private_key_secret_name = None
        elif len(names) > 1:
            # A lost race (or a crash between create and status write, twice): keep the one
            # the status names; the deletions re-queue the Certificate.
            for name in names:
                if name != named:
                    await self._delete(cert.namespace, name)
        elif not names:
            await self._create(cert, status, notes)
        elif named is None:
            status.next_private_key_secret_name = names[0]  # adopt after a crash
        elif named != names[0]:
            await self._delete(cert.namespace, names[0])
        else:
            await self._check_existing(cert, names[0], notes)

        try:
            await write_status(self._client, obj, original, cert, certificates=self._certificates)
        finally:
            # The Secret writes happened whether or not the status write did: report them.
            for note in notes:
                await self._recorder.record(cert, note)
        return None

    async def _check_existing(self, cert: Certificate, name: str, notes: list[Note]) -> None:
        secret = await get_secret(self._client, cert.namespace, name)
        if secret is None:
            return  # deleted meanwhile; the informer event re-queues us
        data = secret.decoded("tls.key")
        if not data:
            await self._delete(cert.namespace, name)
            return
        try:
            key = KEYS.parse(data)
        except KeyDecodeError:
            await self._delete(cert.namespace, name)
            return
        violations = key_violations(cert, key)
        if violations:
            await self._delete(cert.namespace, name)
            notes.append(
                Note(
                    EventType.NORMAL,
                    EventReason.DELETED,
                    f"Regenerating private key due to change in fields: [{' '.join(violations)}]",
                )
            )

    async def _create(
        self, cert: Certificate, status: CertificateStatus, notes: list[Note]
    ) -> None:
        key: PrivateKey | None = None
        reused = False
        if rotation_policy(cert) == "Never":
            existing = await get_secret(self._client, cert.namespace, cert.spec.secret_name)
            data = existing.decoded("tls.key") if existing is not None else None
            if data:
                try:
                    key = KEYS.parse(data)
                except KeyDecodeError:
                    notes.append(
                        Note(
                            EventType.WARNING,
                            EventReason.DECODE_FAILED,
                            "Failed to decode private key stored in Secret "
                            f'"{cert.spec.secret_name}" - generating new key',
                        )
                    )
            if key is not None:
                violations = key_violations(cert, key)
                if violations:
                    notes.append(_cannot_regenerate(cert, violations))
                    return  # issuance stalls until the user intervenes (SPEC §5.4)
                reused = True
        if key is None:
            algorithm, size = key_spec(cert)
            try:
                # RSA generation takes tens of milliseconds: off the event loop.
                key = await asyncio.to_thread(generate_private_key, algorithm, size)
            except ValueError as err:
                log.warning(
                    "certificate %s/%s: cannot generate key: %s", cert.namespace, cert.name, err
                )
                return
        body = self._secret_body(cert, status.next_private_key_secret_name, key)
        created = await self._client.create(SECRETS, cert.namespace, body)
        name = str(created["metadata"]["name"])
        status.next_private_key_secret_name = name
        if reused:
            notes.append(
                Note(
                    EventType.NORMAL,
                    EventReason.REUSED,
                    "Reusing private key stored in existing Secret resource "
                    f'"{cert.spec.secret_name}"',
                )
            )
        notes.append(
            Note(
                EventType.NORMAL,
                EventReason.GENERATED,
                f'Stored new private key in temporary Secret resource "{name}"',
            )
        )

    @staticmethod
    def _secret_body(cert: Certificate, name: str | None, key: PrivateKey) -> dict[str, object]:
        metadata: dict[str, object] = {
            "namespace": cert.namespace,
            "labels": {NEXT_PRIVATE_KEY_LABEL: "true", FAO_LABEL: "true"},
            "ownerReferences": [owner_reference(cert)],
        }
        if name:
            metadata["name"] = name
        else:
            metadata["generateName"] = f"{cert.name}-"
        pem = encode_private_key_pem(key, "PKCS8")
        KEYS.trust(pem)  # generated here or already checked: nobody need check it again
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "data": Secret.encode_data({"tls.key": pem}),
        }

    async def _delete(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            await self._client.delete(SECRETS, namespace, name)


def _cannot_regenerate(cert: Certificate, violations: list[str]) -> Note:
    return Note(
        EventType.WARNING,
        EventReason.CANNOT_REGENERATE_KEY,
        f'User intervention required: existing private key in Secret "{cert.spec.secret_name}" '
        "does not match requirements on Certificate resource, mismatching fields: "
        f"[{' '.join(violations)}], but cert-manager cannot create new private key as the "
        'Certificate\'s .spec.privateKey.rotationPolicy field is set to "Never". The private '
        "key will not be regenerated until you either delete the existing private key Secret, "
        'or update the Certificate\'s .spec.privateKey.rotationPolicy field to "Always"',
    )


__all__ = ["KeyManager", "key_spec", "key_violations", "rotation_policy"]
