"""The objects the shims turn into Certificates, and which Secrets each one asks for (SPEC §7).

What this module decides:

* A :class:`Source` is one kind of object (Ingress, Gateway API Gateway, Istio Gateway): its
  resource, its ``apiVersion``/``kind`` (for the owner reference and Events), and how to read
  :class:`Targets` from it: the Secret names it wants, each with its hosts in first-seen order,
  the ``Skipped a … block`` complaints, and every Secret name it still references (a
  controlled Certificate whose ``secretName`` is not among them is deleted).
* Ingress: one Certificate per ``spec.tls[]`` entry, named after its ``secretName``. An entry
  without hosts or secretName is skipped; two entries sharing a secretName make the whole
  Ingress invalid (cert-manager would otherwise create two Certificates with one name).
* Gateway API: listeners with protocol HTTPS or TLS (plus ``--gateway-api-extra-protocols``), not
  in Passthrough mode, not named in ``cert-manager.io/ignore-tls-listeners``; each must have a
  hostname, mode Terminate and Secret certificateRefs in the Gateway's namespace. Hosts of all
  listeners naming one Secret are merged. Unset ``tls.mode``, ``certificateRefs[].group`` and
  ``kind`` read as the Gateway API CRD's defaults (``Terminate``, ``""``, ``Secret``): a real
  apiserver writes those defaults, the embedded one stores objects as given.
* Istio Gateway (certsmith's extension; cert-manager has no Istio shim): servers with
  ``tls.credentialName`` and a TLS mode that terminates (``SIMPLE``, ``MUTUAL``,
  ``OPTIONAL_MUTUAL``; unset is SIMPLE). ``credentialName`` is the Certificate's name and
  secretName, so the Secret lands in the Gateway's namespace (where the gateway workload must
  run for Istio to load it). Hosts lose their ``namespace/`` prefix; ``*`` (any host) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from certsmith.api.errors import FieldError
from certsmith.client.resources import GATEWAYS, INGRESSES, ISTIO_GATEWAYS, ResourceRef
from certsmith.controllers.shims.annotations import IGNORE_TLS_LISTENERS

JSONObject = dict[str, Any]

TLS_PROTOCOLS: Final = ("HTTPS", "TLS")
ISTIO_TERMINATING_MODES: Final = ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL")


@dataclass
class Targets:
    """What one object asks for (see the module docstring)."""

    hosts: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    invalid: str | None = None
    referenced: set[str] = field(default_factory=set)

    def want(self, secret: str, hosts: Sequence[str]) -> None:
        """Ask for ``secret`` with ``hosts`` (merged with earlier blocks naming it)."""
        self.hosts.setdefault(secret, []).extend(hosts)


def aggregate(errors: Sequence[FieldError]) -> str:
    """``field.ErrorList.ToAggregate().Error()``: one message, or ``[a, b]`` for several."""
    messages = list(dict.fromkeys(str(e) for e in errors))
    return messages[0] if len(messages) == 1 else f"[{', '.join(messages)}]"


def _items(value: Any) -> list[JSONObject]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _spec(obj: Mapping[str, Any]) -> JSONObject:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def ingress_targets(obj: Mapping[str, Any], extra_protocols: Sequence[str] = ()) -> Targets:
    """The Certificates an Ingress asks for (one per ``spec.tls[]`` entry)."""
    del extra_protocols  # Gateway listeners only
    targets = Targets()
    entries = _items(_spec(obj).get("tls"))
    paths: dict[str, list[str]] = {}
    for i, entry in enumerate(entries):
        paths.setdefault(str(entry.get("secretName") or ""), []).append(f"spec.tls[{i}].secretName")
        if entry.get("secretName"):
            targets.referenced.add(str(entry["secretName"]))
    duplicates = [
        FieldError.invalid(
            where[0],
            name,
            "this secret name must only appear in a single TLS entry but is also used in "
            + where[1],
        )
        for name, where in paths.items()
        if len(where) > 1
    ]
    if duplicates:
        targets.invalid = aggregate(duplicates)
        return targets
    for i, entry in enumerate(entries):
        hosts = [str(h) for h in entry.get("hosts") or [] if isinstance(h, str)]
        errors = []
        if not hosts:
            errors.append(FieldError.required(f"spec.tls[{i}].hosts"))
        if not entry.get("secretName"):
            errors.append(FieldError.required(f"spec.tls[{i}].secretName"))
        if errors:
            targets.skipped.append(f"Skipped a TLS block: {aggregate(errors)}")
            continue
        targets.want(str(entry["secretName"]), hosts)
    return targets


def _listener_errors(path: str, listener: JSONObject, namespace: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not listener.get("hostname"):
        errors.append(FieldError.required(f"{path}.hostname", "the hostname cannot be empty"))
    tls = listener.get("tls")
    if not isinstance(tls, dict):
        errors.append(FieldError.required(f"{path}.tls", "the TLS block cannot be empty"))
        return errors
    refs = _items(tls.get("certificateRefs"))
    if not refs:
        errors.append(
            FieldError.required(f"{path}.tls.certificateRef", "listener has no certificateRefs")
        )
    for j, ref in enumerate(refs):
        where = f"{path}.tls.certificateRef[{j}]"
        group, kind = ref.get("group", ""), ref.get("kind", "Secret")
        if group not in ("core", ""):
            errors.append(FieldError.not_supported(f"{where}.group", group, ["core", ""]))
        if kind not in ("Secret", ""):
            errors.append(FieldError.not_supported(f"{where}.kind", kind, ["Secret", ""]))
        if ref.get("namespace") is not None and ref.get("namespace") != namespace:
            errors.append(
                FieldError.invalid(
                    f"{where}.namespace",
                    ref["namespace"],
                    "cross-namespace secret references are not allowed in listeners",
                )
            )
    mode = tls.get("mode", "Terminate")
    if mode != "Terminate":
        errors.append(FieldError.not_supported(f"{path}.tls.mode", mode, ["Terminate"]))
    return errors


def gateway_targets(obj: Mapping[str, Any], extra_protocols: Sequence[str] = ()) -> Targets:
    """The Certificates a Gateway API Gateway asks for (one per Secret its listeners name)."""
    targets = Targets()
    meta = obj.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    ignored_raw = (meta.get("annotations") or {}).get(IGNORE_TLS_LISTENERS)
    ignored = {n.strip() for n in ignored_raw.split(",")} if ignored_raw is not None else set()
    for i, listener in enumerate(_items(_spec(obj).get("listeners"))):
        tls = listener.get("tls")
        if isinstance(tls, dict):
            targets.referenced.update(
                str(r["name"]) for r in _items(tls.get("certificateRefs")) if r.get("name")
            )
        protocol = listener.get("protocol")
        if protocol not in TLS_PROTOCOLS and protocol not in extra_protocols:
            continue
        if isinstance(tls, dict) and tls.get("mode") == "Passthrough":
            continue
        if str(listener.get("name") or "") in ignored:
            continue
        errors = _listener_errors(f"spec.listeners[{i}]", listener, namespace)
        if errors:
            targets.skipped.append(f"Skipped a listener block: {aggregate(errors)}")
            continue
        assert isinstance(tls, dict)
        for ref in _items(tls.get("certificateRefs")):
            targets.want(str(ref.get("name") or ""), [str(listener["hostname"])])
    return targets


def istio_hosts(hosts: Sequence[Any]) -> list[str]:
    """Istio ``hosts`` as DNS names: ``namespace/`` prefixes dropped, ``*`` (any host) skipped."""
    names = [str(h).rpartition("/")[2] for h in hosts if isinstance(h, str)]
    return [n for n in names if n and n != "*"]


def istio_targets(obj: Mapping[str, Any], extra_protocols: Sequence[str] = ()) -> Targets:
    """The Certificates an Istio Gateway asks for (one per ``tls.credentialName``)."""
    del extra_protocols
    targets = Targets()
    for i, server in enumerate(_items(_spec(obj).get("servers"))):
        tls = server.get("tls")
        if not isinstance(tls, dict) or not tls.get("credentialName"):
            continue
        credential = str(tls["credentialName"])
        targets.referenced.add(credential)
        if tls.get("mode", "SIMPLE") not in ISTIO_TERMINATING_MODES:
            continue
        path = f"spec.servers[{i}]"
        errors = []
        if "/" in credential or ":" in credential:
            errors.append(
                FieldError.invalid(
                    f"{path}.tls.credentialName",
                    credential,
                    "must be the name of a Secret in the Gateway's namespace",
                )
            )
        hosts = istio_hosts(server.get("hosts") or [])
        if not hosts:
            errors.append(FieldError.required(f"{path}.hosts", "no host names but '*'"))
        if errors:
            targets.skipped.append(f"Skipped a server block: {aggregate(errors)}")
            continue
        targets.want(credential, hosts)
    return targets


@dataclass(frozen=True)
class Source:
    """One kind of object the shims read (see the module docstring)."""

    resource: ResourceRef
    api_version: str
    kind: str
    targets: Callable[[Mapping[str, Any], Sequence[str]], Targets]
    #: Whether ``--auto-certificate-annotations`` (``kubernetes.io/tls-acme``) activate it.
    auto_annotations: bool = False
    #: Whether its Certificates name it as the HTTP-01 HTTPRoute's parent Gateway.
    gateway_parent: bool = False

    def owns(self, owner: Mapping[str, Any]) -> bool:
        """Whether an ownerReference points at an object of this source's kind."""
        return owner.get("kind") == self.kind and owner.get("apiVersion") == self.api_version


INGRESS: Final = Source(
    INGRESSES, "networking.k8s.io/v1", "Ingress", ingress_targets, auto_annotations=True
)
GATEWAY: Final = Source(
    GATEWAYS, "gateway.networking.k8s.io/v1", "Gateway", gateway_targets, gateway_parent=True
)
ISTIO_GATEWAY: Final = Source(ISTIO_GATEWAYS, "networking.istio.io/v1", "Gateway", istio_targets)
