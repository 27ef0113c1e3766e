"""Templates: the sandbox, autoescaping, errors that name the template's
line and variable, the locale fallback chain, and Babel's formats (the
expected strings are CLDR's, as Babel's own tests state them)."""

from __future__ import annotations

from datetime import date

import pytest

from tenure.campaigns.templates import Parts, Template, fallback_chain, load_template
from tenure.errors import InputError

WELCOME = Template("welcome", {
    "en": Parts("Welcome, {{ name }}",
                "Hi {{ name }},\nyou have {{ points | number }} points, worth "
                "{{ worth | money('EUR') }}, until {{ until | date }}.",
                "<p>Hi {{ name }}</p>"),
    "de": Parts("Willkommen, {{ name }}",
                "Hallo {{ name }},\ndu hast {{ points | number }} Punkte im Wert von "
                "{{ worth | money('EUR') }} bis {{ until | date }}.",
                "<p>Hallo {{ name }}</p>"),
    "de_CH": Parts("Grüezi {{ name }}", "{{ worth | money('CHF') }}"),
})  # fmt: skip
CONTEXT = {"name": "Ann", "points": 1234, "worth": 12.5, "until": date(2026, 3, 1)}


@pytest.mark.parametrize(
    ("asked", "chain"),
    [
        ("de-AT", ["de_AT", "de", "en"]),
        ("DE_at", ["de_AT", "de", "en"]),
        ("en", ["en"]),
        (None, ["en"]),
        ("", ["en"]),
        ("zh-Hant-TW", ["zh_Hant_TW", "zh_Hant", "zh", "en"]),
    ],
)
def test_the_fallback_chain_goes_from_the_region_to_the_language_to_the_default(asked, chain):
    assert fallback_chain(asked) == chain


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [("de-AT", "de"), ("de-CH", "de_CH"), ("de", "de"), ("fr-FR", "en"), (None, "en")],
)
def test_a_message_is_rendered_in_the_variant_its_locale_falls_back_to(asked, chosen):
    assert WELCOME.render(CONTEXT, asked).locale == chosen


def test_numbers_money_and_dates_take_the_formats_of_the_chosen_locale():
    en = WELCOME.render(CONTEXT, "en-US")
    assert en.text == "Hi Ann,\nyou have 1,234 points, worth €12.50, until Mar 1, 2026."
    de = WELCOME.render(CONTEXT, "de-AT")
    assert de.subject == "Willkommen, Ann"
    assert de.text == "Hallo Ann,\ndu hast 1.234 Punkte im Wert von 12,50\xa0€ bis 01.03.2026."
    assert WELCOME.render(CONTEXT, "de-CH").text == "CHF\xa012.50"


def test_html_is_autoescaped_and_text_is_not():
    out = WELCOME.render({**CONTEXT, "name": '<script>alert("x")</script>'}, "en")
    assert out.html == "<p>Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"
    assert out.subject == 'Welcome, <script>alert("x")</script>'


def test_a_missing_variable_names_the_template_its_part_line_and_the_variable():
    template = Template("birthday", {"en": Parts("Hi", "Dear {{ name }},\n\n{{ first_name }}")})
    with pytest.raises(InputError) as caught:
        template.render({"name": "Ann"}, "en")
    err = caught.value
    assert (err.source, err.row, err.value) == ("template 'birthday' (en, body.txt)", 3,
                                                "first_name")  # fmt: skip
    assert str(err).startswith("template 'birthday' (en, body.txt) line 3: 'first_name' is")
    assert "Use one of: name" in str(err)


def test_a_missing_attribute_names_it():
    template = Template("t", {"en": Parts("{{ points.tier }}", "x")})
    with pytest.raises(InputError) as caught:
        template.render({"points": {"balance": 3}}, "en")
    assert (caught.value.source, caught.value.row, caught.value.value) == (
        "template 't' (en, subject.txt)",
        1,
        "tier",
    )


@pytest.mark.parametrize(
    "body",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
     "{{ name.__init__.__globals__ }}",
     "{% for x in range(10**9) %}{% endfor %}"],
)  # fmt: skip
def test_the_sandbox_refuses_what_a_template_may_not_do(body):
    template = Template("t", {"en": Parts("s", "line\n" + body)})
    with pytest.raises(InputError, match="[Ss]andbox") as caught:
        template.render({"name": "Ann"}, "en")
    assert caught.value.row == 2


def test_a_syntax_error_is_found_when_the_template_is_made():
    with pytest.raises(InputError) as caught:
        Template("t", {"de": Parts("s", "a\nb\n{% if name %}")})
    assert (caught.value.source, caught.value.row) == ("template 't' (de, body.txt)", 3)


def test_a_template_folder_has_a_folder_per_locale(tmp_path):
    for loc, subject in (("en", "Hi {{ name }}"), ("de", "Hallo {{ name }}")):
        (tmp_path / "welcome" / loc).mkdir(parents=True)
        (tmp_path / "welcome" / loc / "subject.txt").write_text(subject)
        (tmp_path / "welcome" / loc / "body.txt").write_text("Text")
    (tmp_path / "welcome" / "de" / "body.html").write_text("<b>{{ name }}</b>")
    template = load_template(tmp_path / "welcome")
    assert template.name == "welcome"
    assert template.render({"name": "Jo"}, "de-AT").html == "<b>Jo</b>"
    assert template.render({"name": "Jo"}, "en").html is None
    (tmp_path / "broken" / "en").mkdir(parents=True)
    with pytest.raises(InputError, match="lacks .*subject.txt"):
        load_template(tmp_path / "broken")
