"""Simulated Telegram users: what a test drives, and what the bot's messages land on."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .html import utf16_len
from .models import Attachment, CallbackAnswer, ChatMessage, Person, StoredFile

if TYPE_CHECKING:
    from .server import BotAPIStandIn

# Telegram marks /commands anywhere in a message (optionally addressed: /start@some_bot).
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")


def command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in _COMMAND.finditer(text)
    ]


class SimUser:
    """A user in a private chat with the bot (chat id == user id).

    Actions (``send``, ``press``, ``press_data``, ``send_document``) queue an update and return
    once the bot has answered; see ``BotAPIStandIn`` for the exact rule. Inspection
    (``screen()``, ``messages``, ``documents``) reflects edits and deletes.
    """

    def __init__(self, api: BotAPIStandIn, person: Person) -> None:
        self._api = api
        self.person = person
        self.started = False  # has written to the bot, so the bot may write back
        self.blocked = False
        self.history: dict[int, ChatMessage] = {}  # every message in the chat, by id
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[str] = []
        self.reply_keyboard: list[list[str]] | None = None  # the custom keyboard currently shown
        self.calls = 0  # API calls the bot made for this chat; "answered" counts these
        self._next_message_id = 1

    @property
    def id(self) -> int:
        return self.person.id

    @property
    def name(self) -> str:
        return self.person.first_name

    def __repr__(self) -> str:
        return f"<SimUser {self.id} {self.name!r}>"

    # --- what the user sees -----------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """The bot's messages in this chat, oldest first, as they look now."""
        return [m for m in self.history.values() if m.from_bot and not m.deleted]

    def screen(self) -> ChatMessage:
        """The latest bot message in this chat."""
        messages = self.messages
        if not messages:
            raise AssertionError(f"{self.name} ({self.id}) has no messages from the bot")
        return messages[-1]

    @property
    def documents(self) -> list[Attachment]:
        return self._attachments("document")

    @property
    def photos(self) -> list[Attachment]:
        return self._attachments("photo")

    def _attachments(self, kind: str) -> list[Attachment]:
        found = (m.attachment() for m in self.messages if m.kind == kind)
        return [a for a in found if a is not None]

    # --- actions ----------------------------------------------------------------------------

    async def send(
        self, text: str, *, expect_answer: bool = True, timeout: float | None = None
    ) -> dict[str, Any]:
        """Write ``text`` to the bot; returns the update (for re-delivery via ``api.enqueue_raw``)."""
        message = self._new_message(text=text, entities=command_entities(text))
        return await self._api.deliver(
            self, {"message": message}, expect_answer=expect_answer, timeout=timeout
        )

    async def send_document(
        self,
        path: str | Path,
        caption: str | None = None,
        *,
        filename: str | None = None,
        expect_answer: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Upload the file at ``path``; the bot can getFile and download it."""
        path = Path(path)
        name = filename or path.name
        stored = self._api.files.add(
            path.read_bytes(),
            kind="document",
            filename=name,
            mime_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        )
        message = self._new_message(text=caption or "", stored=stored)
        return await self._api.deliver(
            self, {"message": message}, expect_answer=expect_answer, timeout=timeout
        )

    async def press(
        self, label: str, *, expect_answer: bool = True, timeout: float | None = None
    ) -> CallbackAnswer | None:
        """Press the inline button ``label`` on the latest bot message that has a keyboard.

        Returns the bot's answerCallbackQuery (None if it did not answer).
        """
        message = self._latest_keyboard()
        button = message.button(label)
        if button is None:
            raise AssertionError(
                f"no button {label!r} on message {message.message_id} for {self.name}; "
                f"available: {message.labels}\n--- screen ---\n{message}"
            )
        if "callback_data" not in button:
            kind = next(k for k in button if k != "text")
            raise AssertionError(
                f"button {label!r} is a {kind} button ({button[kind]!r}); it has no callback"
            )
        return await self.press_data(
            button["callback_data"],
            message_id=message.message_id,
            expect_answer=expect_answer,
            timeout=timeout,
        )

    async def press_data(
        self,
        data: str,
        message_id: int | None = None,
        *,
        expect_answer: bool = True,
        timeout: float | None = None,
    ) -> CallbackAnswer | None:
        """Send a callback query with raw ``data`` (a forged or stale press).

        ``message_id`` defaults to the latest bot message with a keyboard (else the latest bot
        message); a deleted or unknown id arrives as an inaccessible message, as in Telegram.
        """
        target = self._press_target(message_id)
        callback = self._api.new_callback(self, target, data)
        update = {
            "callback_query": {
                "id": callback.id,
                "from": self.person.to_api(),
                "message": self._callback_message(target),
                "chat_instance": str(-self.id),
                "data": data,
            }
        }
        await self._api.deliver(self, update, expect_answer=expect_answer, timeout=timeout)
        return callback.answer

    async def wait_for_message(self, timeout: float | None = None) -> ChatMessage:
        """Wait for a new bot message the bot sends on its own (a reminder, a broadcast)."""
        return await self._api.wait_for_new_message(self, timeout)

    def block(self) -> None:
        """Block the bot: its messages now fail with 403, and it gets a my_chat_member update."""
        self.blocked = True
        self._api.enqueue_member_change(self, old="member", new="kicked")

    def unblock(self) -> None:
        self.blocked = False
        self._api.enqueue_member_change(self, old="kicked", new="member")

    # --- helpers for the stand-in -----------------------------------------------------------

    def allocate_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def _new_message(
        self, *, text: str, entities: list[dict[str, Any]] | None = None, stored: StoredFile | None = None
    ) -> dict[str, Any]:
        if self.blocked:
            raise AssertionError(f"{self.name} has blocked the bot; call unblock() before writing to it")
        self.started = True
        message = ChatMessage(
            self.allocate_message_id(),
            self.person,
            self.person,
            text=text,
            html=text,
            entities=entities or [],
            file=stored,
        )
        self.history[message.message_id] = message
        return message.to_api()

    def _latest_keyboard(self) -> ChatMessage:
        with_keyboard = [m for m in self.messages if m.labels]
        if not with_keyboard:
            latest = self.messages[-1] if self.messages else "(no bot messages)"
            raise AssertionError(f"{self.name} has no bot message with an inline keyboard; latest:\n{latest}")
        return with_keyboard[-1]

    def _press_target(self, message_id: int | None) -> int:
        if message_id is not None:
            return message_id
        if any(m.labels for m in self.messages):
            return self._latest_keyboard().message_id
        return self.screen().message_id

    def _callback_message(self, message_id: int) -> dict[str, Any]:
        message = self.history.get(message_id)
        if message is None or message.deleted:
            # Telegram's InaccessibleMessage: the bot can no longer see the message.
            return {"chat": self.person.private_chat(), "message_id": message_id, "date": 0}
        return message.to_api()
