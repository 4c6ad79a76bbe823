"""Whatever no other handler took: forged or outdated buttons, stickers, photos."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.core.people import Person
from bot.ui.screens import Screens
from bot.ui.send import reply


async def unknown_button(query: CallbackQuery, person: Person, screens: Screens) -> None:
    await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)


async def unknown_message(message: Message, person: Person, screens: Screens) -> None:
    await reply(message, screens.help(person))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="fallback")
    r.callback_query.register(unknown_button)
    r.message.register(unknown_message)
    return r
