"""The SQL of the event and date triggers, over the analytics store.

Each query gives the entries whose moment falls in the window
``(since, as_of]`` (UTC; ``since`` None: from the start of the log):
``customer_id, occurrence, occurred_at, context``. ``occurrence`` is a key
of that one happening, the same on every evaluation:

=======================  ==========================  ========================
trigger                  occurrence                  occurred_at
=======================  ==========================  ========================
event:sign_up            ``sign_up``                 customers.created_at
event:first_order        ``first_order``             the first purchase
event:order              the order id                placed_at
event:ticket_closed      the ticket id               resolved_at
event:survey_answered    the response id             answered_at
event:cart_abandoned:D   the cart event's key        the cart event + D
event:NAME               event_id, else a hash of    occurred_at
                         customer, name, time and
                         properties
date:birthday            the year                    local midnight
date:anniversary         the year                    local midnight
=======================  ==========================  ========================
"""

from __future__ import annotations

from datetime import UTC, datetime

from tenure.campaigns.triggers_spec import CART_EVENT, Trigger
from tenure.sqltext import lit

_UTC = UTC


def ts(when: datetime) -> str:
    """A UTC instant as a DuckDB TIMESTAMP literal (the store keeps UTC)."""
    naive = when.astimezone(_UTC).replace(tzinfo=None)
    return f"TIMESTAMP {lit(naive.isoformat(sep=' '))}"


def _window(column: str, since: datetime | None, as_of: datetime) -> str:
    low = "" if since is None else f"{column} > {ts(since)} AND "
    return f"{low}{column} <= {ts(as_of)}"


def event_sql(t: Trigger, since: datetime | None, as_of: datetime) -> str:
    name = t.name
    if name == "sign_up":
        return (f"SELECT customer_id, 'sign_up' AS occurrence, created_at AS occurred_at, "
                f"CAST(NULL AS VARCHAR) AS context FROM customers "
                f"WHERE {_window('created_at', since, as_of)}")  # fmt: skip
    if name == "first_order":
        # the summary keeps each purchaser's first purchase: no scan of orders
        return (f"SELECT customer_id, 'first_order' AS occurrence, first_order_at AS occurred_at, "
                f"CAST(NULL AS VARCHAR) AS context FROM customer_activity "
                f"WHERE {_window('first_order_at', since, as_of)}")  # fmt: skip
    if name == "order":
        return (f"SELECT customer_id, order_id AS occurrence, placed_at AS occurred_at, "
                f"CAST(amount AS VARCHAR) AS context FROM orders "
                f"WHERE {_window('placed_at', since, as_of)}")  # fmt: skip
    if name == "ticket_closed":
        return (f"SELECT customer_id, ticket_id AS occurrence, resolved_at AS occurred_at, "
                f"category AS context FROM support_tickets "
                f"WHERE {_window('resolved_at', since, as_of)}")  # fmt: skip
    if name == "survey_answered":
        kind = f" AND kind = {lit(t.segment_kind)}" if t.segment_kind else ""
        return (f"SELECT customer_id, response_id AS occurrence, answered_at AS occurred_at, "
                f"kind || ':' || CAST(score AS VARCHAR) AS context FROM survey_responses "
                f"WHERE {_window('answered_at', since, as_of)}{kind}")  # fmt: skip
    if name == "cart_abandoned":
        return _cart_sql(int(t.seconds or 0), since, as_of)
    return (f"SELECT customer_id, {_event_key('e')} AS occurrence, occurred_at, "
            f"CAST(NULL AS VARCHAR) AS context FROM events e "
            f"WHERE name = {lit(name)} AND {_window('occurred_at', since, as_of)}")  # fmt: skip


def _event_key(alias: str) -> str:
    # events may come without an id; identical events are duplicates anyway
    return (f"coalesce({alias}.event_id, 'e:' || md5({alias}.customer_id || '|' || {alias}.name "
            f"|| '|' || CAST({alias}.occurred_at AS VARCHAR) || '|' || "
            f"coalesce(CAST({alias}.properties AS VARCHAR), '')))")  # fmt: skip


