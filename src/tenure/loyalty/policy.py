"""The program's settings, and the checks of what a write asks for.

The policy for negative balances is fixed here and stated in
docs/loyalty.md: a redemption beyond the points available is refused and
changes nothing; a reversal of points already spent (a clawback) is kept
as a debt, which the member's next points pay first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from tenure.errors import InputError
from tenure.loyalty.clock import add_months

if TYPE_CHECKING:
    from tenure.config import LoyaltySettings

# the longest customer id, reason or key the ledger's columns hold
MAX_CUSTOMER = 200
MAX_KEY = 255
# the most points one write moves: far beyond any program, and sums of
# many such writes stay within the 64-bit integers both databases store
MAX_POINTS = 10**12


@dataclass(frozen=True)
class Tier:
    """A tier of the program: reached when the qualifying value over the
    window is ``threshold`` or more."""

    name: str
    threshold: float


@dataclass(frozen=True)
class TierProgram:
    """How members qualify for tiers (see docs/loyalty.md, Tiers).

    Parameters
    ----------
    tiers
        The tiers, lowest threshold first.
    basis
        ``points``: points earned in the window (less reversals of
        earnings); ``spend``: the amounts those points were earned for.
    window
        ``rolling_12_months`` or ``calendar_year``.
    grace_days
        Days after the end of a period before a downgrade takes effect.
    timezone
        The IANA time zone whose midnights and wall clock bound the
        windows and periods (a calendar year begins on 1 January there).
    """

    tiers: tuple[Tier, ...]
    basis: str = "points"
    window: str = "rolling_12_months"
    grace_days: int = 0
    timezone: str = "UTC"

    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)

    def rank(self, name: str | None) -> int:
        """0 for no tier, 1 for the lowest, and so on; a name no longer
        declared (a manual tier, a renamed one) ranks as no tier."""
        for i, tier in enumerate(self.tiers, 1):
            if tier.name == name:
                return i
        return 0

    def qualified(self, value: float) -> str | None:
        """The highest tier whose threshold ``value`` reaches."""
        found = None
        for tier in self.tiers:
            if value >= tier.threshold:
                found = tier.name
        return found

    def above(self, name: str | None) -> Tier | None:
        rank = self.rank(name)
        return self.tiers[rank] if rank < len(self.tiers) else None

    def get(self, name: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


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
    expiry_months
        Points expire this many calendar months after they were earned
        (instead of ``expiry_days``); 0: never.
    negative_balance
        ``debt``, the one policy: a redemption beyond the points available
        is refused; a clawback of points already spent is kept as a debt.
    tiers
        The tier program, or ``None`` for a program without tiers.
    """

    expiry_days: int | None = 365
    return_window_days: int = 30
    key_hours: int = 24
    expiry_months: int | None = None
    negative_balance: str = "debt"
    tiers: TierProgram | None = None

    @classmethod
    def from_settings(cls, s: LoyaltySettings) -> Policy:
        """The policy of the ``[loyalty]`` table of tenure.toml."""
        days = 365 if s.expiry_days is None and s.expiry_months is None else s.expiry_days
        tiers = None
        if s.tiers:
            tiers = TierProgram(tuple(Tier(n, t) for n, t in s.tiers), basis=s.tier_basis,
                                window=s.tier_window, grace_days=s.tier_grace_days,
                                timezone=s.timezone or "UTC")  # fmt: skip
        return cls(expiry_days=days or None, return_window_days=s.return_window_days,
                   expiry_months=s.expiry_months, negative_balance=s.negative_balance,
                   tiers=tiers)  # fmt: skip

    def expires(self, at: datetime) -> datetime | None:
        """When points earned at ``at`` expire; ``None``: never."""
        if self.expiry_months is not None:
            return add_months(at, self.expiry_months) if self.expiry_months else None
        return None if self.expiry_days is None else at + timedelta(days=self.expiry_days)

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
    if points > MAX_POINTS:
        raise InputError(
            f"{what} must be at most {MAX_POINTS:,} in one write; got {points:,}.",
            hint="Check the number: one write moves at most a trillion points.",
            value=points,
        )
    return points


def _control(text: str) -> str | None:
    """The first control character of ``text`` (Unicode category Cc), as U+XXXX at its place."""
    for i, ch in enumerate(text, 1):
        if unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X} at character {i}"
    return None


def checked_customer(customer_id: object) -> str:
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise InputError(
            f"the customer id must be a non-empty text; got {customer_id!r}.",
            hint="Give the customer's id as it appears in the ingested data, e.g. C1042.",
            value=customer_id,
        )
    found = _control(customer_id)
    if found:
        raise InputError(
            f"the customer id {customer_id!r} holds a control character ({found}).",
            hint="Give the customer's id as it appears in the ingested data, without tabs, "
            "line breaks or NUL.",
            value=customer_id[:40],
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
    found = _control(key)
    if found:
        raise InputError(
            f"the idempotency key {key[:40]!r} holds a control character ({found}).",
            hint="Use a unique text per intended write, e.g. a UUID.",
            value=key[:40],
        )
    return key


def checked_amount(amount: object) -> float | None:
    """What points were earned for: a number of 0 or more, or None."""
    if amount is None:
        return None
    if isinstance(amount, Decimal) and amount.is_finite():
        amount = float(amount)
    if (isinstance(amount, bool) or not isinstance(amount, int | float)
            or not 0 <= amount < float("inf")):  # fmt: skip
        raise InputError(
            f"the amount the points were earned for must be a number of 0 or more; got {amount!r}.",
            hint="Give the order line's amount in the reporting currency, e.g. 49.90.",
            value=amount,
        )
    return round(float(amount), 4)
