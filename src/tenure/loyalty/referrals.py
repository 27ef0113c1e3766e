"""Referrals: an advocate's code, a friend recorded with it, and both paid
after the friend's first qualifying order.

A referral is ``pending`` until the friend has a counted order of at least
the program's ``min_order`` in the analytics store; :func:`settle_referrals`
then decides it, oldest qualifying order first: ``refused`` (with its
reason) or ``qualified``, and pays the advocate's and the friend's points
(:mod:`.awards`), after which it is ``rewarded``. Settling again pays
nothing more: a friend is referred once (a unique key), and each payment
is an earning the ledger makes once per referral and role.

The fraud guards, each a refusal recorded with its reason and shown:

- ``self_referral``: the friend is the advocate;
- ``same_email``, ``same_address``, ``same_payment``: the friend shares the
  advocate's e-mail (compared NFKC-normalised and case-folded), postal
  address (normalised: case, accents' forms, punctuation and spaces) or
  payment fingerprint, given with the code or the referral, or found in
  the customers' data of the store;
- ``already_referred``: the friend was referred before, by another code;
- ``existing_customer``: the friend had ordered before the day the
  referral was recorded (a referral brings a new customer; the day, not
  the moment, since many order exports carry dates without times);
- ``cap_reached``: the advocate already has ``max_per_advocate`` referrals
  rewarded for qualifying orders within ``cap_days`` before this one's.

Identifiers are kept as SHA-256 digests of their normalised form: enough
to compare, never shown.

The fault points a test can stop a settlement at (:mod:`tenure.faults`),
besides the ledger's own in each payment: ``referral qualified``,
``referral advocate paid``, ``referral friend paid``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenure.errors import InputError, NotFoundError
from tenure.faults import checkpoint
from tenure.loyalty import clock, orders
from tenure.loyalty.awards import pay_award
from tenure.loyalty.idempotency import as_json
from tenure.loyalty.policy import DEFAULT, Policy, checked_customer
from tenure.loyalty.serial import member_transaction
from tenure.loyalty_settings import Program
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_referral_codes, loyalty_referrals

POINTS = ("referral qualified", "referral advocate paid", "referral friend paid")
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
CODE_LENGTH = 8
KINDS = ("email", "address", "payment")
REASONS = {
    "self_referral": "the friend is the advocate",
    "same_email": "the friend's e-mail is the advocate's",
    "same_address": "the friend's address is the advocate's",
    "same_payment": "the friend pays with the advocate's payment method",
    "already_referred": "the friend was referred before",
    "existing_customer": "the friend had ordered before being referred",
    "cap_reached": "the advocate's referrals rewarded in the period reached the cap",
}


def normal_email(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def normal_address(text: str) -> str:
    """Case, Unicode forms, punctuation and spacing set aside: 'Hauptstraße 5,
    Berlin' and 'HAUPTSTRASSE  5 berlin' are one address."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def normal_payment(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


NORMAL = {"email": normal_email, "address": normal_address, "payment": normal_payment}


def digest(kind: str, text: str | None) -> str | None:
    """The SHA-256 digest of ``text`` normalised as a ``kind``; None for nothing."""
    if text is None:
        return None
    value = NORMAL[kind](str(text))
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if value else None


def _digests(email: str | None, address: str | None, payment: str | None) -> dict[str, Any]:
    return {"email_digest": digest("email", email), "address_digest": digest("address", address),
            "payment_digest": digest("payment", payment)}  # fmt: skip


def _from_store(found: dict[str, str | None] | None) -> dict[str, Any]:
    found = found or {}
    return _digests(found.get("email"), found.get("address"), found.get("payment_fingerprint"))


def _code_row(conn: sa.Connection, code: str) -> Any:
    t = loyalty_referral_codes
    return conn.execute(sa.select(t).where(t.c.code == code)).mappings().first()


