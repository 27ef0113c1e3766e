"""Every word of the dashboard is translated into German and Spanish."""

from __future__ import annotations

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
def test_every_marked_text_has_a_translation(lang):
    catalog = read_po(io.BytesIO((WEB / "locales" / f"{lang}.po").read_bytes()), locale=lang)
    translated = {m.id: m.string for m in catalog if m.id}
    needed = _marked() | VALUES
    missing = sorted(t for t in needed if not translated.get(t))
    assert not missing, f"{lang}.po lacks: {missing}"
    unused = sorted(set(translated) - needed - {"Overview", "Retention", "Segments", "Predictions"})
    assert not unused, f"{lang}.po has entries no page uses: {unused}"


def test_the_timeline_kinds_are_the_ones_translated():
    from tenure import profiles

    source = Path(profiles.__file__).read_text(encoding="utf-8")
    kinds = set(re.findall(r"'([a-z ]+)' AS kind", source)) | set(
        re.findall(r"SELECT ended_at, '([a-z ]+)'", source)
    )
    assert kinds == {
        "order",
        "subscription started",
        "subscription ended",
        "ticket",
        "survey answer",
    }
