"""Times in the ledger: always UTC, whatever the database gives back.

SQLite keeps no time zone, so a time read back from it is naive; every time
the ledger compares passes through :func:`utc` first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tenure.errors import InputError


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time (a naive one is taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months; a day the month lacks
    becomes its last (31 January + 1 month: 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def now() -> datetime:
    return datetime.now(UTC)


def day_after(text: str, *, option: str, zone: str = "UTC") -> datetime:
    """Midnight after the day ``text`` (YYYY-MM-DD) in the time zone
    ``zone``, as a UTC time: the moment a period that includes that day
    ends."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not a date.",
            hint=f"Give it as YYYY-MM-DD, e.g. {option} {date.today().isoformat()}.",
            value=text,
        ) from None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def end_of_day(text: str, *, option: str = "--as-of") -> datetime:
    """The end of the day ``text`` (YYYY-MM-DD) in UTC, refused when that is
    still to come: an expiry run for a day that has not ended would take
    points their members may still use."""
    moment = day_after(text, option=option)
    current = now()
    if moment - timedelta(days=1) > current:
        raise InputError(
            f"{option} {text} is in the future; expiry runs only for days that have begun.",
            hint=f"Leave {option} out to run for now, or give a date up to "
            f"{current.date().isoformat()}.",
            value=text,
        )
    return min(moment, current)
