"""The translation layer: gettext catalogues (Babel) for every text, English as the source and the fallback,
plurals and money per locale, and /language."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
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


# --- role names, problems, numbers and punctuation in the reader's language ------------------------------------


@pytest.mark.parametrize(("language", "lead"), [("it", "Responsabile di turno"), ("ru", "Старший смены")])
def test_invites_and_team_screens_name_roles_in_the_readers_language(language: str, lead: str) -> None:
    renderer = Renderer("EUR")
    assert renderer.role_name("lead", language) == lead
    created = renderer.render("invite_created.html.j2", language, link="https://t.me/x?start=y", id=3,
                              team="roma", role="lead", uses=1, expires="1 dic")
    assert f"<b>{lead}</b>" in created and "<b>lead</b>" not in created
    refused = renderer.render("invite_error.html.j2", language, error="role", detail="supervisor",
                              roles=["staff", "lead"], teams=[])
    assert renderer.role_name("supervisor", language) in refused
    # What may be typed keeps its id beside the name: "/invite lead" is still the command.
    assert f"{lead} (<code>lead</code>)" in refused
    listing = renderer.render("invite_list.html.j2", language, notice="", more=0, items=[
        {"id": 1, "team": "roma", "role": "lead", "left": 1, "max": 2, "expires": "1 dic", "by": ""}])
    assert f"· {lead} ·" in listing
    team = renderer.render("team_list.html.j2", language, page=1, pages=1, total=1, items=[
        {"name": "Leo", "team": "roma", "role": "lead", "on_duty": False, "active": True}])
    assert f"<b>Leo</b> · {lead} · roma" in team
    person = renderer.render("team_person.html.j2", language, name="Leo", telegram_id=7, team="roma", role="lead",
                             on_duty=False, active=True, joined="1 dic", left=None, notice=None, manageable=True)
    assert f"<b>{lead}</b>" in person
    for template in ("team_pick.html.j2", "team_confirm.html.j2"):
        text = renderer.render(template, language, what="role", name="Leo", role="lead", team="roma")
        assert lead in text and "(lead" not in text and "<b>lead</b>" not in text
    added = renderer.render("adduser.html.j2", language, error=None, created=True, telegram_id=7, role="lead",
                            team="roma")
    assert f"<b>{lead}</b>" in added


def test_an_unknown_role_shows_as_it_is_stored() -> None:
    assert Renderer("EUR").role_name("cashier", "it") == "cashier"


def _core_messages() -> list[str]:
    return [str(m.id) for m in template_catalog()
            if m.id and any(path.startswith("bot/core/") for path, _line in m.locations)]


def test_the_extractor_finds_the_problems_of_the_core() -> None:
    ids = _core_messages()
    assert "unknown field '%(key)s' in %(what)s%(suggestion)s" in ids
    assert "%(what)s has no '%(language)s' text" in ids  # bot/core/checks.py
    assert "duplicate card id '%(card)s' (also in %(where)s): give this card its own id (it is skipped)" in ids
    assert len(ids) > 80


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_problem_renders_in_every_language_with_its_placeholders(language: str) -> None:
    from bot.core.problems import Message

    catalogues = Catalogues(LOCALES_DIR)
    for message_id in _core_messages():
        values = tuple((name, f"<{name}>") for name in sorted(placeholders(message_id)))
        text = Message(message_id, values).render(lambda m: catalogues.gettext(language, m))
        for _name, value in values:
            assert value in text, (language, message_id, text)
        if len(message_id) > 20:
            assert text != Message(message_id, values).render(), (language, message_id, "untranslated")


BROKEN = """\
id: refund
title: Refund
summary: When there is no receipt
principle: Keep the customer
stepz: {}
start: first
steps:
  first:
    ask: Receipt?
    options:
      - {label: "", outcome: yes-refund}
outcomes:
  yes-refund: {title: Refund it, favours_customer: true}
  unused: {title: Say no}
