"""The stand-in's records of chats, messages and files, and their Bot API JSON shapes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .markup import button_labels


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Person:
    """A Telegram user (the bot is one too)."""

    id: int
    first_name: str
    is_bot: bool = False
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def private_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class StoredFile:
    """A file the stand-in holds, reachable by file_id and by its download path."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str  # "document" | "photo"
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    def to_api(self) -> dict[str, Any]:
        """Document or PhotoSize JSON, as it appears inside a Message."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.kind == "photo":
            data.update(width=self.width, height=self.height)
            return data
        if self.filename:
            data["file_name"] = self.filename
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data

    def file_api(self) -> dict[str, Any]:
        """File JSON, as getFile returns it."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


class Attachment(NamedTuple):
    """A file the bot sent to a user, as a test inspects it."""

    filename: str | None
    data: bytes
    caption: str | None
    mime_type: str | None
    message_id: int
    file_id: str


class CallbackAnswer(NamedTuple):
    """What the bot answered to a button press (the toast or alert the user saw)."""

    text: str | None
    show_alert: bool
    url: str | None


@dataclass
class CallbackQuery:
    """A press the stand-in delivered, so answerCallbackQuery can be checked and recorded."""

    id: str
    chat_id: int
    message_id: int
    data: str
    answer: CallbackAnswer | None = None


class Call(NamedTuple):
    """One request the bot made; params are as received (files shown by name).

    ``status`` is the HTTP status answered, or 0 when the connection was dropped (a fault).
    """

    method: str
    params: dict[str, Any]
    chat_id: int | None
    status: int


@dataclass(eq=False)
class ChatMessage:
    """A message in a private chat. For bot messages this is also what ``user.screen()`` returns.

    ``text`` is what the user sees (tags removed, entities decoded); ``html`` is what the bot
    sent. For a document or photo both refer to the caption.
    """

    message_id: int
    chat: Person
    sender: Person
    text: str = ""
    html: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    file: StoredFile | None = None
    date: int = field(default_factory=now)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def kind(self) -> str:
        return self.file.kind if self.file else "text"

    @property
    def buttons(self) -> list[list[str]]:
        """Inline keyboard labels, row by row."""
        return button_labels(self.reply_markup)

    @property
    def labels(self) -> list[str]:
        return [label for row in self.buttons for label in row]

    def button(self, label: str) -> dict[str, Any] | None:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return next((b for row in rows for b in row if b["text"] == label), None)

    def attachment(self) -> Attachment | None:
        if self.file is None:
            return None
        file = self.file
        return Attachment(
            file.filename, file.data, self.text or None, file.mime_type, self.message_id, file.file_id
        )

    def __repr__(self) -> str:
        state = " deleted" if self.deleted else (" edited" if self.edit_date else "")
        sender = self.sender.first_name
        return f"<ChatMessage {self.message_id} from {sender}{state}: {self.text!r} {self.labels}>"

    def __str__(self) -> str:
        lines = [f"[{self.kind}: {self.file.filename or self.file.file_id}]"] if self.file else []
        if self.text:
            lines.append(self.text)
        lines.extend("  ".join(f"[{label}]" for label in row) for row in self.buttons)
        return "\n".join(lines)

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.private_chat(),
            "from": self.sender.to_api(),
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        data.update(self._content_api())
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data

    def _content_api(self) -> dict[str, Any]:
        if self.file is None:
            return {"text": self.text, **({"entities": self.entities} if self.entities else {})}
        content: dict[str, Any] = {}
        if self.file.kind == "photo":
            content["photo"] = [self.file.to_api()]
        else:
            content["document"] = self.file.to_api()
        if self.text:
            content["caption"] = self.text
        if self.entities:
            content["caption_entities"] = self.entities
        return content
