"""The demo business: file shapes, referential integrity and the generating models.

The statistical checks compare the simulated data with values derived from
the models' closed forms (never with numbers the generator reports), within
four standard errors. Files are read back exactly as written: every CSV
column as text, cast in SQL.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from tenure.datamodel import KINDS, ORDER_STATUSES, SURVEY_RANGES
from tenure.datasets import DemoFiles, generate_demo
from tenure.errors import InputError

AS_OF = date(2026, 10, 31)
# the observation window closes at the end of the as_of day (docs/demo.md)
END = f"TIMESTAMP '{AS_OF + timedelta(days=1)} 00:00:00'"

# fmt: off
COLUMNS = {
    "customers": ["customer_id", "created_at", "email", "name", "country", "locale",
                  "time_zone", "currency", "birthday", "consent_email", "consent_sms",
                  "consent_push", "acquisition_channel", "referred_by"],
    "orders": ["order_id", "customer_id", "placed_at", "amount", "currency", "status",
               "discount", "channel"],
    "order_items": ["order_id", "product_id", "category", "quantity", "unit_price"],
    "subscriptions": ["subscription_id", "customer_id", "started_at", "ended_at", "plan", "mrr",
                      "currency", "cancel_reason"],
    "support_tickets": ["ticket_id", "customer_id", "opened_at", "first_response_at",
                        "resolved_at", "channel", "category", "satisfaction"],
    "survey_responses": ["response_id", "customer_id", "kind", "score", "comment", "answered_at"],
    "fx_rates": ["date", "currency", "rate"],
}
# fmt: on


def _connect(files: DemoFiles) -> duckdb.DuckDBPyConnection:
    """Every file loaded as a table; CSV columns stay text, exactly as written."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for kind, path in files.by_kind().items():
        if kind == "events":
            source = f"read_json_auto('{path}', format='newline_delimited')"
        else:
            source = f"read_csv('{path}', all_varchar=true, header=true)"
        con.execute(f"CREATE TABLE {kind} AS SELECT * FROM {source}")
    return con


