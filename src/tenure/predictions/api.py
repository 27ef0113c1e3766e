"""The Python API of the predictions: fit a model and score customers, from
the store or from orders given directly (a DataFrame or a file), pandas in
and out.

>>> import tenure
>>> fit = tenure.fit("bgnbd", orders_df, calibration_end="2026-06-30")  # doctest: +SKIP
>>> fit.model.summary()                                              # doctest: +SKIP
>>> fit.validation.metrics                                           # doctest: +SKIP
>>> scores = tenure.predict(orders_df, horizon_days=365)             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from tenure.config import Settings, load_settings
from tenure.engine.context import Context, Definitions
from tenure.errors import ConfigError
from tenure.models._base import LikelihoodModel
from tenure.predictions import scoring
from tenure.predictions import store as kept
from tenure.predictions.orders import OrdersData, read_orders
from tenure.predictions.validation import Validation, check_calibration_end, data_range, holdout

MODELS = ("bgnbd", "paretonbd", "gammagamma")


@dataclass
class FitResult:
    """A fitted model, its record (the JSON of ``tenure fit``) and, with a
    calibration end, its holdout validation."""

    model: LikelihoodModel
    record: dict[str, Any]
    validation: Validation | None = None
    orders: OrdersData | None = None


def _parse_date(value: Any, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"{name} {value!r} is not a date.", hint="Write it as YYYY-MM-DD.", value=str(value)
        ) from None


@contextmanager
def prediction_context(
    orders: Any = None,
    *,
    store: Any = None,
    settings: Settings | None = None,
    map: dict[str, str] | None = None,
    as_of: Any = None,
    rejected_to: Path | None = None,
) -> Iterator[tuple[Context, OrdersData | None]]:
    """A purchase-defined context over ``orders`` (read fast, see
    :mod:`tenure.predictions.orders`) or over the store."""
    from tenure.analysis import open_context

    if settings is not None and store is not None:
        settings = replace(settings, store=Path(store))
    settings = settings or load_settings(store=store)
    as_of = _parse_date(as_of, "as_of")
    if orders is None:
        with open_context(settings=settings, active_by="purchase", as_of=as_of) as ctx:
            yield ctx, None
        return
    data = read_orders(orders, map=map, timezone=settings.timezone)
    if data.rejected and rejected_to is not None:
        data.quarantine = data.write_rejected(rejected_to)
    data.warn()
    try:
        defs = Definitions.from_settings(settings, active_by="purchase", as_of=as_of)
        yield Context(data.source, defs), data
    finally:
        data.source.close()


def fit(
    model: str = "bgnbd",
    orders: Any = None,
    *,
    store: Any = None,
    settings: Settings | None = None,
    calibration_end: Any = None,
    time_unit: str | None = None,
    penalizer: float = 0.0,
    map: dict[str, str] | None = None,
    as_of: Any = None,
    rejected_to: Path | None = None,
) -> FitResult:
    """Fit ``bgnbd``, ``paretonbd`` or ``gammagamma`` on the orders up to
    ``calibration_end`` (default: all), and validate on the rest. Rows of
    ``orders`` that cannot be used are written to ``rejected_to`` (a CSV
    file) when given, and always counted in ``record["orders"]``."""
    if model not in MODELS:
        raise ConfigError(
            f"{model!r} is not a model tenure fits here.", hint=f"Use one of: {', '.join(MODELS)}."
        )
    settings = settings or load_settings(store=store)
    time_unit = time_unit or settings.time_unit
    cal_end = _parse_date(calibration_end, "calibration_end")
    with prediction_context(
        orders, store=store, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to
    ) as (
        ctx,
        data,
    ):
        validation = None
        if cal_end is not None:
            first, last = data_range(ctx.source, ctx.defs)
            check_calibration_end(cal_end, first, min(last, ctx.as_of), data.name if data else None)
        if model == "gammagamma":
            target = (
                ctx if cal_end is None else Context(ctx.source, replace(ctx.defs, as_of=cal_end))
            )
            fitted: LikelihoodModel = scoring.fit_spend_model(target, penalizer=penalizer)
        elif cal_end is not None:
            validation = holdout(
                ctx.source,
                replace(ctx.defs, as_of=ctx.as_of),
                cal_end,
                model=model,
                time_unit=time_unit,
                penalizer=penalizer,
            )
            fitted = validation.model
        else:
            fitted = scoring.fit_purchase_model(
                ctx, model, time_unit=time_unit, penalizer=penalizer
            )
        record = kept.fit_record(
            model,
            fitted,
            as_of=cal_end or ctx.as_of,
            calibration_end=cal_end,
            time_unit=None if model == "gammagamma" else time_unit,
            definitions=ctx.describe(),
            validation=validation.to_dict() if validation else None,
        )
        if data is not None:
            record["orders"] = {
                "source": data.name,
                "rows": data.read,
                "rejected": data.rejected,
                "duplicates": data.duplicates,
                "quarantine": str(data.quarantine) if data.quarantine else None,
            }
    return FitResult(fitted, record, validation, data)


def predict(
    orders: Any = None,
    *,
    store: Any = None,
    settings: Settings | None = None,
    model: str = "bgnbd",
    horizon_days: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
    map: dict[str, str] | None = None,
    as_of: Any = None,
    save: bool = False,
    rejected_to: Path | None = None,
) -> scoring.Scores:
    """Fit the purchase model and Gamma-Gamma, then score every customer:
    P(alive), expected purchases over the horizon, expected spend, CLV and
    the next purchase date. ``save=True`` keeps the fits and the scores in
    the store (only when reading from it)."""
    settings = settings or load_settings(store=store)
    horizon_days = settings.clv_horizon_days if horizon_days is None else horizon_days
    discount_rate = settings.discount_rate if discount_rate is None else discount_rate
    margin = settings.margin if margin is None else margin
    time_unit = time_unit or settings.time_unit
    with prediction_context(
        orders, store=store, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to
    ) as (
        ctx,
        _,
    ):
        purchase = scoring.fit_purchase_model(ctx, model, time_unit=time_unit)
        spend = scoring.fit_spend_model(ctx)
        scores = scoring.score(
            ctx,
            purchase,
            spend,
            horizon_days=horizon_days,
            discount_rate=discount_rate,
            margin=margin,
            model=model,
        )
        definitions = ctx.describe()
    scores.extra["fits"] = [
        kept.fit_record(
            model, purchase, as_of=scores.as_of, time_unit=time_unit, definitions=definitions
        ),
        kept.fit_record("gammagamma", spend, as_of=scores.as_of, definitions=definitions),
    ]
    if save:
        if orders is not None:
            raise ConfigError(
                "scores of orders given directly are not saved to the store.",
                hint="Ingest the orders (tenure ingest orders FILE), or drop save=True.",
            )
        kept.save_scores(settings, scores, *scores.extra["fits"])
    return scores
