"""Last line of defence: log the failure, tell the person, keep their progress."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import ErrorEvent

from bot.ui.render import Renderer

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, renderer: Renderer) -> bool:
    update = event.update
    if isinstance(event.exception, TelegramForbiddenError):
        # The person blocked the bot or left: nothing to tell them, and nothing wrong with us.
        log.info("update %s: %s", update.update_id, event.exception.message)
        return True
    log.error("update %s failed", update.update_id, exc_info=event.exception)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(renderer.t("alert.error"), show_alert=True)
        elif update.message is not None:
            await update.message.answer(renderer.render("error.html.j2"))
    except Exception as exc:  # the failure may be Telegram itself; nothing more to do
        log.warning("could not tell the user about the failure: %s", exc)
    return True


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="errors")
    r.errors.register(on_error)
    return r
