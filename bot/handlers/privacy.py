"""/forgetme: anyone may delete their own personal data, after one confirmation."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.people import Person
from bot.fsm_storage import DatabaseStorage
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage import privacy
from storage.db import Database
from storage.models import User


class ForgetCb(CallbackData, prefix="fm"):
    confirm: bool


async def ask(message: Message, person: Person, screens: Screens) -> None:
    kb = InlineKeyboardBuilder()
    kb.button(text=screens.r.t("privacy.confirm", person.language), callback_data=ForgetCb(confirm=True))
    kb.button(text=screens.r.t("privacy.keep", person.language), callback_data=ForgetCb(confirm=False))
    kb.adjust(1)
    await reply(message, View(screens.r.render("forgetme_ask.html.j2", person.language), kb.as_markup()))


async def answer(query: CallbackQuery, callback_data: ForgetCb, state: FSMContext, person: Person, db: Database,
                 screens: Screens, fsm_storage: BaseStorage) -> None:
    await query.answer()
    if not callback_data.confirm:
        await edit_or_send(query, screens.simple("forgetme_kept.html.j2", person.language))
        return
    await state.clear()
    async with db.session() as session:
        user = await session.get(User, person.user_id)
        if user is not None:
            await privacy.forget_person(session, user)
    if isinstance(fsm_storage, DatabaseStorage):
        fsm_storage.forget(privacy.conversation_key_prefix(person.telegram_id))  # its rows are gone: so is the copy
    await edit_or_send(query, View(screens.r.render("forgetme_done.html.j2", person.language)))


def router() -> Router:
    r = Router(name="privacy")
    r.message.register(ask, Command("forgetme"))
    r.callback_query.register(answer, ForgetCb.filter(F.confirm.in_({True, False})))
    return r
