"""Message templates: Jinja2 in a sandbox, localised with Babel.

A template has a name and one variant per locale; each variant has a
``subject``, a ``text`` body and, for e-mail, an ``html`` body. They are
rendered in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`: a
template written by a marketer can read the variables it is given, never
Python's internals (``{{ ''.__class__ }}`` is refused), and the HTML body
is autoescaped, so that a customer named ``<script>`` stays text.

A variable the template names but the context lacks is an error
(:class:`~jinja2.StrictUndefined`), raised as an :class:`InputError` that
names the template, its locale and part, the line and the variable: a
message is never sent with a blank where a name should be.

The locale of a message comes down a fallback chain (:func:`fallback_chain`):
``de-AT`` tries ``de_AT``, then ``de``, then the default (``en``). Money,
numbers and dates are formatted by Babel for the locale of the variant that
was chosen: ``{{ 12.5 | money('EUR') }}`` is ``€12.50`` in English and
``12,50 €`` in German.

>>> t = Template("welcome", {"en": Parts("Hi {{ name }}", "Hello {{ name }}!")})
>>> t.render({"name": "Ann"}, "de-AT").subject
'Hi Ann'
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2.sandbox import SandboxedEnvironment

from tenure.errors import InputError

DEFAULT_LOCALE = "en"
PARTS = ("subject", "text", "html")
# files of a template folder: NAME/LOCALE/subject.txt, body.txt, body.html
FILES = {"subject": "subject.txt", "text": "body.txt", "html": "body.html"}


@dataclass(frozen=True)
class Parts:
    """One locale's variant: the subject, the text body and the HTML body."""

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A message as rendered for one customer: what is sent and kept."""

    template: str
    locale: str  # the variant that rendered it
    subject: str
    text: str
    html: str | None = None


def fallback_chain(locale: str | None, default: str = DEFAULT_LOCALE) -> list[str]:
    """The locales to try for ``locale``, most specific first.

    >>> fallback_chain("de-AT")
    ['de_AT', 'de', 'en']
    >>> fallback_chain("sr_Latn_RS", default="de")
    ['sr_Latn_RS', 'sr_Latn', 'sr', 'de']
    """
    chain: list[str] = []
    if locale:
        parts = locale.strip().replace("-", "_").split("_")
        # BCP 47's cases: language lower, script title (Hant), region upper (AT)
        parts = [parts[0].lower()] + [
            p.title() if len(p) == 4 else p.upper() if len(p) in (2, 3) else p for p in parts[1:]
        ]
        while parts:
            chain.append("_".join(parts))
            parts = parts[:-1]
    if default not in chain:
        chain.append(default)
    return chain


def _babel_locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def _filters(locale: Locale) -> dict[str, Any]:
    def money(amount: Any, currency: str) -> str:
        return format_currency(amount, currency, locale=locale)

    def number(value: Any) -> str:
        return format_decimal(value, locale=locale)

    def day(value: Any, format: str = "medium") -> str:
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        if isinstance(value, datetime):
            return format_datetime(value, format, locale=locale)
        return format_date(value, format, locale=locale)

    return {"money": money, "number": number, "date": day}


def _environment(html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=html, undefined=jinja2.StrictUndefined, keep_trailing_newline=False
    )


_ENVIRONMENTS = {False: _environment(False), True: _environment(True)}


@dataclass(frozen=True)
class Template:
    """A named message template with one :class:`Parts` per locale."""

    name: str
    variants: Mapping[str, Parts]
    default_locale: str = DEFAULT_LOCALE
    _compiled: dict[tuple[str, str], jinja2.Template] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if not self.variants:
            raise InputError(
                f"the template {self.name!r} has no variant.",
                hint="Give it at least one locale, e.g. en/subject.txt and en/body.txt.",
                value=self.name,
            )
        variants = {_norm(k): v for k, v in self.variants.items()}
        object.__setattr__(self, "variants", variants)
        if _norm(self.default_locale) not in variants:
            first = next(iter(variants))
            object.__setattr__(self, "default_locale", first)
        for loc, parts in variants.items():  # a syntax error is found now, not at send time
            for part in PARTS:
                if getattr(parts, part) is not None:
                    self._compile(loc, part)

    def locale_for(self, locale: str | None) -> str:
        """The variant the fallback chain of ``locale`` arrives at."""
        for candidate in fallback_chain(locale, _norm(self.default_locale)):
            if candidate in self.variants:
                return candidate
        return _norm(self.default_locale)  # pragma: no cover - the default is a variant

    def _where(self, locale: str, part: str) -> str:
        return f"template {self.name!r} ({locale}, {FILES[part]})"

    def _compile(self, locale: str, part: str) -> jinja2.Template:
        key = (locale, part)
        if key not in self._compiled:
            source = getattr(self.variants[locale], part)
            env = _ENVIRONMENTS[part == "html"]
            try:
                self._compiled[key] = env.from_string(source)
            except jinja2.TemplateSyntaxError as exc:
                raise InputError(
                    f"{exc.message}.", source=self._where(locale, part), row=exc.lineno,
                    hint="Fix the template's syntax: {{ variable }}, {% if %}…{% endif %}.",
                    code="template_syntax",
                ) from None  # fmt: skip
        return self._compiled[key]

    def render(self, context: Mapping[str, Any], locale: str | None = None) -> Rendered:
        """The message for ``context``, in the variant ``locale`` falls back to."""
        chosen = self.locale_for(locale)
        babel = _babel_locale(chosen)
        out: dict[str, str | None] = {}
        for part in PARTS:
            if getattr(self.variants[chosen], part) is None:
                out[part] = None
                continue
            compiled = self._compile(chosen, part)
            try:
                out[part] = compiled.render({**context, **_filters_as_globals(babel)})
            except jinja2.UndefinedError as exc:
                raise InputError(
                    f"{exc.message}: the template uses a variable this message does not have.",
                    source=self._where(chosen, part), row=_template_line(), value=_name(exc),
                    hint=f"Use one of: {', '.join(sorted(context))}. Guard a value that may "
                    "be empty: {% if points %}...{% endif %}.", code="template_variable",
                ) from None  # fmt: skip
            except jinja2.exceptions.SecurityError as exc:
                raise InputError(
                    f"the template did something the sandbox forbids ({exc}).",
                    source=self._where(chosen, part), row=_template_line(),
                    hint="Templates may read their variables and call the filters; "
                    "nothing else.", code="template_unsafe",
                ) from None  # fmt: skip
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise InputError(
                    f"{type(exc).__name__}: {str(exc).rstrip('.')}.", source=self._where(chosen, part),
                    row=_template_line(), code="template_error",
                    hint="Check the values the template formats (money needs a number and "
                    "a currency code, date a date).",
                ) from None  # fmt: skip
        subject = " ".join((out["subject"] or "").split())  # one line: a header
        return Rendered(self.name, chosen, subject, out["text"] or "", out["html"])


def _filters_as_globals(babel: Locale) -> dict[str, Any]:
    # Jinja's filters belong to an environment shared by every locale; the
    # locale's formatters are passed with each render instead, and the
    # filter names call them (see _LOCALISED below)
    return {f"_{name}": fn for name, fn in _filters(babel).items()}


def _localised(name: str):
    @jinja2.pass_context
    def call(ctx: Any, value: Any, *args: Any) -> str:
        return ctx[f"_{name}"](value, *args)

    return call


for _env in _ENVIRONMENTS.values():
    for _name_ in ("money", "number", "date"):
        _env.filters[_name_] = _localised(_name_)


def _norm(locale: str) -> str:
    return fallback_chain(locale, default="")[0] if locale else locale


def _name(exc: jinja2.UndefinedError) -> str | None:
    # "'first_name' is undefined" or "'dict object' has no attribute 'tier'"
    text = exc.message or ""
    quoted = text.split("'")
    if "has no attribute" in text and len(quoted) >= 4:
        return quoted[3]
    return quoted[1] if len(quoted) >= 2 else None


def _template_line() -> int | None:
    """The template's line of the error being handled (Jinja rewrites the
    traceback so that the template's frames carry its lines)."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_template(folder: Path, name: str | None = None) -> Template:
    """A template from a folder with one sub-folder per locale, each holding
    ``subject.txt``, ``body.txt`` and (for e-mail) ``body.html``."""
    folder = Path(folder)
    variants = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = {part: sub / f for part, f in FILES.items()}
        missing = [str(files[p]) for p in ("subject", "text") if not files[p].exists()]
        if missing:
            raise InputError(
                f"the template's locale folder {sub} lacks {', '.join(missing)}.",
                hint="Each locale folder holds subject.txt and body.txt (body.html optional).",
                source=str(sub),
            )  # fmt: skip
        html = files["html"].read_text("utf-8") if files["html"].exists() else None
        variants[sub.name] = Parts(files["subject"].read_text("utf-8"),
                                   files["text"].read_text("utf-8"), html)  # fmt: skip
    if not variants:
        raise InputError(
            f"the template folder {folder} has no locale folder.",
            hint="Put the template in FOLDER/en/subject.txt and FOLDER/en/body.txt.",
            source=str(folder),
        )
    return Template(name or folder.name, variants)
