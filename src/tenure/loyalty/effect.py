"""The program's effect on retention: members against matched non-members.

Members choose to join, and better customers join more often, so members
buy again more than non-members whether or not the program does anything.
The estimate corrects for that self-selection by comparing each member
with non-members who looked the same on the day the member joined:

- **enrolment**: a member's first ledger entry; its day (in the store's
  time zone) is the member's *index day*;
- **the outcome**: a purchase on a day in (index day, index day +
  ``horizon_days``]: *bought again within 90 days*. Only members whose
  window has ended by the data's last day, and who had bought before the
  index day, are compared;
- **the controls**: on the same index day, every customer who had bought
  before it and was not a member yet (a customer who joins later is a
  control until then); their *pseudo-enrolment day* is the member's;
- **matching**: exactly, on the index day, the purchase days before it
  (1, 2, 3, 4, 5 or more) and the days since the last of them (0-30,
  31-90, 91-180, 181-365, more): the RFM of the day before enrolment,
  computed by the engine from the ingested orders
  (:func:`tenure.engine.index_days.history_at`). A member whose stratum
  has no control is left out and counted (``unmatched``);
- **the estimate**: the effect on the members (ATT), the mean over the
  matched members of (outcome − the share of their stratum's controls who
  bought again);
- **the interval**: 95 %, normal approximation, with the variance of
  the estimate as a sum over customers of the square of each one's
  influence on it (a member's outcome less the stratum's control share
  and the estimate, over the members matched; a control's outcome less
  the share, weighted by its stratum's members per control). One
  customer is a control on many index days, and their outcomes on
  nearby days move together: summing per customer first allows for it.
  On the demo business (5,000 customers), the interval held 0 in 22 of
  24 seeds without a planted effect, and the realised effect in 7 of 8
  seeds with one.

Beside it, the **naive** comparison: the members' share that bought again
against that of all the controls on the same index days, unmatched, with
the two-proportion normal interval. It is labelled as naive on every
surface: it mixes the program's effect with who chose to join.

The estimate is deterministic (no resampling), so that every surface
shows the same number. It corrects for selection on the matched history
only: members who differ from non-members in what the orders do not show
(say, a new job nearby) still bias it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenure.config import Settings
from tenure.errors import InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import loyalty_entries

HORIZON_DAYS = 90
Z95 = 1.959964
FREQUENCY_BINS = (1, 2, 3, 4, 5)  # the last: five or more
RECENCY_BINS = (30, 90, 180, 365)  # upper ends; beyond the last: more
METHOD = (
    "exact matching on the index day, purchase days before it (1-4, 5+) and days since the "
    "last (0-30, 31-90, 91-180, 181-365, 366+); 95 % interval by normal approximation, "
    "variance clustered by customer"
)


@dataclass(frozen=True)
class Comparison:
    member_rate: float | None
    control_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    members: int
    controls: int


@dataclass(frozen=True)
class Effect:
    """The document of ``tenure loyalty effect --json``."""

    horizon_days: int
    data_end: str
    members: int  # in the ledger
    compared: int  # bought before joining, window ended by the data's end
    matched: int
    unmatched: int
    not_yet_comparable: int  # window not ended, or no purchase before joining
    strata: int
    estimate: Comparison
    naive: Comparison
    method: str = METHOD
    notes: list[str] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        return asdict(self)


def enrolments(ops: OpsStore) -> dict[str, Any]:
    """Each member's first ledger entry (UTC)."""
    e = loyalty_entries
    with ops.engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.customer_id, sa.func.min(e.c.at)).group_by(e.c.customer_id)
        )
        return {customer: at for customer, at in rows}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def estimate(ops: OpsStore, settings: Settings, *, horizon_days: int = HORIZON_DAYS) -> Effect:
    """The program's effect on buying again within ``horizon_days`` of
    joining (see the module's docstring)."""
    from tenure.analysis.context import open_context
    from tenure.engine import periods
    from tenure.engine.index_days import clustered_squares, strata
    from tenure.loyalty import clock

    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise InputError(f"the horizon must be a whole number of days, 1 or more; got "
                         f"{horizon_days!r}.", hint="E.g. --horizon 90.", value=horizon_days)  # fmt: skip
    joined = enrolments(ops)
    with open_context(settings=settings) as ctx:
        zone = ZoneInfo(ctx.defs.timezone)
        day_of = {c: periods.day_number(clock.utc(at).astimezone(zone).date())
                  for c, at in joined.items()}  # fmt: skip
        bins = (FREQUENCY_BINS[:-1], RECENCY_BINS)
        counts = ctx.source.rows(strata(ctx, day_of, horizon_days, *bins))
        found = compare(counts, len(day_of), horizon_days, ctx.as_of)
        weights = influence_weights(counts, found)
        if weights is not None:
            squares = ctx.source.value(clustered_squares(ctx, day_of, horizon_days, *bins, weights))
            found = with_clustered_interval(found, float(squares or 0.0))
    return found


