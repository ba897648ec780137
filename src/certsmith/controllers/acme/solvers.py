"""Which solver answers an authorization, and the Challenge spec it leads to (SPEC §6.2).

Solvers and challenges are handled in their wire form (dicts): the chosen solver is copied
verbatim into ``Challenge.spec.solver`` and hashed into the Challenge name, so keeping the
user's exact JSON avoids any model round trip changing it.

Precedence, as cert-manager's ``solverpicker``: solvers the authorization offers no challenge
type for are skipped; a solver without selector is only a default (taken when nothing is chosen
yet); a selector matches when all of its parts match, scored by matching labels, an exact
``dnsNames`` hit (1) and the label count of the longest matching ``dnsZones`` entry. A dnsNames
hit beats none; then more zone labels; then more matching labels; ties keep the earlier solver.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

NO_SOLVER_MESSAGE: Final = "no configured challenge solvers can be used for this challenge"

OVERRIDE_INGRESS_NAME: Final = "acme.cert-manager.io/http01-override-ingress-name"
OVERRIDE_INGRESS_CLASS: Final = "acme.cert-manager.io/http01-override-ingress-class"
OVERRIDE_INGRESS_CLASS_NAME: Final = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
PARENT_REF_NAME: Final = "acme.cert-manager.io/http01-parentrefname"
PARENT_REF_KIND: Final = "acme.cert-manager.io/http01-parentrefkind"
PARENT_REF_NAMESPACE: Final = "acme.cert-manager.io/http01-parentrefnamespace"

_TYPE_OF_SOLVER: Final = {"http01": "http-01", "dns01": "dns-01"}
CHALLENGE_TYPES: Final = {"http-01": "HTTP-01", "dns-01": "DNS-01"}


class SolverError(ValueError):
    """No solver applies, or the Order's override annotations are inconsistent."""


def _labels(domain: str) -> list[str]:
    return [label for label in domain.lower().strip(".").split(".") if label]


def zone_match(zone: str, domain: str) -> int:
    """How many labels of ``zone`` match ``domain`` from the right; 0 unless all of them do."""
    zl, dl = _labels(zone), _labels(domain)
    if not zl or len(zl) > len(dl) or dl[len(dl) - len(zl) :] != zl:
        return 0
    return len(zl)


@dataclass(frozen=True)
class Score:
    """How specifically a solver's selector matched: labels, dnsNames hit, zone labels."""

    labels: int = 0
    dns_names: int = 0
    zones: int = 0


def selector_score(
    selector: Mapping[str, Any], order_labels: Mapping[str, str], domain: str
) -> Score | None:
    """The match score of ``selector`` for ``domain`` and the Order's labels; ``None``: no match."""
    labels = 0
    for key, value in (selector.get("matchLabels") or {}).items():
        if order_labels.get(key) != value:
            return None
        labels += 1
    names = selector.get("dnsNames") or []
    dns_names = 0
    if names:
        if domain not in names:
            return None
        dns_names = 1
    zones_list = selector.get("dnsZones") or []
    zones = 0
    if zones_list:
        zones = max((zone_match(zone, domain) for zone in zones_list), default=0)
        if zones == 0:
            return None
    return Score(labels, dns_names, zones)


def _better(new: Score, old: Score) -> bool:
    """Whether ``new`` beats the chosen ``old`` (cert-manager's order of comparisons)."""
    if (new.dns_names > 0) != (old.dns_names > 0):
        return new.dns_names > 0
    if new.dns_names == 0 and (new.zones > 0) != (old.zones > 0):
        return new.zones > 0
    if new.zones != old.zones:
        return new.zones > old.zones
    return new.labels > old.labels


