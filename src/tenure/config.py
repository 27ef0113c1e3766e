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

    [loyalty]                    # the loyalty program (docs/loyalty.md)
    return_window_days = 30
    expiry_months = 12           # or expiry_days = 365; 0: points never expire
    negative_balance = "debt"
    tier_basis = "points"        # or spend
    tier_window = "rolling_12_months"  # or calendar_year
    tier_grace_days = 0
    timezone = "UTC"             # the program's clock: where tier windows begin and end
    tiers = [{name = "Silver", threshold = 500}, {name = "Gold", threshold = 2000}]
    point_value = 0.01           # a point's worth in the reporting currency
    breakage_fallback = 0.0      # breakage until 100 lots have closed (breakage_min_lots)
    # and rewards, rewards_file, referrals, challenges: see tenure.loyalty_settings

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

from tenure import loyalty_settings
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


# what the loyalty settings take, and the words of each choice
NEGATIVE_BALANCE = ("debt",)
TIER_BASES = ("points", "spend")
TIER_WINDOWS = ("rolling_12_months", "calendar_year")


@dataclass(frozen=True)
class LoyaltySettings:
    """The ``[loyalty]`` table of ``tenure.toml``: the ledger's policy and
    the tiers (see docs/loyalty.md). ``expiry_days`` / ``expiry_months``:
    at most one is given; 0 means points never expire."""

    return_window_days: int = 30
    expiry_days: int | None = None  # neither given: 365 days
    expiry_months: int | None = None
    negative_balance: str = "debt"
    tier_basis: str = "points"
    tier_window: str = "rolling_12_months"
    tier_grace_days: int = 0
    tiers: tuple[tuple[str, float], ...] = ()  # (name, threshold), lowest first
    # the program's clock (an IANA name): a calendar year or 12 months of a
    # tier window begin and end at its midnights and wall clock; None: UTC
    # for the tiers, and the business's timezone for a birthday
    timezone: str | None = None
    # the liability report (docs/loyalty.md, Liability): what a point is worth
    # in the reporting currency, and the breakage used until the program's
    # own history has closed breakage_min_lots lots
    point_value: float = 0.01
    breakage_fallback: float = 0.0
    breakage_min_lots: int = 100
    # the earning rules ([loyalty.earning] or the file rules_file names), checked
    # on load; None: no rules, and nothing is posted from orders
    earning: Any = None  # tenure.loyalty_rules.EarningRules
    rules_file: str | None = None
    # the rewards catalogue, referrals and challenges (tenure.loyalty_settings)
    rewards: tuple[Any, ...] = ()
    rewards_file: str | None = None  # read into rewards
    referrals: Any = None
    challenges: tuple[Any, ...] = ()

    # webhook endpoints (http or https URLs), and how many days before points
    # expire their member's loyalty.points.expiring event is sent (0: never)
    webhooks: tuple[str, ...] = ()
    expiry_warning_days: int = 14
    # days a webhook event is kept once every delivery of it is done
    # (delivered, or failed for good); 0: kept for ever
    webhook_retention_days: int = 30

    @property
    def acts_on_ingest(self) -> bool:
        """Whether an ingest of orders is followed by the program's work:
        points to post (earning rules), referrals or challenges to settle."""
        return self.earning is not None or self.referrals is not None or bool(self.challenges)


@dataclass(frozen=True)
class TableSettings:
    """A table of ``tenure.toml`` kept as written, checked by the layer that
    reads it (which names ``origin``, the file, in its errors)."""

    origin: str = ""
    values: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.values).get(key, default)


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
    # the [loyalty] table of tenure.toml (not read from the environment)
    loyalty: LoyaltySettings = field(default_factory=LoyaltySettings)
    # the [campaigns] table of tenure.toml as written, with the file it came
    # from; checked by tenure.campaigns where it is read
    campaigns: TableSettings = field(default_factory=lambda: TableSettings())

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


def _loyalty(raw: Any, origin: str) -> LoyaltySettings:
    """The ``[loyalty]`` table, each value checked and named when wrong."""
    where = f"{origin} [loyalty]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: 'loyalty' must be a table ([loyalty]); got {raw!r}.",
                          hint="Write the loyalty settings under a [loyalty] heading.")  # fmt: skip
    known = {f.name for f in fields(LoyaltySettings)}
    values: dict[str, Any] = loyalty_settings.read(raw, where, origin)
    for key, value in raw.items():
        if key in loyalty_settings.KEYS:
            continue
        if key not in known:
            raise ConfigError(f"{where}: unknown setting '{key}'.",
                              hint=f"Known loyalty settings: {', '.join(sorted(known))}.")  # fmt: skip
        if key in {"return_window_days", "expiry_days", "expiry_months", "tier_grace_days",
                   "breakage_min_lots", "expiry_warning_days",
                   "webhook_retention_days"}:  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"{where}: '{key}' has the value {value!r}, which is not a whole number "
                    "of 0 or more.", hint=f"Fix it in {origin}, e.g. {key} = 30.")  # fmt: skip
        if key == "breakage_fallback":  # point_value is read by tenure.loyalty_settings
            _breakage_share(value, where, origin)
        if key == "timezone":
            _program_zone(value, where, origin)
        choices = {"negative_balance": NEGATIVE_BALANCE, "tier_basis": TIER_BASES,
                   "tier_window": TIER_WINDOWS}.get(key)  # fmt: skip
        if choices is not None and value not in choices:
            raise ConfigError(f"{where}: '{key}' has the value {value!r}.",
                              hint=f"Fix it in {origin}: use {' or '.join(choices)}.")  # fmt: skip
        values[key] = value
    _earning_rules(values, where, origin)
    loyalty_settings.one_source(values, raw, where, origin)
    if values.get("expiry_days") is not None and values.get("expiry_months") is not None:
        raise ConfigError(
            f"{where}: both 'expiry_days' ({values['expiry_days']}) and 'expiry_months' "
            f"({values['expiry_months']}) are given.",
            hint=f"Fix it in {origin}: keep one of them.",
        )
    values["tiers"] = _tiers(values.get("tiers", []), where, origin)
    values["webhooks"] = _webhooks(values.get("webhooks", []), where, origin)
    return LoyaltySettings(**values)


