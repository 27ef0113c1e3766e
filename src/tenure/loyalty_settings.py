"""The rewards catalogue, referrals and challenges of the ``[loyalty]`` table.

Read from tenure.toml (or, for the rewards, a catalogue file named by
``rewards_file``) by :func:`tenure.config.load_settings`, each value checked
here and named when wrong::

    [loyalty]
    point_value = 0.01           # one point, in the reporting currency
    rewards_file = "rewards.toml"  # optional: [[rewards]] tables, beside these
    rewards = [
      {id = "5off", kind = "discount", points = 500, value = 5.0},
      {id = "mug", kind = "product", points = 800, product_id = "SKU-MUG", stock = 100,
       per_member = 1},
      {id = "pay", kind = "partial", max_share = 0.5, min_points = 100},
    ]
    referrals = {advocate_points = 500, friend_points = 250, min_order = 20.0,
                 max_per_advocate = 5, cap_days = 365}
    challenges = [
      {id = "regular", kind = "orders", count = 3, days = 30, badge = "Regular", points = 100},
      {id = "critic", kind = "event", event = "review", badge = "Critic", points = 50},
    ]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tenure.errors import ConfigError

REWARD_KINDS = ("discount", "product", "partial")
CHALLENGE_KINDS = ("orders", "event")
# the keys this module reads from the [loyalty] table
KEYS = ("point_value", "rewards", "rewards_file", "referrals", "challenges")
DEFAULT_POINT_VALUE = 0.01


@dataclass(frozen=True)
class Reward:
    """A reward of the catalogue.

    ``discount``: ``points`` buy ``value`` off an order (reporting currency);
    ``product``: ``points`` buy the product ``product_id``; ``partial``: any
    number of points from ``min_points`` pays part of an order at the
    program's point value, at most ``max_share`` of the order's total.
    ``stock``: how many can be redeemed in all; ``per_member``: by one member.
    """

    id: str
    kind: str
    name: str
    points: int | None = None
    value: float | None = None
    product_id: str | None = None
    max_share: float = 1.0
    min_points: int = 1
    stock: int | None = None
    per_member: int | None = None

    def doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "points": self.points,
                "value": self.value, "product_id": self.product_id,
                "max_share": self.max_share if self.kind == "partial" else None,
                "min_points": self.min_points if self.kind == "partial" else None,
                "stock": self.stock, "per_member": self.per_member}  # fmt: skip


@dataclass(frozen=True)
class Referrals:
    """What a referral pays, when, and how many an advocate is paid for."""

    advocate_points: int = 0
    friend_points: int = 0
    min_order: float = 0.0  # the friend's first qualifying order: at least this much
    max_per_advocate: int | None = None  # rewarded referrals per advocate per cap_days
    cap_days: int = 365


@dataclass(frozen=True)
class Challenge:
    """``orders``: ``count`` orders within ``days`` days (ingested orders);
    ``event``: ``count`` events named ``event`` (within ``days``, or ever).
    Completing it gives the ``badge`` and ``points`` bonus points, once."""

    id: str
    kind: str
    badge: str
    count: int = 1
    days: int | None = None
    event: str | None = None
    points: int = 0
    name: str = ""

    def label(self) -> str:
        if self.name:
            return self.name
        what = "order(s)" if self.kind == "orders" else f"{self.event} event(s)"
        within = f" in {self.days} days" if self.days else ""
        return f"{self.count} {what}{within}"


@dataclass(frozen=True)
class Program:
    """The catalogue, referrals and challenges of a program."""

    point_value: float = DEFAULT_POINT_VALUE
    rewards: tuple[Reward, ...] = ()
    referrals: Referrals = Referrals()
    challenges: tuple[Challenge, ...] = ()

    @classmethod
    def from_settings(cls, s: Any) -> Program:
        """The program of ``s``, the ``[loyalty]`` settings (``LoyaltySettings``;
        not named here: the settings are the layer above this module)."""
        return cls(point_value=s.point_value, rewards=s.rewards,
                   referrals=s.referrals or Referrals(), challenges=s.challenges)  # fmt: skip

    def reward(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)


def _whole(where: str, key: str, value: Any, *, least: int, origin: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(
            f"{where}: '{key}' has the value {value!r}, which is not a whole number of "
            f"{least} or more.",
            hint=f"Fix it in {origin}, e.g. {example}.",
        )
    return value


def _number(where: str, key: str, value: Any, *, origin: str, example: str,
            positive: bool = False, most: float | None = None) -> float:  # fmt: skip
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if not bad:
        bad = not (0 < value if positive else 0 <= value) or value == float("inf")
        bad = bad or (most is not None and value > most)
    if bad:
        above = "above 0" if positive else "of 0 or more"
        limit = f" and at most {most}" if most is not None else ""
        raise ConfigError(
            f"{where}: '{key}' has the value {value!r}, which is not a number {above}{limit}.",
            hint=f"Fix it in {origin}, e.g. {example}.",
        )
    return float(value)


def _text(where: str, key: str, value: Any, *, origin: str, example: str, most: int = 100) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise ConfigError(
            f"{where}: '{key}' has the value {value!r}; it needs a text of 1 to {most} characters.",
            hint=f"Fix it in {origin}, e.g. {example}.",
        )
    return value.strip()


def _table(where: str, value: Any, origin: str, known: set[str], example: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} is {value!r}, which is not a table.",
                          hint=f"Fix it in {origin}: {example}")  # fmt: skip
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (value {value[unknown[0]]!r}).",
                          hint=f"Fix it in {origin}: known keys are {', '.join(sorted(known))}.")  # fmt: skip
    return value


REWARD_EXAMPLE = '{id = "5off", kind = "discount", points = 500, value = 5.0}'
REWARD_KEYS = {"id", "kind", "name", "points", "value", "product_id", "max_share", "min_points",
               "stock", "per_member"}  # fmt: skip


def rewards(raw: Any, where: str, origin: str) -> tuple[Reward, ...]:
    """The ``rewards`` list: each reward checked, ids unique."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'rewards' has the value {raw!r}, which is not a list.",
                          hint=f"Fix it in {origin}: rewards = [{REWARD_EXAMPLE}]")  # fmt: skip
    found: list[Reward] = []
    for i, item in enumerate(raw, 1):
        at = f"{where} reward {i}"
        t = _table(at, item, origin, REWARD_KEYS, REWARD_EXAMPLE)
        rid = _text(at, "id", t.get("id"), origin=origin, example='id = "5off"')
        at = f"{where} reward {rid!r}"
        kind = t.get("kind")
        if kind not in REWARD_KINDS:
            raise ConfigError(f"{at}: 'kind' has the value {kind!r}.",
                              hint=f"Fix it in {origin}: use {', '.join(REWARD_KINDS)}.")  # fmt: skip
        fields: dict[str, Any] = {"id": rid, "kind": kind,
                                  "name": _text(at, "name", t.get("name", rid), origin=origin,
                                                example='name = "5.00 off"', most=200)}  # fmt: skip
        if kind in ("discount", "product"):
            fields["points"] = _whole(at, "points", t.get("points"), least=1, origin=origin,
                                      example="points = 500")  # fmt: skip
        elif "points" in t:
            raise ConfigError(f"{at}: a partial redemption takes any number of points; "
                              f"'points' ({t['points']!r}) does not apply.",
                              hint=f"Fix it in {origin}: give min_points and max_share instead.")  # fmt: skip
        if kind == "discount":
            fields["value"] = _number(at, "value", t.get("value"), origin=origin, positive=True,
                                      example="value = 5.0")  # fmt: skip
        if kind == "product":
            fields["product_id"] = _text(at, "product_id", t.get("product_id"), origin=origin,
                                         example='product_id = "SKU-MUG"', most=200)  # fmt: skip
        if kind == "partial":
            fields["max_share"] = _number(at, "max_share", t.get("max_share", 1.0), origin=origin,
                                          positive=True, most=1.0, example="max_share = 0.5")  # fmt: skip
            fields["min_points"] = _whole(at, "min_points", t.get("min_points", 1), least=1,
                                          origin=origin, example="min_points = 100")  # fmt: skip
        if "stock" in t:
            fields["stock"] = _whole(at, "stock", t["stock"], least=0, origin=origin,
                                     example="stock = 100")  # fmt: skip
        if "per_member" in t:
            fields["per_member"] = _whole(at, "per_member", t["per_member"], least=1,
                                          origin=origin, example="per_member = 1")  # fmt: skip
        if any(r.id == rid for r in found):
            raise ConfigError(f"{where}: the reward id {rid!r} is given twice.",
                              hint=f"Fix it in {origin}: give each reward its own id.")  # fmt: skip
        found.append(Reward(**fields))
    return tuple(found)


