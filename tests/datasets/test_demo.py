"""The demo business: file shapes, referential integrity and the generating models.

The statistical checks compare the simulated data with values derived from
the models' closed forms (never with numbers the generator itself reports),
within four standard errors.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pytest

from tenure.datamodel import KINDS, ORDER_STATUSES, SURVEY_RANGES
from tenure.datasets import DemoFiles, generate_demo
from tenure.errors import InputError

AS_OF = date(2026, 10, 31)
# the observation window closes at the end of the as_of day (docs/demo.md)
END = f"{AS_OF + timedelta(days=1)} 00:00:00"

COLUMNS = {
    "customers": [
        "customer_id",
        "created_at",
        "email",
        "name",
        "country",
        "locale",
        "time_zone",
        "currency",
        "birthday",
        "consent_email",
        "consent_sms",
        "consent_push",
        "acquisition_channel",
        "referred_by",
    ],
    "orders": [
        "order_id",
        "customer_id",
        "placed_at",
        "amount",
        "currency",
        "status",
        "discount",
        "channel",
    ],
    "order_items": ["order_id", "product_id", "category", "quantity", "unit_price"],
    "subscriptions": [
        "subscription_id",
        "customer_id",
        "started_at",
        "ended_at",
        "plan",
        "mrr",
        "currency",
        "cancel_reason",
    ],
    "support_tickets": [
        "ticket_id",
        "customer_id",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "channel",
        "category",
        "satisfaction",
    ],
    "survey_responses": ["response_id", "customer_id", "kind", "score", "comment", "answered_at"],
    "fx_rates": ["date", "currency", "rate"],
}


def _connect(files: DemoFiles) -> duckdb.DuckDBPyConnection:
    """Every file loaded as a table of text columns, read exactly as written."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for kind, path in files.by_kind().items():
        if kind == "events":
            source = f"read_json_auto('{path}', format='newline_delimited')"
        else:
            source = f"read_csv('{path}', all_varchar=true, header=true)"
        con.execute(f"CREATE TABLE {kind} AS SELECT * FROM {source}")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), customers=3000, seed=11)


@pytest.fixture(scope="module")
def small_db(small):
    con = _connect(small)
    yield con
    con.close()


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo20k"), customers=20_000, seed=2024)


@pytest.fixture(scope="module")
def large_db(large):
    con = _connect(large)
    yield con
    con.close()


def test_same_seed_gives_the_same_bytes(tmp_path):
    a = generate_demo(tmp_path / "a", customers=300, seed=5)
    b = generate_demo(tmp_path / "b", customers=300, seed=5)
    c = generate_demo(tmp_path / "c", customers=300, seed=6)
    for name in (
        "customers",
        "orders",
        "order_items",
        "subscriptions",
        "support_tickets",
        "survey_responses",
        "events",
        "fx_rates",
        "truth",
        "params_file",
    ):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    assert a.orders.read_bytes() != c.orders.read_bytes()


def test_files_have_the_documented_columns(small):
    assert small.reporting_currency == "EUR"
    for kind, columns in COLUMNS.items():
        header = small.by_kind()[kind].read_text(encoding="utf-8").splitlines()[0]
        assert header.replace('"', "").split(",") == columns
        assert set(columns) <= set(KINDS[kind].field_names)
    first = json.loads(small.events.read_text(encoding="utf-8").splitlines()[0])
    assert list(first) == ["event_id", "customer_id", "name", "occurred_at", "properties"]
    assert isinstance(first["properties"], dict)


def test_params_json_holds_the_true_parameters(small):
    params = json.loads(small.params_file.read_text(encoding="utf-8"))
    assert params == small.params
    assert params["seed"] == 11 and params["as_of"] == "2026-10-31"
    models = params["models"]
    assert {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426}.items() <= models["bgnbd"].items()
    assert {"p": 6.25, "q": 3.74, "gamma": 15.44}.items() <= models["gamma_gamma"].items()
    assert {"alpha": 0.704, "beta": 1.182}.items() <= models["sbg"].items()
    assert params["counts"]["customers"] == 3000
    con = duckdb.connect()
    truth = con.execute(
        f'SELECT count(*), count(DISTINCT customer_id), min("lambda") > 0, '
        f"max(p) < 1, min(nu) > 0 FROM '{small.truth}'"
    ).fetchone()
    assert truth == (3000, 3000, True, True, True)


