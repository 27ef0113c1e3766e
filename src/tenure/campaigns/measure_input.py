"""The assignments file of a campaign another tool sent: who was in which
group, and since when.

Columns (names matched without regard to case, with common aliases):
``customer_id``, ``group`` (``treatment``/``control`` or named arms) and
``assigned_at`` (a date or an ISO 8601 time; with an offset it is converted
to UTC, without one it is UTC). Rows are checked in DuckDB, never one by one
in Python. Every row read is used, a duplicate, or rejected with its reason
into a quarantine file (``<store>/quarantine/``) as ingest does: an empty
field, a date that is not one, a customer the store does not know, a
customer in two groups.

The store knows a customer from its customers table, which ingesting
orders fills with the customers who ordered. Ingest the customers file too
(``tenure ingest customers``): a customer who never ordered is otherwise
unknown, and dropping those would favour the arm that made more of its
customers order. Problems with the file as a whole (a missing
column, one group only, no control group) are errors that say what to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import ColumnNotFoundError, InputError
from tenure.ingestion import quarantine, readers
from tenure.sqltext import q

# field -> names it is found under in a file (lower case)
ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customer", "customer id", "customerid", "client_id",
                    "user_id", "userid", "distinct_id", "id"),
    "group": ("group", "arm", "variant", "variation", "treatment_group", "cell", "bucket"),
    "assigned_at": ("assigned_at", "assigned", "assignment_date", "assigned_on", "date",
                    "sent_at", "timestamp", "time", "exposed_at"),
}  # fmt: skip
# the group a holdout goes by when --control is not given
CONTROL_NAMES = ("control", "holdout", "control group")
KIND = "campaign-assignments"


@dataclass
class Assignments:
    """What was read: the counts, the arms' sizes, the control's name, and
    the quarantine file of rejected rows (None when none was rejected)."""

    source: str
    read: int
    used: int
    duplicates: int
    rejected: int
    arms: dict[str, int]
    control: str
    quarantine: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    first_errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.source, "rows": self.read, "used": self.used,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "quarantine": self.quarantine, "reasons": self.reasons,
                "first_errors": self.first_errors}  # fmt: skip


def _map_columns(columns: list[str], source: str) -> dict[str, str]:
    """field -> the file's column holding it."""
    lowered = {c.strip().lower(): c for c in columns}
    found: dict[str, str] = {}
    for name, aliases in ALIASES.items():
        hit = next((lowered[a] for a in aliases if a in lowered), None)
        if hit is None:
            close = difflib.get_close_matches(name, list(lowered), n=1, cutoff=0.5)
            maybe = f" The closest is '{lowered[close[0]]}'." if close else ""
            raise ColumnNotFoundError(
                f"no column '{name}' (columns found: {', '.join(columns) or 'none'}).{maybe}",
                hint="The file needs customer_id, group and assigned_at columns; rename the "
                f"column, e.g. to '{name}'.",
                source=source,
                column=name,
                expected=name,
            )
        found[name] = hit
    return found