def rewards_file(raw: Any, where: str, origin: str) -> tuple[Reward, ...]:
    """The ``[[rewards]]`` of the catalogue file ``raw`` (relative to tenure.toml)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where}: 'rewards_file' has the value {raw!r}, which is not a path.",
                          hint=f'Fix it in {origin}, e.g. rewards_file = "rewards.toml".')  # fmt: skip
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(origin).parent / path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: 'rewards_file' is {raw!r}, and {path} does not exist.",
                          hint=f"Create the file, or fix the path in {origin}.") from None  # fmt: skip
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path} is not a readable TOML file: {exc}",
                          hint=f"Fix it: [[rewards]] tables, e.g. {REWARD_EXAMPLE}.") from None  # fmt: skip
    return rewards(data.get("rewards", []), str(path), str(path))


REFERRAL_EXAMPLE = "referrals = {advocate_points = 500, friend_points = 250, min_order = 20.0}"


def referrals(raw: Any, where: str, origin: str) -> Referrals:
    known = {"advocate_points", "friend_points", "min_order", "max_per_advocate", "cap_days"}
    t = _table(f"{where} referrals", raw, origin, known, REFERRAL_EXAMPLE)
    at = f"{where} referrals"
    values: dict[str, Any] = {}
    for key in ("advocate_points", "friend_points"):
        if key in t:
            values[key] = _whole(at, key, t[key], least=0, origin=origin, example=f"{key} = 250")
    if "min_order" in t:
        values["min_order"] = _number(at, "min_order", t["min_order"], origin=origin,
                                      example="min_order = 20.0")  # fmt: skip
    if "max_per_advocate" in t:
        values["max_per_advocate"] = _whole(at, "max_per_advocate", t["max_per_advocate"],
                                            least=1, origin=origin,
                                            example="max_per_advocate = 5")  # fmt: skip
    if "cap_days" in t:
        values["cap_days"] = _whole(at, "cap_days", t["cap_days"], least=1, origin=origin,
                                    example="cap_days = 365")  # fmt: skip
    return Referrals(**values)


CHALLENGE_EXAMPLE = ('{id = "regular", kind = "orders", count = 3, days = 30, badge = "Regular", '
                     "points = 100}")  # fmt: skip


def challenges(raw: Any, where: str, origin: str) -> tuple[Challenge, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'challenges' has the value {raw!r}, which is not a list.",
                          hint=f"Fix it in {origin}: challenges = [{CHALLENGE_EXAMPLE}]")  # fmt: skip
    known = {"id", "kind", "badge", "count", "days", "event", "points", "name"}
    found: list[Challenge] = []
    for i, item in enumerate(raw, 1):
        at = f"{where} challenge {i}"
        t = _table(at, item, origin, known, CHALLENGE_EXAMPLE)
        cid = _text(at, "id", t.get("id"), origin=origin, example='id = "regular"')
        at = f"{where} challenge {cid!r}"
        kind = t.get("kind")
        if kind not in CHALLENGE_KINDS:
            raise ConfigError(f"{at}: 'kind' has the value {kind!r}.",
                              hint=f"Fix it in {origin}: use {' or '.join(CHALLENGE_KINDS)}.")  # fmt: skip
        fields: dict[str, Any] = {
            "id": cid, "kind": kind,
            "badge": _text(at, "badge", t.get("badge", cid), origin=origin,
                           example='badge = "Regular"', most=200),
            "count": _whole(at, "count", t.get("count", 1), least=1, origin=origin,
                            example="count = 3"),
            "points": _whole(at, "points", t.get("points", 0), least=0, origin=origin,
                             example="points = 100"),
            "name": _text(at, "name", t["name"], origin=origin, example='name = "Regular"',
                          most=200) if "name" in t else "",
        }  # fmt: skip
        if "days" in t:
            fields["days"] = _whole(at, "days", t["days"], least=1, origin=origin,
                                    example="days = 30")  # fmt: skip
        elif kind == "orders":
            raise ConfigError(f"{at}: an orders challenge needs 'days' (the window).",
                              hint=f"Fix it in {origin}: {CHALLENGE_EXAMPLE}")  # fmt: skip
        if kind == "event":
            fields["event"] = _text(at, "event", t.get("event"), origin=origin,
                                    example='event = "review"', most=40)  # fmt: skip
        if any(c.id == cid for c in found):
            raise ConfigError(f"{where}: the challenge id {cid!r} is given twice.",
                              hint=f"Fix it in {origin}: give each challenge its own id.")  # fmt: skip
        found.append(Challenge(**fields))
    return tuple(found)


def read(values: dict[str, Any], where: str, origin: str) -> dict[str, Any]:
    """The [loyalty] keys of this module in ``values``, checked and parsed."""
    out: dict[str, Any] = {}
    if "point_value" in values:
        out["point_value"] = _number(where, "point_value", values["point_value"], origin=origin,
                                     positive=True, example="point_value = 0.01")  # fmt: skip
    found: list[Reward] = []
    if "rewards" in values:
        found.extend(rewards(values["rewards"], where, origin))
    if "rewards_file" in values:
        for r in rewards_file(values["rewards_file"], where, origin):
            if any(f.id == r.id for f in found):
                raise ConfigError(f"{where}: the reward id {r.id!r} is in both 'rewards' and "
                                  f"the file {values['rewards_file']!r}.",
                                  hint="Keep it in one of them.")  # fmt: skip
            found.append(r)
    out["rewards"] = tuple(found)
    out["rewards_file"] = None
    if "referrals" in values:
        out["referrals"] = referrals(values["referrals"], where, origin)
    if "challenges" in values:
        out["challenges"] = challenges(values["challenges"], where, origin)
    return out


def one_source(values: dict[str, Any], raw: dict[str, Any], where: str, origin: str) -> None:
    """Make ``referrals`` and ``challenges`` the one place a referral's and a
    challenge's points are read from, in ``values`` (the parsed [loyalty]
    table; ``raw``: as written).

    The earning rules' ``bonuses.referral`` and ``bonuses.challenge`` are
    deprecated: given beside ``referrals`` (``challenges``), they must agree
    with it, or a ConfigError names both keys and values. They then hold
    what the program pays, so that ``award_bonus(..., rules=...)`` grants
    what a settlement grants: ``referral`` the advocate's points, and a
    challenge declared without ``points`` takes ``bonuses.challenge``.
    """
    rules = values.get("earning")
    if rules is None:
        return
    bonuses = dict(rules.bonuses)
    terms = values.get("referrals")
    if terms is not None:
        given = bonuses.get("referral")
        if given is not None and given != terms.advocate_points:
            raise ConfigError(
                f"{rules.source}: 'bonuses.referral' is {given}, but {where}: "
                f"'referrals.advocate_points' is {terms.advocate_points}; both give the points "
                "of a referral.",
                hint=f"A referral's points are read from [loyalty] referrals in {origin}: remove "
                f"the deprecated 'bonuses.referral' from {rules.source}, or make it "
                f"{terms.advocate_points}.",
            )
        bonuses["referral"] = terms.advocate_points
    given = bonuses.get("challenge")
    found = values.get("challenges") or ()
    if given is not None and found:
        written = raw.get("challenges") or []
        resolved = []
        for challenge, item in zip(found, written, strict=True):
            if "points" in item and challenge.points != given:
                raise ConfigError(
                    f"{rules.source}: 'bonuses.challenge' is {given}, but {where}: the "
                    f"challenge {challenge.id!r} has 'points' {challenge.points}; both give "
                    "the points of a challenge.",
                    hint=f"A challenge's points are read from its 'points' in {origin}: remove "
                    f"the deprecated 'bonuses.challenge' from {rules.source}, or make them agree.",
                )
            resolved.append(challenge if "points" in item else replace(challenge, points=given))
        values["challenges"] = tuple(resolved)
    values["earning"] = replace(rules, bonuses=bonuses)
