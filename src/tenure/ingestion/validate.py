"""Validation: from the ``raw`` temp table to ``checked``, every row typed and
either clean or carrying the first reason it cannot be used.

``checked`` has ``_line``, the kind's fields (typed), the reporting-currency
amounts for kinds with money, and ``_err_column`` / ``_err_value`` /
``_err_reason``. Everything runs as DuckDB SQL over the whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from tenure.datamodel import SURVEY_RANGES, Kind
from tenure.errors import InputError
from tenure.ingestion import coerce, distinct, identifiers
from tenure.ingestion.mapping import Mapping
from tenure.sqltext import lit, q
from tenure.store.analytics import scalar

MISSING = "'is missing (a value is required)'"


@dataclass
class Plan:
    """What validation decided about the columns, for the result and messages."""

    mapped: dict[str, str]  # field -> source column or "sql: ..."
    date_groups: dict[str, str] = field(default_factory=dict)
    decimal_comma: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """A rule across fields: when ``fails`` is true the row is rejected."""

    column: str  # the field the message points at
    fails: str
    reason: str


def checks(kind: Kind, mapped: set[str]) -> list[Check]:
    out: list[Check] = []
    now = "(now() AT TIME ZONE 'UTC' + INTERVAL 2 DAY)"
    for f in kind.fields:
        if f.name in mapped and f.type == "timestamp":
            out.append(
                Check(
                    f.name,
                    f"{q(f.name)} > {now}",
                    "'is in the future; check the date or its time zone'",
                )
            )
            out.append(
                Check(
                    f.name,
                    f"{q(f.name)} < TIMESTAMP '1900-01-01'",
                    "'is before 1900; check the date'",
                )
            )
    nonneg = {
        "orders": ["amount", "discount"],
        "order_items": ["unit_price"],
        "subscriptions": ["mrr"],
    }.get(kind.name, [])
    for name in nonneg:
        hint = "; record refunds with status refunded" if name == "amount" else ""
        out.append(Check(name, f"{q(name)} < 0", lit(f"is negative{hint}")))
    if kind.name == "order_items":
        out.append(Check("quantity", "quantity < 1", "'must be 1 or more'"))
    if kind.name == "fx_rates":
        out.append(Check("rate", "rate <= 0", "'must be above 0'"))
    if kind.name == "subscriptions":
        out.append(Check("ended_at", "ended_at < started_at", "'is before started_at'"))
    if kind.name == "support_tickets":
        for name in ("first_response_at", "resolved_at"):
            out.append(Check(name, f"{name} < opened_at", "'is before opened_at'"))
        out.append(Check("satisfaction", "satisfaction NOT BETWEEN 1 AND 5", "'is outside 1-5'"))
    if kind.name == "survey_responses":
        cases = " ".join(
            f"WHEN kind = {lit(k)} THEN score NOT BETWEEN {lo} AND {hi} OR score <> round(score)"
            for k, (lo, hi) in SURVEY_RANGES.items()
        )
        ranges = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in SURVEY_RANGES.items())
        out.append(
            Check(
                "score",
                f"CASE {cases} END",
                lit(f"is outside the scale of its kind ({ranges}, whole numbers)"),
            )
        )
    if kind.name == "customers":
        out.append(Check("referred_by", "referred_by = customer_id", "'refers to itself'"))
    return [c for c in out if c.column in mapped]


def derived_order_id() -> str:
    """SQL over ``typed``: each row's stable order id, a hash of its customer,
    time, amount and currency, and of its occurrence among rows alike (two
    identical rows of a transaction log are two orders, counted in file order).
    The same file ingested again yields the same ids, so it changes nothing."""
    alike = "customer_id, placed_at, amount, currency"
    return (
        "'h' || substr(md5(concat_ws('|', customer_id, "
        "strftime(placed_at, '%Y-%m-%dT%H:%M:%S.%f'), CAST(amount AS VARCHAR), currency, "
        f"CAST(row_number() OVER (PARTITION BY {alike} ORDER BY _line) AS VARCHAR))), 1, 20)"
    )


def build_checked(
    con: duckdb.DuckDBPyConnection,
    kind: Kind,
    mapping: Mapping,
    columns: list[str],
    *,
    source: str,
    tz: str,
    date_format: str | None,
    date_order: str,
    default_currency: str,
    reporting_currency: str,
) -> Plan:
    fields = [f for f in kind.fields if f.name in mapping.columns or f.name in mapping.sql]
    plan = Plan(
        {f.name: mapping.columns.get(f.name) or f"sql: {mapping.sql[f.name]}" for f in fields}
    )
    used = set(mapping.columns.values()) | {
        c for c in columns if any(q(c) in expr for expr in mapping.sql.values())
    }
    extra = [c for c in columns if c not in used]
    if kind.collect_extra and "attributes" not in plan.mapped and extra:
        plan.extra_columns = extra
    else:
        plan.ignored_columns = extra
    coerce.install_lookups(con, {f.type for f in fields})

    # 1. the raw text of each field, or its value where the source typed it
    # already and the field reads that type as it is (coerce.parse_typed)
    types = {row[0]: row[1] for row in con.execute("DESCRIBE raw").fetchall()}
    # mapping expressions were written for the columns' text: the columns
    # they may name are read as text, by them and by the fields they map
    read_as = {
        c: "VARCHAR" if _named(c, mapping.sql.values()) else types.get(c, "VARCHAR")
        for c in columns
    }
    typed_cells: dict[str, str] = {}  # field -> the type of its source column
    # field -> its value per distinct text, for a text column of few values
    # each written as trim leaves it: read once per text, not per row
    lookups: dict[str, dict[str, str | None]] = {}
    plain_ids: dict[str, str] = {}  # field -> its column saying it is written plainly
    marks: list[str] = []
    texts = []
    for f in fields:
        if f.name in mapping.columns:
            col = mapping.columns[f.name]
            if coerce.typed_cell(f, read_as[col], date_format):
                typed_cells[f.name] = read_as[col]
                cell = q(col)
            elif (
                f.type in distinct.LOOKED_UP
                and types.get(col, "VARCHAR") == "VARCHAR"
                and (read := distinct.texts(con, q(col), "raw", _reader(f))) is not None
            ):
                lookups[f.name] = read
                cell = q(col)
            elif f.type == "id":
                # one test says both that trim would keep the text and that
                # it holds no control character: most identifiers pass it
                # and are kept as written (see distinct.plain)
                text = _as_text(col, read_as[col])
                plain_ids[f.name] = q("_plain_" + f.name)
                marks.append(f"{distinct.plain_text(text)} AS {plain_ids[f.name]}")
                cell = (
                    f"CASE WHEN {plain_ids[f.name]} THEN {text} ELSE nullif(trim({text}), '') END"
                )
            else:
                cell = coerce.trimmed(_as_text(col, read_as[col]))
        else:
            cell = f"nullif(trim(CAST(({mapping.sql[f.name]}) AS VARCHAR)), '')"
        texts.append(f"{cell} AS {q('v_' + f.name)}")
    if plan.extra_columns:
        pairs = ", ".join(
            f"{lit(c)}, nullif(trim({_as_text(c, read_as[c])}), '')" for c in plan.extra_columns
        )
        texts.append(f"CAST(json_object({pairs}) AS VARCHAR) AS v_attributes")
    # the columns that mapping expressions name, as the text they were read as
    named = [c for c in columns if read_as[c] != types.get(c, "VARCHAR")]
    rows = (
        "(SELECT * REPLACE ("
        + ", ".join(f"CAST({q(c)} AS VARCHAR) AS {q(c)}" for c in named)
        + ") FROM raw)"
        if named
        else "raw"
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP VIEW texts AS SELECT _line, "
            + ", ".join(texts + list(plain_ids.values()))
            + (f" FROM (SELECT *, {', '.join(marks)} FROM {rows})" if marks else f" FROM {rows}")
        )
    except duckdb.Error as exc:
        bad = [f"{f}: {e}" for f, e in mapping.sql.items()]
        raise InputError(
            f"a mapping expression cannot run on this file: {str(exc).splitlines()[0]}",
            hint="Expressions: " + "; ".join(bad) + ". Check the columns they name.",
            source=source,
        ) from None
    if plan.extra_columns:
        fields = [*fields, kind.field("attributes")]
        plan.mapped["attributes"] = "columns: " + ", ".join(plan.extra_columns)

    # 2. formats decided per column from a sample
    for f in fields:
        v = q("v_" + f.name)
        if f.name in typed_cells:  # ISO dates, decimal points: see coerce.parse_typed
            continue
        if f.type in ("timestamp", "date") and not date_format:
            group, warning = coerce.detect_date_group(con, v, date_order, table="texts")
            plan.date_groups[f.name] = group
            if warning:
                plan.warnings.append(f"{source}, column '{plan.mapped[f.name]}': {warning}")
        if f.type in ("amount", "rate"):
            comma = coerce.detect_decimal_comma(con, v, table="texts")
            plan.decimal_comma[f.name] = comma
            warning = coerce.ambiguous_thousands(con, v, comma, table="texts")
            if warning and comma:
                plan.warnings.append(f"{source}, column '{plan.mapped[f.name]}': {warning}")

    # NFKC forms of the e-mail addresses that are not plain ASCII (few, if any)
    # joined by value as a column n_<field> beside the text as written
    views = ["texts"]
    normal_forms = {
        f.name: table
        for f in fields
        if f.type == "email"
        and (table := identifiers.install_normal_forms(con, q("v_" + f.name), f"_nfkc_{f.name}"))
    }
    if normal_forms:
        con.execute("DROP VIEW IF EXISTS texts_read")  # left by a run that failed
        con.execute("ALTER VIEW texts RENAME TO texts_read")
        views.insert(0, "texts_read")
        forms = ", ".join(
            f"coalesce({t}.nfkc, r.{q('v_' + name)}) AS {q('n_' + name)}"
            for name, t in normal_forms.items()
        )
        joins = " ".join(
            f"LEFT JOIN {t} ON {t}.text = r.{q('v_' + name)}" for name, t in normal_forms.items()
        )
        con.execute(f"CREATE TEMP VIEW texts AS SELECT r.*, {forms} FROM texts_read r {joins}")

    # 3. typed values and the first reason per row
    # (a column of few texts is read once per text: see ingestion.distinct)
    # parse errors come first, then missing values, then rules across fields,
    # so that a row whose first reason is "missing" has no unreadable value
    typed: dict[str, str] = {}  # field -> SQL of its typed value
    conds, missing = [], []
    for f in fields:
        v = q("v_" + f.name)
        parsed = (
            coerce.parse_typed(f, v, typed_cells[f.name], tz=lit(tz))
            if (f.name in typed_cells)
            else coerce.Parsed(distinct.lookup(lookups[f.name], v), _reader(f)(v, reason=True))
            if f.name in lookups
            else coerce.parse(
                f,
                v,
                group=plan.date_groups.get(f.name, coerce.ISO),
                tz=lit(tz),
                date_format=date_format,
                decimal_comma=plan.decimal_comma.get(f.name, False),
                normal_form=q("n_" + f.name) if f.name in normal_forms else None,
            )
        )
        value = parsed.value
        if f.name in plain_ids:
            short = f"strlen({v}) <= {identifiers.ID_MAX_CHARS}"
            value = f"CASE WHEN {plain_ids[f.name]} AND {short} THEN {v} ELSE {value} END"
        if f.name == "currency" and kind.converted:
            # an empty cell means the default currency, as a missing column does
            value = f"coalesce({value}, CASE WHEN {v} IS NULL THEN {lit(default_currency)} END)"
        typed[f.name] = value
        if f.required and f.presence == "value":
            missing.append((f.name, f"{v} IS NULL", MISSING))
        conds.append((f.name, f"{v} IS NOT NULL AND {q(f.name)} IS NULL", parsed.reason))
    if (
        "currency" in kind.converted.values()
        and "currency" not in mapping.columns
        and "currency" not in mapping.sql
    ):
        typed["currency"] = lit(default_currency)
    if kind.name == "events" and "event_id" not in plan.mapped:
        props = "properties" if "properties" in plan.mapped else "NULL"
        typed["event_id"] = (
            f"md5(concat_ws('|', customer_id, name, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%f'), "
            f"CAST({props} AS VARCHAR)))"
        )
    # views, not tables: the rows are read, typed and checked in one pass and
    # written once, as ``checked``
    views.append("typed")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW typed AS SELECT _line, "
        + ", ".join(
            [q("v_" + f.name) for f in fields] + [f"{e} AS {q(n)}" for n, e in typed.items()]
        )
        + " FROM texts"
    )
    source_table = "typed"
    if kind.name == "orders" and "order_id" not in plan.mapped:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW typed_id AS SELECT *, {derived_order_id()} AS order_id "
            "FROM typed"
        )
        views.append(source_table := "typed_id")
        plan.mapped["order_id"] = "derived: customer, date, amount and occurrence"
        plan.warnings.append(
            f"{source} has no order id column: each order's id is derived from its customer, "
            "date, amount and its place among identical rows, so importing the file again "
            "changes nothing; map a column to order_id when the file has one"
        )
    mapped = set(plan.mapped)
    conds += missing
    for c in checks(kind, mapped):
        conds.append((c.column, f"coalesce({c.fails}, false)", c.reason))

    # 4. money into the reporting currency, with the rate in force that day
    if kind.converted and any(a in mapped for a in kind.converted):
        day = f"CAST({q(kind.fx_date)} AS DATE)" if kind.fx_date in mapped else "current_date"
        # the as-of lookup runs on the few distinct (currency, day) pairs of the
        # rows in another currency than the reporting one (only they need a
        # rate), then joins back on equality: much cheaper than an as-of join
        # of every row, and no join at all when every row is in the reporting one
        # (read from the texts with only the expressions they need)
        needed = {n: typed[n] for n in ("currency", kind.fx_date) if n in typed}
        keys = (
            "SELECT * FROM (SELECT "
            + ", ".join(f"{e} AS {q(n)}" for n, e in needed.items())
            + f" FROM texts) WHERE currency IS NOT NULL AND currency <> {lit(reporting_currency)}"
        )
        foreign = bool(scalar(con, f"SELECT count(*) FROM (SELECT currency FROM ({keys}) LIMIT 1)"))
        if foreign:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _fx_days AS SELECT d.fx_currency, d.fx_d, "
                "r.rate AS fx_rate_found FROM (SELECT DISTINCT currency AS fx_currency, "
                f"{day} AS fx_d FROM ({keys})) d "
                "ASOF LEFT JOIN fx_rates r ON d.fx_currency = r.currency AND d.fx_d >= r.date"
            )
        # inside the join below, the typed rows are "t"
        rate = (
            f"CASE WHEN currency = {lit(reporting_currency)} THEN CAST(1 AS DECIMAL(18,8)) "
            f"ELSE CAST({'fx_rate_found' if foreign else 'NULL'} AS DECIMAL(18,8)) END"
        )

        def reporting(a: str) -> str:
            # TRY_CAST: an amount too large once converted is rejected below,
            # where a CAST would fail the whole ingest
            exact = (
                f"TRY_CAST(round(CAST({q(a)} AS DECIMAL(38,10)) * ({rate}), 4) AS DECIMAL(18,4))"
            )
            if kind.field(a).type != "amount":
                return exact
            # at a rate of 1 the product is the amount itself (already
            # DECIMAL(18,4)): the costly wide multiplication is skipped
            return f"CASE WHEN currency = {lit(reporting_currency)} THEN {q(a)} ELSE {exact} END"

        amounts = "".join(
            f", {reporting(a)} AS {q(a + '_reporting')}" for a in kind.converted if a in mapped
        )
        join = (
            f"LEFT JOIN _fx_days r ON t.currency = r.fx_currency AND {day} = r.fx_d"
            if foreign
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW typed_fx AS SELECT t.*, {rate} AS fx_rate{amounts} "
            f"FROM {source_table} t {join}"
        )
        views.append(source_table := "typed_fx")
        conds.append(
            (
                "currency",
                f"currency IS NOT NULL AND currency <> {lit(reporting_currency)} AND fx_rate IS NULL",
                f"'has no FX rate into {reporting_currency} on or before ' || "
                f"strftime({day}, '%Y-%m-%d') || '; ingest fx_rates with a row for ' || "
                "currency || ' dated on or before that day'",
            )
        )
        for a in kind.converted:
            if a in mapped:
                conds.append(
                    (
                        a,
                        f"{q(a)} IS NOT NULL AND fx_rate IS NOT NULL "
                        f"AND {q(a + '_reporting')} IS NULL",
                        f"'is too large once converted into {reporting_currency} (at ' || "
                        f"CAST(fx_rate AS DOUBLE) || ' ' || {lit(reporting_currency)} || ' per ' || "
                        "currency || '): the most an amount can be is 99999999999999.9999'",
                    )
                )
        plan.mapped.setdefault("currency", f"default {default_currency}")

    texted = {f.name for f in fields}

    def shown(name: str) -> str:
        """The value a message shows: the text as written when there is one."""
        if name in texted:
            return f"CAST({q('v_' + name)} AS VARCHAR)" if name in typed_cells else q("v_" + name)
        return f"CAST({q(name)} AS VARCHAR)"

    # each condition is evaluated once, for the number of the first that
    # holds; the field, value and reason are then picked by that number
    def by_number(parts: list[str]) -> str:
        cases = " ".join(f"WHEN {i} THEN {p}" for i, p in enumerate(parts, 1))
        return f"CASE _err_n {cases} END" if parts else "CAST(NULL AS VARCHAR)"

    first = (
        "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (_, c, _) in enumerate(conds, 1)) + " END"
        if conds
        else "CAST(NULL AS INTEGER)"
    )
    missing_n = [str(i) for i, (_, _, r) in enumerate(conds, 1) if r == MISSING]
    is_missing = f"coalesce(_err_n IN ({', '.join(missing_n)}), false)" if missing_n else "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE checked AS SELECT * EXCLUDE "
        f"({', '.join(q('v_' + f.name) for f in fields)}, _err_n), "
        f"{by_number([lit(name) for name, _, _ in conds])} AS _err_field, "
        f"{by_number([shown(name) for name, _, _ in conds])} AS _err_value, "
        f"{by_number([r for _, _, r in conds])} AS _err_reason, "
        f"{is_missing} AS _err_missing "
        f"FROM (SELECT *, {first} AS _err_n FROM {source_table})"
    )
    for view in reversed(views):
        con.execute(f"DROP VIEW {view}")
    for table in filter(None, normal_forms.values()):
        con.execute(f"DROP TABLE {table}")
    return plan


def _reader(f):
    """The SQL of a field's value (or, with ``reason``, of why it is
    refused) as a function of its cell's text, for :func:`distinct.texts`."""

    def read(v: str, reason: bool = False) -> str:
        parsed = coerce.parse(f, v)
        return parsed.reason if reason else parsed.value

    return read


def _as_text(column: str, sql_type: str) -> str:
    """SQL: a source column as the text it was read as."""
    return q(column) if sql_type == "VARCHAR" else f"CAST({q(column)} AS VARCHAR)"


def _named(column: str, expressions) -> bool:
    """Whether a mapping expression may name ``column`` (quoted or not)."""
    word = re.compile(r"(?<![\w])" + re.escape(column) + r"(?![\w])", re.IGNORECASE)
    return any(word.search(e) for e in expressions)
