"""Rendering a launched campaign's messages when the sender claims them.

A launch queues its messages unrendered (:func:`tenure.campaigns.outbox.enqueue_unrendered`):
the row keeps the campaign's template folder and the customer's locale.
The sender's claim asks a :class:`CampaignRenderer` for the text of those
it takes, and keeps it in the row in the claim's transaction, so that the
outbox holds each message as it was sent and a retry sends the same bytes.

The variables are those of :mod:`tenure.campaigns.personal`, read in bulk
for the claim's customers (:class:`Profiles`), as of the campaign's launch
(``today`` is the launch day): the message does not depend on the day the
sender reached it. A message that cannot be rendered (a variable the
template uses and the customer lacks, a template folder since removed)
fails with the template's own words, and is counted as not sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns.consent import utc
from tenure.campaigns.templates import Rendered, Template
from tenure.errors import TenureError


def variables(template: Template) -> set[str]:
    """The variables the template's parts use (so that what no part uses,
    such as the loyalty balance, is not read for every customer)."""
    from jinja2 import meta

    # the templates' own environment: it knows their filters (money, date, ...)
    from tenure.campaigns.templates import _ENVIRONMENTS

    env = _ENVIRONMENTS[False]
    used: set[str] = set()
    for parts in template.variants.values():
        for source in (parts.subject, parts.text, parts.html):
            if source:
                used |= meta.find_undeclared_variables(env.parse(source))
    return used


class Profiles:
    """The template variables of a batch of customers, read in bulk: the
    profile from ``customers``, the predictions kept by ``tenure predict``,
    and the loyalty balance only when the template uses it (the same values
    :func:`tenure.campaigns.personal.context_for` gives one customer)."""

    def __init__(self, settings: Any, used: set[str]) -> None:
        self.settings, self.used = settings, used

    def __enter__(self) -> Profiles:
        from tenure.store import analytics

        self.con, self.currency = analytics.open_read_only(self.settings.analytics_path,
                                                           self.settings.store)  # fmt: skip
        self.predictions = bool(self.used & {"next_order", "p_alive", "clv"}) and bool(
            self.con.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_name = 'customer_predictions'").fetchall()[0][0])  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def addresses(self, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """Each customer's (e-mail, locale): what a launch queues."""
        return {r[0]: (r[1], r[2]) for r in self.con.execute(
            "SELECT customer_id, email, locale FROM customers "
            "WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()}  # fmt: skip

    def contexts(self, ids: list[str], as_of: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
        rows = {r[0]: r for r in self.con.execute(
            "SELECT customer_id, name, email, country, locale FROM customers "
            "WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()}  # fmt: skip
        kept: dict[str, tuple[Any, ...]] = {}
        if self.predictions:
            kept = {r[0]: r for r in self.con.execute(
                "SELECT customer_id, next_purchase_date, p_alive, clv FROM customer_predictions "
                "WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()}  # fmt: skip
        today = utc(as_of).date()
        ops = None
        if "points" in self.used:
            from tenure.campaigns.personal import _points
            from tenure.store.workspace import Workspace

            ops = Workspace.open(self.settings, create=False)
        try:
            for customer_id in ids:
                _, name, email, country, locale = rows.get(customer_id, (customer_id,) + (None,) * 4)
                nxt, p_alive, clv = kept.get(customer_id, (None, None, None, None))[1:]
                yield customer_id, {
                    "customer_id": customer_id, "name": name,
                    "first_name": str(name).split()[0] if name else None,
                    "email": email, "country": country, "locale": locale,
                    "currency": self.currency,
                    "points": (_points(ops.ops, self.settings, customer_id, as_of)
                               if ops is not None else None),
                    "next_order": None if nxt is None else {"date": nxt, "days": (nxt - today).days},
                    "p_alive": None if p_alive is None else float(p_alive),
                    "clv": None if clv is None else float(clv),
                    "recommendations": [], "today": today,
                }  # fmt: skip
        finally:
            if ops is not None:
                ops.close()


# how long a renderer keeps the analytics store open between claims: opening
# it for each claim of 100 messages was a tenth of the sender's time, and
# holding it longer would keep an ingest's commit waiting
HOLD_SECONDS = 1.0


class CampaignRenderer:
    """Renders the unrendered messages of a claim: ``(conn, rows)`` with
    each row's ``campaign``, ``customer_id``, ``template`` and ``locale``
    gives a :class:`Rendered` or the error (a :class:`TenureError`) for each.
    Templates are loaded once per campaign; the analytics store is kept open
    for the claims of :data:`HOLD_SECONDS` at most, then closed until the
    next claim (and by :meth:`close`, which the sender calls when it is done)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._campaigns: dict[str, tuple[Template, datetime, set[str]]] = {}
        self._open: dict[str, Profiles] = {}
        self._opened_at = 0.0

    def _campaign(self, conn: sa.Connection, name: str,
                  folder: str) -> tuple[Template, datetime, set[str]]:  # fmt: skip
        if name not in self._campaigns:
            from tenure.campaigns import definitions
            from tenure.campaigns.templates import load_template

            campaign = definitions.get(conn, name)
            template = load_template(Path(folder))
            self._campaigns[name] = (template, campaign.launched_at or utc(datetime.now()),
                                     variables(template))  # fmt: skip
        return self._campaigns[name]

    def _profiles(self, name: str, used: set[str]) -> Profiles:
        if self._open and time.monotonic() - self._opened_at > HOLD_SECONDS:
            self.close()
        if name not in self._open:
            if not self._open:
                self._opened_at = time.monotonic()
            self._open[name] = Profiles(self.settings, used).__enter__()
        return self._open[name]

    def close(self) -> None:
        for profiles in self._open.values():
            profiles.__exit__(None, None, None)
        self._open.clear()

    def __call__(self, conn: sa.Connection, rows: Sequence[Any]) -> list[Rendered | TenureError]:
        out: dict[int, Rendered | TenureError] = {}
        by_campaign: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        for i, row in enumerate(rows):
            by_campaign.setdefault((row.campaign, row.template), []).append((i, row))
        for (name, folder), members in by_campaign.items():
            try:
                template, as_of, used = self._campaign(conn, name, folder)
            except TenureError as exc:
                out.update({i: exc for i, _ in members})
                continue
            profiles = self._profiles(name, used)
            contexts = dict(profiles.contexts([r.customer_id for _, r in members], as_of))
            for i, row in members:
                try:
                    out[i] = template.render(contexts[row.customer_id], row.locale or None)
                except TenureError as exc:
                    out[i] = exc
        return [out[i] for i in range(len(rows))]
