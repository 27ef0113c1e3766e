"""Every word of the dashboard is translated into German and Spanish."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

WEB = Path(__file__).parents[2] / "src" / "tenure" / "web"
MARKED = re.compile(r"""_\((["'])(.+?)\1\)""")
# values the templates translate as they come: roles, run statuses, timeline kinds
VALUES = {
    "admin", "analyst", "viewer", "running", "succeeded", "failed", "interrupted",
    "order", "subscription started", "subscription ended", "ticket", "survey answer",
}  # fmt: skip


def _marked() -> set[str]:
    found = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("routes/*.py")]:
        found |= {m.group(2) for m in MARKED.finditer(path.read_text(encoding="utf-8"))}
    return found


def test_the_marked_text_is_found():
    marked = _marked()
    assert {"Log in", "Overview", "Export these customers (CSV)"} <= marked
    assert len(marked) > 60


@pytest.mark.parametrize("lang", ["de", "es"])
def test_every_marked_text_has_a_translation(lang, page_headings):
    catalog = read_po(io.BytesIO((WEB / "locales" / f"{lang}.po").read_bytes()), locale=lang)
    translated = {m.id: m.string for m in catalog if m.id}
    needed = _marked() | VALUES
    missing = sorted(t for t in needed if not translated.get(t))
    assert not missing, f"{lang}.po lacks: {missing}"
    pages = {"Overview", "Retention", "Segments", "Predictions"} | page_headings | ELSEWHERE
    unused = sorted(set(translated) - needed - pages)
    assert not unused, f"{lang}.po has entries no page uses: {unused}"


def test_the_timeline_kinds_are_the_ones_translated():
    from tenure.engine import customers

    source = Path(customers.__file__).read_text(encoding="utf-8")
    kinds = set(re.findall(r'"kind": "([a-z ]+)"', source))
    assert kinds == {
        "order",
        "subscription started",
        "subscription ended",
        "ticket",
        "survey answer",
    }


# -- the report's sections on the pages -------------------------------------------

# headings written the same in German and Spanish: names and abbreviations
SAME = {"AUC", "CLV", "MRR", "NPS", "P(alive)", "p"}
# headings with counts in them, which stay English
COUNTED = re.compile(
    r"High-value customers at risk: |High-value customers the model thinks are leaving: "
    r"|Fitted on the training window, tested on the test window \(|The \d+ customers most likely "
    r"|Cox proportional hazards on days subscribed \("
)
# headings the demo store's settings do not give: the purchase model counted in
# weeks, and the purchase models other than BG/NBD
ELSEWHERE = {
    f"{model} purchases (t in {unit})"
    for model in ("BG/NBD", "MBG/NBD", "Pareto/NBD")
    for unit in ("days", "weeks")
} - {"BG/NBD purchases (t in days)"}


def _headings(body: dict) -> set[str]:
    """The tile labels, section and part titles, table titles and column
    headings and notes' titles of a page's body."""
    found = {t["label"] for t in body.get("tiles") or []}

    def walk(s: dict) -> None:
        found.add(s["title"])
        found.update(filter(None, [s.get("notes_title")]))
        for t in s.get("tables") or []:
            found.add(t["title"])
            found.update(t["header"])
        for p in s.get("parts") or []:
            walk(p)

    for s in body["sections"]:
        walk(s)
    return found - {""}


@pytest.fixture(scope="module")
def page_headings(tmp_path_factory) -> set[str]:
    """Every heading of the Overview, Retention, Segments and Predictions
    pages of a small demo store, with the purchase models kept in it."""
    from tests.web.conftest import build_store, needs_web

    needs_web()
    from tenure.analysis import open_context
    from tenure.analysis.fitting import fit, predict
    from tenure.report.formatting import Formatter
    from tenure.web import dashboard

    settings = build_store(tmp_path_factory.mktemp("headings"))
    predict(settings=settings, save=True)  # the table of the models in the store
    fit("churn", settings=settings, save=True)  # the churn model the page shows
    found = set()
    for name in dashboard.PAGES:
        with open_context(settings=settings) as ctx:
            body = dashboard.BUILDERS[name](ctx, settings, Formatter("en", ctx.source.currency))
        found |= _headings(body)
    return found


def test_the_report_headings_are_translated_with_the_catalog():
    from tenure.web.wording import translate_body

    body = {
        "tiles": [{"label": "Revenue", "value": "1,234", "period": "2026-10", "note": "up"}],
        "sections": [
            {
                "id": "segments",
                "title": "Segments",
                "text": "Some text",
                "charts": [{"html": "<div>Segments</div>", "wide": False}],
                "tables": [
                    {
                        "title": "RFM segments",
                        "header": ["", "segment", "share"],
                        "rows": [["segment", "12"]],
                        "numeric": [1],
                    }
                ],
                "notes": ["champions: r >= 4"],
                "notes_title": "Thresholds",
                "parts": [{"title": "Churn risk", "text": "No churn model"}],
            },
            {"id": "goals", "title": "Goals", "goals": [{"metric": "churn_rate"}]},
        ],
        "as_of": "Oct 31, 2026",
        "definitions": {"as_of": "2026-10-31"},
    }
    before = copy.deepcopy(body)
    asked = []

    def gettext(text: str) -> str:
        asked.append(text)
        return f"<{text}>"

    translated = translate_body(body, gettext)
    assert body == before
    assert "" not in asked  # gettext("") would give the catalog's header
    assert translated == {
        "tiles": [{"label": "<Revenue>", "value": "1,234", "period": "2026-10", "note": "up"}],
        "sections": [
            {
                "id": "segments",
                "title": "<Segments>",
                "text": "Some text",
                "charts": [{"html": "<div>Segments</div>", "wide": False}],
                "tables": [
                    {
                        "title": "<RFM segments>",
                        "header": ["", "<segment>", "<share>"],
                        "rows": [["segment", "12"]],
                        "numeric": [1],
                    }
                ],
                "notes": ["champions: r >= 4"],
                "notes_title": "<Thresholds>",
                "parts": [{"title": "<Churn risk>", "text": "No churn model"}],
            },
            {"id": "goals", "title": "<Goals>", "goals": [{"metric": "churn_rate"}]},
        ],
        "as_of": "Oct 31, 2026",
        "definitions": {"as_of": "2026-10-31"},
    }


def test_the_pages_headings_are_found(page_headings):
    assert {
        "Active customers", "Cohorts", "RFM segments", "Thresholds", "Models in the store",
        "holdout error", "Churn risk", "churn probability", "Subscription survival", "3 months",
    } <= page_headings  # fmt: skip
    assert any(COUNTED.match(h) for h in page_headings)


@pytest.mark.parametrize("lang", ["de", "es"])
def test_every_report_heading_has_a_translation(lang, page_headings):
    from tenure.web.i18n import translations

    gettext = translations(lang).gettext
    needed = {h for h in page_headings if not COUNTED.match(h)} | ELSEWHERE
    missing = sorted(h for h in needed - SAME if gettext(h) == h)
    assert not missing, f"{lang}.po lacks: {missing}"
    assert SAME <= page_headings
