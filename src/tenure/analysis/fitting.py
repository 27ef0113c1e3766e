"""Fit a model and score customers, from the store or from orders given
directly (a DataFrame or a file), pandas in and out: what ``tenure fit``
and ``tenure predict`` run, and what they keep in the store for the
report, the dashboard and the API to read (see
:mod:`tenure.analysis.predictions`).

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
from typing import TYPE_CHECKING, Any

from tenure.analysis.context import open_context
from tenure.config import Settings, load_settings
from tenure.engine.context import Context, Definitions
from tenure.errors import ConfigError, UsageError
from tenure.given import RecordsData, read_orders
from tenure.jsondoc import records
from tenure.models import LikelihoodModel
from tenure.predictions import scoring
from tenure.predictions import store as kept
from tenure.predictions.validation import (
    ModelChoice,
    Validation,
    check_calibration_end,
    choose_model,
    data_range,
    holdout,
)

if TYPE_CHECKING:  # a fit of orders imports neither pandas nor Arrow: see fit_purchase_model
    import pandas as pd

# the churn model's horizon when none is given (tenure fit churn's default)
CHURN_HORIZON_DAYS = 90
MODELS = ("bgnbd", "mbgnbd", "paretonbd", "gammagamma", "sbg", "churn")


@dataclass
class FitResult:
    """A fitted model, its record (the JSON of ``tenure fit``) and, with a
    calibration end, its holdout validation.

    ``scores`` holds what the fit scored: every active subscription for
    ``sbg``, every active customer for ``churn`` (see
    :func:`score_subscriptions` and :class:`ChurnResult`); ``details`` the
    model's own result object (:class:`SubscriptionFit`, :class:`ChurnResult`).
    """

    model: Any
    record: dict[str, Any]
    validation: Validation | None = None
    orders: RecordsData | None = None
    scores: pd.DataFrame | None = None
    details: Any = None


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
    date_format: str | None = None,
    amounts: str | None = None,
    summary: bool = False,
) -> Iterator[tuple[Context, RecordsData | None]]:
    """A purchase-defined context over ``orders`` (read and checked like
    ``tenure ingest``, see :mod:`tenure.given`) or over the store. ``amounts`` names
    what adds the amounts up, when something does: a file with amounts in
    several currencies is refused then. ``summary``: what runs in the
    context reads the orders mostly through the per-customer summary (see
    :func:`tenure.given.read_orders`)."""
    if settings is not None and store is not None:
        settings = replace(settings, store=Path(store))
    settings = settings or load_settings(store=store)
    as_of = _parse_date(as_of, "as_of")
    if orders is None:
        with open_context(settings=settings, active_by="purchase", as_of=as_of) as ctx:
            yield ctx, None
        return
    data = read_orders(
        orders,
        map=map,
        timezone=settings.timezone,
        currency=settings.reporting_currency or "EUR",
        date_format=date_format,
        summary=summary,
    )
    if data.rejected and rejected_to is not None:
        data.quarantine = data.write_rejected(rejected_to)
    data.warn()
    try:
        if amounts is not None:
            data.check_one_currency(amounts)
        defs = Definitions.from_settings(settings, active_by="purchase", as_of=as_of)
        yield Context(data.source, defs), data
    finally:
        data.source.close()


@contextmanager
def _purchase_context(
    orders: Any,
    *,
    store: Any,
    settings: Settings,
    map: dict[str, str] | None,
    as_of: Any,
    rejected_to: Path | None,
    date_format: str | None,
    model: str | None,
    time_unit: str,
    penalizer: float = 0.0,
    calibration_end: date | None = None,
    amounts: str | None,
) -> Iterator[tuple[Context, RecordsData | None, ModelChoice | None]]:
    """What ``fit`` and ``predict`` of a purchase model start from: the
    context of :func:`prediction_context`, ``calibration_end`` checked
    against its orders and, without ``model``, the purchase model chosen on
    a holdout (on ``calibration_end`` when given, else on one of its own)."""
    # a fit of one model on every order reads them through the per-customer
    # summary alone; a holdout or an earlier as-of date groups them by day
    summary = model is not None and calibration_end is None and as_of is None
    with prediction_context(
        orders, store=store, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to,
        date_format=date_format, amounts=amounts, summary=summary,
    ) as (ctx, data):  # fmt: skip
        if calibration_end is not None:
            first, last = data_range(ctx.source, ctx.defs)
            check_calibration_end(
                calibration_end, first, min(last, ctx.as_of), data.name if data else None
            )
        choice = None
        if model is None:
            choice = choose_model(
                ctx.source, ctx.defs, time_unit=time_unit, penalizer=penalizer,
                calibration_end=calibration_end,
            )  # fmt: skip
        yield ctx, data, choice


def fit(
    model: str | None = None,
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
    subscriptions: Any = None,
    period: str = "month",
    horizon_days: int | None = None,
    save: bool = False,
    date_format: str | None = None,
) -> FitResult:
    """Fit a model and, with ``calibration_end``, check it on what came after.

    * ``bgnbd``, ``mbgnbd``, ``paretonbd``, ``gammagamma``: on the orders up
      to ``calibration_end`` (default: all), from ``orders`` (a DataFrame or
      a file) or the store; ``None`` picks the purchase model whose holdout
      predictions are best (:func:`choose_model`; ``record["model_choice"]``
      says which and why);
    * ``sbg``: on how long subscriptions last, in renewals of ``period``
      (month or year), from ``subscriptions`` or the store; scores every
      active subscription;
    * ``churn``: the churn classifier over ``horizon_days`` (default 90),
      tested on a time split; scores every active customer.

    Rows of a file that cannot be used are written to ``rejected_to`` (a
    CSV file) when given, and always counted in ``record["orders"]`` (or
    ``record["subscriptions_file"]``). ``save=True`` keeps the fit, and the
    scores of ``sbg`` and ``churn``, in the store (only when reading from
    it)."""
    if model is not None and model not in MODELS:
        raise UsageError(
            f"{model!r} is not a model tenure fits here.", hint=f"Use one of: {', '.join(MODELS)}."
        )
    settings = settings or load_settings(store=store)
    if save and (orders is not None or subscriptions is not None):
        raise ConfigError(
            "fits of data given directly are not saved to the store.",
            hint="Ingest the data (tenure ingest KIND FILE), or drop save=True.",
        )
    if model == "sbg":
        return _fit_sbg(
            subscriptions, settings=settings, period=period, calibration_end=calibration_end,
            map=map, as_of=as_of, rejected_to=rejected_to, horizon_days=horizon_days, save=save,
            date_format=date_format,
        )  # fmt: skip
    if subscriptions is not None:
        raise ConfigError(
            f"{model or 'a purchase model'} is fitted on orders, not subscriptions.",
            hint="Pass orders=..., or fit sbg on subscriptions.",
        )
    if model == "churn":
        return _fit_churn(
            orders, settings=settings, horizon_days=horizon_days, map=map, as_of=as_of,
            rejected_to=rejected_to, save=save, date_format=date_format,
        )  # fmt: skip
    time_unit = time_unit or settings.time_unit
    cal_end = _parse_date(calibration_end, "calibration_end")
    with _purchase_context(
        orders, store=store, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to,
        date_format=date_format, model=model, time_unit=time_unit, penalizer=penalizer,
        calibration_end=cal_end,
        amounts="the Gamma-Gamma spend model" if model == "gammagamma" else None,
    ) as (ctx, data, choice):  # fmt: skip
        validation = None
        model = choice.chosen if choice else model
        if model == "gammagamma":
            target = (
                ctx if cal_end is None else Context(ctx.source, replace(ctx.defs, as_of=cal_end))
            )
            fitted: LikelihoodModel = scoring.fit_spend_model(target, penalizer=penalizer)
        elif choice is not None and choice.validation is not None:
            # the chosen candidate's holdout check is kept with the fit: on
            # the calibration end given, its calibration fit is the fit
            validation = choice.validation
            fitted = (
                validation.model
                if cal_end is not None
                else scoring.fit_purchase_model(
                    ctx, model, time_unit=time_unit, penalizer=penalizer
                )
            )
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
            validation=_kept_validation(validation),
        )
        if choice is not None:
            record["model_choice"] = choice.to_dict()
        if data is not None:
            record["orders"] = data.summary()
    if save:
        kept.save_fit(settings, record)
    return FitResult(fitted, record, validation, data)


def _kept_validation(validation: Validation | None) -> dict[str, Any] | None:
    """The holdout check as kept with the fit: its numbers, the table by
    calibration frequency and the cumulative tracking, so that the report
    and the dashboard show it without fitting again."""
    if validation is None:
        return None
    return validation.to_dict() | {"tracking": records(validation.tracking)}


def _fit_sbg(
    subscriptions: Any,
    *,
    settings: Settings,
    period: str,
    calibration_end: Any,
    map: dict[str, str] | None,
    as_of: Any,
    rejected_to: Path | None,
    horizon_days: int | None,
    save: bool,
    date_format: str | None,
) -> FitResult:
    from tenure.predictions import subscriptions as subs

    cal_end = _parse_date(calibration_end, "calibration_end")
    horizon_days = settings.clv_horizon_days if horizon_days is None else horizon_days
    with subs.subscriptions_context(
        subscriptions, settings=settings, map=map, as_of=_parse_date(as_of, "as_of"),
        rejected_to=rejected_to, date_format=date_format,
    ) as (ctx, data):  # fmt: skip
        if cal_end is not None:
            first, last = subs.durations_range(ctx)
            check_calibration_end(
                cal_end, first, last, data.name if data else None, what="subscriptions"
            )
        fitted = subs.fit_sbg(ctx, period=period, calibration_end=cal_end)
        scores = subs.score_subscriptions(
            fitted,
            subs.durations_frame(ctx, period),
            horizon_days=horizon_days,
            discount_rate=settings.discount_rate,
            margin=settings.margin,
        )
        record = kept.fit_record(
            "sbg",
            fitted.model,
            as_of=fitted.as_of,
            calibration_end=cal_end,
            time_unit=period,
            definitions=ctx.describe(),
            validation=fitted.validation,
        )
        record |= {
            "period": period,
            "subscriptions": fitted.subscriptions,
            "churned": fitted.churned,
            "active": int(len(scores)),
            "curve": fitted.curve(12 if period == "month" else 5).to_dict("records"),
            "scored_as_of": ctx.as_of.isoformat(),
            "scores": _subscription_summary(scores, horizon_days, settings)
            | {"currency": ctx.source.currency},
        }
        if data is not None:
            record["subscriptions_file"] = data.summary()
    if save:
        kept.save_fit_and_table(settings, record, "subscription_predictions", scores)
    return FitResult(fitted.model, record, None, data, scores, fitted)


def _subscription_summary(
    scores: pd.DataFrame, horizon_days: int, settings: Settings
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "horizon_days": horizon_days,
        "discount_rate": settings.discount_rate,
        "mean_renewal_probability": float(scores["renewal_probability"].mean())
        if len(scores)
        else None,
        "expected_renewals": float(scores["expected_renewals"].sum()),
    }
    if "clv" in scores:
        out["margin"] = settings.margin
        out["clv"] = float(scores["clv"].sum())
    return out


def _fit_churn(
    orders: Any,
    *,
    settings: Settings,
    horizon_days: int | None,
    map: dict[str, str] | None,
    as_of: Any,
    rejected_to: Path | None,
    save: bool,
    date_format: str | None,
) -> FitResult:
    from tenure.predictions.churn import churn_record, fit_churn

    horizon_days = CHURN_HORIZON_DAYS if horizon_days is None else horizon_days
    as_of = _parse_date(as_of, "as_of")
    if orders is None:
        with open_context(settings=settings, as_of=as_of) as ctx:
            result = fit_churn(ctx, horizon_days=horizon_days)
        data = None
    else:
        with prediction_context(
            orders, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to,
            date_format=date_format, amounts="the churn model's spend features",
        ) as (ctx, data):  # fmt: skip
            result = fit_churn(ctx, horizon_days=horizon_days)
    record = churn_record(result)
    if data is not None:
        record["orders"] = data.summary()
    if save:
        kept.save_fit_and_table(settings, record, "churn_predictions", result.customers)
    return FitResult(result.model, record, None, data, result.customers, result)


def predict(
    orders: Any = None,
    *,
    store: Any = None,
    settings: Settings | None = None,
    model: str | None = None,
    horizon_days: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    time_unit: str | None = None,
    map: dict[str, str] | None = None,
    as_of: Any = None,
    save: bool = False,
    rejected_to: Path | None = None,
    date_format: str | None = None,
) -> scoring.Scores:
    """Fit the purchase model and Gamma-Gamma, then score every customer:
    P(alive), expected purchases over the horizon, expected spend, CLV and
    the next purchase date. ``model=None`` picks the purchase model whose
    holdout predictions are best (``scores.extra["model_choice"]`` says
    which and why). ``save=True`` keeps the fits and the scores in the
    store (only when reading from it)."""
    settings = settings or load_settings(store=store)
    horizon_days = settings.clv_horizon_days if horizon_days is None else horizon_days
    discount_rate = settings.discount_rate if discount_rate is None else discount_rate
    margin = settings.margin if margin is None else margin
    time_unit = time_unit or settings.time_unit
    with _purchase_context(
        orders, store=store, settings=settings, map=map, as_of=as_of, rejected_to=rejected_to,
        date_format=date_format, model=model, time_unit=time_unit,
        amounts="customer lifetime value",
    ) as (ctx, data, choice):  # fmt: skip
        model = choice.chosen if choice else model
        purchase = scoring.fit_purchase_model(ctx, model, time_unit=time_unit)
        spend = scoring.fit_spend_model(ctx)
        # kept in the store: scored there, where the store's summary answers
        from tenure.predictions import store_scoring

        query = store_scoring.scored_query(ctx, time_unit) if save and orders is None else None
        scores = None
        if query is None:
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
        as_of, currency = ctx.as_of, ctx.source.currency
    fits = [
        kept.fit_record(
            model,
            purchase,
            as_of=as_of,
            time_unit=time_unit,
            definitions=definitions,
            validation=_kept_validation(choice.validation if choice else None),
        ),
        kept.fit_record("gammagamma", spend, as_of=as_of, definitions=definitions),
    ]
    if save and orders is not None:
        raise ConfigError(
            "scores of orders given directly are not saved to the store.",
            hint="Ingest the orders (tenure ingest orders FILE), or drop save=True.",
        )
    if query is not None:  # after the context is closed: the store is written
        scores = store_scoring.score_into_store(
            settings, query, purchase, spend, purchase_fit=fits[0], spend_fit=fits[1],
            horizon_days=horizon_days, discount_rate=discount_rate, margin=margin, model=model,
            as_of=as_of, currency=currency, rows=purchase.n_customers_,
        )  # fmt: skip
    elif save:
        kept.save_scores(settings, scores, *fits)
    if data is not None:
        scores.extra["orders"] = data.summary()
    if choice is not None:
        scores.extra["model_choice"] = choice.to_dict()
    scores.extra["fits"] = fits
    return scores
