"""What the numbers depend on (:class:`Definitions`) and how every result
states them (:func:`describe`), without the engine: a command that answers
from the store's persisted summary in plain SQL states the same definitions
as the Ibis engine (:class:`tenure.engine.context.Context`) without
importing it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from tenure.config import Settings
from tenure.errors import ConfigError

# how far after the data's last day an as-of date may be
MAX_DAYS_AFTER_DATA = 366

# Orders that count as purchases. Refunded and cancelled orders do not: they
# are left out of orders, revenue, recency, frequency and acquisition (the
# customer summary counts them in refunded_orders and cancelled_orders).
PURCHASE_STATUSES = ("completed", "pending", "partially_refunded")
ACTIVE_BY = ("auto", "purchase", "subscription", "either")
FAR_FUTURE = date(9999, 1, 1)


@dataclass(frozen=True)
class Definitions:
    """What the numbers depend on.

    Parameters
    ----------
    timezone
        The business's IANA time zone: days, months and years begin at
        midnight there.
    activity_window
        Days: without a subscription, a customer is active at a date when
        they purchased within this many days up to it.
    active_by
        ``purchase``, ``subscription``, ``either``, or ``auto`` (subscriptions
        when there are no orders, purchases when there are no subscriptions,
        either when there are both).
    as_of
        The last day the numbers see; default: the day of the latest purchase
        (or, when subscriptions count, of the latest subscription start or end).
    """

    timezone: str = "UTC"
    activity_window: int = 365
    active_by: str = "auto"
    as_of: date | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Definitions:
        defs = cls(
            timezone=settings.timezone,
            activity_window=settings.activity_window,
            active_by=settings.active_by,
        )
        return replace(defs, **{k: v for k, v in overrides.items() if v is not None})

    def __post_init__(self) -> None:
        check_timezone(self.timezone)
        if self.active_by not in ACTIVE_BY:
            raise ConfigError(
                f"active_by is {self.active_by!r}.", hint=f"Use one of {', '.join(ACTIVE_BY)}."
            )
        if int(self.activity_window) < 1:
            raise ConfigError(
                f"the activity window is {self.activity_window} days.",
                hint="Use --activity-window with 1 or more days.",
            )


def check_timezone(tz: str) -> str:
    """``tz`` if it is an IANA time zone name, else a ConfigError that says so."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"the time zone {tz!r} is not an IANA time zone name.",
            hint="Use a name such as Europe/Berlin, America/New_York or UTC.",
        ) from None
    return tz


def resolve_active_by(wanted: str, has_orders: bool, has_subs: bool, description: str) -> str:
    """The active-customer definition in force: ``auto`` by what the data
    holds; one that needs subscriptions where there are none is refused."""
    if wanted == "auto":
        if has_orders and has_subs:
            return "either"
        return "subscription" if has_subs else "purchase"
    if wanted in ("subscription", "either") and not has_subs:
        from tenure.errors import InputError

        raise InputError(
            f"the active-customer definition '{wanted}' needs subscriptions, and "
            f"{description} has none.",
            hint="Ingest subscriptions, or use --active-by purchase.",
        )
    return wanted


def describe(
    defs: Definitions, active_by: str, as_of: date, currency: str, engine: str
) -> dict[str, Any]:
    """The definitions every output states."""
    from tenure.messages import Message

    window = defs.activity_window
    # a Message: the surfaces say it in the reader's language
    text = {
        "purchase": Message("a purchase in the {window} days up to the date", window=window),
        "subscription": Message("an active subscription at the end of the date"),
        "either": Message(
            "an active subscription, or a purchase in the {window} days up to the date",
            window=window,
        ),
    }[active_by]
    return {
        "active_customer": text,
        "active_by": active_by,
        "activity_window_days": window if active_by != "subscription" else None,
        "timezone": defs.timezone,
        "as_of": as_of.isoformat(),
        "currency": currency,
        "engine": engine,
        "purchase_statuses": list(PURCHASE_STATUSES),
    }
