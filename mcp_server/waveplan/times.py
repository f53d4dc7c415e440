"""Times as waveplan stores and shows them: fixed-width UTC ISO-8601 strings (stdlib only).

The store keeps ``2025-01-31T12:00:00.000000Z`` (sorts like the time it names); the
execution core reads plain seconds since the epoch. ``datetime.fromisoformat`` parses
the stored form in well under a microsecond (``strptime`` takes about ten).
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["epoch", "format_time", "from_epoch"]


def format_time(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string (sorts like the time it names).

    >>> format_time(datetime(2025, 1, 31, 12, 0, tzinfo=UTC))
    '2025-01-31T12:00:00.000000Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch(stored: str | None) -> float | None:
    """Seconds since the Unix epoch of a stored time (``None`` stays ``None``).

    >>> epoch("1970-01-01T00:01:00.000000Z"), epoch(None)
    (60.0, None)
    """
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def from_epoch(seconds: float) -> str:
    """The stored form of a time given in seconds since the epoch.

    >>> from_epoch(60.5)
    '1970-01-01T00:01:00.500000Z'
    """
    return format_time(datetime.fromtimestamp(seconds, tz=UTC))
