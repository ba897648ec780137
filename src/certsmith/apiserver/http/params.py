"""Query parameters shared by several verbs, parsed with kube's error wording."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from certsmith.api.meta import JSONObject
from certsmith.apiserver.http.errors import bad_request
from certsmith.apiserver.resources import ResourceType
from certsmith.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from certsmith.apiserver.storage import Predicate, ResourceVersionMatch


def is_dry_run(request: web.Request) -> bool:
    """Whether ``dryRun=All`` was given.

    Raises:
        StatusError: 400 for a dryRun value other than ``All``.
    """
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return bool(values)


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter: ``1``, ``true`` and ``True`` are true (K8S-API §1.7)."""
    return query.get(name, "").lower() in ("1", "true")


def non_negative_int(query: Mapping[str, str], name: str) -> int | None:
    """An integer query parameter, or ``None`` when absent.

    Raises:
        StatusError: 400 for a value that is not a non-negative integer.
    """
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f'{name}: Invalid value: "{value}": must be an integer') from None
    if number < 0:
        raise bad_request(f"{name}: Invalid value: {number}: must be greater than or equal to 0")
    return number


@dataclass(frozen=True)
class Selection:
    """The ``labelSelector`` and ``fieldSelector`` of a list, watch or deletecollection."""

    labels: LabelSelector
    fields: FieldSelector

    @property
    def empty(self) -> bool:
        """Whether every object matches."""
        return self.labels.empty and self.fields.empty

    def matches(self, obj: JSONObject) -> bool:
        """Whether ``obj`` is selected."""
        return self.labels.matches_object(obj) and self.fields.matches(obj)

    def predicate(self) -> Predicate | None:
        """A store predicate, or ``None`` when everything matches."""
        return None if self.empty else self.matches


def selection(request: web.Request, rt: ResourceType) -> Selection:
    """Parse the selectors of a request.

    Raises:
        StatusError: 400 for a malformed or unsupported selector.
    """
    return Selection(
        parse_label_selector(request.query.get("labelSelector")),
        parse_field_selector(request.query.get("fieldSelector"), rt),
    )


def resource_version_match(query: Mapping[str, str]) -> ResourceVersionMatch | None:
    """``resourceVersionMatch``, or ``None``.

    Raises:
        StatusError: 400 for an unknown value.
    """
    value = query.get("resourceVersionMatch")
    if not value:
        return None
    try:
        return ResourceVersionMatch(value)
    except ValueError:
        raise bad_request(
            f'resourceVersionMatch: Unsupported value: "{value}": supported values: '
            '"Exact", "NotOlderThan"'
        ) from None
