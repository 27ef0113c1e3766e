"""Filters: the same numbers for a part of the customers or of the time.

A :class:`Filters` narrows what the engine reads, in the engine: every
table with a ``customer_id`` is narrowed to the customers who match
(country, acquisition channel, acquisition cohort, segment), as an Ibis
expression, so the filter runs on DuckDB or Spark like any other number
and nothing but the aggregates crosses into Python. The date range ends
the data at ``end`` (the as-of date) and keeps the periods or cohorts that
start on or after ``start``.

The CLI (``--country DE --segment "at risk"``), the Python API
(``tenure.metrics(filters={"country": "DE"})``) and the REST API
(``/api/v1/metrics?country=DE``) take the same filters and give the same
numbers.

>>> tenure.metrics(store="tenure-data", filters={"channel": "paid search"})  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any

from tenure.errors import ConfigError

if TYPE_CHECKING:  # the engine is imported where a filter is applied
    import ibis.expr.types as ir

    from tenure.engine.context import Context
    from tenure.engine.source import Source


@dataclass(frozen=True)
class Filters:
    """What to keep. ``cohort`` is an acquisition month, ``YYYY-MM`` (the
    month of the customer's first purchase, in the business's time zone);
    ``segment`` a business segment (``new``, ``at risk``, ``high value``,
    ``active``, ``lapsed``) or an RFM segment (``rfm:champions``...), as of
    the data's end; ``start`` and ``end`` bound the dates."""

    start: date | None = None
    end: date | None = None
    country: str | None = None
    channel: str | None = None
    cohort: str | None = None
    segment: str | None = None

    @classmethod
    def of(cls, value: Filters | dict[str, Any] | None) -> Filters:
        """From a dict such as ``{"country": "DE", "start": "2026-01-01"}``."""
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(
                f"the filter {', '.join(map(repr, unknown))} is not known.",
                hint=f"Filter by: {', '.join(sorted(known))}.",
            )
        # an empty field of a form is no filter
        parsed = {
            k: (None if isinstance(v, str) and not v.strip() else v) for k, v in value.items()
        }
        for name in ("start", "end"):
            if isinstance(parsed.get(name), str):
                parsed[name] = _date(parsed[name], name)
        filters = cls(**parsed)
        filters.check()
        return filters

    def check(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise ConfigError(
                f"the date range runs from {self.start} to {self.end}, backwards.",
                hint="Give the earlier date first: --from 2026-01-01 --to 2026-06-30.",
            )
        if self.cohort is not None:
            _month(self.cohort)

    @property
    def customers(self) -> bool:
        """Whether the filter picks customers (not only dates)."""
        return any((self.country, self.channel, self.cohort, self.segment))

    def __bool__(self) -> bool:
        return self.customers or self.start is not None or self.end is not None

    def describe(self) -> dict[str, Any]:
        """The filters in force, for a result's definitions."""
        return {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v
        }


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"the filter {name} is {text!r}, which is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None


def _month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"the cohort {text!r} is not a month.", hint="Write it as YYYY-MM, e.g. 2026-03."
        ) from None
    return year, month


def matching_customers(ctx: Context, filters: Filters, thresholds: Any = None) -> ir.Table:
    """The ids of the customers who match, as an Ibis table (``customer_id``)."""
    ids: ir.Table | None = None

    def narrow(table: ir.Table) -> None:
        nonlocal ids
        table = table.select("customer_id").distinct()
        ids = table if ids is None else ids.filter(ids.customer_id.isin(table.customer_id))

    if filters.country or filters.channel:
        c = ctx.source.table("customers", "a filter by country or channel")
        if filters.country:
            c = c.filter(c.country.upper() == filters.country.upper())
        if filters.channel:
            c = c.filter(c.acquisition_channel.lower() == filters.channel.lower())
        narrow(c)
    if filters.cohort:
        year, month = _month(filters.cohort)
        p = ctx.purchases
        first = p.group_by("customer_id").agg(first=p.local_date.min())
        narrow(first.filter((first.first.year() == year) & (first.first.month() == month)))
    if filters.segment:
        from tenure.segmentation.business import LABELS
        from tenure.segmentation.rfm import SEGMENTS
        from tenure.segmentation.sizes import kept_scores

        s = kept_scores(ctx, thresholds)
        wanted = filters.segment.lower()
        # "at risk" is both a business and an RFM segment: the business one,
        # as on the dashboard; "rfm:at risk" names the RFM one
        if wanted in LABELS:
            narrow(s.filter(s.value_segment == wanted))
        elif wanted.removeprefix("rfm:") in SEGMENTS:
            narrow(s.filter(s.segment == wanted.removeprefix("rfm:")))
        else:
            raise ConfigError(
                f"the segment {filters.segment!r} is not known.",
                hint=f"Use one of: {', '.join(LABELS)}; or rfm: and an RFM segment, e.g. "
                "rfm:champions.",
            )
    assert ids is not None  # only called when the filter picks customers
    return ids


def filtered_source(source: Source, ids: ir.Table) -> Source:
    """``source`` with every table that has a customer id narrowed to ``ids``
    (an IN subquery in the engine); closing it leaves ``source`` open."""
    from tenure.datamodel import KINDS
    from tenure.engine.source import Source

    tables = {}
    for kind in KINDS:
        table = source.get(kind)
        if table is None:
            continue
        if "customer_id" in table.columns:
            # IN (subquery), not a semi-join: the engine joins these tables further,
            # which an open join chain would not allow
            table = table.filter(table.customer_id.isin(ids.customer_id))
        tables[kind] = table
    return Source(
        source.con,
        tables,
        currency=source.currency,
        description=f"{source.description}, filtered",
    )
