"""``tenure demo``: generate the demo business and ingest it as a user would."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from tenure.access import demo_login
from tenure.cli._common import (
    JsonOption,
    StoreOption,
    emit_json,
    err_console,
    out_console,
    progress,
)
from tenure.datamodel import INGEST_ORDER

HELP = """Generate a seeded demo business and ingest it into the store.

The business sells online in eight countries and six currencies; purchases
follow BG/NBD with Gamma-Gamma spend and subscriptions the sBG model
(parameters in docs/demo.md). Its files are written to --out and ingested
with the same path as `tenure ingest`; then the purchase model (chosen on a
holdout), the spend, subscription and churn models are fitted and kept,
and the business's loyalty program is posted to the ledger (its effect on
repurchase planted: --loyalty-effect; see docs/demo.md). Six weeks before
the data's end the business launched an at-risk outreach and a win-back
with holdouts; the outreach's effect is planted (--outreach-effect), the
win-back's is none, and both are measured as `tenure campaign status NAME
--measure` does (docs/campaigns.md, "The demo's campaigns").

Examples:

    tenure demo

    tenure demo --customers 1000000 --seed 7 --out big-demo --store big-store

    tenure demo --loyalty-effect 0 --store no-effect-store
"""


def demo(
    customers: Annotated[int, typer.Option(help="Number of customers to generate.", min=1)] = 5000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same files.")
    ] = 42,
    out: Annotated[Path, typer.Option(help="Folder for the generated files.")] = Path("demo-data"),
    loyalty_effect: Annotated[
        float,
        typer.Option(
            help="How much the loyalty program raises its members' chance of buying again "
            "within 90 days (0.1: ten points); 0 for a program that changes nothing.",
            min=0.0,
            max=0.99,
        ),
    ] = 0.1,
    outreach_effect: Annotated[
        float,
        typer.Option(
            help="How much the at-risk outreach raises its treatment arm's chance of ordering "
            "within 30 days (0.1: ten points); 0 for an outreach that changes nothing.",
            min=0.0,
            max=0.99,
        ),
    ] = 0.1,
    report: Annotated[
        Path | None,
        typer.Option(help="Write the HTML report here after ingesting (see tenure report)."),
    ] = Path("tenure-report.html"),
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write the report.")
    ] = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.config import load_settings
    from tenure.datasets.demo import generate_demo
    from tenure.ingestion.pipeline import ingest
    from tenure.store import analytics
    from tenure.store.workspace import Workspace

    settings = load_settings(store=store)
    from tenure.campaigns import demo as demo_campaigns

    results = []
    with progress(not json_) as update:
        update(f"generating {customers:,} customers")
        files = generate_demo(out, customers=customers, seed=seed, loyalty_effect=loyalty_effect)
        program_settings = _place_settings(files.settings)
        settings = load_settings(store=store, reporting_currency=files.reporting_currency)
        with Workspace.open(settings) as ws:
            # the store as it stood at the campaigns' launch, the campaigns
            # launched then, and the data after it (with their planted effect)
            early = {}
            if not demo_campaigns.all_launched(ws.ops):
                early = {r.kind: r for r in demo_campaigns.ingest_before_launch(ws, files, update)}
            planted = demo_campaigns.launch_all(
                ws.settings,
                ws.ops,
                files,
                seed=seed,
                outreach_effect=outreach_effect,
                update=update,
            )
            for kind in INGEST_ORDER:
                if kind in early:  # ingested in full before the launch
                    results.append(early[kind])
                    continue
                path = getattr(files, kind)
                result = ingest(
                    kind, path, workspace=ws, progress=lambda stage, k=kind: update(f"{k}: {stage}")
                )
                results.append(result)
            with ws.analytics(read_only=True) as con:
                headline = analytics.headline(con)
            settings = ws.settings
            login = demo_login(ws.ops)
            update("loyalty: posting the program's history to the ledger")
            program = _demo_loyalty(ws.ops, files)
            if program is not None:
                program["settings"] = program_settings
            update("campaigns: measuring the lift over the holdouts")
            campaigns = demo_campaigns.measured(ws.settings, ws.ops, planted)
        update("predictions: choosing the purchase model on a holdout, scoring customers")
        from tenure.analysis.fitting import predict

        scores = predict(settings=settings, save=True)
        update("subscriptions: fitting the sBG model, scoring the active subscriptions")
        subscriptions = _demo_subscriptions(settings)
        update("churn: fitting the classifier, scoring the active customers")
        churn = _demo_churn(settings)
        update("playbooks: running the journeys as of the data's last day")
        with Workspace.open(settings, create=False) as ws:
            playbooks = demo_campaigns.run_playbooks(
                ws.settings, ws.ops, date.fromisoformat(files.params["as_of"])
            )
        written = None
        if report is not None and not no_report:
            from tenure.report.build import write_report

            written = write_report(settings, report, progress=lambda s: update(f"report: {s}"))
    info = {
        "files": str(Path(out).resolve()),
        "store": str(settings.store.resolve()),
        "ingested": [r.to_dict() for r in results],
        "headline": headline,
        "predictions": scores.summary()
        | {"model": scores.model, "model_choice": scores.extra.get("model_choice")},
        "subscriptions": subscriptions,
        "churn": churn,
        "loyalty": program,
        "campaigns": campaigns,
        "playbooks": playbooks,
        "report": str(written.path.resolve()) if written else None,
        "dashboard": {
            "command": f"tenure serve --store {settings.store} --demo",
            "url": "http://localhost:8000/",
            "login": login,
        },
    }
    if json_:
        emit_json(info)
        return
    from rich import box
    from rich.table import Table

    from tenure.analysis.predictions import MODEL_NAMES, alive_headline

    out_c = out_console()
    table = Table(
        "kind",
        "read",
        "accepted",
        "rejected",
        "dup",
        "new",
        "updated",
        "same",
        title="Ingested",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in table.columns:
        column.no_wrap = True
        column.min_width = len(str(column.header))
    table.columns[0].min_width = max(len(k) for k in INGEST_ORDER)
    for r in results:
        table.add_row(
            r.kind,
            *(
                f"{getattr(r, k):,}"
                for k in (
                    "read",
                    "accepted",
                    "rejected",
                    "duplicates",
                    "inserted",
                    "updated",
                    "unchanged",
                )
            ),
        )
    out_c.print(table)
    h = headline
    out_c.print(
        f"[bold]Headline[/] ({h['first_order']} → {h['last_order']}): "
        f"{h['customers']:,} customers, {h['orders']:,} orders, revenue "
        f"{h['revenue']:,.2f} {h['currency']} (completed orders), "
        f"{h['repeat_customers_share']:.1%} of buyers ordered twice or more, "
        f"{h['refunded_share']:.1%} of orders refunded or cancelled, "
        f"{h['active_subscriptions']:,} active subscriptions, "
        f"{h['survey_responses']:,} survey answers."
    )
    p = info["predictions"]
    if p["model_choice"]:
        out_c.print(p["model_choice"]["reason"] + ".", highlight=False)
    out_c.print(
        f"[bold]Predictions[/] ({MODEL_NAMES[p['model']]} + Gamma-Gamma, kept in the store): "
        f"{alive_headline(p)}; "
        f"over the next {settings.clv_horizon_days} days all {p['customers']:,} buyers should make "
        f"{p['expected_purchases']:,.0f} purchases worth {p['predicted_clv']:,.0f} {h['currency']}. "
        f"See them with: tenure predict --store {settings.store}"
    )
    if subscriptions is not None:
        sub = subscriptions
        curve = "; ".join(
            f"{row['t']} {'month' if row['t'] == 1 else 'months'} {row['survival']:.0%}"
            for row in sub["curve"]
            if row["t"] in (1, 3, 6, 12)
        )
        out_c.print(
            f"[bold]Subscriptions[/] (sBG, kept in the store): of {sub['subscriptions']:,} "
            f"subscriptions, {sub['churned']:,} have ended and {sub['active']:,} are active. "
            f"A new one is still subscribed after {curve}. The report's churn and survival "
            f"section draws the curves. See them with: tenure fit sbg --store {settings.store}",
            highlight=False,
        )
    if churn is not None:
        out_c.print(
            f"[bold]Churn[/] (kept in the store): of the {churn['customers']:,} active customers, "
            f"{churn['predicted_churners']:,.0f} are expected to churn in the next "
            f"{churn['horizon_days']} days (test-window AUC {churn['auc']:.2f}). "
            f"See them with: tenure fit churn --store {settings.store}"
        )
    if program is not None:
        # the demo's history redeems only what its members hold: a row left
        # out would be a fault of the generator, and is said
        left_out = (f" ({program['refused']:,} redemptions beyond a balance left out)"
                    if program["refused"] else "")  # fmt: skip
        out_c.print(
            f"[bold]Loyalty[/] (in the ledger): {program['members']:,} members, "
            f"{program['entries']:,} entries posted{left_out}. See them with: tenure loyalty "
            f"tiers --store {settings.store}; tenure loyalty effect --store {settings.store}"
        )
        placed = program["settings"]
        if placed["in_use"]:
            out_c.print(f"Settings:   {placed['path']}  (the loyalty program's tiers and "
                        "rewards)", markup=False, highlight=False)  # fmt: skip
        else:
            out_c.print(f"Settings:   your tenure.toml is kept; the demo program's is "
                        f"{placed['path']} (use it with TENURE_CONFIG={placed['path']})",
                        markup=False, highlight=False)  # fmt: skip
    for name, c in campaigns.items():
        lift, truth = c["measure"]["lifts"][0], c["truth"]
        low, high = lift["absolute"]["ci"]
        out_c.print(
            f"[bold]Campaign {name}[/] (launched {planted['launched_at'][:10]}, "
            f"{c['status']['assigned']:,} assigned, {c['status']['fates']['sent']:,} sent): "
            f"{lift['absolute']['estimate']:+.1%} ordering within {c['measure']['window_days']} "
            f"days against its holdout (95 % interval {low:+.1%} to {high:+.1%}, "
            f"{lift['verdict']}); planted {truth['planted_effect']:+.1%}. See it with: "
            f"tenure campaign status {name} --measure --store {settings.store}",
            highlight=False,
        )
    runs = playbooks["journeys"]
    parts = ", ".join(f"{n} {j['entries']:,}" for n, j in runs.items())
    out_c.print(
        f"[bold]Playbooks[/] (journeys, run as of {playbooks['at'][:10]}): entries {parts}; "
        f"{sum(j['messages'] for j in runs.values()):,} messages queued. See one with: "
        f"tenure journey status welcome --store {settings.store}",
        highlight=False,
    )
    out_c.print(f"Demo files: {info['files']}")
    out_c.print(
        f"Store:      {info['store']}  (inspect with: tenure status --store {settings.store})"
    )
    if written is not None:
        out_c.print(
            f"Report:     {info['report']}  ({written.bytes / 1e6:.1f} MB; open it in a browser)"
        )
    if login is not None:
        out_c.print(
            f"Dashboard:  tenure serve --store {settings.store} --demo   then open "
            f"http://localhost:8000/ and log in as {login['email']} / {login['password']}"
        )
    else:
        out_c.print(
            "Dashboard:  needs the web extra: pip install 'tenure[web]', then run tenure demo again"
        )
    for r in results:
        if r.rejected:
            err_console().print(
                f"{r.kind}: {r.rejected} rejected, see {r.quarantine}", markup=False
            )


def _place_settings(written: Path) -> dict:
    """The demo program's tenure.toml (``written`` in the demo's files) made
    the one the commands read: copied to ./tenure.toml unless there is one
    already, or TENURE_CONFIG names another (those are kept as they are)."""
    import os
    import shutil

    here = Path("tenure.toml")
    if os.environ.get("TENURE_CONFIG"):
        return {"path": str(written.resolve()), "in_use": False}
    if here.exists():  # the demo's own, from an earlier run, is in use
        same = here.read_bytes() == written.read_bytes()
        return {"path": str((here if same else written).resolve()), "in_use": same}
    shutil.copyfile(written, here)
    return {"path": str(here.resolve()), "in_use": True}


def _demo_loyalty(ops, files) -> dict | None:
    """Post the demo program's history (members joining, points of their
    purchases, vouchers) to the ledger, under the settings of the demo's
    tenure.toml, then record the expiries due by now; None for a store that
    already has members."""
    from tenure import loyalty
    from tenure.config import loyalty_settings_of
    from tenure.loyalty.history_import import import_history, read_events

    policy = loyalty.Policy.from_settings(loyalty_settings_of(files.settings))
    done = import_history(ops, read_events(files.loyalty_ledger), policy=policy)
    if done.skipped and not done.members:
        return None
    loyalty.expire(ops, policy=policy)
    return {"members": done.members, "entries": done.entries, "refused": done.refused,
            "planted_effect": files.params["loyalty"]["planted_effect"]}  # fmt: skip


def _demo_subscriptions(settings) -> dict | None:
    """Fit the sBG model of how long subscriptions last and keep it with the
    active subscriptions' scores; None when the data cannot give one."""
    from tenure.analysis.fitting import fit
    from tenure.errors import TenureError

    try:
        record = fit("sbg", settings=settings, save=True).record
    except TenureError:
        return None
    keys = ("params", "std_errors", "subscriptions", "churned", "active", "curve")
    return {k: record[k] for k in keys}


def _demo_churn(settings) -> dict | None:
    """Fit the churn classifier and keep its scores, for the dashboard's
    churn risk and drivers; None when the data cannot give one."""
    from tenure.analysis.fitting import fit
    from tenure.errors import TenureError

    try:
        result = fit("churn", settings=settings, save=True)
    except TenureError:
        return None
    model = result.record["validation"].get("model", {})
    return {
        "customers": len(result.scores),
        "horizon_days": result.record["horizon_days"],
        "auc": model.get("auc"),
        "predicted_churners": result.record["predicted_churners"],
    }
