"""``tenure user disable | enable | remove | reset-password | sessions`` and
``tenure audit``: managing the people who use the server, and reading what
they (and the command line) did.

The actor of each change in the audit log is the OS user running the
command. A change takes effect on the next request of the user concerned,
even on a server that is running.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, out_console
from tenure.cli.web import _ops, _show, read_password, user_app

AUDIT_HELP = """Read the audit log: logins and failed logins, changes to users and API
keys, ingests (with who ran them), exports of customer data and erasures,
newest first. Passwords and search terms are never recorded.

It is read from the store's folder, so whoever can read the store can read
it; on the server, admins only (GET /api/v1/audit).

Example:

    tenure audit --since 2026-01-01 --kind login_failed

    tenure audit --json
"""

Email = Annotated[str, typer.Argument(help="The user's email.")]


def _said(user: dict, json_: bool, text: str) -> None:
    if json_:
        emit_json(user)
        return
    out_console().print(text)


@user_app.command(
    "disable",
    help="Disable a user: they cannot log in, their sessions end and the API keys they "
    "made stop working, at once, until enabled again. The last admin cannot be disabled."
    "\n\nExample:\n\n    tenure user disable ana@shop.example",
)
def user_disable(email: Email, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import users

    with _ops(store) as ws:
        user = users.disable_user(ws.ops, email)
    _said(user, json_, f"Disabled {user['email']}; their sessions ended.")


@user_app.command(
    "enable",
    help="Enable a disabled user again (they log in anew).\n\nExample:\n\n"
    "    tenure user enable ana@shop.example",
)
def user_enable(email: Email, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import users

    with _ops(store) as ws:
        user = users.enable_user(ws.ops, email)
    _said(user, json_, f"Enabled {user['email']}.")


@user_app.command(
    "remove",
    help="Remove a user: their sessions end and the API keys they made are revoked. The "
    "last admin cannot be removed.\n\nExample:\n\n    tenure user remove ana@shop.example",
)
def user_remove(email: Email, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import users

    with _ops(store) as ws:
        user = users.remove_user(ws.ops, email)
    _said(user, json_, f"Removed {user['email']}.")


@user_app.command(
    "reset-password",
    help="Set a user's password anew, read from standard input; their sessions end. It "
    "needs 10 characters or more, not a common password, nothing of the email."
    "\n\nExample:\n\n    echo 'another long passphrase' | tenure user reset-password "
    "ana@shop.example",
)
def user_reset_password(email: Email, store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import users

    users.normalize_email(email)  # before asking for a password
    password = read_password("tenure user reset-password EMAIL")
    with _ops(store) as ws:
        user = users.reset_password(ws.ops, email, password)
    _said(user, json_, f"Set a new password for {user['email']}; their sessions ended.")


@user_app.command(
    "sessions",
    help="List a user's live dashboard sessions, or end them all with --revoke (a lost "
    "laptop).\n\nExample:\n\n    tenure user sessions ana@shop.example --revoke",
)
def user_sessions(
    email: Email,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="End every session of the user, at once.")
    ] = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import sessions, users

    with _ops(store) as ws:
        email = users.find_user(ws.ops, email)["email"]
        if revoke:
            ended = sessions.revoke_all(ws.ops, email)
            _said({"email": email, "sessions_ended": ended}, json_,
                  f"Ended {ended} session(s) of {email}.")  # fmt: skip
            return
        found = sessions.of_user(ws.ops, email)
    if json_:
        emit_json({"email": email, "sessions": found})
        return
    if not found:
        out_console().print(f"{email} has no live session.")
        return
    _show(f"Sessions of {email}", "sessions", found, False,
          {"created_at": "started", "expires_at": "ends"})  # fmt: skip


def audit(
    since: Annotated[
        str | None,
        typer.Option(help="Only entries from this date (YYYY-MM-DD) or time, UTC."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Only entries of this kind: login, login_failed, user_disabled, "
                     "key_created, ingest, export, ..."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.", min=1)] = 1000,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    from tenure.access import audit as log

    when, kind = log.parse_since(since), log.check_kind(kind)  # before opening the store
    with _ops(store) as ws:
        entries = log.read(ws.ops, since=when, kind=kind, limit=limit)
    if json_:
        emit_json({"entries": entries})
        return
    for entry in entries:
        entry["who"] = entry["actor"] + (f" from {entry['address']}" if entry["address"] else "")
        entry["what"] = ", ".join(f"{k}={v}" for k, v in (entry["detail"] or {}).items())
    _show("Audit log", "entries", entries, False, {
        "at": "at", "kind": "kind", "who": "who", "target": "on", "what": "detail",
    })  # fmt: skip
