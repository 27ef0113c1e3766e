"""Industry benchmarks for the customer retention rate, and the business's
own retention over the last twelve months to set against them.

The built-in table holds annual customer retention rates by industry as
published by Statista ("Customer retention rate by industry worldwide",
2018). Teams with a better reference supply their own in a CSV file
(``benchmarks_file`` in tenure.toml) with the columns ``industry``,
``retention_rate`` (percent) and ``source``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tenure.engine import activity, periods
from tenure.engine.context import Context
from tenure.errors import ConfigError, InputError

STATISTA_2018 = "Statista, Customer retention rate by industry worldwide (2018)"


@dataclass(frozen=True)
class Benchmark:
    industry: str
    retention_rate: float
    source: str


BUILT_IN = {
    b.industry: b
    for b in (
        Benchmark("retail", 63.0, STATISTA_2018),
        Benchmark("it services", 81.0, STATISTA_2018),
        Benchmark("insurance", 83.0, STATISTA_2018),
        Benchmark("professional services", 84.0, STATISTA_2018),
    )
}


def load(path: Path | str | None = None) -> dict[str, Benchmark]:
    """The built-in benchmarks, with the rows of ``path`` added or replacing them."""
    table = dict(BUILT_IN)
    if not path:
        return table
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"the benchmarks file {path} does not exist.",
            hint="Fix benchmarks_file in tenure.toml, or remove it to use the built-in table.",
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"industry", "retention_rate"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(
                f"{path} has no column {', '.join(sorted(missing))}; it has "
                f"{', '.join(reader.fieldnames or []) or 'no header'}.",
                source=str(path),
                hint="Use the header: industry,retention_rate,source",
            )
        for line, row in enumerate(reader, start=2):
            raw = (row.get("retention_rate") or "").strip().rstrip("%").strip()
            try:
                rate = float(raw)
            except ValueError:
                rate = -1.0
            if not 0 <= rate <= 100:
                raise InputError(
                    f"retention_rate {row.get('retention_rate')!r} is not a percentage from 0 to 100.",
                    source=str(path),
                    row=line,
                    column="retention_rate",
                    value=row.get("retention_rate"),
                    hint="Write the rate in percent, e.g. 72.5.",
                )
            name = (row.get("industry") or "").strip().lower()
            table[name] = Benchmark(name, rate, (row.get("source") or str(path)).strip())
    return table


def pick(industry: str, path: Path | str | None = None) -> Benchmark:
    table = load(path)
    key = industry.strip().lower()
    if key not in table:
        raise ConfigError(
            f"there is no retention benchmark for the industry {industry!r}.",
            hint=f"Use one of: {', '.join(sorted(table))}; or add yours with benchmarks_file.",
        )
    return table[key]


def trailing_year(ctx: Context) -> dict[str, object]:
    """Retention over the twelve months up to the as-of day: (E - N) / S."""
    end = ctx.as_of
    try:
        start = end.replace(year=end.year - 1)
    except ValueError:  # 29 February
        start = date(end.year - 1, 2, 28)
    counts = activity.window_counts(ctx, periods.day_number(start), ctx.as_of_day)
    s, n, e = counts["customers_start"], counts["new_customers"], counts["customers_end"]
    rate = (e - n) / s * 100.0 if s else None
    return {"start": start.isoformat(), "end": end.isoformat(), **counts, "retention_rate": rate}


def compare(ctx: Context, industry: str, path: Path | str | None = None) -> dict[str, object]:
    """The business's retention over the last twelve months against its industry's."""
    bench = pick(industry, path)
    own = trailing_year(ctx)
    rate = own["retention_rate"]
    return {
        "industry": bench.industry,
        "benchmark_retention_rate": bench.retention_rate,
        "source": bench.source,
        "retention_rate": rate,
        "difference_pp": None if rate is None else rate - bench.retention_rate,
        "window": {"start": own["start"], "end": own["end"]},
        "counts": {
            k: own[k]
            for k in ("customers_start", "new_customers", "customers_end", "lost_customers")
        },
    }
