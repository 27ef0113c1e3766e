"""Settling the program after an ingest: referrals whose friend made a
qualifying order, and challenges completed, for the customers it touched."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenure.loyalty.challenges import settle_challenges
from tenure.loyalty.policy import Policy
from tenure.loyalty.referrals import settle_referrals
from tenure.loyalty_settings import Program
from tenure.store.ops import OpsStore

if TYPE_CHECKING:
    from tenure.config import LoyaltySettings


def settle_program(
    ops: OpsStore,
    store: Any,
    customer_ids: Iterable[str] | None,
    *,
    settings: LoyaltySettings,
    at: datetime | None = None,
) -> dict[str, Any]:
    """:func:`settle_referrals` and :func:`settle_challenges` for
    ``customer_ids`` (all when None) under the ``[loyalty]`` settings; a
    program that declares neither referrals nor challenges does nothing.
    Safe to run again: it pays nothing twice."""
    program, policy = Program.from_settings(settings), Policy.from_settings(settings)
    ids = None if customer_ids is None else list(customer_ids)
    doc: dict[str, Any] = {"referrals": None, "challenges": None}
    if settings.referrals is not None:
        doc["referrals"] = settle_referrals(ops, store, ids, at=at, program=program,
                                            policy=policy)  # fmt: skip
    if program.challenges:
        doc["challenges"] = settle_challenges(ops, store, ids, at=at, program=program,
                                              policy=policy)  # fmt: skip
    return doc
