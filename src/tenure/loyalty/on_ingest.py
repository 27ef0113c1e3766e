"""An ingest with what it sets off: the one path of ``tenure ingest``,
``POST /api/v1/orders`` (and the other kinds) and ``tenure.ingest``.

:func:`tenure.refresh.ingest` commits the rows and brings the customer
summary and the kept scores up to date; it lives below the loyalty program
and cannot call it. :func:`ingest` here adds the program's work when the
``[loyalty]`` settings ask for it (earning rules, referrals or challenges;
:attr:`~tenure.config.LoyaltySettings.acts_on_ingest`): the points of the
orders written, and the referrals and challenges of the customers touched
(:func:`tenure.loyalty.posting.after_ingest`). Every way in calls it, so
that the same orders leave the same ledger whichever way they came.

>>> import tenure
>>> result = tenure.ingest("orders", "orders.csv", store="tenure-data")  # doctest: +SKIP
>>> result.refreshed["loyalty_posted"]["points"]                         # doctest: +SKIP
145
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenure.ingestion.pipeline import IngestResult
    from tenure.store.workspace import Workspace


def ingest(
    kind: str,
    source: Any,
    *,
    workspace: Workspace | None = None,
    store: str | Path | None = None,
    **options: Any,
) -> IngestResult:
    """Ingest ``source`` as ``kind`` (see :func:`tenure.ingestion.pipeline.ingest`
    for the options), then refresh what follows it and, when the program
    acts on ingests, post and settle its loyalty work.

    ``result.refreshed`` says what followed: ``summary_rebuilt``,
    ``scores_refreshed``, and with a program ``loyalty_posted`` (and
    ``loyalty_settled`` when it declares referrals or challenges). The rows
    are committed before the program's work: a failure there is a warning in
    ``result.warnings`` naming the command that catches up.
    """
    if workspace is not None:
        return _ingest(workspace, kind, source, options)
    from tenure.config import load_settings
    from tenure.store.workspace import Workspace, removed_if_failed

    settings = load_settings(store=store)
    with removed_if_failed(settings.store), Workspace.open(settings) as ws:
        return _ingest(ws, kind, source, options)


def _ingest(ws: Workspace, kind: str, source: Any, options: dict[str, Any]) -> IngestResult:
    from tenure.refresh import ingest as refreshed_ingest

    result = refreshed_ingest(kind, source, workspace=ws, **options)
    if ws.settings.loyalty.acts_on_ingest:
        from tenure.loyalty.posting import after_ingest

        after_ingest(ws.settings, ws.ops, result)
    return result
