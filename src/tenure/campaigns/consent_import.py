"""``tenure consent import FILE``: consent events from a CSV file.

Columns (a header line; names as written, case and spaces ignored):
``customer_id``, ``channel``, ``purpose`` (default ``marketing``),
``state`` (granted / withdrawn; also yes/no, true/false, 1/0, opt_in /
opt_out), ``at`` (an ISO date or date and time; one without an offset is
read in the workspace's ``timezone``) and, optionally, ``source`` (default
``import``).

Every row read is accepted, rejected with its reason, or a duplicate (the
same customer, channel, purpose, state and moment as an event already
recorded, by an earlier import or earlier in the file), so importing a file
twice records it once. The accepted rows are recorded in one transaction;
the rejected ones are written to ``<store>/quarantine/consent-*.csv``
(``_file, _line, _column, _value, _reason``, then the row's own columns),
as ingest's quarantine is. With ``max_errors``, more rejected rows than
that record nothing.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tenure.campaigns import consent
from tenure.errors import ColumnNotFoundError, InputError
from tenure.store.ops import OpsStore
from tenure.store.ops_schema import consent_events as events_t

REQUIRED = ("customer_id", "channel", "state", "at")
GRANTED = {"granted", "grant", "yes", "y", "true", "1", "opt_in", "opted_in", "subscribed"}
WITHDRAWN = {"withdrawn", "withdraw", "no", "n", "false", "0", "opt_out", "opted_out",
             "unsubscribed", "revoked"}  # fmt: skip
SHOWN = 5


@dataclass
class Imported:
    file: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    quarantine: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        return {"file": self.file, "read": self.read, "accepted": self.accepted,
                "rejected": self.rejected, "duplicates": self.duplicates,
                "quarantine": self.quarantine, "first_errors": self.errors[:SHOWN]}  # fmt: skip


class _Bad(Exception):
    def __init__(self, column: str, value: str, reason: str) -> None:
        self.column, self.value, self.reason = column, value, reason


def _moment(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _Bad("at", text, "is not a date or date and time; use YYYY-MM-DD or "
                   "YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None  # fmt: skip
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return consent.utc(moment)


def _row(raw: dict[str, str], zone: ZoneInfo) -> tuple[str, str, str, bool, datetime, str]:
    def get(name: str) -> str:
        return (raw.get(name) or "").strip()

    try:
        customer = consent.checked_customer(get("customer_id"))
        channel = consent.checked_name("channel", get("channel"), consent.CHANNELS)
        purpose = consent.checked_name("purpose", get("purpose") or "marketing", consent.PURPOSES)
        source = consent.checked_name("source", get("source") or "import", consent.SOURCES)
    except InputError as exc:
        raise _Bad(exc.column or "", str(exc.value or ""), f"is not valid: {exc.hint}") from None
    state = get("state").lower().replace("-", "_").replace(" ", "_")
    if state not in GRANTED | WITHDRAWN:
        raise _Bad(
            "state", get("state"), "is neither granted nor withdrawn (yes/no, opt_in/opt_out)"
        )
    if not get("at"):
        raise _Bad("at", "", "is empty; give when the customer said so")
    return customer, channel, purpose, state in GRANTED, _moment(get("at"), zone), source


def _key(customer: str, channel: str, purpose: str, granted: bool, at: datetime) -> str:
    text = "\x1f".join([customer, channel, purpose, str(granted), at.isoformat()])
    return "import:" + hashlib.sha256(text.encode()).hexdigest()[:48]


def _quarantine(folder: Path, path: Path, header: list[str], bad: list[tuple]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    target = folder / f"consent-{stamp}-{secrets.token_hex(3)}.csv"
    own = {"_file", "_line", "_column", "_value", "_reason"}
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["_file", "_line", "_column", "_value", "_reason"]
                        + [c + "_" if c in own else c for c in header])  # fmt: skip
        for line, error, raw in bad:
            writer.writerow([path.name, line, error.column, error.value, error.reason]
                            + [raw.get(c, "") for c in header])  # fmt: skip
    return str(target)


def import_file(ops: OpsStore, path: Path, *, timezone: str = "UTC", quarantine_dir: Path,
                max_errors: int | None = None) -> Imported:  # fmt: skip
    """Record the consent events of ``path``; the counts."""
    path = Path(path)
    if not path.is_file():
        raise InputError("the consent file does not exist.", hint="Check its path.",
                         source=str(path))  # fmt: skip
    zone = ZoneInfo(timezone)
    result = Imported(str(path))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower().replace(" ", "_") for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ColumnNotFoundError(
                f"{path.name} has no column {missing[0]!r} (columns found: {', '.join(header) or 'none'}).",
                hint=f"A consent file has the columns {', '.join(REQUIRED)} and, optionally, "
                "purpose and source.", source=str(path), column=missing[0],
            )  # fmt: skip
        reader.fieldnames = header
        good, bad = [], []
        for line, raw in enumerate(reader, start=2):
            result.read += 1
            try:
                good.append((line, _row(raw, zone)))
            except _Bad as error:
                bad.append((line, error, raw))
    result.rejected = len(bad)
    result.errors = [{"line": line, "column": e.column, "value": e.value, "reason": e.reason}
                     for line, e, _ in bad]  # fmt: skip
    if bad:
        result.quarantine = _quarantine(quarantine_dir, path, header, bad)
    if max_errors is not None and len(bad) > max_errors:
        first = "; ".join(f"line {x['line']}, column '{x['column']}': {x['value']!r} {x['reason']}"
                          for x in result.errors[:3])  # fmt: skip
        raise InputError(
            f"{path.name}: {len(bad)} rows rejected, more than --max-errors {max_errors}; nothing "
            f"was recorded. First: {first}.",
            hint=f"Fix the rows listed in {result.quarantine}, or raise --max-errors.",
            source=str(path),
        )  # fmt: skip
    recorded = consent.now()
    with consent.write_transaction(ops) as conn:
        seen: set[str] = set()
        for line, (customer, channel, purpose, granted, at, source) in good:
            key = _key(customer, channel, purpose, granted, at)
            exists = conn.execute(sa.select(events_t.c.id).where(events_t.c.key == key)).first()
            if key in seen or exists is not None:
                result.duplicates += 1
                continue
            seen.add(key)
            consent.append(conn, customer, channel, purpose, granted, source=source, at=at,
                           reference=f"{path.name}:{line}", key=key, recorded_at=recorded)  # fmt: skip
            result.accepted += 1
    return result
