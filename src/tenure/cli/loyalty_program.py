"""``tenure loyalty liability | effect``: what the program owes and what it
does for retention, thin over :mod:`tenure.loyalty.liability` and
:mod:`tenure.loyalty.effect`."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

LIABILITY_HELP = """What the points members hold are worth, less expected breakage.

liability = outstanding points × point value × (1 − expected breakage).
Breakage is the share of the points of closed lots (expired or fully
used) that expired rather than were redeemed; until breakage_min_lots lots
have closed, breakage_fallback is used. Point value and both settings are
in the [loyalty] table of tenure.toml. See docs/loyalty.md, Liability.

Example:

    tenure loyalty liability --as-of 2026-12-31 --json
"""

EFFECT_HELP = """The program's effect on buying again, corrected for who chose to join.

Each member is compared with non-members who had the same purchase days
and recency on the day the member joined (their first ledger entry); the
outcome is a purchase within --horizon days after it. The naive
comparison of all members with all non-members is shown beside it. See
docs/loyalty.md, Program effect.

Example:

    tenure loyalty effect --json
"""


def liability(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="As at the end of this day (YYYY-MM-DD, UTC). Default: now.",
                     show_default=False),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.loyalty import liability as lib
    from tenure.loyalty.clock import end_of_day
    from tenure.store.workspace import Workspace

    moment = end_of_day(as_of) if as_of is not None else None
    settings = engine_settings(store)
    with Workspace.open(settings, create=False) as ws:
        doc = lib.from_settings(ws.ops, ws.settings, as_of=moment).doc()
    if json_:
        emit_json(doc)
        return
    b = doc["breakage"]
    cur = f" {doc['currency']}" if doc["currency"] else ""
    if b["source"] == "history":
        why = (f"from the program's history: {b['expired_points']:,} of "
               f"{b['expired_points'] + b['redeemed_points']:,} points of {b['closed_lots']:,} "
               "closed lots expired")  # fmt: skip
    else:
        why = (f"the fallback breakage_fallback: {b['closed_lots']:,} lot(s) closed, "
               f"{b['min_lots']:,} needed for the program's own history")  # fmt: skip
    out_console(markup=False).print(
        f"Liability as of {doc['as_of'][:16].replace('T', ' ')} UTC: "
        f"{doc['liability']:,.2f}{cur}.\n"
        f"{doc['outstanding_points']:,} points outstanding ({doc['members_with_points']:,} "
        f"member(s)) × {doc['point_value']:g}{cur} = {doc['gross_value']:,.2f}{cur}, less expected "
        f"breakage of {b['rate']:.1%} ({why}).",
        highlight=False,
    )


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}"


def effect(
    horizon: Annotated[
        int, typer.Option("--horizon", help="Days after joining in which a purchase counts.",
                          min=1)
    ] = 90,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.loyalty import effect as lib
    from tenure.store.workspace import Workspace

    settings = engine_settings(store)
    with Workspace.open(settings, create=False) as ws:
        doc = lib.estimate(ws.ops, ws.settings, horizon_days=horizon).doc()
    if json_:
        emit_json(doc)
        return
    est, naive = doc["estimate"], doc["naive"]
    out = out_console(markup=False)
    out.print(
        f"Bought again within {doc['horizon_days']} days of joining (data to {doc['data_end']}):",
        highlight=False,
    )
    if est["difference"] is None:
        out.print("  no member could be compared yet. " + " ".join(doc["notes"]), highlight=False)
        return
    out.print(
        f"  matched estimate: {_pct(est['difference'])} (95 % interval {_pct(est['ci_low'])} to "
        f"{_pct(est['ci_high'])}): members {est['member_rate']:.1%} against "
        f"{est['control_rate']:.1%} of matched non-members; {est['members']:,} members in "
        f"{doc['strata']:,} strata, {doc['unmatched']:,} without a match.",
        highlight=False,
    )
    if naive["difference"] is not None:
        out.print(
            f"  naive (not corrected for who joins): {_pct(naive['difference'])} "
            f"({naive['member_rate']:.1%} against {naive['control_rate']:.1%} of all non-members).",
            highlight=False,
        )
    for note in doc["notes"]:
        out.print("  " + note, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("liability", help=LIABILITY_HELP)(liability)
    app.command("effect", help=EFFECT_HELP)(effect)
