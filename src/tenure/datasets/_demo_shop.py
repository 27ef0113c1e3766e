"""The shop behind the demo: countries, currencies, customers and orders.

The weights here are the business's true shares; ``params.json`` records
them next to the model parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tenure.datasets import _demo_sim as sim
from tenure.datasets import _demo_text as text
from tenure.datasets._demo_sim import Window


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    currency: str
    locale: str
    time_zones: tuple[tuple[str, float], ...]


COUNTRIES = (
    Country("DE", 0.22, "EUR", "de-DE", (("Europe/Berlin", 1.0),)),
    Country("FR", 0.14, "EUR", "fr-FR", (("Europe/Paris", 1.0),)),
    Country("ES", 0.09, "EUR", "es-ES", (("Europe/Madrid", 1.0),)),
    Country("GB", 0.15, "GBP", "en-GB", (("Europe/London", 1.0),)),
    Country("US", 0.22, "USD", "en-US", (("America/New_York", 0.6), ("America/Los_Angeles", 0.4))),
    Country("SE", 0.05, "SEK", "sv-SE", (("Europe/Stockholm", 1.0),)),
    Country("JP", 0.07, "JPY", "ja-JP", (("Asia/Tokyo", 1.0),)),
    Country("BR", 0.06, "BRL", "pt-BR", (("America/Sao_Paulo", 1.0),)),
)

# code -> (minor-unit digits, EUR per unit around which the rate wanders, monthly log-sd)
CURRENCIES = {
    "EUR": (2, 1.0, 0.0),
    "GBP": (2, 1.17, 0.015),
    "USD": (2, 0.92, 0.02),
    "SEK": (2, 0.088, 0.02),
    "JPY": (0, 0.0062, 0.025),
    "BRL": (2, 0.17, 0.035),
}

ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "marketplace")
ACQUISITION_WEIGHTS = (0.38, 0.24, 0.16, 0.08, 0.0, 0.14)  # referral is set by referred_by
REFERRED_SHARE = 0.08
CONSENT_SHARES = {"email": 0.62, "sms": 0.22, "push": 0.35}
BIRTHDAY_MISSING = 0.15

ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
STATUS_WEIGHTS = (0.90, 0.05, 0.03, 0.02)
# completed and partially refunded orders are purchases; refunded and
# cancelled ones are not, and come beside a purchase (see sim.purchases):
# this many per purchase keep the shares of STATUS_WEIGHTS
PURCHASE_STATUSES = ("completed", "partially_refunded")
VOID_STATUSES = ("refunded", "cancelled")
_W = dict(zip(ORDER_STATUSES, STATUS_WEIGHTS, strict=True))
VOID_PER_PURCHASE = sum(_W[k] for k in VOID_STATUSES) / sum(_W[k] for k in PURCHASE_STATUSES)
ORDER_CHANNELS = ("web", "app", "store")
ORDER_CHANNEL_WEIGHTS = (0.55, 0.35, 0.10)
DISCOUNTED_SHARE = 0.20
DISCOUNT_RATES = (0.05, 0.10, 0.15, 0.20)

CATEGORIES = ("apparel", "shoes", "accessories", "beauty", "home", "sports")
CATEGORY_WEIGHTS = (0.30, 0.15, 0.15, 0.15, 0.15, 0.10)
LINE_WEIGHTS = (0.50, 0.28, 0.14, 0.08)  # 1, 2, 3 or 4 lines per order
QUANTITY_WEIGHTS = (0.85, 0.11, 0.04)  # 1, 2 or 3 units per line


@dataclass(frozen=True)
class People:
    """The customers table and the per-customer arrays the other files need."""

    table: pa.Table
    country: np.ndarray  # index into COUNTRIES
    acquired: np.ndarray  # Unix seconds of the first purchase
    consent_email: np.ndarray


def customers(rng: np.random.Generator, n: int, window: Window, as_of: date) -> People:
    """Customer attributes, in acquisition order (C000001 is the first customer)."""
    # acquisitions run on to the as-of day, as in a business that is open
    acquired = np.sort(window.t_start + rng.integers(0, window.t_end - window.t_start, n))
    country = sim.choice(rng, [c.weight for c in COUNTRIES], n)

    zones = [z for c in COUNTRIES for z, _ in c.time_zones]
    zone = np.zeros(n, np.int64)
    for i, c in enumerate(COUNTRIES):  # eight countries
        at = np.flatnonzero(country == i)
        offset = zones.index(c.time_zones[0][0])
        zone[at] = offset + sim.choice(rng, [w for _, w in c.time_zones], len(at))

    locales = [c.locale for c in COUNTRIES]
    firsts = [text.FIRST_NAMES[loc] for loc in locales]
    lasts = [text.LAST_NAMES[loc] for loc in locales]
    first_start = np.cumsum([0] + [len(f) for f in firsts])[:-1]
    last_start = np.cumsum([0] + [len(f) for f in lasts])[:-1]
    first_size = np.array([len(f) for f in firsts])
    last_size = np.array([len(f) for f in lasts])
    fi = first_start[country] + np.floor(rng.random(n) * first_size[country]).astype(np.int64)
    li = last_start[country] + np.floor(rng.random(n) * last_size[country]).astype(np.int64)
    flat_first = [x for f in firsts for x in f]
    flat_last = [x for f in lasts for x in f]
    given = text.pick([d for d, _ in flat_first], fi)
    family = text.pick([d for d, _ in flat_last], li)
    family_first = np.isin(
        country, [i for i, c in enumerate(COUNTRIES) if c.locale in text.FAMILY_NAME_FIRST]
    )
    name = pc.if_else(
        pa.array(family_first),
        pc.binary_join_element_wise(family, given, " "),
        pc.binary_join_element_wise(given, family, " "),
    )
    # The trailing number is a permutation of 1..n and the slugs hold no digits, so
    # every address is unique. The domains are reserved (RFC 2606): no mail can go out.
    email = pc.binary_join_element_wise(
        text.pick([s for _, s in flat_first], fi),
        text.pick((".", "_", ""), sim.choice(rng, (0.6, 0.25, 0.15), n)),
        text.pick([s for _, s in flat_last], li),
        pc.cast(pa.array(rng.permutation(n) + 1), pa.string()),
        "@",
        text.pick(text.EMAIL_DOMAINS, rng.integers(0, len(text.EMAIL_DOMAINS), n)),
        "",
    )

    as_of_day = (as_of - date(1970, 1, 1)).days
    age_years = 18 + np.clip(rng.normal(38, 13, n), 0, 67)
    birthday = as_of_day - np.floor(age_years * 365.25).astype(np.int64)
    has_birthday = rng.random(n) >= BIRTHDAY_MISSING

    # referrers are customers acquired strictly earlier
    earlier = np.searchsorted(acquired, acquired, side="left")
    referred = (rng.random(n) < REFERRED_SHARE) & (earlier > 0)
    referrer = np.floor(rng.random(n) * earlier).astype(np.int64)
    channel = sim.choice(rng, ACQUISITION_WEIGHTS, n)
    channel[referred] = ACQUISITION_CHANNELS.index("referral")

    ids = text.padded_ids("C", np.arange(1, n + 1), text.id_width(n, 6))
    consent = {k: rng.random(n) < share for k, share in CONSENT_SHARES.items()}
    table = pa.table(
        {
            "customer_id": ids,
            "created_at": text.iso_utc(acquired),
            "email": email,
            "name": name,
            "country": text.pick([c.code for c in COUNTRIES], country),
            "locale": text.pick(locales, country),
            "time_zone": text.pick(zones, zone),
            "currency": text.pick([c.currency for c in COUNTRIES], country),
            "birthday": text.iso_date(birthday, valid=has_birthday),
            "consent_email": pa.array(consent["email"]),
            "consent_sms": pa.array(consent["sms"]),
            "consent_push": pa.array(consent["push"]),
            "acquisition_channel": text.pick(ACQUISITION_CHANNELS, channel),
            "referred_by": pc.if_else(
                pa.array(referred), ids.take(pa.array(referrer)), pa.scalar(None, pa.string())
            ),
        }
    )
    return People(table, country, acquired, consent["email"])


def orders(
    rng: np.random.Generator,
    pur: sim.Purchases,
    ids: pa.Array,
    currency: np.ndarray,
    rates: np.ndarray,
    window: Window,
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The orders table, each order's gross (amount + discount) and its currency's decimals.

    ``currency`` is each customer's index into CURRENCIES. The EUR value becomes
    the customer's currency at the rate in force on the order's date (rates are
    dated the first of each month), rounded to the currency's minor unit.
    """
    codes = tuple(CURRENCIES)
    decimals = np.array([CURRENCIES[c][0] for c in codes])
    m = len(pur.order_customer)
    cur = currency[pur.order_customer]
    rate = rates[cur, sim.month_index(pur.order_time) - window.month0]
    scale = 10.0 ** decimals[cur]
    amount = np.maximum(np.rint(pur.order_eur_cents / 100 / rate * scale).astype(np.int64), 1)

    # purchases are completed or partially refunded; the orders beside them
    # refunded or cancelled, in the proportions of STATUS_WEIGHTS
    index = {k: ORDER_STATUSES.index(k) for k in ORDER_STATUSES}
    status = np.empty(m, np.int64)
    for kinds, rows in ((PURCHASE_STATUSES, ~pur.order_void), (VOID_STATUSES, pur.order_void)):
        pick = sim.choice(rng, [_W[k] for k in kinds], int(rows.sum()))
        status[rows] = np.array([index[k] for k in kinds])[pick]
    discounted = rng.random(m) < DISCOUNTED_SHARE
    discount_rate = np.asarray(DISCOUNT_RATES)[rng.integers(0, len(DISCOUNT_RATES), m)]
    discount = np.where(discounted, np.rint(amount * discount_rate).astype(np.int64), 0)
    channel = sim.choice(rng, ORDER_CHANNEL_WEIGHTS, m)

    table = pa.table(
        {
            "order_id": text.padded_ids("O", np.arange(1, m + 1), text.id_width(m, 7)),
            "customer_id": ids.take(pa.array(pur.order_customer)),
            "placed_at": text.iso_utc(pur.order_time),
            "amount": text.money(amount, decimals[cur]),
            "currency": text.pick(codes, cur),
            "status": text.pick(ORDER_STATUSES, status),
            "discount": text.money(discount, decimals[cur]),
            "channel": text.pick(ORDER_CHANNELS, channel),
        }
    )
    return table, amount + discount, decimals[cur]


