"""Every table tenure keeps, with its customer key and the columns that hold
personal data.

Erasure, export and campaign audiences are driven by this list: a table
with a ``customer_key`` holds rows about one customer each (erased or
exported by that key); ``personal`` names the columns whose values identify
or describe a person (kept out of exports that need no names, blanked where
a row must stay for the books). A test builds a fresh demo store and checks
that every table in both stores is listed here and every listed column
exists, so the registry cannot drift from the stores.

Where a table lives:

=============  =============================================================
analytics      the DuckDB file: facts ingested (one table per kind of
               :mod:`tenure.datamodel`) and what is derived from them
ops            the operational store (SQLite or PostgreSQL): state the
               product writes itself
=============  =============================================================

>>> from tenure.store.registry import TABLES, customer_tables
>>> TABLES["customers"].personal["email"]
'email'
>>> "orders" in customer_tables()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# What a personal column holds; erasure and exports treat each alike.
CATEGORIES = (
    "name",
    "email",
    "phone",
    "address",  # a postal or a network (IP) address
    "birthday",
    "free_text",  # what a person wrote, or arbitrary attributes
    "person_link",  # the id of another person (who referred them)
    "credential",  # a password or key hash: never exported
)

Store = Literal["analytics", "ops"]
Role = Literal["facts", "derived", "operational", "bookkeeping"]


@dataclass(frozen=True)
class Table:
    name: str
    store: Store
    role: Role
    customer_key: str | None
    # column -> one of CATEGORIES
    personal: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""


def _t(
    name: str,
    store: Store,
    role: Role,
    customer_key: str | None,
    doc: str,
    /,
    **personal: str,
) -> Table:
    unknown = set(personal.values()) - set(CATEGORIES)
    if unknown:  # pragma: no cover - caught when the module is imported
        raise ValueError(f"{name}: unknown personal-data categories {sorted(unknown)}")
    return Table(name, store, role, customer_key, personal, doc)


_ALL = (
    # -- analytics: the facts, one table per kind ---------------------------
    _t(
        "customers", "analytics", "facts", "customer_id",
        "One row per customer: profile, consent, acquisition.",
        email="email", name="name", birthday="birthday", attributes="free_text",
        referred_by="person_link",
    ),
    _t("orders", "analytics", "facts", "customer_id", "One row per order."),
    _t(
        "order_items", "analytics", "facts", None,
        "The lines of an order; the customer is the order's (join on order_id).",
    ),
    _t("subscriptions", "analytics", "facts", "customer_id", "Subscriptions and their ends."),
    _t("support_tickets", "analytics", "facts", "customer_id", "Support tickets."),
    _t(
        "survey_responses", "analytics", "facts", "customer_id",
        "NPS, CSAT and CES answers.", comment="free_text",
    ),
    _t(
        "events", "analytics", "facts", "customer_id",
        "Behaviour events.", properties="free_text",
    ),
    _t("fx_rates", "analytics", "facts", None, "Exchange rates into the reporting currency."),
    # -- analytics: derived from the facts --------------------------------
    _t(
        "customer_predictions", "analytics", "derived", "customer_id",
        "P(alive), expected purchases and spend, CLV per customer (tenure predict).",
    ),
    _t(
        "churn_predictions", "analytics", "derived", "customer_id",
        "Churn probability and its drivers per active customer (tenure fit churn).",
    ),
    _t(
        "subscription_predictions", "analytics", "derived", "customer_id",
        "Renewal probability and CLV per active subscription (tenure fit sbg).",
    ),
    _t("model_fits", "analytics", "derived", None, "Every fit kept: parameters, validation."),
    _t(
        "customer_activity", "analytics", "derived", "customer_id",
        "Per customer: first and last purchase, purchase days, orders, revenue, refunds "
        "(kept up to date by each ingest; see tenure.store.summary).",
    ),
    # -- analytics: bookkeeping ------------------------------------------
    _t("_tenure_meta", "analytics", "bookkeeping", None, "Schema version, reporting currency, the summary's time zone."),
    _t("_ingest_batches", "analytics", "bookkeeping", None, "Each committed ingest."),
    # -- the operational store -------------------------------------------
    _t("ingest_runs", "ops", "operational", None, "Every ingest run and its counts."),
    _t("goals", "ops", "operational", None, "Goals set on metrics."),
    _t("ops_meta", "ops", "bookkeeping", None, "Settings of the operational store."),
    _t("alembic_version", "ops", "bookkeeping", None, "The schema's migration."),
    _t(
        "users", "ops", "operational", None,
        "People who use the dashboard and the API (staff, not customers).",
        email="email", name="name", password_hash="credential",
    ),
    _t("api_keys", "ops", "operational", None, "API keys.", key_hash="credential"),
    _t(
        "sessions", "ops", "operational", None, "Dashboard sessions.",
        id_hash="credential", csrf="credential",
    ),
    _t(
        "login_attempts", "ops", "operational", None,
        "Recent logins, to slow down guessing.", email="email", address="address",
    ),
    _t(
        "audit_log", "ops", "operational", None,
        "Who did what: logins, user and key changes, ingests, exports, erasures.",
        actor="email", target="email", address="address",
    ),
    # -- the loyalty ledger (tenure.loyalty) -------------------------------
    _t("loyalty_members", "ops", "operational", "customer_id", "Members of the loyalty program."),
    _t(
        "loyalty_entries", "ops", "operational", "customer_id",
        "The ledger: append-only entries; a balance is their sum.", reason="free_text",
    ),
    _t("loyalty_lots", "ops", "operational", "customer_id", "Lots of points with their start and expiry."),
    _t(
        "loyalty_allocations", "ops", "operational", None,
        "Which lots each redemption, expiry or clawback took points from "
        "(the customer is the lot's: join on lot_id).",
    ),
    _t(
        "loyalty_keys", "ops", "operational", "customer_id",
        "Idempotency keys of ledger writes and their stored responses (kept 24 h or more).",
    ),
    _t(
        "loyalty_tier_changes", "ops", "operational", "customer_id",
        "Every change of a member's loyalty tier; the latest is the tier.", reason="free_text",
    ),
    _t(
        "loyalty_order_points", "ops", "operational", "customer_id",
        "The points each ingested order line earned, once per line and rule.",
    ),
    _t(
        "loyalty_order_reversals", "ops", "operational", None,
        "The points of order lines given back by refunds (join on order_id, line and rule).",
    ),
    # -- loyalty rewards, referrals and challenges ---------------------------
    _t(
        "loyalty_redemptions", "ops", "operational", "customer_id",
        "Which catalogue reward each redemption was for, and what its points paid.",
    ),
    _t("loyalty_reward_stock", "ops", "operational", None, "How many of each reward were taken."),
    _t(
        "loyalty_referral_codes", "ops", "operational", "customer_id",
        "Members' referral codes, with digests of their e-mail, address and payment method.",
    ),
    _t(
        "loyalty_referrals", "ops", "operational", "friend_id",
        "Friends referred with a code, pending, rewarded or refused with the reason.",
        advocate_id="person_link",
    ),
    _t("loyalty_events", "ops", "operational", "customer_id",
       "What members did for challenges: a review, a survey answer."),
    _t("loyalty_badges", "ops", "operational", "customer_id", "Badges of challenges completed."),
    _t("loyalty_awards", "ops", "operational", "customer_id",
       "Bonus points paid for a referral or a badge, once per source and role."),
    _t(
        "loyalty_api_requests", "ops", "operational", "customer_id",
        "Idempotency-Key requests of the loyalty API and their stored responses (kept 24 h "
        "or more).", principal="email", response="free_text",
    ),
    _t("loyalty_webhook_endpoints", "ops", "bookkeeping", None, "Loyalty webhook endpoints."),
    _t(
        "loyalty_webhook_events", "ops", "operational", "customer_id",
        "The loyalty webhooks' outbox: one event per ledger fact.", data="free_text",
    ),
    _t(
        "loyalty_webhook_deliveries", "ops", "operational", None,
        "Each webhook event's delivery to each endpoint: attempts and fate "
        "(the customer is the event's: join on event_id).",
    ),
    # -- consent and sending rules (tenure.campaigns) ----------------------
    _t(
        "consent_events", "ops", "operational", "customer_id",
        "The consent ledger: each grant or withdrawal per channel and purpose, with its "
        "source; the latest is the state.", reference="free_text",
    ),
    _t(
        "consent_api_requests", "ops", "operational", "customer_id",
        "Idempotency-Key requests of the consent API and their stored responses.",
        principal="email", response="free_text",
    ),
    _t(
        "suppressions", "ops", "operational", "customer_id",
        "Addresses and customers not sent to: hard bounces, repeated soft bounces, "
        "complaints, by hand.", address="email", detail="free_text",
    ),
    _t(
        "bounces", "ops", "operational", "customer_id",
        "Bounces reported per address.", address="email", detail="free_text",
    ),
    _t(
        "contacts", "ops", "operational", "customer_id",
        "Messages sent, as frequency caps and the contact budget count them.",
    ),
    _t(
        "unsubscribe_uses", "ops", "operational", "customer_id",
        "One-click unsubscribe links used (their nonces), so a replay records nothing more.",
    ),
    # -- campaign messages (tenure.campaigns) -------------------------------
    _t(
        "campaign_messages", "ops", "operational", "customer_id",
        "The campaigns' message outbox: each message as rendered (a launch's when the sender "
        "claims it), its campaign's priority, and whether it was sent, "
        "or failed, expired or was blocked, with the reason.",
        recipient="email", subject="free_text", body_text="free_text", body_html="free_text",
        headers="free_text",
    ),
    # -- campaigns, audiences and holdouts (tenure.campaigns) -------------
    _t(
        "campaigns", "ops", "operational", None,
        "Campaign definitions: channel, purpose, template, audience, holdout share, state.",
    ),
    _t(
        "campaign_assignments", "ops", "operational", "customer_id",
        "Each customer's arm in a campaign (treatment, holdout, global control), fixed "
        "when they were found eligible.",
    ),
    # -- journeys (tenure.campaigns.journeys) -----------------------------
    _t(
        "journeys", "ops", "operational", None,
        "Journey definitions: entry, holdout, re-entry rule, exit goals and steps, versioned.",
    ),
    _t(
        "journey_members", "ops", "operational", "customer_id",
        "Each entry of a customer into a journey: the arm drawn at entry, the step, when it "
        "is due, and why the member left.",
    ),
    # -- triggers (tenure.campaigns.triggers) --------------------------------
    _t(
        "trigger_state", "ops", "bookkeeping", None,
        "Each trigger owner's watermark: evaluated up to then.",
    ),
    _t(
        "trigger_members", "ops", "operational", "customer_id",
        "The members a segment or threshold trigger saw last, with their entries and exits.",
    ),
    _t(
        "service_recovery_tasks", "ops", "operational", "customer_id",
        "One follow-up per NPS detractor's answer, open or closed with a note.",
        comment="free_text", note="free_text",
    ),
)  # fmt: skip

TABLES: dict[str, Table] = {t.name: t for t in _ALL}


def customer_tables() -> dict[str, Table]:
    """The tables whose rows each belong to one customer, by name."""
    return {n: t for n, t in TABLES.items() if t.customer_key is not None}


def personal_columns(category: str | None = None) -> dict[str, dict[str, str]]:
    """Table -> {column: category} of the personal columns (of one category)."""
    out = {}
    for name, table in TABLES.items():
        cols = {c: k for c, k in table.personal.items() if category in (None, k)}
        if cols:
            out[name] = cols
    return out
