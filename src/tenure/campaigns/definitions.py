"""Campaign definitions: what a campaign sends, to whom, and who is held out.

A campaign has a ``name`` (also the first part of its messages' dedup
keys, so not a journey's name too), a ``channel`` and a ``purpose`` (what the consent ledger is asked
about), a ``priority`` (its place in the contact budget), a ``template``
folder, an ``audience`` (criteria of :mod:`tenure.campaigns.audiences`), a
``holdout`` share, the ``salt`` of its assignment hash, and a ``state``:

    draft --launch--> running --(every message queued)--> done
                      running <--pause / launch--> paused

It is made from flags or from a small TOML file::

    name = "win-back"
    channel = "email"                 # default email
    purpose = "marketing"             # default marketing
    priority = "normal"               # default normal
    template = "templates/win-back"   # relative to the file
    audience = ["lapsed:120", "segment:rfm:at risk"]
    holdout = 0.1                     # default 0.1; 10 (%) is read as 0.1
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tenure.campaigns import audiences, holdouts
from tenure.campaigns.consent import CHANNELS, PURPOSES, checked_name, now, utc
from tenure.errors import InputError, NotFoundError
from tenure.store.ops_schema import campaigns as campaigns_t
from tenure.store.ops_schema import journeys as journeys_t

STATES = ("draft", "running", "paused", "done")
HOLDOUT = 0.1
KEYS = ("name", "channel", "purpose", "priority", "template", "audience", "holdout", "salt")
# the keys a campaign file must have, with an example of each
REQUIRED = {"name": '"win-back"', "template": '"templates/win-back"', "audience": '["lapsed:90"]'}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    channel: str
    purpose: str
    priority: str
    template: str
    audience: list[str]
    holdout: float
    salt: str
    state: str
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    finished_at: datetime | None
    global_share: float | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("created_at", "updated_at", "launched_at", "finished_at"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out


def _row(row: Any) -> Campaign:
    m = dict(row._mapping)
    for key in ("created_at", "updated_at", "launched_at", "finished_at"):
        m[key] = None if m[key] is None else utc(m[key])
    m["audience"] = json.loads(m["audience"])
    return Campaign(**m)


def checked_campaign_name(name: str, source: str | None = None) -> str:
    text = str(name).strip()
    if not _NAME.match(text):
        raise InputError(
            f"the campaign name {name!r} is not a name.", source=source, column="name",
            value=name, code="bad_campaign_name",
            hint="Use lower-case letters, digits, '-', '_' and '.', e.g. win-back-2026.",
        )  # fmt: skip
    return text


def spec(*, name: str, template: str | Path, audience: list[str] | tuple[str, ...] | str,
         channel: str = "email", purpose: str = "marketing", priority: str = "normal",
         holdout: float | str = HOLDOUT, salt: str | None = None,
         source: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A checked definition (the values to store); errors name ``source``
    (a file) and the key."""
    from tenure.campaigns.templates import load_template

    name = checked_campaign_name(name, source)
    if isinstance(audience, str):
        audience = [audience]
    criteria = audiences.parse_all(list(audience), source)
    folder = Path(template).expanduser()
    if not folder.is_dir():
        raise InputError(
            f"the template folder {str(template)!r} does not exist.", source=source,
            column="template", value=str(template), code="no_template",
            hint="Give a folder with one sub-folder per locale (en/subject.txt, en/body.txt).",
        )  # fmt: skip
    load_template(folder)  # a broken template is refused now, not at launch
    share = holdouts.checked_share(holdout, "holdout", source)
    if share == 0:
        raise InputError(
            "a campaign without a holdout cannot be measured.", source=source,
            column="holdout", value=holdout, code="bad_share",
            hint="Hold out a share of the audience, e.g. --holdout 0.1.",
        )  # fmt: skip
    return {
        "name": name, "channel": checked_name("channel", channel, CHANNELS),
        "purpose": checked_name("purpose", purpose, PURPOSES),
        "priority": checked_name("priority", priority, ("high", "normal", "low")),
        "template": str(folder.resolve()), "audience": audiences.to_json(criteria),
        "holdout": share, "salt": salt or holdouts.new_salt(),
    }  # fmt: skip


def spec_from_file(path: Path) -> dict[str, Any]:
    """A checked definition from a campaign's TOML file."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"there is no file {source!r}.", value=source, code="no_file",
                         hint="Give the path of the campaign's TOML file.") from None  # fmt: skip
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not TOML: {exc}.", source=source, code="bad_toml",
                         hint='Write key = value lines, e.g. name = "win-back".') from None  # fmt: skip
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r}.", source=source, column=unknown[0],
                         hint=f"A campaign file has: {', '.join(KEYS)}.",
                         code="bad_campaign_key")  # fmt: skip
    for key, example in REQUIRED.items():
        if key not in data:
            raise InputError(f"the key {key!r} is missing.", source=source, column=key,
                             hint=f"Add it, e.g. {key} = {example}.",
                             code="bad_campaign_key")  # fmt: skip
    template = Path(str(data["template"]))
    if not template.is_absolute():
        template = Path(path).parent / template
    rest = {k: data[k] for k in ("channel", "purpose", "priority", "holdout", "salt") if k in data}
    return spec(name=data["name"], template=template, audience=data["audience"], source=source,
                **rest)  # fmt: skip


def create(conn: sa.Connection, values: dict[str, Any], *, at: datetime | None = None) -> Campaign:
    """Record a new campaign, in draft; a name taken is refused."""
    taken = conn.execute(sa.select(campaigns_t.c.id)
                         .where(campaigns_t.c.name == values["name"])).first()  # fmt: skip
    if taken is not None:
        raise InputError(f"there is already a campaign {values['name']!r}.", column="name",
                         value=values["name"], code="campaign_exists",
                         hint="Choose another name, or look at it: tenure campaign status "
                         f"{values['name']}.")  # fmt: skip
    if conn.execute(sa.select(journeys_t.c.id)
                    .where(journeys_t.c.name == values["name"])).first():  # fmt: skip
        raise InputError(f"there is a journey {values['name']!r}: its messages and the "
                         "campaign's would share their dedup keys.", column="name",
                         value=values["name"], code="campaign_exists",
                         hint="Give the campaign another name.")  # fmt: skip
    at = utc(at) if at else now()
    conn.execute(campaigns_t.insert().values(**values, state="draft", created_at=at,
                                             updated_at=at))  # fmt: skip
    return get(conn, values["name"])


def get(conn: sa.Connection, name: str) -> Campaign:
    row = conn.execute(sa.select(campaigns_t).where(campaigns_t.c.name == name)).first()
    if row is None:
        names = conn.execute(sa.select(campaigns_t.c.name).order_by(campaigns_t.c.name)
                             .limit(10)).scalars().all()  # fmt: skip
        raise NotFoundError(f"there is no campaign {name!r}.", value=name, code="no_campaign",
                            hint=f"Known: {', '.join(names)}." if names else
                            "Create one: tenure campaign create NAME --audience lapsed:90 "
                            "--template DIR.")  # fmt: skip
    return _row(row)


def all_campaigns(conn: sa.Connection) -> list[Campaign]:
    rows = conn.execute(sa.select(campaigns_t).order_by(campaigns_t.c.created_at,
                                                         campaigns_t.c.id)).all()  # fmt: skip
    return [_row(r) for r in rows]


def set_state(conn: sa.Connection, campaign: Campaign, state: str, **values: Any) -> None:
    conn.execute(campaigns_t.update().where(campaigns_t.c.id == campaign.id)
                 .values(state=state, updated_at=now(), **values))  # fmt: skip
