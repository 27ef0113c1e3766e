"""Who may use the dashboard and the API: users with roles, API keys with
scopes, sessions and the slowing down of repeated wrong passwords. All of
it lives in the operational store (SQLite or PostgreSQL).

Roles and what they may do (scopes):

=========  ==========================================
viewer     read: every page and every read endpoint
analyst    read, write: also ingest through the API
admin      read, write, admin: also users and API keys
=========  ==========================================
"""

from __future__ import annotations

ROLES = {
    "viewer": frozenset({"read"}),
    "analyst": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}
SCOPES = ("read", "write", "admin")


def is_demo(ops) -> bool:
    """True for a store made by ``tenure demo``."""
    import sqlalchemy as sa

    from tenure.store.ops_schema import ops_meta

    with ops.engine.connect() as conn:
        value = conn.execute(sa.select(ops_meta.c.value).where(ops_meta.c.key == "demo")).scalar()
    return value == "true"


def mark_demo(ops) -> None:
    import sqlalchemy as sa

    from tenure.store.ops_schema import ops_meta

    with ops.engine.begin() as conn:
        conn.execute(ops_meta.delete().where(ops_meta.c.key == "demo"))
        conn.execute(sa.insert(ops_meta).values(key="demo", value="true"))


# the login `tenure demo` makes on its store, shown on the demo's login page
DEMO_EMAIL = "demo@tenure.example"
DEMO_PASSWORD = "retention-demo"


def has_demo_login(ops) -> bool:
    """True when the store has a user with the demo's published login."""
    import sqlalchemy as sa

    from tenure.store.ops_schema import users

    with ops.engine.connect() as conn:
        found = conn.execute(sa.select(users.c.id).where(users.c.email == DEMO_EMAIL)).first()
    return found is not None


def demo_login(ops) -> dict[str, str] | None:
    """Mark the store as the demo's and give it the demo login (an admin);
    None without the web extra, which hashes passwords."""
    from tenure.access import users
    from tenure.errors import DuplicateError, MissingExtraError

    mark_demo(ops)
    try:
        # the demo's password is published, so no policy can make it safe
        users.add_user(ops, DEMO_EMAIL, "admin", DEMO_PASSWORD, name="Demo", policy=False)
    except DuplicateError:
        pass  # the demo ran on this store before
    except MissingExtraError:
        return None
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
