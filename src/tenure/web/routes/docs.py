"""The API's schema and its Swagger UI, for a logged-in user or an API key
with the ``read`` scope: ``GET /api/v1/openapi.json`` and
``GET /api/v1/docs``. The Swagger UI's files are served by this server from
the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads OpenAPI
3.1): nothing is loaded from a CDN, and the page works offline and under
the pages' Content-Security-Policy."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tenure.web.security import need

router = APIRouter(include_in_schema=False)
ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tenure API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-url="/api/v1/openapi.json"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger/start.js"></script>
</body>
</html>
"""
# the Swagger UI's start, as a file of this server (no inline script)
START = """window.addEventListener("load", function () {
  var where = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: where.getAttribute("data-url"), dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
  });
});
"""


@lru_cache(maxsize=1)
def _folder() -> Path | None:
    try:
        import swagger_ui_bundle
    except ModuleNotFoundError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


@router.get("/api/v1/openapi.json", dependencies=[Depends(need("read"))])
def openapi(request: Request) -> Response:
    return JSONResponse(request.app.openapi())


@router.get("/api/v1/docs", dependencies=[Depends(need("read"))])
def docs() -> Response:
    if _folder() is None:
        from tenure.errors import MissingExtraError

        raise MissingExtraError.for_extra("web", "swagger-ui-bundle-v2")
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})


@router.get("/static/swagger/start.js")
def start() -> Response:
    return Response(START, media_type="application/javascript")


@router.get("/static/swagger/{name}")
def asset(name: str) -> Response:
    """One of the Swagger UI's files (only those the page uses)."""
    folder = _folder()
    if name not in ASSETS or folder is None:
        from starlette.exceptions import HTTPException

        raise HTTPException(404)
    return Response(
        (folder / name).read_bytes(), media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )  # fmt: skip
