"""My decisions: the last ten."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.core.moments import MomentService, recent_decisions
from bot.core.people import Person
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply


async def _history(person: Person, moments: MomentService, screens: Screens) -> View:
    decisions = await recent_decisions(moments.db, person, limit=10)
    return screens.history(person.language, decisions, moments.catalog, person.timezone)


async def history_command(message: Message, person: Person, moments: MomentService, screens: Screens) -> None:
    await reply(message, await _history(person, moments, screens))


async def history_button(query: CallbackQuery, person: Person, moments: MomentService, screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, await _history(person, moments, screens))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="history")
    r.message.register(history_command, Command("history"))
    r.callback_query.register(history_button, MenuCb.filter(F.action == MenuAction.HISTORY))
    return r
