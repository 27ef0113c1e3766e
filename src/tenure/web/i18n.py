"""The dashboard's words in English, German and Spanish.

The text to translate is marked ``_("...")`` in the templates and the page
code; ``locales/LANG.po`` holds the translations (gettext catalogs, edited
with any PO editor), read with Babel when the server starts. The numbers,
dates and money of a page follow the language's locale.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib import resources

from fastapi import Request

LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español"}
# the locale numbers, dates and money are written in, per language
LOCALES = {"en": "en", "de": "de-DE", "es": "es-ES"}
COOKIE = "tenure_lang"


class Catalog(gettext.GNUTranslations):
    """A language's catalog that remembers the texts it was asked for and
    does not have (they are shown in English): ``missing``, for the tests
    that check every page is said in full."""

    def __init__(self, fp: io.BytesIO) -> None:
        super().__init__(fp)
        self.missing: set[str] = set()

    def gettext(self, message: str) -> str:
        if message and message not in self._catalog:
            self.missing.add(message)
        return super().gettext(message)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    try:
        text = resources.files("tenure.web").joinpath("locales", f"{lang}.po").read_bytes()
    except FileNotFoundError:  # an install without the catalogs: English, said once
        import logging

        logging.getLogger("tenure.web").warning("no translations for %r; showing English", lang)
        return gettext.NullTranslations()
    catalog = read_po(io.BytesIO(text), locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Catalog(buffer)


def language(request: Request) -> str:
    """``?lang=``, else the cookie, else the browser's first language we have."""
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"
