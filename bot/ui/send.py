"""Show a view: edit the message in place when we can, send a new one when we must."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from bot.ui.screens import View

log = logging.getLogger(__name__)


async def edit_or_send(query: CallbackQuery, view: View) -> int | None:
    """Edit the pressed message into `view`; returns the id of the message that now shows it."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        if query.bot is None:
            return None
        sent = await query.bot.send_message(query.from_user.id, view.text, reply_markup=view.keyboard)
        return sent.message_id
    try:
        await message.edit_text(view.text, reply_markup=view.keyboard)
        return message.message_id
    except TelegramBadRequest as exc:
        if "not modified" in exc.message:
            return message.message_id  # a double tap: the screen already shows this
        log.info("cannot edit message %s (%s): sending a new one", message.message_id, exc.message)
        sent = await message.answer(view.text, reply_markup=view.keyboard)
        return sent.message_id


async def reply(message: Message, view: View) -> int:
    sent = await message.answer(view.text, reply_markup=view.keyboard)
    return sent.message_id


async def drop_keyboard(bot: Bot, chat_id: int, message_id: int | None) -> None:
    """Take the buttons off a message that is no longer the live one; best effort."""
    if message_id is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
