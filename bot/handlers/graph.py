"""/graph ID: a playbook's decision tree as a picture, for the people who edit playbooks."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.core.catalog import Catalog
from bot.core.graph import GraphvizMissing, png_size, render
from bot.core.people import Person
from bot.core.roles import Permission
from bot.permissions import needs
from bot.ui.screens import Screens
from bot.ui.send import reply

log = logging.getLogger(__name__)
PHOTO_MAX_SIDES = 10_000  # Telegram: width + height of a photo at most this, and a ratio of at most 20
PHOTO_MAX_RATIO = 20
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def fits_as_photo(data: bytes) -> bool:
    width, height = png_size(data)
    if not width or not height or len(data) > PHOTO_MAX_BYTES:
        return False
    return width + height <= PHOTO_MAX_SIDES and max(width, height) / min(width, height) <= PHOTO_MAX_RATIO


async def show_graph(message: Message, command: CommandObject, person: Person, catalog: Catalog,
                     screens: Screens) -> None:
    lang = person.language
    playbook_id = (command.args or "").strip().split()[0] if (command.args or "").strip() else ""
    ids = sorted(p.id for p in catalog.all())
    if not playbook_id:
        await reply(message, screens.simple("graph.html.j2", lang, with_menu=False, kind="usage", ids=ids))
        return
    playbook = catalog.live(playbook_id)
    if playbook is None:
        await reply(message, screens.simple("graph.html.j2", lang, with_menu=False, kind="unknown",
                                            playbook_id=playbook_id, ids=ids))
        return
    try:
        data = await asyncio.to_thread(render, playbook, "png", lang)
    except GraphvizMissing:
        log.warning("/graph %s: Graphviz's dot is not installed", playbook_id)
        await reply(message, screens.simple("graph.html.j2", lang, with_menu=False, kind="no_dot"))
        return
    caption = screens.r.render("graph.html.j2", lang, kind="caption", title=playbook.title.get(lang),
                               playbook_id=playbook.id)
    picture = BufferedInputFile(data, filename=f"{playbook.id}.png")
    if fits_as_photo(data):
        await message.answer_photo(picture, caption=caption)
    else:  # too tall or too wide for Telegram's photo limits: sent as a file, full size
        await message.answer_document(picture, caption=caption)


def router() -> Router:
    r = Router(name="graph")
    r.message.register(show_graph, Command("graph"), flags=needs(Permission.EDIT_PLAYBOOKS))
    return r
