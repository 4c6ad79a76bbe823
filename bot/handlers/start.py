"""/start, /help, /cancel and the main menu."""

from __future__ import annotations

from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.core.catalog import Catalog
from bot.core.people import Person
from bot.handlers.escalation import Desk
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.screens import Screens
from bot.ui.send import edit_or_send, reply


async def start(message: Message, state: FSMContext, person: Person, screens: Screens,
                dispatcher: Dispatcher, bot: Bot) -> None:
    await Desk(dispatcher, bot).abandon(state)
    await state.clear()
    await reply(message, screens.welcome(person.language, person.name))


async def help_command(message: Message, person: Person, screens: Screens) -> None:
    await reply(message, screens.help(person))


async def cancel(message: Message, state: FSMContext, person: Person, screens: Screens,
                 dispatcher: Dispatcher, bot: Bot) -> None:
    await Desk(dispatcher, bot).abandon(state)
    await state.clear()
    await reply(message, screens.simple("cancelled.html.j2", person.language))


async def home(query: CallbackQuery, person: Person, screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, screens.welcome(person.language, person.name))


async def help_button(query: CallbackQuery, person: Person, screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, screens.help(person))


async def categories(query: CallbackQuery, person: Person, screens: Screens, catalog: Catalog) -> None:
    await query.answer()
    await edit_or_send(query, screens.categories(person.language, catalog.categories()))


async def category(query: CallbackQuery, callback_data: MenuCb, person: Person, screens: Screens,
                   catalog: Catalog) -> None:
    playbooks = catalog.in_category(callback_data.value)
    if not playbooks:
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    await query.answer()
    await edit_or_send(query, screens.category(person.language, callback_data.value, playbooks))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="start")
    r.message.register(start, CommandStart())
    r.message.register(help_command, Command("help"))
    r.message.register(cancel, Command("cancel"))
    r.callback_query.register(home, MenuCb.filter(F.action == MenuAction.HOME))
    r.callback_query.register(help_button, MenuCb.filter(F.action == MenuAction.HELP))
    r.callback_query.register(categories, MenuCb.filter(F.action == MenuAction.MOMENT))
    r.callback_query.register(category, MenuCb.filter(F.action == MenuAction.CATEGORY))
    return r
