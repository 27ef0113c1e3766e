"""Rows that are stored but flagged: outlying amounts, ambiguous thousands
separators, orders dated before their customer was created."""

from __future__ import annotations

from decimal import Decimal

from tenure.ingestion.pipeline import ingest
from tests.conftest import query, write


def _orders(amounts: list[str], sep: str = ",") -> str:
    head = sep.join(["order_id", "customer_id", "placed_at", "amount"]) + "\n"
    return head + "".join(
        sep.join([f"O{i}", f"C{i % 7}", f"2024-01-{i % 28 + 1:02d}", a]) + "\n"
        for i, a in enumerate(amounts, start=1)
    )


def test_an_amount_far_outside_the_file_is_flagged_not_rejected(tmp_path, ws):
    # 30 amounts between 20 and 49; line 12 (order O11) has 2599000, a
    # price in cents typed with two more zeros
    amounts = [f"{20 + i}.99" for i in range(30)]
    amounts[10] = "2599000"
    r = ingest("orders", write(tmp_path / "o.csv", _orders(amounts)), workspace=ws)
    assert (r.accepted, r.rejected) == (30, 0)
    flagged = [w for w in r.warnings if "far from the rest" in w]
    assert len(flagged) == 1
    assert "1 amount is far" in flagged[0] and "line 12: 2,599,000.00" in flagged[0]
    assert query(ws.settings.store, "SELECT amount FROM orders WHERE order_id = 'O11'") == [
        (Decimal("2599000.0000"),)
    ]


def test_the_median_of_an_even_count_lies_between_two_repeated_amounts(tmp_path, ws):
    # 24 amounts: twelve of 10.00, ten of 40.00 and two of 4,000,000.00 (lines
    # 7 and 22). The 12th and 13th logs are ln 10 and ln 40, so the median is
    # exp((ln 10 + ln 40) / 2) = 20. Every 10 and 40 lies ln 2 from it, so the
    # MAD is ln 2 and "far" is beyond 6 * 1.4826 * ln 2 = 6.17 (more than
    # ln 100 = 4.61); 4,000,000 lies ln 200,000 = 12.2 away: both flagged.
    amounts = []
    for i in range(24):
        if i in (5, 20):
            amounts.append("4000000.00")
        else:
            amounts.append("10.00" if sum(a != "4000000.00" for a in amounts) < 12 else "40.00")
    assert (amounts.count("10.00"), amounts.count("40.00")) == (12, 10)
    r = ingest("orders", write(tmp_path / "o.csv", _orders(amounts)), workspace=ws)
    flagged = [w for w in r.warnings if "far from the rest" in w]
    assert len(flagged) == 1
    assert "2 amounts are far from the rest of the column (median 20.00)" in flagged[0]
    assert "line 7: 4,000,000.00, line 22: 4,000,000.00." in flagged[0]


def test_a_wide_but_ordinary_spread_is_not_flagged(tmp_path, ws):
    # from 1 to 99 in steps: every value within 100 times the median
    amounts = [str(1 + 98 * i // 29) for i in range(30)]
    r = ingest("orders", write(tmp_path / "o.csv", _orders(amounts)), workspace=ws)
    assert not [w for w in r.warnings if "far from the rest" in w]


def test_ambiguous_thousands_in_a_decimal_comma_file_are_warned_about(tmp_path, ws):
    amounts = ["12,50", "3,99", "1.234", "7,00"]
    r = ingest("orders", write(tmp_path / "o.csv", _orders(amounts, ";")), workspace=ws)
    assert r.accepted == 4
    warned = [w for w in r.warnings if "thousands separator" in w]
    assert len(warned) == 1
    assert "'1.234' (first on line 4)" in warned[0] and "read as 1234" in warned[0]
    rows = query(ws.settings.store, "SELECT amount FROM orders ORDER BY order_id")
    assert rows == [
        (Decimal("12.5000"),),
        (Decimal("3.9900"),),
        (Decimal("1234.0000"),),
        (Decimal("7.0000"),),
    ]
    # 1.234,56 has both marks: nothing to doubt
    clear = ingest(
        "orders",
        write(tmp_path / "p.csv", _orders(["12,50", "1.234,56"], ";").replace("O", "P")),
        workspace=ws,
    )
    assert not [w for w in clear.warnings if "thousands separator" in w]


def test_an_order_before_its_customer_was_created_is_flagged(tmp_path, ws):
    write(tmp_path / "c.csv", "customer_id,created_at\nC1,2024-03-01\nC2,2024-01-01\n")
    ingest("customers", tmp_path / "c.csv", workspace=ws)
    r = ingest(
        "orders",
        write(
            tmp_path / "o.csv",
            "order_id,customer_id,placed_at,amount\nO1,C1,2024-02-15,5\nO2,C2,2024-02-15,5\n"
            "O3,C1,2024-03-01 09:00,5\n",
        ),
        workspace=ws,
    )
    assert r.accepted == 3
    flagged = [w for w in r.warnings if "before their customer's created_at" in w]
    assert len(flagged) == 1
    assert flagged[0].startswith("o.csv: 1 orders")
    assert "line 2: order O1 on 2024-02-15, customer C1 created 2024-03-01" in flagged[0]
    # and from the other side: a customer file that moves C2 after its order
    later = ingest(
        "customers",
        write(tmp_path / "c2.csv", "customer_id,created_at\nC2,2024-06-01\n"),
        workspace=ws,
    )
    assert any("created_at after orders already stored" in w and "C2" in w for w in later.warnings)