def test_referential_integrity(small_db):
    con = small_db
    orphans = {
        "orders": "SELECT count(*) FROM orders o ANTI JOIN customers c USING (customer_id)",
        "items": "SELECT count(*) FROM order_items i ANTI JOIN orders o USING (order_id)",
        "subscriptions": "SELECT count(*) FROM subscriptions s ANTI JOIN customers USING (customer_id)",
        "tickets": "SELECT count(*) FROM support_tickets t ANTI JOIN customers USING (customer_id)",
        "surveys": "SELECT count(*) FROM survey_responses s ANTI JOIN customers USING (customer_id)",
        "events": "SELECT count(*) FROM events e ANTI JOIN customers USING (customer_id)",
    }
    for what, sql in orphans.items():
        assert _one(con, sql) == 0, what
    for kind, key in (
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("subscriptions", "subscription_id"),
        ("support_tickets", "ticket_id"),
        ("survey_responses", "response_id"),
        ("events", "event_id"),
    ):
        assert _one(con, f"SELECT count(*) - count(DISTINCT {key}) FROM {kind}") == 0, kind
    assert (
        _one(con, "SELECT count(*) - count(DISTINCT (order_id, product_id)) FROM order_items") == 0
    )
    assert _one(con, "SELECT count(*) FROM orders ANTI JOIN order_items USING (order_id)") == 0


def test_items_add_up_to_amount_plus_discount(small_db):
    con = small_db
    mismatches = _one(
        con,
        """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, sum(quantity::INT * unit_price::DECIMAL(18, 2)) AS total,
                   count(*) AS lines, min(quantity::INT) AS qmin, max(quantity::INT) AS qmax,
                   min(unit_price::DECIMAL(18, 2)) AS pmin
            FROM order_items GROUP BY order_id) i USING (order_id)
        WHERE i.total <> o.amount::DECIMAL(18, 2) + o.discount::DECIMAL(18, 2)
           OR i.lines NOT BETWEEN 1 AND 4 OR i.qmin < 1 OR i.qmax > 3 OR i.pmin <= 0""",
    )
    assert mismatches == 0
    # JPY has no minor unit; the others have exactly two decimals
    assert (
        _one(con, "SELECT count(*) FROM orders WHERE currency = 'JPY' AND amount LIKE '%.%'") == 0
    )
    assert (
        _one(
            con,
            r"SELECT count(*) FROM orders WHERE currency <> 'JPY' "
            r"AND NOT regexp_full_match(amount, '\d+\.\d\d')",
        )
        == 0
    )


def test_customers_are_consistent(small_db):
    con = small_db
    # created_at is the first order's time, and every customer has an order
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM customers c LEFT JOIN (
            SELECT customer_id, min(placed_at::TIMESTAMP) AS first FROM orders GROUP BY 1) o
            USING (customer_id)
        WHERE o.first IS NULL OR o.first <> c.created_at::TIMESTAMP""",
        )
        == 0
    )
    assert (
        _one(
            con,
            "SELECT count(*) FROM customers WHERE NOT regexp_full_match("
            "created_at, '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ')",
        )
        == 0
    )
    # referrers were acquired strictly earlier, and referred customers came by referral
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM customers c LEFT JOIN customers r ON r.customer_id = c.referred_by
        WHERE c.referred_by IS NOT NULL AND (r.customer_id IS NULL
              OR r.created_at::TIMESTAMP >= c.created_at::TIMESTAMP
              OR c.acquisition_channel <> 'referral')""",
        )
        == 0
    )
    referred = _one(con, "SELECT avg((referred_by IS NOT NULL)::INT) FROM customers")
    assert 0.05 < referred < 0.11
    assert (
        _one(
            con,
            "SELECT count(*) FROM customers WHERE acquisition_channel = 'referral' "
            "AND referred_by IS NULL",
        )
        == 0
    )
    assert _one(con, "SELECT count(*) - count(DISTINCT email) FROM customers") == 0
    assert (
        _one(
            con,
            "SELECT count(*) FROM customers WHERE email <> lower(email) "
            "OR NOT regexp_full_match(email, '[a-z0-9._]+@example\\.(com|net|org)')",
        )
        == 0
    )
    assert 0.10 < _one(con, "SELECT avg((birthday IS NULL)::INT) FROM customers") < 0.20
    pairs = set(con.execute("SELECT DISTINCT country, currency, locale FROM customers").fetchall())
    assert {("DE", "EUR", "de-DE"), ("JP", "JPY", "ja-JP"), ("US", "USD", "en-US")} <= pairs
    assert all(
        cur == {"GB": "GBP", "US": "USD", "SE": "SEK", "JP": "JPY", "BR": "BRL"}.get(c, "EUR")
        for c, cur, _ in pairs
    )
    # acquisitions stop 60 days before as_of
    assert _one(con, "SELECT max(created_at::TIMESTAMP) < DATE '2026-09-02' FROM customers")