def referral_code(
    ops: OpsStore,
    customer_id: str,
    *,
    email: str | None = None,
    address: str | None = None,
    payment_fingerprint: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The member's referral code, made on first asking (the customer
    becomes a member). Identifiers given are kept (as digests) to compare
    with the friends' later; asking again keeps the code and adds them."""
    customer_id = checked_customer(customer_id)
    at = clock.utc(at) if at is not None else clock.now()
    given = {k: v for k, v in _digests(email, address, payment_fingerprint).items() if v}
    t = loyalty_referral_codes
    with member_transaction(ops, customer_id, join_at=at) as conn:
        row = conn.execute(sa.select(t).where(t.c.customer_id == customer_id)).mappings().first()
        if row is None:
            code = _new_code(conn)
            conn.execute(t.insert().values(code=code, customer_id=customer_id, created_at=at,
                                           **given))  # fmt: skip
            created = True
        else:
            code, created = row["code"], False
            if given:
                conn.execute(t.update().where(t.c.code == code).values(**given))
    return {"customer_id": customer_id, "code": code, "created": created}


def _new_code(conn: sa.Connection) -> str:
    while True:  # 32^8: a collision is rare; a taken code is drawn again
        code = "".join(secrets.choice(CODE_LETTERS) for _ in range(CODE_LENGTH))
        if _code_row(conn, code) is None:
            return code


def _checked_code(code: object) -> str:
    if not isinstance(code, str) or not code.strip():
        raise InputError(f"a referral code must be a non-empty text; got {code!r}.",
                         hint="Give the code as the advocate received it, e.g. K7QX2MHP.",
                         value=code)  # fmt: skip
    return unicodedata.normalize("NFKC", code).strip().upper()


def _merged(*sources: dict[str, Any]) -> dict[str, set[str]]:
    """Every known digest of each kind, from the code and the store."""
    out: dict[str, set[str]] = {f"{k}_digest": set() for k in KINDS}
    for source in sources:
        for name in out:
            if source.get(name):
                out[name].add(source[name])
    return out


