"""Write endpoints: data as it happens, ``POST /api/v1/orders`` with a JSON
list of orders (and likewise customers, events, tickets, survey answers).

Each request is one ingest, through the same path as ``tenure ingest``:
the same fields and aliases, the same checks, idempotent by id (sending an
order again changes nothing; a changed one is updated). Values are read as
the text of a CSV cell would be, so ``"12.50"`` and ``12.5`` are the same
amount. The answer counts what happened and lists every row that could not
be used, with its index in the list, column, value and reason; those rows
are also kept in the store's quarantine folder, like a file's.
"""

import csv
import json
from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import ConfigDict, Field, create_model

from tenure.access import audit
from tenure.datamodel import KINDS, Kind
from tenure.errors import InputError
from tenure.web.cache import written
from tenure.web.deps import SettingsDep, Writer
from tenure.web.json import json_response

router = APIRouter(prefix="/api/v1", tags=["ingest"])

# path -> the kind it ingests
PATHS = {
    "customers": "customers",
    "orders": "orders",
    "events": "events",
    "tickets": "support_tickets",
    "survey-answers": "survey_responses",
}
MAX_ROWS = 10_000
Scalar = str | int | float | bool | None


def _row_model(kind: Kind):
    """A schema for one row: the kind's fields, each optional here (the
    ingest's checks say, row by row, what is missing or cannot be read, so
    one bad row does not refuse the others), other columns allowed."""
    fields: dict[str, Any] = {}
    for f in kind.fields:
        typ = Any if f.type == "json" else Scalar
        fields[f.name] = (typ, Field(default=None, description=f.doc or None))
    return create_model(
        f"{kind.name.title().replace('_', '')}Row",
        __config__=ConfigDict(extra="allow"),
        **fields,
    )


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    columns = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({c: pa.array([_cell(r.get(c)) for r in rows], pa.string()) for c in columns})


def _rejected(path: str | None) -> list[dict[str, Any]]:
    """Every rejected row of the run's quarantine file, by its index in the list."""
    if not path:
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            {"index": int(r["_line"]) - 1, "column": r["_column"] or None,
             "value": r["_value"] or None, "reason": r["_reason"]}
            for r in csv.DictReader(fh)
        ]  # fmt: skip


def _endpoint(path: str, kind: Kind):
    model = _row_model(kind)

    def ingest_rows(
        request: Request,
        settings: SettingsDep,
        who: Writer,
        rows: list[model] = Body(..., min_length=1, max_length=MAX_ROWS),  # type: ignore[valid-type]
    ):
        from tenure.loyalty.on_ingest import ingest
        from tenure.store.workspace import Workspace

        records = [r.model_dump(exclude_unset=True) for r in rows]
        if not any(records):
            raise InputError(
                "every row is empty.", hint=f"Send a list of {kind.name} with their fields.",
                source=f"POST /api/v1/{path}",
            )  # fmt: skip
        # the ingest queues behind other writers, and readers go on reading
        with Workspace.open(settings, create=False) as ws:
            result = ingest(kind.name, _table(records), workspace=ws)
            written(request)  # its writer reads it next, not the version before
            audit.record_ingest(ws.ops, who.actor(request), result)
        out = result.to_dict()
        body = {
            "kind": kind.name,
            **{k: out[k] for k in ("read", "accepted", "rejected", "duplicates", "inserted",
                                   "updated", "unchanged", "customers_created", "ingest_id")},
            "ignored_columns": out["ignored_columns"],
            "warnings": out["warnings"],
            "refreshed": result.refreshed,
            "errors": _rejected(result.quarantine),
        }  # fmt: skip
        return json_response(body)

    ingest_rows.__name__ = f"post_{kind.name}"
    ingest_rows.__doc__ = (
        f"Ingest a JSON list of {kind.name} ({kind.doc.rstrip('.')}), at most "
        f"{MAX_ROWS:,} a request, as `tenure ingest {kind.name}` would a file; idempotent by id. "
        "The answer counts the rows and lists each one that could not be used."
    )
    return ingest_rows


for _path, _kind in PATHS.items():
    router.post(f"/{_path}", name=f"ingest_{_kind}")(_endpoint(_path, KINDS[_kind]))
