"""``tenure loyalty rewards | referral-code | refer | referrals | event |
challenges``, and the catalogue form of ``redeem``: the rewards catalogue,
referrals and challenges from the command line, thin over
:mod:`tenure.loyalty.rewards`, :mod:`~tenure.loyalty.referrals` and
:mod:`~tenure.loyalty.challenges`. Declared in tenure.toml's [loyalty] table."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, out_console
from tenure.cli.tables import Col, print_table

Customer = Annotated[str, typer.Argument(help="The customer's id, as in the ingested data.")]


def _program(ws: Any) -> Any:
    from tenure.loyalty_settings import Program

    return Program.from_settings(ws.settings.loyalty)


def _money(value: Any) -> str:
    return "—" if value is None else f"{value:,.2f}"


def redeem_from_catalogue(ws: Any, policy: Any, customer: str, reward: str, points: int | None,
                          order_total: float | None, order_id: str | None,
                          key: str | None) -> Any:  # fmt: skip
    """``redeem --reward R`` for a reward of the catalogue: the posting."""
    from tenure.loyalty.rewards import redeem_reward

    return redeem_reward(ws.ops, customer, reward, points=points, order_total=order_total,
                         order_id=order_id, key=key, program=_program(ws), policy=policy)  # fmt: skip


def in_catalogue(ws: Any, reward: str | None) -> bool:
    return reward is not None and _program(ws).reward(reward) is not None


def describe_redemption(doc: dict) -> str:
    r = doc["redemption"]
    if r["kind"] == "discount":
        return f"{r['reward']}: {_money(r['value'])} off"
    if r["kind"] == "product":
        return f"{r['reward']}: product {r['product_id']}"
    return (f"{r['reward']}: {_money(r['value'])} of an order of {_money(r['order_total'])}, "
            f"{_money(r['to_pay'])} left to pay")  # fmt: skip


def register(app: typer.Typer, ledger: Any) -> None:
    """Add the commands to ``tenure loyalty``; ``ledger`` opens the workspace
    and the policy (``tenure.cli.loyalty._ledger``)."""

    @app.command("rewards", help=REWARDS_HELP)
    def rewards(store: StoreOption = None, json_: JsonOption = False) -> None:
        from tenure.loyalty.rewards import catalogue

        with ledger(store) as (ws, _):
            doc = catalogue(ws.ops, program=_program(ws))
        if json_:
            emit_json(doc)
            return
        out = out_console(markup=False)
        if not doc["rewards"]:
            out.print("No rewards declared: add them to tenure.toml under [loyalty] "
                      "(see docs/loyalty.md, Rewards).")  # fmt: skip
            return
        cols = [Col("reward", numeric=False), Col("kind", numeric=False), Col("points"),
                Col("gives", numeric=False, rank=1), Col("redeemed"), Col("reversed"),
                Col("left")]  # fmt: skip
        rows = []
        for r in doc["rewards"]:
            if r["kind"] == "discount":
                gives, points = f"{_money(r['value'])} off", f"{r['points']:,}"
            elif r["kind"] == "product":
                gives, points = f"product {r['product_id']}", f"{r['points']:,}"
            else:
                gives = f"up to {r['max_share']:.0%} of an order"
                points = f"{r['min_points']:,}+"
            left = "—" if r["left"] is None else f"{r['left']:,}"
            rows.append([f"{r['id']} ({r['name']})" if r["name"] != r["id"] else r["id"],
                         r["kind"], points, gives, f"{r['redeemed']:,}", f"{r['reversed']:,}",
                         left])  # fmt: skip
        print_table(out, cols, rows, title="Rewards catalogue")
        out.print(f"One point is worth {doc['point_value']} in the reporting currency.")

    @app.command("referral-code", help=CODE_HELP)
    def referral_code(
        customer: Customer,
        email: Annotated[str | None, typer.Option("--email", help="The member's e-mail, kept "
                         "(as a digest) to refuse self-referrals.", show_default=False)] = None,
        address: Annotated[str | None, typer.Option("--address", help="The member's postal "
                           "address, kept likewise.", show_default=False)] = None,
        payment_fingerprint: Annotated[str | None, typer.Option(
            "--payment-fingerprint", help="The fingerprint of the member's payment method "
            "(from the payment provider), kept likewise.", show_default=False)] = None,
        store: StoreOption = None,
        json_: JsonOption = False,
    ) -> None:  # fmt: skip
        from tenure.loyalty.referrals import referral_code as code_of

        with ledger(store, create=True) as (ws, _):
            doc = code_of(ws.ops, customer, email=email, address=address,
                          payment_fingerprint=payment_fingerprint)  # fmt: skip
        if json_:
            emit_json(doc)
            return
        out_console(markup=False).print(f"Referral code of {customer}: {doc['code']}")

    @app.command("refer", help=REFER_HELP)
    def refer(
        code: Annotated[str, typer.Argument(help="The advocate's referral code.")],
        friend: Annotated[str, typer.Argument(help="The friend's customer id.")],
        email: Annotated[str | None, typer.Option("--email", help="The friend's e-mail.",
                                                  show_default=False)] = None,
        address: Annotated[str | None, typer.Option("--address", help="The friend's address.",
                                                    show_default=False)] = None,
        payment_fingerprint: Annotated[str | None, typer.Option(
            "--payment-fingerprint", help="The fingerprint of the friend's payment method.",
            show_default=False)] = None,
        store: StoreOption = None,
        json_: JsonOption = False,
    ) -> None:  # fmt: skip
        from tenure.loyalty.referrals import refer as record

        with ledger(store) as (ws, _):
            doc = record(ws.ops, code, friend, email=email, address=address,
                         payment_fingerprint=payment_fingerprint, store=ws)  # fmt: skip
        if json_:
            emit_json(doc)
            return
        if doc["status"] == "refused":
            why = doc["reason_text"] + (f" ({doc['detail']})" if doc["detail"] else "")
            out_console(markup=False).print(f"Referral {doc['id']} of {friend} by {doc['advocate_id']} "
                                f"recorded as refused: {why}.")  # fmt: skip
            return
        again = " (recorded before)" if doc["replayed"] else ""
        out_console(markup=False).print(
            f"Referral {doc['id']}{again}: {friend}, referred by {doc['advocate_id']}, is "
            f"{doc['status']}; both are rewarded after {friend}'s first qualifying order."
        )

    @app.command("referrals", help=REFERRALS_HELP)
    def referrals(
        settle: Annotated[bool, typer.Option("--settle", help="First decide and pay the "
                          "referrals whose friend has a qualifying order in the store.")] = False,
        advocate: Annotated[str | None, typer.Option("--advocate", help="Only this advocate's.",
                                                     show_default=False)] = None,
        store: StoreOption = None,
        json_: JsonOption = False,
    ) -> None:  # fmt: skip
        from tenure.loyalty import referrals as lib

        with ledger(store) as (ws, policy):
            settled = None
            if settle:
                settled = lib.settle_referrals(ws.ops, ws, program=_program(ws), policy=policy)
            doc = lib.referrals(ws.ops, advocate=advocate)
        if settled is not None:
            doc["settled"] = {k: settled[k] for k in ("qualified", "refused", "rewarded",
                                                      "waiting", "as_of")}  # fmt: skip
        if json_:
            emit_json(doc)
            return
        out = out_console(markup=False)
        if settled is not None:
            out.print(f"Settled: {settled['rewarded']:,} rewarded, {settled['refused']:,} "
                      f"refused, {settled['waiting']:,} still waiting for a qualifying order.")  # fmt: skip
        cols = [Col("id"), Col("code", numeric=False, rank=2), Col("advocate", numeric=False),
                Col("friend", numeric=False), Col("status", numeric=False),
                Col("reason / order", numeric=False, rank=1)]  # fmt: skip
        rows = []
        for r in doc["referrals"]:
            if r["status"] == "refused":
                note = r["reason_text"] + (f" ({r['detail']})" if r["detail"] else "")
            elif r["order_id"]:
                note = f"order {r['order_id']} ({_money(r['order_amount'])})"
            else:
                note = ""
            rows.append([str(r["id"]), r["code"], r["advocate_id"], r["friend_id"], r["status"],
                         note])  # fmt: skip
        print_table(out, cols, rows, title="Referrals")
        c = doc["counts"]
        out.print(f"{c['rewarded']:,} rewarded, {c['qualified']:,} qualified, {c['pending']:,} "
                  f"pending, {c['refused']:,} refused.")  # fmt: skip

    @app.command("event", help=EVENT_HELP)
    def event(
        customer: Customer,
        kind: Annotated[str, typer.Argument(help="What the member did: review, survey...")],
        key: Annotated[str | None, typer.Option("--key", help="Idempotency key: the same "
                       "event sent again with it is recorded once.", show_default=False)] = None,
        store: StoreOption = None,
        json_: JsonOption = False,
    ) -> None:  # fmt: skip
        from tenure.loyalty.challenges import record_event

        with ledger(store, create=True) as (ws, policy):
            doc = record_event(ws.ops, customer, kind, key=key, program=_program(ws),
                               policy=policy, rules=ws.settings.loyalty.earning)  # fmt: skip
        if json_:
            emit_json(doc)
            return
        again = " (recorded before; nothing changed)" if doc["replayed"] else ""
        text = f"Recorded a {kind} event for {customer}{again}."
        if doc["bonus"] is not None and not doc["bonus"]["replayed"]:
            text += f" {kind.capitalize()} bonus: {doc['bonus']['points']:,} points."
        for b in doc["badges"]:
            bonus = f" and {b['points']:,} points" if b["points"] else ""
            text += f" Badge {b['badge']!r}{bonus} for challenge {b['challenge']}."
        out_console(markup=False).print(text)

    @app.command("challenges", help=CHALLENGES_HELP)
    def challenges(
        customer: Annotated[str | None, typer.Argument(help="Show this member's progress.",
                                                       show_default=False)] = None,
        settle: Annotated[bool, typer.Option("--settle", help="First give the badges of the "
                          "challenges completed, from the store's orders and the events.")] = False,
        store: StoreOption = None,
        json_: JsonOption = False,
    ) -> None:  # fmt: skip
        from tenure.loyalty.challenges import challenge_progress, settle_challenges

        with ledger(store) as (ws, policy):
            program = _program(ws)
            settled = None
            if settle:
                settled = settle_challenges(ws.ops, ws, program=program, policy=policy)
            if customer is not None:
                doc = challenge_progress(ws.ops, ws, customer, program=program)
            else:
                doc = {"challenges": [{"id": c.id, "name": c.label(), "kind": c.kind,
                                       "event": c.event, "target": c.count, "days": c.days,
                                       "badge": c.badge, "bonus_points": c.points}
                                      for c in program.challenges]}  # fmt: skip
        if settled is not None:
            doc["settled"] = settled
        if json_:
            emit_json(doc)
            return
        out = out_console(markup=False)
        if settled is not None:
            out.print(f"Gave {len(settled['badges']):,} badge(s).")
        if not doc["challenges"]:
            out.print("No challenges declared: add them to tenure.toml under [loyalty] "
                      "(see docs/loyalty.md, Challenges and badges).")  # fmt: skip
            return
        if customer is None:
            cols = [Col("challenge", numeric=False), Col("what", numeric=False, rank=1),
                    Col("badge", numeric=False), Col("bonus")]  # fmt: skip
            rows = [[c["id"], c["name"], c["badge"], f"{c['bonus_points']:,}"]
                    for c in doc["challenges"]]  # fmt: skip
            print_table(out, cols, rows, title="Challenges")
            return
        cols = [Col("challenge", numeric=False), Col("what", numeric=False, rank=1),
                Col("progress", numeric=False), Col("window (UTC)", numeric=False, rank=2),
                Col("badge", numeric=False)]  # fmt: skip
        rows = []
        for c in doc["challenges"]:
            window = (f"{c['window_start'][:10]} to {c['window_end'][:10]}"
                      if c["window_start"] else "ever")  # fmt: skip
            badge = f"{c['badge']} ({c['completed_at'][:10]})" if c["completed"] else ""
            rows.append([c["id"], c["name"], f"{c['progress']}/{c['target']}", window, badge])
        print_table(out, cols, rows, title=f"Challenges of {customer}")


REWARDS_HELP = """List the rewards catalogue: what each reward costs and gives, how many
were redeemed and how many are left.

