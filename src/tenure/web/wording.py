"""The report's sections in the reader's language.

The sections the pages show are built in English by :mod:`tenure.report`
(the same dicts the HTML report is rendered from). Their headings are
translated here: each section's and part's title, each table's title and
column headings, the title of the notes and each tile's label. The texts,
notes and cells carry numbers and names and stay as they are; a heading
the catalog does not have (one with a count in it, say) stays English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Gettext = Callable[[str], str]


def translate_body(body: dict[str, Any], gettext: Gettext) -> dict[str, Any]:
    """A copy of a page's ``body`` (tiles and sections) with its headings
    through ``gettext``; ``body`` itself is left as it was."""
    out = dict(body)
    if body.get("tiles") is not None:
        out["tiles"] = [_with(tile, gettext, "label") for tile in body["tiles"]]
    if body.get("sections") is not None:
        out["sections"] = [_section(s, gettext) for s in body["sections"]]
    return out


def _section(section: dict[str, Any], gettext: Gettext) -> dict[str, Any]:
    out = _with(section, gettext, "title", "notes_title")
    if section.get("tables") is not None:
        out["tables"] = [_table(t, gettext) for t in section["tables"]]
    if section.get("parts") is not None:
        out["parts"] = [_section(p, gettext) for p in section["parts"]]
    return out


def _table(table: dict[str, Any], gettext: Gettext) -> dict[str, Any]:
    out = _with(table, gettext, "title")
    if table.get("header") is not None:
        out["header"] = [_word(h, gettext) for h in table["header"]]
    return out


def _with(item: dict[str, Any], gettext: Gettext, *keys: str) -> dict[str, Any]:
    out = dict(item)
    for key in keys:
        if key in out:
            out[key] = _word(out[key], gettext)
    return out


def _word(text: Any, gettext: Gettext) -> Any:
    # gettext("") is the catalog's header, not an empty heading
    return gettext(text) if isinstance(text, str) and text else text
