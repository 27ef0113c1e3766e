"""Column mapping: which source column feeds which field of a kind.

A field is fed, in this order of precedence, by ``--map SOURCE=field``, a
mapping file, a preset, or automatically by a source column named like the
field or one of its aliases (case, spaces and punctuation ignored).

Mapping files and presets are TOML, one table per kind::

    [orders.columns]            # source column = field
    "Name" = "order_id"
    "Created at" = "placed_at"

    [orders.sql]                # field = a DuckDB expression over source columns
    customer_id = 'lower(trim("Email"))'

    [orders.options]
    date_format = "%Y-%m-%d %H:%M:%S %z"

A flat ``[columns]`` table (without the kind) applies to any kind.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tenure.datamodel import KINDS, Kind
from tenure.errors import ColumnNotFoundError, ConfigError, InputError, UsageError

PRESETS = ("shopify", "stripe", "hubspot")
# keys a source may leave out: each row's key is then derived from its values
# (see tenure.ingestion.validate.derived_key)
DERIVED = {("events", "event_id"), ("orders", "order_id")}
OPTION_NAMES = {"date_format", "date_order", "currency", "timezone", "delimiter", "encoding"}


def normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


@dataclass
class Mapping:
    """field -> source column, field -> SQL expression, and reading options."""

    columns: dict[str, str] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def merged_over(self, base: Mapping) -> Mapping:
        columns = {**base.columns, **self.columns}
        sql = {k: v for k, v in base.sql.items() if k not in self.columns}
        sql.update(self.sql)
        for k in self.sql:
            columns.pop(k, None)
        return Mapping(columns, sql, {**base.options, **self.options})


def kind_named(name: str) -> Kind:
    kind = KINDS.get(name.strip().lower().replace("-", "_"))
    if kind is None:
        close = difflib.get_close_matches(name.lower(), KINDS, n=1)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        raise UsageError(
            f"unknown kind {name!r}.",
            hint=f"{hint}Kinds: {', '.join(KINDS)}.",
            value=name,
            code="unknown_kind",
        )
    return kind


def _from_table(kind: Kind, table: dict[str, Any], origin: str) -> Mapping:
    mapping = Mapping()
    for source, target in table.get("columns", {}).items():
        _check_field(kind, str(target), origin)
        mapping.columns[str(target)] = str(source)
    for target, expr in table.get("sql", {}).items():
        _check_field(kind, str(target), origin)
        mapping.sql[str(target)] = str(expr)
    for key, value in table.get("options", {}).items():
        if key not in OPTION_NAMES:
            raise ConfigError(
                f"{origin}: unknown option '{key}'.",
                hint=f"Options: {', '.join(sorted(OPTION_NAMES))}.",
            )
        mapping.options[key] = value
    return mapping


def _load_toml(text: str, origin: str, kind: Kind) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}", hint="Fix the file.") from None
    if kind.name in data:
        return _from_table(kind, data[kind.name], origin)
    if any(k in data for k in ("columns", "sql", "options")):
        return _from_table(kind, data, origin)
    return Mapping()


def load_mapping_file(path: Path, kind: Kind) -> Mapping:
    if not path.is_file():
        raise InputError(f"no such mapping file: {path}", hint="Check the --mapping path.")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}", hint="Fix the file.") from None
        table = data.get(kind.name, data)
        if "columns" not in table and "sql" not in table:
            table = {"columns": table}
        return _from_table(kind, table, str(path))
    return _load_toml(text, str(path), kind)


def load_preset(name: str, kind: Kind) -> Mapping:
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r}.", hint=f"Presets: {', '.join(PRESETS)}.")
    text = (resources.files("tenure.ingestion") / "presets" / f"{key}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    if kind.name not in data:
        offered = ", ".join(k for k in data if k in KINDS)
        raise InputError(
            f"the {key} preset has no mapping for {kind.name}.",
            hint=f"It maps: {offered}.",
        )
    return _from_table(kind, data[kind.name], f"preset {key}")


def parse_map_flags(flags: list[str], kind: Kind) -> Mapping:
    mapping = Mapping()
    for flag in flags:
        source, sep, target = flag.rpartition("=")
        if not sep or not source or not target:
            raise InputError(
                f"--map {flag!r} is not SOURCE=field.",
                hint='Write the source column, =, then the field, e.g. --map "Order Date=placed_at".',
            )
        _check_field(kind, target.strip(), "--map")
        mapping.columns[target.strip()] = source
    return mapping


def _check_field(kind: Kind, target: str, origin: str) -> None:
    if target in kind.field_names:
        return
    close = difflib.get_close_matches(target, kind.field_names, n=1)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    raise InputError(
        f"{origin}: {kind.name} has no field '{target}'.",
        hint=f"{hint}Fields of {kind.name}: {', '.join(kind.field_names)}.",
        value=target,
    )


def resolve(kind: Kind, columns: list[str], mapping: Mapping, source: str) -> Mapping:
    """Complete the mapping from the source's columns; fail on missing required fields."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalize(col), col)
    resolved = Mapping(dict(mapping.columns), dict(mapping.sql), dict(mapping.options))
    for target, col in list(resolved.columns.items()):
        if col not in columns:
            actual = by_norm.get(normalize(col))
            if actual is None:
                raise _not_found(kind, target, col, columns, source, explicit=True)
            resolved.columns[target] = actual
    used = set(resolved.columns.values())
    for f in kind.fields:
        if f.name in resolved.columns or f.name in resolved.sql:
            continue
        for candidate in (f.name, *f.aliases):
            col = by_norm.get(normalize(candidate))
            if col is not None and col not in used:
                resolved.columns[f.name] = col
                used.add(col)
                break
    for f in kind.required:
        if f.name not in resolved.columns and f.name not in resolved.sql:
            if (kind.name, f.name) in DERIVED:
                continue
            raise _not_found(kind, f.name, None, columns, source, explicit=False)
    return resolved


