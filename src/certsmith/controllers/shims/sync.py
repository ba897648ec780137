"""The shim reconciler: Certificates from an Ingress's or Gateway's TLS configuration (SPEC §7).

What this module decides:

* Level-triggered: every reconcile reads the object and the namespace's Certificates from the
  informer caches and makes the Certificates match, so a repeat is a no-op and a missed event is
  repaired by the next one. Certificate events re-queue their controlling object.
* Everything is computed before anything is written, as cert-manager does: an invalid spec
  annotation fails the sync (retried with the queue's backoff) without a half-applied result.
* Only Certificates this object controls (controller ownerReference, matched by uid) are
  updated or deleted; a same-named Certificate someone else owns is left alone. An update
  happens only when one of cert-manager's compared fields differs (name, labels, commonName,
  dnsNames and ipAddresses in order, secretName, issuer name and kind, revisionHistoryLimit,
  privateKey, duration, renewBefore) and then replaces the spec and labels and merges the
  annotations, as cert-manager's non-SSA path does.
* Events on the object: ``BadConfig`` (Warning) for what a user must fix, and
  ``CreateCertificate`` / ``UpdateCertificate`` / ``DeleteCertificate`` with cert-manager's texts.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from certsmith.api.certmanager import CertificateSpec
from certsmith.api.conditions import EventReason, EventType
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import go_quote
from certsmith.api.meta import IssuerReference, KubeObject, ObjectMeta
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import CERTIFICATES
from certsmith.controllers.events import EventRecorder
from certsmith.controllers.runtime.cache import ObjectKey
from certsmith.controllers.runtime.informer import Informer
from certsmith.controllers.runtime.manager import Requeue
from certsmith.controllers.shims.annotations import (
    DEFAULT_AUTO_ANNOTATIONS,
    DEFAULT_USAGES,
    IssuerAnnotationError,
    IssuerChoice,
    IssuerDefaults,
    has_shim_annotation,
    is_ip,
    issuer_specific_annotations,
    resolve_issuer,
    translate_annotations,
)
from certsmith.controllers.shims.sources import Source

log = logging.getLogger(__name__)

FIELD_MANAGER: Final = "certsmith"
APPLYSET_LABEL: Final = "applyset.kubernetes.io/part-of"
FOREGROUND_DELETION: Final = "foregroundDeletion"
BAD_ISSUER_PREFIX: Final = "Could not determine issuer for ingress due to bad annotations: "


@dataclass(frozen=True)
class ShimOptions:
    """The shims' flags (cert-manager's names).

    Attributes:
        default_issuer: ``--default-issuer-name/kind/group``.
        auto_certificate_annotations: ``--auto-certificate-annotations`` (Ingress only).
        extra_certificate_annotations: ``--extra-certificate-annotations``: copied as is.
        enable_gateway_api: ``--enable-gateway-api``: run ``gateway-shim``.
        gateway_api_extra_protocols: ``--gateway-api-extra-protocols``.
        enable_istio_gateway: ``--enable-istio-gateway`` (certsmith's): run
            ``istio-gateway-shim``.
    """

    default_issuer: IssuerDefaults = field(default_factory=IssuerDefaults)
    auto_certificate_annotations: tuple[str, ...] = DEFAULT_AUTO_ANNOTATIONS
    extra_certificate_annotations: tuple[str, ...] = ()
    enable_gateway_api: bool = False
    gateway_api_extra_protocols: tuple[str, ...] = ()
    enable_istio_gateway: bool = False


def split_hosts(hosts: list[str]) -> tuple[list[str], list[str]]:
    """Hosts as (DNS names, IP addresses), first-seen order (duplicates removed later)."""
    return [h for h in hosts if not is_ip(h)], [h for h in hosts if is_ip(h)]


def _dedupe(values: list[str] | None, key: Any = str) -> list[str] | None:
    seen: dict[Any, str] = {}
    for value in values or []:
        seen.setdefault(key(value), value)
    return list(seen.values()) or None


def _ip_key(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the controlling ownerReference, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("uid") or "") or None
    return None


def _same_duration(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return parse_go_duration(a) == parse_go_duration(b)
    except ValueError:
        return a == b


def needs_update(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """cert-manager's ``certNeedsUpdate``: only the fields it compares."""
    old_meta, new_meta = existing.get("metadata") or {}, desired.get("metadata") or {}
    if old_meta.get("name") != new_meta.get("name"):
        return True
    if (old_meta.get("labels") or {}) != (new_meta.get("labels") or {}):
        return True
    old, new = existing.get("spec") or {}, desired.get("spec") or {}
    for key in ("commonName", "secretName", "revisionHistoryLimit"):
        if old.get(key) != new.get(key):
            return True
    for key in ("dnsNames", "ipAddresses"):
        if list(old.get(key) or []) != list(new.get(key) or []):
            return True
    old_ref, new_ref = old.get("issuerRef") or {}, new.get("issuerRef") or {}
    if old_ref.get("name") != new_ref.get("name") or old_ref.get("kind") != new_ref.get("kind"):
        return True
    old_key, new_key = old.get("privateKey") or {}, new.get("privateKey") or {}
    for key in ("algorithm", "encoding", "rotationPolicy"):
        if (old_key.get(key) or "") != (new_key.get(key) or ""):
            return True
    # Ed25519 keys have no size: a stale size on one is no reason to update.
    if old_key.get("algorithm") != "Ed25519" and (old_key.get("size") or 0) != (
        new_key.get("size") or 0
    ):
        return True
    return not (
        _same_duration(old.get("duration"), new.get("duration"))
        and _same_duration(old.get("renewBefore"), new.get("renewBefore"))
    )


@dataclass
class Plan:
    """What one sync writes."""

    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


class ShimReconciler:
    """Keeps the Certificates of one :class:`Source` kind's objects in step with them."""

    def __init__(
        self,
        client: KubeClient,
        *,
        source: Source,
        objects: Informer,
        certificates: Informer,
        recorder: EventRecorder,
        options: ShimOptions,
    ) -> None:
        self._client = client
        self._source = source
        self._objects = objects
        self._certificates = certificates
        self._recorder = recorder
        self._options = options

    def owners_of(self, cert: Mapping[str, Any]) -> list[ObjectKey]:
        """Mapper for Certificate events: the controlling object of this source's kind."""
        meta = cert.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if isinstance(ref, dict) and ref.get("controller") and self._source.owns(ref):
                return [ObjectKey(meta.get("namespace") or None, str(ref.get("name")))]
        return []

    async def reconcile(self, key: ObjectKey) -> Requeue | None:
        """Make the Certificates of object ``key`` match it (see the module docstring)."""
        obj = self._objects.cache.get(key.namespace, key.name)
        if obj is None:
            return None  # deleted: the garbage collector removes its Certificates
        meta = obj.get("metadata") or {}
        annotations: dict[str, str] = dict(meta.get("annotations") or {})
        auto = self._options.auto_certificate_annotations if self._source.auto_annotations else ()
        if not has_shim_annotation(annotations, auto):
            return None
        if meta.get("deletionTimestamp") or FOREGROUND_DELETION in (meta.get("finalizers") or []):
            return None
        try:
            issuer = resolve_issuer(self._options.default_issuer, annotations)
        except IssuerAnnotationError as exc:
            await self._warn(obj, BAD_ISSUER_PREFIX + str(exc))
            return None
        targets = self._source.targets(obj, self._options.gateway_api_extra_protocols)
        if targets.invalid is not None:
            await self._warn(obj, targets.invalid)
            return None
        for message in targets.skipped:
            await self._warn(obj, message)
        plan = self.plan(obj, issuer, targets.hosts, targets.referenced)
        await self._apply(obj, plan)
        return None

    def desired(
        self, obj: Mapping[str, Any], issuer: IssuerChoice, secret: str, hosts: list[str]
    ) -> dict[str, Any]:
        """The Certificate for Secret ``secret`` of ``obj``.

        Raises:
            InvalidAnnotationError: a spec annotation has an invalid value.
        """
        meta = obj.get("metadata") or {}
        annotations: dict[str, str] = dict(meta.get("annotations") or {})
        dns_names, ip_addresses = split_hosts(hosts)
        spec = CertificateSpec(
            secret_name=secret,
            dns_names=dns_names or None,
            ip_addresses=ip_addresses or None,
            issuer_ref=IssuerReference(name=issuer.name, kind=issuer.kind, group=issuer.group),
            usages=list(DEFAULT_USAGES),
        )
        translate_annotations(spec, annotations)
        # Hosts and the alt-names/ip-sans annotations may repeat a name; IPs compare by value.
        spec.dns_names = _dedupe(spec.dns_names)
        spec.ip_addresses = _dedupe(spec.ip_addresses, _ip_key)
        cert_annotations = {
            k: annotations[k]
            for k in self._options.extra_certificate_annotations
            if k in annotations
        }
        cert_annotations.update(
            issuer_specific_annotations(
                annotations, name=str(meta.get("name")), gateway_parent=self._source.gateway_parent
            )
        )
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != APPLYSET_LABEL}
        metadata: dict[str, Any] = {
            "name": secret,
            "namespace": meta.get("namespace"),
            "ownerReferences": [
                {
                    "apiVersion": self._source.api_version,
                    "kind": self._source.kind,
                    "name": meta.get("name"),
                    "uid": meta.get("uid"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if labels:
            metadata["labels"] = labels
        if cert_annotations:
            metadata["annotations"] = cert_annotations
        return {
            "apiVersion": CERTIFICATES.api_version,
            "kind": "Certificate",
            "metadata": metadata,
            "spec": spec.to_dict(),
        }

    def plan(
        self,
        obj: Mapping[str, Any],
        issuer: IssuerChoice,
        wanted: Mapping[str, list[str]],
        referenced: set[str],
    ) -> Plan:
        """The creates, updates and deletes that make the Certificates match ``obj``.

        Raises:
            InvalidAnnotationError: a spec annotation has an invalid value.
        """
        meta = obj.get("metadata") or {}
        namespace, uid = meta.get("namespace"), meta.get("uid")
        plan = Plan()
        for secret, hosts in wanted.items():
            desired = self.desired(obj, issuer, secret, hosts)
            existing = self._certificates.cache.get(namespace, secret)
            if existing is None:
                plan.create.append(desired)
                continue
            owner = controller_uid(existing)
            if owner is None or owner != uid:
                log.info(
                    "%s %s/%s: not updating Certificate %s, which it does not control",
                    self._source.kind,
                    namespace,
                    meta.get("name"),
                    secret,
                )
                continue
            if not needs_update(existing, desired):
                continue
            updated = copy.deepcopy(existing)
            updated["spec"] = desired["spec"]
            updated_meta = updated.setdefault("metadata", {})
            if "labels" in desired["metadata"]:
                updated_meta["labels"] = desired["metadata"]["labels"]
            else:
                updated_meta.pop("labels", None)
            if desired["metadata"].get("annotations"):
                updated_meta["annotations"] = {
                    **(updated_meta.get("annotations") or {}),
                    **desired["metadata"]["annotations"],
                }
            plan.update.append(updated)
        for cert in self._certificates.cache.list(namespace):
            if controller_uid(cert) != uid:
                continue
            if (cert.get("spec") or {}).get("secretName") not in referenced:
                plan.delete.append(str(cert["metadata"]["name"]))
        return plan

    async def _apply(self, obj: Mapping[str, Any], plan: Plan) -> None:
        namespace = (obj.get("metadata") or {}).get("namespace")
        for cert in plan.create:
            await self._client.create(CERTIFICATES, namespace, cert, field_manager=FIELD_MANAGER)
            name = cert["metadata"]["name"]
            await self._note(obj, EventReason.CREATE_CERTIFICATE, "created", name)
        for cert in plan.update:
            name = cert["metadata"]["name"]
            await self._client.replace(
                CERTIFICATES, namespace, name, cert, field_manager=FIELD_MANAGER
            )
            await self._note(obj, EventReason.UPDATE_CERTIFICATE, "updated", name)
        for name in plan.delete:
            try:
                await self._client.delete(CERTIFICATES, namespace, name)
            except NotFound:
                continue  # already gone: nothing to report
            await self._note(obj, EventReason.DELETE_CERTIFICATE, "deleted unrequired", name)

    async def _note(
        self, obj: Mapping[str, Any], reason: EventReason, done: str, name: str
    ) -> None:
        await self._recorder.event(
            self._involved(obj),
            EventType.NORMAL,
            reason,
            f"Successfully {done} Certificate {go_quote(name)}",
        )

    async def _warn(self, obj: Mapping[str, Any], message: str) -> None:
        await self._recorder.event(
            self._involved(obj), EventType.WARNING, EventReason.BAD_CONFIG, message
        )

    def _involved(self, obj: Mapping[str, Any]) -> KubeObject:
        meta = obj.get("metadata") or {}
        return KubeObject(
            api_version=self._source.api_version,
            kind=self._source.kind,
            metadata=ObjectMeta(
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
        )
