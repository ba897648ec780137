"""Cron schedules for renewal windows: parse five-field expressions and find the next start.

Decides what ``spec.renewal.windows[].cron`` means, the way cert-manager's fork of robfig/cron
v3 does (parser ``Minute | Hour | Dom | Month | Dow | Descriptor``, SPEC §5.7):

* fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``JAN``..``DEC``)
  and day of week (0-6 or ``SUN``..``SAT``; 7 is an error, as in robfig), names in any case;
* each field is a comma list of ``*`` or ``?``, ``a``, ``a-b``, each optionally ``/step``; a
  single value with a step runs to the field's maximum (``5/15`` is ``5-59/15``);
* day of month and day of week combine as in Vixie cron: when either field starts with ``*``
  or ``?`` (and has no step above 1) both must match, otherwise either may match;
* the descriptors ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/
  ``@midnight``, ``@hourly`` and ``@every <go duration>``; a ``CRON_TZ=<zone>`` or ``TZ=<zone>``
  prefix sets the zone, as cert-manager writes it for the window's ``timezone``;
* ``next_after(t)`` is robfig's ``Next``: the first start strictly after ``t`` truncated to the
  second, searched up to nine years ahead (``None`` when there is none).

Schedules are evaluated on the zone's wall clock with ``zoneinfo``. Around a DST change a wall
time the clock skips never starts a window, and a wall time the clock shows twice starts one at
each of its instants; robfig's hour-stepping loop does the same for every schedule we tested.
Zone ``""``, ``UTC`` and ``Local`` are UTC (controllers run in UTC containers).

Error messages are robfig's, so the readiness controller can print them after
``Could not calculate renewal time:`` as cert-manager does.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from certsmith.api.duration import parse_go_duration

__all__ = [
    "ConstantDelaySchedule",
    "CronParseError",
    "Schedule",
    "SpecSchedule",
    "load_timezone",
    "parse_cron",
]

_UTC: Final = dt.UTC
_SECOND: Final = dt.timedelta(seconds=1)
_SEARCH_YEARS: Final = 9


class CronParseError(ValueError):
    """A cron expression or timezone cannot be parsed; the message is robfig's wording."""


class Schedule(Protocol):
    """Anything that yields window start times."""

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first start strictly after ``t`` (truncated to the second), or ``None``."""
        ...


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
_MINUTE: Final = _Bounds(0, 59, {})
_HOUR: Final = _Bounds(0, 23, {})
_DOM: Final = _Bounds(1, 31, {})
_MONTH: Final = _Bounds(1, 12, _MONTHS)
_DOW: Final = _Bounds(0, 6, _DAYS)
_GO_INT: Final = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]
    star: bool


def _full(bounds: _Bounds) -> _Field:
    return _Field(frozenset(range(bounds.low, bounds.high + 1)), star=True)


def _one(value: int) -> _Field:
    return _Field(frozenset({value}), star=False)


def load_timezone(name: str) -> dt.tzinfo:
    """Load an IANA zone as Go's ``time.LoadLocation`` would (``""``/``UTC``/``Local`` are UTC).

    Raises:
        CronParseError: ``unknown time zone <name>``.
    """
    if name in ("", "UTC", "Local"):
        return _UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CronParseError(f"unknown time zone {name}") from None


@dataclass(frozen=True)
class SpecSchedule:
    """A five-field schedule in a zone; starts are whole minutes."""

    minute: _Field
    hour: _Field
    dom: _Field
    month: _Field
    dow: _Field
    zone: dt.tzinfo

    def _day_matches(self, day: dt.date) -> bool:
        dom_match = day.day in self.dom.values
        dow_match = (day.isoweekday() % 7) in self.dow.values
        if self.dom.star or self.dow.star:
            return dom_match and dow_match
        return dom_match or dow_match

    def _instants(self, wall: dt.datetime) -> list[dt.datetime]:
        """The instants at which the zone's clock shows ``wall`` (none in a gap, two in a fold)."""
        found: list[dt.datetime] = []
        for fold in (0, 1):
            instant = wall.replace(tzinfo=self.zone, fold=fold).astimezone(_UTC)
            shown = instant.astimezone(self.zone).replace(tzinfo=None)
            if shown == wall and instant not in found:
                found.append(instant)
        return sorted(found)

    def _ends_before(self, day: dt.date, hour: int, minute: int, start: dt.datetime) -> bool:
        """Whether every start up to ``day hour:minute`` (wall clock) is before ``start``.

        Wall time to instant is monotonic apart from folds, and the last instant of a later wall
        time is never earlier than any instant of an earlier one; a wall time in a gap proves
        nothing, so it answers False.
        """
        instants = self._instants(dt.datetime(day.year, day.month, day.day, hour, minute))
        return bool(instants) and instants[-1] < start

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """The first start strictly after ``t`` truncated to the second, in UTC, or ``None``.

        Raises:
            ValueError: ``t`` is naive.
        """
        if t.tzinfo is None:
            raise ValueError("t must be timezone-aware")
        start = t.astimezone(_UTC).replace(microsecond=0) + _SECOND
        local = start.astimezone(self.zone)
        last_year = local.year + _SEARCH_YEARS
        # A day earlier: in a DST fold a later instant can show an earlier wall-clock date.
        day = local.date() - dt.timedelta(days=1)
        hours = sorted(self.hour.values)
        minutes = sorted(self.minute.values)
        while day.year <= last_year:
            if day.month in self.month.values and self._day_matches(day):
                if self._ends_before(day, hours[-1], minutes[-1], start):
                    day += dt.timedelta(days=1)
                    continue
                for hour in hours:
                    if self._ends_before(day, hour, minutes[-1], start):
                        continue
                    for minute in minutes:
                        wall = dt.datetime(day.year, day.month, day.day, hour, minute)
                        for instant in self._instants(wall):
                            if instant >= start:
                                return instant
            day += dt.timedelta(days=1)
        return None


