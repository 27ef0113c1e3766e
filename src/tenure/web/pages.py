"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("tenure.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("who", getattr(request.state, "principal", None))
    context.setdefault("demo", request.app.state.demo)
    html = _env().get_template(name).render(request=request, **context)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, error: dict[str, Any]) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, error=error)
