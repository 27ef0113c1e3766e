"""A seeded demo business: a multi-country online shop with known true parameters.

:func:`generate_demo` writes one file per kind of :mod:`tenure.datamodel`
(customers, orders, order items, subscriptions, support tickets, survey
answers, behaviour events, FX rates), plus ``params.json`` and
``truth.parquet`` with the parameters that generated them, so that models
can be checked for parameter recovery. Purchases follow BG/NBD, order
values Gamma-Gamma and subscription lifetimes the shifted-beta-geometric
model; ``docs/demo.md`` describes every file and process.

Everything is computed on whole arrays: a million customers take seconds.
The same seed gives the same bytes.

Examples
--------
>>> import tempfile
>>> from tenure.datasets import generate_demo
>>> files = generate_demo(tempfile.mkdtemp(), customers=200, seed=7)
>>> files.customers.name, files.reporting_currency
('customers.csv', 'EUR')
>>> files.params["models"]["bgnbd"]["r"]
0.243
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tenure.datasets import _demo_activity as activity
from tenure.datasets import _demo_sim as sim
from tenure.datasets import _demo_text as text
from tenure.datasets._demo_sim import DAY, Window
from tenure.errors import InputError

__all__ = ["BGNBD", "GAMMA_GAMMA", "SBG", "DemoFiles", "generate_demo"]

REPORTING_CURRENCY = "EUR"

# Fader, Hardie & Lee (2005), CDNOW: r = 0.243, alpha = 4.414 weeks = 30.9 days.
BGNBD = {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}
# Fader, Hardie & Lee (2005), "RFM and CLV": spend per order in EUR.
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# Fader & Hardie (2007), the "regular" segment; here a monthly renewal.
SBG = {"alpha": 0.704, "beta": 1.182}

REFERENCES = {
    "bgnbd": 'Fader, Hardie & Lee (2005), "Counting Your Customers" the Easy Way: '
    "An Alternative to the Pareto/NBD Model, Marketing Science 24(2)",
    "gamma_gamma": "Fader, Hardie & Lee (2005), RFM and CLV: Using Iso-Value Curves for "
    "Customer Base Analysis, Journal of Marketing Research 42(4)",
    "sbg": "Fader & Hardie (2007), How to Project Customer Retention, "
    "Journal of Interactive Marketing 21(1)",
}


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
ACQUISITION_CUTOFF_DAYS = 60

ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
STATUS_WEIGHTS = (0.90, 0.05, 0.03, 0.02)
ORDER_CHANNELS = ("web", "app", "store")
ORDER_CHANNEL_WEIGHTS = (0.55, 0.35, 0.10)
DISCOUNTED_SHARE = 0.20
DISCOUNT_RATES = (0.05, 0.10, 0.15, 0.20)

CATEGORIES = ("apparel", "shoes", "accessories", "beauty", "home", "sports")
CATEGORY_WEIGHTS = (0.30, 0.15, 0.15, 0.15, 0.15, 0.10)
LINE_WEIGHTS = (0.50, 0.28, 0.14, 0.08)  # 1, 2, 3 or 4 lines per order
QUANTITY_WEIGHTS = (0.85, 0.11, 0.04)  # 1, 2 or 3 units per line

_STREAMS = (
    "fx",
    "customers",
    "purchases",
    "orders",
    "items",
    "subscriptions",
    "tickets",
    "surveys",
    "events",
)


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`generate_demo` wrote each file, and the parameters behind them."""

    customers: Path
    orders: Path
    order_items: Path
    subscriptions: Path
    support_tickets: Path
    survey_responses: Path
    events: Path
    fx_rates: Path
    truth: Path
    params_file: Path
    params: dict[str, Any] = field(repr=False)
    reporting_currency: str = REPORTING_CURRENCY

    def by_kind(self) -> dict[str, Path]:
        """The data files keyed by their kind name in :mod:`tenure.datamodel`."""
        kinds = (
            "customers",
            "orders",
            "order_items",
            "subscriptions",
            "support_tickets",
            "survey_responses",
            "events",
            "fx_rates",
        )
        return {k: getattr(self, k) for k in kinds}


