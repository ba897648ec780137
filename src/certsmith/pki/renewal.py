"""When a certificate is renewed, and how long a failed issuance waits before the next try.

Decides, as cert-manager's ``pkg/util/pki/renewaltime.go`` and the trigger controller do:

* the renewal time (SPEC §5.6): ``renewBefore`` when ``0 < renewBefore < lifetime``, else
  ``lifetime * p / 100`` for ``renewBeforePercentage`` ``0 < p < 100``, else a third of the
  lifetime, subtracted from ``notAfter`` and truncated to the second. The lifetime is the issued
  certificate's ``notAfter - notBefore``, not the spec's duration. The truncation matters: the
  status stores seconds, and the trigger recomputes this value to decide whether renewal is due,
  so an untruncated value would requeue a certificate just before it is due and never renew it;
* renewal windows (SPEC §5.7): the desired time is moved into a cron window. Every window
  searches ``[notBefore - windowDuration, notAfter + windowDuration]``; the latest start at or
  before the desired time whose window has not ended before it wins (the desired time itself
  when inside the window, else the window's end), over all windows; failing that the earliest
  start after the desired time (or the desired time when that window already holds it). No
  candidate is a ``WindowError``. The search is cert-manager's, including its binary search
  over ``Next``, so schedules with odd shapes (``@every``) give cert-manager's answers;
* policy ``Disabled`` means no renewal time; policy ``RenewBefore`` applies the windows; a
  ``renewal`` block without a policy is an error, as in cert-manager;
* the failure backoff (SPEC §5.4): ``min(maximum, initial * 2^(attempts - 1))``, attempts
  ``None`` or ≤ 0 counting as one, defaults 1h and 32h.

Everything here is pure: times come in as arguments, timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from certsmith.api.certmanager import RenewalWindow, RenewalWindowSpec
from certsmith.api.duration import parse_go_duration
from certsmith.api.errors import CertsmithError
from certsmith.pki.cron import CronParseError, Schedule, load_timezone, parse_cron

__all__ = [
    "DEFAULT_INITIAL_BACKOFF",
    "DEFAULT_MAXIMUM_BACKOFF",
    "WindowError",
    "backoff_delay",
    "renew_before_duration",
    "renewal_time",
    "renewal_time_for_spec",
    "renewal_time_in_windows",
]

DEFAULT_INITIAL_BACKOFF: Final = dt.timedelta(hours=1)
"""``certificateRequestMinimumBackoffDuration``'s default."""
DEFAULT_MAXIMUM_BACKOFF: Final = dt.timedelta(hours=32)
"""``certificateRequestMaximumBackoffDuration``'s default."""

_SECOND: Final = dt.timedelta(seconds=1)