def refer(
    ops: OpsStore,
    code: str,
    friend_id: str,
    *,
    email: str | None = None,
    address: str | None = None,
    payment_fingerprint: str | None = None,
    store: Any = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record ``friend_id`` as referred with ``code``; the referral's document.

    A friend who is the advocate (the same id, e-mail, address or payment
    fingerprint, as given here or found in the store's customers) or was
    referred before is recorded as ``refused`` with the reason. The same
    friend referred again with the same code answers with the first
    referral (``replayed``)."""
    code = _checked_code(code)
    friend_id = checked_customer(friend_id)
    at = clock.utc(at) if at is not None else clock.now()
    with ops.engine.connect() as conn:
        row = _code_row(conn, code)
    if row is None:
        raise NotFoundError(f"no member has the referral code {code!r}.",
                            hint="Check the code; a member's code is shown by "
                                 "tenure loyalty referral-code CUSTOMER.", value=code)  # fmt: skip
    advocate = row["customer_id"]
    mine = _digests(email, address, payment_fingerprint)
    known = orders.identifiers(store, [advocate, friend_id])
    t = loyalty_referrals
    with member_transaction(ops, advocate, join_at=None) as conn:
        standing = conn.execute(
            sa.select(t).where(t.c.friend_key == friend_id)).mappings().first()  # fmt: skip
        if standing is not None and standing["advocate_id"] == advocate:
            return {**_doc(standing), "replayed": True}
        # the same refused request again (a retry) answers with its first refusal
        again = conn.execute(sa.select(t).where(
            t.c.code == code, t.c.friend_id == friend_id, t.c.status == "refused",
            t.c.friend_key.is_(None), *(t.c[k] == v if v else t.c[k].is_(None)
                                        for k, v in mine.items()))
            .order_by(t.c.id).limit(1)).mappings().first()  # fmt: skip
        if again is not None:
            return {**_doc(again), "replayed": True}
        reason, detail = None, None
        if friend_id == advocate:
            reason = "self_referral"
        else:
            friend = _merged(mine, _from_store(known.get(friend_id)))
            reason = _same_any(row, known, advocate, friend)
        if reason is None and standing is not None:
            reason = "already_referred"
            detail = f"referral {standing['id']} with the code {standing['code']}"
        values = {"code": code, "advocate_id": advocate, "friend_id": friend_id,
                  "friend_key": None if reason else friend_id, **mine,
                  "status": "refused" if reason else "pending", "reason": reason,
                  "detail": detail, "created_at": at, "decided_at": at if reason else None}  # fmt: skip
        new_id = conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one()
        doc = _doc(conn.execute(sa.select(t).where(t.c.id == new_id)).mappings().one())
    return {**doc, "replayed": False}


def _same_any(row: Any, known: dict, advocate: str, friend: dict[str, set[str]]) -> str | None:
    """Any of the friend's known digests among any of the advocate's."""
    mine = _merged(dict(row), _from_store(known.get(advocate)))
    for kind in KINDS:
        name = f"{kind}_digest"
        if mine[name] & friend[name]:
            return f"same_{kind}"
    return None


def _doc(row: Any) -> dict[str, Any]:
    return as_json({
        "id": int(row["id"]), "code": row["code"], "advocate_id": row["advocate_id"],
        "friend_id": row["friend_id"], "status": row["status"], "reason": row["reason"],
        "reason_text": REASONS.get(row["reason"]) if row["reason"] else None,
        "detail": row["detail"], "order_id": row["order_id"], "order_amount": row["order_amount"],
        "order_at": clock.utc(row["order_at"]) if row["order_at"] else None,
        "created_at": clock.utc(row["created_at"]),
        "decided_at": clock.utc(row["decided_at"]) if row["decided_at"] else None,
    })  # fmt: skip


def settle_referrals(
    ops: OpsStore,
    store: Any,
    customer_ids: Iterable[str] | None = None,
    *,
    at: datetime | None = None,
    program: Program | None = None,
    policy: Policy = DEFAULT,
) -> dict[str, Any]:
    """Decide the pending referrals of the friends among ``customer_ids``
    (all when None) whose first qualifying order is in ``store`` (a
    Workspace, or the store's folder), and pay those that qualify; finish
    paying any referral an earlier run qualified. Run after each ingest with
    the customers it touched; running it again pays nothing more.

    Returns counts (``qualified``, ``refused``, ``rewarded`` by this run,
    ``waiting`` still without a qualifying order) and the referrals decided.
    """
    program = program or Program()
    terms = program.referrals
    at = clock.utc(at) if at is not None else clock.now()
    t = loyalty_referrals
    query = sa.select(t).where(t.c.status == "pending")
    if customer_ids is not None:
        ids = sorted({checked_customer(c) for c in customer_ids})
        query = query.where(t.c.friend_id.in_(ids)) if ids else query.where(sa.false())
    with ops.engine.connect() as conn:
        pending = list(conn.execute(query).mappings())
    firsts = orders.first_qualifying(store, [r["friend_id"] for r in pending], terms.min_order)
    earliest = orders.first_counted(store, firsts)
    known = orders.identifiers(store, {c for r in pending if r["friend_id"] in firsts
                                       for c in (r["advocate_id"], r["friend_id"])})  # fmt: skip
    decided: list[dict[str, Any]] = []
    # oldest qualifying order first: the cap rewards the referrals that qualified first
    for row in sorted((r for r in pending if r["friend_id"] in firsts),
                      key=lambda r: (clock.utc(firsts[r["friend_id"]][1]), r["id"])):  # fmt: skip
        decided.append(_decide(ops, row["id"], firsts[row["friend_id"]],
                               earliest[row["friend_id"]], known, terms, at))  # fmt: skip
        checkpoint("referral qualified")
    rewarded = _pay(ops, program, at, policy)
    waiting = len(pending) - len(decided)
    return {"qualified": sum(d["status"] == "qualified" for d in decided),
            "refused": sum(d["status"] == "refused" for d in decided),
            "rewarded": len(rewarded), "waiting": waiting,
            "referrals": [_refreshed(ops, d["id"]) for d in decided],
            "as_of": at.isoformat()}  # fmt: skip


def _decide(ops: OpsStore, referral_id: int, first: tuple[str, Any, float],
            earliest: tuple[str, Any], known: dict, terms: Any,
            at: datetime) -> dict[str, Any]:  # fmt: skip
    """Qualify or refuse one referral, in one transaction holding the advocate."""
    t = loyalty_referrals
    order_id, placed, amount = first
    placed = clock.utc(placed)
    with ops.engine.connect() as conn:
        advocate = conn.execute(
            sa.select(t.c.advocate_id).where(t.c.id == referral_id)
        ).scalar_one()
    with member_transaction(ops, advocate, join_at=None) as conn:
        row = conn.execute(sa.select(t).where(t.c.id == referral_id)).mappings().one()
        if row["status"] != "pending":  # another run decided it meanwhile
            return _doc(row)
        code = _code_row(conn, row["code"])
        friend = _merged(dict(row), _from_store(known.get(row["friend_id"])))
        reason = _same_any(code, known, advocate, friend)
        detail = None
        referred = clock.utc(row["created_at"])
        before = clock.utc(earliest[1])
        if reason is None and before.date() < referred.date():
            reason = "existing_customer"
            detail = (f"order {earliest[0]} on {before.date().isoformat()}, referred on "
                      f"{referred.date().isoformat()}")  # fmt: skip
        if reason is None and terms.max_per_advocate is not None:
            since = placed - timedelta(days=terms.cap_days)
            counted = conn.execute(
                sa.select(sa.func.count()).select_from(t).where(
                    t.c.advocate_id == advocate, t.c.status.in_(("qualified", "rewarded")),
                    t.c.order_at > since, t.c.order_at <= placed)
            ).scalar_one()  # fmt: skip
            if counted >= terms.max_per_advocate:
                reason = "cap_reached"
                detail = (f"{counted} referrals rewarded for orders in the {terms.cap_days} days "
                          f"to {placed.date().isoformat()}; the cap is {terms.max_per_advocate}")  # fmt: skip
        values = {"status": "refused" if reason else "qualified", "reason": reason,
                  "detail": detail, "order_id": order_id, "order_amount": amount,
                  "order_at": placed, "decided_at": at}  # fmt: skip
        conn.execute(t.update().where(t.c.id == referral_id).values(**values))
        return _doc(conn.execute(sa.select(t).where(t.c.id == referral_id)).mappings().one())


def _pay(ops: OpsStore, program: Program, at: datetime, policy: Policy) -> list[int]:
    """Pay every qualified referral not yet rewarded; their ids."""
    t = loyalty_referrals
    terms = program.referrals
    with ops.engine.connect() as conn:
        due = list(conn.execute(sa.select(t).where(t.c.status == "qualified")
                                .order_by(t.c.id)).mappings())  # fmt: skip
    paid = []
    for row in due:
        for role, who, points in (("advocate", row["advocate_id"], terms.advocate_points),
                                  ("friend", row["friend_id"], terms.friend_points)):  # fmt: skip
            if points:
                pay_award(ops, who, points, source="referral", source_id=int(row["id"]),
                          role=role, reason=f"referral {row['id']} ({role})", at=at,
                          policy=policy)  # fmt: skip
            checkpoint(f"referral {role} paid")
        with ops.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == row["id"], t.c.status == "qualified")
                         .values(status="rewarded"))  # fmt: skip
        paid.append(int(row["id"]))
    return paid


def _refreshed(ops: OpsStore, referral_id: int) -> dict[str, Any]:
    t = loyalty_referrals
    with ops.engine.connect() as conn:
        return _doc(conn.execute(sa.select(t).where(t.c.id == referral_id)).mappings().one())


def referrals(ops: OpsStore, *, advocate: str | None = None) -> dict[str, Any]:
    """Every referral (of one advocate), newest first, with counts by status."""
    t = loyalty_referrals
    query = sa.select(t).order_by(t.c.id.desc())
    if advocate is not None:
        query = query.where(t.c.advocate_id == checked_customer(advocate))
    with ops.engine.connect() as conn:
        rows = [_doc(r) for r in conn.execute(query).mappings()]
    counts = {s: sum(r["status"] == s for r in rows)
              for s in ("pending", "qualified", "rewarded", "refused")}  # fmt: skip
    return {"advocate_id": advocate, "counts": counts, "referrals": rows}