def _check(customers: int, start: date, as_of: date) -> tuple[date, date]:
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer) or customers < 1:
        raise InputError(
            f"the number of customers must be a whole number of at least 1, got {customers!r}.",
            hint="Pass --customers 5000, for example.",
        )
    start = start.date() if isinstance(start, datetime) else start
    as_of = as_of.date() if isinstance(as_of, datetime) else as_of
    if start > as_of - timedelta(days=ACQUISITION_CUTOFF_DAYS):
        raise InputError(
            f"start {start} must be at least {ACQUISITION_CUTOFF_DAYS} days before as_of {as_of}: "
            "customers are acquired until 60 days before the end.",
            hint="Choose an earlier start or a later as_of.",
        )
    return start, as_of


def _epoch_seconds(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY


def _write_csv(path: Path, table: pa.Table, *, quote: bool = False) -> None:
    # Header written by hand: pyarrow quotes header names even when values are not quoted.
    style = "needed" if quote else "none"
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(
            table,
            sink,
            pacsv.WriteOptions(include_header=False, quoting_style=style, batch_size=65_536),
        )


def _write_jsonl(path: Path, table: pa.Table) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("events_table", table)
        # properties::JSON writes a nested object, and fails loudly on malformed text
        target = str(path).replace("'", "''")
        con.execute(
            "COPY (SELECT event_id, customer_id, name, occurred_at, properties::JSON AS properties "
            f"FROM events_table) TO '{target}' (FORMAT json)"
        )
    finally:
        con.close()


def generate_demo(
    out_dir: str | Path,
    *,
    customers: int = 5000,
    seed: int = 42,
    as_of: date = date(2026, 10, 31),
    start: date = date(2024, 1, 1),
) -> DemoFiles:
    """Write the demo business's files to ``out_dir`` and return their paths.

    Parameters
    ----------
    out_dir
        Folder to write to; created if missing. Existing demo files are replaced.
    customers
        Number of customers. Each has at least one order, so a million
        customers give roughly 2.6 million orders.
    seed
        Seed of every random draw: the same seed and arguments give the same bytes.
    as_of
        Last day observed. Nothing happens after the end of this day (UTC).
    start
        First day of acquisitions. Customers are acquired uniformly from
        ``start`` to 60 days before ``as_of``.

    Returns
    -------
    DemoFiles
        The path of each file, the true parameters (``params``) and the
        reporting currency.

    Examples
    --------
    >>> import tempfile
    >>> files = generate_demo(tempfile.mkdtemp(), customers=100, seed=1)
    >>> sorted(files.by_kind())[:3]
    ['customers', 'events', 'fx_rates']
    """
    start, as_of = _check(customers, start, as_of)
    n = int(customers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True))
    rng = {k: np.random.default_rng(s) for k, s in streams.items()}

    first_fx = (start - timedelta(days=31)).replace(day=1)
    month0 = (first_fx.year - 1970) * 12 + first_fx.month - 1
    n_months = (as_of.year - 1970) * 12 + as_of.month - 1 - month0 + 1
    window = Window(_epoch_seconds(start), _epoch_seconds(as_of) + DAY, month0, n_months)

    codes = tuple(CURRENCIES)
    decimals = np.array([CURRENCIES[c][0] for c in codes])
    rates = np.ones((len(codes), n_months))
    for i, c in enumerate(codes[1:], start=1):  # EUR stays at 1
        rates[i] = sim.fx_walk(rng["fx"], CURRENCIES[c][1], CURRENCIES[c][2], n_months)

    cust = _customers(rng["customers"], n, window, as_of)
    country = cust.pop("_country")
    currency = np.array([codes.index(c.currency) for c in COUNTRIES])[country]
    language = np.array([activity.LANGUAGES.index(c.locale[:2]) for c in COUNTRIES])[country]
    acquired = cust.pop("_acquired")
    consent_email = cust.pop("_consent_email")
    customer_table = pa.table(cust)
    ids = customer_table["customer_id"].combine_chunks()

    pur = sim.purchases(rng["purchases"], acquired, window.t_end, BGNBD, GAMMA_GAMMA)
    orders, gross, order_currency = _orders(
        rng["orders"], pur, ids, currency, codes, decimals, rates, window
    )
    lines = sim.order_lines(rng["items"], gross, LINE_WEIGHTS, CATEGORY_WEIGHTS, QUANTITY_WEIGHTS)
    items = pa.table(
        {
            "order_id": orders["order_id"].combine_chunks().take(pa.array(lines.order)),
            "product_id": text.padded_ids("SKU-", lines.sku, 4),
            "category": text.pick(CATEGORIES, lines.category),
            "quantity": pa.array(lines.quantity),
            "unit_price": text.money(lines.unit_minor, decimals[order_currency[lines.order]]),
        }
    )

    shop = activity.Shop(
        window, ids, acquired, currency, codes, decimals, language, consent_email, pur
    )
    subs, theta = activity.subscriptions(rng["subscriptions"], shop, SBG["alpha"], SBG["beta"])
    tickets = activity.support_tickets(rng["tickets"], shop)
    surveys = activity.survey_responses(rng["surveys"], shop, tickets)
    events = activity.events(rng["events"], shop, len(CATEGORIES))

    fx_codes = codes[1:]
    fx_days = (
        np.arange(month0, month0 + n_months).astype("datetime64[M]").astype("datetime64[D]")
    ).astype(np.int64)
    fx = pa.table(
        {
            "date": text.iso_date(np.repeat(fx_days, len(fx_codes))),
            "currency": pa.array(list(fx_codes) * n_months),
            "rate": pa.array(rates[1:].T.ravel()),
        }
    )

    paths = {
        "customers": out / "customers.csv",
        "orders": out / "orders.csv",
        "order_items": out / "order_items.csv",
        "subscriptions": out / "subscriptions.csv",
        "support_tickets": out / "support_tickets.csv",
        "survey_responses": out / "survey_responses.csv",
        "events": out / "events.jsonl",
        "fx_rates": out / "fx_rates.csv",
        "truth": out / "truth.parquet",
        "params_file": out / "params.json",
    }
    _write_csv(paths["customers"], customer_table)
    _write_csv(paths["orders"], orders)
    _write_csv(paths["order_items"], items)
    _write_csv(paths["subscriptions"], subs)
    _write_csv(paths["support_tickets"], tickets.table)
    _write_csv(paths["survey_responses"], surveys, quote=True)  # comments contain commas
    _write_jsonl(paths["events"], events)
    _write_csv(paths["fx_rates"], fx)
    truth = pa.table(
        {
            "customer_id": ids,
            "lambda": pa.array(pur.lam),
            "p": pa.array(pur.p),
            "nu": pa.array(pur.nu),
            "alive": pa.array(pur.alive),
            "theta": pa.array(theta, from_pandas=True),
        }
    )
    pq.write_table(truth, paths["truth"])

    counts = {
        "customers": n,
        "orders": orders.num_rows,
        "order_items": items.num_rows,
        "subscriptions": subs.num_rows,
        "support_tickets": tickets.table.num_rows,
        "survey_responses": surveys.num_rows,
        "events": events.num_rows,
        "fx_rates": fx.num_rows,
    }
    params = _params(seed, start, as_of, window, counts, pur, theta)
    paths["params_file"].write_text(
        json.dumps(params, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return DemoFiles(**paths, params=params)


def _customers(rng: np.random.Generator, n: int, window: Window, as_of: date) -> dict[str, Any]:
    """Customer attributes, in acquisition order (C000001 is the first customer)."""
    last_acquisition = window.t_end - ACQUISITION_CUTOFF_DAYS * DAY
    acquired = np.sort(window.t_start + rng.integers(0, last_acquisition - window.t_start, n))
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
    # every address is unique.
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
    return {
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
        "_country": country,
        "_acquired": acquired,
        "_consent_email": consent["email"],
    }


def _orders(
    rng: np.random.Generator,
    pur: sim.Purchases,
    ids: pa.Array,
    currency: np.ndarray,
    codes: tuple[str, ...],
    decimals: np.ndarray,
    rates: np.ndarray,
    window: Window,
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The orders table, each order's gross (amount + discount) and currency index.

    The EUR value becomes the customer's currency at the rate in force on the
    order's date (rates are dated the first of each month), rounded to the
    currency's minor unit.
    """
    m = len(pur.order_customer)
    cur = currency[pur.order_customer]
    rate = rates[cur, sim.month_index(pur.order_time) - window.month0]
    scale = 10.0 ** decimals[cur]
    amount = np.maximum(np.rint(pur.order_eur_cents / 100 / rate * scale).astype(np.int64), 1)

    status = sim.choice(rng, STATUS_WEIGHTS, m)
    cancelled = ORDER_STATUSES.index("cancelled")
    # a first order is never cancelled: those become completed
    status[pur.order_first & (status == cancelled)] = ORDER_STATUSES.index("completed")
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
    return table, amount + discount, cur


def _params(
    seed: int,
    start: date,
    as_of: date,
    window: Window,
    counts: dict[str, int],
    pur: sim.Purchases,
    theta: np.ndarray,
) -> dict[str, Any]:
    bg, gg, sbg = BGNBD, GAMMA_GAMMA, SBG
    subscribed = ~np.isnan(theta)

    def r6(x: float) -> float:
        return round(float(x), 6)

    return {
        "seed": seed,
        "start": start.isoformat(),
        "as_of": as_of.isoformat(),
        "observation_end": (as_of + timedelta(days=1)).isoformat() + "T00:00:00Z",
        "acquisition_until": (as_of - timedelta(days=ACQUISITION_CUTOFF_DAYS)).isoformat(),
        "reporting_currency": REPORTING_CURRENCY,
        "counts": counts,
        "models": {
            "bgnbd": {**bg, "time_unit": "day", "reference": REFERENCES["bgnbd"]},
            "gamma_gamma": {
                **gg,
                "currency": REPORTING_CURRENCY,
                "reference": REFERENCES["gamma_gamma"],
            },
            "sbg": {**sbg, "time_unit": "month", "reference": REFERENCES["sbg"]},
        },
        "expected": {
            "mean_lambda": r6(bg["r"] / bg["alpha"]),
            "mean_p": r6(bg["a"] / (bg["a"] + bg["b"])),
            "mean_nu": r6(gg["q"] / gg["gamma"]),
            "mean_order_value_eur": r6(gg["p"] * gg["gamma"] / (gg["q"] - 1)),
            "mean_theta": r6(sbg["alpha"] / (sbg["alpha"] + sbg["beta"])),
            "subscription_survival_1_month": r6(sbg["beta"] / (sbg["alpha"] + sbg["beta"])),
        },
        "realised": {
            "mean_lambda": r6(pur.lam.mean()),
            "mean_p": r6(pur.p.mean()),
            "mean_nu": r6(pur.nu.mean()),
            "alive_share": r6(pur.alive.mean()),
            "mean_repeat_purchases": r6(pur.repeats.mean()),
            "mean_order_value_eur": r6(pur.order_eur_cents.mean() / 100),
            "subscribers": int(subscribed.sum()),
            "mean_theta": r6(theta[subscribed].mean()) if subscribed.any() else None,
        },
        "business": {
            "countries": {c.code: c.weight for c in COUNTRIES},
            "currencies": {
                k: {"decimals": v[0], "eur_rate_around": v[1]} for k, v in CURRENCIES.items()
            },
            "order_status": dict(zip(ORDER_STATUSES, STATUS_WEIGHTS, strict=True)),
            "order_channels": dict(zip(ORDER_CHANNELS, ORDER_CHANNEL_WEIGHTS, strict=True)),
            "referred_share": REFERRED_SHARE,
            "subscriber_share": activity.SUBSCRIBER_SHARE,
            "tickets_per_customer": activity.TICKETS_PER_CUSTOMER,
            "events_per_customer": activity.EVENTS_PER_CUSTOMER,
        },
    }
