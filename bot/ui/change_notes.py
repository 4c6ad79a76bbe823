"""The note staff get when a playbook they used changes, and the line the manager sees about it."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.change_notes import build_note
from bot.core.diff import PlaybookDiff
from bot.core.playbook import Playbook
from bot.notify import Delivery, Tally
from bot.ui.callbacks import PickCb
from bot.ui.screens import Screens
from storage.change_notes import Recipient


def deliveries(screens: Screens, recipients: Sequence[Recipient], diff: PlaybookDiff, before: Playbook | None,
               after: Playbook, changelog: str, default_currency: str, rolled_back: bool = False) -> list[Delivery]:
    """One message per person, in their language and their team's currency (rendered once per pair)."""
    texts: dict[tuple[str, str], str | None] = {}
    keyboards: dict[str, InlineKeyboardMarkup] = {}
    result = []
    for person in recipients:
        language, currency = person.language or "en", person.currency or default_currency
        if (language, currency) not in texts:
            note = build_note(diff, before, after, changelog, language)
            texts[(language, currency)] = None if note is None else screens.r.render(
                "change_note.html.j2", language, note=note, currency=currency, rolled_back=rolled_back)
        text = texts[(language, currency)]
        if text is None:
            continue
        if language not in keyboards:
            kb = InlineKeyboardBuilder()
            kb.button(text=screens.r.t("changes.open", language), callback_data=PickCb(playbook=after.id))
            keyboards[language] = kb.as_markup()
        result.append(Delivery(person.telegram_id, text, keyboards[language]))
    return result


def report(screens: Screens, lang: str, stage: str, count: int = 0, tally: Tally | None = None,
           title: str = "") -> str:
    """stage: telling (N people, sending now), done (the tally), nobody (no recent users), wording (no note)."""
    return screens.r.render("change_report.html.j2", lang, stage=stage, count=count, tally=tally, title=title)