def _program_zone(value: Any, where: str, origin: str) -> None:
    """timezone: a name of the IANA time zone database, e.g. Europe/Berlin."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(f"{where}: 'timezone' has the value {value!r}, which is not an IANA "
                          "time zone.",
                          hint=f'Fix it in {origin}: write a name of the tz database, e.g. '
                               'timezone = "Europe/Berlin", or leave it out for UTC.') from None  # fmt: skip


def _breakage_share(value: Any, where: str, origin: str) -> None:
    """breakage_fallback: a share from 0 up to (not including) 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"{where}: 'breakage_fallback' has the value {value!r}, which is not "
                          "a share from 0 to below 1.",
                          hint=f"Fix it in {origin}, e.g. breakage_fallback = 0.15.")  # fmt: skip


def _earning_rules(values: dict[str, Any], where: str, origin: str) -> None:
    """``earning`` (a table) or ``rules_file`` (a TOML file beside ``origin``)
    read as the program's earning rules, checked (tenure.loyalty_rules)."""
    if "earning" not in values and "rules_file" not in values:
        return
    from tenure.loyalty_rules import load_rules_file, parse_rules

    if "earning" in values and "rules_file" in values:
        raise ConfigError(f"{where}: both 'rules_file' and an [loyalty.earning] table are given.",
                          hint=f"Fix it in {origin}: keep one of them.")  # fmt: skip
    if "rules_file" in values:
        path = values["rules_file"]
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{where}: 'rules_file' has the value {path!r}, which is not a path.",
                              hint=f'Fix it in {origin}, e.g. rules_file = "loyalty-rules.toml".')  # fmt: skip
        values["earning"] = load_rules_file(path, origin)
    else:
        values["earning"] = parse_rules(values["earning"], f"{where}.earning", origin)


def _webhooks(raw: Any, where: str, origin: str) -> tuple[str, ...]:
    """The webhook endpoints: a list of http(s) URLs."""
    from urllib.parse import urlsplit

    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'webhooks' must be a list of URLs; got {raw!r}.",
                          hint=f'Fix it in {origin}, e.g. webhooks = ["https://crm.example/hooks"].')  # fmt: skip
    for url in raw:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: the webhook {url!r} is not an http or https URL.",
                              hint=f"Fix it in {origin}: write it as https://host/path.")  # fmt: skip
    return tuple(dict.fromkeys(raw))


def _tiers(raw: Any, where: str, origin: str) -> tuple[tuple[str, float], ...]:
    example = 'tiers = [{name = "Silver", threshold = 500}, {name = "Gold", threshold = 2000}]'
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'tiers' has the value {raw!r}, which is not a list.",
                          hint=f"Fix it in {origin}: {example}")  # fmt: skip
    tiers: list[tuple[str, float]] = []
    for i, tier in enumerate(raw, 1):
        name = tier.get("name") if isinstance(tier, dict) else None
        threshold = tier.get("threshold") if isinstance(tier, dict) else None
        if (not isinstance(tier, dict) or set(tier) != {"name", "threshold"}
                or not isinstance(name, str) or not name.strip()
                or isinstance(threshold, bool) or not isinstance(threshold, int | float)
                or not 0 <= threshold < float("inf")):  # fmt: skip
            raise ConfigError(
                f"{where}: tier {i} is {tier!r}; a tier is a name and a threshold of 0 or more.",
                hint=f"Fix it in {origin}: {example}",
            )
        tiers.append((name.strip(), threshold))
    names = [n for n, _ in tiers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: the tier name {twice[0]!r} is given twice.",
                          hint=f"Fix it in {origin}: give each tier its own name.")  # fmt: skip
    levels = [t for _, t in tiers]
    if len(set(levels)) != len(levels):
        raise ConfigError(f"{where}: two tiers have the same threshold {levels}.",
                          hint=f"Fix it in {origin}: each tier needs a threshold of its own.")  # fmt: skip
    return tuple(sorted(tiers, key=lambda t: t[1]))


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


def loyalty_settings_of(path: str | Path) -> LoyaltySettings:
    """The ``[loyalty]`` table of the TOML file at ``path``, checked as
    ``load_settings`` checks it (the defaults when the file has none)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="Fix the file.") from None
    raw = data.get("loyalty", data.get("tenure", {}).get("loyalty"))
    return LoyaltySettings() if raw is None else _loyalty(raw, str(path))


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
        loyalty = data.get("loyalty", table.get("loyalty"))
        if loyalty is not None:
            values["loyalty"] = _loyalty(loyalty, str(path))
        campaigns = data.get("campaigns", table.get("campaigns"))
        if campaigns is not None:
            if not isinstance(campaigns, dict):
                raise ConfigError(f"{path}: 'campaigns' must be a table ([campaigns]); got "
                                  f"{campaigns!r}.", hint="Write them under a [campaigns] heading.")  # fmt: skip
            values["campaigns"] = TableSettings(str(path), tuple(campaigns.items()))
        for key, raw in table.items():
            if key in ("loyalty", "campaigns"):
                continue
            if key not in names:
                raise ConfigError(
                    f"{path}: unknown setting '{key}'.",
                    hint=f"Known settings: {', '.join(sorted(names))}.",
                )
            values[key] = _coerce(key, raw, str(path))
    for name in names - {"loyalty", "campaigns"}:
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
