"""Quiet hours in the recipient's own time zone.

A message that is not exempt is held back from ``start`` to ``end`` of the
recipient's local clock (``[campaigns.quiet_hours]``; a span that passes
midnight, 21:00 to 08:00, is the usual one). The recipient's zone is the
customer's ``timezone`` as ingested; when it is missing or not an IANA
zone, the fallback is ``default_timezone`` of ``[campaigns.sending]``, and
without it the workspace's ``timezone`` setting (UTC unless set). The
decision says which zone it used and why.

Local times are computed with :mod:`zoneinfo`, so a quiet span across a
daylight-saving change lasts what the wall clock says: 21:00 to 08:00 is
eleven hours of real time on most nights, ten on the night clocks go
forward and twelve on the night they go back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tenure.campaigns.consent_settings import SendingRules


def zone_of(timezone: str | None, rules: SendingRules) -> tuple[ZoneInfo, bool]:
    """(the zone to use, whether it is the recipient's own)."""
    if timezone:
        try:
            return ZoneInfo(timezone), True
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            pass
    return ZoneInfo(rules.default_timezone), False


def _quiet_at(local: datetime, rules: SendingRules) -> bool:
    start, end, clock = rules.quiet_start, rules.quiet_end, local.time().replace(tzinfo=None)
    assert start is not None and end is not None
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # across midnight


def quiet_until(now: datetime, timezone: str | None, rules: SendingRules) -> datetime | None:
    """None when ``now`` is outside the recipient's quiet hours; otherwise
    the moment (UTC) they end, at ``end`` on the recipient's clock."""
    if rules.quiet_start is None or rules.quiet_end is None:
        return None
    zone, _ = zone_of(timezone, rules)
    local = now.astimezone(zone)
    if not _quiet_at(local, rules):
        return None
    day = local.date() if local.time().replace(tzinfo=None) < rules.quiet_end else (
        local.date() + timedelta(days=1))  # fmt: skip
    # the wall-clock end of the span; fold=0 takes the first of an hour that
    # happens twice, and a time that does not exist is read as after the jump
    end = datetime.combine(day, rules.quiet_end, tzinfo=zone)
    return end.astimezone(ZoneInfo("UTC"))
