"""What follows an ingest once it has committed, for every way in (``tenure
ingest``, ``POST /api/v1/orders`` and :func:`ingest` of the Python API):

* the persisted customer summary is rebuilt when the ``timezone`` setting
  is not the one it was built in (each ingest keeps it up to date in its own
  time zone; until rebuilt, the engine reads the order log instead);
* the kept scores (``customer_predictions``) of the customers the ingest
  touched are made again with the kept fits' parameters, without fitting.

How much older than the data each kept fit is, is said where fits are shown
(:func:`tenure.analysis.predictions.stored_predictions`).

>>> import tenure
>>> result = tenure.ingest("orders", "orders.csv", store="tenure-data")  # doctest: +SKIP
>>> result.refreshed                                                    # doctest: +SKIP
{'summary_rebuilt': False, 'scores_refreshed': 212}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenure.config import Settings, load_settings
from tenure.ingestion.pipeline import IngestResult
from tenure.ingestion.pipeline import ingest as run_ingest
from tenure.store import analytics, summary
from tenure.store.workspace import Workspace

# the kinds whose rows change what the scores read
_SCORED_KINDS = ("orders",)


@dataclass(frozen=True)
class Refreshed:
    """What :func:`after_ingest` did: whether it rebuilt the summary (in
    which time zone), and how many customers' kept scores it made again
    (None: no scores are kept, or nothing they read changed)."""

    summary_rebuilt: bool
    timezone: str
    scores_refreshed: int | None
    # what the loyalty program posted from the ingested orders: set by the
    # surfaces that ingest (tenure.loyalty.posting.after_ingest; the loyalty
    # layer is above this one); None: no earning rules, or not orders
    loyalty_posted: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary_rebuilt": self.summary_rebuilt,
            "timezone": self.timezone,
            "scores_refreshed": self.scores_refreshed,
        } | ({"loyalty_posted": self.loyalty_posted} if self.loyalty_posted is not None else {})

    def describe(self) -> str | None:
        """A line for the person who ran the ingest, or None when nothing happened."""
        parts = []
        if self.summary_rebuilt:
            parts.append(f"the customer summary was rebuilt in the time zone {self.timezone}")
        if self.scores_refreshed:
            parts.append(
                f"the kept scores of {self.scores_refreshed:,} customers were made again with "
                "the kept fits (tenure predict fits again)"
            )
        posted = self.loyalty_posted
        if posted and (posted["posted"] or posted["reversed_lines"]):
            parts.append(
                f"the loyalty program earned {posted['points']:,} pending points on "
                f"{posted['posted']:,} order line(s) and reversed {posted['reversed_points']:,} "
                f"of {posted['reversed_lines']:,} refunded line(s)"
            )
        if not parts:
            return None
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."


def after_ingest(settings: Settings, result: IngestResult) -> Refreshed:
    """Bring the summary's time zone and the kept scores up to date after
    the committed ingest ``result``."""
    if not settings.analytics_path.exists() or result.ingest_id is None:
        return Refreshed(False, settings.timezone, None)
    changed = result.inserted + result.updated > 0
    # an order that changed hands may leave a customer without orders
    moved = result.updated > 0
    touched = None
    with analytics.connect(settings.analytics_path, read_only=True) as con:
        rebuilt = summary.current(con) != settings.timezone
        if not rebuilt and changed and result.kind in _SCORED_KINDS:
            # the models are imported only for an ingest that has scores to
            # refresh; what they score is read on this connection, closed
            # before the scores are written
            from tenure.predictions.rescore import read_touched

            touched = read_touched(con, settings, result.ingest_id)
    scored = None
    if rebuilt:
        with analytics.writing(settings.analytics_path, "tenure ingest (customer summary)") as con:
            summary.ensure(con, settings.timezone, result.ingest_id)
        from tenure.predictions.rescore import rescore_ingest

        scored = rescore_ingest(settings, result.ingest_id, moved=moved)
    elif touched is not None:
        from tenure.predictions.rescore import write_touched

        scored = write_touched(settings, touched, moved=moved)
    return Refreshed(rebuilt, settings.timezone, scored)


def ingest(
    kind: str,
    source: Any,
    *,
    workspace: Workspace | None = None,
    store: str | Path | None = None,
    **options: Any,
) -> IngestResult:
    """:func:`tenure.ingestion.pipeline.ingest`, then :func:`after_ingest`:
    what ``tenure.ingest`` runs. ``result.refreshed`` says what followed."""
    result = run_ingest(kind, source, workspace=workspace, store=store, **options)
    settings = workspace.settings if workspace is not None else load_settings(store=store)
    result.refreshed = after_ingest(settings, result).to_dict()  # type: ignore[attr-defined]
    return result
