"""``tenure fit``, ``tenure predict`` and ``tenure fits``: the buy-till-you-die
models, fitted, scored and kept."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli._common import (
    AsOfOption,
    JsonOption,
    StoreOption,
    TimezoneOption,
    emit_json,
    engine_settings,
    fmt_number,
    one_of,
    out_console,
    progress,
)
from tenure.cli.tables import Col, WideOption, print_table

FIT_HELP = """Fit a model and show how well it does.

MODEL is bgnbd (BG/NBD), mbgnbd (MBG/NBD), paretonbd (Pareto/NBD) or
gammagamma (spend per purchase), shown with standard errors, log-likelihood
and AIC. Without MODEL, the purchase model whose predictions of a holdout
(the last third of the history, at most a year) are best is fitted, and
the output says which and why. With
--calibration-end the model is fitted on the orders up to that date and
checked against the orders after it. sbg (shifted-beta-geometric) fits how
long subscriptions last, in renewals of --period, shows the survival curve
and, with --calibration-end, follows the subscriptions active then. churn
fits the churn classifier over --horizon days, tests it on a later window
against a recency-only baseline (AUC, Brier score, top-decile lift) and
lists the riskiest customers with their drivers.

Fits from the store are kept in it (sbg and churn also keep their scores,
in subscription_predictions and churn_predictions). --orders FILE (or
--subscriptions FILE for sbg) fits a CSV, Parquet or JSON-lines file,
mapped like `tenure ingest`, without a store.

Examples:

    tenure fit

    tenure fit bgnbd --calibration-end 2026-03-31

    tenure fit bgnbd --orders orders.csv --calibration-end 1997-09-30 --time-unit week --json

    tenure fit sbg --subscriptions subscriptions.csv --period month --calibration-end 2025-12-31

    tenure fit churn --horizon 90 --export churn.csv
"""

PREDICT_HELP = """Score every customer: the probability they are still a
customer (P(alive)), expected purchases and spend over the horizon, predicted
customer lifetime value (discounted, times the margin) and the expected next
purchase date. The scores go to the store's customer_predictions table, and
--export writes them to a CSV file.

Examples:

    tenure predict --horizon 365 --margin 0.3

    tenure predict --orders orders.parquet --export scores.csv --json
"""

OrdersOption = Annotated[
    Path | None,
    typer.Option(
        "--orders",
        help="Fit this CSV, Parquet or JSON-lines file of orders instead of the store.",
        show_default=False,
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help='With --orders: map a column to a field, e.g. --map "Order Date=placed_at".',
        show_default=False,
    ),
]
DateFormatOption = Annotated[
    str | None,
    typer.Option(
        "--date-format",
        help="With a file: how its dates are written, e.g. %d.%m.%Y (default: detected).",
        show_default=False,
    ),
]
TimeUnitOption = Annotated[
    str | None,
    typer.Option(
        "--time-unit",
        help="Fit in days or weeks (the papers use weeks). Default: day, or the time_unit setting.",
        show_default=False,
        callback=one_of("day", "week"),
    ),
]


FITS_HELP = """Every fit kept in the store, oldest first: the model, its version,
when it was fitted and on data up to which day, whether it converged, and
the holdout check kept with it by tenure fit MODEL --calibration-end DATE
(the error of the predicted repeat purchases, the MAE per customer). A later
fit does not hide an earlier one's check. The report, the dashboard's
Predictions page and GET /api/v1/predictions/fits show the same list.

Example:

    tenure fits --json
