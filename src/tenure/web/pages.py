"""Server-rendered pages (Jinja2, autoescaped), in the reader's language.

Templates come from ``web/templates`` and, for the blocks the report and
the dashboard share (tiles, sections, their CSS), ``report/templates``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tenure.web.i18n import COOKIE, LANGUAGES, language, translations


@lru_cache(maxsize=1)
def _env():
    from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

    return Environment(
        loader=ChoiceLoader(
            [PackageLoader("tenure.web", "templates"), PackageLoader("tenure.report", "templates")]
        ),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def fragment(name: str, lang: str, **context: Any):
    """A template rendered without a request (no login, no cookies), as
    markup to put in a page: the parts that are the same for every reader
    of one language, rendered once and kept."""
    from markupsafe import Markup

    html = _env().get_template(name).render(lang=lang, _=translations(lang).gettext, **context)
    return Markup(html)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    from tenure.web.cache import STALE, is_stale
    from tenure.web.headers import page_policy

    lang = language(request)
    t = translations(lang)
    scripts = context.pop("script_hashes", ())  # the page's charts' inline scripts
    context.setdefault("who", getattr(request.state, "principal", None))
    context.setdefault("demo", request.app.state.demo)
    html = (
        _env()
        .get_template(name)
        .render(request=request, lang=lang, languages=LANGUAGES, _=t.gettext, **context)
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = page_policy(scripts)
    if is_stale(request):  # its numbers are of the store's version before the last commit
        response.headers[STALE] = "1"
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def error_page(request: Request, status: int, error: dict[str, Any]) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, error=error)
