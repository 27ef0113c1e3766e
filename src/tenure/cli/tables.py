"""Terminal tables that fit the terminal without cutting a number.

A table lists its columns with a rank: 0 for the columns it cannot do
without, and for the others the order in which they give way (the highest
rank first). Columns are left out until the table fits the console's width,
and a line under it names them; ``--wide`` shows every column, as wide as
they need. A number column is never narrower than its widest number, a
text column than its longest word (headers and text wrap between words):
a number or a date is shown whole or not at all.
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
    # rich is imported for a table printed, not for --json
    from rich.table import Table
    from rich.text import Text

    cells = [[Text.from_markup(row[i]).plain for row in rows] for i in range(len(cols))]
    # a column's natural width, and the least it can take: a number column
    # its widest number, a text column its longest word (a date, "5.76"),
    # each at least its header's longest word
    natural, least = [], []
    for i, c in enumerate(cols):
        words = c.header.split() + [w for cell in cells[i] for w in cell.split()]
        longest_word = max((len(w) for w in words), default=1)
        widest = max((len(x) for x in cells[i]), default=1)
        natural.append(max(len(c.header), widest))
        head = max((len(w) for w in c.header.split()), default=1)
        least.append(max(widest, head) if c.numeric else longest_word)

    def frame(keep: list[int]) -> int:
        return 3 * len(keep) + 1  # a space either side of each cell, and the rules

    def widths(keep: list[int]) -> list[int] | None:
        """Each kept column's width to fit the console, or None if it cannot."""
        room = console.width - frame(keep)
        want = [natural[i] for i in keep]
        if sum(want) <= room:
            return want
        low = [least[i] for i in keep]
        if sum(low) > room:
            return None
        # narrow the column with the most room to give, one character at a
        # time: the longest texts wrap first, short ones stay on one line
        while sum(want) > room:
            k = max(range(len(want)), key=lambda j: want[j] - low[j])
            want[k] -= 1
        return want

    def build(keep: list[int], sizes: list[int] | None) -> Any:
        table = Table(title=title)
        for n, i in enumerate(keep):
            c = cols[i]
            table.add_column(
                c.header,
                justify="right" if c.numeric else "left",
                width=None if sizes is None else sizes[n],
                overflow="fold",
            )
        for row in rows:
            table.add_row(*[row[i] for i in keep])
        return table

    keep = list(range(len(cols)))
    if wide:
        need = sum(natural) + frame(keep)
        return build(keep, None), [], need if need > console.width else None
    droppable = sorted((i for i in keep if cols[i].rank > 0), key=lambda i: (-cols[i].rank, -i))
    left_out: list[int] = []
    sizes = widths(keep)
    while sizes is None and droppable:
        left_out.append(droppable.pop(0))
        keep = [i for i in keep if i not in left_out]
        sizes = widths(keep)
    return build(keep, sizes), [cols[i].header for i in sorted(left_out)], None


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
