"""Settings: a flag beats a ``TENURE_*`` environment variable, which beats
``tenure.toml``, which beats the default.

``tenure.toml`` is read from the current directory, or from the path in
``TENURE_CONFIG``::

    store = "./tenure-data"
    reporting_currency = "EUR"
    timezone = "Europe/Berlin"   # how to read timestamps that carry no offset
    date_order = "auto"          # auto, dmy, mdy or ymd for dates like 03/04/2024
    create_customers = true      # orders for unknown customers create them
    activity_window = 365        # days, for the active-customer definition
    active_by = "auto"           # purchase, subscription, either, or auto
    industry = "retail"          # the benchmark the retention rate is set against
    benchmarks_file = ""         # a CSV of your own: industry,retention_rate,source
    high_value_top_percent = 20  # high value: the top 20 % of customers by revenue
    at_risk_days = 90            # at risk: active, but no purchase for 90 days
    new_days = 30                # new: first purchase in the last 30 days
    locale = "en"                # numbers, dates and currency in the report
    engine = "duckdb"            # or spark
    spark_master = "local[2]"
    spark_database = ""          # read kinds from this Spark database instead of the store
    memory_limit = "6GB"         # DuckDB's memory cap on the store (default: 80 % of RAM)

The timezone is also the business's own: days, months and years begin at
midnight there in every metric.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from tenure.errors import ConfigError

ENV_PREFIX = "TENURE_"


def parse_date(text: str, name: str) -> date:
    """``text`` (YYYY-MM-DD) as a date; a :class:`ConfigError` naming ``name``
    (the option or parameter it came from) when it is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} is {text!r}, which is not a date.", hint="Write it as YYYY-MM-DD."
        ) from None


@dataclass(frozen=True)
class Settings:
    store: Path = Path("tenure-data")
    ops_url: str | None = None  # default: sqlite in the store folder
    # None: the store's own currency, or EUR for a new store
    reporting_currency: str | None = None
    timezone: str = "UTC"
    date_order: str = "auto"
    create_customers: bool = True
    max_errors: int | None = None
    activity_window: int = 365
    active_by: str = "auto"
    industry: str = "retail"
    benchmarks_file: str | None = None
    high_value_top_percent: int = 20
    at_risk_days: int = 90
    new_days: int = 30
    locale: str = "en"
    engine: str = "duckdb"
    spark_master: str | None = None
    spark_database: str | None = None
    # predictions: customer lifetime value over this horizon, discounted at
    # this rate a year, times this margin (1 = revenue)
    clv_horizon_days: int = 365
    discount_rate: float = 0.10
    margin: float = 1.0
    # the unit of t_x and T the purchase models are fitted in: day or week
    time_unit: str = "day"
    # the web server's secret (sessions, CSRF): TENURE_SECRET_KEY, or else
    # secret.key in the workspace, made on first use
    secret_key: str | None = field(default=None, repr=False)
    # the web server's limits (docs/security.md): request bodies in bytes,
    # the ingest endpoints' larger; password checks a second over all logins
    # and how many at once (0: half the cores); the server's caches in bytes
    max_body_bytes: int = 1_048_576
    max_ingest_bytes: int = 33_554_432
    login_rate: float = 5.0
    login_burst: int = 20
    login_concurrency: int = 0
    cache_bytes: int = 1_073_741_824
    # DuckDB's memory_limit ("6GB") on every connection to the store and an
    # ingest's scratch database; None: DuckDB's default (80 % of RAM), and
    # 2GB for an ingest, which spills to disk beyond it
    memory_limit: str | None = None

    @property
    def analytics_path(self) -> Path:
        return self.store / "analytics.duckdb"

    @property
    def ops_database_url(self) -> str:
        if self.ops_url:
            return self.ops_url
        return f"sqlite:///{(self.store / 'ops.sqlite').as_posix()}"

    @property
    def quarantine_dir(self) -> Path:
        return self.store / "quarantine"


# what DuckDB's memory_limit accepts: a number and a unit
MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|[KMGT]i?B)\s*", re.IGNORECASE)
# below this DuckDB fails at its first allocations
MEMORY_FLOOR = 128 * 1024**2

# the memory limit of the settings loaded last: the store's connections take
# it wherever they are opened (see tenure.store.analytics)
_active_memory_limit: str | None = None


def active_memory_limit() -> str | None:
    """``memory_limit`` of the settings in use (loaded or given to a workspace)."""
    return _active_memory_limit