Rewards are declared in tenure.toml under [loyalty] (rewards = [...] or
rewards_file = "rewards.toml"): a discount for points, a free product, or
a partial redemption that pays part of an order at the point value.
Redeem one with `tenure loyalty redeem CUSTOMER --reward ID`.

Example:

    tenure loyalty rewards --json
"""

CODE_HELP = """Show a member's referral code, making it on first asking.

--email, --address and --payment-fingerprint are kept (as digests) to
refuse a friend who is the member under another id.

Example:

    tenure loyalty referral-code C1042 --email ann@example.com
"""

REFER_HELP = """Record a friend referred with an advocate's code.

Both are rewarded (tenure.toml's [loyalty] referrals) after the friend's
first qualifying order, when the referrals are settled. A friend who is
the advocate (the same id, e-mail, address or payment fingerprint) or was
referred before is recorded as refused, with the reason.

Example:

    tenure loyalty refer K7QX2MHP C2077 --email bob@example.com
"""

REFERRALS_HELP = """List the referrals, refused ones with their reasons; with --settle, first
decide and pay those whose friend's first qualifying order is in the store.

Settling twice pays once. The cap per advocate (max_per_advocate within
cap_days) refuses, with its reason, a referral beyond it.

Example:

    tenure loyalty referrals --settle --json
"""

EVENT_HELP = """Record something a member did (a review, a survey answer) for the
challenges that count it; a challenge completed gives its badge and bonus
points at once.

Example:

    tenure loyalty event C1042 review --key review-5521
"""

CHALLENGES_HELP = """List the challenges, or a member's progress in each (2/3 and the window);
with --settle, first give the badges of the challenges completed.

Example:

    tenure loyalty challenges C1042 --json
"""
