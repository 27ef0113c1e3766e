"""A journey's definition: how it is entered, who is held out, when a member
leaves, and its steps; read from a TOML file and checked.

::

    name = "win-back"
    entry = ["lapsed:120"]          # audience criteria (all hold), or a trigger's text
    holdout = 0.1                   # default 0.1 (10 %); 0 turns it off
    reentry = "never"               # never | every | "after 90d"
    goals = ["order"]               # "order" (one placed after entry) or audience criteria

    [[steps]]
    id = "first"
    type = "send"
    template = "templates/first"    # relative to the file
    channel = "email"               # default email; purpose marketing, priority normal

    [[steps]]
    id = "pause"
    type = "wait"
    delay = "3d"                    # m, h, d or w

    [[steps]]
    id = "ordered"
    type = "wait_until"
    condition = "order"             # or an audience criterion
    timeout = "7d"
    next = "thanks"                 # when it holds (default: the step below)
    on_timeout = "second"           # when the timeout passes first (default: the step below)

    [[steps]]
    id = "still-lapsed"
    type = "split"
    condition = "lapsed:150"        # or random = 0.5 (a stable draw per customer)
    yes = "second"                  # default: the step below
    no = "done"

    [[steps]]
    id = "done"
    type = "exit"
    reason = "not lapsed any more"

Every step but ``exit`` goes to the step below it unless ``next`` names
another; a member who passes the last step has ``completed`` the journey.
A ``moves`` table (``moves = { old-step = "new-step" }``) is read when a
running journey is updated: see :mod:`.journeys`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tenure.campaigns import audiences, holdouts
from tenure.campaigns.consent import CHANNELS, PURPOSES, checked_name
from tenure.campaigns.definitions import checked_campaign_name
from tenure.errors import InputError

KINDS = ("send", "wait", "wait_until", "split", "exit")
KEYS = ("name", "entry", "holdout", "reentry", "goals", "salt", "steps", "moves")
STEP_KEYS = {
    "send": ("channel", "purpose", "template", "priority"),
    "wait": ("delay",),
    "wait_until": ("condition", "timeout", "on_timeout"),
    "split": ("condition", "random", "yes", "no"),
    "exit": ("reason",),
}
HOLDOUT = 0.1
ORDER = "order"  # the condition "an order placed since the member entered"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_REENTRY = re.compile(r"^after\s+(\d+)\s*d(ays?)?$")


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    next: str | None = None  # the step after this one (None: the one below)
    channel: str = "email"
    purpose: str = "marketing"
    priority: str = "normal"
    template: str | None = None
    delay: str | None = None
    condition: str | None = None
    timeout: str | None = None
    on_timeout: str | None = None
    random: float | None = None
    yes: str | None = None
    no: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Definition:
    name: str
    entry: list[str] | str  # audience criteria, or a trigger's text
    holdout: float
    reentry: str  # never, every, after N days ("after 90d")
    goals: list[str]
    steps: list[Step]
    salt: str
    moves: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["steps"] = [{k: v for k, v in asdict(s).items() if v is not None} for s in self.steps]
        return out

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def after(self, step: Step, target: str | None = None) -> str | None:
        """The step a member goes to from ``step``: ``target`` if named,
        else the step's ``next``, else the one below (None: the end)."""
        if target or step.next:
            return target or step.next
        index = self.steps.index(step)
        return self.steps[index + 1].id if index + 1 < len(self.steps) else None

    @property
    def reentry_days(self) -> int | None:
        m = _REENTRY.match(self.reentry)
        return int(m.group(1)) if m else None


def arrival(step: Step, base: datetime) -> datetime:
    """When a member who reaches ``step`` at ``base`` is due there: a wait
    at its end, a wait_until at its timeout, any other step at once."""
    if step.type == "wait":
        return base + delay(step.delay or "0d")
    if step.type == "wait_until":
        return base + delay(step.timeout or "0d")
    return base


