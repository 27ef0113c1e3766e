"""Plotly figures for the report, drawn offline by the plotly.js bundled once
in the page. Colours are the Okabe-Ito palette, readable with colour-blindness."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}


# tick steps are one of these times a power of ten: ticks at 0, 25, 50, 75,
# never at 0, 23.7, 47.4
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
TICKS = 5


def nice_step(span: float, ticks: int = TICKS) -> float:
    """The smallest round step (1, 2, 2.5 or 5 x 10^k) that covers ``span``
    in at most ``ticks`` steps."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in NICE_STEPS if m * power >= raw * (1 - 1e-9))


def nice_axis(values: Iterable[float], *, low: float | None = 0.0) -> dict:
    """A y-axis at round ticks over ``values``: from ``low`` (0 for what
    cannot be negative; None to start at the data) to the first tick at or
    above the largest value."""
    data = np.asarray([v for v in values if v is not None], dtype="float64")
    data = data[np.isfinite(data)]
    if not len(data):
        return {"rangemode": "tozero"} if low == 0 else {}
    top = float(data.max())
    bottom = float(data.min()) if low is None else min(low, float(data.min()))
    if low == 0 and bottom >= 0:
        bottom = 0.0
    step = nice_step(max(top - bottom, abs(top), 1e-12))
    lo = math.floor(bottom / step + 1e-9) * step
    hi = max(math.ceil(top / step - 1e-9) * step, lo + step)
    return {"range": [lo, hi], "tick0": 0, "dtick": step, "tickmode": "linear"}


def _values(frame: pd.DataFrame, cols: Iterable[str]) -> list[float]:
    return [v for c in cols for v in pd.to_numeric(frame[c], errors="coerce").tolist()]


def _layout(fig: go.Figure, title: str, separators: str, height: int = 340, **kw) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        template="plotly_white",
        separators=separators,
        height=height,
        margin={"l": 60, "r": 20, "t": 80, "b": 40},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        **{"hovermode": "x unified", **kw},
    )
    return fig


def lines(
    frame: pd.DataFrame,
    series: Sequence[tuple[str, str]],
    title: str,
    separators: str,
    *,
    y_title: str = "",
    percent: bool = False,
    secondary: Sequence[tuple[str, str]] = (),
    secondary_title: str = "",
) -> go.Figure:
    """One line per (column, name) over ``frame.period``; ``secondary`` on a right axis."""
    fig = go.Figure()
    fmt = ".1f" if percent else ",.2f"
    for i, (col, name) in enumerate(series):
        fig.add_scatter(
            x=frame["period"], y=frame[col], name=name, mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)], "width": 2},
            hovertemplate=f"%{{y:{fmt}}}" + ("%" if percent else ""),
        )  # fmt: skip
    for j, (col, name) in enumerate(secondary):
        fig.add_scatter(
            x=frame["period"], y=frame[col], name=name, mode="lines", yaxis="y2",
            line={"color": PALETTE[(len(series) + j) % len(PALETTE)], "dash": "dot"},
            hovertemplate="%{y:,.2f}",
        )  # fmt: skip
    extra = {}
    if secondary:
        extra["yaxis2"] = {
            "title": secondary_title,
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            **nice_axis(_values(frame, [c for c, _ in secondary])),
        }
    _layout(fig, title, separators, **extra)
    fig.update_layout(
        yaxis={
            "title_text": y_title,
            "ticksuffix": "%" if percent else "",
            **nice_axis(_values(frame, [c for c, _ in series])),
        }
    )
    fig.update_xaxes(type="category")
    return fig


