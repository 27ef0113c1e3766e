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
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tenure.datasets import _demo_activity as activity
from tenure.datasets import _demo_loyalty as loyalty
from tenure.datasets import _demo_shop as shop
from tenure.datasets import _demo_sim as sim
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


# one random stream per part, so that changing one part leaves the others as they were
_STREAMS = ("fx", "customers", "purchases", "orders", "items", "subscriptions", "tickets",
            "surveys", "events", "loyalty")  # fmt: skip

FILE_NAMES = {
    "customers": "customers.csv",
    "orders": "orders.csv",
    "order_items": "order_items.csv",
    "subscriptions": "subscriptions.csv",
    "support_tickets": "support_tickets.csv",
    "survey_responses": "survey_responses.csv",
    "events": "events.jsonl",
    "fx_rates": "fx_rates.csv",
    "truth": "truth.parquet",
    "params_file": "params.json",
    "loyalty_ledger": "loyalty_ledger.csv",
    "settings": "tenure.toml",
}
KINDS = tuple(FILE_NAMES)[:8]  # the data files, named after their kinds in tenure.datamodel


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
    loyalty_ledger: Path  # the loyalty program's history, posted by tenure demo
    settings: Path  # tenure.toml with the loyalty program's settings (its tiers)
    params: dict[str, Any] = field(repr=False)
    reporting_currency: str = REPORTING_CURRENCY

    def by_kind(self) -> dict[str, Path]:
        """The data files keyed by their kind name in :mod:`tenure.datamodel`."""
        return {kind: getattr(self, kind) for kind in KINDS}


def _whole(value: object, low: int) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low


