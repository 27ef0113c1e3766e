"""The demo business's loyalty program: who joins, when, what it does to
them, and the ledger it leaves.

- **Launch**: the program opens on ``LAUNCH`` (or the first month after
  the first day). On the first day of each month from then on, the shop
  invites every customer who has bought and is not a member yet; one
  joins with a chance that depends only on what they did before that
  day: their purchase days (1, 2, 3, 4, 5 or more) and whether they bought
  in the last 90 days (``JOIN``). Better customers join more often: the
  program **selects** its members, and a naive comparison of members with
  non-members sees a difference where the program did nothing.
- **The planted effect**: a member who, without the program, would not buy
  again within ``HORIZON_DAYS`` of joining does so (one extra order on a
  day of that window) with the chance that raises the members' share of
  buying again by ``effect`` (0.10 by default; 0 for a program that does
  nothing). The realised effect (the share of members whose outcome the
  program changed, among members who had bought before joining and whose
  window ends by the last day) is written to ``params.json``.
- **The ledger**: 100 points on joining, 1 point per whole EUR of each
  purchase from then on, and a 200-point voucher redeemed at the purchase
  where a member's points earned pass each multiple of 200 (in seven of
  ten such purchases) when the points in hand cover it: points expire 12
  months after they were earned, so a member whose early points lapsed
  before reaching 200 has no voucher to redeem (``in_hand``). Tiers
  Silver (150) and Gold (400) on points earned over a rolling 12 months
  (``TIERS``), lots expiring after ``EXPIRY_MONTHS``.

Everything is computed on whole arrays, one invitation day at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from tenure.datasets import _demo_sim as sim
from tenure.datasets import _demo_text as text
from tenure.datasets._demo_sim import DAY

LAUNCH = date(2025, 1, 1)
HORIZON_DAYS = 90
WELCOME_POINTS = 100
VOUCHER_POINTS = 200
VOUCHER_SHARE = 0.7
VOUCHER = "2 EUR voucher"
VOUCHER_VALUE = 2.0  # EUR
# the monthly chance of joining when invited: by purchase days before the
# invitation (1, 2, 3, 4, 5+), without and with a purchase in the last 90 days
JOIN = np.array([[0.004, 0.008, 0.012, 0.016, 0.02], [0.02, 0.04, 0.06, 0.08, 0.10]])
RECENT_DAYS = 90
TIERS = (("Silver", 150), ("Gold", 400))
EXPIRY_MONTHS = 12


@dataclass(frozen=True)
class Program:
    """Who joined when (``joined_day``: -1 for no one), the orders the
    program added, and the truth of its effect."""

    joined_day: np.ndarray
    joined_at: np.ndarray
    added_customer: np.ndarray
    added_time: np.ndarray
    planted: float
    realised: float | None
    eligible: int
    members: int


def _invitation_days(window: sim.Window) -> np.ndarray:
    first = max(
        np.datetime64(LAUNCH, "M"), np.datetime64(window.t_start, "s").astype("datetime64[M]")
    )
    last = np.datetime64(window.t_end - 1, "s").astype("datetime64[M]")
    months = np.arange(first, last + 1)
    days = months.astype("datetime64[D]").astype(np.int64)
    return days[days * DAY >= window.t_start]


def simulate(rng: np.random.Generator, pur: sim.Purchases, window: sim.Window,
             effect: float) -> Program:  # fmt: skip
    """Enrol members on the invitation days and plant ``effect``."""
    n = len(pur.lam)
    last_day = window.t_end // DAY - 1
    buy = ~pur.order_void
    who, day = pur.order_customer[buy], pur.order_time[buy] // DAY
    # distinct purchase days per customer, sorted by customer then day
    key = np.unique(who.astype(np.int64) * (last_day + 2) + day)
    who, day = key // (last_day + 2), key % (last_day + 2)
    joined = np.full(n, -1, np.int64)
    for d in _invitation_days(window):
        before = day < d
        f = np.bincount(who[before], minlength=n)
        latest = np.full(n, -1, np.int64)
        np.maximum.at(latest, who[before], day[before])
        recent = (latest >= 0) & (d - latest <= RECENT_DAYS)
        chance = JOIN[recent.astype(int), np.clip(f, 1, 5) - 1]
        join = (joined < 0) & (f > 0) & (rng.random(n) < chance)
        joined[join] = d
    member = joined >= 0
    joined_at = np.where(member, joined * DAY + rng.integers(8 * 3600, 20 * 3600, n), -1)

    # the outcome without the program: a purchase day in (joined, joined + horizon]
    after = (day > joined[who]) & (day <= joined[who] + HORIZON_DAYS) & member[who]
    natural = np.bincount(who[after], minlength=n) > 0
    f_at_join = np.bincount(who[day < joined[who]], minlength=n)
    eligible = member & (f_at_join > 0) & (joined + HORIZON_DAYS <= last_day)
    base = natural[eligible].mean() if eligible.any() else 0.0
    flip_chance = min(effect / (1 - base), 1.0) if effect > 0 and base < 1 else 0.0
    flip = member & ~natural & (rng.random(n) < flip_chance)
    added_day = joined + rng.integers(1, HORIZON_DAYS + 1, n)
    flip &= added_day <= last_day
    added_customer = np.flatnonzero(flip)
    added_time = added_day[flip] * DAY + rng.integers(0, DAY, len(added_customer))
    realised = float(flip[eligible].mean()) if eligible.any() else None
    return Program(joined, joined_at, added_customer, added_time, effect, realised,
                   int(eligible.sum()), int(member.sum()))  # fmt: skip


def with_added_orders(rng: np.random.Generator, pur: sim.Purchases, program: Program,
                      gamma_p: float) -> sim.Purchases:  # fmt: skip
    """The purchases with the program's orders among them (purchases, not
    refunded or cancelled), in the order the order log keeps."""
    k = len(program.added_customer)
    if k == 0:
        return pur
    c = program.added_customer
    cents = np.maximum(np.rint(rng.gamma(gamma_p, 1.0 / pur.nu[c]) * 100).astype(np.int64), 1)
    customer = np.concatenate([pur.order_customer, c])
    time = np.concatenate([pur.order_time, program.added_time])
    first = np.concatenate([pur.order_first, np.zeros(k, bool)])
    void = np.concatenate([pur.order_void, np.zeros(k, bool)])
    value = np.concatenate([pur.order_eur_cents, cents])
    order = np.lexsort((void, customer, time))
    repeats = pur.repeats + np.bincount(c, minlength=len(pur.repeats))
    return sim.Purchases(pur.lam, pur.p, pur.nu, pur.alive, repeats, customer[order], time[order],
                         first[order], void[order], value[order])  # fmt: skip


def _a_year_later(t: int) -> int:
    """The second ``EXPIRY_MONTHS`` (12) calendar months after ``t``, as
    the ledger's expiry counts them: 29 February runs to 28 February."""
    moment = datetime.fromtimestamp(int(t), UTC)
    try:
        later = moment.replace(year=moment.year + 1)
    except ValueError:
        later = moment.replace(year=moment.year + 1, day=28)
    return int(later.timestamp())


