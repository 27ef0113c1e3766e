"""The training table of an uplift model: per assigned customer, whether
they were messaged, what they did in the window after their assignment,
and what the store knew of them just before it.

* Outcomes come from :func:`tenure.campaigns.measure.outcomes`, the SQL
  that ``tenure campaign measure`` uses: ``conversion``, ``orders`` or
  ``revenue`` over ``window`` days from each customer's own
  ``assigned_at``, computed in DuckDB.
* Features are the churn classifier's (:func:`tenure.engine.features.churn_features`),
  as of the day before each customer's assignment (in the store's time
  zone), so nothing the message could have changed is read. One feature
  query runs per distinct assignment day; only the feature rows of the
  assigned customers leave the engine. A customer the store knew nothing
  of before their assignment has empty features.

The assignments come from a file (:func:`outcomes_from_file`, the format of
``tenure campaign measure --assignments``) or from a table with the same
three columns (:func:`outcomes_from_table`), such as the holdouts a
campaign keeps itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from tenure.campaigns import measure_input
from tenure.campaigns.measure import outcomes
from tenure.errors import InputError

METRICS = ("conversion", "orders", "revenue")


def _check(metric: str, window: int) -> None:
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r} for an uplift model.",
                         hint=f"Use one of {', '.join(METRICS)}.", value=metric,
                         code="unknown_metric")  # fmt: skip
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InputError(f"--window must be a whole number of days, 1 or more; got {window!r}.",
                         hint="Pass the days after assignment to model, e.g. --window 30.",
                         value=window, code="bad_window")  # fmt: skip


def _treated(arms: list[str], control: str, arm: str | None, source: str) -> str:
    """The arm modelled against the control."""
    others = [a for a in arms if a != control]
    if arm is not None:
        if arm not in others:
            raise InputError(
                f"no arm {arm!r} beside the control {control!r} (groups: {', '.join(arms)}).",
                hint="Pass --arm with a messaged group's name as the file writes it.",
                source=source, column="group", value=arm, code="no_such_arm",
            )  # fmt: skip
        return arm
    if len(others) > 1:
        raise InputError(
            f"{len(others)} arms beside the control ({', '.join(others)}): an uplift model "
            "compares one message with no message.",
            hint="Pass --arm NAME to model one of them.",
            source=source, column="group", code="several_arms",
        )  # fmt: skip
    return others[0]


def _read(con: Any, window: int, metric: str, control: str, treated: str) -> pd.DataFrame:
    outcomes(con, window, has_events=False)
    frame = con.execute(
        f"SELECT customer_id, arm = ? AS treated, assigned_at, {metric}_y AS y "
        "FROM _outcomes WHERE arm IN (?, ?) ORDER BY customer_id",
        [treated, treated, control],
    ).df()
    frame["treated"] = frame["treated"].astype(bool)
    return frame


def outcomes_from_file(settings: Any, path: Path | str, *, window: int, metric: str,
                       control: str | None = None,
                       arm: str | None = None) -> tuple[measure_input.Assignments, pd.DataFrame]:  # fmt: skip
    """(what was read, one row per customer of the control and the modelled
    arm: ``customer_id``, ``treated``, ``assigned_at``, ``y``). The file is
    read and checked by :func:`.measure_input.load`, rejected rows going
    to the quarantine file."""
    from tenure.store import analytics

    _check(metric, window)
    con, _ = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        con.execute("SET TimeZone = 'UTC'")
        read = measure_input.load(con, Path(path), control=control,
                                  quarantine_dir=settings.quarantine_dir)  # fmt: skip
        treated = _treated(list(read.arms), read.control, arm, read.source)
        return read, _read(con, window, metric, read.control, treated)
    finally:
        con.close()


def outcomes_from_table(settings: Any, assignments: pd.DataFrame, *, window: int, metric: str,
                        control: str = "control", arm: str | None = None) -> pd.DataFrame:  # fmt: skip
    """As :func:`outcomes_from_file`, for assignments already checked (a
    campaign's own holdouts): a frame with ``customer_id``, ``group`` and
    ``assigned_at`` (UTC), one row per customer."""
    from tenure.store import analytics

    _check(metric, window)
    missing = {"customer_id", "group", "assigned_at"} - set(assignments.columns)
    if missing:
        raise InputError(f"the assignments table lacks {', '.join(sorted(missing))}.",
                         hint="Give customer_id, group and assigned_at.",
                         column=sorted(missing)[0], code="missing_column")  # fmt: skip
    frame = pd.DataFrame({
        "customer_id": assignments["customer_id"].astype(str),
        "arm": assignments["group"].astype(str),
        "assigned_at": pd.to_datetime(assignments["assigned_at"], utc=True).dt.tz_localize(None),
    })  # fmt: skip
    arms = sorted(frame["arm"].unique())
    if control not in arms:
        raise InputError(f"no group {control!r} among {', '.join(arms)}.",
                         hint="Name the control group.", column="group", value=control,
                         code="no_control_arm")  # fmt: skip
    treated = _treated(arms, control, arm, "assignments")
    con, _ = analytics.open_read_only(settings.analytics_path, settings.store)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("_given", frame)
        con.execute("CREATE OR REPLACE TEMP TABLE _assigned AS SELECT * FROM _given")
        return _read(con, window, metric, control, treated)
    finally:
        con.close()


def features_at_assignment(settings: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The churn features of each customer of ``frame`` (``customer_id``,
    ``assigned_at`` in UTC) as of the local day before their assignment, in
    ``frame``'s order (``customer_id`` first, then the feature columns)."""
    import ibis

    from tenure.contexts import open_context
    from tenure.engine.context import Context
    from tenure.engine.features import churn_features

    parts = []
    with open_context(settings=settings) as latest:
        zone = latest.defs.timezone
        local = pd.to_datetime(frame["assigned_at"]).dt.tz_localize("UTC").dt.tz_convert(zone)
        days = (local.dt.normalize().dt.date - timedelta(days=1)).rename("as_of")
        groups = pd.DataFrame({"customer_id": frame["customer_id"], "as_of": days})
        for day, who in groups.groupby("as_of", sort=True):
            ctx = Context(latest.source, replace(latest.defs, as_of=day), check_as_of=False)
            try:
                ids = ibis.memtable(who[["customer_id"]].reset_index(drop=True))
                got = churn_features(ctx).semi_join(ids, "customer_id").to_pandas()
            finally:
                ctx.close()
            parts.append(got)
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"customer_id": []})
    out = frame[["customer_id"]].merge(found, on="customer_id", how="left")
    if len(out) != len(frame):
        raise InputError("a customer appears twice among the assignments.",
                         hint="Give one row per customer.", code="duplicate_customer")  # fmt: skip
    return out


def training_table(settings: Any, outcomes_frame: pd.DataFrame) -> pd.DataFrame:
    """``outcomes_frame`` (from :func:`outcomes_from_file` or
    :func:`outcomes_from_table`) with the features of each customer at
    their assignment beside it."""
    if outcomes_frame.empty:
        raise InputError("no assigned customer to learn from.",
                         hint="Check the assignments' groups and customers.",
                         code="no_usable_rows")  # fmt: skip
    features = features_at_assignment(settings, outcomes_frame)
    return pd.concat([outcomes_frame.reset_index(drop=True),
                      features.drop(columns=["customer_id"]).reset_index(drop=True)],
                     axis=1)  # fmt: skip
