"""Deleted rows are reclaimed once they are a tenth of a table, not at the
first commit whose deletions let row groups merge (tenure.store.analytics)."""

from __future__ import annotations

import duckdb

from tenure.store import analytics

GROUP = 122_880  # DuckDB's rows per row group
ROWS = 2 * GROUP + 343  # a table written whole: its last row group part full


def _layout(path) -> tuple[int, int, list[int]]:
    """Rows stored (deleted ones included), rows live, rows per row group."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute(
            "SELECT estimated_size FROM duckdb_tables() WHERE table_name = 't'"
        ).fetchall()[0][0]
        live = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        groups = con.execute(
            "SELECT max(count) FROM pragma_storage_info('t') WHERE column_id = 0 "
            "GROUP BY row_group_id ORDER BY row_group_id"
        ).fetchall()
    finally:
        con.close()
    return stored, live, [g for (g,) in groups]


def _replace(path, where: str) -> int:
    """Replace the rows ``where`` by new ones, as an ingest replaces the
    summary rows of the customers it touched; how many."""
    with analytics.committing(path) as con:
        con.execute("BEGIN")
        con.execute(f"CREATE TEMP TABLE r AS SELECT * FROM t WHERE {where}")
        con.execute("DELETE FROM t WHERE i IN (SELECT i FROM r)")
        con.execute("INSERT INTO t SELECT i + 1e9, x FROM r")
        con.execute("COMMIT")
        return con.execute("SELECT count(*) FROM r").fetchall()[0][0]


def test_small_deletions_wait_for_a_tenth_then_are_reclaimed(tmp_path):
    path = tmp_path / "analytics.duckdb"
    with analytics.committing(path) as con:
        con.execute(f"CREATE TABLE t AS SELECT range AS i, random() AS x FROM range({ROWS})")
    assert _layout(path) == (ROWS, ROWS, [GROUP, GROUP, 343])

    # 1 row in 100 replaced: the first two row groups and the last would
    # now fit in two, which DuckDB's checkpoint merges them into, rewriting
    # the table; they are left as they are, the new rows in a row group of
    # their own
    n = _replace(path, "i % 100 = 0")
    assert n == (ROWS + 99) // 100
    assert _layout(path) == (ROWS + n, ROWS, [GROUP, GROUP, 343, n])

    # deleted rows past a tenth of the rows stored: the checkpoint merges row groups
    m = _replace(path, "i % 100 <> 0 AND i % 10 IN (1, 2)")
    stored, live, groups = _layout(path)
    assert live == ROWS and n + m > (ROWS + n + m) // 10
    assert stored < ROWS + n + m and len(groups) < 5


def test_a_database_attached_beside_the_store_is_left_out(tmp_path):
    """An ingest commits with its staged rows attached; their tables are
    not the store's, and their deleted rows do not count."""
    path = tmp_path / "analytics.duckdb"
    with analytics.committing(path) as con:
        con.execute(f"CREATE TABLE t AS SELECT range AS i, random() AS x FROM range({ROWS})")
    staged = duckdb.connect(str(tmp_path / "staged.duckdb"))
    staged.execute("CREATE TABLE merged AS SELECT range AS i FROM range(1000)")
    staged.execute("DELETE FROM merged WHERE i < 900")  # 90% of it deleted
    staged.close()
    with analytics.committing(path) as con:
        con.execute(f"ATTACH '{tmp_path / 'staged.duckdb'}' AS staged (READ_ONLY)")
        con.execute("BEGIN")
        con.execute("CREATE TEMP TABLE r AS SELECT * FROM t WHERE i % 100 = 0")
        con.execute("DELETE FROM t WHERE i IN (SELECT i FROM r)")
        con.execute("INSERT INTO t SELECT i + 1e9, x FROM r")
        con.execute("COMMIT")
        n = con.execute("SELECT count(*) FROM r").fetchall()[0][0]
    assert _layout(path) == (ROWS + n, ROWS, [GROUP, GROUP, 343, n])