def test_orders_follow_the_rules(small_db):
    con = small_db
    assert {s for (s,) in con.execute("SELECT DISTINCT status FROM orders").fetchall()} <= set(
        ORDER_STATUSES
    )
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM orders o JOIN customers c USING (customer_id)
        WHERE o.status = 'cancelled' AND o.placed_at = c.created_at""",
        )
        == 0
    )
    assert (
        _one(
            con,
            "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
            "WHERE o.currency <> c.currency",
        )
        == 0
    )
    assert 0.85 < _one(con, "SELECT avg((status = 'completed')::INT) FROM orders") < 0.95
    assert 0.70 < _one(con, "SELECT avg((discount::DECIMAL(18,2) = 0)::INT) FROM orders") < 0.90
    assert _one(con, f"SELECT max(placed_at::TIMESTAMP) < TIMESTAMP '{END}' FROM orders")
    # one rate per currency per month, from the month before start to as_of
    rows = con.execute(
        "SELECT currency, count(*), min(date), max(date) FROM fx_rates GROUP BY 1"
    ).fetchall()
    assert {r[0] for r in rows} == {"GBP", "USD", "SEK", "JPY", "BRL"}
    assert all(r[1:] == (35, "2023-12-01", "2026-10-01") for r in rows)


def test_activity_happens_between_acquisition_and_as_of(small_db):
    con = small_db
    checks = {
        "subscriptions": """
            SELECT count(*) FROM subscriptions s JOIN customers c USING (customer_id)
            WHERE s.started_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR s.started_at::TIMESTAMP >= TIMESTAMP '{end}'
               OR s.ended_at::TIMESTAMP <= s.started_at::TIMESTAMP
               OR s.ended_at::TIMESTAMP >= TIMESTAMP '{end}'
               OR (s.ended_at IS NULL) <> (s.cancel_reason IS NULL)""",
        "tickets": """
            SELECT count(*) FROM support_tickets t JOIN customers c USING (customer_id)
            WHERE t.opened_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR t.opened_at::TIMESTAMP >= TIMESTAMP '{end}'
               OR t.first_response_at::TIMESTAMP < t.opened_at::TIMESTAMP
               OR t.resolved_at::TIMESTAMP < t.first_response_at::TIMESTAMP
               OR (t.resolved_at IS NOT NULL AND t.first_response_at IS NULL)
               OR t.satisfaction::INT NOT BETWEEN 1 AND 5""",
        "surveys": """
            SELECT count(*) FROM survey_responses s JOIN customers c USING (customer_id)
            WHERE s.answered_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR s.answered_at::TIMESTAMP >= TIMESTAMP '{end}'""",
        "events": """
            SELECT count(*) FROM events e JOIN customers c USING (customer_id)
            WHERE e.occurred_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR e.occurred_at::TIMESTAMP >= TIMESTAMP '{end}'""",
    }
    for what, sql in checks.items():
        assert _one(con, sql.format(end=END)) == 0, what
    for kind, (low, high) in SURVEY_RANGES.items():
        assert (
            _one(
                con,
                f"SELECT count(*) FROM survey_responses WHERE kind = '{kind}' "
                f"AND score::INT NOT BETWEEN {low} AND {high}",
            )
            == 0
        )
    n = 3000
    assert 0.15 < _one(con, "SELECT count(*) FROM subscriptions") / n < 0.25
    assert 0.2 < _one(con, "SELECT count(*) FROM support_tickets") / n < 0.4
    assert 2.5 < _one(con, "SELECT count(*) FROM events") / n < 3.5
    assert (
        0.25
        < _one(con, "SELECT count(DISTINCT customer_id) FROM survey_responses WHERE kind = 'nps'")
        / n
        < 0.35
    )
    names = {r for (r,) in con.execute("SELECT DISTINCT name FROM events").fetchall()}
    assert names == {"session_start", "product_view", "add_to_cart", "email_open", "app_open"}


def test_comments_are_in_the_customers_language(large_db):
    con = large_db
    comments = {
        c for (c,) in con.execute("SELECT DISTINCT comment FROM survey_responses").fetchall()
    }
    assert {"Très bien !", "Lieferung kam zu spät.", "とても良い"} <= comments
    # a Japanese comment comes from a ja-JP customer
    assert (
        _one(
            con,
            """
        SELECT count(*) FROM survey_responses s JOIN customers c USING (customer_id)
        WHERE s.comment = 'とても良い' AND c.locale <> 'ja-JP'""",
        )
        == 0
    )
    # positive comments never go with a detractor's NPS score
    assert (
        _one(
            con,
            "SELECT count(*) FROM survey_responses WHERE kind = 'nps' "
            "AND comment = 'Très bien !' AND score::INT <= 6",
        )
        == 0
    )


# --- the generating models ----------------------------------------------------


def hyp2f1(a: float, b: float, c: float, z: np.ndarray, terms: int = 4000) -> np.ndarray:
    """Gauss's hypergeometric series, summed term by term (|z| < 1).

    scipy and mpmath are not dependencies; for z <= 0.98 the terms shrink
    like z**k, so 4000 terms reach double precision.
    """
    z = np.asarray(z, dtype=float)
    term = np.ones_like(z)
    total = np.ones_like(z)
    for k in range(terms):
        term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
    return total


def test_hypergeometric_series_matches_a_closed_form():
    z = np.array([0.1, 0.5, 0.9, 0.97])
    # 2F1(1, 1; 2; z) = -log(1 - z) / z
    np.testing.assert_allclose(hyp2f1(1, 1, 2, z), -np.log1p(-z) / z, rtol=1e-12)


def bgnbd_expected_purchases(
    t: np.ndarray, r: float, alpha: float, a: float, b: float
) -> np.ndarray:
    """E[X(t)], Fader, Hardie & Lee (2005), equation 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_repeat_purchases_match_the_bgnbd_expectation(large_db):
    con = large_db
    rows = con.execute(f"""
        SELECT epoch(TIMESTAMP '{END}' - c.created_at::TIMESTAMP) / 86400 AS T,
               count(*) - 1 AS x
        FROM customers c JOIN orders o USING (customer_id) GROUP BY c.customer_id, T""").fetchall()
    T = np.array([r[0] for r in rows], dtype=float)
    x = np.array([r[1] for r in rows], dtype=float)
    assert len(x) == 20_000 and T.min() >= 60
    expected = bgnbd_expected_purchases(T, r=0.243, alpha=30.9, a=0.793, b=2.426).mean()
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert abs(x.mean() - expected) < 4 * se, (x.mean(), expected, se)


