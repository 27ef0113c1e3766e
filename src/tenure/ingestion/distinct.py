"""Checks of a single value evaluated where they cost least, with the same
outcome as the row-by-row expressions of :mod:`tenure.ingestion.coerce`.

Used by ingest (:func:`tenure.ingestion.validate.build_checked`,
:func:`tenure.ingestion.pipeline.classify`) and by a fit from a file
(:mod:`tenure.given_orders`), so that both read the rows alike:

- a status column holds a few distinct texts: each is read once, by
  :func:`tenure.ingestion.coerce.status`, and the rows are then mapped by
  equality on the text (:func:`statuses`, :func:`status_value`);
- so does a column of another type with few values (a currency code, a
  country, ...): each distinct text is read once, when every one is
  written as trim leaves it (:func:`texts`, :func:`lookup`);
- an identifier written plainly is kept as written (:func:`plain`);
- keys that repeat are found from their hashes first (:func:`repeated_hashes`):
  equal keys have equal hashes, and most files repeat none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenure.ingestion import coerce
from tenure.ingestion.identifiers import ID_MAX_CHARS
from tenure.sqltext import lit

# the distinct texts of a column above which they are read row by row
MAX_STATUS_TEXTS = 64
# the types whose value is a text read from the text alone, few in a column
LOOKED_UP = frozenset({"status", "currency", "survey_kind", "country", "timezone", "locale"})
# the most keys whose hashes are sorted in memory here rather than grouped
# in the engine (a sort of the numbers costs about half the grouping)
MAX_SORTED_KEYS = 20_000_000
# below this many, NumPy's import costs more than the sort saves: grouped in the engine
MIN_SORTED_KEYS = 200_000
# the most repeated hashes passed back to the engine as a list
MAX_LISTED_HASHES = 100_000
# an identifier as written is the one ingest keeps: printable ASCII at both
# ends (nothing for trim to take), no control character inside
PLAIN_ID = r"[!-~]([^\x00-\x1f\x7f-\x9f]*[!-~])?"


def statuses(
    con: Any, cell: str, table: str, *, blank: str | None = None
) -> dict[str, str | None] | None:
    """Each distinct non-NULL text of ``cell`` in ``table``, with the status
    that :func:`coerce.status` reads from its trimmed text (None when it
    refuses it; ``blank`` when nothing is left once trimmed); None when there
    are more than :data:`MAX_STATUS_TEXTS` texts."""
    few = _few(con, cell, table)
    if few is None:
        return None
    found = con.execute(
        f"SELECT t, {coerce.trimmed('t')} IS NULL, {coerce.status(coerce.trimmed('t')).value} "
        "FROM (SELECT unnest(?::VARCHAR[]) AS t)",
        [few],
    ).fetchall()
    return {t: blank if empty else s for t, empty, s in found}


def _few(con: Any, cell: str, table: str) -> list[str] | None:
    """The distinct non-NULL texts of ``cell`` in ``table``; None when there
    are more than :data:`MAX_STATUS_TEXTS`."""
    found = con.execute(
        f"SELECT DISTINCT {cell} FROM {table} WHERE {cell} IS NOT NULL LIMIT {MAX_STATUS_TEXTS + 1}"
    ).fetchall()
    return None if len(found) > MAX_STATUS_TEXTS else [t for (t,) in found]


def status_value(read: dict[str, str | None], cell: str) -> str:
    """SQL: the status of ``cell`` from the texts :func:`statuses` read
    (NULL where it read none)."""
    cases = " ".join(f"WHEN {lit(t)} THEN {lit(s)}" for t, s in read.items() if s)
    return f"CAST(CASE {cell} {cases} END AS VARCHAR)" if cases else "CAST(NULL AS VARCHAR)"


def texts(
    con: Any, cell: str, table: str, value: Callable[[str], str]
) -> dict[str, str | None] | None:
    """Each distinct non-NULL text of ``cell`` in ``table`` with its value,
    read by ``value`` (SQL of the text as a function of a cell); None when
    there are more than :data:`MAX_STATUS_TEXTS` texts or one is not written
    as :func:`coerce.trimmed` leaves it (the rows then read their own)."""
    few = _few(con, cell, table)
    if few is None:
        return None
    read = con.execute(
        f"SELECT t, {coerce.trimmed('t')} IS NOT DISTINCT FROM t, CAST({value('t')} AS VARCHAR) "
        "FROM (SELECT unnest(?::VARCHAR[]) AS t)",
        [few],
    ).fetchall()
    if not all(kept for _, kept, _ in read):
        return None
    return {t: v for t, _, v in read}


def lookup(read: dict[str, str | None], cell: str) -> str:
    """SQL: the value of ``cell`` from the texts :func:`texts` or
    :func:`statuses` read (NULL where they read none)."""
    return status_value(read, cell)


def plain_text(column: str) -> str:
    """SQL: ``column`` is printable ASCII at both ends (nothing for trim to
    take) and holds no control character; NULL when it is NULL."""
    return f"regexp_full_match({column}, {lit(PLAIN_ID)})"


def plain(column: str) -> str:
    """SQL: the identifier ``column`` is written plainly (printable ASCII at
    both ends, no control character, at most :data:`ID_MAX_CHARS`
    characters), so that ingest keeps it as it is."""
    return f"{plain_text(column)} AND strlen({column}) <= {ID_MAX_CHARS}"


def key_hash(key: str, *, narrow: bool = False) -> str:
    """SQL: the hash of ``key`` that :func:`repeated_hashes` lists; with
    ``narrow``, its upper 32 bits."""
    return f"CAST(hash({key}) >> 32 AS UINTEGER)" if narrow else f"hash({key})"


def repeated_hashes(
    con: Any,
    key: str,
    table: str,
    name: str,
    *,
    valid: str | None = None,
    sort: bool = True,
    narrow: bool = False,
) -> int | None:
    """A table ``name`` (``_h``) of the hashes of ``key`` (SQL over
    ``table``, hashed as :func:`key_hash` does) held by more than one row:
    every repeated key's, and those that two keys share by chance. Returns
    how many; with ``valid`` (SQL over ``table``, checked in the same pass),
    None and no table when a row is not valid. ``sort``: the hashes may be
    sorted here (cheaper for rows read from a file; rows already in a table
    group faster in the engine).

    ``narrow``: 32-bit hashes, for a caller that groups the rows of the
    hashes found by their key afterwards. Half the numbers to sort, for a
    few more shared by chance (10M keys: 0.41 CPU s against 0.86, and some
    12,000 hashes shared by chance, against none)."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] if sort else 0
    hashed = key_hash(key, narrow=narrow)
    number = "UINTEGER" if narrow else "UBIGINT"
    here = sort and MIN_SORTED_KEYS <= rows <= MAX_SORTED_KEYS
    found = None
    if valid is not None and not here:
        bad = f"SELECT count(*) FROM {table} WHERE NOT coalesce({valid}, false)"
        if con.execute(bad).fetchall()[0][0]:
            return None
    if here:
        import numpy as np

        ok = f", coalesce({valid}, false) AS ok" if valid is not None else ""
        read = con.execute(f"SELECT {hashed} AS h{ok} FROM {table}").fetchnumpy()
        if valid is not None and not read["ok"].all():
            return None
        hashes = np.asarray(read.pop("h"))
        del read
        hashes.sort()  # in place: no second copy of every hash
        found = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
        del hashes
    if found is not None and len(found) <= MAX_LISTED_HASHES:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT unnest(?::{number}[]) AS _h",
            [found.tolist()],
        )
        return len(found)
    # many keys, or many repeats: grouped in the engine
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {hashed} AS _h FROM {table} "
        "GROUP BY _h HAVING count(*) > 1"
    )
    return con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
