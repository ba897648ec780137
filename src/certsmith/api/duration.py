"""Go ``time.Duration`` strings as Kubernetes writes them (``2160h``, ``1h30m``, ``90s``).

cert-manager's ``duration`` and ``renewBefore`` are ``metav1.Duration``: parsed with Go's
``time.ParseDuration`` and printed with ``Duration.String``. We keep the wire string in the
models (lossless round trips) and convert with these two functions.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Final

_UNIT_NANOSECONDS: Final = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "µs": Decimal(1_000),
    "μs": Decimal(1_000),
    "ms": Decimal(1_000_000),
    "s": Decimal(1_000_000_000),
    "m": Decimal(60_000_000_000),
    "h": Decimal(3_600_000_000_000),
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> dt.timedelta:
    """Parse a Go duration string such as ``"2160h"`` or ``"-1m30.5s"``.

    Raises:
        ValueError: the text is not a Go duration; the message quotes it as Go does.
    """
    if not isinstance(text, str):
        raise TypeError(f"duration must be a str, not {type(text).__name__}")
    body, sign = text, 1
    if body and body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return dt.timedelta(0)
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    pos, total = 0, Decimal(0)
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            if body[pos].isdigit() or body[pos] == ".":
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        try:
            number = Decimal(match.group(1))
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
            raise ValueError(f'time: invalid duration "{text}"') from exc
        total += number * _UNIT_NANOSECONDS[match.group(2)]
        pos = match.end()
    nanoseconds = int(total) * sign
    return dt.timedelta(microseconds=nanoseconds // 1000)


def format_go_duration(delta: dt.timedelta) -> str:
    """Print a duration the way Go's ``Duration.String`` does (``2160h0m0s``)."""
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000_000:
        if micros < 1000:
            return f"{sign}{micros}µs"
        millis = Decimal(micros) / 1000
        return f"{sign}{_trim(millis)}ms"
    hours, rem = divmod(micros, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds = Decimal(rem) / 1_000_000
    out = f"{_trim(seconds)}s"
    if hours or minutes:
        out = f"{minutes}m{out}"
    if hours:
        out = f"{hours}h{out}"
    return sign + out


def _trim(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