"""


ENGLISH = ["unknown field 'stepz' in the playbook (did you mean 'steps'?)", "step 'first' has 1 option; give 2 to 8",
           "the label of option 1 of step 'first' is empty", "outcome 'unused' is never used by any option"]


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ["unknown field 'stepz' in the playbook (did you mean 'steps'?)",
            "step 'first' has 1 option; give 2 to 8", "the label of option 1 of step 'first' is empty",
            "outcome 'unused' is never used by any option"]),
    ("it", ["campo sconosciuto 'stepz' (playbook) (forse intendevi 'steps'?)",
            "il passo 'first' ha una sola opzione; ne servono da 2 a 8",
            "etichetta (opzione 1 del passo 'first'): testo vuoto",
            "l'esito 'unused' non è usato da nessuna opzione"]),
    ("fr", ["champ inconnu 'stepz' (playbook) (tu voulais dire 'steps'\u202f?)",
            "l'étape 'first' n'a qu'une option\u202f; il en faut de 2 à 8",
            "libellé (option 1 de l'étape 'first')\u202f: texte vide",
            "aucune option ne mène à l'issue 'unused'"]),
    ("ru", ["неизвестное поле 'stepz' (сценарий) (может, имелось в виду 'steps'?)",
            "у шага 'first' всего один вариант; нужно от 2 до 8",
            "надпись на кнопке (вариант 1 шага 'first'): пустой текст",
            "ни один вариант не ведёт к исходу 'unused'"]),
])
def test_playbook_problems_read_in_the_readers_language(language: str, expected: list[str]) -> None:
    from bot.core.loader import parse_playbook

    _, problems = parse_playbook(BROKEN, "refund.yaml")
    renderer = Renderer("EUR")
    assert [renderer.problem(p, language) for p in problems] == expected
    assert [(p.line, p.column) for p in problems] == [(5, 1), (10, 5), (11, 17), (14, 3)]
    # The English of the CLI is the message id filled in: what `moments lint` always printed.
    assert [p.message for p in problems] == ENGLISH


def test_training_problems_read_in_the_readers_language() -> None:
    from bot.core.training.authored import parse_cards

    source = ("cards:\n  - id: kettle\n    question: {en: Kettle}\n    choices: [Fix it]\n    answer: 7\n"
              "    why: Because\n")
    _, problems = parse_cards(source, "t.yaml", languages=["ru"])
    renderer = Renderer("EUR")
    texts = [renderer.problem(p, "ru") for p in problems]
    assert "карточка 'kettle': вариантов ответа: 1; нужно от 2 до 4" in texts
    assert "карточка 'kettle': в 'answer' нужен номер правильного варианта, от 1 до 4, а найдено: 7" in texts
    assert "вопрос (карточка 'kettle'): нет текста для 'ru'" in texts
    assert all("card" not in text for text in texts), texts


async def test_an_upload_lists_its_problems_in_the_managers_language(harness: Harness) -> None:
    admin = harness.person(1000, "Alice")
    await admin.send("/adduser 2100 manager shop-1")
    mia = harness.person(2100, "Mia")
    await mia.send("/language")
    await mia.press("Italiano")
    await mia.send_document(BROKEN.encode(), "refund.yaml")
    text = html.unescape(mia.last_text())
    assert "<b>refund.yaml</b>" in text
    assert "campo sconosciuto 'stepz' (playbook) (forse intendevi 'steps'?)" in text
    assert "5:1" in text and "11:17" in text  # line and column as they are
    assert "unknown field" not in text and "is never used" not in text


def test_lint_writes_problems_in_the_language_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "refund.yaml").write_text(BROKEN, encoding="utf-8")
    assert main(["lint", "refund.yaml", "--language", "fr"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "refund.yaml:14:3: error: aucune option ne mène à l'issue 'unused'" in lines
    assert lines[-1] == "1 playbook file(s) checked: 4 error(s), 0 warning(s)"  # the summary stays English
    assert main(["lint", "refund.yaml"]) == 1
    assert "refund.yaml:14:3: error: outcome 'unused' is never used by any option" in capsys.readouterr().out


def test_lint_warns_about_training_cards_missing_a_teams_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "kettle.yaml").write_text(
        "cards:\n  - id: kettle\n    question: {en: Kettle, it: Bollitore}\n"
        "    choices: [{en: Fix it, it: Ripara}, {en: Refund, it: Rimborsa}]\n    answer: 2\n    why: {en: Because}\n",
        encoding="utf-8")
    assert main(["lint", "training"]) == 0
    assert "no 'it' text" not in capsys.readouterr().out  # no team speaks Italian yet
    (tmp_path / "config.yaml").write_text("teams:\n  - {name: roma, language: it}\n", encoding="utf-8")
    assert main(["lint", "training"]) == 0  # warnings only
    out = capsys.readouterr().out
    assert f"{Path('training/kettle.yaml')}:6:5: warning: the why of card 'kettle' has no 'it' text" in out
    assert "the question of card 'kettle' has no" not in out


def _figures() -> object:
    from bot.core.digest import Figures, Largest, OutcomeRow, Totals, parse_week

    now = Totals(decisions=20, followed=14, favouring=7, spent_minor=123450, median_seconds=1234.0)
    before = Totals(decisions=16, followed=8, favouring=5, spent_minor=100000, median_seconds=40.0)
    largest = [Largest(amount_minor=5000, user_name="Ann", playbook_id="refund", outcome="Refund", note="ok then",
                       created_at=datetime(2026, 11, 17, 10, tzinfo=UTC), over_limit=False)]
    return Figures(team="roma", week=parse_week("2026-W47", "Europe/Rome"), currency="EUR", totals=now,
                   previous=before, outcomes=[OutcomeRow("refund", "Refund", 20, 123450)], largest=largest)


@pytest.mark.parametrize(("language", "expected"), [
    ("en", ["followed the recommendation: 70%", "(▲ +20 pts vs previous week)", "35% (▲ +3.8 pts", "1,234 s",
            "(▲ +1,194 s vs", "Refund: 20", "· “ok then”"]),
    ("it", ["70%", "+20", "35% (▲ +3,8", "1.234 s", "+1.194 s", "Refund: 20", "«ok then»"]),
    ("fr", ["70\u00a0%", "+20", "35\u00a0% (▲ +3,8", "1\u202f234", "Refund\u202f: 20", "«\u202fok then\u202f»"]),
    ("ru", ["70\u00a0%", "+20", "1\u00a0234", "Refund: 20", "«ok then»"]),
])
def test_the_digest_writes_numbers_and_quotes_the_locales_way(language: str, expected: list[str]) -> None:
    from bot.ui import digest

    text = "\n\n".join(digest.sections(Renderer("EUR"), _figures(), language))  # type: ignore[arg-type]
    for piece in expected:
        assert piece in text, (language, piece, text)


def test_decimals_follow_the_locale() -> None:
    renderer = Renderer("EUR")
    assert renderer.number(3.5, "it", 1) == "3,5" and renderer.number(3.5, "en", 1) == "3.5"
    assert renderer.signed(3.25, "fr") == "+3,2" and renderer.signed(-2, "ru") == "−2" and renderer.signed(0) == "±0"
    assert renderer.percent(0.42, "fr") == "42\u00a0%" and renderer.percent(0.42, "it") == "42%"


@pytest.mark.parametrize("language", ["fr", "ru"])
def test_quotes_and_colons_outside_sentences_follow_the_language(language: str) -> None:
    renderer = Renderer("EUR")
    unmatched = renderer.render("unmatched.html.j2", language, days=30, total=1, items=[
        {"number": 1, "phrase": "rimborso", "count": 2, "when": "1 dic", "variants": ["rimborsi"]}])
    assert "“" not in unmatched and "«" in unmatched and "»" in unmatched
    limits = renderer.render("limit.html.j2", language, error=None, team="roma", limits={"staff": Decimal(60)},
                             changed=None, currency="EUR")
    staff_name = renderer.role_name("staff", language)
    assert (f"• {staff_name}\u202f: " if language == "fr" else f"• {staff_name}: ") in limits


def test_a_failing_example_reads_in_the_readers_language() -> None:
    """An upload whose own examples fail is refused with the reason in the author's language, English in the CLI."""
    from bot.core.examples import failures, run_examples
    from bot.core.loader import parse_playbook
    from bot.core.problems import N_, Problem
    from tests.test_loader import CONTRACT

    playbook, _ = parse_playbook(CONTRACT + 'examples:\n  - {answers: ["Maybe"], expect: store-credit}\n', "p.yaml")
    assert playbook is not None
    [failed] = failures(run_examples(playbook))  # "Maybe" is not an answer of the first step
    problem = Problem("p.yaml", failed.line, failed.column,
                      N_("example %(number)s fails: %(reason)s", number=failed.number, reason=failed.reason))
    renderer = Renderer("EUR")
    assert problem.message == ("example 1 fails: at the start step 'proof' has no answer 'Maybe' "
                               "(answers: 'Yes', 'No')") == f"example 1 fails: {failed.message}"
    assert renderer.problem(problem, "it") == ("l'esempio 1 non passa: all'inizio il passo 'proof' non ha la risposta "
                                               "'Maybe' (risposte: 'Yes', 'No')")
    assert renderer.problem(problem, "ru").startswith("пример 1 не проходит: в самом начале у шага 'proof' нет ответа")
