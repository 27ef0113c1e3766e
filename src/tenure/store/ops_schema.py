"""Tables of the operational store: state the product itself writes.

Changes to these tables go through an Alembic revision in ``migrations/``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running, succeeded, failed, interrupted
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("read", sa.BigInteger),
    sa.Column("accepted", sa.BigInteger),
    sa.Column("rejected", sa.BigInteger),
    sa.Column("duplicates", sa.BigInteger),
    sa.Column("inserted", sa.BigInteger),
    sa.Column("updated", sa.BigInteger),
    sa.Column("unchanged", sa.BigInteger),
    sa.Column("customers_created", sa.BigInteger),
    sa.Column("quarantine_path", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("pid", sa.Integer),
)

sa.Index("ix_ingest_runs_status", ingest_runs.c.status)

goals = sa.Table(
    "goals",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("metric", sa.String(60), nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("change", sa.String(40), nullable=False),  # as written: -10%, +2pp, =80
    sa.Column("baseline_period", sa.String(10), nullable=False),
    sa.Column("baseline_value", sa.Float, nullable=False),
    sa.Column("target_value", sa.Float, nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("definitions", sa.Text, nullable=False),  # JSON: the definitions the baseline used
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("removed_at", sa.DateTime(timezone=True)),
)

# who may use the dashboard and the API ---------------------------------------

ops_meta = sa.Table(
    "ops_meta",
    metadata,
    sa.Column("key", sa.String(60), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # lower case
    sa.Column("name", sa.String(200)),
    sa.Column("role", sa.String(20), nullable=False),  # admin, analyst, viewer
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, with its parameters
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),  # shown, to tell keys apart
    sa.Column("key_hash", sa.String(64), nullable=False),  # SHA-256 of the secret part
    sa.Column("name", sa.String(200)),
    sa.Column("scopes", sa.String(60), nullable=False),  # read,write,admin
    sa.Column("created_by", sa.String(320)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the cookie's token
    sa.Column(
        "user_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),  # fmt: skip
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
)

sa.Index("ix_login_attempts_email_at", login_attempts.c.email, login_attempts.c.at)
sa.Index("ix_login_attempts_address_at", login_attempts.c.address, login_attempts.c.at)

# who did what: logins, user and key changes, ingests, exports, erasures ------

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),  # login, user_disabled, ingest, ...
    sa.Column("actor_kind", sa.String(10), nullable=False),  # user, key, os
    sa.Column("actor", sa.String(320), nullable=False),  # an email, a key, an OS user
    sa.Column("target", sa.String(320)),  # the user, key or file acted on
    sa.Column("address", sa.String(64)),  # the client's IP address, for the API
    sa.Column("detail", sa.Text),  # JSON: counts, the new role; never a password
)

sa.Index("ix_audit_log_at", audit_log.c.at)
sa.Index("ix_audit_log_kind_at", audit_log.c.kind, audit_log.c.at)

# the loyalty ledger (tenure.loyalty): append-only entries, lots of points,
# which lots each draw took from, idempotency keys ---------------------------

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

loyalty_members = sa.Table(
    "loyalty_members",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    # PostgreSQL locks this row (SELECT ... FOR UPDATE) to serialise the
    # member's writes; SQLite serialises every write with BEGIN IMMEDIATE
    sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
)

loyalty_lots = sa.Table(
    "loyalty_lots",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "customer_id", sa.String(200), sa.ForeignKey("loyalty_members.customer_id"), nullable=False
    ),
    sa.Column("points", sa.BigInteger, nullable=False),  # as issued; what is left is derived
    sa.Column("pending", sa.Boolean, nullable=False),  # usable only once approved
    sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),  # null: never
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_loyalty_lots_customer", loyalty_lots.c.customer_id)
sa.Index("ix_loyalty_lots_expires_at", loyalty_lots.c.expires_at)

loyalty_entries = sa.Table(
    "loyalty_entries",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "customer_id", sa.String(200), sa.ForeignKey("loyalty_members.customer_id"), nullable=False
    ),
    # earn, pending, approve, redeem, expire, reverse, adjust
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),  # change of the balance
    sa.Column("pending", sa.BigInteger, nullable=False),  # change of the pending points
    sa.Column("lot_id", _ID, sa.ForeignKey("loyalty_lots.id")),  # the lot made, approved or expired
    sa.Column("reverses", _ID, sa.ForeignKey("loyalty_entries.id")),
    sa.Column("order_line", sa.String(200)),  # with rule: an order line earns once per rule
    sa.Column("rule", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Column("reward", sa.String(200)),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    # what an earning's points were earned for, in the reporting currency (a
    # reversal: its share, negative): tiers qualified on spend sum it
    sa.Column("amount", sa.Numeric(18, 4, asdecimal=False)),
)

sa.Index("ix_loyalty_entries_customer", loyalty_entries.c.customer_id, loyalty_entries.c.id)
sa.Index("ix_loyalty_entries_reverses", loyalty_entries.c.reverses)
sa.Index("ix_loyalty_entries_lot", loyalty_entries.c.lot_id)
sa.Index(
    "ux_loyalty_entries_order_line_rule",
    loyalty_entries.c.order_line,
    loyalty_entries.c.rule,
    unique=True,
)

loyalty_allocations = sa.Table(
    "loyalty_allocations",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    # the draw (redeem, expire, reverse, adjust) and the lot it took points from
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
    sa.Column("lot_id", _ID, sa.ForeignKey("loyalty_lots.id"), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    # the entry whose posting made this row: a later earning pays a debt
    sa.Column("made_by", _ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
)

sa.Index("ix_loyalty_allocations_lot", loyalty_allocations.c.lot_id)
sa.Index("ix_loyalty_allocations_entry", loyalty_allocations.c.entry_id)
sa.Index("ix_loyalty_allocations_made_by", loyalty_allocations.c.made_by)

loyalty_keys = sa.Table(
    "loyalty_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("operation", sa.String(20), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),  # SHA-256 of the request
    sa.Column("response", sa.Text, nullable=False),  # JSON, given again on a retry
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_loyalty_keys_created_at", loyalty_keys.c.created_at)

# loyalty tiers (tenure.loyalty.tiers): every change of a member's tier, kept;
# the member's tier is the latest row's --------------------------------------

loyalty_tier_changes = sa.Table(
    "loyalty_tier_changes",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "customer_id", sa.String(200), sa.ForeignKey("loyalty_members.customer_id"), nullable=False
    ),
    # upgrade, renew, downgrade, manual, manual_end
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("tier", sa.String(100)),  # null: no tier
    sa.Column("previous", sa.String(100)),
    sa.Column(
        "value", sa.Numeric(18, 4, asdecimal=False)
    ),  # the qualifying value it was decided on
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),  # when it took effect
    # the end of the period the tier is held for (a manual tier: its end)
    sa.Column("kept_until", sa.DateTime(timezone=True)),
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id")),  # the write that made it
    sa.Column("reason", sa.Text),
)

sa.Index("ix_loyalty_tier_changes_customer", loyalty_tier_changes.c.customer_id,
         loyalty_tier_changes.c.id)  # fmt: skip

# loyalty points earned from ingested orders (tenure.loyalty.posting): one
# row per order line and rule, and one per reversal of its points (a refund,
# a cancellation). The unique keys make "one order line earns once per
# rule" and "one refund reverses once" hold in the database, whatever the
# path or the retry ------------------------------------------------------------

loyalty_order_points = sa.Table(
    "loyalty_order_points",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("line", sa.String(200), nullable=False),  # the product id; '': the whole order
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),  # what the line earned, refunds aside
    # points of a refund already known when the line was first posted, never credited
    sa.Column("refunded", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.Numeric(18, 4, asdecimal=False)),  # the line's, reporting currency
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id")),  # null: nothing credited
    sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("order_id", "line", "rule", name="ux_loyalty_order_points_line"),
)

loyalty_order_reversals = sa.Table(
    "loyalty_order_reversals",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("order_id", sa.String(200), nullable=False),
    sa.Column("line", sa.String(200), nullable=False),
    sa.Column("rule", sa.String(100), nullable=False),
    # the line's points reversed in all once this reversal is posted
    sa.Column("reversed_to", sa.BigInteger, nullable=False),
    # null: nothing was left to reverse (the points had expired)
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id")),
    sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint(
        "order_id", "line", "rule", "reversed_to", name="ux_loyalty_order_reversals_step"
    ),
)
# loyalty rewards, referrals and challenges (tenure.loyalty.rewards,
# .referrals, .challenges) ---------------------------------------------------

loyalty_redemptions = sa.Table(
    "loyalty_redemptions",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    # the ledger's redeem entry: one catalogue reward per redemption
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id"), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("reward_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # discount, product, partial
    sa.Column("points", sa.BigInteger, nullable=False),
    # what the points paid, in the reporting currency (a free product: null)
    sa.Column("value", sa.Numeric(18, 4, asdecimal=False)),
    sa.Column("product_id", sa.String(200)),
    sa.Column("order_id", sa.String(200)),  # a partial redemption: the order it paid part of
    sa.Column("order_total", sa.Numeric(18, 4, asdecimal=False)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_loyalty_redemptions_member", loyalty_redemptions.c.customer_id,
         loyalty_redemptions.c.reward_id)  # fmt: skip

# a reward's stock: the conditional update of its row is what keeps two
# members' redemptions at the same time from taking the last one twice
loyalty_reward_stock = sa.Table(
    "loyalty_reward_stock",
    metadata,
    sa.Column("reward_id", sa.String(100), primary_key=True),
    sa.Column("redeemed", sa.BigInteger, nullable=False),
)

loyalty_referral_codes = sa.Table(
    "loyalty_referral_codes",
    metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False, unique=True),
    # SHA-256 digests of the advocate's normalised e-mail, address and
    # payment fingerprint: compared with a friend's, never shown
    sa.Column("email_digest", sa.String(64)),
    sa.Column("address_digest", sa.String(64)),
    sa.Column("payment_digest", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

loyalty_referrals = sa.Table(
    "loyalty_referrals",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("advocate_id", sa.String(200), nullable=False),
    sa.Column("friend_id", sa.String(200), nullable=False),
    # the friend's id, or null for a referral refused when it was recorded:
    # a friend is referred once, and refused attempts are kept beside it
    sa.Column("friend_key", sa.String(200), unique=True),
    sa.Column("email_digest", sa.String(64)),
    sa.Column("address_digest", sa.String(64)),
    sa.Column("payment_digest", sa.String(64)),
    sa.Column("status", sa.String(10), nullable=False),  # pending, refused, qualified, rewarded
    sa.Column("reason", sa.String(40)),  # why refused: self_email, cap_reached, ...
    sa.Column("detail", sa.Text),
    sa.Column("order_id", sa.String(200)),  # the friend's first qualifying order
    sa.Column("order_amount", sa.Numeric(18, 4, asdecimal=False)),
    sa.Column("order_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
)

sa.Index("ix_loyalty_referrals_advocate", loyalty_referrals.c.advocate_id,
         loyalty_referrals.c.status)  # fmt: skip
sa.Index("ix_loyalty_referrals_friend", loyalty_referrals.c.friend_id)

loyalty_events = sa.Table(
    "loyalty_events",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),  # review, survey, ...
    sa.Column("key", sa.String(255), unique=True),  # the same event sent twice counts once
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_loyalty_events_customer", loyalty_events.c.customer_id, loyalty_events.c.kind)

loyalty_badges = sa.Table(
    "loyalty_badges",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("challenge_id", sa.String(100), nullable=False),
    sa.Column("badge", sa.String(200), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("customer_id", "challenge_id", name="ux_loyalty_badges_member"),
)

# bonus points paid for a referral or a challenge: one row per source and
# role, so that settling again pays nothing more
loyalty_awards = sa.Table(
    "loyalty_awards",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("source", sa.String(20), nullable=False),  # referral, badge
    sa.Column("source_id", _ID, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # advocate, friend, member
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("entry_id", _ID, sa.ForeignKey("loyalty_entries.id"), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("source", "source_id", "role", name="ux_loyalty_awards_source"),
)

sa.Index("ix_loyalty_awards_customer", loyalty_awards.c.customer_id)
# the loyalty REST API and its webhooks (tenure.web.idempotency,
# tenure.loyalty.outbox, tenure.loyalty.webhooks) --------------------------

# a POST's Idempotency-Key, per caller: the request's fingerprint and the
# response, written in the same transaction as the ledger write it made
loyalty_api_requests = sa.Table(
    "loyalty_api_requests",
    metadata,
    sa.Column("principal", sa.String(400), primary_key=True),  # user:EMAIL or key:PREFIX
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # SHA-256 of method, path, body
    sa.Column("status", sa.Integer, nullable=False),  # the stored response's status and body
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_loyalty_api_requests_created_at", loyalty_api_requests.c.created_at)

# endpoints declared with `tenure loyalty webhooks add` (those of tenure.toml
# are read from the settings); their secrets are in the workspace, owner-only
loyalty_webhook_endpoints = sa.Table(
    "loyalty_webhook_endpoints",
    metadata,
    sa.Column("url", sa.String(2000), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# the outbox: one row per event, written in the ledger write's transaction
loyalty_webhook_events = sa.Table(
    "loyalty_webhook_events",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    # loyalty.points.earned, .redeemed, .expiring; loyalty.tier.changed
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("dedup", sa.String(200), nullable=False, unique=True),  # one event per fact
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fanned_out", sa.Boolean, nullable=False, default=False),
)

sa.Index("ix_loyalty_webhook_events_fanned_out", loyalty_webhook_events.c.fanned_out)

# one row per event and endpoint: its attempts, and its fate
loyalty_webhook_deliveries = sa.Table(
    "loyalty_webhook_deliveries",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("event_id", _ID, sa.ForeignKey("loyalty_webhook_events.id"), nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.DateTime(timezone=True)),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("event_id", "url", name="ux_loyalty_webhook_deliveries_event_url"),
)

sa.Index("ix_loyalty_webhook_deliveries_due", loyalty_webhook_deliveries.c.state,
         loyalty_webhook_deliveries.c.next_at)  # fmt: skip

# consent and sending rules (tenure.campaigns: consent, suppression, caps,
# unsubscribe) -----------------------------------------------------------

# the consent ledger: append-only; a customer's state for a channel and a
# purpose is its latest event (by ``at``, then by id)
consent_events = sa.Table(
    "consent_events",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False),  # email, sms, push, webhook...
    sa.Column("purpose", sa.String(40), nullable=False),  # marketing, transactional...
    sa.Column("granted", sa.Boolean, nullable=False),
    # api, cli, import, unsubscribe_link, complaint
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("reference", sa.String(400)),  # FILE:LINE, the link's nonce, who called the API
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),  # when the person said so
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key", sa.String(255), unique=True),  # a write's idempotency key
)

sa.Index("ix_consent_events_state", consent_events.c.customer_id, consent_events.c.channel,
         consent_events.c.purpose, consent_events.c.at)  # fmt: skip

# an Idempotency-Key of the consent API, per caller, with the stored
# response, written in the same transaction as the write it made
consent_api_requests = sa.Table(
    "consent_api_requests",
    metadata,
    sa.Column("principal", sa.String(400), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# addresses and customers that are not sent to, with the reason; a lifted
# one keeps its row
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("channel", sa.String(40)),  # NULL: every channel
    sa.Column("address", sa.String(400)),  # normalised: e-mail lower-cased, spaces dropped
    sa.Column("customer_id", sa.String(200)),
    # hard_bounce, soft_bounces, complaint, manual
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lifted_at", sa.DateTime(timezone=True)),
)

sa.Index("ix_suppressions_address", suppressions.c.address)
sa.Index("ix_suppressions_customer", suppressions.c.customer_id)

# every bounce reported by a provider or by hand
bounces = sa.Table(
    "bounces",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("address", sa.String(400), nullable=False),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("kind", sa.String(10), nullable=False),  # hard, soft
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_bounces_address", bounces.c.address, bounces.c.at)

# the messages sent, as the frequency caps and the contact budget count them
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("campaign", sa.String(200)),
    sa.Column("priority", sa.String(40)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reference", sa.String(400), unique=True),  # the message's dedup key
)

sa.Index("ix_contacts_customer_at", contacts.c.customer_id, contacts.c.at)

# the nonces of one-click unsubscribe links used: a link replayed records nothing more
unsubscribe_uses = sa.Table(
    "unsubscribe_uses",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("event_id", _ID, sa.ForeignKey("consent_events.id"), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
)
# campaign messages (tenure.campaigns.outbox, tenure.campaigns.sender) --------

# the message outbox: one row per message a campaign decided to send, written
# in the decision's transaction with the message rendered; the sender moves
# it to sent, or to failed, expired or blocked with the reason
campaign_messages = sa.Table(
    "campaign_messages",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    # campaign:step:customer:occurrence, one message per decision; passed to
    # the provider as its idempotency key and made the e-mail's Message-ID
    sa.Column("dedup_key", sa.String(400), nullable=False, unique=True),
    sa.Column("campaign", sa.String(100), nullable=False),
    sa.Column("step", sa.String(100), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("occurrence", sa.String(100), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False),  # email, webhook, a provider's name
    sa.Column("purpose", sa.String(40), nullable=False),  # marketing, transactional, ...
    sa.Column("recipient", sa.String(320), nullable=False),  # an address or a phone number
    sa.Column("locale", sa.String(35), nullable=False),  # the template's locale that rendered it
    sa.Column("template", sa.String(200), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("headers", sa.Text, nullable=False),  # JSON: extra headers (List-Unsubscribe)
    # pending, sending (claimed), sent; failed, expired, blocked (with the reason)
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),  # due, or lease end
    sa.Column("expires_at", sa.DateTime(timezone=True)),  # not sent after this: expired
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Column("provider_message_id", sa.String(400)),
    sa.Column("reason", sa.Text),  # why it was not sent, or the last attempt's error
    sa.Column("test", sa.Boolean, nullable=False, default=False),  # a test send
    # the campaign's place in the contact budget (2 high, 1 normal, 0 low):
    # the sender claims the higher first, so that it takes the budget's place
    sa.Column("priority", sa.Integer, nullable=False, default=1, server_default="1"),
    # false: queued by a launch without its text (subject and bodies empty);
    # the sender renders it when it claims it and keeps what it rendered here
    sa.Column("rendered", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
)

sa.Index("ix_campaign_messages_due", campaign_messages.c.state, campaign_messages.c.next_at)
sa.Index("ix_campaign_messages_customer", campaign_messages.c.customer_id)
sa.Index("ix_campaign_messages_campaign", campaign_messages.c.campaign, campaign_messages.c.state)
# the sender's claim: the messages waiting, in the order it takes them
sa.Index("ix_campaign_messages_claim", campaign_messages.c.state,
         campaign_messages.c.priority.desc(), campaign_messages.c.next_at,
         campaign_messages.c.id)  # fmt: skip

# campaigns, their audiences and holdouts (tenure.campaigns.definitions, .launch)

# one row per campaign: what it sends, to whom, and the share held out
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("priority", sa.String(40), nullable=False),
    sa.Column("template", sa.Text, nullable=False),  # the template's folder
    sa.Column("audience", sa.Text, nullable=False),  # JSON: the criteria, all of which hold
    sa.Column("holdout", sa.Float, nullable=False),  # the share held out, after the global control
    sa.Column("salt", sa.String(64), nullable=False),  # the assignment hash's salt
    sa.Column("state", sa.String(10), nullable=False),  # draft, running, paused, done
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # when the audience was evaluated and assigned (everyone's assigned_at)
    sa.Column("launched_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("global_share", sa.Float),  # the global control's share at launch
)

# one row per customer assigned to a campaign: its arm, fixed at eligibility
# (before consent, caps and suppression: intent to treat), and what became
# of a treated customer who could not be queued (no address)
campaign_assignments = sa.Table(
    "campaign_assignments",
    metadata,
    sa.Column("campaign_id", _ID, sa.ForeignKey("campaigns.id"), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("arm", sa.String(20), nullable=False),  # treatment, holdout, global_control
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("queued", sa.Boolean, nullable=False, default=False),  # its message is in the outbox
    sa.Column("skipped", sa.Text),  # why a treated customer has no message
)

sa.Index("ix_campaign_assignments_customer", campaign_assignments.c.customer_id)

# journeys: multi-step campaigns (tenure.campaigns.journeys, .journeys_runner)

# one row per journey: its definition (JSON) at its current version
journeys = sa.Table(
    "journeys",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=False),  # 1, then one more per update
    sa.Column("definition", sa.Text, nullable=False),  # JSON: entry, holdout, goals, steps
    sa.Column("salt", sa.String(64), nullable=False),  # the holdout hash's salt, kept on update
    sa.Column("holdout", sa.Float, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # active, paused
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# one row per entry of a customer into a journey: the arm drawn at entry
# (before consent, caps and suppression: intent to treat), where a treated
# member is, when it is due, and why it left
journey_members = sa.Table(
    "journey_members",
    metadata,
    sa.Column("journey_id", _ID, sa.ForeignKey("journeys.id"), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("occurrence", sa.String(40), primary_key=True),  # the entry's day, or the trigger's
    sa.Column("arm", sa.String(20), nullable=False),  # treatment, holdout, global_control
    sa.Column("state", sa.String(12), nullable=False),  # active, held_out, exited, completed
    sa.Column("step", sa.String(60)),  # the step it is on (active members)
    sa.Column("due_at", sa.DateTime(timezone=True)),  # when that step is due
    sa.Column("version", sa.Integer, nullable=False),  # the journey's version it follows
    sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("exited_at", sa.DateTime(timezone=True)),
    sa.Column("exit_reason", sa.Text),
)

sa.Index("ix_journey_members_due", journey_members.c.journey_id, journey_members.c.state,
         journey_members.c.due_at)  # fmt: skip
sa.Index("ix_journey_members_customer", journey_members.c.customer_id)
# triggers (tenure.campaigns.triggers): each trigger's watermark, the members
# it saw last (segments and model thresholds fire on the difference), and the
# service-recovery tasks an NPS detractor opens

# one row per trigger owner ("journey:welcome"): evaluated up to watermark
trigger_state = sa.Table(
    "trigger_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),  # the trigger as written
    sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
    sa.Column("evaluations", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# the set a segment or threshold trigger saw last; a row stays after its
# customer leaves so the counts number each entry and exit (the occurrence)
trigger_members = sa.Table(
    "trigger_members",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("member", sa.Boolean, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),  # entries fired so far
    sa.Column("exits", sa.Integer, nullable=False),  # exits fired so far
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_trigger_members_customer", trigger_members.c.customer_id)

# one task per NPS detractor's answer (0-6): someone calls them back
service_recovery_tasks = sa.Table(
    "service_recovery_tasks",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("response_id", sa.String(200), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # open, closed
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text),  # what was done, written when closed
)

sa.Index("ix_service_recovery_tasks_customer", service_recovery_tasks.c.customer_id)
