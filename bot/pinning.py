"""Keep aiogram's response models alive.

aiogram validates every API answer with `Response[method.__returning__]`. pydantic caches such
parametrised models only weakly, so the garbage collector frees them and the next call rebuilds one
(3-4 ms each): bench/flow.py counted 1122 rebuilds in 1200 updates, a fifth of the bot's CPU. Holding
a strong reference to the models of the methods the bot calls keeps each built once.
"""

from __future__ import annotations

from typing import Any

from aiogram import methods
from aiogram.methods.base import Response

USED_METHODS = (
    methods.GetUpdates, methods.GetMe, methods.SendMessage, methods.EditMessageText,
    methods.EditMessageReplyMarkup, methods.AnswerCallbackQuery, methods.DeleteMessage, methods.SendDocument,
    methods.SendPhoto, methods.GetFile, methods.SetMyCommands, methods.DeleteWebhook,
)
_PINNED: list[Any] = []


def pin_response_models() -> None:
    if not _PINNED:
        _PINNED.extend(Response[method.__returning__] for method in USED_METHODS)  # type: ignore[attr-defined]
