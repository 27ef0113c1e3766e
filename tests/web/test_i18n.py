"""Every word of the dashboard is translated into German and Spanish."""

from __future__ import annotations

import ast
import copy
import io
import re
import string
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

SRC = Path(__file__).parents[2] / "src" / "tenure"
WEB = SRC / "web"
MARKED = re.compile(r"""_\((["'])(.+?)\1\)""")
# values the templates translate as they come: roles, run statuses, timeline kinds
VALUES = {
    "admin", "analyst", "viewer", "running", "succeeded", "failed", "interrupted",
    "order", "subscription started", "subscription ended", "ticket", "survey answer",
}  # fmt: skip


def _marked() -> set[str]:
    found = set()
    templates = [*WEB.glob("templates/*.html"), *SRC.glob("report/templates/*.j2")]
    for path in [*templates, *WEB.glob("routes/*.py")]:
        found |= {m.group(2) for m in MARKED.finditer(path.read_text(encoding="utf-8"))}
    return found


@cache
def _written() -> frozenset[str]:
    """Every string written in the package's code (adjacent literals joined,
    as Python joins them): where a message's template comes from."""
    found = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
    return frozenset(found)


def _catalog(lang: str) -> dict[str, str]:
    catalog = read_po(io.BytesIO((WEB / "locales" / f"{lang}.po").read_bytes()), locale=lang)
    return {m.id: m.string for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_marked_text_is_found():
    marked = _marked()
    assert {"Log in", "Overview", "Export these customers (CSV)"} <= marked
    assert len(marked) > 60


@pytest.mark.parametrize("lang", ["de", "es"])
def test_every_marked_text_has_a_translation(lang, page_headings):
    translated = _catalog(lang)
    needed = _marked() | VALUES
    missing = sorted(t for t in needed if not translated.get(t))
    assert not missing, f"{lang}.po lacks: {missing}"
    pages = {"Overview", "Retention", "Segments", "Predictions"} | page_headings | ELSEWHERE
    # a message's template is written in the code as it is in the catalog
    unused = sorted(set(translated) - needed - pages - _written())
    assert not unused, f"{lang}.po has entries nothing uses: {unused}"
    assert all(translated.values()), f"{lang}.po has empty translations"


@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_translation_keeps_its_templates_placeholders(lang):
    """The values of "{change} on the period before" go into the translation
    by name: a translation that lost or renamed one would fail on a page."""
    translated = _catalog(lang)
    templates = {k: v for k, v in translated.items() if _fields(k)}
    assert "{change} on the period before" in templates and len(templates) > 40
    wrong = {k: v for k, v in templates.items() if _fields(k) != _fields(v)}
    assert not wrong, f"{lang}.po: {wrong}"
    assert not [v for k, v in translated.items() if not _fields(k) and _fields(v)]


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
SAME = {"AUC", "CLV", "MRR", "NPS", "P(alive)"}
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
    from tenure.messages import Message

    found = {t["label"] for t in body.get("tiles") or []}

    def add(*texts: str) -> None:
        # a message (a heading with a count in it) by its template
        for t in texts:
            if isinstance(t, Message) and t.parts is not None:
                add(*t.parts)
            else:
                found.add(t.template if isinstance(t, Message) else t)

    def walk(s: dict) -> None:
        add(s["title"], *filter(None, [s.get("notes_title")]))
        for t in s.get("tables") or []:
            add(t["title"], *t["header"])
        for p in s.get("parts") or []:
            walk(p)

    for s in body["sections"]:
        walk(s)
    return found - {""}


def _modelled_store(folder: Path):
    """A small demo store with its purchase models (the table of the models
    in the store) and its churn model (the one the pages show) kept: fitted
    once per run, then copied."""
    from tests.conftest import copy_built
    from tests.web.conftest import build_store, store_settings

    def build(where: Path) -> None:
        from tenure.analysis.fitting import fit, predict

        settings = build_store(where)
        predict(settings=settings, save=True)
        fit("churn", settings=settings, save=True)

    copy_built(folder, ("web-modelled", 300), build)
    return store_settings(folder)


@pytest.fixture(scope="module")
def page_headings(tmp_path_factory) -> set[str]:
    """Every heading of the Overview, Retention, Segments and Predictions
    pages of a small demo store, with the purchase models kept in it."""
    from tests.web.conftest import needs_web

    needs_web()
    from tenure.analysis import open_context
    from tenure.report.formatting import Formatter
    from tenure.web import dashboard

    settings = _modelled_store(tmp_path_factory.mktemp("headings"))
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
    assert "High-value customers at risk: {n} (the top {top} by revenue)" in page_headings


@pytest.mark.parametrize("lang", ["de", "es"])
def test_every_report_heading_has_a_translation(lang, page_headings):
    from tenure.web.i18n import translations

    gettext = translations(lang).gettext
    needed = page_headings | ELSEWHERE
    missing = sorted(h for h in needed - SAME if gettext(h) == h)
    assert not missing, f"{lang}.po lacks: {missing}"
    assert SAME <= page_headings


# -- every page, served, in German and Spanish --------------------------------------

PAGES = (
    "/", "/retention", "/segments", "/predictions", "/customers", "/customers?segment=at+risk",
    "/customers/C000091", "/data", "/campaigns",
)  # fmt: skip


def _visible(html: str) -> str:
    """The text a reader sees: no styles, scripts or charts, tags as breaks."""
    import html as entities

    html = re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.S)
    html = re.sub(r'<div class="chart(?: wide)?">.*?</div>', "", html, flags=re.S)
    return entities.unescape(re.sub(r"<[^>]+>", "\n", html))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Every page of a small demo store, with its purchase and churn models
    kept, in English, German and Spanish, from a real server; and the texts
    the German and Spanish catalogs were asked for and lack."""
    from tests.web.conftest import PASSWORDS, Site, needs_web, serve

    needs_web()
    from tenure.goals.tracking import set_goal
    from tenure.web import create_app
    from tenure.web.i18n import translations

    settings = _modelled_store(tmp_path_factory.mktemp("served"))
    set_goal(settings, "churn_rate", "-10%", "2027-06-30")
    for lang in ("de", "es"):
        translations(lang).missing.clear()
    url, stop = serve(create_app(settings, warm=False))
    try:
        site = Site(url, settings, settings.store)
        client = site.login("analyst@shop.example", PASSWORDS["analyst@shop.example"])
        pages = {}
        for lang in ("en", "de", "es"):
            for path in PAGES:
                answer = client.get(path, params={"lang": lang})
                assert answer.status_code == 200, (lang, path)
                pages[lang, path] = answer.text
    finally:
        stop()
    return pages, {lang: set(translations(lang).missing) for lang in ("de", "es")}


@pytest.mark.parametrize("lang", ["de", "es"])
def test_every_text_a_page_asks_for_is_in_the_catalog(lang, served):
    """What the templates, the routes and the report's messages looked up
    while every page was rendered: nothing is missing from the catalog."""
    _, missing = served
    assert not missing[lang], f"{lang}.po lacks: {sorted(missing[lang])}"


def _english_phrases(lang: str) -> dict[str, str]:
    """Each catalog text's longest stretch of words without a value in it
    (three words or more), that its translation does not also have:
    seen on a page in ``lang``, it is English left over."""
    phrases = {}
    for msgid, msgstr in _catalog(lang).items():
        pieces = [literal for literal, *_ in string.Formatter().parse(msgid)]
        longest = max(pieces, key=len).strip(" .,;:()")
        if len(longest.split()) >= 3 and longest not in msgstr:
            phrases[longest] = msgid
    return phrases


@pytest.mark.parametrize("lang", ["de", "es"])
def test_no_english_is_left_on_the_pages(lang, served):
    pages, _ = served
    phrases = _english_phrases(lang)
    assert "on the period before" in phrases
    for path in PAGES:
        text = " ".join(_visible(pages[lang, path]).split())
        left = sorted(p for p in phrases if p in text)
        assert not left, f"{path} in {lang} still says: {left}"
    # and the English page does say them: the check can see what it looks for
    english = " ".join(_visible(pages["en", "/"]).split())
    assert "on the period before" in english


WORDS = {
    # a segment, a sort option, a tile's note, the definitions, the predictions' headline
    "de": {
        "/customers": ["gefährdet", "Tage seit der letzten Bestellung", "hoher Wert"],
        "/customers/C000091": ["gefährdet", "Tage seit dem letzten Kauf"],
        "/segments": ["Gefährdete Kunden mit hohem Wert", "kurz vor dem Einschlafen", "verloren"],
        "/": ["gegenüber der Vorperiode", "Richtwert Einzelhandel", "Ziele und ihr Fortschritt",
              "Prognose zum Stichtag"],
        "/retention": ["Kunden S, E, L, N, R", "R nach einer Pause zurück"],
        "/predictions": ["Wiederkäufern sind wahrscheinlich noch Kunden", "Einmalkäufer",
                         "Zwei Abwanderungsraten nebeneinander", "Tage seit dem letzten Kauf"],
    },
    "es": {
        "/customers": ["en riesgo", "días desde el último pedido", "alto valor"],
        "/customers/C000091": ["en riesgo", "días desde la última compra"],
        "/segments": ["Clientes de alto valor en riesgo", "a punto de dormirse", "perdidos"],
        "/": ["respecto al periodo anterior", "referencia de comercio minorista", "Objetivos y su progreso",
              "previsión a la fecha límite"],
        "/retention": ["Clientes S, E, L, N, R", "R de vuelta tras una pausa"],
        "/predictions": ["clientes recurrentes probablemente siguen siendo clientes",
                         "compradores de una sola vez", "Dos tasas de abandono",
                         "días desde la última compra"],
    },
}  # fmt: skip


@pytest.mark.parametrize("lang", ["de", "es"])
def test_the_pages_say_it_in_the_readers_words(lang, served):
    pages, _ = served
    for path, words in WORDS[lang].items():
        text = " ".join(_visible(pages[lang, path]).split())
        for word in words:
            assert word in text, (path, word)
            assert word not in " ".join(_visible(pages["en", path]).split())
    # the formula with the reactivated customers R, among the translated definitions
    assert "Every period: S − L + N + R = E" in " ".join(
        _visible(pages["en", "/retention"]).split()
    )
    assert "S − L + N + R = E" in " ".join(_visible(pages[lang, "/retention"]).split())


TILE = re.compile(
    r'<div class="label">(.*?)</div>\s*<div class="value">(.*?)</div>\s*'
    r'<div class="period">(.*?)</div>\s*(?:<div class="note">(.*?)</div>)?',
    re.S,
)
NUMBER = {"en": r"[-+]?\d[\d,]*(?:\.\d+)?", "de": r"[-+]?\d[\d.]*(?:,\d+)?",
          "es": r"[-+]?\d[\d.]*(?:,\d+)?"}  # fmt: skip


def _numbers(text: str, lang: str) -> list[float]:
    """The numbers in ``text`` as ``lang``'s locale writes them."""
    import html as entities

    from babel.numbers import parse_decimal

    from tenure.web.i18n import LOCALES

    locale = LOCALES[lang].replace("-", "_")
    found = re.findall(NUMBER[lang], entities.unescape(text).replace("\u2212", "-"))
    return [float(parse_decimal(n.rstrip(",."), locale=locale)) for n in found]


