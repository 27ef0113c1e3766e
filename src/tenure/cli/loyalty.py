"""``tenure loyalty earn | redeem | reverse | adjust | balance | history |
expire | tiers | tier``: the points ledger and its tiers from the command
line, thin over :mod:`tenure.loyalty`. The program's settings are the
``[loyalty]`` table of tenure.toml. The rewards catalogue, referrals and
challenges are in :mod:`tenure.cli.loyalty_rewards`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


@contextmanager
def _ledger(store, *, create: bool = False) -> Iterator[tuple[Any, Any]]:
    """The workspace and the program's policy (the [loyalty] table of
    tenure.toml), from one reading of the settings. With ``create``, a store
    made for this write is removed again when the write fails."""
    from tenure.loyalty import Policy
    from tenure.store.workspace import Workspace, removed_if_failed

    settings = engine_settings(store)
    policy = Policy.from_settings(settings.loyalty)
    with ExitStack() as stack:
        if create:
            stack.enter_context(removed_if_failed(settings.store))
        yield stack.enter_context(Workspace.open(settings, create=create)), policy


def _when(value: Any) -> str:
    """An ISO time as YYYY-MM-DD HH:MM (UTC) for a terminal."""
    return "—" if value is None else str(value)[:16].replace("T", " ")


def _posted(posting, key: str | None, json_: bool) -> dict | None:
    """A write's document for the terminal; None once printed as JSON. A
    retry that changed nothing says so on stderr either way."""
    if posting.replayed:
        said = f"under the key {key!r}" if key else "for this order line"
        print(f"tenure: already posted {said}; nothing changed.", file=sys.stderr)
    if json_:
        emit_json(posting.doc)
        return None
    return posting.doc


def _totals(doc: dict, lead: str = "Balance: ") -> str:
    text = f"{lead}{doc['balance']:,} points"
    if doc["pending"]:
        text += f", {doc['pending']:,} pending"
    if doc["debt"]:
        text += f"; {doc['debt']:,} owed from a clawback"
    return text + "."


EARN_HELP = """Give a customer points; they become a member if they are not one yet.

