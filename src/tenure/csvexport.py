"""CSV files that are safe to open in a spreadsheet.

Every CSV tenure writes (``GET /api/v1/customers.csv``, ``--export`` of
``tenure predict`` and ``tenure segments``) goes through :func:`write_csv`:

* a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a single quote in front (OWASP's advice against CSV
  injection): a spreadsheet then shows the text instead of running it as a
  formula. Only text is changed: a number stays a number, negative ones
  too (``-12.5`` is written as it is), so the file still adds up;
* a missing value, a missing date included, is an empty cell (never
  ``NaT``, ``NaN`` or ``None``);
* rows end in CR LF (RFC 4180), so that a cell with a line break is quoted.

>>> import pandas as pd
>>> write_csv(pd.DataFrame({"name": ["=1+1", "Ann"], "amount": [-5.0, 2.0]})).splitlines()
['name,amount', "'=1+1,-5.0", 'Ann,2.0']
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value``, with a quote in front when it is text a spreadsheet would
    take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return neutralise(value)


def write_csv(frame: pd.DataFrame, target: Any = None) -> str | None:
    """``frame`` as CSV (a header row, no index) to ``target`` (a path or a
    file), or returned as text when ``target`` is None."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        # dates, numbers: pandas writes them, a missing one as na_rep
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            out[name] = column.astype(object).map(_cell)
    # RFC 4180's line ends: a cell holding a carriage return is then quoted
    # (with "\n" alone, pandas would leave it bare, ending the row early)
    return out.to_csv(target, index=False, na_rep="", lineterminator="\r\n")
