"""The loyalty program's points ledger.

Points are kept as an accountant keeps money: every change is an entry
appended to ``loyalty_entries`` (earn, pending, approve, redeem, expire,
reverse, adjust) and never changed afterwards; a member's balance is the sum
of their entries, and a correction is a new entry. Points live in lots
(``loyalty_lots``), each with the moment it becomes usable (pending until a
return window closes) and its expiry; every draw on the points (a
redemption, an expiry, a clawback) records which lots it took from
(``loyalty_allocations``), so an expiry takes only what is left of a lot.

The modules:

=================  ============================================================
``ledger``         the writes: earn, redeem, reverse, adjust
``expiry``         approvals of pending points and expiries, per member and
                   for the whole program (``tenure loyalty expire``)
``balances``       the reads: a member's balance, lots and history
``entries``        appending entries and lots; a member's sums of entries
``lots``           a member's lots and debts, and the order lots are drawn in
``serial``         one transaction per write, serialised per member
``idempotency``    idempotency keys: the same request twice posts once
``invariant``      issued = outstanding + redeemed + expired + clawed back
``tiers``          tiers: qualification over a window, upgrades, reviews
``tier_program``   a manual tier, the table of tiers, the reviews due
``policy``         the program's settings and the checks of what a write asks
``clock``          times in UTC, and the dates a command is given
``liability``      outstanding points × point value × (1 − expected breakage)
``effect``         members' repurchase against matched non-members, and naive
``program``        the program at a glance, for the dashboard and the report
``rules``          the earning rules (read by :mod:`tenure.loyalty_rules`)
``posting``        the points of ingested orders, posted in bulk
``order_lines``    the points of every order line, in DuckDB SQL
``refunds``        reversing the points of refunded and cancelled order lines
``bonus``          bonus events, granted once per key (``award_bonus``)
``rewards``        the rewards catalogue and redeeming a reward
``referrals``      referral codes, referrals, their fraud guards and settling
``challenges``     challenges, events, progress and badges
``awards``         the bonus points of referrals and badges, and their record
``orders``         what the program reads from the analytics store
``settle``         referrals and challenges settled after an ingest
=================  ============================================================

``history_import`` posts a program's past in bulk (the demo's program). The
earning rules, catalogue, referrals and challenges of the ``[loyalty]``
table are read by :mod:`tenure.loyalty_rules` and
:mod:`tenure.loyalty_settings`, beside the settings (below the layers that
use them).

See docs/loyalty.md for the semantics and the policy for negative balances.
"""

from __future__ import annotations

from tenure.loyalty.balances import balance, history
from tenure.loyalty.bonus import award_bonus
from tenure.loyalty.expiry import expire
from tenure.loyalty.invariant import check_invariant, ledger_totals
from tenure.loyalty.ledger import Posting, adjust, earn, redeem, reverse
from tenure.loyalty.policy import Policy, Tier, TierProgram
from tenure.loyalty.tier_program import set_tier, tier_table

__all__ = [
    "Policy",
    "Posting",
    "Tier",
    "TierProgram",
    "adjust",
    "award_bonus",
    "balance",
    "check_invariant",
    "earn",
    "expire",
    "history",
    "ledger_totals",
    "redeem",
    "reverse",
    "set_tier",
    "tier_table",
]
