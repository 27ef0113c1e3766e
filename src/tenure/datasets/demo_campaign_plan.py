"""The demo business's campaigns: launched in its past, with a planted effect.

On ``LAUNCH_DAYS_BEFORE_END`` days before the last day (day *T0*, at
00:00 UTC) the shop launched two campaigns, defined by
:func:`demo_campaigns`:

- **at-risk-outreach**: customers whose probability of being alive
  (BG/NBD, ``tenure predict --model bgnbd``, fitted on the orders before
  T0) is below 0.5; 20 % held out;
- **win-back**: customers whose last purchase was 180 days or more before
  T0; 10 % held out.

``tenure demo`` ingests the orders placed before T0, predicts, and launches
both campaigns with ``assigned_at`` = T0 (arms by the stable hash of
:mod:`tenure.campaigns.holdouts`, under salts fixed by the seed). The
messages go through the sender at T0 into a sink that keeps them (the
demo sends no e-mail): sent, or not sent with the gate's reason.

**The planted effect**, on the assignments the store made: a customer in
the at-risk outreach's *treatment* arm who would not have ordered in the
``WINDOW_DAYS`` (30) days from T0 orders once in them (a completed order
like one of their own earlier ones, on a uniform moment of the window)
with the chance that raises the arm's share ordering in the window by
``effect`` (0.10 by default). It is the effect of being assigned the
outreach (intent to treat: whether the message passed the gate or not).
The holdout, the global control and the win-back get no effect: the
win-back's measured lift should hold 0. The planted and realised effects
are written to ``params.json`` (``campaigns``). The added orders are in
``orders.csv`` (ids ``OC…``) and ``order_items.csv``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

LAUNCH_DAYS_BEFORE_END = 42
WINDOW_DAYS = 30
OUTREACH = "at-risk-outreach"
WIN_BACK = "win-back"
COUNTED = ("completed", "partially_refunded")  # what the measurement counts as an order

_TEMPLATES = {
    OUTREACH: ("We miss you, {{ first_name or 'friend' }}",
               "Hello {{ first_name or 'there' }},\n\nit has been a while. Here is what is "
               "new in the shop, picked for you.\n"),
    WIN_BACK: ("Come back for 10 % off, {{ first_name or 'friend' }}",
               "Hello {{ first_name or 'there' }},\n\nyour next order is 10 % off this "
               "month.\n"),
}  # fmt: skip


@dataclass(frozen=True)
class DemoCampaign:
    """One campaign of the demo: its definition and the effect planted on it."""

    name: str
    audience: tuple[str, ...]
    holdout: float
    effect: float  # planted on the treatment arm's 30-day chance of ordering


def demo_campaigns(outreach_effect: float) -> tuple[DemoCampaign, ...]:
    """The campaigns the demo runs at T0 (one place to change them)."""
    return (DemoCampaign(OUTREACH, ("p_alive:0.5",), 0.2, float(outreach_effect)),
            DemoCampaign(WIN_BACK, ("lapsed:180",), 0.1, 0.0))  # fmt: skip


def launch_day(as_of: date) -> date:
    return as_of - timedelta(days=LAUNCH_DAYS_BEFORE_END)


def launch_moment(as_of: date) -> datetime:
    day = launch_day(as_of)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def salt(seed: int, name: str) -> str:
    """A salt fixed by the seed, so that the same seed gives the same arms."""
    return hashlib.blake2b(f"tenure-demo\x00{seed}\x00{name}".encode(), digest_size=8).hexdigest()


def write_templates(folder: Path) -> dict[str, Path]:
    """The campaigns' message templates (English only), one folder each."""
    out = {}
    for name, (subject, body) in _TEMPLATES.items():
        where = folder / name / "en"
        where.mkdir(parents=True, exist_ok=True)
        (where / "subject.txt").write_text(subject + "\n", encoding="utf-8")
        (where / "body.txt").write_text(body, encoding="utf-8")
        out[name] = folder / name
    return out