The points are usable at once, or with --pending once the return window
(30 days unless tenure.toml's [loyalty] says otherwise) has closed. They
expire 365 days after they were earned by default. Points earned while a
clawback is owed pay it first. --amount records what they were earned for,
which tiers qualified on spend count; a write that lifts the member over
a tier's threshold upgrades them at once.

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
    amount: Annotated[
        float | None,
        typer.Option(
            "--amount",
            help="What the points were earned for, in the reporting currency (counts toward "
            "tiers qualified on spend).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty

    with _ledger(store, create=True) as (ws, policy):
        posting = loyalty.earn(ws.ops, customer, points, reason=reason, key=key, pending=pending,
                               amount=amount, policy=policy)  # fmt: skip
    doc = _posted(posting, key, json_)
    if doc is None:
        return
    entry, lot = doc["entry"], doc["lot"]
    if entry["kind"] == "pending":
        what = (f"Recorded {entry['pending']:,} pending points for {customer} (entry "
                f"{entry['id']}), usable from {_when(lot['available_at'])[:10]}.")  # fmt: skip
    else:
        what = f"Earned {entry['points']:,} points for {customer} (entry {entry['id']})."
    if doc["debt_paid"]:
        what += f" {doc['debt_paid']:,} of them paid a clawback owed."
    out_console(markup=False).print(f"{what} {_totals(doc)}{_tier(doc)}")


def _tier(doc: dict) -> str:
    return f" Tier: {doc['tier']}." if doc.get("tier") else ""


REDEEM_HELP = """Spend a member's points, from the lots that expire soonest.

A redemption beyond the points available is refused (exit 1) and changes
nothing; pending points cannot be spent until approved. --reward naming a
reward of the catalogue (tenure loyalty rewards) redeems it: POINTS may be
left out for a discount or a product; a partial redemption spends POINTS
on an order of --order-total.

Example:

    tenure loyalty redeem C1042 500 --reward "5 EUR voucher" --key order-7781-voucher

    tenure loyalty redeem C1042 1500 --reward pay-with-points --order-total 42.50
"""


@app.command("redeem", help=REDEEM_HELP)
def redeem(
    customer: Customer,
    points: Annotated[
        int | None,
        typer.Argument(help="Whole number of points, 1 or more (for a catalogue discount or "
                       "product: its cost, which may be left out).", show_default=False),
    ] = None,
    reward: Annotated[
        str | None,
        typer.Option("--reward", help="What the points paid for: a reward of the catalogue "
                     "(its id), or any text.", show_default=False),
    ] = None,
    order_total: Annotated[
        float | None,
        typer.Option("--order-total", help="A partial redemption: the order's total, in the "
                     "reporting currency.", show_default=False),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option("--order", help="The order a catalogue reward is for.", show_default=False),
    ] = None,
    key: KeyOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure import loyalty
    from tenure.cli import loyalty_rewards as catalogue
    from tenure.errors import UsageError

    with _ledger(store) as (ws, policy):
        if points is None or catalogue.in_catalogue(ws, reward):
            if reward is None:
                raise UsageError(
                    "redeem needs POINTS, or --reward with a reward of the catalogue.",
                    hint="See the catalogue: tenure loyalty rewards",
                )
            posting = catalogue.redeem_from_catalogue(ws, policy, customer, reward, points,
                                                      order_total, order, key)  # fmt: skip
        else:
            posting = loyalty.redeem(ws.ops, customer, points, reward=reward, key=key,
                                     policy=policy)  # fmt: skip
    doc = _posted(posting, key, json_)
    if doc is None:
        return
    lots = " and ".join(f"lot {p['lot_id']} ({p['points']:,})" for p in doc["from_lots"])
    what = f" ({catalogue.describe_redemption(doc)})" if doc.get("redemption") else ""
    out_console(markup=False).print(
        f"Redeemed {-doc['entry']['points']:,} points for {customer}{what} (entry "
        f"{doc['entry']['id']}), from {lots}. {_totals(doc)}"
    )


BALANCE_HELP = """Show a member's balance, pending points and lots.

With --json: customer_id, balance, pending, debt, available, tier (null:
no tier, or a program without tiers), tier_progress (the tier's period,
what the next tier still needs and what keeping this one needs by its
review), next_expiry and lots.

Example:

    tenure loyalty balance C1042 --json
"""


@app.command("balance", help=BALANCE_HELP)
def balance(
    customer: Customer, wide: WideOption = False, store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure import loyalty

    with _ledger(store) as (ws, policy):
        doc = loyalty.balance(ws.ops, customer, policy=policy)
    if json_:
        emit_json(doc)
        return
    out = out_console(markup=False)
    out.print(_totals(doc, lead=f"{customer}: "), soft_wrap=False)
    if doc["tier_progress"] is not None:
        out.print(_progress(doc["tier_progress"]))
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


def _amount(value: float | int, basis: str) -> str:
    return f"{value:,} points" if basis == "points" else f"{value:,.2f} of spend"


def _progress(p: dict) -> str:
    """The tier lines of ``balance``: what the library decided, in words."""
    basis = p["basis"]
    window = "the last 12 months" if p["window"] == "rolling_12_months" else "this calendar year"
    if p["tier"] is None:
        text = "No tier."
    elif p["manual"]:
        text = f"Tier: {p['tier']} (set by hand) until {_when(p['kept_until'])} UTC."
    else:
        text = f"Tier: {p['tier']}, kept until {_when(p['kept_until'])} UTC."
        keep = p["to_keep"]
        if keep and keep["needed"]:
            text += (f" To keep it: {_amount(keep['needed'], basis)} more by "
                     f"{_when(keep['by'])} UTC.")  # fmt: skip
    text += f" Qualifying: {_amount(p['qualifying'], basis)} in {window}."
    nxt = p["next_tier"]
    if nxt:
        text += f" {nxt['name']}: {_amount(nxt['needed'], basis)} to go."
    return text


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

    with _ledger(store) as (ws, _):
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
    out = out_console(markup=False)
    print_table(out, cols, rows, title=f"Loyalty history of {customer}", wide=wide)
    for change in doc["tier_changes"]:
        was = change["previous"] or "no tier"
        out.print(f"{_when(change['at'])} UTC: tier {change['kind']}, {was} → "
                  f"{change['tier'] or 'no tier'}.")  # fmt: skip


EXPIRE_HELP = """Expire the points whose expiry has passed, and approve pending points
whose return window has closed, for every member, and record the tier
reviews due (downgrades after their grace days, manual tiers that ended).
Run it daily; every write for a member also does it for that member
first. It also removes idempotency keys older than 24 hours.

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
    with _ledger(store) as (ws, policy):
        doc = loyalty.expire(ws.ops, as_of=moment, policy=policy)
    if json_:
        emit_json(doc)
        return
    out_console(markup=False).print(
        f"Expired {doc['expired_points']:,} points in {doc['expired_lots']:,} lot(s) and "
        f"approved {doc['approved_points']:,} pending points in {doc['approved_lots']:,} "
        f"lot(s), for {doc['members']:,} member(s), as of {_when(doc['as_of'])} UTC. "
        f"Recorded {doc['tier_changes']:,} tier change(s). "
        f"Removed {doc['keys_removed']:,} idempotency key(s) older than 24 h."
    )


REVERSE_HELP = """Undo an earning or a redemption, in whole or in part, as a new entry.

An earning's points come back from its lot, then from the member's other
lots; what was already spent is kept as a debt that later points pay
first. A redemption's points come back as a fresh lot. Find the entry's
number with `tenure loyalty history`.

Example:

    tenure loyalty reverse C1042 7 --points 40 --reason "partial refund" --key refund-7781
"""


@app.command("reverse", help=REVERSE_HELP)
def reverse(
    customer: Customer,
    entry: Annotated[int, typer.Argument(help="The entry to undo (its number in the history).")],
    points: Annotated[
        int | None,
        typer.Option("--points", help="Undo only this many points. Default: all that is left.",
                     min=1, show_default=False),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, shown in the history.", show_default=False)
    ] = None,
    key: KeyOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure import loyalty

    with _ledger(store) as (ws, policy):
        posting = loyalty.reverse(ws.ops, customer, entry, points=points, reason=reason, key=key,
                                  policy=policy)  # fmt: skip
    doc = _posted(posting, key, json_)
    if doc is None:
        return
    e = doc["entry"]
    moved = e["points"] + e["pending"]
    what = "Gave back" if moved > 0 else "Took back"
    text = f"{what} {abs(moved):,} points of entry {entry} for {customer} (entry {e['id']})."
    if doc["debt"]:
        text += f" {doc['debt']:,} points are owed."
    out_console(markup=False).print(f"{text} {_totals(doc)}{_tier(doc)}")


ADJUST_HELP = """Correct a member's points by hand, with a reason.

Points above zero are a new lot; below zero they are taken as a clawback
is (a debt for what the member no longer has).

Example:

    tenure loyalty adjust C1042 25 --reason "goodwill after a late delivery"

    tenure loyalty adjust C1042 -10 --reason "double entry" --key fix-0412
"""


@app.command(
    "adjust", help=ADJUST_HELP, context_settings={"ignore_unknown_options": True}
)  # a negative number of points is an argument, not an option
def adjust(
    customer: Customer,
    points: Annotated[int, typer.Argument(help="Points to add (25) or take (-25).")],
    reason: Annotated[str, typer.Option("--reason", help="Why: required, shown in the history.")],
    key: KeyOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure import loyalty

    with _ledger(store) as (ws, policy):
        posting = loyalty.adjust(ws.ops, customer, points, reason=reason, key=key, policy=policy)
    doc = _posted(posting, key, json_)
    if doc is None:
        return
    e = doc["entry"]
    what = "Added" if e["points"] > 0 else "Took"
    out_console(markup=False).print(
        f"{what} {abs(e['points']):,} points for {customer} (entry {e['id']}). "
        f"{_totals(doc)}{_tier(doc)}"
    )


TIERS_HELP = """Show the program's tiers, their thresholds and how many members hold each.

Tiers are declared in tenure.toml under [loyalty] (see docs/loyalty.md):
qualified on points earned or spend over a rolling 12 months or a calendar
year, never on the balance.

Example:

    tenure loyalty tiers --json
"""


@app.command("tiers", help=TIERS_HELP)
def tiers(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.loyalty import tier_table

    with _ledger(store) as (ws, policy):
        doc = tier_table(ws.ops, policy=policy)
    if json_:
        emit_json(doc)
        return
    basis = "points earned" if doc["basis"] == "points" else "spend"
    window = "a rolling 12 months" if doc["window"] == "rolling_12_months" else "a calendar year"
    out = out_console(markup=False)
    cols = [Col("tier", numeric=False), Col("threshold"), Col("members")]
    rows = [[t["name"], "—" if t["threshold"] is None else f"{t['threshold']:,}",
             f"{t['members']:,}"] for t in doc["tiers"]]  # fmt: skip
    rows.append(["(no tier)", "", f"{doc['no_tier']:,}"])
    print_table(out, cols, rows, title=f"Tiers on {basis} over {window} ({doc['timezone']})")
    grace = f", {doc['grace_days']} grace days before a downgrade" if doc["grace_days"] else ""
    out.print(f"{doc['members']:,} member(s), {doc['manual']:,} with a tier set by hand{grace}.")


TIER_HELP = """Give a member a tier by hand until a date, whatever they earn meanwhile.

After the date (the end of that day on the program's clock, [loyalty]
timezone, UTC by default) their tier is what they qualify for again.

Example:

    tenure loyalty tier C1042 Gold --until 2027-03-31 --reason "service recovery"
"""


@app.command("tier", help=TIER_HELP)
def tier(
    customer: Customer,
    name: Annotated[str, typer.Argument(help="A tier declared in tenure.toml.")],
    until: Annotated[
        str, typer.Option("--until", help="The last day of the manual tier (YYYY-MM-DD).")
    ],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, kept with the change.", show_default=False)
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.loyalty import set_tier
    from tenure.loyalty.clock import day_after

    day_after(until, option="--until")  # checked before opening
    with _ledger(store) as (ws, policy):
        zone = policy.tiers.timezone if policy.tiers is not None else "UTC"
        end = day_after(until, option="--until", zone=zone)
        doc = set_tier(ws.ops, customer, name, until=end, reason=reason, policy=policy)
    if json_:
        emit_json(doc)
        return
    was = doc["previous"] or "no tier"
    out_console(markup=False).print(
        f"{customer}: tier {doc['tier']} (was {was}) until {_when(doc['until'])} UTC."
    )


# the program's reports: liability and effect (tenure.cli.loyalty_program)
from tenure.cli import loyalty_program  # noqa: E402

loyalty_program.register(app)
# earning from ingested orders (tenure loyalty post)
from tenure.cli.loyalty_post import register as _register_post  # noqa: E402

_register_post(app)
# rewards catalogue, referrals, challenges and badges
from tenure.cli.loyalty_rewards import register  # noqa: E402

register(app, _ledger)
# the webhooks' commands live in their own module
from tenure.cli.loyalty_webhooks import HELP as _WEBHOOKS_HELP  # noqa: E402
from tenure.cli.loyalty_webhooks import app as _webhooks_app  # noqa: E402

app.add_typer(_webhooks_app, name="webhooks", help=_WEBHOOKS_HELP)
