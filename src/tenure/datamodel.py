"""The data model: the kinds of records tenure stores and their fields.

This one table drives the store's DDL, ingest validation, the automatic
column matching and ``docs/data-model.md``. Amounts are exact decimals
(``DECIMAL(18, 4)``); timestamps are stored as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AMOUNT_SQL = "DECIMAL(18,4)"

# field type -> DuckDB storage type
STORAGE = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "email": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "amount": AMOUNT_SQL,
    "rate": "DECIMAL(18,8)",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "country": "VARCHAR",
    "locale": "VARCHAR",
    "timezone": "VARCHAR",
    "currency": "VARCHAR",
    "status": "VARCHAR",
    "survey_kind": "VARCHAR",
    "json": "JSON",
}

ORDER_STATUSES = ("completed", "pending", "refunded", "partially_refunded", "cancelled")
SURVEY_KINDS = ("nps", "csat", "ces")
# inclusive score ranges per survey kind
SURVEY_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    doc: str = ""
    aliases: tuple[str, ...] = ()
    # "column": the column must be present in the file, but a value may be empty
    presence: str = "value"

    @property
    def sql_type(self) -> str:
        return STORAGE[self.type]


@dataclass(frozen=True)
class Kind:
    name: str
    doc: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    # fields converted into the reporting currency: amount field -> currency field
    converted: dict[str, str] = field(default_factory=dict)
    # the timestamp that dates an FX conversion
    fx_date: str | None = None
    has_customer: bool = True
    collect_extra: bool = False  # unmapped columns go to `attributes`

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[Field]:
        return [f for f in self.fields if f.required]


def F(name: str, type: str, required: bool = False, doc: str = "", *aliases: str, **kw) -> Field:
    return Field(name, type, required, doc, tuple(aliases), **kw)


CUSTOMERS = Kind(
    "customers",
    "One row per customer.",
    (
        F(
            "customer_id",
            "id",
            True,
            "Your identifier for the customer.",
            "id",
            "customer",
            "customer id",
            "customer_number",
            "client_id",
            "user_id",
            "record id",
            "contact_id",
        ),
        F(
            "created_at",
            "timestamp",
            False,
            "When the customer was created or signed up.",
            "signup_date",
            "signed_up_at",
            "created",
            "create date",
            "registered_at",
            "date_joined",
        ),
        F(
            "email",
            "email",
            False,
            "E-mail address, stored lower-case.",
            "e-mail",
            "email_address",
            "mail",
        ),
        F("name", "text", False, "Full name.", "full_name", "customer_name"),
        F(
            "country",
            "country",
            False,
            "ISO 3166 alpha-2 code; English country names are converted.",
            "country_code",
            "country/region",
        ),
        F("locale", "locale", False, "BCP 47 locale such as de-DE.", "language", "lang"),
        F(
            "time_zone",
            "timezone",
            False,
            "IANA time zone such as Europe/Berlin.",
            "timezone",
            "tz",
        ),
        F("currency", "currency", False, "ISO 4217 code of the customer's usual currency."),
        F(
            "birthday",
            "date",
            False,
            "Date of birth (the year may be any placeholder).",
            "birth_date",
            "date_of_birth",
            "dob",
        ),
        F(
            "consent_email",
            "bool",
            False,
            "Marketing consent for e-mail.",
            "accepts_marketing",
            "email_consent",
            "email_opt_in",
        ),
        F("consent_sms", "bool", False, "Marketing consent for SMS.", "sms_consent", "sms_opt_in"),
        F(
            "consent_push",
            "bool",
            False,
            "Marketing consent for push notifications.",
            "push_consent",
        ),
        F(
            "acquisition_channel",
            "text",
            False,
            "Where the customer came from.",
            "channel",
            "source",
            "utm_source",
            "original source",
        ),
        F(
            "referred_by",
            "id",
            False,
            "customer_id of the referring customer.",
            "referrer",
            "referrer_id",
        ),
        F(
            "attributes",
            "json",
            False,
            "Free attributes: a JSON object; unmapped columns land here.",
        ),
    ),
    key=("customer_id",),
    has_customer=False,
    collect_extra=True,
)

ORDERS = Kind(
    "orders",
    "One row per order.",
    (
        F(
            "order_id",
            "id",
            True,
            "Your identifier for the order.",
            "id",
            "order",
            "order_number",
            "order id",
            "order_no",
            "invoice_id",
            "transaction_id",
        ),
        F(
            "customer_id",
            "id",
            True,
            "Who placed it.",
            "customer",
            "customer id",
            "client_id",
            "user_id",
        ),
        F(
            "placed_at",
            "timestamp",
            True,
            "When the order was placed.",
            "order_date",
            "date",
            "created_at",
            "ordered_at",
            "timestamp",
            "purchase_date",
            "datetime",
        ),
        F(
            "amount",
            "amount",
            True,
            "Order total in its currency (refunds as status, not as negative amounts).",
            "total",
            "order_total",
            "revenue",
            "value",
            "sales",
            "price",
            "total_price",
        ),
        F(
            "currency",
            "currency",
            False,
            "ISO 4217 code; defaults to --currency or the reporting currency.",
            "currency_code",
        ),
        F(
            "status",
            "status",
            False,
            "completed (default), pending, refunded, partially_refunded or cancelled.",
            "order_status",
            "financial_status",
            "state",
        ),
        F(
            "discount",
            "amount",
            False,
            "Discount granted on the order, in its currency.",
            "discount_amount",
            "discounts",
        ),
        F(
            "channel",
            "text",
            False,
            "Sales channel (web, app, store...).",
            "sales_channel",
            "source_name",
        ),
        F(
            "refunded_amount",
            "amount",
            False,
            "What was refunded of a partially_refunded order, in its currency: the "
            "loyalty program reverses that share of the order's points.",
            "refund_amount",
            "total_refunded",
            "amount_refunded",
        ),
    ),
    key=("order_id",),
    converted={"amount": "currency", "discount": "currency", "refunded_amount": "currency"},
    fx_date="placed_at",
)

ORDER_ITEMS = Kind(
    "order_items",
    "One row per product line of an order; prices are in the order's currency.",
    (
        F(
            "order_id",
            "id",
            True,
            "The order this line belongs to.",
            "order",
            "order id",
            "order_number",
        ),
        F("product_id", "id", True, "Product or SKU.", "sku", "product", "item_id", "product id"),
        F("category", "text", False, "Product category.", "product_category", "product_type"),
        F("quantity", "integer", False, "Units (default 1).", "qty", "units"),
        F("unit_price", "amount", False, "Price of one unit.", "price", "item_price"),
    ),
    key=("order_id", "product_id"),
    has_customer=False,
)

SUBSCRIPTIONS = Kind(
    "subscriptions",
    "One row per subscription; an empty ended_at means still active.",
    (
        F(
            "subscription_id",
            "id",
            True,
            "Your identifier for the subscription.",
            "id",
            "subscription",
            "subscription id",
        ),
        F("customer_id", "id", True, "Subscriber.", "customer", "customer id"),
        F(
            "started_at",
            "timestamp",
            True,
            "Start of the subscription.",
            "start",
            "start_date",
            "created",
            "created_at",
        ),
        F(
            "ended_at",
            "timestamp",
            True,
            "End of the subscription; empty while active.",
            "end",
            "end_date",
            "canceled_at",
            "cancelled_at",
            "ended",
            presence="column",
        ),
        F("plan", "text", False, "Plan name.", "plan_name", "product"),
        F(
            "mrr",
            "amount",
            False,
            "Monthly recurring revenue in the subscription's currency.",
            "monthly_amount",
        ),
        F("currency", "currency", False, "ISO 4217 code of mrr."),
        F("cancel_reason", "text", False, "Why it ended.", "cancellation_reason", "churn_reason"),
    ),
    key=("subscription_id",),
    converted={"mrr": "currency"},
    fx_date="started_at",
)

SUPPORT_TICKETS = Kind(
    "support_tickets",
    "One row per support ticket.",
    (
        F(
            "ticket_id",
            "id",
            True,
            "Your identifier for the ticket.",
            "id",
            "ticket",
            "ticket id",
            "case_id",
        ),
        F("customer_id", "id", True, "Who opened it.", "customer", "requester_id"),
        F("opened_at", "timestamp", True, "When it was opened.", "created_at", "created", "opened"),
        F("first_response_at", "timestamp", False, "First reply from the team.", "first_reply_at"),
        F("resolved_at", "timestamp", False, "When it was resolved.", "closed_at", "solved_at"),
        F("channel", "text", False, "email, chat, phone...", "via"),
        F("category", "text", False, "Topic of the ticket.", "topic", "type"),
        F(
            "satisfaction",
            "number",
            False,
            "Satisfaction rating given on the ticket (1-5).",
            "satisfaction_score",
            "rating",
            "csat",
        ),
    ),
    key=("ticket_id",),
)

SURVEY_RESPONSES = Kind(
    "survey_responses",
    "One row per survey answer.",
    (
        F(
            "response_id",
            "id",
            True,
            "Your identifier for the answer.",
            "id",
            "response",
            "response id",
        ),
        F("customer_id", "id", True, "Who answered.", "customer", "respondent_id"),
        F(
            "kind",
            "survey_kind",
            True,
            "nps (0-10), csat (1-5) or ces (1-7).",
            "survey",
            "survey_type",
            "type",
        ),
        F(
            "score",
            "number",
            True,
            "The score, in the range of its kind.",
            "rating",
            "answer",
            "value",
        ),
        F("comment", "text", False, "Free-text comment.", "feedback", "text", "verbatim"),
        F(
            "answered_at",
            "timestamp",
            True,
            "When it was answered.",
            "date",
            "created_at",
            "submitted_at",
            "responded_at",
        ),
    ),
    key=("response_id",),
)

EVENTS = Kind(
    "events",
    "Behaviour events; without event_id, identical events count as duplicates.",
    (
        F(
            "event_id",
            "id",
            False,
            "Your identifier for the event (optional).",
            "id",
            "event id",
            "uuid",
        ),
        F("customer_id", "id", True, "Who did it.", "customer", "user_id", "distinct_id"),
        F("name", "text", True, "Event name.", "event", "event_name", "type"),
        F(
            "occurred_at",
            "timestamp",
            True,
            "When it happened.",
            "timestamp",
            "time",
            "created_at",
            "date",
        ),
        F("properties", "json", False, "A JSON object of properties."),
    ),
    key=("event_id",),
)

FX_RATES = Kind(
    "fx_rates",
    "Exchange rates into the reporting currency: 1 unit of `currency` = `rate` units "
    "of the reporting currency, from `date` until the next date given for it.",
    (
        F(
            "date",
            "date",
            True,
            "First day the rate applies.",
            "valid_from",
            "effective_date",
            "day",
        ),
        F(
            "currency",
            "currency",
            True,
            "ISO 4217 code converted from.",
            "from",
            "from_currency",
            "ccy",
        ),
        F(
            "rate",
            "rate",
            True,
            "Units of reporting currency per unit of `currency`.",
            "fx_rate",
            "exchange_rate",
            "value",
        ),
    ),
    key=("currency", "date"),
    has_customer=False,
)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        CUSTOMERS,
        ORDERS,
        ORDER_ITEMS,
        SUBSCRIPTIONS,
        SUPPORT_TICKETS,
        SURVEY_RESPONSES,
        EVENTS,
        FX_RATES,
    )
}

# The order in which to ingest a whole business: rates before money (amounts
# are converted on the way in), customers before what refers to them.
INGEST_ORDER = (
    "fx_rates",
    "customers",
    "orders",
    "order_items",
    "subscriptions",
    "support_tickets",
    "survey_responses",
    "events",
)

# Bookkeeping columns on every stored table.
BOOKKEEPING = (
    ("_ingest_id", "BIGINT"),
    ("_source", "VARCHAR"),
    ("_line", "BIGINT"),
    ("_hash", "UBIGINT"),
)


# DuckDB compresses a text column with a dictionary and FSST, which costs
# more than the rest of a write for identifiers (nearly one distinct value a
# row): 2M orders written with the two ids plain took 0.9 CPU s against 2.0,
# for a file of 61 MiB against 33. Such columns are stored as written.
PLAIN_STORAGE = " USING COMPRESSION uncompressed"


def plain_stored(kind: Kind) -> set[str]:
    """The columns of ``kind`` stored uncompressed (:data:`PLAIN_STORAGE`):
    its key and the customer's id, identifiers with as many distinct values
    as rows or nearly."""
    ids = {f.name for f in kind.fields if f.type == "id"}
    return ids & (set(kind.key) | {"customer_id"})


def column_definitions(kind: Kind) -> str:
    """SQL: the column list of ``kind``'s stored table, for CREATE TABLE."""
    plain = plain_stored(kind)
    return ", ".join(
        f'"{name}" {sql}{PLAIN_STORAGE if name in plain else ""}'
        for name, sql in stored_columns(kind)
    )


def stored_columns(kind: Kind) -> list[tuple[str, str]]:
    """Column name and DuckDB type of the stored table, in order."""
    cols = [(f.name, f.sql_type) for f in kind.fields]
    for amount in kind.converted:
        cols.append((f"{amount}_reporting", AMOUNT_SQL))
    if kind.converted:
        cols.append(("fx_rate", "DECIMAL(18,8)"))
    if kind.name == "customers":
        cols.append(("is_stub", "BOOLEAN"))
    return cols + list(BOOKKEEPING)