def _not_found(
    kind: Kind, target: str, col: str | None, columns: list[str], source: str, *, explicit: bool
) -> ColumnNotFoundError:
    wanted = col if col is not None else target
    names = [target, *kind.field(target).aliases] if col is None else [col]
    norm = {normalize(c): c for c in columns}
    # a closest column must be able to hold the field: a column named like a
    # date is never offered for a rate or an amount, nor the reverse
    fitting = [n for n in norm if _may_hold(kind.field(target).type, n)]
    # a column that holds the field's name as a word ("rate_to_reporting"
    # for rate) comes before one that is spelled alike ("date")
    best = [n for name in names for n in fitting if normalize(name) in n.split("_")]
    for name in names:
        best += difflib.get_close_matches(normalize(name), fitting, n=1, cutoff=0.5)
    closest = norm[best[0]] if best else None
    found = ", ".join(repr(c) for c in columns) if columns else "none"
    if explicit:
        what = f"the column '{wanted}' given for {target} is not in the file."
    else:
        what = f"{kind.name} need a column for '{target}', and none was found."
    fix = (
        f"The closest column is '{closest}': pass --map \"{closest}={target}\"."
        if closest
        else f'Rename a column to {target}, or pass --map "YOUR COLUMN={target}".'
    )
    if len(columns) == 1:
        # the one "column" is a whole line: mapping it would not help
        fix = (
            "Only one column was found, so the delimiter is likely not what the file uses: "
            "pass --delimiter with the character between fields (',', ';', tab, '|', or "
            "'whitespace' for runs of spaces)."
        )
    return ColumnNotFoundError(
        what,
        hint=f"Columns found: {found}.\n{fix}",
        source=source,
        column=wanted,
        expected=target,
    )


DATE_WORDS = {"date", "time", "at", "day", "dt", "timestamp", "created", "updated", "month", "year"}
MONEY_WORDS = {"amount", "total", "price", "rate", "value", "revenue", "sales", "cost", "mrr"}
NUMERIC_TYPES = {"amount", "rate", "integer", "number"}


def _may_hold(field_type: str, column: str) -> bool:
    """False when a column's name says it holds another type than the field's."""
    words = set(column.split("_"))
    if field_type in NUMERIC_TYPES:
        return not (words & DATE_WORDS and not words & MONEY_WORDS)
    if field_type in ("timestamp", "date"):
        return not (words & MONEY_WORDS and not words & DATE_WORDS)
    return True
