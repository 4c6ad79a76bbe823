"""/adduser for administrators."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Config
from bot.core.people import Person
from bot.core.playbook import ROLES
from bot.core.roles import Permission
from bot.permissions import needs
from bot.ui.screens import Screens
from bot.ui.send import reply
from storage import people
from storage.db import Database


async def add_user(message: Message, command: CommandObject, person: Person, db: Database, config: Config,
                   screens: Screens) -> None:
    lang = person.language
    parts = (command.args or "").split()
    if len(parts) >= 2:
        parts[1] = parts[1].lower()  # the usage shows "Staff": typing it as shown works too
    if len(parts) not in (2, 3) or not parts[0].isdigit() or parts[1] not in ROLES:
        await reply(message, screens.simple("adduser.html.j2", lang, with_menu=False, error="usage", roles=ROLES))
        return
    telegram_id, role = int(parts[0]), parts[1]
    team = parts[2] if len(parts) == 3 else (person.team or config.default_team)
    async with db.session() as session:
        _user, created = await people.upsert_user(session, telegram_id, role=role, team=team[:64],
                                                  actor_id=person.user_id, actor=person.name)
    await reply(message, screens.simple("adduser.html.j2", lang, with_menu=False, error=None, created=created,
                                        telegram_id=telegram_id, role=role, team=team[:64]))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="admin")
    r.message.register(add_user, Command("adduser"), flags=needs(Permission.ADD_USERS))
    return r
