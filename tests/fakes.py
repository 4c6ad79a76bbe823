"""A recording Bot API session for handler tests: real aiogram objects, no network."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, Chat, Document, File, InlineKeyboardMarkup, Message, PhotoSize, User

_MESSAGE_IDS = itertools.count(1000)  # shared, so a "restarted" bot never reuses an id
BOT_USER = User(id=42, is_bot=True, first_name="Moments", username="moments_test_bot")


class RecordingSession(BaseSession):
    """Answers like Telegram would, and keeps every request for the test to inspect."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        # (chat id, message id) → (text, keyboard): what each chat shows now, edits applied.
        self.screens: dict[tuple[int, int], tuple[str, InlineKeyboardMarkup | None]] = {}
        self.last_with_keyboard: dict[int, int] = {}
        self.fail_next: list[Exception] = []
        # Files people sent (file id → bytes), served by getFile and the download; and documents the bot sent.
        self.files: dict[str, bytes] = {}
        self.documents: list[tuple[int, str, bytes]] = []  # (chat id, file name, content)
        self.blocked: set[int] = set()  # chats whose person blocked the bot: every message to them is refused
        self.photos: list[tuple[int, str, bytes]] = []  # (chat id, file name, content) of photos the bot sent

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None) -> Any:
        self.requests.append(method)
        if self.fail_next:
            raise self.fail_next.pop(0)
        if isinstance(method, SendMessage) and int(method.chat_id) in self.blocked:
            raise TelegramForbiddenError(method, "Forbidden: bot was blocked by the user")
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, SendMessage):
            return self._message(int(method.chat_id), next(_MESSAGE_IDS), method.text, method.reply_markup)
        if isinstance(method, EditMessageText):
            return self._message(int(method.chat_id or 0), int(method.message_id or 0), method.text,
                                 method.reply_markup)
        if isinstance(method, EditMessageReplyMarkup):
            return self._message(int(method.chat_id or 0), int(method.message_id or 0), "", method.reply_markup)
        if isinstance(method, AnswerCallbackQuery):
            return True
        if isinstance(method, GetFile):
            return File(file_id=method.file_id, file_unique_id=method.file_id,
                        file_size=len(self.files.get(method.file_id, b"")), file_path=f"documents/{method.file_id}")
        if isinstance(method, SendPhoto):
            photo = method.photo
            data = photo.data if isinstance(photo, BufferedInputFile) else b""
            self.photos.append((int(method.chat_id), photo.filename or "" if isinstance(photo, BufferedInputFile)
                                else "", data))
            return Message(message_id=next(_MESSAGE_IDS), date=datetime.now(UTC),
                           chat=Chat(id=int(method.chat_id), type="private"), from_user=BOT_USER,
                           caption=method.caption, photo=[PhotoSize(file_id=f"photo{len(self.photos)}",
                                                                    file_unique_id="p", width=1, height=1)])
        if isinstance(method, SendDocument):
            document = method.document
            data = document.data if isinstance(document, BufferedInputFile) else b""
            name = document.filename if isinstance(document, BufferedInputFile) else ""
            self.documents.append((int(method.chat_id), name or "", data))
            return Message(message_id=next(_MESSAGE_IDS), date=datetime.now(UTC),
                           chat=Chat(id=int(method.chat_id), type="private"), from_user=BOT_USER,
                           caption=method.caption,
                           document=Document(file_id=f"sent{len(self.documents)}", file_unique_id="u",
                                             file_name=name, file_size=len(data)))
        return True

    def _message(self, chat_id: int, message_id: int, text: str, markup: Any) -> Message:
        keyboard = markup if isinstance(markup, InlineKeyboardMarkup) else None
        old_text = self.screens.get((chat_id, message_id), ("", None))[0]
        self.screens[(chat_id, message_id)] = (text or old_text, keyboard)
        if keyboard is not None and keyboard.inline_keyboard:
            self.last_with_keyboard[chat_id] = max(message_id, self.last_with_keyboard.get(chat_id, 0))
        return Message(message_id=message_id, date=datetime.now(UTC), chat=Chat(id=chat_id, type="private"),
                       from_user=BOT_USER, text=text, reply_markup=keyboard)

    async def close(self) -> None:
        pass

    async def stream_content(self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True) -> AsyncGenerator[bytes, None]:
        data = self.files.get(url.rsplit("/", 1)[-1], b"")
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    def sent(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]

    def clear(self) -> None:
        self.requests.clear()
