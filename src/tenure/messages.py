"""Sentences that can be said in another language after they are written.

A :class:`Message` is the English text every surface shows, and it also
remembers the template it was made from and the values put into it:

>>> m = Message("{change} on the period before", change="+3.9%")
>>> m
'+3.9% on the period before'
>>> m.say(lambda t: {"{change} on the period before": "{change} gegenüber der Vorperiode"}[t])
'+3.9% gegenüber der Vorperiode'

The values are formatted before they go in (numbers by the report's
:class:`~tenure.report.formatting.Formatter`, in the reader's locale), so a
translation changes the words around a number and never the number. The
template is the catalog's message id (``web/locales/LANG.po``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Gettext = Callable[[str], str]


class Message(str):
    """English text made from ``template`` and the named ``values``; a
    value may itself be a :class:`Message`, said in the same language."""

    template: str
    values: dict[str, Any]
    _separator: str | None

    def __new__(cls, template: str, /, **values: Any) -> Message:
        # no values: the template is the text (and may not be a format string)
        self = super().__new__(cls, template.format(**values) if values else template)
        self.template, self.values, self._separator = template, values, None
        return self

    @classmethod
    def of(cls, text: Any) -> Any:
        """``text`` as a message to translate whole (a fixed sentence, a
        segment's name); a message stays as it is, and "" or None too."""
        return text if not text or isinstance(text, Message) else cls(str(text))

    @classmethod
    def join(cls, separator: str, parts: Iterable[Any]) -> Message:
        """``separator.join(parts)`` that each part is said in the reader's
        language; empty parts are left out."""
        kept = [p for p in parts if p]
        out = cls(separator.join(kept))
        out.values = {str(i): p for i, p in enumerate(kept)}
        out._separator = separator
        return out

    @property
    def parts(self) -> list[Any] | None:
        """The texts a :meth:`join` put together; None for one sentence."""
        return None if self._separator is None else list(self.values.values())

    def say(self, gettext: Gettext) -> str:
        """The text in the language of ``gettext`` (a catalog's lookup)."""
        values = {k: say(v, gettext) for k, v in self.values.items()}
        if self._separator is not None:
            return self._separator.join(values.values())
        if not values:
            return gettext(self.template) if self.template else ""
        return gettext(self.template).format(**values)

    def __reduce__(self) -> tuple:  # copies and pickles keep the template
        return (_rebuild, (str(self), self.template, self.values, self._separator))


def _rebuild(text: str, template: str, values: dict, separator: str | None) -> Message:
    out = Message(text)
    out.template, out.values, out._separator = template, values, separator
    return out


def say(value: Any, gettext: Gettext) -> Any:
    """``value`` in the language of ``gettext`` when it is a message; as it
    is otherwise (a name, a number already formatted)."""
    return value.say(gettext) if isinstance(value, Message) else value