def use_memory_limit(value: str | None) -> None:
    global _active_memory_limit
    _active_memory_limit = value


def _memory(raw: Any, origin: str) -> str | None:
    """``memory_limit``: a size DuckDB takes, and one it can work in."""
    if raw is None:
        return None
    found = MEMORY.fullmatch(raw) if isinstance(raw, str) else None
    if found is None:
        raise ConfigError(
            f"setting 'memory_limit' from {origin} has the value {raw!r}, which is not "
            "a memory size.",
            hint=f'Fix it in {origin}: a number and a unit, such as "6GB" or "512MiB".',
        )
    unit = found.group(2).upper()
    power = "BKMGT".index(unit[0])
    size = float(found.group(1)) * (1024 if "I" in unit else 1000) ** power
    if size < MEMORY_FLOOR:
        raise ConfigError(
            f"setting 'memory_limit' from {origin} has the value {raw!r}, too little for "
            "DuckDB to work in.",
            hint=f'Fix it in {origin}: 128MiB at the least; "2GB" or more for large stores.',
        )
    return raw.strip()


def _coerce(name: str, raw: Any, origin: str) -> Any:
    if name == "memory_limit":
        return _memory(raw, origin)
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = str(kinds[name])
    try:
        if "Path" in kind:
            return Path(str(raw)).expanduser()
        if "bool" in kind:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if "float" in kind:
            kind = "number of 0 or more"
            value = float(raw)
            if not value >= 0 or value == float("inf"):
                raise ValueError(raw)
            return value
        if "int" in kind:
            kind = "whole number"
            if raw is None or (isinstance(raw, str) and raw.strip().lower() in {"", "none"}):
                return None
            value = int(raw)
            if value < 0:
                raise ValueError(raw)
            return value
        return None if raw is None else str(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting '{name}' from {origin} has the value {raw!r}, which is not a valid {kind}.",
            hint=f"Fix it in {origin}.",
        ) from None


def _toml_path() -> Path | None:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"TENURE_CONFIG points at {path}, which does not exist.",
                hint="Create the file or unset TENURE_CONFIG.",
            )
        return path
    path = Path("tenure.toml")
    return path if path.is_file() else None


def load_settings(**flags: Any) -> Settings:
    """Settings from flags (``None`` means not given), environment, tenure.toml."""
    names = {f.name for f in fields(Settings)}
    unknown = set(flags) - names
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    path = _toml_path()
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}", hint="Fix the file.") from None
        table = data.get("tenure", data)
        for key, raw in table.items():
            if key not in names:
                raise ConfigError(
                    f"{path}: unknown setting '{key}'.",
                    hint=f"Known settings: {', '.join(sorted(names))}.",
                )
            values[key] = _coerce(key, raw, str(path))
    for name in names:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None and env != "":
            values[name] = _coerce(name, env, f"${ENV_PREFIX}{name.upper()}")
    for name, raw in flags.items():
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name.replace('_', '-')}")
    settings = replace(Settings(), **values)
    if settings.date_order not in {"auto", "dmy", "mdy", "ymd"}:
        raise ConfigError(
            f"date_order is {settings.date_order!r}.", hint="Use auto, dmy, mdy or ymd."
        )
    if settings.active_by not in {"auto", "purchase", "subscription", "either"}:
        raise ConfigError(
            f"active_by is {settings.active_by!r}.",
            hint="Use auto, purchase, subscription or either.",
        )
    if settings.activity_window is None or settings.activity_window < 1:
        raise ConfigError(
            f"activity_window is {settings.activity_window}.",
            hint="Use a number of days, 1 or more.",
        )
    if not 0 < settings.high_value_top_percent <= 100:
        raise ConfigError(
            f"high_value_top_percent is {settings.high_value_top_percent}.",
            hint="Use a whole number from 1 to 100.",
        )
    if settings.engine not in {"duckdb", "spark"}:
        raise ConfigError(f"engine is {settings.engine!r}.", hint="Use duckdb or spark.")
    use_memory_limit(settings.memory_limit)
    if settings.reporting_currency is None:
        return settings
    currency = settings.reporting_currency.upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ConfigError(
            f"reporting_currency is {settings.reporting_currency!r}, not an ISO 4217 code.",
            hint="Use a three-letter code such as EUR or USD.",
        )
    return replace(settings, reporting_currency=currency)