def load(con: duckdb.DuckDBPyConnection, path: Path, *, control: str | None,
         quarantine_dir: Path) -> Assignments:  # fmt: skip
    """Read and check ``path`` into the temp table ``_assigned(customer_id,
    arm, assigned_at)`` of ``con`` (a connection to
    its store, read-only)."""
    src = readers.read_file(con, Path(path))
    cols = _map_columns(src.columns, src.name)
    cid, grp, at = (q(cols[f]) for f in ("customer_id", "group", "assigned_at"))
    text = "nullif(trim(CAST({} AS VARCHAR)), '')"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        SELECT _line, {text.format(cid)} AS customer_id, {text.format(grp)} AS arm,
               {text.format(at)} AS at_text,
               CAST(try_cast({text.format(at)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)
                 AS assigned_at
        FROM raw""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _known AS
        SELECT DISTINCT customer_id FROM customers
        WHERE customer_id IN (SELECT customer_id FROM _rows)""")
    # the first check a row fails: its field, value and reason
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _checked AS
        WITH r AS (
          SELECT r.*, k.customer_id IS NOT NULL AS known FROM _rows r
          LEFT JOIN _known k USING (customer_id)),
        groups AS (
          SELECT customer_id, string_agg(DISTINCT arm, ', ' ORDER BY arm) AS arms,
                 count(DISTINCT arm) AS n_arms
          FROM r WHERE customer_id IS NOT NULL AND arm IS NOT NULL
            AND assigned_at IS NOT NULL AND known
          GROUP BY customer_id)
        SELECT r.*, CASE
            WHEN r.customer_id IS NULL THEN 'customer_id'
            WHEN r.arm IS NULL THEN 'group'
            WHEN r.at_text IS NULL OR r.assigned_at IS NULL THEN 'assigned_at'
            WHEN NOT r.known THEN 'customer_id'
            WHEN g.n_arms > 1 THEN 'group' END AS _err_field,
          CASE
            WHEN r.customer_id IS NULL THEN NULL
            WHEN r.arm IS NULL THEN NULL
            WHEN r.at_text IS NULL THEN NULL
            WHEN r.assigned_at IS NULL THEN r.at_text
            WHEN NOT r.known THEN r.customer_id
            WHEN g.n_arms > 1 THEN r.arm END AS _err_value,
          CASE
            WHEN r.customer_id IS NULL THEN
              'is empty: every row needs the customer''s id.'
            WHEN r.arm IS NULL THEN
              'is empty: every row needs its group (treatment, control or an arm''s name).'
            WHEN r.at_text IS NULL THEN
              'is empty: every row needs the time the customer was assigned.'
            WHEN r.assigned_at IS NULL THEN
              'is not a date or time. Use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (ISO 8601).'
            WHEN NOT r.known THEN
              'is not a customer in the store: check the id, or ingest their orders first.'
            WHEN g.n_arms > 1 THEN
              'puts the customer in more than one group (' || g.arms
              || '): a customer belongs to one arm only.'
          END AS _err_reason
        FROM r LEFT JOIN groups g USING (customer_id)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _assigned AS
        SELECT customer_id, arg_min(arm, (assigned_at, _line)) AS arm,
               min(assigned_at) AS assigned_at, count(*) AS rows
        FROM _checked WHERE _err_field IS NULL GROUP BY customer_id""")
    con.execute("CREATE OR REPLACE TEMP TABLE rejected_rows AS "
                "SELECT * FROM _checked WHERE _err_field IS NOT NULL")  # fmt: skip
    rejected = _count(con, "SELECT count(*) FROM rejected_rows") + src.broken
    used = _count(con, "SELECT count(*) FROM _assigned")
    duplicates = _count(con, "SELECT coalesce(sum(rows - 1), 0) FROM _assigned")
    arms = dict(con.execute(
        "SELECT arm, count(*) FROM _assigned GROUP BY arm ORDER BY arm").fetchall())  # fmt: skip
    result = Assignments(src.name, src.read, used, duplicates, rejected,
                         {a: int(n) for a, n in arms.items()}, control or "")  # fmt: skip
    if rejected:
        labels = {f: cols[f] for f in ("customer_id", "group", "assigned_at")}
        pending = quarantine.write(con, quarantine_dir, 0, KIND, src.name, src.columns, labels)
        pending.publish()
        result.quarantine = str(pending.final.resolve())
        result.first_errors, result.reasons = quarantine.summary(con)
    if not used:
        raise InputError(
            f"no usable row among the {src.read:,} read.",
            hint=_reasons_hint(result),
            source=src.name,
            code="no_usable_rows",
        )
    result.control = _control(result, control)
    return result


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def _reasons_hint(result: Assignments) -> str:
    lines = [quarantine.describe(result.source, e) for e in result.first_errors]
    if result.quarantine:
        lines.append(f"All rejected rows: {result.quarantine}")
    return "\n".join(lines) or "Check the file's rows."


def _control(result: Assignments, control: str | None) -> str:
    """The control group's name, checked: it is there, and there is an arm
    beside it."""
    names = list(result.arms)
    listed = ", ".join(f"'{a}' ({n:,})" for a, n in result.arms.items())
    if control is not None:
        if control not in result.arms:
            raise InputError(
                f"no group {control!r} in the file (groups found: {listed}).",
                hint="Pass --control with the holdout's group as the file writes it.",
                source=result.source, column="group", value=control, code="no_control_arm",
            )  # fmt: skip
        chosen = control
    else:
        by_name = {a.lower(): a for a in names}
        chosen = next((by_name[c] for c in CONTROL_NAMES if c in by_name), "")
        if not chosen:
            raise InputError(
                f"no control group in the file (groups found: {listed}).",
                hint="Name the holdout's group 'control' in the file, or pass --control NAME.",
                source=result.source, column="group", code="no_control_arm",
            )  # fmt: skip
    if len(names) < 2:
        raise InputError(
            f"only one group, {listed}: a lift compares an arm with a control group.",
            hint="Add both groups' customers to the file: the ones messaged and the holdout.",
            source=result.source, column="group", value=names[0], code="one_arm_only",
        )  # fmt: skip
    return chosen
