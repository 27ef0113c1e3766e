"""The access stamp: a random value in ``ops_meta`` that changes with every
change of who may do what (a user disabled, enabled, removed, given another
role or password; a session ended; an API key revoked), whichever process
made it, the server or the CLI.

A server keeps the sessions and keys it checked lately (see
:mod:`tenure.access.recent`) only while the stamp is the one it saw: it
reads the stamp, one row by its primary key, on every request, so a change
made anywhere takes effect on the next request.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from tenure.store.ops import OpsStore
from tenure.store.ops_schema import ops_meta

KEY = "access_stamp"


def read(ops: OpsStore) -> str | None:
    with ops.engine.connect() as conn:
        return conn.execute(sa.select(ops_meta.c.value).where(ops_meta.c.key == KEY)).scalar()


def bump(conn: sa.Connection) -> None:
    """Change the stamp, inside the caller's transaction (so the change and
    the new stamp are seen together). A random value, not a counter: two
    processes bumping at once cannot end on the value either started from."""
    conn.execute(ops_meta.delete().where(ops_meta.c.key == KEY))
    conn.execute(sa.insert(ops_meta).values(key=KEY, value=secrets.token_hex(8)))
