"""Fuzzing the readers with messy rows: no crash, and every row accounted for."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure.config import load_settings
from tenure.errors import TenureError
from tenure.ingestion.pipeline import ingest
from tenure.store.workspace import Workspace
from tests.conftest import query

HEADER = ["order_id", "customer_id", "placed_at", "amount", "currency"]

ids = st.one_of(
    st.text("ABC123", min_size=1, max_size=3),
    st.just(""),
    # no NUL, and no bare carriage return: the test's writer ends lines with
    # "\n" and so leaves a lone "\r" unquoted, and in a CSV file that is a
    # line break (Python's csv module and DuckDB both read it so)
    st.text(min_size=1, max_size=5).filter(lambda s: "\x00" not in s and "\r" not in s),
)
dates = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.sampled_from(
        [
            "2024-02-30",
            "2023-13-01",
            "yesterday",
            "",
            "0000-00-00",
            "31/02/2024",
            "2024-01-01T10:00:00+25:00",
        ]
    ),
)
amounts = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    st.sampled_from(["", "abc", "-5", "1,5", "1e400", "NaN", "12.5.3", "€"]),
)
currencies = st.sampled_from(["", "EUR", "eur", "XXX1", "GBP"])
rows = st.lists(st.tuples(ids, ids, dates, amounts, currencies), max_size=25)
extras = st.lists(st.integers(-2, 2), max_size=25)  # fields removed or added per row

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


_STORE = Path(tempfile.mkdtemp(prefix="tenure-fuzz-")) / "store"
_WS: list[Workspace] = []


def _workspace() -> Workspace:
    """One store for all examples (each example writes its own ids): opening
    a fresh store per example would dominate the run time."""
    if not _WS:
        _WS.append(Workspace.open(load_settings(store=_STORE)))
    return _WS[0]


def _ingest(kind: str, path: Path, store: Path | None = None):
    ws = _workspace()
    store = ws.settings.store
    before = query(store, f"SELECT count(*) FROM {kind}")[0][0]
    try:
        result = ingest(kind, path, workspace=ws)
    except TenureError as exc:  # a clean, explained refusal is an allowed outcome
        assert exc.render()
        assert query(store, f"SELECT count(*) FROM {kind}")[0][0] == before
        return None
    assert result.read == result.accepted + result.rejected + result.duplicates
    assert result.inserted + result.updated + result.unchanged == result.accepted
    stored = query(store, f"SELECT count(*) FROM {kind}")[0][0]
    assert stored == before + result.inserted
    if result.rejected:
        with open(result.quarantine, newline="", encoding="utf-8") as fh:
            assert sum(1 for _ in csv.DictReader(fh)) == result.rejected
    return result


@FUZZ
@given(
    rows=rows,
    extras=extras,
    encoding=st.sampled_from(["utf-8", "latin-1", "mixed"]),
    delimiter=st.sampled_from([",", ";"]),
)
def test_csv_rows_are_all_accounted_for(rows, extras, encoding, delimiter):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(HEADER)
    for i, row in enumerate(rows):
        fields = list(row)
        change = extras[i] if i < len(extras) else 0
        fields = fields[: len(fields) + change] if change < 0 else fields + ["x"] * change
        writer.writerow(fields)
    text = buf.getvalue()
    if encoding == "mixed":
        lines = text.splitlines(keepends=True)
        data = b"".join(
            line.encode("latin-1", "replace") if i % 2 else line.encode()
            for i, line in enumerate(lines)
        )
    else:
        data = text.encode(encoding, "replace")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_bytes(data)
        result = _ingest("orders", path)
        if result is not None:
            assert result.read == len(rows)


@FUZZ
@given(
    rows=rows, junk=st.lists(st.sampled_from(["{", "[1, 2]", "null", '"text"', "{}"]), max_size=5)
)
def test_json_lines_are_all_accounted_for(rows, junk):
    lines = [json.dumps(dict(zip(HEADER, row, strict=True))) for row in rows] + junk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = _ingest("orders", path)
        if result is not None:
            assert result.read == len(lines)


@FUZZ
@given(rows=rows, typed=st.booleans())
def test_parquet_rows_are_all_accounted_for(rows, typed):
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in HEADER]
    data = {
        name: pa.array([v or None for v in col], type=pa.string())
        for name, col in zip(HEADER, columns, strict=True)
    }
    if typed:  # real types as a warehouse export would have them
        data["amount"] = pa.array([float(i) * 1.5 for i in range(len(rows))], type=pa.float64())
        data["placed_at"] = pa.array(
            [datetime(2024, 1, 1) + timedelta(hours=i) for i in range(len(rows))]
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.parquet"
        pq.write_table(pa.table(data), path)
        result = _ingest("orders", path)
        if result is not None:
            assert result.read == len(rows)


clean_rows = st.lists(
    st.tuples(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 12, 31)).map(
            lambda d: d.replace(microsecond=0)
        ),
        st.decimals(min_value=0, max_value=10**9, places=4),
    ),
    min_size=1,
    max_size=30,
)


@FUZZ
@given(rows=clean_rows, fmt=st.sampled_from(["csv", "parquet", "jsonl"]))
def test_valid_orders_round_trip_exactly(rows, fmt):
    import uuid

    prefix = uuid.uuid4().hex[:8]
    ids = [f"{prefix}-{i}" for i in range(len(rows))]
    table = pa.table(
        {
            "order_id": ids,
            "customer_id": [f"C{i % 3}" for i in range(len(rows))],
            "placed_at": [d.isoformat(sep=" ") for d, _ in rows],
            "amount": [str(a) for _, a in rows],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"orders.{fmt}"
        if fmt == "csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, path)
        elif fmt == "parquet":
            pq.write_table(table, path)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
        result = _ingest("orders", path)
        assert result is not None and result.inserted == len(rows)
        got = query(
            _STORE,
            f"SELECT order_id, placed_at, amount FROM orders WHERE _ingest_id = {result.ingest_id}",
        )
    expected = {
        i: (d, Decimal(a).quantize(Decimal("0.0001"))) for i, (d, a) in zip(ids, rows, strict=True)
    }
    assert {i: (d, a) for i, d, a in got} == expected


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text(",".join(HEADER) + "\n")
    assert _ingest("orders", tmp_path / "empty.csv") is None
    r = _ingest("orders", tmp_path / "header.csv")
    assert r is not None and r.read == 0


@FUZZ
@given(rows=rows)
def test_database_rows_are_all_accounted_for(rows):
    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'src.db'}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE orders (order_id TEXT, customer_id TEXT, "
                    "placed_at TEXT, amount TEXT, currency TEXT)"
                )
            )
            if rows:
                conn.execute(
                    sa.text("INSERT INTO orders VALUES (:a, :b, :c, :d, :e)"),
                    [dict(zip("abcde", row, strict=True)) for row in rows],
                )
        engine.dispose()
        ws = _workspace()
        before = query(_STORE, "SELECT count(*) FROM orders")[0][0]
        try:
            result = ingest("orders", url, workspace=ws, table="orders")
        except TenureError as exc:
            assert exc.render()
            return
        assert result.read == len(rows)
        assert result.read == result.accepted + result.rejected + result.duplicates
        assert query(_STORE, "SELECT count(*) FROM orders")[0][0] == before + result.inserted
