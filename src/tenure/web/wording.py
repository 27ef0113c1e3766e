"""The report's sections in the reader's language.

The sections the pages show are built in English by :mod:`tenure.report`
(the same dicts the HTML report is rendered from). Two kinds of text are
translated here:

* headings, looked up in the catalog as they are: each section's and
  part's title, each table's title and column headings, the title of the
  notes and each tile's label;
* :class:`~tenure.messages.Message` texts, wherever they are (a tile's
  period and note, a section's text and notes, a table's cells, the goals
  and the definitions): their template is looked up and the values, already
  formatted in the reader's locale, are put back in. The numbers are the
  library's; only the words around them change.

Anything else (names, ids, numbers) stays as it is; so does a heading the
catalog does not have (one with a count in it, say).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenure.messages import Message

Gettext = Callable[[str], str]


def translate_body(body: dict[str, Any], gettext: Gettext) -> dict[str, Any]:
    """A copy of a page's ``body`` (tiles and sections) in the language of
    ``gettext``; ``body`` itself is left as it was."""
    out = dict(body)
    if body.get("tiles") is not None:
        out["tiles"] = [_with(tile, gettext, "label") for tile in body["tiles"]]
    if body.get("sections") is not None:
        out["sections"] = [_section(s, gettext) for s in body["sections"]]
    return say_all(out, gettext)


def say_all(value: Any, gettext: Gettext) -> Any:
    """``value`` with every message in it said through ``gettext``; dicts,
    lists and tuples are copied, everything else kept."""
    if isinstance(value, Message):
        return value.say(gettext)
    if isinstance(value, dict):
        return {k: say_all(v, gettext) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(say_all(v, gettext) for v in value)
    return value


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
    if isinstance(text, Message):
        return text.say(gettext)
    # gettext("") is the catalog's header, not an empty heading
    return gettext(text) if isinstance(text, str) and text else text