@dataclass(frozen=True)
class ConstantDelaySchedule:
    """``@every <duration>``: a start every ``delay`` after whatever time is asked about."""

    delay: dt.timedelta

    def next_after(self, t: dt.datetime) -> dt.datetime | None:
        """``t`` truncated to the second plus ``delay`` (robfig's ``ConstantDelaySchedule``)."""
        return t.replace(microsecond=0) + self.delay


def _parse_int(expr: str) -> int:
    if not _GO_INT.fullmatch(expr):
        raise CronParseError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
        )
    value = int(expr)
    if value < 0:
        raise CronParseError(f"negative number ({value}) not allowed: {expr}")
    return value


def _int_or_name(expr: str, bounds: _Bounds) -> int:
    named = bounds.names.get(expr.lower())
    return named if named is not None else _parse_int(expr)


def _range(expr: str, bounds: _Bounds) -> _Field:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = bounds.low, bounds.high, True
    else:
        start = _int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds)
        else:
            raise CronParseError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single:
            end = bounds.high
        if step > 1:
            star = False
    else:
        raise CronParseError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise CronParseError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronParseError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronParseError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronParseError(f"step of range should be a positive number: {expr}")
    return _Field(frozenset(range(start, end + 1, step)), star)


def _field(text: str, bounds: _Bounds) -> _Field:
    values: set[int] = set()
    star = False
    for expr in (part for part in text.split(",") if part):
        part = _range(expr, bounds)
        values |= part.values
        star = star or part.star
    return _Field(frozenset(values), star)


def _descriptor(spec: str, zone: dt.tzinfo) -> Schedule:
    minute, hour, dom, month = _one(0), _one(0), _one(1), _one(1)
    if spec in ("@yearly", "@annually"):
        return SpecSchedule(minute, hour, dom, month, _full(_DOW), zone)
    if spec == "@monthly":
        return SpecSchedule(minute, hour, dom, _full(_MONTH), _full(_DOW), zone)
    if spec == "@weekly":
        return SpecSchedule(minute, hour, _full(_DOM), _full(_MONTH), _one(0), zone)
    if spec in ("@daily", "@midnight"):
        return SpecSchedule(minute, hour, _full(_DOM), _full(_MONTH), _full(_DOW), zone)
    if spec == "@hourly":
        return SpecSchedule(minute, _full(_HOUR), _full(_DOM), _full(_MONTH), _full(_DOW), zone)
    every = "@every "
    if spec.startswith(every):
        try:
            delay = parse_go_duration(spec[len(every) :])
        except ValueError as err:
            raise CronParseError(f"failed to parse duration {spec}: {err}") from None
        delay = max(delay, _SECOND)
        return ConstantDelaySchedule(delay - dt.timedelta(microseconds=delay.microseconds))
    raise CronParseError(f"unrecognized descriptor: {spec}")


def _parse(spec: str) -> Schedule:
    if not spec:
        raise CronParseError("empty spec string")
    zone: dt.tzinfo = _UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        name = spec[spec.find("=") + 1 : space if space >= 0 else len(spec)]
        try:
            zone = load_timezone(name)
        except CronParseError as err:
            raise CronParseError(f"provided bad location {name}: {err}") from None
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != 5:
        raise CronParseError(
            f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
        )
    return SpecSchedule(
        minute=_field(fields[0], _MINUTE),
        hour=_field(fields[1], _HOUR),
        dom=_field(fields[2], _DOM),
        month=_field(fields[3], _MONTH),
        dow=_field(fields[4], _DOW),
        zone=zone,
    )


def parse_cron(expression: str, timezone: str = "") -> Schedule:
    """Parse a renewal window's cron expression in its timezone, as cert-manager's ``CronParse``.

    Args:
        expression: five fields or an ``@`` descriptor, optionally ``CRON_TZ=``-prefixed.
        timezone: the window's IANA zone; ``""`` leaves the expression's own zone or UTC.

    Returns:
        The schedule.

    Raises:
        CronParseError: ``failed to parse cron spec '<expression>': <reason>``.
    """
    spec = f"CRON_TZ={timezone} {expression}" if timezone else expression
    try:
        return _parse(spec)
    except CronParseError as err:
        raise CronParseError(f"failed to parse cron spec '{expression}': {err}") from None
