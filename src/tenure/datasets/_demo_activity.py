"""Subscriptions, support tickets, surveys and events of the demo business.

Each builder returns an Arrow table with the columns of its kind in
:mod:`tenure.datamodel`, rows sorted by time and numbered in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tenure.datasets import _demo_sim as sim
from tenure.datasets import _demo_text as text
from tenure.datasets._demo_sim import DAY, Purchases, Window


@dataclass(frozen=True)
class Shop:
    """What the activity builders need to know about the customers."""

    window: Window
    customer_ids: pa.Array
    acquired: np.ndarray
    currency: np.ndarray  # index into currency_codes
    currency_codes: tuple[str, ...]
    decimals: np.ndarray  # minor-unit digits per currency index
    language: np.ndarray  # index into LANGUAGES
    consent_email: np.ndarray
    purchases: Purchases

    @property
    def n(self) -> int:
        return len(self.acquired)


LANGUAGES = ("de", "fr", "es", "en", "sv", "ja", "pt")

PLANS = ("basic", "plus", "premium")
PLAN_WEIGHTS = (0.55, 0.32, 0.13)
# monthly price in minor units per plan and currency (JPY has no minor unit)
PLAN_PRICES = {
    "basic": {"EUR": 999, "GBP": 899, "USD": 1099, "SEK": 10900, "JPY": 1480, "BRL": 5490},
    "plus": {"EUR": 1999, "GBP": 1799, "USD": 2199, "SEK": 21900, "JPY": 2980, "BRL": 10990},
    "premium": {"EUR": 3999, "GBP": 3499, "USD": 4299, "SEK": 42900, "JPY": 5980, "BRL": 21990},
}
CANCEL_REASONS = (
    "too_expensive",
    "not_using_it",
    "switched_to_competitor",
    "service_issues",
    "other",
)
CANCEL_WEIGHTS = (0.32, 0.30, 0.15, 0.13, 0.10)
SUBSCRIBER_SHARE = 0.20

TICKETS_PER_CUSTOMER = 0.3
TICKET_CHANNELS = ("email", "chat", "phone")
TICKET_CHANNEL_WEIGHTS = (0.5, 0.35, 0.15)
# median seconds to first response and from first response to resolution, log-sd
FIRST_RESPONSE = {"median": (5 * 3600, 90, 45), "sigma": (1.0, 0.8, 0.5)}
RESOLUTION = {"median": (24 * 3600, 20 * 60, 10 * 60), "sigma": (1.2, 1.0, 1.0)}
TICKET_CATEGORIES = ("delivery", "returns", "payment", "product", "account")
TICKET_CATEGORY_WEIGHTS = (0.35, 0.25, 0.10, 0.20, 0.10)
STUCK_SHARE = 0.01  # tickets nobody resolves
RATED_SHARE = 0.45

NPS_SHARE = 0.30
CSAT_SHARE = 0.40  # of resolved tickets
CES_SHARE = 0.05
COMMENT_SHARE = {"nps": 0.35, "csat": 0.25, "ces": 0.20}

EVENTS_PER_CUSTOMER = 3.0
EVENT_NAMES = ("session_start", "product_view", "add_to_cart", "email_open", "app_open")
EVENT_WEIGHTS = (0.30, 0.35, 0.10, 0.15, 0.10)
EVENTS_AFTER_DROPOUT_DAYS = 45


def subscriptions(
    rng: np.random.Generator, shop: Shop, alpha: float, beta: float
) -> tuple[pa.Table, np.ndarray]:
    """About 20% of customers subscribe at or after acquisition; sBG lifetimes in months.

    Returns the table and theta per customer (NaN for non-subscribers).
    """
    w = shop.window
    who = np.flatnonzero(rng.random(shop.n) < SUBSCRIBER_SHARE)
    started = sim.delay_after(rng, shop.acquired[who], rng.exponential(21 * DAY, len(who)), w.t_end)
    theta, months = sim.sbg_lifetimes(rng, len(who), alpha, beta)
    ended = sim.add_months(started, months)
    active = ended >= w.t_end
    plan = sim.choice(rng, PLAN_WEIGHTS, len(who))
    reason = sim.choice(rng, CANCEL_WEIGHTS, len(who))

    cur = shop.currency[who]
    price = np.array([[PLAN_PRICES[p][c] for c in shop.currency_codes] for p in PLANS])
    theta_by_customer = np.full(shop.n, np.nan)
    theta_by_customer[who] = theta
    order = np.lexsort((who, started))
    who, started, ended, active, plan, reason, cur = sim.reorder(
        order, who, started, ended, active, plan, reason, cur
    )
    table = pa.table(
        {
            "subscription_id": text.padded_ids(
                "S", np.arange(1, len(who) + 1), text.id_width(len(who), 6)
            ),
            "customer_id": shop.customer_ids.take(pa.array(who)),
            "started_at": text.iso_utc(started),
            "ended_at": text.iso_utc(ended, valid=~active),
            "plan": text.pick(PLANS, plan),
            "mrr": text.money(price[plan, cur], shop.decimals[cur]),
            "currency": text.pick(shop.currency_codes, cur),
            "cancel_reason": pc.if_else(
                pa.array(active), pa.scalar(None, pa.string()), text.pick(CANCEL_REASONS, reason)
            ),
        }
    )
    return table, theta_by_customer


@dataclass(frozen=True)
class Tickets:
    table: pa.Table
    customer: np.ndarray
    resolved_at: np.ndarray
    resolved: np.ndarray
    mood: np.ndarray  # mean satisfaction implied by the handling time


def support_tickets(rng: np.random.Generator, shop: Shop) -> Tickets:
    """About 0.3 tickets per customer, more for customers with more orders.

    A ticket follows one of the customer's orders by a few days; response and
    resolution times depend on the channel; satisfaction falls with the time
    it took to resolve.
    """
    w, pur = shop.window, shop.purchases
    weight = np.sqrt(1.0 + pur.repeats)
    counts = rng.poisson(TICKETS_PER_CUSTOMER * weight / weight.mean())
    customer = np.repeat(np.arange(shop.n), counts)
    m = len(customer)

    # orders are sorted by time; pick one of the customer's orders by its rank
    by_customer = np.argsort(pur.order_customer, kind="stable")
    n_orders = np.bincount(pur.order_customer, minlength=shop.n)
    first_row = np.cumsum(n_orders) - n_orders
    pick = first_row[customer] + np.floor(rng.random(m) * n_orders[customer]).astype(np.int64)
    after = pur.order_time[by_customer[pick]]
    opened = sim.delay_after(rng, after, 60 + rng.exponential(3 * DAY, m), w.t_end)

    channel = sim.choice(rng, TICKET_CHANNEL_WEIGHTS, m)
    fr = np.asarray(FIRST_RESPONSE["median"], float)
    frs = np.asarray(FIRST_RESPONSE["sigma"], float)
    rs = np.asarray(RESOLUTION["median"], float)
    rss = np.asarray(RESOLUTION["sigma"], float)
    respond_in = sim.lognormal_seconds(rng, fr[channel], frs[channel]).astype(np.int64)
    resolve_in = sim.lognormal_seconds(rng, rs[channel], rss[channel]).astype(np.int64)
    responded_at = opened + 10 + respond_in
    resolved_at = responded_at + 30 + resolve_in
    responded = responded_at < w.t_end
    resolved = (resolved_at < w.t_end) & (rng.random(m) >= STUCK_SHARE)

    hours = (resolved_at - opened) / 3600
    mood = 4.6 - 0.35 * np.log1p(hours)
    rated = resolved & (rng.random(m) < RATED_SHARE)
    satisfaction = sim.scores(rng, mood, 0.9, 1, 5)
    category = sim.choice(rng, TICKET_CATEGORY_WEIGHTS, m)

    order = np.lexsort((customer, opened))
    customer, opened, responded_at, resolved_at, responded, resolved, rated, mood = sim.reorder(
        order, customer, opened, responded_at, resolved_at, responded, resolved, rated, mood
    )
    channel, category, satisfaction = sim.reorder(order, channel, category, satisfaction)
    table = pa.table(
        {
            "ticket_id": text.padded_ids("T", np.arange(1, m + 1), text.id_width(m, 6)),
            "customer_id": shop.customer_ids.take(pa.array(customer)),
            "opened_at": text.iso_utc(opened),
            "first_response_at": text.iso_utc(responded_at, valid=responded),
            "resolved_at": text.iso_utc(resolved_at, valid=resolved),
            "channel": text.pick(TICKET_CHANNELS, channel),
            "category": text.pick(TICKET_CATEGORIES, category),
            "satisfaction": pa.array(satisfaction, mask=~rated),
        }
    )
    return Tickets(table, customer, resolved_at, resolved, mood)


def _comment_pool() -> tuple[list[str], np.ndarray, np.ndarray]:
    """All comments in one list, with the start and size of each (language, sentiment)."""
    pool: list[str] = []
    start = np.zeros((len(LANGUAGES), len(text.SENTIMENTS)), np.int64)
    size = np.zeros_like(start)
    for i, lang in enumerate(LANGUAGES):
        for k, sentiment in enumerate(text.SENTIMENTS):
            items = text.COMMENTS[lang][sentiment]
            start[i, k], size[i, k] = len(pool), len(items)
            pool.extend(items)
    return pool, start, size


def survey_responses(rng: np.random.Generator, shop: Shop, tickets: Tickets) -> pa.Table:
    """NPS from ~30% of customers, CSAT after ~40% of resolved tickets, CES from ~5%.

    NPS is higher for customers less likely to drop out (low p); CSAT follows
    how fast the ticket was resolved; CES (1-7, 7 = very easy) is lower for
    customers who needed support. Comments match the score's sentiment.
    """
    w, pur = shop.window, shop.purchases

    nps_who = np.flatnonzero(rng.random(shop.n) < NPS_SHARE)
    nps_at = sim.delay_after(
        rng, shop.acquired[nps_who], 7 * DAY + rng.exponential(30 * DAY, len(nps_who)), w.t_end
    )
    nps = sim.scores(rng, 9.2 - 8.0 * pur.p[nps_who], 1.6, 0, 10)

    asked = np.flatnonzero(tickets.resolved & (rng.random(len(tickets.resolved)) < CSAT_SHARE))
    csat_delay = rng.exponential(8 * 3600, len(asked)).astype(np.int64)
    csat_at = tickets.resolved_at[asked] + 300 + csat_delay
    csat_keep = csat_at < w.t_end
    csat_who, csat_at = tickets.customer[asked][csat_keep], csat_at[csat_keep]
    csat = sim.scores(rng, tickets.mood[asked][csat_keep], 0.9, 1, 5)

    ces_who = np.flatnonzero(rng.random(shop.n) < CES_SHARE)
    had_ticket = np.bincount(tickets.customer, minlength=shop.n) > 0
    ces_at = sim.delay_after(
        rng, shop.acquired[ces_who], 600 + rng.exponential(DAY, len(ces_who)), w.t_end
    )
    ces = sim.scores(rng, 5.6 - 1.3 * had_ticket[ces_who], 1.2, 1, 7)

    who = np.concatenate([nps_who, csat_who, ces_who])
    at = np.concatenate([nps_at, csat_at, ces_at])
    score = np.concatenate([nps, csat, ces])
    kind = np.concatenate(
        [np.full(len(nps_who), 0), np.full(len(csat_who), 1), np.full(len(ces_who), 2)]
    )
    # sentiment 0 positive, 1 neutral, 2 negative, by kind
    positive = np.array([9, 4, 6])[kind]
    neutral = np.array([7, 3, 4])[kind]
    sentiment = np.where(score >= positive, 0, np.where(score >= neutral, 1, 2))
    share = np.array([COMMENT_SHARE["nps"], COMMENT_SHARE["csat"], COMMENT_SHARE["ces"]])[kind]
    has_comment = rng.random(len(who)) < share
    pool, start, size = _comment_pool()
    lang = shop.language[who]
    offset = np.floor(rng.random(len(who)) * size[lang, sentiment]).astype(np.int64)
    index = start[lang, sentiment] + offset

    order = np.lexsort((kind, who, at))
    who, at, score, kind, has_comment, index = sim.reorder(
        order, who, at, score, kind, has_comment, index
    )
    comment = pc.if_else(
        pa.array(has_comment), text.pick(pool, index), pa.scalar(None, pa.string())
    )
    m = len(who)
    return pa.table(
        {
            "response_id": text.padded_ids("R", np.arange(1, m + 1), text.id_width(m, 6)),
            "customer_id": shop.customer_ids.take(pa.array(who)),
            "kind": text.pick(("nps", "csat", "ces"), kind),
            "score": pa.array(score),
            "comment": comment,
            "answered_at": text.iso_utc(at),
        }
    )


def events(rng: np.random.Generator, shop: Shop, n_categories: int) -> pa.Table:
    """About three behaviour events per customer, from acquisition on.

    Busier buyers send more events. Customers who dropped out stop sending
    them some weeks after their last order, so events carry a churn signal.
    """
    w, pur = shop.window, shop.purchases
    weight = np.sqrt(1.0 + pur.repeats)
    counts = rng.poisson(EVENTS_PER_CUSTOMER * weight / weight.mean())
    last = np.zeros(shop.n, np.int64)
    np.maximum.at(last, pur.order_customer, pur.order_time)
    until = np.where(
        pur.alive, w.t_end, np.minimum(w.t_end, last + EVENTS_AFTER_DROPOUT_DAYS * DAY)
    )
    customer = np.repeat(np.arange(shop.n), counts)
    m = len(customer)
    span = until[customer] - shop.acquired[customer]
    at = shop.acquired[customer] + np.floor(rng.random(m) * span).astype(np.int64)

    name = sim.choice(rng, EVENT_WEIGHTS, m)
    name[(name == 3) & ~shop.consent_email[customer]] = 0  # no campaign mail without consent
    sku = sim.popular_skus(rng, m, n_categories)
    quantity = 1 + (rng.random(m) < 0.15)
    web = rng.random(m) < 0.7
    ios = rng.random(m) < 0.55

    # customer is ascending already, so a stable sort on time breaks ties by customer
    order = np.argsort(at, kind="stable")
    customer, at, name, sku, quantity, web, ios = sim.reorder(
        order, customer, at, name, sku, quantity, web, ios
    )
    occurred = text.iso_utc(at)
    properties = _properties(name, sku, quantity, web, ios, occurred)
    return pa.table(
        {
            "event_id": text.padded_ids("E", np.arange(1, m + 1), text.id_width(m, 7)),
            "customer_id": shop.customer_ids.take(pa.array(customer)),
            "name": text.pick(EVENT_NAMES, name),
            "occurred_at": occurred,
            "properties": properties,
        }
    )


def _properties(
    name: np.ndarray,
    sku: np.ndarray,
    quantity: np.ndarray,
    web: np.ndarray,
    ios: np.ndarray,
    occurred: pa.Array,
) -> pa.Array:
    """The JSON text of each event's properties, built per event name and put back in order."""
    join = pc.binary_join_element_wise

    def build(k: int, at: np.ndarray) -> pa.Array:
        if k == 0:
            return join(
                '{"channel": "', text.pick(("app", "web"), web[at].astype(np.int64)), '"}', ""
            )
        if k in (1, 2):
            sku_text = text.padded_ids("SKU-", sku[at], 4)
            if k == 1:
                return join('{"page": "/p/', sku_text, '", "sku": "', sku_text, '"}', "")
            qty = pc.cast(pa.array(quantity[at]), pa.string())
            return join('{"sku": "', sku_text, '", "quantity": ', qty, "}", "")
        if k == 3:
            month = pc.utf8_slice_codeunits(occurred.take(pa.array(at)), 0, 7)
            return join('{"campaign": "newsletter-', month, '"}', "")
        return join(
            '{"platform": "', text.pick(("android", "ios"), ios[at].astype(np.int64)), '"}', ""
        )

    rows = [np.flatnonzero(name == k) for k in range(len(EVENT_NAMES))]
    built = pa.concat_arrays([build(k, at) for k, at in enumerate(rows)])
    where = np.empty(len(name), np.int64)
    where[np.concatenate(rows)] = np.arange(len(name))
    return built.take(pa.array(where))
