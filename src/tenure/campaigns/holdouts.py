"""Who is held out: a stable hash of (salt, customer), nested as Braze does.

A customer's **draw** under a salt is a number in [0, 1):

    u(salt, customer) = first 8 bytes of BLAKE2b-64(salt "\\x00" customer) / 2^64

(big-endian), the same on every run and machine, whatever the order or the
size of the audience it is drawn in, and independent between salts. A
campaign assigns at eligibility, before consent, caps and suppression are
looked at, so both arms pass the same filters later (intent to treat):

1. the **global control**, one workspace-wide salt and share (5 % unless
   set): a customer whose draw under the global salt is below the share is
   in it for every campaign, and is sent none of them;
2. among the others, the campaign's own **holdout**: a draw under the
   campaign's salt below its holdout share.

Everyone else is in the ``treatment`` arm. The holdout share is therefore a
share of those outside the global control (Braze's "the control group is
taken from the users not in the global control group").
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from tenure.errors import InputError
from tenure.store.ops_schema import ops_meta

ARMS = ("treatment", "holdout", "global_control")
GLOBAL_SHARE = 0.05
_SALT_KEY = "campaigns.global_control.salt"
_SHARE_KEY = "campaigns.global_control.share"
_SCALE = float(2**64)


def draw(salt: str, customer_id: str) -> float:
    """The customer's number in [0, 1) under ``salt``."""
    digest = hashlib.blake2b(f"{salt}\x00{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def draws(salt: str, customer_ids: Iterable[str]) -> np.ndarray:
    """:func:`draw` for many customers, as an array."""
    prefix = f"{salt}\x00".encode()
    blake = hashlib.blake2b
    out = [int.from_bytes(blake(prefix + c.encode(), digest_size=8).digest(), "big")
           for c in customer_ids]  # fmt: skip
    return np.asarray(out, dtype=np.float64) / _SCALE


def new_salt() -> str:
    return secrets.token_hex(8)


def checked_share(value: object, what: str, source: str | None = None) -> float:
    """A share in [0, 1), or a percentage written with its sign ("10%")."""
    text = str(value).strip()
    try:
        share = float(text.rstrip("%"))
    except ValueError:
        share = -1.0
    if text.endswith("%"):
        share /= 100
    if not 0 <= share < 1:
        raise InputError(
            f"the {what} {value!r} is not a share.", source=source, column=what, value=value,
            hint="Give a share from 0 to below 1, or a percentage with its sign: 0.1 or 10%.",
            code="bad_share",
        )  # fmt: skip
    return share


@dataclass(frozen=True)
class GlobalControl:
    salt: str
    share: float


def global_control(conn: sa.Connection) -> GlobalControl:
    """The workspace's global control; made (share 5 %, a random salt) on
    first use, in the caller's transaction, and kept."""
    found = dict(conn.execute(
        sa.select(ops_meta.c.key, ops_meta.c.value)
        .where(ops_meta.c.key.in_((_SALT_KEY, _SHARE_KEY)))
    ).all())  # fmt: skip
    if _SALT_KEY not in found:
        found = {_SALT_KEY: new_salt(), _SHARE_KEY: found.get(_SHARE_KEY, repr(GLOBAL_SHARE))}
        conn.execute(ops_meta.delete().where(ops_meta.c.key.in_((_SALT_KEY, _SHARE_KEY))))
        conn.execute(ops_meta.insert(), [{"key": k, "value": v} for k, v in found.items()])
    return GlobalControl(found[_SALT_KEY], float(found[_SHARE_KEY]))


def set_global_share(conn: sa.Connection, share: float) -> GlobalControl:
    """Change the global control's share (its salt stays: a customer in a
    smaller group stays in the larger one). Campaigns launched before keep
    the arms they were assigned."""
    current = global_control(conn)
    share = checked_share(share, "global share")
    conn.execute(ops_meta.update().where(ops_meta.c.key == _SHARE_KEY).values(value=repr(share)))
    return GlobalControl(current.salt, share)


def assign(customer_ids: list[str], *, salt: str, holdout: float,
           control: GlobalControl | None) -> np.ndarray:  # fmt: skip
    """Each customer's arm (an array of :data:`ARMS` names), nested: the
    global control first, then the campaign's holdout among the rest."""
    arms = np.full(len(customer_ids), "treatment", dtype=object)
    if not customer_ids:
        return arms
    held = draws(salt, customer_ids) < holdout
    arms[held] = "holdout"
    if control is not None and control.share > 0:
        arms[draws(control.salt, customer_ids) < control.share] = "global_control"
    return arms
