"""The one permission check: handlers declare `flags=needs(Permission.X)`, this middleware enforces it."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.core.people import Person
from bot.core.roles import Permission, roles_with
from bot.middlewares import Handler
from bot.ui.render import Renderer

log = logging.getLogger(__name__)
FLAG = "permission"


def needs(permission: Permission) -> dict[str, Any]:
    """Handler flags that require `permission`."""
    return {FLAG: permission}


class RequirePermission(BaseMiddleware):
    """Inner middleware: runs once the handler is chosen, so it sees that handler's flags."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        permission: Permission | None = get_flag(data, FLAG)
        if permission is None:
            return await handler(event, data)
        person: Person | None = data.get("person")
        if person is not None and person.can(permission):
            return await handler(event, data)
        log.info("refused %s to %s (%s)", permission.name, person.telegram_id if person else "?",
                 person.role if person else "unknown")
        language = person.language if person else "en"
        roles = ", ".join(self.renderer.t(f"team.role.{role.value}", language) for role in roles_with(permission))
        if isinstance(event, Message):
            await event.answer(self.renderer.render("forbidden.html.j2", language, roles=roles))
        elif isinstance(event, CallbackQuery):
            await event.answer(self.renderer.t("alert.forbidden", language, roles=roles), show_alert=True)
        return None