def influence_weights(counts: list[tuple], found: Effect) -> dict[str, list] | None:
    """Per matched stratum, what each member's and control's outcome adds
    to the estimate, about its centre: a member (y − p0 − effect) / N, a
    control −n1 / (N n0) × (y − p0), where p0 is the stratum's control
    share, n1 and n0 its members and controls, N the members matched."""
    if not found.matched or found.estimate.difference is None:
        return None
    treated, control = _by_stratum(counts)
    n, att = found.matched, found.estimate.difference
    cols: dict[str, list] = {k: [] for k in ("index_day", "frequency_bin", "recency_bin",
                                              "centre", "member", "control")}  # fmt: skip
    for key in sorted(k for k in treated if k in control):
        (n1, _), (n0, s0) = treated[key], control[key]
        p0 = s0 / n0
        for name, value in zip(("index_day", "frequency_bin", "recency_bin"), key, strict=True):
            cols[name].append(int(value))
        cols["centre"].append(p0)
        cols["member"].append(1 / n)
        cols["control"].append(-n1 / (n * n0))
    cols["att"] = [att] * len(cols["centre"])
    return cols


def with_clustered_interval(found: Effect, squares: float) -> Effect:
    """``found`` with the interval from the customer-clustered variance."""
    est = found.estimate
    se = math.sqrt(max(squares, 0.0))
    low, high = est.difference - Z95 * se, est.difference + Z95 * se
    return replace(found, estimate=replace(est, ci_low=_round(low), ci_high=_round(high)))


def _by_stratum(counts: list[tuple]) -> tuple[dict, dict]:
    treated: dict[tuple, tuple[int, int]] = {}
    control: dict[tuple, tuple[int, int]] = {}
    for index_day, fbin, rbin, role, n, bought in counts:
        (treated if role == "member" else control)[(index_day, fbin, rbin)] = (int(n), int(bought))
    return treated, control


def compare(counts: list[tuple], members: int, horizon: int, end: date) -> Effect:
    """The estimate and the naive comparison from the strata's counts:
    (index day, frequency bin, recency bin, role, n, bought)."""
    treated: dict[tuple, tuple[int, int]] = {}
    control: dict[tuple, tuple[int, int]] = {}
    for index_day, fbin, rbin, role, n, bought in counts:
        (treated if role == "member" else control)[(index_day, fbin, rbin)] = (int(n), int(bought))
    compared = sum(n for n, _ in treated.values())
    keys = sorted(k for k in treated if k in control)
    matched = sum(treated[k][0] for k in keys)

    est = Comparison(None, None, None, None, None, matched, 0)
    if matched:
        total = squares = control_share = var_controls = 0.0
        for k in keys:
            (n1, s1), (n0, s0) = treated[k], control[k]
            p0 = s0 / n0
            # the members' differences y - p0: s1 of them 1 - p0, the rest -p0
            total += s1 - n1 * p0
            squares += s1 * (1 - p0) ** 2 + (n1 - s1) * p0**2
            control_share += n1 * p0
            var_controls += (n1 / matched) ** 2 * p0 * (1 - p0) / n0
        att = total / matched
        spread = (squares - matched * att**2) / (matched - 1) if matched > 1 else 0.0
        se = math.sqrt(max(spread, 0.0) / matched + var_controls)
        member_rate = sum(treated[k][1] for k in keys) / matched
        est = Comparison(_round(member_rate), _round(control_share / matched), _round(att),
                         _round(att - Z95 * se), _round(att + Z95 * se), matched,
                         sum(control[k][0] for k in keys))  # fmt: skip

    naive = Comparison(None, None, None, None, None, compared, 0)
    n0 = sum(n for n, _ in control.values())
    if compared and n0:
        p1 = sum(b for _, b in treated.values()) / compared
        p0 = sum(b for _, b in control.values()) / n0
        se = math.sqrt(p1 * (1 - p1) / compared + p0 * (1 - p0) / n0)
        naive = Comparison(_round(p1), _round(p0), _round(p1 - p0), _round(p1 - p0 - Z95 * se),
                           _round(p1 - p0 + Z95 * se), compared, n0)  # fmt: skip
    notes = []
    if not compared:
        notes.append(f"no member joined at least {horizon} days before the data's last day "
                     "after a purchase: nothing to compare yet.")  # fmt: skip
    elif matched < 30:
        notes.append(f"only {matched} member(s) could be matched: the interval is wide.")
    return Effect(
        horizon_days=horizon,
        data_end=end.isoformat(),
        members=members,
        compared=compared,
        matched=matched,
        unmatched=compared - matched,
        not_yet_comparable=members - compared,
        strata=len(keys),
        estimate=est,
        naive=naive,
        notes=notes,
    )