def split_orders(files: Any, before: datetime, folder: Path) -> tuple[Path, Path]:
    """The orders placed before ``before`` and their lines, written to
    ``folder``: what the store holds at the launch."""
    con = duckdb.connect()
    try:
        cut = before.strftime("%Y-%m-%dT%H:%M:%SZ")
        orders, items = folder / "orders.csv", folder / "order_items.csv"
        con.execute(f"""COPY (SELECT * FROM read_csv('{files.orders}', all_varchar = true)
                    WHERE placed_at < '{cut}') TO '{orders}' (HEADER, QUOTE '')""")
        con.execute(f"""COPY (SELECT i.* FROM read_csv('{files.order_items}', all_varchar = true) i
                    SEMI JOIN (SELECT order_id FROM read_csv('{files.orders}', all_varchar = true)
                               WHERE placed_at < '{cut}') USING (order_id))
                    TO '{items}' (HEADER, QUOTE '')""")  # fmt: skip
    finally:
        con.close()
    return orders, items


def plant(files: Any, seed: int, campaign: DemoCampaign, treated: list[str],
          t0: datetime) -> dict[str, Any]:  # fmt: skip
    """Add the campaign's planted orders for the ``treated`` customers (its
    treatment arm, as the store assigned it) to the demo's order files;
    the planted and the realised effect."""
    result = {"planted_effect": campaign.effect, "realised_effect": None, "added_orders": 0,
              "treatment": len(treated)}  # fmt: skip
    if campaign.effect <= 0 or not treated:
        result["realised_effect"] = 0.0 if treated else None
        return result
    rng = np.random.default_rng([seed, int.from_bytes(campaign.name.encode()[:8], "big")])
    start = t0.strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (t0 + timedelta(days=WINDOW_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE treated (customer_id VARCHAR)")
        con.executemany("INSERT INTO treated VALUES (?)", [(c,) for c in sorted(treated)])
        con.execute(
            f"CREATE VIEW o AS SELECT * FROM read_csv('{files.orders}', all_varchar = true)"
        )
        counted = ", ".join(f"'{s}'" for s in COUNTED)
        natural = {r[0] for r in con.execute(f"""
            SELECT DISTINCT customer_id FROM o SEMI JOIN treated USING (customer_id)
            WHERE status IN ({counted}) AND placed_at >= '{start}' AND placed_at < '{end}'
            """).fetchall()}  # fmt: skip
        ids = sorted(treated)
        base = len(natural & set(ids)) / len(ids)
        chance = min(campaign.effect / (1 - base), 1.0) if base < 1 else 0.0
        draw = rng.random(len(ids))
        flip = [c for c, u in zip(ids, draw, strict=True) if c not in natural and u < chance]
        result["realised_effect"] = round(len(flip) / len(ids), 6)
        result["added_orders"] = len(flip)
        if not flip:
            return result
        # each added order is like one of the customer's own before T0: its
        # amount, currency, channel and first line
        like = dict(con.execute(f"""
            SELECT customer_id, arg_max(order_id, placed_at) FROM o WHERE placed_at < '{start}'
              AND customer_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY customer_id""",
                                [flip]).fetchall())  # fmt: skip
        rows = {
            r[0]: r
            for r in con.execute(
                "SELECT order_id, amount, currency, channel FROM o "
                "WHERE order_id IN (SELECT unnest(?::VARCHAR[]))",
                [list(like.values())],
            ).fetchall()
        }
        lines = {r[0]: r for r in con.execute(
            f"SELECT order_id, arg_min(product_id, product_id), arg_min(category, product_id) "
            f"FROM read_csv('{files.order_items}', all_varchar = true) "
            "WHERE order_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY order_id",
            [list(like.values())]).fetchall()}  # fmt: skip
    finally:
        con.close()
    seconds = rng.integers(0, WINDOW_DAYS * 86400, len(flip))
    width = max(6, len(str(len(flip))))
    order_text, item_text = [], []
    for k, (customer, s) in enumerate(zip(flip, seconds, strict=True), start=1):
        _, amount, currency, channel = rows[like[customer]]
        _, product, category = lines.get(like[customer], (None, "SKU-0001", "home"))
        at = (t0 + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ")
        oid = f"OC{k:0{width}d}"
        order_text.append(f"{oid},{customer},{at},{amount},{currency},completed,0.00,{channel}\n")
        item_text.append(f"{oid},{product},{category},1,{amount}\n")
    with open(files.orders, "a", encoding="utf-8") as fh:
        fh.writelines(order_text)
    with open(files.order_items, "a", encoding="utf-8") as fh:
        fh.writelines(item_text)
    return result