def flows(frame: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """New and reactivated customers as bars up, lost ones down, active
    customers at the end as a line: E = S - L + N + R."""
    fig = go.Figure()
    fig.add_bar(
        x=frame["period"], y=frame["new_customers"], name="new (N)", marker_color=PALETTE[2]
    )
    fig.add_bar(x=frame["period"], y=frame["reactivated_customers"], name="back after a lapse (R)",
                marker_color=PALETTE[5])  # fmt: skip
    fig.add_bar(x=frame["period"], y=-frame["lost_customers"], name="lost (L)", marker_color=PALETTE[3],
                customdata=frame["lost_customers"], hovertemplate="%{customdata:,}")  # fmt: skip
    fig.add_scatter(x=frame["period"], y=frame["customers_end"], name="active at the end (E)",
                    mode="lines", line={"color": PALETTE[0], "width": 2}, yaxis="y2")  # fmt: skip
    gained = (frame["new_customers"] + frame["reactivated_customers"]).tolist()
    bars = nice_axis([*gained, *(-frame["lost_customers"]).tolist()], low=None)
    _layout(fig, title, separators, barmode="relative",
            yaxis2={"title": "active", "overlaying": "y", "side": "right", "showgrid": False,
                    **nice_axis(frame["customers_end"].tolist())})  # fmt: skip
    fig.update_layout(yaxis={"title_text": "customers per period", **bars})
    fig.update_xaxes(type="category")
    return fig


def scores(frame: pd.DataFrame, kind: str, title: str, separators: str) -> go.Figure:
    """A survey score per period with its 95 % interval as error bars."""
    f = frame[frame[f"{kind}_n"] > 0]
    fig = go.Figure()
    fig.add_scatter(
        x=f["period"], y=f[kind], mode="markers+lines", name=kind.upper(),
        marker={"color": PALETTE[0], "size": 8}, line={"color": PALETTE[0]},
        error_y={"type": "data", "symmetric": False, "array": f[f"{kind}_ci_high"] - f[kind],
                 "arrayminus": f[kind] - f[f"{kind}_ci_low"], "color": PALETTE[5]},
        customdata=np.stack([f[f"{kind}_n"], f[f"{kind}_ci_low"], f[f"{kind}_ci_high"]], axis=-1),
        hovertemplate="%{y:.1f} (95% CI %{customdata[1]:.1f} to %{customdata[2]:.1f}, n = %{customdata[0]:,})",
    )  # fmt: skip
    # a score's interval may be below 0 (NPS): the axis starts where the data does
    _layout(fig, title, separators, height=300, showlegend=False,
            yaxis=nice_axis([*f[f"{kind}_ci_low"], *f[f"{kind}_ci_high"], *f[kind]], low=None))  # fmt: skip
    fig.update_xaxes(type="category")
    return fig


def heatmap(
    matrix: pd.DataFrame, title: str, separators: str, *, value: str, row_title: str
) -> go.Figure:
    """A cohort matrix: rows = cohorts (or groups), columns = periods since acquisition."""
    steps = [c for c in matrix.columns if c not in ("cohort", "size")]
    z = matrix[steps].to_numpy(dtype="float64")
    pct = value != "cumulative_revenue"
    text_fmt = "%{z:.0f}" if pct else "%{z:,.0f}"
    rows = [f"{c} (n={s:,})" for c, s in zip(matrix["cohort"], matrix["size"], strict=True)]
    capped = np.clip(z, 0, 100) if value == "customers" else z
    fig = go.Figure(
        go.Heatmap(
            z=capped, x=[str(s) for s in steps], y=rows, text=z, texttemplate=text_fmt,
            customdata=z, colorscale="Blues", hoverongaps=False,
            hovertemplate=f"%{{y}}, period %{{x}}: %{{customdata:{'.1f' if pct else ',.2f'}}}"
            + ("%" if pct else "") + "<extra></extra>",
            colorbar={"ticksuffix": "%" if pct else ""},
        )
    )  # fmt: skip
    height = max(260, 24 * len(rows) + 130)
    _layout(fig, title, separators, height=height, hovermode="closest")
    fig.update_layout(margin={"t": 80})
    fig.update_yaxes(autorange="reversed", title_text=row_title, type="category")
    fig.update_xaxes(type="category", side="top")
    return fig


def shares(sizes: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """Share of customers and share of revenue per segment, side by side."""
    fig = go.Figure()
    fig.add_bar(y=sizes["segment"], x=sizes["share"], orientation="h", name="customers",
                marker_color=PALETTE[0], hovertemplate="%{x:.1f}% of customers")  # fmt: skip
    fig.add_bar(y=sizes["segment"], x=sizes["revenue_share"], orientation="h", name="revenue",
                marker_color=PALETTE[1], hovertemplate="%{x:.1f}% of revenue")  # fmt: skip
    _layout(fig, title, separators, height=max(260, 34 * len(sizes) + 100), barmode="group",
            hovermode="y unified")  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(ticksuffix="%")
    return fig


def transitions(matrix: pd.DataFrame, title: str, separators: str) -> go.Figure:
    z = matrix.to_numpy(dtype="float64")
    rows = z.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, z / rows * 100.0, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=share, x=list(matrix.columns), y=list(matrix.index), text=z, texttemplate="%{text:,.0f}",
            colorscale="Purples", hoverongaps=False, customdata=z,
            hovertemplate="%{y} → %{x}: %{customdata:,} customers (%{z:.0f}% of the row)<extra></extra>",
            colorbar={"ticksuffix": "%", "title": "% of row"},
        )
    )  # fmt: skip
    _layout(fig, title, separators, height=30 * len(matrix) + 220, hovermode="closest")
    fig.update_layout(margin={"t": 150, "l": 150})
    fig.update_yaxes(autorange="reversed", title_text="from", type="category")
    fig.update_xaxes(type="category", side="top", tickangle=-40)
    return fig


