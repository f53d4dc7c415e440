"""Durations as plan files write them: checkpoint ``timeout: 24h``.

Accepted: a number of seconds (``90``, ``"90"``), units ``s m h d w`` glued together
(``"30m"``, ``"1h30m"``, ``"2d"``), or ISO-8601 durations without years and months
(``"PT30M"``, ``"P1DT2H"``). Anything else is refused with what to write instead.

>>> [parse_duration(x) for x in ("90", "30m", "1h30m", "2d", "PT1H", "P1DT2H30M")]
[90.0, 1800.0, 5400.0, 172800.0, 3600.0, 95400.0]
"""

from __future__ import annotations

import re

from waveplan.errors import WaveplanError

__all__ = ["InvalidDurationError", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SHORT = re.compile(r"(?:(\d+(?:\.\d+)?)([smhdw]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_ISO = re.compile(
    r"P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


class InvalidDurationError(WaveplanError):
    """A duration that is not a number of seconds, ``1h30m`` or ISO-8601 ``PT1H30M``."""

    code = "invalid_duration"


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text`` (see the module docstring).

    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    waveplan.execution.durations.InvalidDurationError: cannot read the duration 'soon'; \
write seconds (90), units (30m, 1h30m, 2d) or ISO-8601 (PT30M)
    """
    if isinstance(text, bool):
        raise InvalidDurationError(f"cannot read the duration {text!r}", duration=str(text))
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        raw = text.strip().lower()
        seconds = -1.0
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            seconds = float(raw)
        elif raw and _SHORT.fullmatch(raw):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))
        else:
            m = _ISO.fullmatch(raw.upper())
            if m and any(m.groups()) and not raw.upper().endswith("T"):
                w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
                seconds = w * 604800 + d * 86400 + h * 3600 + mi * 60 + s
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise InvalidDurationError(
            f"cannot read the duration {text!r}; write seconds (90), units (30m, 1h30m, 2d) "
            "or ISO-8601 (PT30M)",
            duration=str(text),
        )
    return seconds