def in_hand(joined_at: np.ndarray, who: np.ndarray, at: np.ndarray, points: np.ndarray,
            wanted: np.ndarray) -> np.ndarray:  # fmt: skip
    """Which of the ``wanted`` vouchers (one a second after the purchase
    ``at`` of member ``who``, rows sorted by member then time) the member's
    points cover then: the welcome points and each purchase's make a lot
    that lapses ``EXPIRY_MONTHS`` later, and a voucher spends the oldest
    lots first, as the ledger does. Only members with a voucher wanted are
    walked through."""
    covered = wanted.copy()
    if not wanted.any():
        return covered
    starts = np.r_[0, np.flatnonzero(np.diff(who)) + 1]
    ends = np.r_[starts[1:], len(who)]
    for s, e in zip(starts, ends, strict=True):
        if not wanted[s:e].any():
            continue
        c = int(who[s])
        lots = [[_a_year_later(joined_at[c]), WELCOME_POINTS]]  # [lapses at, points left]
        for j in range(s, e):
            if points[j] > 0:
                lots.append([_a_year_later(at[j]), int(points[j])])
            if not wanted[j]:
                continue
            moment = int(at[j]) + 1
            lots = [lot for lot in lots if lot[0] > moment and lot[1] > 0]
            if sum(left for _, left in lots) < VOUCHER_POINTS:
                covered[j] = False
                continue
            need = VOUCHER_POINTS
            for lot in lots:  # lots are made in time order: oldest lapse first
                take = min(need, lot[1])
                lot[1] -= take
                need -= take
    return covered


