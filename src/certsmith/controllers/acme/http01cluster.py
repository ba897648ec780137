"""HTTP-01 in cluster mode: the solver Pod, Service and Ingress or HTTPRoute (SPEC §6.6).

When the controller process does not answer HTTP-01 itself (no ``--acme-http01-listen``), a
Challenge is presented as cert-manager presents it: a Pod running ``certsmith acmesolver`` with
the token and key, a Service in front of it, and either an Ingress (a new one, or a path added
to the Ingress named by the solver's ``name``) or a Gateway API HTTPRoute routing
``/.well-known/acme-challenge/<token>`` on the challenge's host to that Service.

* Objects are found by the identity labels (``acme.cert-manager.io/http-domain``,
  ``http-token``, ``http01-solver``) and kept only when the Challenge controls them, so
  Present is idempotent and runs again before every self-check. An object whose spec no longer
  covers what would be built (the solver or the image changed) is deleted and built again;
  duplicates (two solver pods for one Challenge) are all deleted, then one is created.
* "Covers" compares only what certsmith sets: fields the API server or other controllers fill
  in (``clusterIP``, a ``nodePort`` — or none, where nothing allocates one) never count as drift.
* Every object carries a controller owner reference to the Challenge, so the garbage collector
  removes them even if CleanUp never runs. CleanUp deletes them, and removes the added path (and
  a rule it left empty) from an edited-in-place Ingress.
* The builders are pure functions of the Challenge and :class:`SolverPodSettings`, table-tested.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from certsmith.api.acme import Challenge
from certsmith.api.meta import JSONObject
from certsmith.client.errors import NotFound
from certsmith.client.protocol import KubeClient
from certsmith.client.resources import HTTP_ROUTES, INGRESSES, PODS, SERVICES, ResourceRef
from certsmith.controllers.acme.http01 import CHALLENGE_PATH

SOLVER_PORT: Final = 8089
NAME_PREFIX: Final = "cm-acme-http-solver-"
DOMAIN_LABEL: Final = "acme.cert-manager.io/http-domain"
TOKEN_LABEL: Final = "acme.cert-manager.io/http-token"  # noqa: S105 - a label name
SOLVER_LABEL: Final = "acme.cert-manager.io/http01-solver"
ISTIO_INJECT: Final = "sidecar.istio.io/inject"
INGRESS_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
WHITELIST_ANNOTATION: Final = "nginx.ingress.kubernetes.io/whitelist-source-range"
WHITELIST_ALL: Final = "0.0.0.0/0,::/0"
CONTAINER: Final = "acmesolver"
DEFAULT_SERVICE_TYPE: Final = "NodePort"


@dataclass(frozen=True)
class SolverPodSettings:
    """The process-wide parts of the solver pod (cert-manager's ``--acme-http01-solver-*``).

    Attributes:
        image: the image whose entry point is ``certsmith`` (runs ``acmesolver``).
        requests_cpu: CPU request of the solver container.
        requests_memory: memory request.
        limits_cpu: CPU limit.
        limits_memory: memory limit.
        run_as_non_root: the pod's ``securityContext.runAsNonRoot``.
    """

    image: str
    requests_cpu: str = "10m"
    requests_memory: str = "64Mi"
    limits_cpu: str = "100m"
    limits_memory: str = "64Mi"
    run_as_non_root: bool = True


def _adler32(text: str) -> str:
    return str(zlib.adler32(text.encode()))


def identity_labels(dns_name: str, token: str) -> dict[str, str]:
    """The labels that find a Challenge's solver objects."""
    return {
        DOMAIN_LABEL: _adler32(dns_name),
        TOKEN_LABEL: _adler32(token),
        SOLVER_LABEL: "true",
    }


def challenge_path(token: str) -> str:
    """``/.well-known/acme-challenge/<token>``."""
    return CHALLENGE_PATH + token


def _http01(challenge: Challenge) -> JSONObject:
    http01 = challenge.spec.solver.http01
    return http01.to_dict() if http01 is not None else {}


def _solver(challenge: Challenge) -> tuple[str, JSONObject]:
    """``("ingress"|"gatewayHTTPRoute", its settings)``; an empty solver is an Ingress one."""
    http01 = _http01(challenge)
    if "gatewayHTTPRoute" in http01:
        return "gatewayHTTPRoute", dict(http01["gatewayHTTPRoute"] or {})
    return "ingress", dict(http01.get("ingress") or {})


def _owner(challenge: Challenge) -> JSONObject:
    return {
        "apiVersion": Challenge.API_VERSION,
        "kind": Challenge.KIND,
        "name": challenge.name,
        "uid": challenge.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(challenge: Challenge, labels: Mapping[str, str], **extra: Any) -> JSONObject:
    return {
        "generateName": NAME_PREFIX,
        "namespace": challenge.namespace,
        "labels": dict(labels),
        "ownerReferences": [_owner(challenge)],
        **extra,
    }


def build_pod(challenge: Challenge, settings: SolverPodSettings) -> JSONObject:
    """The solver Pod, with the solver's ``podTemplate`` merged in."""
    spec = challenge.spec
    labels = identity_labels(spec.dns_name, spec.token)
    container: JSONObject = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        # certsmith's image runs `certsmith` (the controller's image): cert-manager's args
        # follow the acmesolver subcommand.
        "command": ["certsmith", "acmesolver"],
        "args": [
            f"--listen-port={SOLVER_PORT}",
            f"--domain={spec.dns_name}",
            f"--token={spec.token}",
            f"--key={spec.key}",
        ],
        "ports": [{"name": "http", "containerPort": SOLVER_PORT}],
        "resources": {
            "requests": {"cpu": settings.requests_cpu, "memory": settings.requests_memory},
            "limits": {"cpu": settings.limits_cpu, "memory": settings.limits_memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: JSONObject = {
        "restartPolicy": "OnFailure",
        "enableServiceLinks": False,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "securityContext": {
            "runAsNonRoot": settings.run_as_non_root,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    pod: JSONObject = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(challenge, labels, annotations={ISTIO_INJECT: "false"}),
        "spec": pod_spec,
    }
    template = _solver(challenge)[1].get("podTemplate") or {}
    _merge_pod_template(pod, template)
    return pod


def _merge_pod_template(pod: JSONObject, template: JSONObject) -> None:
    """Merge the solver's ``podTemplate`` into ``pod`` as cert-manager does.

    Metadata maps and ``nodeSelector`` are merged (the template wins), ``tolerations`` and
    ``imagePullSecrets`` appended, the other fields replaced.
    """
    meta = template.get("metadata") or {}
    pod["metadata"]["labels"].update(meta.get("labels") or {})
    pod["metadata"]["annotations"].update(meta.get("annotations") or {})
    spec = template.get("spec") or {}
    pod_spec = pod["spec"]
    pod_spec["nodeSelector"].update(spec.get("nodeSelector") or {})
    for field in ("tolerations", "imagePullSecrets"):
        if spec.get(field):
            pod_spec[field] = [*pod_spec.get(field, []), *copy.deepcopy(spec[field])]
    for field in ("affinity", "priorityClassName", "serviceAccountName", "securityContext"):
        if spec.get(field):
            pod_spec[field] = copy.deepcopy(spec[field])
    if spec.get("resources"):
        pod_spec["containers"][0]["resources"] = copy.deepcopy(spec["resources"])


def build_service(challenge: Challenge) -> JSONObject:
    """The Service in front of the solver pod (``NodePort`` unless the solver says otherwise)."""
    labels = identity_labels(challenge.spec.dns_name, challenge.spec.token)
    service_type = _solver(challenge)[1].get("serviceType") or DEFAULT_SERVICE_TYPE
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(challenge, labels),
        "spec": {
            "type": service_type,
            "ports": [
                {
                    "name": "http",
                    "port": SOLVER_PORT,
                    "targetPort": SOLVER_PORT,
                    "protocol": "TCP",
                }
            ],
            "selector": dict(labels),
        },
    }


def _ingress_path(token: str, service: str) -> JSONObject:
    return {
        "path": challenge_path(token),
        "pathType": "Exact",
        "backend": {"service": {"name": service, "port": {"number": SOLVER_PORT}}},
    }


def _ingress_host(challenge: Challenge) -> str:
    # IP identifiers cannot be Ingress hosts: the rule then matches every host.
    try:
        ipaddress.ip_address(challenge.spec.dns_name)
    except ValueError:
        return challenge.spec.dns_name
    return ""


def _rule(challenge: Challenge, service: str) -> JSONObject:
    rule: JSONObject = {"http": {"paths": [_ingress_path(challenge.spec.token, service)]}}
    host = _ingress_host(challenge)
    if host:
        rule["host"] = host
    return rule


def build_ingress(challenge: Challenge, service: str) -> JSONObject:
    """A new solver Ingress routing the challenge path to ``service``."""
    settings = _solver(challenge)[1]
    labels = identity_labels(challenge.spec.dns_name, challenge.spec.token)
    annotations = {WHITELIST_ANNOTATION: WHITELIST_ALL}
    if settings.get("class"):
        annotations[INGRESS_CLASS_ANNOTATION] = str(settings["class"])
    template = (settings.get("ingressTemplate") or {}).get("metadata") or {}
    labels.update(template.get("labels") or {})
    annotations.update(template.get("annotations") or {})
    spec: JSONObject = {"rules": [_rule(challenge, service)]}
    if settings.get("ingressClassName"):
        spec["ingressClassName"] = settings["ingressClassName"]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(challenge, labels, annotations=annotations),
        "spec": spec,
    }


def add_ingress_path(ingress: JSONObject, challenge: Challenge, service: str) -> bool:
    """Route the challenge path through an existing Ingress; ``True`` if it changed."""
    wanted = _ingress_path(challenge.spec.token, service)
    host = _ingress_host(challenge)
    rules = ingress.setdefault("spec", {}).setdefault("rules", [])
    for rule in rules:
        if (rule.get("host") or "") != host:
            continue
        paths = rule.setdefault("http", {}).setdefault("paths", [])
        for index, path in enumerate(paths):
            if path.get("path") == wanted["path"]:
                if path == wanted:
                    return False
                paths[index] = wanted
                return True
        paths.insert(0, wanted)
        return True
    rules.append(_rule(challenge, service))
    return True


def remove_ingress_path(ingress: JSONObject, challenge: Challenge) -> bool:
    """Take the challenge path out of an edited Ingress (and a rule it leaves empty)."""
    wanted = challenge_path(challenge.spec.token)
    host = _ingress_host(challenge)
    changed = False
    kept: list[JSONObject] = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        http = rule.get("http")
        if (rule.get("host") or "") == host and http is not None:
            paths = [p for p in http.get("paths") or [] if p.get("path") != wanted]
            if len(paths) != len(http.get("paths") or []):
                changed = True
                if not paths:
                    continue
                http["paths"] = paths
        kept.append(rule)
    if changed:
        ingress["spec"]["rules"] = kept
    return changed


def build_http_route(challenge: Challenge, service: str) -> JSONObject:
    """The solver HTTPRoute: the challenge's host and exact path to ``service`` port 8089."""
    settings = _solver(challenge)[1]
    labels = identity_labels(challenge.spec.dns_name, challenge.spec.token)
    labels.update(settings.get("labels") or {})
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _metadata(challenge, labels),
        "spec": {
            "parentRefs": copy.deepcopy(settings.get("parentRefs") or []),
            "hostnames": [challenge.spec.dns_name],
            "rules": [
                {
                    "matches": [
                        {"path": {"type": "Exact", "value": challenge_path(challenge.spec.token)}}
                    ],
                    "backendRefs": [
                        {
                            "group": "",
                            "kind": "Service",
                            "name": service,
                            "namespace": challenge.namespace,
                            "port": SOLVER_PORT,
                        }
                    ],
                }
            ],
        },
    }


def covers(existing: Any, wanted: Any) -> bool:
    """Whether ``existing`` has everything ``wanted`` sets (extra server-set fields allowed)."""
    if isinstance(wanted, dict):
        return isinstance(existing, dict) and all(
            covers(existing.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(wanted)
            and all(covers(e, w) for e, w in zip(existing, wanted, strict=True))
        )
    return bool(existing == wanted)


def _same_object(existing: JSONObject, wanted: JSONObject) -> bool:
    meta, want_meta = existing.get("metadata") or {}, wanted["metadata"]
    return (
        covers(existing.get("spec"), wanted["spec"])
        and covers(meta.get("labels") or {}, want_meta.get("labels") or {})
        and covers(meta.get("annotations") or {}, want_meta.get("annotations") or {})
    )


class Http01ClusterSolver:
    """Presents and cleans up HTTP-01 challenges with solver objects in the cluster."""

    def __init__(self, client: KubeClient, settings: SolverPodSettings) -> None:
        """Write through ``client``; pods are built with ``settings``."""
        self._client = client
        self._settings = settings

    async def present(self, challenge: Challenge, namespace: str | None = None) -> None:
        """Ensure the pod, Service and Ingress (or HTTPRoute) exist as built.

        Raises:
            certsmith.client.errors.ApiError: a read or write failed (the message says which).
            ValueError: the edited-in-place Ingress does not exist.
        """
        del namespace  # solver objects live beside the Challenge, as in cert-manager
        await self._ensure(PODS, challenge, build_pod(challenge, self._settings))
        service = await self._ensure(SERVICES, challenge, build_service(challenge))
        service_name = str(service["metadata"]["name"])
        kind, settings = _solver(challenge)
        if kind == "gatewayHTTPRoute":
            await self._ensure(HTTP_ROUTES, challenge, build_http_route(challenge, service_name))
        elif settings.get("name"):
            await self._edit_ingress(challenge, str(settings["name"]), service_name)
        else:
            await self._ensure(INGRESSES, challenge, build_ingress(challenge, service_name))

    async def clean_up(self, challenge: Challenge) -> None:
        """Delete the solver objects and undo an Ingress edit.

        Raises:
            certsmith.client.errors.ApiError: a read or write failed.
        """
        kind, settings = _solver(challenge)
        if kind == "ingress" and settings.get("name"):
            await self._restore_ingress(challenge, str(settings["name"]))
        for resource in (HTTP_ROUTES, INGRESSES, SERVICES, PODS):
            if resource is HTTP_ROUTES and kind != "gatewayHTTPRoute":
                continue
            for obj in await self._owned(resource, challenge):
                await self._delete(resource, obj)

    async def _owned(self, resource: ResourceRef, challenge: Challenge) -> list[JSONObject]:
        labels = identity_labels(challenge.spec.dns_name, challenge.spec.token)
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        page = await self._client.list(resource, challenge.namespace, label_selector=selector)
        uid = challenge.metadata.uid
        return [
            item
            for item in page.items
            if any(
                ref.get("controller") and ref.get("uid") == uid
                for ref in (item.get("metadata") or {}).get("ownerReferences") or []
            )
        ]

    async def _delete(self, resource: ResourceRef, obj: JSONObject) -> None:
        meta = obj.get("metadata") or {}
        with contextlib.suppress(NotFound):
            await self._client.delete(resource, meta.get("namespace"), str(meta["name"]))

    async def _ensure(
        self, resource: ResourceRef, challenge: Challenge, wanted: JSONObject
    ) -> JSONObject:
        existing = await self._owned(resource, challenge)
        if len(existing) == 1 and _same_object(existing[0], wanted):
            return existing[0]
        for obj in existing:  # drifted, or duplicates: start from one fresh object
            await self._delete(resource, obj)
        return await self._client.create(resource, challenge.namespace, wanted)

    async def _edit_ingress(self, challenge: Challenge, name: str, service: str) -> None:
        try:
            ingress = await self._client.get(INGRESSES, challenge.namespace, name)
        except NotFound:
            raise ValueError(
                f'the Ingress "{name}" to edit for the HTTP-01 challenge does not exist in '
                f'namespace "{challenge.namespace}"'
            ) from None
        if add_ingress_path(ingress, challenge, service):
            await self._client.replace(INGRESSES, challenge.namespace, name, ingress)

    async def _restore_ingress(self, challenge: Challenge, name: str) -> None:
        try:
            ingress = await self._client.get(INGRESSES, challenge.namespace, name)
        except NotFound:
            return
        if remove_ingress_path(ingress, challenge):
            await self._client.replace(INGRESSES, challenge.namespace, name, ingress)