def _value(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def _column(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    return np.array([row[0] for row in con.execute(sql).fetchall()])


def _none(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """``sql`` counts rows breaking a rule: there must be none."""
    assert _value(con, sql) == 0, sql


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> DemoFiles:
    return generate_demo(tmp_path_factory.mktemp("demo"), customers=3000, seed=11)


@pytest.fixture(scope="module")
def db(small):
    con = _connect(small)
    yield con
    con.close()


@pytest.fixture(scope="module")
def large_db(tmp_path_factory):
    """20,000 customers: enough for standard errors of a few percent."""
    files = generate_demo(tmp_path_factory.mktemp("demo20k"), customers=20_000, seed=2024)
    con = _connect(files)
    yield con
    con.close()


def test_same_seed_gives_the_same_bytes(tmp_path):
    a = generate_demo(tmp_path / "a", customers=300, seed=5)
    b = generate_demo(tmp_path / "b", customers=300, seed=5)
    c = generate_demo(tmp_path / "c", customers=300, seed=6)
    for name in [*a.by_kind(), "truth", "params_file", "loyalty_ledger"]:
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    assert a.orders.read_bytes() != c.orders.read_bytes()


def test_files_have_the_documented_columns(small):
    assert small.reporting_currency == "EUR"
    for kind, columns in COLUMNS.items():
        header = small.by_kind()[kind].read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == columns
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
    truth = duckdb.sql(
        'SELECT count(*), count(DISTINCT customer_id), min("lambda") > 0, max(p) < 1, '
        f"min(nu) > 0, avg((theta IS NOT NULL)::INT) FROM '{small.truth}'"
    ).fetchall()
    assert truth[0][:5] == (3000, 3000, True, True, True)
    assert 0.15 < truth[0][5] < 0.25  # theta only for subscribers


def test_referential_integrity(db):
    for child, parent, key in [
        ("orders", "customers", "customer_id"),
        ("order_items", "orders", "order_id"),
        ("subscriptions", "customers", "customer_id"),
        ("support_tickets", "customers", "customer_id"),
        ("survey_responses", "customers", "customer_id"),
        ("events", "customers", "customer_id"),
        ("orders", "order_items", "order_id"),  # no order without lines
    ]:
        _none(db, f"SELECT count(*) FROM {child} ANTI JOIN {parent} USING ({key})")
    for kind, key in [
        ("customers", "customer_id"),
        ("orders", "order_id"),
        ("order_items", "(order_id, product_id)"),
        ("subscriptions", "subscription_id"),
        ("support_tickets", "ticket_id"),
        ("survey_responses", "response_id"),
        ("events", "event_id"),
    ]:
        _none(db, f"SELECT count(*) - count(DISTINCT {key}) FROM {kind}")


def test_items_add_up_to_amount_plus_discount(db):
    _none(
        db,
        """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, sum(quantity::INT * unit_price::DECIMAL(18, 2)) AS total,
                   count(*) AS lines, min(quantity::INT) AS qmin, max(quantity::INT) AS qmax,
                   min(unit_price::DECIMAL(18, 2)) AS pmin
            FROM order_items GROUP BY order_id) i USING (order_id)
        WHERE i.total <> o.amount::DECIMAL(18, 2) + o.discount::DECIMAL(18, 2)
           OR i.lines NOT BETWEEN 1 AND 4 OR i.qmin < 1 OR i.qmax > 3 OR i.pmin <= 0""",
    )
    # JPY has no minor unit; the other currencies have exactly two decimals
    _none(db, "SELECT count(*) FROM orders WHERE currency = 'JPY' AND amount LIKE '%.%'")
    _none(
        db,
        r"""SELECT count(*) FROM orders
            WHERE currency <> 'JPY' AND NOT regexp_full_match(amount, '\d+\.\d\d')""",
    )


def test_customers_are_consistent(db):
    # created_at is the first order's time, and every customer has an order
    _none(
        db,
        """
        SELECT count(*) FROM customers c LEFT JOIN (
            SELECT customer_id, min(placed_at::TIMESTAMP) AS first FROM orders GROUP BY 1) o
            USING (customer_id)
        WHERE o.first IS NULL OR o.first <> c.created_at::TIMESTAMP""",
    )
    _none(
        db,
        r"""SELECT count(*) FROM customers
            WHERE NOT regexp_full_match(created_at, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ')""",
    )
    # referrers were acquired strictly earlier; referred customers came by referral, and only they
    _none(
        db,
        """
        SELECT count(*) FROM customers c LEFT JOIN customers r ON r.customer_id = c.referred_by
        WHERE (c.referred_by IS NOT NULL) <> (c.acquisition_channel = 'referral')
           OR (c.referred_by IS NOT NULL AND (r.customer_id IS NULL
               OR r.created_at::TIMESTAMP >= c.created_at::TIMESTAMP))""",
    )
    assert 0.05 < _value(db, "SELECT avg((referred_by IS NOT NULL)::INT) FROM customers") < 0.11
    _none(db, "SELECT count(*) - count(DISTINCT email) FROM customers")
    _none(
        db,
        r"""SELECT count(*) FROM customers
            WHERE NOT regexp_full_match(email, '[a-z0-9._]+@example\.(com|net|org)')""",
    )
    assert 0.10 < _value(db, "SELECT avg((birthday IS NULL)::INT) FROM customers") < 0.20
    found = set(db.execute("SELECT DISTINCT country, currency, locale FROM customers").fetchall())
    assert {("DE", "EUR", "de-DE"), ("JP", "JPY", "ja-JP"), ("US", "USD", "en-US")} <= found
    currency = {"GB": "GBP", "US": "USD", "SE": "SEK", "JP": "JPY", "BR": "BRL"}
    assert all(cur == currency.get(country, "EUR") for country, cur, _ in found)
    # acquisitions run uniformly from start to the end of as_of: of 3,000
    # customers over 1,035 days, 3,000 x 60 / 1,035 = 174 in the last 60
    # days (binomial standard deviation 12.8)
    last_60 = _value(
        db, "SELECT count(*) FROM customers WHERE created_at::TIMESTAMP >= DATE '2026-09-01'"
    )
    assert abs(last_60 - 3000 * 60 / 1035) < 4 * math.sqrt(3000 * 60 / 1035 * (1 - 60 / 1035))
    assert _value(db, f"SELECT max(created_at::TIMESTAMP) < {END} FROM customers")


def test_orders_follow_the_rules(db):
    assert set(_column(db, "SELECT DISTINCT status FROM orders")) <= set(ORDER_STATUSES)
    _none(
        db,
        """SELECT count(*) FROM orders o JOIN customers c USING (customer_id)
           WHERE (o.status = 'cancelled' AND o.placed_at = c.created_at)
              OR o.currency <> c.currency""",
    )
    assert 0.85 < _value(db, "SELECT avg((status = 'completed')::INT) FROM orders") < 0.95
    assert 0.70 < _value(db, "SELECT avg((discount::DECIMAL(18,2) = 0)::INT) FROM orders") < 0.90
    assert _value(db, f"SELECT max(placed_at::TIMESTAMP) < {END} FROM orders")
    # one rate per currency per month, from the month before start to as_of
    rows = db.execute("SELECT currency, count(*), min(date), max(date) FROM fx_rates GROUP BY 1")
    rates = {r[0]: r[1:] for r in rows.fetchall()}
    assert set(rates) == {"GBP", "USD", "SEK", "JPY", "BRL"}
    assert set(rates.values()) == {(35, "2023-12-01", "2026-10-01")}


def test_activity_happens_between_acquisition_and_as_of(db):
    _none(
        db,
        f"""SELECT count(*) FROM subscriptions s JOIN customers c USING (customer_id)
            WHERE s.started_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR s.started_at::TIMESTAMP >= {END}
               OR s.ended_at::TIMESTAMP <= s.started_at::TIMESTAMP
               OR s.ended_at::TIMESTAMP >= {END}
               OR (s.ended_at IS NULL) <> (s.cancel_reason IS NULL)""",
    )
    _none(
        db,
        f"""SELECT count(*) FROM support_tickets t JOIN customers c USING (customer_id)
            WHERE t.opened_at::TIMESTAMP < c.created_at::TIMESTAMP
               OR t.opened_at::TIMESTAMP >= {END}
               OR t.first_response_at::TIMESTAMP < t.opened_at::TIMESTAMP
               OR t.resolved_at::TIMESTAMP < t.first_response_at::TIMESTAMP
               OR (t.resolved_at IS NOT NULL AND t.first_response_at IS NULL)
               OR t.satisfaction::INT NOT BETWEEN 1 AND 5""",
    )
    for kind, stamp in [("survey_responses", "answered_at"), ("events", "occurred_at")]:
        _none(
            db,
            f"""SELECT count(*) FROM {kind} x JOIN customers c USING (customer_id)
                WHERE x.{stamp}::TIMESTAMP < c.created_at::TIMESTAMP
                   OR x.{stamp}::TIMESTAMP >= {END}""",
        )
    for kind, (low, high) in SURVEY_RANGES.items():
        _none(
            db,
            f"""SELECT count(*) FROM survey_responses
                WHERE kind = '{kind}' AND score::INT NOT BETWEEN {low} AND {high}""",
        )
    n = 3000
    assert 0.15 < _value(db, "SELECT count(*) FROM subscriptions") / n < 0.25
    assert 0.20 < _value(db, "SELECT count(*) FROM support_tickets") / n < 0.40
    assert 2.50 < _value(db, "SELECT count(*) FROM events") / n < 3.50
    nps = _value(db, "SELECT count(*) FROM survey_responses WHERE kind = 'nps'")
    assert 0.25 < nps / n < 0.35
    names = set(_column(db, "SELECT DISTINCT name FROM events"))
    assert names == {"session_start", "product_view", "add_to_cart", "email_open", "app_open"}


def test_comments_are_in_the_customers_language(large_db):
    comments = set(_column(large_db, "SELECT DISTINCT comment FROM survey_responses"))
    assert {"Très bien !", "Lieferung kam zu spät.", "とても良い"} <= comments
    _none(
        large_db,
        """SELECT count(*) FROM survey_responses s JOIN customers c USING (customer_id)
           WHERE s.comment = 'とても良い' AND c.locale <> 'ja-JP'""",
    )
    # a positive comment never comes with a detractor's score
    _none(
        large_db,
        """SELECT count(*) FROM survey_responses
           WHERE kind = 'nps' AND comment = 'Très bien !' AND score::INT <= 6""",
    )


# --- the generating models ----------------------------------------------------


def hyp2f1(a: float, b: float, c: float, z: np.ndarray, terms: int = 4000) -> np.ndarray:
    """Gauss's hypergeometric series 2F1(a, b; c; z), summed term by term.

    Neither scipy nor mpmath is a dependency. For z <= 0.98 the terms shrink
    at least like z**k, so 4000 terms reach double precision.
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


def bgnbd_expected_purchases(t, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """E[X(t)], Fader, Hardie & Lee (2005), equation 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_repeat_purchases_match_the_bgnbd_expectation(large_db):
    # the purchases (completed or partially refunded orders) on days after
    # the first, up to as_of: x and T as the engine counts them
    rows = large_db.execute(f"""
        SELECT DATE '{AS_OF}' - min(placed_at::TIMESTAMP::DATE),
               count(DISTINCT placed_at::TIMESTAMP::DATE) - 1
        FROM orders WHERE status IN ('completed', 'partially_refunded') GROUP BY customer_id
    """).fetchall()
    T, x = np.array(rows, dtype=float).T
    assert len(x) == 20_000 and T.min() >= 0
    expected = bgnbd_expected_purchases(T, r=0.243, alpha=30.9, a=0.793, b=2.426).mean()
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert abs(x.mean() - expected) < 4 * se, (x.mean(), expected, se)


def test_the_truth_counts_the_repeat_purchase_days_the_engine_counts(small, db):
    """x of truth.parquet is each customer's purchase days after the first
    (the BTYD definition), counted here from the orders: refunded and
    cancelled orders are no purchases and take no purchase day."""
    counted = dict(
        db.execute("""
        SELECT customer_id, count(DISTINCT placed_at::TIMESTAMP::DATE) - 1 FROM orders
        WHERE status IN ('completed', 'partially_refunded') GROUP BY customer_id
    """).fetchall()
    )
    truth = pq.read_table(small.truth).to_pandas()
    assert len(counted) == len(truth) == 3000  # every customer has a purchase
    assert all(counted[c] == x for c, x in zip(truth["customer_id"], truth["x"], strict=True))
    # every customer's first order is a purchase, on the day they were acquired
    _none(
        db,
        """
        SELECT count(*) FROM customers c JOIN (
            SELECT customer_id, min(placed_at) AS first FROM orders
            WHERE status IN ('completed', 'partially_refunded') GROUP BY 1) o USING (customer_id)
        WHERE o.first <> c.created_at""",
    )


def test_order_values_match_the_gamma_gamma_mean(large_db):
    # each customer's first order (independent across customers), back in EUR at the
    # rate in force on its date
    values = _column(
        large_db,
        """
        WITH fx AS (
            SELECT currency, date::DATE AS day, rate::DOUBLE AS rate FROM fx_rates
            UNION ALL SELECT 'EUR', DATE '2000-01-01', 1.0),
        first AS (
            SELECT o.* FROM orders o JOIN customers c
              ON o.customer_id = c.customer_id AND o.placed_at = c.created_at)
        SELECT f.amount::DOUBLE * fx.rate FROM first f ASOF JOIN fx
          ON f.currency = fx.currency AND f.placed_at::TIMESTAMP::DATE >= fx.day""",
    )
    assert len(values) == 20_000
    p, q, g = 6.25, 3.74, 15.44
    mean = p * g / (q - 1)  # E[p / nu] with nu ~ Gamma(q, rate g)
    # Var z = E[Var(z | nu)] + Var(E[z | nu]) = p E[nu^-2] + p^2 Var(1 / nu)
    variance = p * g**2 / ((q - 1) * (q - 2)) + p**2 * g**2 / ((q - 1) ** 2 * (q - 2))
    se = math.sqrt(variance / len(values))
    assert abs(values.mean() - mean) < 4 * se, (values.mean(), mean, se)


def test_subscription_survival_matches_the_sbg_model(large_db):
    # Among subscriptions observed for a full month, the share that lasted beyond it.
    # A one-month lifetime ends within 31 days; a longer one after 59 days or more.
    survived = _column(
        large_db,
        f"""
        SELECT (ended_at IS NULL
                OR ended_at::TIMESTAMP - started_at::TIMESTAMP > INTERVAL 31 DAY)::INT
        FROM subscriptions WHERE started_at::TIMESTAMP <= {END} - INTERVAL 31 DAY""",
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
        ({"seed": -1}, "seed must be"),
        ({"start": date(2026, 11, 1)}, "must not be after as_of"),
    ],
)
def test_bad_arguments_say_what_to_change(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        generate_demo(tmp_path, **kwargs)
