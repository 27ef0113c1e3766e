"""A trigger as written: ``KIND[:ARG[:ARG]]``, parsed and checked.

The grammar is in :mod:`tenure.campaigns.triggers`; this module holds the
parsed form, :class:`Trigger`, and :func:`parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenure.errors import InputError

# event names that come from a table of their own rather than the events log
TABLE_EVENTS = ("sign_up", "first_order", "order", "ticket_closed", "survey_answered")
# kinds whose entries are the difference between two evaluations' members
MEMBERSHIP = ("segment_enter", "segment_leave", "churn_risk_above", "p_alive_below", "overdue")
KINDS = ("event", "date", *MEMBERSHIP, "nps_detractor", "tier_changed", "points_expiring")
EXAMPLES = ("event:first_order", "event:cart_abandoned:2h", "segment_enter:rfm:at risk",
            "date:birthday", "churn_risk_above:0.6", "nps_detractor", "points_expiring:30")  # fmt: skip
SEGMENT_KINDS = ("rfm", "business")
# the event a cart is started with (the demo's and the usual shop tracking name)
CART_EVENT = "add_to_cart"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Trigger:
    """One trigger: ``kind``, and per kind an event or segment ``name``, a
    ``segment_kind``, a ``value`` (threshold, days) or ``seconds``."""

    kind: str
    name: str | None = None
    segment_kind: str | None = None
    value: float | None = None
    seconds: int | None = None

    @property
    def text(self) -> str:
        if self.kind == "event":
            if self.name == "cart_abandoned":
                return f"event:cart_abandoned:{_duration_text(self.seconds or 0)}"
            return f"event:{self.name}" + (f":{self.segment_kind}" if self.segment_kind else "")
        if self.kind == "date":
            return f"date:{self.name}"
        if self.kind in ("segment_enter", "segment_leave"):
            return f"{self.kind}:{self.segment_kind}:{self.name}"
        if self.kind in ("churn_risk_above", "p_alive_below"):
            return f"{self.kind}:{self.value!r}"
        if self.kind in ("overdue", "points_expiring"):
            return f"{self.kind}:{int(self.value or 0)}"
        if self.kind == "tier_changed" and self.name:
            return f"tier_changed:{self.name}"
        return self.kind


def _duration_text(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNIT[unit] == 0:
            return f"{seconds // _UNIT[unit]}{unit}"
    return f"{seconds // 60}m"  # pragma: no cover - parse only makes whole minutes


def _bad(text: str, why: str, source: str | None, example: str | None = None) -> InputError:
    return InputError(
        f"the trigger {text!r} {why}.", source=source, column="trigger", value=text,
        hint=f"Write it as, e.g., {example}." if example else
        f"Write KIND[:ARG], e.g. {', '.join(EXAMPLES)}.", code="bad_trigger",
    )  # fmt: skip


def parse(text: str, source: str | None = None) -> Trigger:
    """A trigger from its written form (grammar: :mod:`tenure.campaigns.triggers`)."""
    raw = str(text).strip()
    kind, _, rest = raw.partition(":")
    kind = kind.strip().lower()
    rest = rest.strip()
    if kind not in KINDS:
        raise _bad(raw, f"does not start with a known kind ({', '.join(KINDS)})", source)
    if kind == "event":
        return _event(raw, rest, source)
    if kind == "date":
        if rest.lower() not in ("birthday", "anniversary"):
            raise _bad(raw, "names no date: use birthday or anniversary", source, "date:birthday")
        return Trigger("date", rest.lower())
    if kind in ("segment_enter", "segment_leave"):
        return _segment(raw, kind, rest, source)
    if kind in ("nps_detractor",):
        if rest:
            raise _bad(raw, "takes no argument (a detractor scores 0 to 6)", source, "nps_detractor")
        return Trigger(kind)
    if kind == "tier_changed":
        return Trigger(kind, rest or None)
    return _number(raw, kind, rest, source)


def _event(raw: str, rest: str, source: str | None) -> Trigger:
    name, _, arg = rest.partition(":")
    name, arg = name.strip(), arg.strip()
    if not name or not _NAME.match(name):
        raise _bad(raw, "names no event (letters, digits, _ . -)", source, "event:order")
    if name == "cart_abandoned":
        m = _DURATION.match(arg.lower())
        if not m or int(m.group(1)) == 0:
            raise _bad(raw, "needs how long a cart waits without an order (minutes m, hours h "
                       "or days d)", source, "event:cart_abandoned:2h")  # fmt: skip
        return Trigger("event", name, seconds=int(m.group(1)) * _UNIT[m.group(2)])
    if arg and name != "survey_answered":
        raise _bad(raw, f"has an argument the event {name!r} does not take", source,
                   f"event:{name}")  # fmt: skip
    if name == "survey_answered" and arg and arg.lower() not in ("nps", "csat", "ces"):
        raise _bad(raw, "names no survey kind (nps, csat or ces)", source,
                   "event:survey_answered:nps")  # fmt: skip
    return Trigger("event", name, segment_kind=arg.lower() or None)


def _segment(raw: str, kind: str, rest: str, source: str | None) -> Trigger:
    from tenure.segmentation import business, rfm

    which, sep, name = rest.partition(":")
    which, name = which.strip().lower(), name.strip()
    example = f"{kind}:rfm:at risk"
    if which == "persona":
        raise _bad(raw, "names a persona, and the store keeps no persona segments", source,
                   example)  # fmt: skip
    if not sep or which not in SEGMENT_KINDS or not name:
        raise _bad(raw, "does not say rfm or business and the segment's name", source, example)
    known = {"rfm": rfm.SEGMENTS, "business": business.LABELS}[which]
    match = next((s for s in known if s.lower() == name.lower()), None)
    if match is None:
        raise InputError(f"the trigger {raw!r}: there is no {which} segment {name!r}.",
                         source=source, column="trigger", value=raw,
                         hint=f"Use one of: {', '.join(known)}.", code="bad_trigger")  # fmt: skip
    return Trigger(kind, match, which)


def _number(raw: str, kind: str, rest: str, source: str | None) -> Trigger:
    example = {"churn_risk_above": "churn_risk_above:0.6", "p_alive_below": "p_alive_below:0.3",
               "overdue": "overdue:14", "points_expiring": "points_expiring:30"}[kind]  # fmt: skip
    try:
        value = float(rest)
    except ValueError:
        raise _bad(raw, "has no number after the colon", source, example) from None
    if kind in ("churn_risk_above", "p_alive_below"):
        if not 0 <= value <= 1:
            raise _bad(raw, "needs a probability between 0 and 1", source, example)
    elif value < 0 or value != int(value):
        raise _bad(raw, "needs a whole number of days, 0 or more", source, example)
    return Trigger(kind, value=value)
