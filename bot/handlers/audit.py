"""/audit: the last 20 changes of rights and content, for admins."""

from __future__ import annotations

import json
from typing import Any

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.core.people import Person
from bot.core.roles import Permission
from bot.permissions import needs
from bot.ui.render import local_time
from bot.ui.screens import Screens
from bot.ui.send import reply
from storage import audit as audit_store
from storage.db import Database


def compact(value: dict[str, Any] | None) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if value else ""


async def show_audit(message: Message, person: Person, db: Database, screens: Screens) -> None:
    async with db.session() as session:
        entries = await audit_store.recent(session, limit=20)
    items = [{"when": local_time(e.at, person.timezone, person.language, "dd MMM HH:mm"),
              "actor": e.actor or screens.r.t("audit.none", person.language),
              "action": e.action, "subject": e.subject, "before": compact(e.before)[:300],
              "after": compact(e.after)[:300]} for e in entries]
    await reply(message, screens.simple("audit.html.j2", person.language, with_menu=False, items=items))


def router() -> Router:
    r = Router(name="audit")
    r.message.register(show_audit, Command("audit"), flags=needs(Permission.AUDIT))
    return r
