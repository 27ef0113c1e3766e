"""Responses with the CLI's JSON (:mod:`tenure.jsondoc`): the API and
``--json`` give the same documents."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from tenure.jsondoc import dumps


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(
        dumps(data, indent=None), status_code=status_code, media_type="application/json"
    )
