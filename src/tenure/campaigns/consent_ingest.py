"""Consent from the ingested customers: ``consent_email``, ``consent_sms``
and ``consent_push`` of the ``customers`` kind (marketing consent per
channel, as a CRM or a shop exports it), into the consent ledger.

``tenure ingest customers FILE`` keeps those columns in the analytics
store; ``tenure consent import --from-customers`` then records, per
customer and channel, what changed since the last time, with source
``ingest``:

- a value seen for the first time, or different from the last one taken
  from the customers, is recorded (a missing value records nothing);
- a value the same as the last one taken records nothing, so an
  unchanged export never undoes a withdrawal made meanwhile by an
  unsubscribe link, a complaint or the API;
- a grant is not recorded over such a withdrawal made after the last
  value taken from the customers: an export that still says "yes" after
  the customer unsubscribed cannot subscribe them again. Those are
  counted as ``kept_withdrawn``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.store.ops_schema import consent_events as events_t

COLUMNS = {"consent_email": "email", "consent_sms": "sms", "consent_push": "push"}


def _customers(ws: Any) -> list[tuple[str, dict[str, bool]]]:
    """(customer, {channel: consent}) of the customers with any value."""
    with ws.analytics(read_only=True) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "customers" not in tables:
            return []
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'").fetchall()}  # fmt: skip
        cols = [c for c in COLUMNS if c in have]
        if not cols:
            return []
        rows = con.execute(
            f"SELECT customer_id, {', '.join(cols)} FROM customers "
            f"WHERE {' OR '.join(f'{c} IS NOT NULL' for c in cols)} ORDER BY customer_id"
        ).fetchall()
    return [(str(r[0]), {COLUMNS[c]: bool(v) for c, v in zip(cols, r[1:], strict=True) if v is not None})
            for r in rows]  # fmt: skip


def sync_from_customers(ws: Any) -> dict[str, Any]:
    """Record the changes of the customers' consent columns; the counts."""
    found = _customers(ws)
    counts = {"customers": len(found), "recorded": 0, "unchanged": 0, "kept_withdrawn": 0}
    now = consent.now()
    with consent.write_transaction(ws.ops) as conn:
        query = (sa.select(events_t.c.customer_id, events_t.c.channel, events_t.c.granted,
                           events_t.c.source, events_t.c.at)
                 .where(events_t.c.purpose == "marketing", events_t.c.channel.in_(COLUMNS.values()))
                 .order_by(events_t.c.at, events_t.c.id))  # fmt: skip
        last_ingest: dict[tuple[str, str], bool] = {}
        withdrawn_since: set[tuple[str, str]] = set()
        for row in conn.execute(query):
            pair = (row.customer_id, row.channel)
            if row.source == "ingest":
                last_ingest[pair] = bool(row.granted)
                withdrawn_since.discard(pair)
            elif row.granted:
                withdrawn_since.discard(pair)
            else:
                withdrawn_since.add(pair)
        for customer_id, values in found:
            for channel, granted in values.items():
                pair = (customer_id, channel)
                if last_ingest.get(pair) == granted:
                    counts["unchanged"] += 1
                    continue
                if granted and pair in withdrawn_since:
                    counts["kept_withdrawn"] += 1
                    continue
                consent.append(conn, customer_id, channel, "marketing", granted, source="ingest",
                               at=now, reference="customers", recorded_at=now)  # fmt: skip
                counts["recorded"] += 1
    return counts