def _cart_sql(seconds: int, since: datetime | None, as_of: datetime) -> str:
    """A cart is abandoned when its last add-to-cart is followed, for
    ``seconds``, by neither an order nor another add-to-cart (that one then
    stands for the cart). It enters once the wait is over."""
    wait = f"INTERVAL {int(seconds)} SECOND"
    low = "" if since is None else f" AND c.occurred_at + {wait} > {ts(since)}"
    return f"""
WITH carts AS (
  SELECT customer_id, occurred_at, {_event_key('e')} AS occurrence,
         lead(occurred_at) OVER (PARTITION BY customer_id ORDER BY occurred_at) AS next_at
  FROM events e WHERE name = {lit(CART_EVENT)} AND occurred_at + {wait} <= {ts(as_of)}
)
SELECT c.customer_id, c.occurrence, c.occurred_at + {wait} AS occurred_at,
       CAST(NULL AS VARCHAR) AS context
FROM carts c
WHERE (c.next_at IS NULL OR c.next_at > c.occurred_at + {wait}){low}
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id
                  AND o.placed_at >= c.occurred_at AND o.placed_at <= c.occurred_at + {wait})"""


def date_sql(t: Trigger, since: datetime, as_of: datetime, zones: str) -> str:
    """Birthdays or sign-up anniversaries whose local midnight, in the
    customer's zone (``zones``: SQL giving each customer_id's zone), falls
    in the window; the latest one per customer when a long pause spans
    several years. A 29 February falls on 28 February in other years."""
    first, last = since.year - 1, as_of.year + 1
    if t.name == "birthday":
        base = "SELECT customer_id, birthday AS d FROM customers WHERE birthday IS NOT NULL"
        after = ""
    else:
        # the sign-up day in the customer's own zone; the first purchase without it
        base = """SELECT c.customer_id,
            CAST(timezone(z.tz, timezone('UTC', coalesce(c.created_at, a.first_order_at))) AS DATE) AS d
          FROM customers c LEFT JOIN customer_activity a USING (customer_id)
          JOIN zones z USING (customer_id)
          WHERE coalesce(c.created_at, a.first_order_at) IS NOT NULL"""
        after = " AND y.yr > year(b.d)"
    return f"""
WITH zones AS ({zones}),
b AS ({base}),
y AS (SELECT unnest(range({first}, {last + 1})) AS yr),
cand AS (
  SELECT b.customer_id, y.yr, z.tz,
         CASE WHEN month(b.d) = 2 AND day(b.d) = 29
                   AND NOT ((y.yr % 4 = 0 AND y.yr % 100 <> 0) OR y.yr % 400 = 0)
              THEN make_date(y.yr, 2, 28) ELSE make_date(y.yr, month(b.d), day(b.d)) END AS local_day
  FROM b JOIN zones z USING (customer_id), y WHERE true{after}
), timed AS (
  SELECT customer_id, yr, tz, local_day,
         timezone('UTC', timezone(tz, CAST(local_day AS TIMESTAMP))) AS occurred_at FROM cand
)
SELECT customer_id, CAST(yr AS VARCHAR) AS occurrence, occurred_at,
       CAST(local_day AS VARCHAR) || ' ' || tz AS context
FROM timed WHERE {_window('occurred_at', since, as_of)}
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY yr DESC) = 1"""


def zones_sql(valid: list[str], fallback: str) -> str:
    """Each customer's zone: their own when it is a known IANA zone, else
    ``fallback``."""
    known = ", ".join(lit(z) for z in valid) or "NULL"
    return (f"SELECT customer_id, CASE WHEN time_zone IN ({known}) THEN time_zone "
            f"ELSE {lit(fallback)} END AS tz FROM customers")  # fmt: skip
