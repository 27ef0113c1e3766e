"""``tenure demo``'s campaigns: the store at the launch day, the launch, the
messages through the sender, the planted effect, and the measurement.

See :mod:`tenure.datasets.demo_campaign_plan` for what is planted. The steps,
each through tenure's own library:

1. the orders placed before T0 (and their lines) are ingested, the
   customers' consent taken into the consent ledger
   (``tenure consent import --from-customers``), and
   ``tenure predict --model bgnbd`` is fitted on them: the store as it
   stood at T0;
2. each campaign of :func:`tenure.datasets.demo_campaign_plan.demo_campaigns` is created
   (its salt fixed by the seed) and launched with ``at`` = T0, so that
   its audience, arms and ``assigned_at`` are those of T0;
3. the treatment's messages go through the sender and its gate into
   :class:`Sink`, which keeps them and delivers nothing: each is sent, or
   not sent with the gate's reason (no consent, a cap). The outbox dates
   a message when it is queued, that is when the demo runs, so the sender
   runs then, and on while quiet hours postpone some (up to
   ``SEND_DAYS``);
4. the planted orders of the treatment arm are added to the order files,
   which the demo then ingests whole.

A store that already holds the campaigns (the same demo again) keeps their
assignments: nothing is launched twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.datasets import demo_campaign_plan as plan
from tenure.datasets.demo_campaign_plan import WINDOW_DAYS, demo_campaigns  # noqa: F401

SEND_DAYS = 2  # the sender runs from T0 for this long (quiet hours postpone some)


class Sink:
    """An e-mail provider that keeps what it is given and delivers nothing."""

    name = "email"
    idempotent = True

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}

    def send(self, message: Any) -> Any:
        from tenure.campaigns.channels.base import Result

        self.kept[message.idempotency_key] = message
        return Result.sent(f"demo-sink:{message.idempotency_key}")


def ingest_before_launch(ws: Any, files: Any, update: Callable[[str], None]) -> list[Any]:
    """Step 1's ingest: fx rates and customers in full, the orders before
    T0; the results of the full ingests."""
    from tenure.ingestion.pipeline import ingest

    t0 = plan.launch_moment(date.fromisoformat(files.params["as_of"]))
    results = []
    with tempfile.TemporaryDirectory(prefix="tenure-demo-") as folder:
        orders, items = plan.split_orders(files, t0, Path(folder))
        for kind, path in (("fx_rates", files.fx_rates), ("customers", files.customers),
                           ("orders", orders), ("order_items", items)):  # fmt: skip
            update(f"{kind}: the store at the campaigns' launch, {t0.date()}")
            result = ingest(kind, path, workspace=ws)
            if kind in ("fx_rates", "customers"):
                results.append(result)
    # the customers' marketing consent into the ledger the sender's gate reads
    from tenure.campaigns.consent_ingest import sync_from_customers

    sync_from_customers(ws)
    return results


def launched(ops: Any) -> set[str]:
    from tenure.campaigns import definitions

    with ops.engine.connect() as conn:
        return {c.name for c in definitions.all_campaigns(conn) if c.launched_at is not None}


def all_launched(ops: Any) -> bool:
    """Whether the store holds the demo's campaigns launched (a demo again)."""
    return {c.name for c in demo_campaigns(0.0)} <= launched(ops)


