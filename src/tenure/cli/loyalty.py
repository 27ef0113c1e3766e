"""``tenure loyalty earn | redeem | balance | history | expire``: the points
ledger from the command line, thin over :mod:`tenure.loyalty`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console
from tenure.cli.tables import Col, WideOption, print_table

HELP = """The loyalty program's points ledger.

Every change is an entry that is never altered; a balance is the sum of
the member's entries. Points live in lots with their own expiry, and a
redemption spends the points that expire soonest. See docs/loyalty.md.

Example:

    tenure loyalty earn C1042 100 --reason "welcome bonus"

    tenure loyalty balance C1042 --json
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)

Customer = Annotated[str, typer.Argument(help="The customer's id, as in the ingested data.")]
Points = Annotated[int, typer.Argument(help="Whole number of points, 1 or more.")]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Idempotency key: run the same command again with the same key (after a "
        "timeout, say) and it posts nothing more, answering as the first time. Another "
        "request under a used key is refused.",
        show_default=False,
    ),
]


def _open(store, *, create: bool = False):
    from tenure.store.workspace import Workspace

    return Workspace.open(engine_settings(store), create=create)


def _when(value: Any) -> str:
    """An ISO time as YYYY-MM-DD HH:MM (UTC) for a terminal."""
    return "—" if value is None else str(value)[:16].replace("T", " ")


def _replayed(posting, key: str | None) -> None:
    if posting.replayed:
        said = f"under the key {key!r}" if key else "for this order line"
        print(f"tenure: already posted {said}; nothing changed.", file=sys.stderr)


def _totals(doc: dict, lead: str = "Balance: ") -> str:
    text = f"{lead}{doc['balance']:,} points"
    if doc["pending"]:
        text += f", {doc['pending']:,} pending"
    if doc["debt"]:
        text += f"; {doc['debt']:,} owed from a clawback"
    return text + "."


EARN_HELP = """Give a customer points; they become a member if they are not one yet.

The points are usable at once, or with --pending once the return window
(30 days) has closed. They expire 365 days after they were earned. Points
earned while a clawback is owed pay it first.

Example:

    tenure loyalty earn C1042 100 --reason "welcome bonus" --key welcome-C1042
"""


@app.command("earn", help=EARN_HELP)
def earn(
    customer: Customer,
    points: Points,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, shown in the history.", show_default=False)
    ] = None,
    key: KeyOption = None,
    pending: Annotated[
        bool,
        typer.Option("--pending", help="Hold the points until the return window closes."),
    ] = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty
    from tenure.store.workspace import removed_if_failed

    settings = engine_settings(store)
    with removed_if_failed(settings.store), _open(store, create=True) as ws:
        posting = loyalty.earn(ws.ops, customer, points, reason=reason, key=key, pending=pending)
    _replayed(posting, key)
    doc = posting.doc
    if json_:
        emit_json(doc)
        return
    entry, lot = doc["entry"], doc["lot"]
    if entry["kind"] == "pending":
        what = (f"Recorded {entry['pending']:,} pending points for {customer} (entry "
                f"{entry['id']}), usable from {_when(lot['available_at'])[:10]}.")  # fmt: skip
    else:
        what = f"Earned {entry['points']:,} points for {customer} (entry {entry['id']})."
    if doc["debt_paid"]:
        what += f" {doc['debt_paid']:,} of them paid a clawback owed."
    out_console().print(f"{what} {_totals(doc)}")


REDEEM_HELP = """Spend a member's points, from the lots that expire soonest.

A redemption beyond the points available is refused (exit 1) and changes
nothing; pending points cannot be spent until approved.

Example:

    tenure loyalty redeem C1042 500 --reward "5 EUR voucher" --key order-7781-voucher
"""


