"""Last line of defence: log the failure, tell the person, keep their progress."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import ErrorEvent

from bot.ui.render import Renderer

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, renderer: Renderer) -> bool:
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    update = event.update
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(renderer.t("alert.error"), show_alert=True)
        elif update.message is not None:
            await update.message.answer(renderer.render("error.html.j2"))
    except Exception:  # the failure may be Telegram itself; nothing more to do
        log.warning("could not tell the user about the failure", exc_info=True)
    return True


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="errors")
    r.errors.register(on_error)
    return r