def delay(text: str, *, source: str | None = None, column: str = "delay") -> timedelta:
    """``3d``, ``12h``, ``30m`` or ``2w`` as a time span."""
    m = _DELAY.match(str(text))
    if not m:
        raise InputError(f"the {column} {text!r} is not a delay.", source=source, column=column,
                         value=text, code="bad_delay",
                         hint="Write a number and a unit: 30m, 12h, 3d or 2w.")  # fmt: skip
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def _bad(what: str, source: str | None, column: str, value: Any, hint: str) -> InputError:
    return InputError(what, source=source, column=column, value=value, hint=hint,
                      code="bad_journey")  # fmt: skip


def _condition(text: Any, source: str | None, column: str) -> str:
    text = str(text).strip()
    if text.lower() != ORDER:
        audiences.parse(text, source)
        return text
    return ORDER


def _step(raw: Any, index: int, base: Path, source: str | None) -> Step:
    where = f"steps[{index}]"
    if not isinstance(raw, dict):
        raise _bad(f"{where} is not a table.", source, where, raw,
                   'Write each step as [[steps]] with id = "..." and type = "...".')
    kind = str(raw.get("type", "")).strip()
    if kind not in KINDS:
        raise _bad(f"{where} has the type {kind!r}.", source, f"{where}.type", kind,
                   f"Give one of: {', '.join(KINDS)}.")
    step_id = str(raw.get("id", "")).strip()
    if not _ID.match(step_id):
        raise _bad(f"{where} has the id {step_id!r}.", source, f"{where}.id", step_id,
                   "Give each step an id of lower-case letters, digits, '-', '_' or '.', "
                   'e.g. id = "first-mail".')
    allowed = {"id", "type", "next", *STEP_KEYS[kind]}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _bad(f"the {kind} step {step_id!r} has the unknown key {unknown[0]!r}.", source,
                   f"{where}.{unknown[0]}", unknown[0],
                   f"A {kind} step has: {', '.join(sorted(allowed))}.")
    values: dict[str, Any] = {"id": step_id, "type": kind, "next": raw.get("next")}
    if kind == "send":
        if "template" not in raw:
            raise _bad(f"the send step {step_id!r} has no template.", source,
                       f"{where}.template", None, 'Add template = "templates/first".')
        from tenure.campaigns.templates import load_template

        folder = Path(str(raw["template"])).expanduser()
        folder = folder if folder.is_absolute() else base / folder
        if not folder.is_dir():
            raise _bad(f"the template folder {str(folder)!r} does not exist.", source,
                       f"{where}.template", str(raw["template"]),
                       "Give a folder with one sub-folder per locale (en/subject.txt, ...).")
        load_template(folder)  # a broken template is refused now, not when it is due
        values.update(template=str(folder.resolve()),
                      channel=checked_name("channel", raw.get("channel", "email"), CHANNELS),
                      purpose=checked_name("purpose", raw.get("purpose", "marketing"), PURPOSES),
                      priority=checked_name("priority", raw.get("priority", "normal"),
                                            ("high", "normal", "low")))  # fmt: skip
    elif kind == "wait":
        delay(raw.get("delay", ""), source=source, column=f"{where}.delay")
        values["delay"] = str(raw["delay"])
    elif kind == "wait_until":
        if "condition" not in raw or "timeout" not in raw:
            raise _bad(f"the wait_until step {step_id!r} needs a condition and a timeout.",
                       source, where, None, 'Add condition = "order" and timeout = "7d".')
        delay(raw["timeout"], source=source, column=f"{where}.timeout")
        values.update(condition=_condition(raw["condition"], source, f"{where}.condition"),
                      timeout=str(raw["timeout"]), on_timeout=raw.get("on_timeout"))
    elif kind == "split":
        if ("condition" in raw) == ("random" in raw):
            raise _bad(f"the split {step_id!r} needs a condition or a random share.", source,
                       where, None, 'Add condition = "segment:rfm:champions" or random = 0.5.')
        if "random" in raw:
            share = holdouts.checked_share(raw["random"], f"{where}.random", source)
            values["random"] = share
        else:
            values["condition"] = _condition(raw["condition"], source, f"{where}.condition")
        values.update(yes=raw.get("yes"), no=raw.get("no"))
    else:
        values["reason"] = str(raw.get("reason") or f"exit step {step_id}")
        values["next"] = None
    return Step(**values)


