"""Drive the real Dispatcher with real Update objects, as Telegram would, without a network."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, Chat, Document, InlineKeyboardMarkup, Message, MessageEntity, Update, User

from bot.app import App, build_app, build_dispatcher
from bot.config import Config
from tests.fakes import BOT_USER, RecordingSession

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


@dataclass
class Harness:
    config: Config
    app: App
    dp: Dispatcher
    bot: Bot
    session: RecordingSession
    people: dict[int, Person] = field(default_factory=dict)

    @classmethod
    async def start(cls, config: Config, session: RecordingSession | None = None) -> Harness:
        app = await build_app(config)
        session = session or RecordingSession()
        bot = Bot("42:TEST", session=session)
        bot._me = BOT_USER
        from aiogram.client.default import DefaultBotProperties

        bot.default = DefaultBotProperties(parse_mode="HTML")
        return cls(config, app, build_dispatcher(app), bot, session)

    async def stop(self) -> None:
        await self.dp.storage.close()
        await self.app.close()

    def person(self, telegram_id: int, name: str = "Ann", language: str = "en") -> Person:
        return self.people.setdefault(telegram_id, Person(self, telegram_id, name, language))

    async def feed(self, update: Update) -> Any:
        return await self.dp.feed_update(self.bot, update)


@dataclass
class Person:
    h: Harness
    telegram_id: int
    name: str
    language: str

    @property
    def user(self) -> User:
        return User(id=self.telegram_id, is_bot=False, first_name=self.name, language_code=self.language)

    @property
    def chat(self) -> Chat:
        return Chat(id=self.telegram_id, type="private", first_name=self.name)

    def message_update(self, text: str, update_id: int | None = None) -> Update:
        entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))] \
            if text.startswith("/") else None
        message = Message(message_id=next(_message_ids), date=datetime.now(UTC), chat=self.chat,
                          from_user=self.user, text=text, entities=entities)
        return Update(update_id=update_id or next(_update_ids), message=message)

    async def send(self, text: str) -> Update:
        update = self.message_update(text)
        await self.h.feed(update)
        return update

    async def send_document(self, data: bytes, filename: str = "playbook.yaml", caption: str | None = None,
                            file_size: int | None = -1) -> Update:
        """Send a file as a document; the bot can getFile and download it. file_size -1: the real size."""
        file_id = f"f{next(_message_ids)}"
        self.h.session.files[file_id] = data
        document = Document(file_id=file_id, file_unique_id=file_id, file_name=filename,
                            file_size=len(data) if file_size == -1 else file_size)
        message = Message(message_id=next(_message_ids), date=datetime.now(UTC), chat=self.chat,
                          from_user=self.user, document=document, caption=caption)
        update = Update(update_id=next(_update_ids), message=message)
        await self.h.feed(update)
        return update

    def screen(self) -> tuple[str, list[str]]:
        """The latest message with buttons in this chat: its text and button labels."""
        message_id = self.h.session.last_with_keyboard.get(self.telegram_id)
        if message_id is None:
            return "", []
        text, keyboard = self.h.session.screens[(self.telegram_id, message_id)]
        return text, [b.text for row in (keyboard.inline_keyboard if keyboard else []) for b in row]

    def last_text(self) -> str:
        from aiogram.methods import EditMessageText, SendMessage

        for request in reversed(self.h.session.requests):
            if isinstance(request, SendMessage | EditMessageText) and int(request.chat_id or 0) == self.telegram_id:
                return request.text
        return ""

    def callback_update(self, data: str, message_id: int | None = None, update_id: int | None = None) -> Update:
        message_id = message_id or self.h.session.last_with_keyboard.get(self.telegram_id, 1)
        text, keyboard = self.h.session.screens.get((self.telegram_id, message_id), ("", None))
        message = Message(message_id=message_id, date=datetime.now(UTC), chat=self.chat, from_user=BOT_USER,
                          text=text or "…", reply_markup=keyboard if isinstance(keyboard, InlineKeyboardMarkup)
                          else None)
        query = CallbackQuery(id=str(next(_update_ids)), from_user=self.user, chat_instance="ci", data=data,
                              message=message)
        return Update(update_id=update_id or next(_update_ids), callback_query=query)

    def button_data(self, label: str) -> str:
        message_id = self.h.session.last_with_keyboard.get(self.telegram_id)
        assert message_id is not None, "no message with buttons yet"
        _, keyboard = self.h.session.screens[(self.telegram_id, message_id)]
        labels = []
        for row in keyboard.inline_keyboard if keyboard else []:
            for button in row:
                labels.append(button.text)
                if button.text == label:
                    assert button.callback_data is not None
                    return button.callback_data
        raise AssertionError(f"no button {label!r}; the screen has {labels}")

    async def press(self, label: str) -> Update:
        update = self.callback_update(self.button_data(label))
        await self.h.feed(update)
        return update

    async def press_data(self, data: str) -> Update:
        update = self.callback_update(data)
        await self.h.feed(update)
        return update

    def alerts(self) -> list[str]:
        from aiogram.methods import AnswerCallbackQuery

        return [r.text for r in self.h.session.sent(AnswerCallbackQuery) if r.text]
