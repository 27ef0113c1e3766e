"""The sending rules of ``tenure.toml``'s ``[campaigns]`` table, checked.

::

    [campaigns.sending]
    implied_consent = ["transactional"]  # purposes sent without an opt-in
    exempt_purposes = ["transactional"]  # purposes caps, budget and quiet hours let through
    soft_bounce_limit = 3                # soft bounces within soft_bounce_days suppress
    soft_bounce_days = 30
    default_timezone = "Europe/Berlin"   # recipients whose zone is unknown; default: timezone
    unsubscribe_url = "https://shop.example"  # where the one-click links point
    unsubscribe_days = 90                # how long a link works

    [campaigns.caps]                     # per channel, over a rolling window
    email = {messages = 3, days = 7}
    sms = {messages = 1, days = 1}

    [campaigns.budget]                   # all channels together
    messages = 4
    days = 7
    priorities = {high = 4, normal = 3, low = 2}  # highest first: each fills up to its own

    [campaigns.quiet_hours]              # in the recipient's time zone
    start = "21:00"
    end = "08:00"

Other keys of ``[campaigns]`` belong to the other parts of campaigns and
are not read here. Every error names the file, the key, the value and what
to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tenure.errors import ConfigError

SENDING_KEYS = {
    "implied_consent", "exempt_purposes", "soft_bounce_limit", "soft_bounce_days",
    "default_timezone", "unsubscribe_url", "unsubscribe_days",
}  # fmt: skip
TABLES = ("sending", "caps", "budget", "quiet_hours")


@dataclass(frozen=True)
class Cap:
    messages: int
    days: float


@dataclass(frozen=True)
class Budget:
    messages: int
    days: float
    # (name, ceiling), highest priority first; ceilings never rise down the list
    priorities: tuple[tuple[str, int], ...]

    def ceiling(self, priority: str | None) -> int:
        """How far a campaign of ``priority`` may fill the budget: the
        default priority is the middle one ('normal' where declared)."""
        levels = dict(self.priorities)
        if priority is None:
            priority = "normal" if "normal" in levels else self.priorities[len(levels) // 2][0]
        if priority not in levels:
            raise ConfigError(
                f"the priority {priority!r} is not declared in [campaigns.budget] priorities.",
                hint=f"Use one of {', '.join(levels)}.", value=priority,
            )  # fmt: skip
        return levels[priority]


@dataclass(frozen=True)
class SendingRules:
    implied_consent: frozenset[str] = frozenset({"transactional"})
    exempt_purposes: frozenset[str] = frozenset({"transactional"})
    soft_bounce_limit: int = 3
    soft_bounce_days: float = 30
    default_timezone: str = "UTC"
    unsubscribe_url: str | None = None  # required to make links
    unsubscribe_days: int = 90
    caps: dict[str, Cap] = field(default_factory=dict)
    budget: Budget | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> SendingRules:
        """The rules of ``settings.campaigns`` (a :class:`tenure.config.TableSettings`);
        the workspace's ``timezone`` is the fallback zone unless
        ``default_timezone`` names another."""
        table = settings.campaigns
        return read(dict(table.values), table.origin or "tenure.toml", settings.timezone)


DEFAULT = SendingRules()


def _fail(where: str, key: str, value: Any, why: str, example: str) -> ConfigError:
    return ConfigError(
        f"{where} {key} = {value!r}: {why}.", hint=f"Write it as {example}.",
        column=key, value=str(value),
    )  # fmt: skip


def _whole(where: str, key: str, value: Any, example: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise _fail(where, key, value, f"it must be a whole number, {least} or more", example)
    return value


def _days(where: str, key: str, value: Any, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(where, key, value, "it must be a number of days above 0", example)
    return float(value)


def _names(where: str, key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, key, value, "it must be a list of names", f'{key} = ["transactional"]')
    return frozenset(value)


def _zone(where: str, key: str, value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise _fail(where, key, value, "it is not an IANA time zone",
                    f'{key} = "Europe/Berlin"') from None  # fmt: skip
    return str(value)


def _clock(where: str, key: str, value: Any) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise _fail(
            where,
            key,
            value,
            "it is not a time of day HH:MM",
            f'{key} = "{"08:00" if key == "end" else "21:00"}"',
        ) from None


def _table(raw: dict[str, Any], name: str, origin: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: [campaigns] {name} = {value!r} must be a table.",
                          hint=f"Write it under a [campaigns.{name}] heading.", column=name)  # fmt: skip
    return value


def _unknown(where: str, table: dict[str, Any], known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}.",
                              hint=f"Known settings here: {', '.join(sorted(known))}.", column=key)  # fmt: skip


def read(raw: dict[str, Any], origin: str, workspace_zone: str = "UTC") -> SendingRules:
    """The rules of a ``[campaigns]`` table, each value checked."""
    values: dict[str, Any] = {"default_timezone": workspace_zone}
    sending = _table(raw, "sending", origin)
    where = f"{origin} [campaigns.sending]"
    _unknown(where, sending, SENDING_KEYS)
    for key in ("implied_consent", "exempt_purposes"):
        if key in sending:
            values[key] = _names(where, key, sending[key])
    if "soft_bounce_limit" in sending:
        values["soft_bounce_limit"] = _whole(where, "soft_bounce_limit", sending["soft_bounce_limit"],
                                             "soft_bounce_limit = 3")  # fmt: skip
    if "soft_bounce_days" in sending:
        values["soft_bounce_days"] = _days(where, "soft_bounce_days", sending["soft_bounce_days"],
                                           "soft_bounce_days = 30")  # fmt: skip
    if "default_timezone" in sending:
        values["default_timezone"] = _zone(where, "default_timezone", sending["default_timezone"])
    if "unsubscribe_url" in sending:
        url = sending["unsubscribe_url"]
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise _fail(where, "unsubscribe_url", url, "it must be the server's http(s) address",
                        'unsubscribe_url = "https://shop.example"')  # fmt: skip
        values["unsubscribe_url"] = url.rstrip("/")
    if "unsubscribe_days" in sending:
        values["unsubscribe_days"] = _whole(where, "unsubscribe_days", sending["unsubscribe_days"],
                                            "unsubscribe_days = 90")  # fmt: skip
    values["caps"] = _caps(_table(raw, "caps", origin), f"{origin} [campaigns.caps]")
    budget = _table(raw, "budget", origin)
    if budget:
        values["budget"] = _budget(budget, f"{origin} [campaigns.budget]")
    quiet = _table(raw, "quiet_hours", origin)
    if quiet:
        where = f"{origin} [campaigns.quiet_hours]"
        _unknown(where, quiet, {"start", "end"})
        if set(quiet) != {"start", "end"}:
            raise ConfigError(f"{where}: give both start and end.",
                              hint='Write start = "21:00" and end = "08:00".')  # fmt: skip
        values["quiet_start"] = _clock(where, "start", quiet["start"])
        values["quiet_end"] = _clock(where, "end", quiet["end"])
        if values["quiet_start"] == values["quiet_end"]:
            raise _fail(where, "end", quiet["end"], "it equals start, which leaves no quiet hours",
                        'end = "08:00" (or remove [campaigns.quiet_hours])')  # fmt: skip
    return SendingRules(**values)


def _caps(table: dict[str, Any], where: str) -> dict[str, Cap]:
    caps = {}
    example = "{messages = 3, days = 7}"
    for channel, cap in table.items():
        if not isinstance(cap, dict) or set(cap) != {"messages", "days"}:
            raise _fail(where, channel, cap, "it must give messages and days",
                        f"{channel} = {example}")  # fmt: skip
        caps[channel] = Cap(
            _whole(where, f"{channel}.messages", cap["messages"], f"{channel} = {example}"),
            _days(where, f"{channel}.days", cap["days"], f"{channel} = {example}"),
        )
    return caps


def _budget(table: dict[str, Any], where: str) -> Budget:
    _unknown(where, table, {"messages", "days", "priorities"})
    for key in ("messages", "days"):
        if key not in table:
            raise ConfigError(f"{where}: {key} is missing.",
                              hint="Write messages = 4 and days = 7.", column=key)  # fmt: skip
    messages = _whole(where, "messages", table["messages"], "messages = 4")
    days = _days(where, "days", table["days"], "days = 7")
    example = "priorities = {high = 4, normal = 3, low = 2}"
    raw = table.get("priorities", {"normal": messages})
    if not isinstance(raw, dict) or not raw:
        raise _fail(
            where, "priorities", raw, "it must name each priority with its ceiling", example
        )
    levels: list[tuple[str, int]] = []
    for name, ceiling in raw.items():
        value = _whole(where, f"priorities.{name}", ceiling, example, least=0)
        if value > messages:
            raise _fail(where, f"priorities.{name}", ceiling,
                        f"it is above the budget's messages ({messages})", example)  # fmt: skip
        if levels and value > levels[-1][1]:
            raise _fail(where, f"priorities.{name}", ceiling,
                        f"it is above the ceiling of {levels[-1][0]!r} ({levels[-1][1]}), "
                        "and priorities are listed highest first", example)  # fmt: skip
        levels.append((name, value))
    return Budget(messages, days, tuple(levels))
