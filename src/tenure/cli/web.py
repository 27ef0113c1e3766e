"""``tenure serve``, ``tenure user`` and ``tenure apikey``: the web
dashboard and REST API, who may use them, and with which keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tenure.cli._common import JsonOption, StoreOption, emit_json, engine_settings, out_console

SERVE_HELP = """Serve the web dashboard and the REST API (/api/v1) of a store.

It signs sessions with a secret key made on first use and kept in the
store's folder (secret.key, owner-only), unless TENURE_SECRET_KEY gives one
(32 characters or more). Users (tenure user add) or API keys (tenure apikey
create) let people in. Needs the [web] extra.

Example:

    tenure serve --store tenure-data --port 8000

    tenure serve --store tenure-data --demo      # the store of tenure demo
"""

USER_HELP = """Users of the dashboard, with a role: admin, analyst or viewer.

Example:

    echo 'a long passphrase' | tenure user add ana@shop.example --role analyst

    tenure user list --json
"""

APIKEY_HELP = """API keys for the REST API, with scopes: read, write, admin.

A key is printed once, when it is made; the store keeps only its hash.

Example:

    tenure apikey create --scope read --name "BI tool" --json

    curl -H "Authorization: Bearer tk_..." http://127.0.0.1:8000/api/v1/metrics