class WindowError(CertsmithError, ValueError):
    """No renewal time fits the windows, or a window cannot be read.

    The message is what readiness prints after ``Could not calculate renewal time: `` (reason
    ``WindowError``). ``desired`` is the unshifted renewal time, which cert-manager still uses.
    """

    def __init__(self, message: str, desired: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.desired = desired


def _aware(name: str, value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(dt.UTC)


def renew_before_duration(
    lifetime: dt.timedelta,
    *,
    renew_before: dt.timedelta | None,
    renew_before_percentage: int | None,
) -> dt.timedelta:
    """How long before ``notAfter`` renewal is due (cert-manager's ``desiredRenewalTime``).

    Args:
        lifetime: the issued certificate's ``notAfter - notBefore``.
        renew_before: ``spec.renewBefore``; used when ``0 < renew_before < lifetime``.
        renew_before_percentage: ``spec.renewBeforePercentage``; used when in ``(0, 100)``.

    Returns:
        ``renew_before``, ``lifetime * p / 100`` or ``lifetime / 3``.
    """
    if renew_before is not None and dt.timedelta(0) < renew_before < lifetime:
        return renew_before
    if renew_before_percentage is not None and 0 < renew_before_percentage < 100:
        # Go computes float64(ns) * p / 100 and truncates to nanoseconds; microseconds here.
        micros = lifetime // dt.timedelta(microseconds=1)
        return dt.timedelta(microseconds=int(float(micros) * float(renew_before_percentage) / 100))
    return lifetime / 3


def renewal_time(
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    renew_before: dt.timedelta | None,
    renew_before_percentage: int | None,
) -> dt.datetime:
    """The desired renewal time of an issued certificate, truncated to the second (SPEC §5.6).

    Args:
        not_before: the certificate's notBefore, timezone-aware.
        not_after: the certificate's notAfter, timezone-aware.
        renew_before: ``spec.renewBefore`` or ``None``.
        renew_before_percentage: ``spec.renewBeforePercentage`` or ``None``.

    Returns:
        ``notAfter - renewBefore`` in UTC, microseconds dropped.

    Raises:
        TypeError: a time is not a datetime.
        ValueError: a time is naive.
    """
    start = _aware("not_before", not_before)
    end = _aware("not_after", not_after)
    before = renew_before_duration(
        end - start, renew_before=renew_before, renew_before_percentage=renew_before_percentage
    )
    return _truncate(end - before)


def _truncate(t: dt.datetime) -> dt.datetime:
    # Go's Truncate(time.Second) rounds toward the zero time, i.e. down, also before the epoch.
    return t.replace(microsecond=0)


def _go_time(t: dt.datetime) -> str:
    """``time.Time.String()`` of a UTC time, as cert-manager prints it in the window error."""
    text = t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return f"{text} +0000 UTC"


def _latest_start(schedule: Schedule, low: dt.datetime, high: dt.datetime) -> dt.datetime | None:
    """cert-manager's ``bsFindLatestWindowBeforeDesired``: the latest start in ``[low, high]``.

    ``Next`` is the only question a schedule answers, so this is the same binary search; a
    ``None`` from ``Next`` counts as Go's zero time (before everything), as it does there.
    """
    if not low < high:
        return None
    first = schedule.next_after(low - _SECOND)
    if first is not None and first > high:
        return None
    lo, hi = low, high
    while hi - lo > _SECOND:
        mid = lo + (hi - lo) / 2
        nxt = schedule.next_after(mid)
        if nxt is not None and nxt > high:
            hi = mid
        else:
            lo = mid
    last = schedule.next_after(lo - _SECOND)
    if last is None or last > high:
        return None
    return last


def _best_before(
    schedule: Schedule,
    search_min: dt.datetime,
    search_max: dt.datetime,
    desired: dt.datetime,
    duration: dt.timedelta,
) -> dt.datetime | None:
    if desired < search_min:
        return None
    start = _latest_start(schedule, search_min, min(desired, search_max))
    if start is None:
        return None
    end = start + duration
    candidate = desired if start <= desired < end else end
    return candidate if candidate >= desired else None


def _best_after(
    schedule: Schedule,
    search_min: dt.datetime,
    search_max: dt.datetime,
    desired: dt.datetime,
    duration: dt.timedelta,
) -> dt.datetime | None:
    start = schedule.next_after(max(desired, search_min) - _SECOND)
    if start is None or start > search_max:
        return None
    if start <= desired < start + duration:
        return desired
    if desired < start:
        return start
    return None


def _window(window: RenewalWindowSpec) -> tuple[Schedule, dt.timedelta]:
    try:
        load_timezone(window.timezone or "")
    except CronParseError as err:
        raise WindowError(f"error parsing timezone in window {err}") from None
    try:
        schedule = parse_cron(window.cron, window.timezone or "")
    except CronParseError as err:
        raise WindowError(f"error parsing cron in window {err}") from None
    try:
        duration = parse_go_duration(window.window_duration)
    except ValueError as err:
        raise WindowError(f"error parsing windowDuration in window {err}") from None
    if duration <= dt.timedelta(0):
        raise WindowError(
            f"windowDuration must be a positive duration in window {window.window_duration!r}"
        )
    return schedule, duration


def renewal_time_in_windows(
    desired: dt.datetime,
    windows: Sequence[RenewalWindowSpec],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> dt.datetime:
    """Move the desired renewal time into the renewal windows (SPEC §5.7).

    Args:
        desired: ``renewal_time(...)``, timezone-aware.
        windows: ``spec.renewal.windows``; empty leaves ``desired`` as it is.
        not_before: the certificate's notBefore.
        not_after: the certificate's notAfter.

    Returns:
        The renewal time, in UTC.

    Raises:
        WindowError: a window's timezone, cron or duration is invalid, or no window fits
            (``cannot find a time with the given windows between <notBefore> and <notAfter>
            for: <desired>``); ``desired`` rides on the error.
        TypeError: a time is not a datetime.
        ValueError: a time is naive.
    """
    wanted = _aware("desired", desired)
    start = _aware("not_before", not_before)
    end = _aware("not_after", not_after)
    if not windows:
        return wanted
    best_before: dt.datetime | None = None
    best_after: dt.datetime | None = None
    for window in windows:
        schedule, duration = _window(window)
        search_min, search_max = start - duration, end + duration
        before = _best_before(schedule, search_min, search_max, wanted, duration)
        if before is not None and (best_before is None or before > best_before):
            best_before = before
        after = _best_after(schedule, search_min, search_max, wanted, duration)
        if after is not None and (best_after is None or after < best_after):
            best_after = after
    if best_before is not None:
        return best_before
    if best_after is not None:
        return best_after
    raise WindowError(
        f"cannot find a time with the given windows between {_go_time(start)} and "
        f"{_go_time(end)} for: {_go_time(wanted)}",
        desired=wanted,
    )


def renewal_time_for_spec(
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    renew_before: dt.timedelta | None,
    renew_before_percentage: int | None,
    renewal: RenewalWindow | None,
) -> dt.datetime | None:
    """``status.renewalTime`` for a certificate and its spec (cert-manager's ``RenewalTime``).

    Args:
        not_before: the certificate's notBefore, timezone-aware.
        not_after: the certificate's notAfter, timezone-aware.
        renew_before: ``spec.renewBefore`` or ``None``.
        renew_before_percentage: ``spec.renewBeforePercentage`` or ``None``.
        renewal: ``spec.renewal`` or ``None``.

    Returns:
        The renewal time, or ``None`` when the policy is ``Disabled``.

    Raises:
        WindowError: the windows cannot be satisfied or read, or ``renewal`` has no policy
            (``unsupported renewal policy: ``).
        TypeError: a time is not a datetime.
        ValueError: a time is naive.
    """
    desired = renewal_time(
        not_before,
        not_after,
        renew_before=renew_before,
        renew_before_percentage=renew_before_percentage,
    )
    if renewal is None:
        return desired
    if renewal.policy == "Disabled":
        return None
    if renewal.policy == "RenewBefore":
        return renewal_time_in_windows(desired, renewal.windows or (), not_before, not_after)
    raise WindowError(f"unsupported renewal policy: {renewal.policy or ''}", desired=desired)


def backoff_delay(
    failed_attempts: int | None,
    initial: dt.timedelta = DEFAULT_INITIAL_BACKOFF,
    maximum: dt.timedelta = DEFAULT_MAXIMUM_BACKOFF,
) -> dt.timedelta:
    """How long after ``lastFailureTime`` the next issuance may start (SPEC §5.4).

    Args:
        failed_attempts: ``status.failedIssuanceAttempts``; ``None`` or ≤ 0 counts as one.
        initial: the delay after the first failure.
        maximum: the cap.

    Returns:
        ``min(maximum, initial * 2^(failed_attempts - 1))``: 1h, 2h, 4h, ... 32h, 32h by default.

    Raises:
        ValueError: ``initial`` or ``maximum`` is negative.
    """
    if initial < dt.timedelta(0) or maximum < dt.timedelta(0):
        raise ValueError("backoff durations must not be negative")
    attempts = failed_attempts if failed_attempts is not None and failed_attempts > 0 else 1
    delay = initial
    for _ in range(attempts - 1):
        if delay >= maximum:
            break
        delay *= 2
    return min(delay, maximum)
