"""The translation layer: gettext catalogues (Babel) for every text, English as the source and the fallback,
plurals and money per locale, and /language."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bot.devtools.i18n import LANGUAGES, check, placeholders, template_catalog
from bot.ui.i18n import Catalogues, po_path
from bot.ui.render import LOCALES_DIR, Renderer
from storage.models import User
from tests.harness import Harness
from tests.test_handlers_flow import staff

NBSP = "\u00a0\u202f"  # Babel writes no-break spaces where the locale wants them


def _plain(text: str) -> str:
    return re.sub(f"[{NBSP}]", " ", text)


def test_every_catalogue_has_every_message_with_its_placeholders() -> None:
    problems = check()
    assert not problems, "\n".join(map(str, problems[:30]))


def test_every_label_renders_in_every_language() -> None:
    renderer = Renderer("EUR")
    for language in ("en", *LANGUAGES):
        for key, english in renderer.labels().items():
            values = {name: f"<{name}>" for name in placeholders(english)}
            text = renderer.t(key, language, **values)
            assert text and text != key, (language, key)
            for value in values.values():
                assert value in text, (language, key, text)
            if language != "en" and not english.strip().startswith(("/", "{")) and len(english) > 12:
                assert text != english or key.startswith("onboarding.language."), (language, key, "untranslated")


def test_a_missing_entry_falls_back_to_english_never_to_an_id(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    (locales).mkdir()
    (locales / "en.yaml").write_text('menu:\n  moment: "🧭 A customer moment"\n  help: "❓ Help"\n', encoding="utf-8")
    po = po_path(locales, "it")
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "❓ Help"\nmsgstr "❓ Aiuto"\n', encoding="utf-8")
    renderer = Renderer("EUR", locales_dir=locales)
    assert renderer.t("menu.help", "it") == "❓ Aiuto"
    assert renderer.t("menu.moment", "it") == "🧭 A customer moment"  # not in the catalogue: English
    assert renderer.t("menu.moment", "de") == "🧭 A customer moment"  # no catalogue at all: English
    assert renderer.t("menu.moment", "it-CH") == "🧭 A customer moment"


def test_plurals_follow_each_languages_rules(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    locales.mkdir()
    (locales / "en.yaml").write_text("{}\n", encoding="utf-8")
    entries = {
        "it": ('"Plural-Forms: nplurals=2; plural=(n != 1);\\n"', ["%(count)s decisione", "%(count)s decisioni"]),
        "ru": ('"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && '
               '(n%100<10 || n%100>=20) ? 1 : 2);\\n"',
               ["%(count)s решение", "%(count)s решения", "%(count)s решений"]),
    }
    for language, (forms, strings) in entries.items():
        po = po_path(locales, language)
        po.parent.mkdir(parents=True)
        translated = "\n".join(f'msgstr[{i}] "{text}"' for i, text in enumerate(strings))
        po.write_text(f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n{forms}\n\n'
                      f'msgid "%(count)s decision"\nmsgid_plural "%(count)s decisions"\n{translated}\n',
                      encoding="utf-8")
    renderer = Renderer("EUR", locales_dir=locales)
    template = renderer.env.from_string(
        "{% trans count=n %}{{ count }} decision{% pluralize %}{{ count }} decisions{% endtrans %}")
    said = {(language, n): template.render(language=language, n=n)
            for language in ("en", "it", "ru") for n in (1, 3, 5, 21)}
    assert said[("en", 1)] == "1 decision" and said[("en", 3)] == "3 decisions"
    assert said[("it", 1)] == "1 decisione" and said[("it", 3)] == "3 decisioni"
    assert [said[("ru", n)] for n in (1, 3, 5, 21)] == ["1 решение", "3 решения", "5 решений", "21 решение"]


def test_values_put_into_a_translated_text_are_escaped() -> None:
    renderer = Renderer("EUR")
    text = renderer.env.from_string("{% trans %}Hello {{ name }}{% endtrans %}").render(language="it",
                                                                                       name="<b>Eve</b>")
    assert "&lt;b&gt;Eve&lt;/b&gt;" in text


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "€1,234.50"), ("it", "1.234,50 €"), ("fr", "1 234,50 €"), ("ru", "1 234,50 €"),
])
def test_money_is_written_the_locales_way(language: str, expected: str) -> None:
    assert _plain(Renderer("EUR").money(Decimal("1234.50"), language)) == expected


def test_the_catalogues_cover_the_shipped_languages() -> None:
    assert Catalogues(LOCALES_DIR).languages == ["en", "fr", "it", "ru"]
    assert len(template_catalog()) > 100


async def test_language_command_switches_the_bot(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/language")
    text, labels = ann.screen()
    assert labels == ["✅ English", "Italiano", "Français", "Русский"]
    await ann.press("Italiano")
    text, labels = ann.screen()
    assert "italiano" in text.lower()
    assert labels[0] == Renderer("EUR").t("menu.moment", "it") != "🧭 A customer moment"
    async with harness.app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == ann.telegram_id))).one()
    assert user.language == "it"
    await ann.press_data("lg:xx")  # forged: no such language
    async with harness.app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == ann.telegram_id))).one()
    assert user.language == "it"


def test_playbook_texts_fall_back_to_the_teams_language_before_english() -> None:
    from bot.core.text import Language, Text, TextList

    title = Text({"en": "Refund without a receipt", "it": "Reso senza scontrino", "ru": "Возврат без чека"})
    assert title.get(Language("fr", ("it",))) == "Reso senza scontrino"  # French missing: the team's Italian
    assert title.get(Language("fr", ("de",))) == "Refund without a receipt"  # neither: English
    assert title.get(Language("ru", ("it",))) == "Возврат без чека"  # their own language first
    assert title.get(Language("fr-CA", ("it-CH",))) == "Reso senza scontrino"  # base languages count
    assert Text({"it": "Solo italiano", "fr": "Seulement"}).get(Language("ru", ("de",))) == "Solo italiano"
    assert TextList({"en": ("a",), "it": ("b",)}).get(Language("fr", ("it",))) == ("b",)
    assert Language("fr", ("it",)) == "fr" and f"{Language('fr', ('it',))}" == "fr"  # a str for everything else


async def test_a_person_carries_their_teams_language(harness: Harness) -> None:
    from bot.middlewares import IdentifyPerson
    from storage import people

    await staff(harness)
    async with harness.app.db.session() as session:
        team = await people.team_by_name(session, "shop-1")
        assert team is not None
        team.language = "it"
        session.add(team)
        await session.commit()
    identify = IdentifyPerson(harness.app.db, harness.config, harness.app.renderer)
    sender = harness.person(2000).user
    person = await identify._person(sender)
    assert person is not None and person.language == "en" and person.language.fallbacks == ("it",)


async def test_a_refusal_names_the_roles_in_the_persons_language(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/language")
    await ann.press("Русский")
    await ann.send("/results")
    renderer = Renderer("EUR")
    refusal = ann.last_text()
    assert renderer.t("team.role.manager", "ru") in refusal and renderer.t("team.role.supervisor", "ru") in refusal
    assert "manager" not in refusal