"""

user_app = typer.Typer(help=USER_HELP, no_args_is_help=True, rich_markup_mode=None)
apikey_app = typer.Typer(help=APIKEY_HELP, no_args_is_help=True, rich_markup_mode=None)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Serve the demo store with the demo's login and secret.")
    ] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Trust X-Forwarded-Proto/For from a proxy on this machine (HTTPS behind a "
            "reverse proxy: the session cookie is then Secure).",
        ),
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request (INFO).")
    ] = True,
    store: StoreOption = None,
) -> None:
    import logging

    from tenure.web import create_app

    # tenure's own messages (the warm-up, unexpected errors) beside uvicorn's
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    logging.getLogger("tenure").addHandler(handler)
    logging.getLogger("tenure").setLevel(logging.INFO)

    settings = engine_settings(store)
    app = create_app(settings, demo=demo)
    try:
        import uvicorn
    except ModuleNotFoundError as exc:  # pragma: no cover - fastapi without uvicorn
        from tenure.errors import MissingExtraError

        raise MissingExtraError.for_extra("web", exc.name or "uvicorn") from None
    out = out_console()
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    out.print(f"Dashboard: http://{shown}:{port}/   API: http://{shown}:{port}/api/v1/docs")
    if demo:
        from tenure.access import DEMO_EMAIL, DEMO_PASSWORD

        out.print(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    else:
        from tenure.access import DEMO_EMAIL, has_demo_login
        from tenure.cli._common import err_console

        if has_demo_login(app.state.ops):  # refused without --demo, but better gone
            err_console().print(
                f"Warning: the store still has the demo login {DEMO_EMAIL}, whose password is "
                "published; it is refused unless the server runs with --demo. Remove it with: "
                f"tenure user remove {DEMO_EMAIL}", markup=False,
            )  # fmt: skip
    from tenure.web.protocol import Protocol

    uvicorn.run(
        app, host=host, port=port, http=Protocol, proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1" if proxy_headers else None, log_level="info",
        access_log=access_log,
        # no "server: uvicorn": it tells an attacker what runs, and each client parses it
        server_header=False,
    )  # fmt: skip


def read_password(command: str) -> str:
    """A password from the terminal (not shown) or the first line of standard input."""
    from tenure.errors import InputError

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password (10 characters or more): ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError(
            "no password was given on standard input.",
            hint=f"Pipe it in: echo 'a long passphrase' | {command}",
        )
    return password


def _ops(store):
    from tenure.store.workspace import Workspace

    return Workspace.open(engine_settings(store), create=False)


@user_app.command(
    "add",
    help="Add a user; the password is read from standard input.\n\nExample:\n\n"
    "    echo 'a long passphrase' | tenure user add ana@shop.example --role analyst",
)
def user_add(
    email: Annotated[str, typer.Argument(help="The user's email; they log in with it.")],
    role: Annotated[str, typer.Option(help="admin, analyst or viewer.")] = "viewer",
    name: Annotated[str | None, typer.Option(help="The user's name.")] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import users

    users.normalize_email(email), users.check_role(role)  # before asking for a password
    password = read_password("tenure user add EMAIL --role viewer")
    with _ops(store) as ws:
        user = users.add_user(ws.ops, email, role, password, name=name)
    if json_:
        emit_json(user)
        return
    out_console().print(f"Added {user['email']} ({user['role']}: {', '.join(user['scopes'])}).")


@user_app.command("list", help="List the users.\n\nExample:\n\n    tenure user list --json")
def user_list(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import users

    with _ops(store) as ws:
        found = users.list_users(ws.ops)
    _show("Users", "users", found, json_, {
        "email": "email", "name": "name", "role": "role", "created_at": "created",
        "last_login_at": "last login", "disabled": "disabled",
    })  # fmt: skip


def _show(title: str, key: str, rows: list[dict], json_: bool, columns: dict[str, str]) -> None:
    """``{key: rows}`` as JSON, or a table of ``columns`` (field -> header)."""
    from rich.table import Table

    if json_:
        emit_json({key: rows})
        return
    table = Table(*columns.values(), title=title)
    for row in rows:
        cells = [row[f] for f in columns]
        table.add_row(*(
            "yes" if c is True else "" if c in (None, False)
            else ", ".join(c) if isinstance(c, list) else str(c)
            for c in cells
        ))  # fmt: skip
    out_console().print(table)


@user_app.command(
    "set-role",
    help="Change a user's role.\n\nExample:\n\n    tenure user set-role ana@shop.example admin",
)
def user_set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help="admin, analyst or viewer.")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import users

    with _ops(store) as ws:
        user = users.set_role(ws.ops, email, role)
    if json_:
        emit_json(user)
        return
    out_console().print(f"{user['email']} is now {user['role']}.")


@apikey_app.command(
    "create",
    help="Make an API key and print it, once.\n\nExample:\n\n"
    "    tenure apikey create --scope read --scope write --name shop --json",
)
def apikey_create(
    scope: Annotated[
        list[str], typer.Option("--scope", help="read, write or admin; repeat for several.")
    ],
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import apikeys

    with _ops(store) as ws:
        made = apikeys.create_key(ws.ops, scope, name=name, created_by="cli")
    if json_:
        emit_json(made)
        return
    out = out_console()
    out.print(made["key"])
    out.print(
        f"Scopes {', '.join(made['scopes'])}. Keep it now: it is not shown again "
        f"(revoke it with: tenure apikey revoke {made['prefix']})."
    )


@apikey_app.command(
    "list",
    help="List the API keys (never the keys themselves).\n\nExample:\n\n    tenure apikey list --json",
)
def apikey_list(store: StoreOption = None, json_: JsonOption = False) -> None:
    from tenure.access import apikeys

    with _ops(store) as ws:
        found = apikeys.list_keys(ws.ops)
    _show("API keys", "api_keys", found, json_, {
        "prefix": "prefix", "name": "name", "scopes": "scopes", "created_at": "created",
        "last_used_at": "last used", "revoked": "revoked",
    })  # fmt: skip


@apikey_app.command(
    "revoke",
    help="Revoke an API key by its prefix.\n\nExample:\n\n    tenure apikey revoke 1a2b3c4d",
)
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (tenure apikey list).")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    from tenure.access import apikeys

    with _ops(store) as ws:
        key = apikeys.revoke_key(ws.ops, prefix)
    if json_:
        emit_json(key)
        return
    out_console().print(f"Revoked {key['prefix']}.")
