"""Identifiers and e-mail addresses as ingest reads them.

- An identifier (``customer_id``, ``order_id``, ...) is kept as written,
  trimmed, but refused when it holds a control character (U+0000-U+001F,
  U+007F-U+009F: NUL, tab, line breaks, ...) or is longer than
  :data:`ID_MAX_CHARS` characters.
- An e-mail address is NFKC-normalised (a full-width ``ａｄａ＠example.com``
  is ``ada@example.com``), then lower-cased, then checked for its shape; one
  holding a control character is refused first, with that reason.

DuckDB has no NFKC function, so the normal forms are computed in Python, once
per distinct address that is not plain ASCII (plain ASCII is its own normal
form), and joined back by value: never a Python loop over every row.
"""

from __future__ import annotations

import unicodedata

import duckdb

from tenure.sqltext import lit

ID_MAX_CHARS = 256
# Unicode's control characters (category Cc): C0, DEL and C1
CONTROL = r"[\x00-\x1f\x7f-\x9f]"
# a value made only of other characters: tested whole, it costs about an
# eighth less than searching for a control character (10M identifiers: 0.69
# against 0.79 CPU s), and says the same of every value
NO_CONTROL = r"[^\x00-\x1f\x7f-\x9f]*"
NOT_ASCII = r"[^\x00-\x7f]"
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def has_control(v: str) -> str:
    return f"NOT regexp_full_match({v}, {lit(NO_CONTROL)})"


def control_reason(v: str) -> str:
    """SQL: which control character, and where, for a value that holds one."""
    found = f"regexp_extract({v}, {lit(CONTROL)})"
    return (
        f"'holds a control character (U+' || printf('%04X', unicode({found})) || "
        f"' at character ' || instr({v}, {found}) || '); remove it'"
    )


def identifier(v: str) -> tuple[str, str]:
    """SQL for an identifier's value (NULL when refused) and the reason."""
    # a value of at most ID_MAX_CHARS bytes has at most that many characters,
    # and strlen needs no pass over the text
    short = f"(strlen({v}) <= {ID_MAX_CHARS} OR length({v}) <= {ID_MAX_CHARS})"
    value = f"CASE WHEN {short} AND NOT {has_control(v)} THEN {v} END"
    reason = (
        f"CASE WHEN {has_control(v)} THEN {control_reason(v)} "
        f"ELSE 'is ' || length({v}) || ' characters long; an identifier has at most "
        f"{ID_MAX_CHARS}' END"
    )
    return value, reason


def email(v: str, normal_form: str | None = None) -> tuple[str, str]:
    """SQL for an e-mail address's value and the reason it is refused;
    ``normal_form`` is the SQL of its NFKC form when that may differ from ``v``
    (see :func:`install_normal_forms`)."""
    low = f"lower({normal_form or v})"
    value = (
        f"CASE WHEN NOT {has_control(v)} AND regexp_matches({low}, {lit(EMAIL_SHAPE)}) "
        f"THEN {low} END"
    )
    reason = (
        f"CASE WHEN {has_control(v)} THEN {control_reason(v)} ELSE 'is not an e-mail address' END"
    )
    return value, reason


def install_normal_forms(con: duckdb.DuckDBPyConnection, v: str, name: str) -> str | None:
    """A table ``name`` (``text``, ``nfkc``) of the values of ``v`` in the
    ``texts`` view that NFKC changes, one row per distinct value; None when
    there is none."""
    distinct = con.execute(
        f"SELECT DISTINCT {v} FROM texts WHERE regexp_matches({v}, {lit(NOT_ASCII)})"
    ).fetchall()
    changed = [(s, n) for (s,) in distinct if (n := unicodedata.normalize("NFKC", s)) != s]
    if not changed:
        return None
    texts, forms = (list(c) for c in zip(*changed, strict=True))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS "
        "SELECT unnest(?::VARCHAR[]) AS text, unnest(?::VARCHAR[]) AS nfkc",
        [texts, forms],
    )
    return name