def ledger(rng: np.random.Generator, pur: sim.Purchases, program: Program,
           ids: pa.Array, order_ids: pa.Array) -> pa.Table:  # fmt: skip
    """The members' ledger events, oldest first: ``join`` (the welcome
    points), ``earn`` (points of a purchase) and ``redeem`` (a voucher)."""
    member = np.flatnonzero(program.joined_day >= 0)
    buy = ~pur.order_void & (program.joined_day[pur.order_customer] >= 0)
    buy &= pur.order_time > program.joined_at[pur.order_customer]
    rows = np.flatnonzero(buy)
    who = pur.order_customer[rows]
    points = pur.order_eur_cents[rows] // 100
    # points earned so far per member (the welcome points first); orders are
    # sorted by time within a member, so a cumulative sum per member runs in order
    order = np.lexsort((pur.order_time[rows], who))
    rows, who, points = rows[order], who[order], points[order]
    starts = np.r_[0, np.flatnonzero(np.diff(who)) + 1] if len(who) else np.array([], int)
    total = np.cumsum(points)
    offset = np.zeros(len(who), np.int64)
    if len(who):
        base = np.r_[0, total[starts[1:] - 1]] if len(starts) > 1 else np.array([0])
        offset = np.repeat(base, np.diff(np.r_[starts, len(who)]))
    earned = total - offset + WELCOME_POINTS
    crossed = (earned // VOUCHER_POINTS) - ((earned - points) // VOUCHER_POINTS)
    redeem = (crossed > 0) & (rng.random(len(rows)) < VOUCHER_SHARE)
    redeem &= in_hand(program.joined_at, who, pur.order_time[rows], points, redeem)

    kinds = np.concatenate([np.zeros(len(member), np.int8), np.ones(len(rows), np.int8),
                            np.full(int(redeem.sum()), 2, np.int8)])  # fmt: skip
    customer = np.concatenate([member, who, who[redeem]])
    at = np.concatenate([program.joined_at[member], pur.order_time[rows],
                         pur.order_time[rows][redeem] + 1])  # fmt: skip
    pts = np.concatenate([np.full(len(member), WELCOME_POINTS), points,
                          np.full(int(redeem.sum()), VOUCHER_POINTS)])  # fmt: skip
    amount = np.concatenate([np.full(len(member), np.nan), pur.order_eur_cents[rows] / 100,
                             np.full(int(redeem.sum()), np.nan)])  # fmt: skip
    source = np.concatenate([np.full(len(member), -1), rows, rows[redeem]])
    keep = pts > 0
    order = np.lexsort((kinds[keep], at[keep], customer[keep]))
    kinds, customer, at, pts, amount, source = (
        a[keep][order] for a in (kinds, customer, at, pts, amount, source)
    )
    names = ("join", "earn", "redeem")
    has_order = source >= 0
    order_text = order_ids.take(pa.array(np.where(has_order, source, 0)))
    return pa.table({
        "customer_id": ids.take(pa.array(customer)),
        "at": text.iso_utc(at),
        "kind": text.pick(names, kinds),
        "points": pa.array(pts.astype(np.int64)),
        "order_id": pa.array(np.where(has_order, order_text.to_numpy(zero_copy_only=False), None)),
        "amount": pa.array(np.where(kinds == 1, np.round(amount, 2), np.nan), from_pandas=True),
        "reward": pa.array(np.where(kinds == 2, VOUCHER, None)),
    })  # fmt: skip


def settings_toml() -> str:
    """The program as a ``tenure.toml`` declares it: what ``tenure demo``
    posts the history under, and what ``tenure loyalty tiers`` and the
    dashboard read the tiers' thresholds from."""
    tiers = ", ".join(f'{{name = "{name}", threshold = {threshold}}}' for name, threshold in TIERS)
    return f"""# The demo business's loyalty program (tenure demo; docs/demo.md).
# tenure reads it as tenure.toml in the current folder, or from the path
# in TENURE_CONFIG.

[loyalty]
expiry_months = {EXPIRY_MONTHS}
tier_basis = "points"
tier_window = "rolling_12_months"
tiers = [{tiers}]
point_value = {VOUCHER_VALUE / VOUCHER_POINTS}  # a {VOUCHER_POINTS}-point voucher is worth {VOUCHER_VALUE:g} EUR

[[loyalty.rewards]]             # what the history's members redeemed
id = "voucher"
kind = "discount"
points = {VOUCHER_POINTS}
value = {VOUCHER_VALUE}
name = "{VOUCHER}"

# The history earned {WELCOME_POINTS} points on joining and 1 point per whole EUR of
# each purchase after it. These rules are not declared: the demo's members
# joined by invitation, while declared rules earn on every ingested order
# of every customer, so `tenure loyalty post` would enrol all customers
# and count the members' purchases a second time. For a program of your
# own that earns on every order:
# [loyalty.earning]
# points_per_unit = 1
# [loyalty.earning.bonuses]
# sign_up = {WELCOME_POINTS}
"""