def launch_all(settings: Any, ops: Any, files: Any, *, seed: int, outreach_effect: float,
               update: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Steps 2 to 4: the campaigns launched at T0, their messages sent into
    the sink, their planted orders added to the files; per campaign, what
    was planted."""
    from tenure.analysis.fitting import predict
    from tenure.campaigns import definitions, holdouts, launch, sending
    from tenure.campaigns.consent import write_transaction
    from tenure.store.ops_schema import campaign_assignments as a
    from tenure.store.ops_schema import ops_meta

    t0 = plan.launch_moment(date.fromisoformat(files.params["as_of"]))
    campaigns = demo_campaigns(outreach_effect)
    if not all_launched(ops):
        update(f"campaigns: predicting as of {t0.date()}")
        # BG/NBD, without the choice of a model on a holdout: seconds saved
        predict(settings=settings, model="bgnbd", save=True)
        templates = plan.write_templates(Path(files.orders).parent / "templates")
        with write_transaction(ops) as conn:
            # the global control's salt fixed by the seed, unless the store has one
            if conn.execute(sa.select(ops_meta.c.key).where(
                    ops_meta.c.key == holdouts._SALT_KEY)).first() is None:  # fmt: skip
                conn.execute(ops_meta.delete().where(ops_meta.c.key == holdouts._SHARE_KEY))
                conn.execute(ops_meta.insert(), [
                    {"key": holdouts._SALT_KEY, "value": plan.salt(seed, "global control")},
                    {"key": holdouts._SHARE_KEY, "value": repr(holdouts.GLOBAL_SHARE)}])  # fmt: skip
            known = {c.name for c in definitions.all_campaigns(conn)}
            for c in campaigns:
                if c.name not in known:
                    definitions.create(conn, definitions.spec(
                        name=c.name, template=templates[c.name], audience=list(c.audience),
                        holdout=c.holdout, salt=plan.salt(seed, c.name)), at=t0)  # fmt: skip
        # after the global control's salt is set: a journey's entry draws under it
        update(f"playbooks: installing {len(PLAYBOOKS)} journeys as of {t0.date()}")
        start_playbooks(settings, ops, t0, seed)
        for c in campaigns:
            update(f"campaigns: launching {c.name} as of {t0.date()}")
            launch.launch(settings, ops, c.name, at=t0)
        update("campaigns: sending the messages into the demo's sink")
        # the outbox dates the messages when they are queued (now), so the
        # sender runs from now, on while quiet hours postpone some
        sink = Sink()
        moment = start = datetime.now(UTC)
        while moment is not None and moment < start + timedelta(days=SEND_DAYS):
            sent = sending.send_pending(settings, ops, now=moment, providers={"email": sink})
            moment = sent["next_due"] and _moment(sent["next_due"])
    out = {}
    with ops.engine.connect() as conn:
        for c in campaigns:
            campaign = definitions.get(conn, c.name)
            treated = conn.execute(sa.select(a.c.customer_id).where(
                a.c.campaign_id == campaign.id, a.c.arm == "treatment")).scalars().all()  # fmt: skip
            out[c.name] = {"audience": list(c.audience), "holdout": c.holdout}
            out[c.name] |= plan.plant(files, seed, c, list(treated), t0)
    planted = {"launched_at": t0.isoformat(), "window_days": WINDOW_DAYS, "campaigns": out}
    # the truth beside the other parameters that generated the files
    import json

    files.params["campaigns"] = planted
    Path(files.params_file).write_text(json.dumps(files.params, indent=2, ensure_ascii=False)
                                       + "\n", encoding="utf-8")  # fmt: skip
    return planted


def _moment(text: str) -> Any:
    return datetime.fromisoformat(text)


# the playbooks the demo runs as journeys; at-risk outreach and win-back
# are its two campaigns above (one launch each, with the planted effect)
PLAYBOOKS = ("welcome", "onboarding", "post-purchase", "birthday", "replenishment")


def start_playbooks(settings: Any, ops: Any, at: datetime, seed: int) -> dict[str, Any]:
    """Install :data:`PLAYBOOKS` (those not installed yet, their holdouts'
    salts fixed by the seed) and run them as of ``at``: the triggers' first run records where everyone is (no one
    enters then), replenishment enters who is overdue now."""
    from tenure.campaigns import journeys_playbooks, journeys_runner
    from tenure.campaigns.journeys import all_journeys

    with ops.engine.connect() as conn:
        installed = {j.name for j in all_journeys(conn)}
    for name in PLAYBOOKS:
        if name not in installed:
            journeys_playbooks.install(settings, ops, name, salt=plan.salt(seed, name))
    return journeys_runner.run(settings, ops, at=at)


def run_playbooks(settings: Any, ops: Any, end: date) -> dict[str, Any]:
    """Run the journeys as of the end of the data's last day: the triggers
    enter what happened since the launch (sign-ups, first and other
    orders, birthdays); per journey, its entrants by arm and the messages
    queued in all."""
    from tenure.campaigns import journeys_runner, journeys_status

    at = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    ran = journeys_runner.run(settings, ops, at=at)
    out = {}
    for doc in ran["journeys"]:
        status = journeys_status.status(ops, doc["journey"])
        out[doc["journey"]] = {"entries": status["entries"], "arms": status["arms"],
                               "messages": sum(status["messages"].values()),
                               "accounted": status["accounted"], "error": doc.get("error")}  # fmt: skip
    return {"at": at.isoformat(), "journeys": out}


def measured(settings: Any, ops: Any, planted: dict[str, Any]) -> dict[str, Any]:
    """Each campaign's status and conversion lift over its holdout, as
    ``tenure campaign status NAME --measure`` gives them, beside the truth."""
    from tenure.campaigns import launch_status

    out = {}
    for name, truth in planted["campaigns"].items():
        status = launch_status.status(ops, name)
        doc = launch_status.measure(settings, ops, name, window=WINDOW_DAYS)
        out[name] = {"truth": truth, "status": status, "measure": doc}
    return out