def order_items(
    rng: np.random.Generator, order_ids: pa.Array, gross: np.ndarray, decimals: np.ndarray
) -> pa.Table:
    """1-4 product lines per order whose totals add up to ``gross`` (minor units) exactly.

    ``decimals`` holds each order's number of currency decimals.
    """
    lines = sim.order_lines(rng, gross, LINE_WEIGHTS, CATEGORY_WEIGHTS, QUANTITY_WEIGHTS)
    return pa.table(
        {
            "order_id": order_ids.take(pa.array(lines.order)),
            "product_id": text.padded_ids("SKU-", lines.sku, 4),
            "category": text.pick(CATEGORIES, lines.category),
            "quantity": pa.array(lines.quantity),
            "unit_price": text.money(lines.unit_minor, decimals[lines.order]),
        }
    )


def fx_rates(rng: np.random.Generator, window: Window) -> tuple[np.ndarray, pa.Table]:
    """Monthly EUR-per-unit rates: the matrix (currency x month, EUR row = 1) and the table.

    Rates are dated the first of each month, from the month before ``start``
    (31 days earlier) to the month of ``as_of``.
    """
    codes = tuple(CURRENCIES)
    rates = np.ones((len(codes), window.n_months))
    for i, code in enumerate(codes[1:], start=1):  # EUR stays at 1
        _, base, sigma = CURRENCIES[code]
        rates[i] = sim.fx_walk(rng, base, sigma, window.n_months)
    months = np.arange(window.month0, window.month0 + window.n_months).astype("datetime64[M]")
    days = months.astype("datetime64[D]").astype(np.int64)
    foreign = codes[1:]
    table = pa.table(
        {
            "date": text.iso_date(np.repeat(days, len(foreign))),
            "currency": pa.array(list(foreign) * window.n_months),
            "rate": pa.array(rates[1:].T.ravel()),
        }
    )
    return rates, table