@app.command("redeem", help=REDEEM_HELP)
def redeem(
    customer: Customer,
    points: Points,
    reward: Annotated[
        str | None,
        typer.Option("--reward", help="What the points paid for.", show_default=False),
    ] = None,
    key: KeyOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty

    with _open(store) as ws:
        posting = loyalty.redeem(ws.ops, customer, points, reward=reward, key=key)
    _replayed(posting, key)
    doc = posting.doc
    if json_:
        emit_json(doc)
        return
    lots = " and ".join(f"lot {p['lot_id']} ({p['points']:,})" for p in doc["from_lots"])
    out_console().print(
        f"Redeemed {-doc['entry']['points']:,} points for {customer} (entry "
        f"{doc['entry']['id']}), from {lots}. {_totals(doc)}"
    )


BALANCE_HELP = """Show a member's balance, pending points and lots.

With --json: customer_id, balance, pending, debt, available, tier (null:
there are no tiers yet), next_expiry and lots.

Example:

    tenure loyalty balance C1042 --json
"""


@app.command("balance", help=BALANCE_HELP)
def balance(
    customer: Customer, wide: WideOption = False, store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure import loyalty

    with _open(store) as ws:
        doc = loyalty.balance(ws.ops, customer)
    if json_:
        emit_json(doc)
        return
    out = out_console()
    out.print(_totals(doc, lead=f"{customer}: "), soft_wrap=False)
    if doc["next_expiry"]:
        nxt = doc["next_expiry"]
        out.print(f"Next to expire: {nxt['points']:,} points on {_when(nxt['expires_at'])} UTC.")
    if not doc["lots"]:
        return
    cols = [Col("lot"), Col("points"), Col("left"), Col("status", numeric=False),
            Col("usable from", numeric=False, rank=1), Col("expires", numeric=False)]  # fmt: skip
    rows = [[str(lot["id"]), f"{lot['points']:,}", f"{lot['remaining']:,}", lot["status"],
             _when(lot["available_at"]), _when(lot["expires_at"])]
            for lot in doc["lots"]]  # fmt: skip
    print_table(out, cols, rows, wide=wide)


HISTORY_HELP = """List a member's ledger entries, oldest first, with the balance after each.

Example:

    tenure loyalty history C1042 --limit 20
"""


def _detail(entry: dict) -> str:
    parts = []
    if entry["reverses"]:
        parts.append(f"reverses {entry['reverses']}")
    for field in ("reason", "reward"):
        if entry[field]:
            parts.append(str(entry[field]))
    if entry["order_line"]:
        parts.append(f"order line {entry['order_line']} ({entry['rule']})")
    if entry["from_lots"]:
        parts.append("from " + ", ".join(f"lot {p['lot_id']} ({p['points']:,})"
                                         for p in entry["from_lots"]))  # fmt: skip
    elif entry["lot_id"]:
        parts.append(f"lot {entry['lot_id']}")
    return "; ".join(parts)


@app.command("history", help=HISTORY_HELP)
def history(
    customer: Customer,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Only the newest so many entries.", min=1, show_default=False),
    ] = None,
    wide: WideOption = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty

    with _open(store) as ws:
        doc = loyalty.history(ws.ops, customer, limit=limit)
    if json_:
        emit_json(doc)
        return
    cols = [Col("entry"), Col("at (UTC)", numeric=False, rank=2), Col("kind", numeric=False),
            Col("points"), Col("pending", rank=3), Col("balance"),
            Col("detail", numeric=False, rank=1)]  # fmt: skip
    rows = [[str(e["id"]), _when(e["at"]), e["kind"], f"{e['points']:+,}" if e["points"] else "0",
             f"{e['pending']:+,}" if e["pending"] else "", f"{e['balance_after']:,}",
             _detail(e)] for e in doc["entries"]]  # fmt: skip
    print_table(out_console(), cols, rows, title=f"Loyalty history of {customer}", wide=wide)


EXPIRE_HELP = """Expire the points whose expiry has passed, and approve pending points
whose return window has closed, for every member. Run it daily; every
write for a member also does it for that member first. It also removes
idempotency keys older than 24 hours.

Example:

    tenure loyalty expire --as-of 2026-12-31 --json
"""


@app.command("expire", help=EXPIRE_HELP)
def expire(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Run as at the end of this day (YYYY-MM-DD, UTC), to catch up on days "
            "missed. Default: now.",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty
    from tenure.loyalty.clock import end_of_day

    moment = end_of_day(as_of) if as_of is not None else None  # checked before opening
    with _open(store) as ws:
        doc = loyalty.expire(ws.ops, as_of=moment)
    if json_:
        emit_json(doc)
        return
    out_console().print(
        f"Expired {doc['expired_points']:,} points in {doc['expired_lots']:,} lot(s) and "
        f"approved {doc['approved_points']:,} pending points in {doc['approved_lots']:,} "
        f"lot(s), for {doc['members']:,} member(s), as of {_when(doc['as_of'])} UTC. "
        f"Removed {doc['keys_removed']:,} idempotency key(s) older than 24 h."
    )