def pick(
    domain: str,
    challenges: Sequence[Mapping[str, Any]],
    solvers: Sequence[Mapping[str, Any]],
    order_labels: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Choose the solver for ``domain`` (``*.``-prefixed for a wildcard authorization).

    Returns:
        ``(solver, challenge)`` deep copies, or ``None`` when no solver applies.
    """
    chosen: tuple[dict[str, Any], dict[str, Any]] | None = None
    chosen_score = Score()
    for solver in solvers:
        challenge = _challenge_for(solver, challenges)
        if challenge is None:
            continue
        selector = solver.get("selector")
        if selector is None:
            if chosen is None:
                chosen = (copy.deepcopy(dict(solver)), dict(challenge))
            continue
        score = selector_score(selector, order_labels, domain)
        if score is None:
            continue
        if chosen is None or _better(score, chosen_score):
            chosen = (copy.deepcopy(dict(solver)), dict(challenge))
            chosen_score = score
    return chosen


def _challenge_for(
    solver: Mapping[str, Any], challenges: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    for challenge in challenges:
        for key, type_ in _TYPE_OF_SOLVER.items():
            if challenge.get("type") == type_ and solver.get(key) is not None:
                return challenge
    return None


def apply_overrides(
    solver: dict[str, Any], annotations: Mapping[str, str], order_namespace: str
) -> None:
    """Apply the Order's HTTP-01 override annotations to the chosen ``solver`` in place.

    Raises:
        SolverError: more than one ingress override, only one of the parentRef name/kind pair,
            or no parentRefs left for a Gateway solver.
    """
    http01 = solver.get("http01") or {}
    ingress = http01.get("ingress")
    if ingress is not None:
        given = [
            a
            for a in (OVERRIDE_INGRESS_NAME, OVERRIDE_INGRESS_CLASS, OVERRIDE_INGRESS_CLASS_NAME)
            if a in annotations
        ]
        if len(given) > 1:
            raise SolverError(
                "may not specify more than one of: name, class, ingressClassName override "
                "annotations"
            )
        if given:
            for key in ("class", "ingressClassName", "name"):
                ingress.pop(key, None)
            target = {
                OVERRIDE_INGRESS_NAME: "name",
                OVERRIDE_INGRESS_CLASS: "class",
                OVERRIDE_INGRESS_CLASS_NAME: "ingressClassName",
            }[given[0]]
            ingress[target] = annotations[given[0]]
    route = http01.get("gatewayHTTPRoute")
    if route is None:
        return
    has_name, has_kind = PARENT_REF_NAME in annotations, PARENT_REF_KIND in annotations
    if has_name != has_kind:
        raise SolverError(
            "cannot specify only one of parentRefName, parentRefKind override annotations"
        )
    if has_name:
        namespace = annotations.get(PARENT_REF_NAMESPACE) or order_namespace
        name, kind = annotations[PARENT_REF_NAME], annotations[PARENT_REF_KIND]
        kept = [
            ref
            for ref in route.get("parentRefs") or []
            if not (
                ref.get("namespace") == namespace
                and ref.get("name") == name
                and ref.get("kind") in (None, kind)
            )
        ]
        kept.append({"name": name, "namespace": namespace, "kind": kind})
        route["parentRefs"] = kept
    if not route.get("parentRefs"):
        raise SolverError("must specify parentRefs either through annotations or solver config")


def challenge_spec(
    authorization: Mapping[str, Any],
    solvers: Sequence[Mapping[str, Any]],
    order_labels: Mapping[str, str],
    order_annotations: Mapping[str, str],
    order_namespace: str,
    issuer_ref: Mapping[str, Any],
) -> dict[str, Any]:
    """The Challenge spec (without ``key``) for one authorization of an Order (wire form).

    Raises:
        SolverError: no solver applies, or the override annotations are inconsistent.
    """
    wildcard = bool(authorization.get("wildcard"))
    identifier = str(authorization.get("identifier") or "")
    domain = f"*.{identifier}" if wildcard else identifier
    picked = pick(domain, authorization.get("challenges") or [], solvers, order_labels)
    if picked is None:
        raise SolverError(NO_SOLVER_MESSAGE)
    solver, challenge = picked
    apply_overrides(solver, order_annotations, order_namespace)
    return {
        "url": challenge["url"],
        "authorizationURL": authorization["url"],
        "dnsName": identifier,
        "wildcard": wildcard,
        "type": CHALLENGE_TYPES[str(challenge["type"])],
        "token": challenge["token"],
        "key": "",
        "solver": solver,
        "issuerRef": dict(issuer_ref),
    }
