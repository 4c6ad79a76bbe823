"""/language: the person picks the language the bot speaks to them (catalogues and playbook texts)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.onboarding import LANGUAGES
from bot.core.people import Person
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage import people
from storage.db import Database


class LanguageCb(CallbackData, prefix="lg"):
    code: str


def _menu(screens: Screens, lang: str) -> View:
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        mark = "✅ " if code == lang else ""
        # Each language is named in itself, so someone lost in a foreign UI still finds their own.
        kb.button(text=mark + screens.r.t(f"onboarding.language.{code}", code), callback_data=LanguageCb(code=code))
    kb.adjust(2)
    return View(screens.r.render("language.html.j2", lang), kb.as_markup())


async def language_command(message: Message, person: Person, screens: Screens) -> None:
    await reply(message, _menu(screens, person.language))


async def pick(query: CallbackQuery, callback_data: LanguageCb, person: Person, screens: Screens,
               db: Database) -> None:
    code = callback_data.code
    if code not in LANGUAGES:  # forged data: nothing changes
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    async with db.session() as session:
        await people.set_language(session, person.user_id, code)
    await query.answer()
    await edit_or_send(query, screens.simple("language_set.html.j2", code))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="language")
    r.message.register(language_command, Command("language"))
    r.callback_query.register(pick, LanguageCb.filter())
    return r
