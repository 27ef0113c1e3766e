"""Slowing down repeated wrong passwords.

After ``FREE`` wrong attempts within ``WINDOW`` for one email, or ``5 ×
FREE`` from one address (spraying many emails), each further attempt must
wait twice as long as the one before, from one second up to ``MAX_WAIT``,
counted from the last wrong attempt. A right password clears the email's
count. The attempts are kept in the operational store, so every server
process sees them.

So that an attacker's wrong guesses cannot lock a user out, an attempt
from a *known device* (a browser where this user logged in before, which
the web server recognises by a signed cookie) is counted apart, under the
device: the email's count does not hold it back, and its own wrong
attempts slow down only that device. The count by address still holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tenure.errors import RateLimitedError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import login_attempts

FREE = 5
WINDOW = timedelta(minutes=15)
MAX_WAIT = 900  # seconds


def wait_seconds(failures: int) -> int:
    """Seconds to wait after ``failures`` wrong attempts in the window."""
    if failures < FREE:
        return 0
    return int(min(2 ** (failures - FREE), MAX_WAIT))


def _failures(conn: sa.Connection, column: sa.Column, value: str, since: datetime):
    """(wrong attempts since the last right one, within the window; the last's time)."""
    last_ok = (
        sa.select(sa.func.max(login_attempts.c.at))
        .where(column == value, login_attempts.c.ok.is_(True))
        .scalar_subquery()
    )
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.max(login_attempts.c.at)).where(
            column == value,
            login_attempts.c.ok.is_(False),
            login_attempts.c.at >= since,
            sa.or_(last_ok.is_(None), login_attempts.c.at > last_ok),
        )
    ).first()
    return int(row[0]), row[1]


def device_key(device: str) -> str:
    """What a known device's attempts are counted under."""
    return "device:" + device


def check(ops: OpsStore, email: str, address: str, device: str | None = None) -> None:
    """Refuse the attempt while its email (or, from a known ``device``, the
    device) or address must still wait."""
    email = device_key(device) if device else email
    now = datetime.now(UTC)
    with ops.engine.connect() as conn:
        by_email = _failures(conn, login_attempts.c.email, email, now - WINDOW)
        by_address = _failures(conn, login_attempts.c.address, address, now - WINDOW)
    waits = [wait_seconds(by_email[0])]
    lasts = [by_email[1]]
    if by_address[0] >= 5 * FREE:
        waits.append(wait_seconds(by_address[0] - 4 * FREE))
        lasts.append(by_address[1])
    left = 0
    for wait, last in zip(waits, lasts, strict=True):
        if wait and last is not None:
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            left = max(left, int((last + timedelta(seconds=wait) - now).total_seconds() + 0.999))
    if left > 0:
        raise RateLimitedError(
            f"too many wrong passwords; try again in {left} s.",
            hint="Wait, then check the email and the password; an admin can reset it.",
            retry_after=left,
        )


def record(ops: OpsStore, email: str, address: str, ok: bool, device: str | None = None) -> None:
    email = device_key(device) if device else email
    now = datetime.now(UTC)
    with ops.engine.begin() as conn:
        conn.execute(login_attempts.insert().values(email=email, address=address, at=now, ok=ok))
        # attempts older than a day are of no use any more
        conn.execute(login_attempts.delete().where(login_attempts.c.at < now - timedelta(days=1)))