@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_translated_page_shows_the_same_numbers(lang, served):
    """Each tile's value and the numbers of its note, read back from the
    locale's way of writing them, are the English page's."""
    pages, _ = served
    english = TILE.findall(pages["en", "/"])
    other = TILE.findall(pages[lang, "/"])
    assert len(english) == len(other) >= 8
    for (_, value, _, note), (_, value_l, _, note_l) in zip(english, other, strict=True):
        assert _numbers(value, "en") == _numbers(value_l, lang), (value, value_l)
        assert _numbers(note, "en") == _numbers(note_l, lang), (note, note_l)
    churn = [t for t in english if t[0] == "Churn rate"][0]
    assert "on the period before" in churn[3] and "over 90 days" in churn[3]


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("de", "Im Datenbestand sind noch keine Vorhersagen gespeichert"),
        ("es", "Todavía no hay predicciones guardadas en el almacén"),
    ],
)
def test_a_store_without_models_says_so_in_the_readers_words(lang, said, site):
    from tests.web.conftest import PASSWORDS

    client = site.login("viewer@shop.example", PASSWORDS["viewer@shop.example"])
    text = " ".join(_visible(client.get("/predictions", params={"lang": lang}).text).split())
    assert said in text
    assert "No predictions are kept" not in text and "No churn model is kept" not in text
    assert ("Abwanderungsmodell" if lang == "de" else "modelo de abandono") in text