"""


def _mapping(flags: list[str] | None) -> dict[str, str] | None:
    if not flags:
        return None
    from tenure.errors import InputError

    out = {}
    for flag in flags:
        source, sep, target = flag.rpartition("=")
        if not sep or not source or not target:
            raise InputError(
                f"--map {flag!r} is not SOURCE=field.",
                hint='Write the source column, =, then the field, e.g. --map "Order Date=placed_at".',
            )
        out[source] = target.strip()
    return out


def _rejected_path(orders: Path | None) -> Path | None:
    """Rows of --orders that cannot be used go to a file next to it."""
    return None if orders is None else orders.with_name(orders.stem + ".rejected.csv")


def _say_rejected(summary: dict[str, Any] | None) -> None:
    """A line on stderr: how many rows of a file were left out, why, and where they are."""
    if not summary or not summary["rejected"]:
        return
    from tenure.cli._common import err_console
    from tenure.ingestion.quarantine import describe

    first = "; ".join(describe(summary["source"], r) for r in summary["first_rejected"])
    where = f" All of them: {summary['quarantine']}" if summary["quarantine"] else ""
    err_console().print(
        f"{summary['rejected']:,} of {summary['rows']:,} rows were left out ({first}).{where}",
        highlight=False,
    )


@contextmanager
def _rows_left_out_said() -> Iterator[None]:
    """Rows of a file left out are reported once, by :func:`_say_rejected`
    after the command, not as warnings; when the command fails, the
    warnings are said before the error, for they may be its cause."""
    from tenure.cli._common import err_console
    from tenure.errors import TenureError
    from tenure.given import RejectedRowsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RejectedRowsWarning)
        try:
            yield
        except TenureError:
            for w in caught:
                if issubclass(w.category, RejectedRowsWarning):
                    err_console().print(str(w.message), highlight=False)
            raise
        finally:
            # anything else caught is shown as it would have been
            for w in caught:
                if not issubclass(w.category, RejectedRowsWarning):
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def fit(
    model: Annotated[
        str | None,
        typer.Argument(
            help="bgnbd, mbgnbd, paretonbd, gammagamma, sbg or churn. Leave it out to fit "
            "the purchase model that predicts a holdout best.",
            show_default=False,
        ),
    ] = None,
    orders: OrdersOption = None,
    subscriptions: Annotated[
        Path | None,
        typer.Option(
            "--subscriptions",
            help="sbg: fit this CSV, Parquet or JSON-lines file of subscriptions "
            "(id, customer_id, started_at, ended_at; empty ended_at = active).",
            show_default=False,
        ),
    ] = None,
    period: Annotated[
        str, typer.Option(help="sbg: the length of one renewal, month or year.")
    ] = "month",
    horizon: Annotated[
        int | None,
        typer.Option(
            help="churn: churn within this many days (default 90). sbg: days ahead for "
            "the expected renewals and value (default clv_horizon_days).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="churn: customers to list, riskiest first.")] = 10,
    export: Annotated[
        Path | None,
        typer.Option(
            help="sbg, churn: write every score (subscription or customer) to this CSV file.",
            show_default=False,
        ),
    ] = None,
    calibration_end: Annotated[
        str | None,
        typer.Option(
            "--calibration-end",
            help="Fit on the orders up to this date (YYYY-MM-DD); check against the rest.",
            show_default=False,
        ),
    ] = None,
    time_unit: TimeUnitOption = None,
    penalizer: Annotated[
        float, typer.Option(help="L2 penalty on the parameters; try 0.001 if a fit fails.")
    ] = 0.0,
    map_: MapOption = None,
    date_format: DateFormatOption = None,
    as_of: AsOfOption = None,
    timezone: TimezoneOption = None,
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.analysis.fitting import fit as run_fit

    settings = engine_settings(store, timezone=timezone)
    from_store = orders is None and subscriptions is None
    with progress(not json_) as update, _rows_left_out_said():
        update(f"fitting {model}" if model else "choosing the purchase model on a holdout")
        result = run_fit(
            model,
            orders,
            subscriptions=subscriptions,
            settings=settings,
            calibration_end=calibration_end,
            time_unit=time_unit,
            period=period,
            horizon_days=horizon,
            penalizer=penalizer,
            map=_mapping(map_),
            as_of=as_of,
            rejected_to=_rejected_path(orders if subscriptions is None else subscriptions),
            save=from_store,
            date_format=date_format,
        )
        record = result.record
        _say_rejected(result.orders.summary() if result.orders else None)
        if export is not None and result.scores is not None:
            update(f"writing {export}")
            from tenure.csvexport import write_csv

            write_csv(result.scores, export)
            record["export"] = str(export)
    if model == "churn":
        record["top_customers"] = record["top_customers"][:top]
    if json_:
        emit_json(record)
        return
    if model == "churn":
        _print_churn(record, wide)
    else:
        _print_fit(record)
    if export is not None and result.scores is not None:
        out_console().print(f"Wrote {export}")


def _print_fit(record: dict[str, Any]) -> None:
    from rich.table import Table

    out = out_console()
    unit = f", t in {record['time_unit']}s" if record.get("time_unit") else ""
    who = "customers"
    if record["model"] == "sbg":
        unit, who = f", t in renewals ({record['time_unit']}s)", "subscriptions"
    table = Table(
        "parameter", "estimate", "std. error", "95 % interval",
        title=f"{record['model']} on {record['n_customers']:,} {who}, as of {record['as_of']}{unit}",
    )  # fmt: skip
    for name, value in record["params"].items():
        se = record["std_errors"][name]
        table.add_row(
            name, f"{value:.4g}", f"{se:.3g}", f"{value - 1.96 * se:.4g} – {value + 1.96 * se:.4g}"
        )
    out.print(table)
    out.print(
        f"log-likelihood {record['log_likelihood']:,.1f}   AIC {record['aic']:,.1f}"
        + ("" if record["converged"] else "   (the optimiser did not report convergence)")
    )
    if record["model"] == "sbg":
        _print_sbg(record)
        return
    if record.get("model_choice"):
        out.print(record["model_choice"]["reason"] + ".")
    v = record.get("validation")
    if v:
        out.print(
            f"Holdout {v['calibration_end']} → {v['holdout_end']}: "
            f"{v['actual_purchases']:,.0f} repeat purchases, predicted "
            f"{v['predicted_purchases']:,.0f} ({fmt_number(v['total_error_pct'], 1, ' %')}); "
            f"per customer MAE {v['mae']:.3f}, RMSE {v['rmse']:.3f}, correlation "
            f"{fmt_number(v['correlation'], 3)}"
        )
        t = Table("calibration x", "customers", "actual", "predicted",
                  title="Mean holdout purchases by calibration frequency")  # fmt: skip
        for row in v["by_frequency"]:
            label = f"{row['x']}+" if row["x"] == 7 else str(row["x"])
            t.add_row(
                label, f"{row['customers']:,}", f"{row['actual']:.3f}", f"{row['predicted']:.3f}"
            )
        out.print(t)
    if record.get("orders", {}).get("quarantine"):
        o = record["orders"]
        out.print(f"{o['rejected']:,} rows left out; see {o['quarantine']}")
    if record.get("fit_id"):
        out.print(f"Kept as {record['model']} version {record['model_version']} in the store.")


def _print_sbg(record: dict[str, Any]) -> None:
    from rich.table import Table

    out = out_console()
    unit = record["period"]
    out.print(
        f"{record['subscriptions']:,} subscriptions, {record['churned']:,} cancelled by "
        f"{record['as_of']}; {record['active']:,} active on {record['scored_as_of']}, the last day."
    )
    curve = Table(f"{unit}s", "still active", "renewal rate",
                  title=f"A new cohort, as the model projects it (per {unit})")  # fmt: skip
    for row in record["curve"]:
        r = row["retention"]
        curve.add_row(
            str(row["t"]), f"{row['survival']:.1%}", "—" if r is None or r != r else f"{r:.1%}"
        )
    out.print(curve)
    v = record.get("validation")
    if v:
        t = Table(f"{unit}s after", "actual", "predicted",
                  title=f"Holdout: of the {v['active_at_calibration_end']:,} subscriptions active "
                  f"on {v['calibration_end']}, still active")  # fmt: skip
        for row in v["tracking"]:
            t.add_row(str(row["period"]), f"{row['actual']:,}", f"{row['predicted']:,.1f}")
        out.print(t)
        if v["mape_pct"] is not None:
            out.print(
                f"Mean absolute error over {v['periods_followed']} {unit}s: {v['mape_pct']:.1f} %"
            )
        else:
            out.print(f"No whole {unit} has passed since {v['calibration_end']} to check against.")
    sc = record["scores"]
    if sc.get("mean_renewal_probability") is not None:
        line = (
            f"Active subscriptions renew next time with probability "
            f"{sc['mean_renewal_probability']:.1%} on average; over {sc['horizon_days']} days "
            f"they should renew {sc['expected_renewals']:,.0f} times"
        )
        if "clv" in sc:
            line += (
                f", worth {sc['clv']:,.0f} {sc['currency']} (discounted at "
                f"{sc['discount_rate']:.0%} a year, "
                f"margin {sc['margin']:.0%})"
            )
        out.print(line + ".")
    if record.get("fit_id"):
        out.print(
            f"Kept as sbg version {record['model_version']}, with the scores in "
            "subscription_predictions."
        )


def _print_churn(record: dict[str, Any], wide: bool = False) -> None:
    from rich.table import Table

    out = out_console()
    w, n = record["windows"], record["sizes"]
    out.print(
        f"Churn within {record['horizon_days']} days ({record['params']['backend']}): trained on "
        f"{n['train']:,} customers active on {w['train']}, tested on {n['test']:,} active on "
        f"{w['test']}, scoring {n['score']:,} active on {w['score']}."
    )
    t = Table("scorer", "AUC", "Brier", "top-decile lift", "churn rate",
              title="Test window: the model against a recency-only baseline")  # fmt: skip
    names = {"model": "model", "recency_baseline": "recency only"}
    for scorer, row in record["validation"].items():
        t.add_row(
            names.get(scorer, scorer), f"{row['auc']:.3f}", f"{row['brier']:.3f}",
            f"{row['lift_top_decile']:.2f}×", f"{row['churn_rate']:.1%}",
        )  # fmt: skip
    out.print(t)
    d = Table("feature", "mean |contribution|", title="What drives churn (log-odds)")
    for name, value in list(record["drivers"].items())[:10]:
        d.add_row(name, f"{value:.3f}")
    out.print(d)
    rows = []
    for row in record["top_customers"]:
        drivers = []
        k = 1
        while f"driver_{k}" in row:
            if row[f"driver_{k}"] is not None:
                value = row[f"driver_{k}_value"]
                whole = isinstance(value, float) and value.is_integer()
                drivers.append(
                    f"{row[f'driver_{k}']} = {fmt_number(value, 0 if whole else 2)} "
                    f"({row[f'driver_{k}_contribution']:+.2f})"
                )
            k += 1
        rows.append(
            [str(row["customer_id"]), f"{row['churn_probability']:.1%}", "; ".join(drivers)]
        )
    cols = [Col("customer", numeric=False), Col("churn probability"),
            Col("top drivers", numeric=False)]  # fmt: skip
    title = f"The {len(record['top_customers'])} customers most likely to churn"
    print_table(out, cols, rows, title=title, wide=wide)
    out.print(
        f"Expected to churn within {record['horizon_days']} days: "
        f"{record['predicted_churners']:,.0f} of the {record['n_customers']:,} customers scored."
        + (
            f" Kept as churn version {record['model_version']}, with the scores in "
            "churn_predictions."
            if record.get("fit_id")
            else ""
        )
    )


def predict(
    horizon: Annotated[
        int | None,
        typer.Option(help="Days ahead for purchases and CLV. Default: clv_horizon_days (365)."),
    ] = None,
    discount_rate: Annotated[
        float | None,
        typer.Option(help="Yearly discount rate for CLV. Default: discount_rate (0.10)."),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(help="Share of revenue that is profit, for CLV (1 = revenue)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="bgnbd, mbgnbd or paretonbd. Default: the one that predicts a holdout best.",
            show_default=False,
            callback=one_of("bgnbd", "mbgnbd", "paretonbd"),
        ),
    ] = None,
    orders: OrdersOption = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Write every customer's scores to this CSV file.", show_default=False),
    ] = None,
    top: Annotated[int, typer.Option(help="Customers to list, by predicted CLV.")] = 10,
    time_unit: TimeUnitOption = None,
    map_: MapOption = None,
    date_format: DateFormatOption = None,
    as_of: AsOfOption = None,
    timezone: TimezoneOption = None,
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.analysis.fitting import predict as run_predict
    from tenure.analysis.predictions import alive_headline, scores_document

    settings = engine_settings(store, timezone=timezone)
    with progress(not json_) as update, _rows_left_out_said():
        update("fitting and scoring")
        scores = run_predict(
            orders,
            settings=settings,
            model=model,
            horizon_days=horizon,
            discount_rate=discount_rate,
            margin=margin,
            time_unit=time_unit,
            map=_mapping(map_),
            as_of=as_of,
            save=orders is None,
            rejected_to=_rejected_path(orders),
            date_format=date_format,
        )
        _say_rejected(scores.extra.get("orders"))
        if export:
            update(f"writing {export}")
            from tenure.csvexport import write_csv

            write_csv(scores.customers, export)
    result = scores_document(scores, scores.extra["fits"], top) | {"saved_to_store": orders is None}
    if "orders" in scores.extra:
        result["orders"] = scores.extra["orders"]
    if export:
        result["export"] = str(export)
    if json_:
        emit_json(result)
        return

    out = out_console()
    if result["model_choice"]:
        out.print(result["model_choice"]["reason"] + ".")
    out.print(
        f"Scored {result['customers']:,} customers as of {result['as_of']} with {scores.model} + "
        f"Gamma-Gamma: {alive_headline(result)}; "
        f"over {scores.horizon_days} days they should make {result['expected_purchases']:,.0f} "
        f"purchases worth {result['predicted_clv']:,.0f} {scores.currency} "
        f"(discounted at {scores.discount_rate:.0%} a year, margin {scores.margin:.0%})."
    )
    cols = [Col("customer", numeric=False), Col("orders", rank=3), Col("recency (days)", rank=4),
            Col("P(alive)"), Col("purchases", rank=2), Col("spend", rank=5), Col("CLV"),
            Col("next purchase", rank=1)]  # fmt: skip
    rows = []
    for _, r in scores.top(top).iterrows():
        nxt = r["next_purchase_date"]
        rows.append([
            str(r["customer_id"]), f"{r['orders']:,}", f"{r['recency_days']:,}",
            f"{r['p_alive']:.2f}", f"{r['expected_purchases']:.2f}",
            fmt_number(r["expected_spend"], 2), fmt_number(r["clv"], 2),
            "—" if nxt is None or str(nxt) == "NaT" else str(nxt)[:10],
        ])  # fmt: skip
    print_table(out, cols, rows, title=f"Top {top} customers by predicted CLV", wide=wide)
    if orders is None:
        out.print("Kept in the store: table customer_predictions (and the fits in model_fits).")
    if export:
        out.print(f"Wrote {export}")


def fits(wide: WideOption = False, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.analysis.predictions import fits_document, stored_predictions

    document = fits_document(stored_predictions(engine_settings(store)))
    if json_:
        emit_json(document)
        return
    out = out_console()
    if not document["fits"]:
        out.print("No fit is kept in the store yet: run tenure predict, or tenure fit MODEL.")
        return
    # the columns that give way first on a narrow terminal: the version, the
    # log-likelihood, when it was fitted and the convergence (--wide shows all)
    cols = [Col("fit"), Col("model", numeric=False), Col("version", rank=6),
            Col("fitted", numeric=False, rank=4), Col("data to", numeric=False),
            Col("calibration end", numeric=False, rank=2), Col("customers", rank=3),
            Col("converged", numeric=False, rank=5), Col("log-lik.", rank=7),
            Col("holdout error"), Col("holdout MAE", rank=1),
            Col("rows since", rank=8)]  # fmt: skip
    rows = []
    for f in document["fits"]:
        v = f.get("validation") or {}
        since = f.get("staleness") or {}
        rows.append([
            str(f["fit_id"]), f["model"], str(f["model_version"]), str(f["fitted_at"])[:16],
            f["as_of"], f.get("calibration_end") or "—", fmt_number(f.get("n_customers"), 0),
            "yes" if f.get("converged") else "no", fmt_number(f.get("log_likelihood"), 1),
            fmt_number(v.get("total_error_pct"), 1, " %"), fmt_number(v.get("mae"), 3),
            fmt_number(since.get("rows_ingested"), 0),
        ])  # fmt: skip
    print_table(out, cols, rows, title="Fits kept in the store", wide=wide)
    stale = [f for f in document["fits"] if (f.get("staleness") or {}).get("stale")]
    if stale:
        newest = stale[-1]["staleness"]
        out.print(
            f"{len(stale)} of the fits are older than the data: the newest of them was fitted "
            f"{newest['age_days']:.1f} days ago, and {newest['rows_ingested']:,} rows were "
            "ingested after it. tenure predict (or tenure fit MODEL) fits again."
        )
