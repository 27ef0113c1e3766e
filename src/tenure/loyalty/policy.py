"""The program's settings, and the checks of what a write asks for.

The policy for negative balances is fixed here and stated in
docs/loyalty.md: a redemption beyond the points available is refused and
changes nothing; a reversal of points already spent (a clawback) is kept
as a debt, which the member's next points pay first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tenure.errors import InputError

# the longest customer id, reason or key the ledger's columns hold
MAX_CUSTOMER = 200
MAX_KEY = 255


@dataclass(frozen=True)
class Policy:
    """How points are kept.

    Parameters
    ----------
    expiry_days
        Points expire this many days after they were earned; ``None``: never.
    return_window_days
        Pending points (an order that may still be returned) become usable
        this many days after they were earned.
    key_hours
        An idempotency key is kept at least this long (Stripe keeps 24 h).
    """

    expiry_days: int | None = 365
    return_window_days: int = 30
    key_hours: int = 24

    def expiry(self) -> timedelta | None:
        return None if self.expiry_days is None else timedelta(days=self.expiry_days)

    def return_window(self) -> timedelta:
        return timedelta(days=self.return_window_days)


DEFAULT = Policy()


def checked_points(points: object, *, what: str = "points") -> int:
    """A whole number of points above zero."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InputError(
            f"{what} must be a whole number of 1 or more; got {points!r}.",
            hint="Give the points as a positive whole number, e.g. 100.",
            value=points,
        )
    return points


def checked_customer(customer_id: object) -> str:
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise InputError(
            f"the customer id must be a non-empty text; got {customer_id!r}.",
            hint="Give the customer's id as it appears in the ingested data, e.g. C1042.",
            value=customer_id,
        )
    if len(customer_id) > MAX_CUSTOMER:
        raise InputError(
            f"the customer id is {len(customer_id)} characters long; at most "
            f"{MAX_CUSTOMER} are kept.",
            hint="Use the customer's id as it appears in the ingested data.",
            value=customer_id[:40] + "…",
        )
    return customer_id


def checked_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY:
        raise InputError(
            f"an idempotency key must have 1 to {MAX_KEY} characters; got {len(key)}.",
            hint="Use a unique text per intended write, e.g. a UUID.",
            value=key[:40],
        )
    return key
