"""Presets for common exports, and database sources."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from tenure.ingestion.pipeline import ingest
from tests.conftest import query, write

HERE = Path(__file__).parent


def test_shopify_orders_export_gives_orders_and_items(ws):
    path = HERE / "shopify_orders.csv"
    orders = ingest("orders", path, workspace=ws, preset="shopify")
    # the second row of #1001 repeats the order with its totals empty: a duplicate
    assert (orders.read, orders.accepted, orders.duplicates, orders.rejected) == (4, 3, 1, 0)
    rows = query(
        ws.settings.store,
        "SELECT order_id, customer_id, placed_at, amount, status, "
        "discount, channel FROM orders ORDER BY 1",
    )
    assert rows == [
        (
            "#1001",
            "ann@example.com",
            datetime(2024, 3, 1, 9),
            Decimal("55.0000"),
            "completed",
            Decimal("0.0000"),
            "web",
        ),
        (
            "#1002",
            "bob@example.com",
            datetime(2024, 3, 2, 17),
            Decimal("10.0000"),
            "refunded",
            Decimal("2.0000"),
            "pos",
        ),
        # a "Cancelled at" time makes the order cancelled whatever its financial status
        (
            "#1003",
            "bob@example.com",
            datetime(2024, 3, 3, 9),
            Decimal("10.0000"),
            "cancelled",
            Decimal("0.0000"),
            "web",
        ),
    ]
    items = ingest("order_items", path, workspace=ws, preset="shopify")
    assert items.inserted == 4
    assert query(
        ws.settings.store,
        "SELECT order_id, product_id, quantity, unit_price FROM order_items ORDER BY 1, 2",
    ) == [
        ("#1001", "SH-1", 1, Decimal("30.0000")),
        ("#1001", "SO-1", 1, Decimal("20.0000")),
        ("#1002", "Cap", 2, Decimal("5.0000")),  # no SKU: the line's name
        ("#1003", "CAP", 1, Decimal("10.0000")),
    ]


def test_stripe_subscriptions_export_gives_monthly_mrr(tmp_path, ws):
    write(tmp_path / "fx.csv", "date,currency,rate\n2020-01-01,USD,0.5\n")
    ingest("fx_rates", tmp_path / "fx.csv", workspace=ws)
    text = (
        "id,Customer ID,Customer Email,Plan,Quantity,Currency,Interval,Amount,Status,"
        "Created (UTC),Start (UTC),Canceled At (UTC),Ended At (UTC)\n"
        "sub_1,cus_A,a@x.io,pro,1,usd,month,29.00,active,2024-01-01 10:00,"
        "2024-01-01 10:00,,\n"
        "sub_2,cus_B,b@x.io,team,3,usd,year,120.00,canceled,2024-02-01 00:00,"
        "2024-02-01 00:00,2024-06-01 00:00,2024-06-01 00:00\n"
    )
    r = ingest("subscriptions", write(tmp_path / "subs.csv", text), workspace=ws, preset="stripe")
    assert r.inserted == 2
    assert query(
        ws.settings.store,
        "SELECT subscription_id, customer_id, started_at, ended_at, "
        "plan, mrr, currency, mrr_reporting FROM subscriptions "
        "ORDER BY 1",
    ) == [
        (
            "sub_1",
            "cus_A",
            datetime(2024, 1, 1, 10),
            None,
            "pro",
            Decimal("29.0000"),
            "USD",
            Decimal("14.5000"),
        ),
        # 3 seats x 120 a year = 30 a month
        (
            "sub_2",
            "cus_B",
            datetime(2024, 2, 1),
            datetime(2024, 6, 1),
            "team",
            Decimal("30.0000"),
            "USD",
            Decimal("15.0000"),
        ),
    ]


def test_hubspot_contacts_export(tmp_path, ws):
    text = (
        "Record ID,First Name,Last Name,Email,Create Date,Country/Region,Original Source,"
        "Lifecycle Stage\n"
        "101,Ada,Lovelace,ADA@EXAMPLE.COM,2023-05-01 08:00,United Kingdom,Organic Search,"
        "customer\n"
        "102,,Solo,solo@example.com,2023-05-02 09:30,Germany,Paid Social,lead\n"
    )
    r = ingest("customers", write(tmp_path / "contacts.csv", text), workspace=ws, preset="hubspot")
    assert r.inserted == 2
    assert query(
        ws.settings.store,
        "SELECT customer_id, name, email, country, "
        "acquisition_channel, attributes->>'Lifecycle Stage' "
        "FROM customers ORDER BY 1",
    ) == [
        ("101", "Ada Lovelace", "ada@example.com", "GB", "Organic Search", "customer"),
        ("102", "Solo", "solo@example.com", "DE", "Paid Social", "lead"),
    ]


def test_a_table_or_query_from_a_database_url(tmp_path, ws):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE sales (ref TEXT, buyer TEXT, ts TEXT, total REAL)"))
        conn.execute(
            sa.text(
                "INSERT INTO sales VALUES ('S1', 'B1', '2024-01-01 10:00', 9.5), "
                "('S2', 'B2', 'never', 1.0), ('S3', 'B1', '2024-01-03', 2.25)"
            )
        )
    engine.dispose()
    mapping = ["ref=order_id", "buyer=customer_id", "ts=placed_at", "total=amount"]
    r = ingest("orders", url, workspace=ws, table="sales", map=mapping)
    assert (r.read, r.accepted, r.rejected) == (3, 2, 1)
    assert r.errors[0]["line"] == 2 and r.errors[0]["value"] == "never"
    q = ingest(
        "orders", url, workspace=ws, map=mapping, query="SELECT * FROM sales WHERE ref = 'S3'"
    )
    assert (q.read, q.unchanged) == (1, 1)


def test_a_postgresql_table(pg_database, ws):
    engine = sa.create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE orders (order_id text, customer_id text, "
                "placed_at timestamptz, amount numeric(12, 2))"
            )
        )
        conn.execute(
            sa.text("INSERT INTO orders VALUES ('P1', 'C1', '2024-05-01 12:00:00+02', 12.34)")
        )
    engine.dispose()
    r = ingest("orders", pg_database, workspace=ws, table="orders")
    assert r.inserted == 1
    assert query(ws.settings.store, "SELECT placed_at, amount FROM orders") == [
        (datetime(2024, 5, 1, 10), Decimal("12.3400"))
    ]
