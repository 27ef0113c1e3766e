"""Playbooks: a journey ready to use for each of the seed strategies.

Each is a folder of package data under ``tenure/campaigns/playbooks/``: a
``journey.toml`` (its first line, a comment, says what it does) and its
e-mail templates in English and German. Each holds out 10 % at entry.
:func:`install` copies one into the workspace (``STORE/journeys/NAME``),
where it can be edited, and creates the journey from the copy.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from tenure.campaigns import journeys, journeys_spec
from tenure.campaigns.consent import write_transaction
from tenure.errors import InputError
from tenure.store.ops import OpsStore

NAMES = ("welcome", "onboarding", "post-purchase", "birthday", "replenishment",
         "at-risk-outreach", "win-back")  # fmt: skip


def folder(name: str) -> Path:
    """The packaged playbook's folder."""
    if name not in NAMES:
        raise InputError(f"there is no playbook {name!r}.", value=name, column="playbook",
                         code="no_playbook", hint=f"Playbooks: {', '.join(NAMES)}.")  # fmt: skip
    return Path(str(resources.files("tenure.campaigns") / "playbooks" / name))


def listing() -> list[dict[str, Any]]:
    """Each playbook: its name, what it does, its entry, holdout and steps."""
    out = []
    for name in NAMES:
        path = folder(name) / "journey.toml"
        about = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        d = journeys_spec.from_file(path, salt="-")
        out.append({"name": name, "about": about, "entry": d.entry, "holdout": d.holdout,
                    "reentry": d.reentry, "goals": d.goals,
                    "steps": [f"{s.type}:{s.id}" for s in d.steps]})  # fmt: skip
    return out


def install(settings: Any, ops: OpsStore, name: str, *, into: Path | None = None,
            salt: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Copy the playbook into the workspace and create its journey (with
    ``salt`` for its holdout's hash; a new random one when None)."""
    source = folder(name)
    target = Path(into) if into else Path(settings.store) / "journeys" / name
    if target.exists():
        raise InputError(f"{target} exists already.", value=str(target), code="exists",
                         hint="Create the journey from it: tenure journey create "
                         f"{target / 'journey.toml'}, or remove the folder.")  # fmt: skip
    shutil.copytree(source, target)
    try:
        definition = journeys_spec.from_file(target / "journey.toml", salt=salt)
        with write_transaction(ops) as conn:
            journey = journeys.create(conn, definition)
    except Exception:
        # a journey refused (its name a campaign's) leaves no copy behind
        # that a second try would stop at
        shutil.rmtree(target, ignore_errors=True)
        raise
    return {"playbook": name, "folder": str(target), "journey": journey.as_dict()}