def test_order_values_match_the_gamma_gamma_mean(large_db):
    con = large_db
    # the first order of each customer, converted back to EUR at the rate in force
    values = np.array(
        [
            v
            for (v,) in con.execute("""
        WITH fx AS (
            SELECT currency, date::DATE AS day, rate::DOUBLE AS rate FROM fx_rates
            UNION ALL SELECT 'EUR', DATE '2000-01-01', 1.0),
        first AS (
            SELECT o.* FROM orders o JOIN customers c
              ON o.customer_id = c.customer_id AND o.placed_at = c.created_at)
        SELECT f.amount::DOUBLE * fx.rate FROM first f ASOF JOIN fx
          ON f.currency = fx.currency AND f.placed_at::TIMESTAMP::DATE >= fx.day""").fetchall()
        ]
    )
    assert len(values) == 20_000
    p, q, g = 6.25, 3.74, 15.44
    mean = p * g / (q - 1)  # E[p / nu] with nu ~ Gamma(q, g)
    # Var z = E[Var(z | nu)] + Var(E[z | nu]) = p E[nu^-2] + p^2 Var(1/nu)
    variance = p * g**2 / ((q - 1) * (q - 2)) + p**2 * g**2 / ((q - 1) ** 2 * (q - 2))
    se = math.sqrt(variance / len(values))
    assert abs(values.mean() - mean) < 4 * se, (values.mean(), mean, se)


def test_subscription_survival_matches_the_sbg_model(large_db):
    con = large_db
    # subscriptions observed for a full month: did they last beyond the first month?
    # (a one-month lifetime ends after at most 31 days, a longer one after 59 or more)
    survived = np.array(
        [
            s
            for (s,) in con.execute(f"""
        SELECT (ended_at IS NULL OR ended_at::TIMESTAMP - started_at::TIMESTAMP > INTERVAL 31 DAY)::INT
        FROM subscriptions
        WHERE started_at::TIMESTAMP <= TIMESTAMP '{END}' - INTERVAL 31 DAY""").fetchall()
        ]
    )
    alpha, beta = 0.704, 1.182
    expected = beta / (alpha + beta)  # S(1) = B(alpha, beta + 1) / B(alpha, beta)
    se = math.sqrt(expected * (1 - expected) / len(survived))
    assert len(survived) > 3000
    assert abs(survived.mean() - expected) < 4 * se, (survived.mean(), expected, se)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "number of customers"),
        ({"customers": True}, "number of customers"),
        ({"start": date(2026, 9, 15)}, "at least 60 days before"),
    ],
)
def test_bad_arguments_say_what_to_change(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        generate_demo(tmp_path, **kwargs)