def _check(customers: int, seed: int, start: date, as_of: date) -> tuple[date, date]:
    if not _whole(customers, 1):
        raise InputError(
            f"the number of customers must be a whole number of at least 1, got {customers!r}.",
            hint="Pass --customers 5000, for example.",
        )
    if not _whole(seed, 0):
        raise InputError(
            f"the seed must be a whole number of at least 0, got {seed!r}.",
            hint="Pass --seed 42, for example.",
        )
    start = start.date() if isinstance(start, datetime) else start
    as_of = as_of.date() if isinstance(as_of, datetime) else as_of
    if start > as_of:
        raise InputError(
            f"start {start} must not be after as_of {as_of}: customers are acquired "
            "from start to as_of.",
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
    loyalty_effect: float = 0.10,
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
        ``start`` to the end of ``as_of``.
    loyalty_effect
        How much the loyalty program raises its members' chance of buying
        again within 90 days of joining (0.10: by 10 points); 0 for a
        program that changes nothing. See ``docs/demo.md``.

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
    start, as_of = _check(customers, seed, start, as_of)
    if (isinstance(loyalty_effect, bool) or not isinstance(loyalty_effect, int | float)
            or not 0 <= loyalty_effect < 1):  # fmt: skip
        raise InputError(
            f"the loyalty effect must be a share from 0 to below 1, got {loyalty_effect!r}.",
            hint="Pass 0.1 for a program that raises repurchase by 10 points, 0 for none.",
        )
    n, seed = int(customers), int(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rng = {k: np.random.default_rng(s) for k, s in zip(_STREAMS, streams, strict=True)}
    paths = {kind: out / name for kind, name in FILE_NAMES.items()}
    counts: dict[str, int] = {}

    def write(kind: str, table: pa.Table) -> None:
        counts[kind] = table.num_rows
        if kind == "events":
            _write_jsonl(paths[kind], table)
        else:  # survey comments contain commas and need quoting
            _write_csv(paths[kind], table, quote=kind == "survey_responses")

    first_fx = (start - timedelta(days=31)).replace(day=1)
    month0 = (first_fx.year - 1970) * 12 + first_fx.month - 1
    n_months = (as_of.year - 1970) * 12 + as_of.month - 1 - month0 + 1
    window = Window(_epoch_seconds(start), _epoch_seconds(as_of) + DAY, month0, n_months)

    rates, fx = shop.fx_rates(rng["fx"], window)
    write("fx_rates", fx)

    people = shop.customers(rng["customers"], n, window, as_of)
    write("customers", people.table)
    ids = people.table["customer_id"].combine_chunks()
    codes = tuple(shop.CURRENCIES)
    currency = np.array([codes.index(c.currency) for c in shop.COUNTRIES])[people.country]
    languages = [activity.LANGUAGES.index(c.locale[:2]) for c in shop.COUNTRIES]

    pur = sim.purchases(
        rng["purchases"], people.acquired, window.t_end, BGNBD, GAMMA_GAMMA,
        void_share=shop.VOID_PER_PURCHASE,
    )  # fmt: skip
    # members join on what they did before; the program's own orders join the log
    program = loyalty.simulate(rng["loyalty"], pur, window, float(loyalty_effect))
    pur = loyalty.with_added_orders(rng["loyalty"], pur, program, GAMMA_GAMMA["p"])
    orders, gross, order_decimals = shop.orders(rng["orders"], pur, ids, currency, rates, window)
    write("orders", orders)
    order_ids = orders["order_id"].combine_chunks()
    del orders
    ledger = loyalty.ledger(rng["loyalty"], pur, program, ids, order_ids)
    _write_csv(paths["loyalty_ledger"], ledger)
    write("order_items", shop.order_items(rng["items"], order_ids, gross, order_decimals))
    del order_ids, gross, order_decimals

    facts = activity.Shop(
        window=window,
        customer_ids=ids,
        acquired=people.acquired,
        currency=currency,
        currency_codes=codes,
        decimals=np.array([shop.CURRENCIES[c][0] for c in codes]),
        language=np.array(languages)[people.country],
        consent_email=people.consent_email,
        purchases=pur,
    )
    subscriptions, theta = activity.subscriptions(
        rng["subscriptions"], facts, SBG["alpha"], SBG["beta"]
    )
    write("subscriptions", subscriptions)
    tickets = activity.support_tickets(rng["tickets"], facts)
    write("support_tickets", tickets.table)
    write("survey_responses", activity.survey_responses(rng["surveys"], facts, tickets))
    write("events", activity.events(rng["events"], facts, len(shop.CATEGORIES)))

    truth = pa.table(
        {
            "customer_id": ids,
            "lambda": pa.array(pur.lam),
            "p": pa.array(pur.p),
            "nu": pa.array(pur.nu),
            "alive": pa.array(pur.alive),
            "x": pa.array(pur.repeats),  # repeat purchase days up to as_of
            "theta": pa.array(theta, from_pandas=True),  # NaN (no subscription) -> null
        }
    )
    pq.write_table(truth, paths["truth"])

    params = _params(seed, start, as_of, {k: counts[k] for k in KINDS}, pur, theta)
    params["loyalty"] = _loyalty_params(program, ledger)
    paths["settings"].write_text(loyalty.settings_toml(), encoding="utf-8")
    document = json.dumps(params, indent=2, ensure_ascii=False) + "\n"
    paths["params_file"].write_text(document, encoding="utf-8")
    return DemoFiles(**paths, params=params)


def _loyalty_params(program: loyalty.Program, ledger: pa.Table) -> dict[str, Any]:
    kinds = ledger["kind"].to_pylist()
    return {
        "launch": loyalty.LAUNCH.isoformat(),
        "members": program.members,
        "horizon_days": loyalty.HORIZON_DAYS,
        # the raise in the members' chance of buying again within the horizon
        "planted_effect": program.planted,
        # the share of eligible members (bought before joining, window ended by
        # as_of) whose outcome the program changed: the effect to recover
        "realised_effect": None if program.realised is None else round(program.realised, 6),
        "eligible_members": program.eligible,
        "added_orders": len(program.added_customer),
        "join_chance": {
            "recent": loyalty.JOIN[1].tolist(),
            "not_recent": loyalty.JOIN[0].tolist(),
            "recent_days": loyalty.RECENT_DAYS,
        },  # fmt: skip
        "tiers": [{"name": n, "threshold": t} for n, t in loyalty.TIERS],
        "ledger_events": {k: kinds.count(k) for k in ("join", "earn", "redeem")},
    }


def _params(
    seed: int,
    start: date,
    as_of: date,
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
        "acquisition_until": as_of.isoformat(),
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
            "countries": {c.code: c.weight for c in shop.COUNTRIES},
            "currencies": {
                k: {"decimals": v[0], "eur_rate_around": v[1]} for k, v in shop.CURRENCIES.items()
            },
            "order_status": dict(zip(shop.ORDER_STATUSES, shop.STATUS_WEIGHTS, strict=True)),
            "order_channels": dict(
                zip(shop.ORDER_CHANNELS, shop.ORDER_CHANNEL_WEIGHTS, strict=True)
            ),
            "acquisition_channels": {
                channel: round(w * (1 - shop.REFERRED_SHARE), 6) if w else shop.REFERRED_SHARE
                for channel, w in zip(
                    shop.ACQUISITION_CHANNELS, shop.ACQUISITION_WEIGHTS, strict=True
                )
            },
            "referred_share": shop.REFERRED_SHARE,
            "subscriber_share": activity.SUBSCRIBER_SHARE,
            "tickets_per_customer": activity.TICKETS_PER_CUSTOMER,
            "events_per_customer": activity.EVENTS_PER_CUSTOMER,
        },
    }
