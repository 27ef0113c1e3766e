"""A customer's profile and timeline, the same on every engine, against
what the rows say, written out by hand."""

from __future__ import annotations

import pandas as pd

from tenure.engine import customers


def _frames() -> dict[str, pd.DataFrame]:
    t = pd.Timestamp
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": ["A", "B"],
                "email": ["ann@example.com", None],
                "name": ["Ann", "Bob"],
                "country": ["DE", "FR"],
            }
        ),
        "orders": pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3"],
                "customer_id": ["A", "A", "B"],
                "placed_at": [t("2024-01-05 10:00"), t("2024-03-01 09:00"), t("2024-02-01")],
                "amount": [10.0, 20.5, 7.0],
                "currency": ["EUR", "USD", "EUR"],
                "status": ["completed", "refunded", "completed"],
                "amount_reporting": [10.0, 18.25, 7.0],
            }
        ),
        "subscriptions": pd.DataFrame(
            {
                "subscription_id": ["s1"],
                "customer_id": ["A"],
                "started_at": [t("2024-01-10")],
                "ended_at": [t("2024-02-10")],
                "plan": ["basic"],
                "mrr": [5.0],
                "mrr_reporting": [5.0],
                "cancel_reason": ["price"],
            }
        ),
        "support_tickets": pd.DataFrame(
            {
                "ticket_id": ["t1"],
                "customer_id": ["A"],
                "opened_at": [t("2024-02-10")],
                "category": ["billing"],
                "satisfaction": [4],
            }
        ),
        "survey_responses": pd.DataFrame(
            {
                "response_id": ["r1"],
                "customer_id": ["A"],
                "kind": ["nps"],
                "score": [9.0],
                "comment": ["fast"],
                "answered_at": [t("2024-03-02")],
            }
        ),
    }


def test_a_timeline_is_what_happened_newest_first(backend):
    source = backend.source(**_frames())
    try:
        got = customers.timeline(source, "A")
        assert customers.timeline(source, "nobody").empty
        profile = customers.profile(source, "A")
        people = customers.contacts(source).sort_values("customer_id")
    finally:
        source.close()
    rows = [
        (str(r.happened_at), r.kind, r.id, r.what, None if pd.isna(r.value) else r.value)
        for r in got.itertuples()
    ]
    # the subscription ended on the day the ticket was opened: kinds break the tie
    assert rows == [
        ("2024-03-02 00:00:00", "survey answer", "r1", "nps 9 · fast", 9.0),
        ("2024-03-01 09:00:00", "order", "o2", "refunded · 20.50 USD", 18.25),
        ("2024-02-10 00:00:00", "subscription ended", "s1", "price", None),
        ("2024-02-10 00:00:00", "ticket", "t1", "billing · open", 4.0),
        ("2024-01-10 00:00:00", "subscription started", "s1", "basic", 5.0),
        ("2024-01-05 10:00:00", "order", "o1", "completed · 10.00 EUR", 10.0),
    ]
    assert list(profile["email"]) == ["ann@example.com"]
    assert people.to_dict("list") == {
        "customer_id": ["A", "B"],
        "email": ["ann@example.com", None],
        "name": ["Ann", "Bob"],
        "country": ["DE", "FR"],
    }


def test_a_timeline_keeps_the_newest_events_up_to_its_limit(backend):
    frames = _frames()
    source = backend.source(**frames)
    try:
        got = customers.timeline(source, "A", limit=2)
    finally:
        source.close()
    assert list(got["id"]) == ["r1", "o2"]