def _reentry(value: Any, source: str | None) -> str:
    text = " ".join(str(value).strip().lower().split())
    if text in ("never", "every") or _REENTRY.match(text):
        return text
    raise _bad(f"the re-entry rule {value!r} is not one.", source, "reentry", value,
               'Write "never", "every" (each occurrence) or "after 90d".')


def parse(data: dict[str, Any], *, base: Path, source: str | None = None,
          salt: str | None = None) -> Definition:  # fmt: skip
    """A checked definition from the TOML's table (template folders relative
    to ``base``)."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise _bad(f"unknown key {unknown[0]!r}.", source, unknown[0], unknown[0],
                   f"A journey file has: {', '.join(KEYS)}.")
    for key, example in (("name", '"win-back"'), ("entry", '["lapsed:120"]'),
                         ("steps", '[[steps]] tables')):  # fmt: skip
        if key not in data:
            raise _bad(f"the key {key!r} is missing.", source, key, None,
                       f"Add it, e.g. {key} = {example}.")
    name = checked_campaign_name(data["name"], source)
    entry = data["entry"]
    if isinstance(entry, list):
        entry = [c.text for c in audiences.parse_all([str(e) for e in entry], source)]
    elif not str(entry).strip():
        raise _bad("the entry is empty.", source, "entry", entry,
                   'Give audience criteria (entry = ["lapsed:120"]) or a trigger\'s text.')
    else:
        entry = str(entry).strip()
    goals = data.get("goals", [])
    goals = [goals] if isinstance(goals, str) else list(goals)
    steps = [_step(raw, i, base, source) for i, raw in enumerate(data["steps"])]
    if not steps:
        raise _bad("the journey has no steps.", source, "steps", None,
                   'Add at least one, e.g. [[steps]] id = "first" type = "send" ...')
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise _bad(f"two steps have the id {twice!r}.", source, "steps", twice,
                   "Give each step its own id.")
    for s in steps:
        for key in ("next", "on_timeout", "yes", "no"):
            target = getattr(s, key)
            if target is not None and target not in ids:
                raise _bad(f"the step {s.id!r} goes to {target!r}, which is not a step.",
                           source, f"{s.id}.{key}", target, f"Steps: {', '.join(ids)}.")
    moves = {str(k): str(v) for k, v in dict(data.get("moves", {})).items()}
    for old, new in moves.items():
        if new not in ids:
            raise _bad(f"moves sends {old!r} to {new!r}, which is not a step.", source,
                       "moves", new, f"Steps: {', '.join(ids)}.")
    return Definition(
        name=name, entry=entry,
        holdout=holdouts.checked_share(data.get("holdout", HOLDOUT), "holdout", source),
        reentry=_reentry(data.get("reentry", "never"), source),
        goals=[_condition(g, source, "goals") for g in goals], steps=steps,
        salt=str(data.get("salt") or salt or holdouts.new_salt()), moves=moves,
    )  # fmt: skip


def from_file(path: Path | str, *, salt: str | None = None) -> Definition:
    """A checked definition from a journey's TOML file."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"there is no file {source!r}.", value=source, code="no_file",
                         hint="Give the path of the journey's TOML file.") from None  # fmt: skip
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not TOML: {exc}.", source=source, code="bad_toml",
                         hint='Write key = value lines, e.g. name = "win-back".') from None  # fmt: skip
    return parse(data, base=Path(path).parent, source=source, salt=salt)


def from_dict(data: dict[str, Any]) -> Definition:
    """A stored definition (:meth:`Definition.as_dict`) back."""
    steps = [Step(**s) for s in data["steps"]]
    return Definition(**{**data, "steps": steps})
