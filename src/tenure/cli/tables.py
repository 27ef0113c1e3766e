"""Terminal tables that fit the terminal without cutting a number.

A table lists its columns with a rank: 0 for the columns it cannot do
without, and for the others the order in which they give way (the highest
rank first). Columns are left out until the table fits the console's width,
and a line under it names them; ``--wide`` shows every column, as wide as
they need. Number columns never wrap: a number is shown whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every column, however wide the table gets. By default the columns that do "
        "not fit the terminal are left out, and named under the table.",
    ),
]


@dataclass(frozen=True)
class Col:
    """A column: its header, whether it holds numbers, and its rank (0: always
    shown; otherwise columns of higher rank are left out first)."""

    header: str
    numeric: bool = True
    rank: int = 0


def fit_table(
    console: Any,
    cols: Sequence[Col],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    wide: bool = False,
) -> tuple[Any, list[str], int | None]:
    """The table to print, the headers left out, and the width to print it at
    (None: the console's)."""
    from rich.measure import Measurement

    def build(keep: list[int]) -> Any:
        from rich.table import Table

        table = Table(title=title)
        for i in keep:
            c = cols[i]
            table.add_column(
                c.header,
                justify="right" if c.numeric else "left",
                no_wrap=c.numeric,
                overflow="fold",
            )
        for row in rows:
            table.add_row(*[row[i] for i in keep])
        return table

    # measured without the console's width as a ceiling: what the table needs
    unbounded = console.options.update(width=10_000)

    def natural(table: Any) -> int:
        return Measurement.get(console, unbounded, table).maximum

    keep = list(range(len(cols)))
    table = build(keep)
    if wide:
        need = natural(table)
        return table, [], need if need > console.width else None
    droppable = sorted((i for i in keep if cols[i].rank > 0), key=lambda i: (-cols[i].rank, -i))
    left_out: list[int] = []
    while natural(table) > console.width and droppable:
        left_out.append(droppable.pop(0))
        keep = [i for i in keep if i not in left_out]
        table = build(keep)
    return table, [cols[i].header for i in sorted(left_out)], None


def print_table(
    console: Any,
    cols: Sequence[Col],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    wide: bool = False,
) -> list[str]:
    """Print the table fitted to ``console`` (see :func:`fit_table`); returns
    the headers left out."""
    table, left_out, width = fit_table(console, cols, rows, title=title, wide=wide)
    if width is None:
        console.print(table)
    else:  # wider than the console: print() alone would squeeze it back
        before = console.width
        console.width = width
        try:
            console.print(table)
        finally:
            console.width = before
    if left_out:
        console.print(
            f"Left out to fit {console.width} columns: {', '.join(left_out)}. "
            "--wide shows every column, --json every field.",
            soft_wrap=False,
        )
    return left_out
