"""Earning rules: how many points an order line, or a bonus event, earns.

Declared in the ``[loyalty.earning]`` table of ``tenure.toml`` or in the
TOML file named by ``[loyalty] rules_file`` (the same keys at its top
level; see docs/loyalty.md, Earning rules)::

    points_per_unit = 1          # points per unit of the reporting currency
    categories = {books = 2, gift_cards = 0}   # a category's own rate
    products = {"SKU-42" = 5}    # a product's own rate (beats its category)
    tier_multipliers = {Silver = 1.25, Gold = 1.5}

    [bonuses]                    # points for an event, granted once per key
    sign_up = 100
    first_order = 50
    birthday = 200
    review = 20
    survey = 10
    # referral, challenge: deprecated; their points are read from [loyalty]
    # referrals and challenges (tenure.loyalty_settings.one_source)

A line earns ``floor(amount x rate x multiplier)`` points: its amount in the
reporting currency, the rate of its product, else of its category, else
``points_per_unit``, and the multiplier of the member's tier (1 without
one). Rules are checked when they are read: a bad one is a
:class:`~tenure.errors.ConfigError` naming the file, the key and the value,
and what to write instead.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenure.errors import ConfigError

BONUS_EVENTS = ("sign_up", "first_order", "birthday", "review", "survey", "referral", "challenge")
# the rule every order line earns under: once per line
PURCHASE = "purchase"
# the most a rate or a multiplier may be: beyond, a typo (1000 for 1.000)
MAX_RATE = 10_000.0
MAX_BONUS = 10**9

_KEYS = ("points_per_unit", "categories", "products", "tier_multipliers", "bonuses")


@dataclass(frozen=True)
class EarningRules:
    """The program's earning rules (see the module docstring).

    Parameters
    ----------
    points_per_unit
        Points per unit of the reporting currency of an order line whose
        product and category have no rate of their own.
    categories, products
        Rates of their own, by category and by product id.
    tier_multipliers
        The member's tier multiplies a line's points (by tier name).
    bonuses
        Points for each bonus event (see ``BONUS_EVENTS``); an event not
        named earns nothing.
    source
        Where the rules were declared (a file and table), for messages.
    """

    points_per_unit: float = 1.0
    categories: dict[str, float] = field(default_factory=dict)
    products: dict[str, float] = field(default_factory=dict)
    tier_multipliers: dict[str, float] = field(default_factory=dict)
    bonuses: dict[str, int] = field(default_factory=dict)
    source: str = "rules"

    def line_points(
        self,
        amount: float,
        *,
        product: str | None = None,
        category: str | None = None,
        tier: str | None = None,
    ) -> int:
        """The points of one order line, as the posting computes them in SQL:
        ``floor(amount x rate x multiplier)``, never below 0."""
        rate = self.products.get(product or "", self.categories.get(category or "",
                                                                   self.points_per_unit))  # fmt: skip
        multiplier = self.tier_multipliers.get(tier or "", 1.0)
        # the same rounding as the SQL: a tiny epsilon keeps 2.9 x 10 = 29
        return max(0, math.floor(amount * rate * multiplier + 1e-9))

    def bonus(self, event: str) -> int:
        return self.bonuses.get(event, 0)


def _number(value: Any, key: str, where: str, origin: str, example: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 <= value <= MAX_RATE):  # fmt: skip
        raise ConfigError(
            f"{where}: '{key}' has the value {value!r}, which is not a number from 0 "
            f"to {MAX_RATE:,.0f}.",
            hint=f"Fix it in {origin}, e.g. {example}.",
        )
    return float(value)


def _table(value: Any, key: str, where: str, origin: str, example: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' has the value {value!r}, which is not a table.",
                          hint=f"Fix it in {origin}, e.g. {key} = {example}.")  # fmt: skip
    rates: dict[str, float] = {}
    for name, rate in value.items():
        if isinstance(rate, dict):
            raise ConfigError(f"{where}: '{key}.{name}' is a table, not a number.",
                              hint=f"Fix it in {origin}, e.g. {key} = {example}.")  # fmt: skip
        rates[str(name)] = _number(rate, f"{key}.{name}", where, origin, f"{key} = {example}")
    return rates


def parse_rules(raw: Any, where: str, origin: str) -> EarningRules:
    """The rules of the table ``raw``, read from ``where`` (a file and the
    table in it) of the file ``origin``; a ConfigError names what is wrong."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the earning rules must be a table; got {raw!r}.",
                          hint=f"Fix it in {origin}: see docs/loyalty.md, Earning rules.")  # fmt: skip
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown earning rule '{key}'.",
                              hint=f"Fix it in {origin}; the rules are {', '.join(_KEYS)}.")  # fmt: skip
    per_unit = _number(raw.get("points_per_unit", 1), "points_per_unit", where, origin,
                       "points_per_unit = 1")  # fmt: skip
    categories = _table(raw.get("categories", {}), "categories", where, origin, "{books = 2}")
    products = _table(raw.get("products", {}), "products", where, origin, '{"SKU-42" = 5}')
    multipliers = _table(raw.get("tier_multipliers", {}), "tier_multipliers", where, origin,
                         "{Gold = 1.5}")  # fmt: skip
    bonuses_raw = raw.get("bonuses", {})
    if not isinstance(bonuses_raw, dict):
        raise ConfigError(f"{where}: 'bonuses' has the value {bonuses_raw!r}, which is not a table.",
                          hint=f"Fix it in {origin}, e.g. bonuses = {{first_order = 50}}.")  # fmt: skip
    bonuses: dict[str, int] = {}
    for event, points in bonuses_raw.items():
        if event not in BONUS_EVENTS:
            raise ConfigError(f"{where}: 'bonuses.{event}' is not a bonus event.",
                              hint=f"Fix it in {origin}: the events are "
                                   f"{', '.join(BONUS_EVENTS)}.")  # fmt: skip
        if (isinstance(points, bool) or not isinstance(points, int)
                or not 0 <= points <= MAX_BONUS):  # fmt: skip
            raise ConfigError(
                f"{where}: 'bonuses.{event}' has the value {points!r}, which is not a whole "
                "number of points of 0 or more.",
                hint=f"Fix it in {origin}, e.g. {event} = 50.",
            )
        bonuses[event] = points
    return EarningRules(per_unit, categories, products, multipliers, bonuses, source=where)


def load_rules_file(path: str | Path, origin: str) -> EarningRules:
    """The rules of a TOML rules file (``rules_file`` in ``origin``'s
    ``[loyalty]`` table; a relative path is read beside ``origin``)."""
    file = Path(path)
    if not file.is_absolute():
        file = Path(origin).parent / file
    if not file.is_file():
        raise ConfigError(
            f"{origin} [loyalty]: 'rules_file' has the value {str(path)!r}, and {file} does "
            "not exist.",
            hint=f"Create {file}, or fix the path in {origin} (relative to that file).",
        )
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}.",
                          hint="Fix the file: see docs/loyalty.md, Earning rules.") from None  # fmt: skip
    return parse_rules(raw, str(file), str(file))