def benchmark(rows: list[tuple[str, float, bool]], title: str, separators: str) -> go.Figure:
    """Retention by industry, the business's own bar highlighted."""
    fig = go.Figure(
        go.Bar(
            x=[r[1] for r in rows], y=[r[0] for r in rows], orientation="h",
            marker_color=[PALETTE[1] if r[2] else PALETTE[5] for r in rows],
            text=[f"{r[1]:.0f}%" for r in rows], textposition="outside", hovertemplate="%{x:.1f}%<extra></extra>",
        )
    )  # fmt: skip
    _layout(fig, title, separators, height=60 * len(rows) + 90, hovermode="closest")
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def to_html(fig: go.Figure, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def tracking(frame: pd.DataFrame, calibration_end: str, title: str, separators: str) -> go.Figure:
    """Cumulative repeat purchases by week, actual and predicted, with the
    calibration end marked."""
    fig = go.Figure()
    fig.add_scatter(
        x=frame["date"], y=frame["actual"], name="actual", mode="lines",
        line={"color": PALETTE[0], "width": 2}, hovertemplate="%{y:,.0f}",
    )  # fmt: skip
    fig.add_scatter(
        x=frame["date"], y=frame["predicted"], name="model", mode="lines",
        line={"color": PALETTE[1], "width": 2, "dash": "dash"}, hovertemplate="%{y:,.0f}",
    )  # fmt: skip
    fig.add_vline(x=pd.Timestamp(calibration_end).timestamp() * 1000, line_dash="dot",
                  line_color="#777", annotation_text="calibration end",
                  annotation_position="top left")  # fmt: skip
    return _layout(fig, title, separators, yaxis={"title": "repeat purchases (cumulative)",
                   **nice_axis([*frame["actual"], *frame["predicted"]])})  # fmt: skip


def by_frequency(frame: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """Mean holdout purchases by calibration frequency, actual and predicted."""
    labels = [f"{x}+" if x == frame["x"].max() and x >= 7 else str(x) for x in frame["x"]]
    fig = go.Figure()
    fig.add_bar(x=labels, y=frame["actual"], name="actual", marker_color=PALETTE[0],
                hovertemplate="%{y:.2f}")  # fmt: skip
    fig.add_scatter(x=labels, y=frame["predicted"], name="model", mode="lines+markers",
                    line={"color": PALETTE[1], "width": 2}, hovertemplate="%{y:.2f}")  # fmt: skip
    return _layout(fig, title, separators, xaxis_title="repeat purchase days before the calibration end",
                   yaxis={"title": "mean purchases in the holdout",
                          **nice_axis([*frame["actual"], *frame["predicted"]])})  # fmt: skip


def histogram(
    values: pd.Series, title: str, x_title: str, separators: str, bins: int = 40
) -> go.Figure:
    """Customers per bin of ``values``, counted here: the page carries the
    ``bins`` counts, not a million values for the browser to count."""
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    counts, edges = np.histogram(data, bins=bins) if len(data) else (np.zeros(0), np.zeros(1))
    fig = go.Figure()
    fig.add_bar(
        x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges),
        customdata=np.column_stack([edges[:-1], edges[1:]]) if len(counts) else None,
        marker_color=PALETTE[0], marker_line_width=0, name="customers",
        hovertemplate="%{customdata[0]:,.2f} – %{customdata[1]:,.2f}: %{y:,} customers<extra></extra>",
    )  # fmt: skip
    return _layout(fig, title, separators, xaxis_title=x_title,
                   yaxis={"title": "customers", **nice_axis(counts)},
                   hovermode="closest", showlegend=False, bargap=0)  # fmt: skip


def alive_map(matrix: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """Mean P(alive) by repeat purchase days (rows) and days since the last
    purchase (columns)."""
    z = matrix.to_numpy(dtype="float64") * 100
    fig = go.Figure(
        go.Heatmap(
            z=z, x=[str(c) for c in matrix.columns], y=[str(i) for i in matrix.index],
            text=z, texttemplate="%{z:.0f}", colorscale="RdYlGn", zmin=0, zmax=100,
            hoverongaps=False, colorbar={"ticksuffix": "%"},
            hovertemplate="%{y} repeat days, %{x} days since: P(alive) %{z:.0f}%<extra></extra>",
        )
    )  # fmt: skip
    _layout(fig, title, separators, height=380, hovermode="closest")
    fig.update_yaxes(title_text="repeat purchase days", type="category")
    fig.update_xaxes(title_text="days since the last purchase", type="category")
    return fig


def drivers(importances: pd.Series, title: str, separators: str) -> go.Figure:
    """Mean absolute contribution to the churn score per feature (index: the
    feature's plain name), the largest on top."""
    fig = go.Figure(
        go.Bar(
            x=importances.to_numpy(dtype="float64"), y=[str(i) for i in importances.index],
            orientation="h", marker_color=PALETTE[0],
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )  # fmt: skip
    _layout(fig, title, separators, height=max(260, 24 * len(importances) + 120),
            hovermode="closest", showlegend=False)  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(title_text="mean |contribution| to the log-odds of churn")
    return fig


def calibration(frame: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """Observed churn share against mean predicted probability, one point per
    group of customers, with the diagonal where the two are equal."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="predicted = observed",
        line={"color": "#999", "dash": "dot", "width": 1}, hoverinfo="skip",
    )  # fmt: skip
    fig.add_scatter(
        x=frame["predicted"], y=frame["observed"], mode="lines+markers", name="model",
        line={"color": PALETTE[0], "width": 2}, customdata=frame["customers"],
        hovertemplate="predicted %{x:.0%}, observed %{y:.0%} (%{customdata:,} customers)"
        "<extra></extra>",
    )  # fmt: skip
    _layout(fig, title, separators, hovermode="closest")
    fig.update_xaxes(title_text="mean predicted churn probability", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title_text="share that churned", tickformat=".0%", range=[0, 1])
    return fig


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def survival(
    curves: dict[str, pd.DataFrame],
    projected: dict[str, pd.DataFrame],
    title: str,
    separators: str,
) -> go.Figure:
    """Kaplan-Meier step curves (``time``, ``survival``, ``lower``, ``upper``,
    ``at_risk``) and a model's projected S(t) (``time``, ``survival``) dashed
    in the same colour, in percent. With one curve its 95 % band is drawn and
    every line is in the legend; with several, one legend entry per curve
    (the title should say that dashed lines are the model)."""
    fig = go.Figure()
    names = list(dict.fromkeys([*curves, *projected]))
    single = len(names) == 1
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        group = None if single else name  # a group per curve would break a one-curve legend
        km = curves.get(name)
        if km is not None:
            if single:
                fig.add_scatter(x=km["time"], y=100 * km["lower"], mode="lines", line_shape="hv",
                                line={"width": 0}, hoverinfo="skip", showlegend=False)  # fmt: skip
                fig.add_scatter(
                    x=km["time"], y=100 * km["upper"], mode="lines", line_shape="hv",
                    line={"width": 0}, fill="tonexty", fillcolor=_rgba(colour, 0.18),
                    name="95 % band", hoverinfo="skip",
                )  # fmt: skip
            fig.add_scatter(
                x=km["time"], y=100 * km["survival"], name="Kaplan–Meier" if single else name,
                mode="lines", line={"color": colour, "width": 2}, line_shape="hv",
                customdata=km["at_risk"], legendgroup=group,
                hovertemplate="%{y:.1f}% (%{customdata:,} at risk)",
            )  # fmt: skip
        model = projected.get(name)
        if model is not None:
            fig.add_scatter(
                x=model["time"], y=100 * model["survival"],
                name="sBG model" if single else f"{name} (sBG)", legendgroup=group,
                showlegend=single or km is None, mode="lines+markers",
                line={"color": colour, "width": 2, "dash": "dash"}, marker={"size": 4},
                hovertemplate="%{y:.1f}%",
            )  # fmt: skip
    _layout(fig, title, separators, height=380, legend_traceorder="normal")
    fig.update_yaxes(title_text="still subscribed", range=[0, 101], ticksuffix="%")
    fig.update_xaxes(title_text="months since the start")
    return fig


def hazard_ratios(frame: pd.DataFrame, title: str, separators: str) -> go.Figure:
    """Hazard ratios with their intervals (``covariate``, ``hazard_ratio``,
    ``lower``, ``upper``, ``p``) on a log axis, 1 marked."""
    fig = go.Figure(
        go.Scatter(
            x=frame["hazard_ratio"], y=frame["covariate"], mode="markers",
            marker={"color": PALETTE[3], "size": 9},
            error_x={"type": "data", "symmetric": False, "array": frame["upper"] - frame["hazard_ratio"],
                     "arrayminus": frame["hazard_ratio"] - frame["lower"], "color": PALETTE[3]},
            customdata=np.stack([frame["lower"], frame["upper"], frame["p"]], axis=-1),
            hovertemplate="%{y}: %{x:.2f} (95% CI %{customdata[0]:.2f} to %{customdata[1]:.2f}, "
            "p = %{customdata[2]:.3f})<extra></extra>",
        )
    )  # fmt: skip
    fig.add_vline(x=1, line_dash="dot", line_color="#777")
    _layout(fig, title, separators, height=max(260, 30 * len(frame) + 130), hovermode="closest",
            showlegend=False)  # fmt: skip
    fig.update_xaxes(type="log", title_text="hazard ratio (1 = as the reference)")
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    return fig


def lift_intervals(labels: Sequence[str], estimates: Sequence[float],
                   fixed: Sequence[Sequence[float | None]],
                   anytime: Sequence[Sequence[float | None]], title: str,
                   separators: str) -> go.Figure:  # fmt: skip
    """Relative lifts (fractions) as points with their 95 % interval (thick)
    and anytime-valid interval (thin) around them, one row per metric, and
    the line of no effect: a reader sees at once which intervals leave zero."""

    def bars(cis: Sequence[Sequence[float | None]]) -> dict:
        hi = [
            100 * (c[1] - e) if c[1] is not None else None
            for c, e in zip(cis, estimates, strict=True)
        ]
        lo = [
            100 * (e - c[0]) if c[0] is not None else None
            for c, e in zip(cis, estimates, strict=True)
        ]
        return {"type": "data", "symmetric": False, "array": hi, "arrayminus": lo}

    y = list(labels)
    x = [100 * e for e in estimates]
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="markers", name="anytime-valid interval",
                    error_x={**bars(anytime), "thickness": 1, "width": 10,
                             "color": PALETTE[1]},
                    marker={"color": "rgba(0,0,0,0)"}, hoverinfo="skip")  # fmt: skip
    fig.add_scatter(x=x, y=y, mode="markers", name="95 % interval",
                    error_x={**bars(fixed), "thickness": 4, "width": 0, "color": PALETTE[0]},
                    marker={"color": PALETTE[0], "size": 10},
                    hovertemplate="%{x:+.1f} %<extra></extra>")  # fmt: skip
    fig.add_vline(x=0, line_color="#777", line_dash="dot")
    _layout(fig, title, separators, height=140 + 50 * len(y), hovermode="closest",
            xaxis={"title": "relative lift (%)", "zeroline": False},
            yaxis={"autorange": "reversed"})  # fmt: skip
    # the metrics' names are long: room for them left of the axis
    return fig.update_layout(margin={"l": 280})
