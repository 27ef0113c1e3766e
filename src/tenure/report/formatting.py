"""Numbers, percentages, money and dates for one locale, through Babel."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from babel import Locale, UnknownLocaleError, dates, numbers

from tenure.errors import ConfigError


def parse_locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ConfigError(
            f"the locale {tag!r} is not one tenure knows.",
            hint="Use a BCP 47 tag such as en, en-GB, de-DE, fr-FR, es-ES or ja-JP.",
        ) from None


class Formatter:
    """Formats values for ``locale``; missing values (None, NaN) become "—"."""

    MISSING = "—"

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = parse_locale(locale)
        self.tag = locale
        self.currency = currency

    @staticmethod
    def _missing(value: Any) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value))

    def number(self, value: Any, digits: int = 0) -> str:
        if self._missing(value):
            return self.MISSING
        value = round(float(value), digits) + 0.0  # no "-0" for a tiny negative
        base = self.locale.decimal_formats[None].pattern.split(";")[0].split(".")[0]
        return numbers.format_decimal(value, format=_last_zero(base, digits), locale=self.locale)

    def percent(self, value: Any, digits: int = 1) -> str:
        """``value`` in percent (63.4 -> "63.4%", "63,4 %"... as the locale writes it)."""
        if self._missing(value):
            return self.MISSING
        value = round(float(value), digits) + 0.0
        base = self.locale.percent_formats[None].pattern.split(";")[0]
        return numbers.format_percent(
            value / 100.0, format=_last_zero(base, digits), locale=self.locale
        )

    def points(self, value: Any, digits: int = 1) -> str:
        if self._missing(value):
            return self.MISSING
        sign = "+" if value > 0 else ""
        return f"{sign}{self.number(value, digits)} pp"

    def money(self, value: Any, digits: int | None = None) -> str:
        """Money in the report's currency; ``digits=0`` drops the minor unit."""
        if self._missing(value):
            return self.MISSING
        if digits == 0:
            base = self.locale.currency_formats["standard"].pattern.split(";")[0]
            pattern = base.replace(".00", "")
            return numbers.format_currency(
                round(value), self.currency, format=pattern, locale=self.locale,
                currency_digits=False,
            )  # fmt: skip
        return numbers.format_currency(value, self.currency, locale=self.locale)

    def date(self, value: date | datetime | str | None) -> str:
        if value is None:
            return self.MISSING
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return dates.format_date(value, format="medium", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        return dates.format_datetime(value, format="medium", locale=self.locale)

    @property
    def separators(self) -> str:
        """Plotly's ``separators``: the decimal mark, then the group mark."""
        return numbers.get_decimal_symbol(self.locale) + numbers.get_group_symbol(self.locale)


def _last_zero(pattern: str, digits: int) -> str:
    """``pattern`` with ``digits`` decimals after its last integer 0."""
    if not digits:
        return pattern
    i = pattern.rfind("0")
    return pattern[: i + 1] + "." + "0" * digits + pattern[i + 1 :]