def test_the_verdict_on_the_churn_model_is_said_with_the_same_numbers():
    """CDNOW's case: a top-decile lift of 1.28 against the recency rule's 1.30."""
    import pandas as pd

    from tenure.report.churn import baseline_verdict
    from tenure.report.formatting import Formatter
    from tenure.web.i18n import translations

    evaluation = pd.DataFrame(
        {"lift_top_decile": [1.28, 1.30], "auc": [0.81, 0.79]},
        index=["model", "recency_baseline"],
    )
    english = baseline_verdict(evaluation, Formatter("en", "USD"))
    assert english.startswith("The churn model does not beat")
    assert "top-decile lift 1.28 against 1.30" in english and "AUC" not in english
    german = baseline_verdict(evaluation, Formatter("de-DE", "USD")).say(translations("de").gettext)
    assert german.startswith("Das Abwanderungsmodell ist nicht besser als eine Regel")
    assert "Lift im obersten Dezil 1,28 gegen 1,30" in german
    spanish = baseline_verdict(evaluation, Formatter("es-ES", "USD")).say(
        translations("es").gettext
    )
    assert "lift del decil superior 1,28 frente a 1,30" in spanish


STATUS = re.compile(r'<td class="status status-([a-z-]+)">(.*?)</td>')


@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_goals_status_is_said_in_the_readers_words(lang, served):
    """The goal's status ("on track", "off track"...) is the library's; the
    page says that status in the reader's words, and its colour follows the
    status, not the words."""
    pages, _ = served
    english, other = STATUS.findall(pages["en", "/"]), STATUS.findall(pages[lang, "/"])
    assert len(english) == len(other) == 1
    (key, word), (key_l, word_l) = english[0], other[0]
    assert key == key_l == word.replace(" ", "-")
    assert word in {"achieved", "missed", "on track", "off track", "not enough data"}
    assert word_l == _catalog(lang)[word] != word
