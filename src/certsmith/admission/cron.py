"""Syntax check of renewal-window cron expressions, with cert-manager's error words.

Decides whether ``spec.renewal.windows[].cron`` parses the way cert-manager's parser
(robfig/cron v3 with five fields plus ``@`` descriptors, optional ``CRON_TZ=`` prefix) would
parse it, and if not, which error it would print. Only validation lives here: the window
arithmetic belongs to the renewal code, which needs the schedule, not the message.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Final, NamedTuple

from certsmith.api.duration import parse_go_duration

__all__ = ["cron_error", "timezone_is_valid"]


class _Bounds(NamedTuple):
    low: int
    high: int
    names: dict[str, int]


_MONTHS: Final = {
    name: index + 1
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DAYS: Final = {
    name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_FIELDS: Final = (
    _Bounds(0, 59, {}),  # minute
    _Bounds(0, 23, {}),  # hour
    _Bounds(1, 31, {}),  # day of month
    _Bounds(1, 12, _MONTHS),  # month
    _Bounds(0, 6, _DAYS),  # day of week
)
_DESCRIPTORS: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_GO_INT: Final = re.compile(r"[+-]?[0-9]+")


class _CronError(ValueError):
    pass


def timezone_is_valid(name: str) -> bool:
    """Tell whether Go's ``time.LoadLocation`` would accept ``name`` (``""`` means UTC)."""
    if name in ("", "UTC", "Local"):
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def cron_error(expression: str, timezone: str = "") -> str | None:
    """Return the parser's error for a cron expression, or ``None`` when it parses.

    Args:
        expression: five space-separated fields or an ``@`` descriptor.
        timezone: the window's IANA timezone; when set it is checked as a ``CRON_TZ=`` prefix.

    Returns:
        ``failed to parse cron spec '<expression>': <reason>`` or ``None``.
    """
    spec = f"CRON_TZ={timezone} {expression}" if timezone else expression
    try:
        _parse(spec)
    except _CronError as err:
        return f"failed to parse cron spec '{expression}': {err}"
    return None


def _parse(spec: str) -> None:
    if not spec:
        raise _CronError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        equals = spec.find("=")
        zone = spec[equals + 1 : space] if space >= 0 else spec[equals + 1 :]
        if not timezone_is_valid(zone):
            raise _CronError(f"provided bad location {zone}: unknown time zone {zone}")
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        _parse_descriptor(spec)
        return
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        shown = "[" + " ".join(fields) + "]"
        raise _CronError(f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: {shown}")
    for field, bounds in zip(fields, _FIELDS, strict=True):
        for expr in field.split(","):
            _check_range(expr, bounds)


def _parse_descriptor(spec: str) -> None:
    if spec in _DESCRIPTORS:
        return
    every = "@every "
    if spec.startswith(every):
        try:
            parse_go_duration(spec[len(every) :])
        except ValueError as err:
            raise _CronError(f"failed to parse duration {spec}: {err}") from err
        return
    raise _CronError(f"unrecognized descriptor: {spec}")


def _parse_int(expr: str) -> int:
    if not _GO_INT.fullmatch(expr):
        raise _CronError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
        )
    number = int(expr)
    if number < 0:
        raise _CronError(f"negative number ({number}) not allowed: {expr}")
    return number


def _parse_int_or_name(expr: str, names: dict[str, int]) -> int:
    named = names.get(expr.lower())
    return named if named is not None else _parse_int(expr)


def _check_range(expr: str, bounds: _Bounds) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
    else:
        start = _parse_int_or_name(low_and_high[0], bounds.names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], bounds.names)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    step = 1
    if len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if len(low_and_high) == 1:
            end = bounds.high  # "N/step" means "N-max/step"
    elif len(range_and_step) > 2:
        raise _CronError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise _CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise _CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _CronError(f"step of range should be a positive number: {expr}")
