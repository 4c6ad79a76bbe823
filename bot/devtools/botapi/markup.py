"""Validation of reply_markup with Telegram's limits for inline keyboards."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request

MAX_BUTTONS = 100
MAX_PER_ROW = 8
MAX_CALLBACK_BYTES = 64

# Exactly one of these makes an inline button do something.
_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[^\s/]+\.[^\s]+$|^tg://\S+$", re.IGNORECASE)


def validate_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Check a reply_markup; return the inline keyboard Telegram would echo in the Message, if any.

    Reply keyboards, ReplyKeyboardRemove and ForceReply are accepted but never echoed,
    matching Telegram (Message.reply_markup only ever carries an inline keyboard).
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_keyboard(markup["inline_keyboard"])}
    if {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
        return None
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays')
    total = sum(len(row) for row in rows)
    if total > MAX_BUTTONS:
        raise bad_request(f"reply markup is too long ({total} buttons, at most {MAX_BUTTONS} are allowed)")
    for number, row in enumerate(rows, start=1):
        if len(row) > MAX_PER_ROW:
            raise bad_request(
                f"reply markup is too long (row {number} has {len(row)} buttons, "
                f"at most {MAX_PER_ROW} are allowed)"
            )
        for button in row:
            _check_button(button)
    # Empty rows are invisible in Telegram, so they are not echoed either.
    return [list(row) for row in rows if row]


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [name for name in _ACTIONS if button.get(name) not in (None, False)]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used, "
            f"got {actions}"
        )
    if "callback_data" in actions:
        _check_callback_data(button["callback_data"])
    if "url" in actions and not _URL.match(str(button["url"])):
        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")


def _check_callback_data(data: Any) -> None:
    size = len(str(data).encode("utf-8"))
    if not isinstance(data, str) or not 1 <= size <= MAX_CALLBACK_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")


def button_labels(markup: dict[str, Any] | None) -> list[list[str]]:
    if not markup:
        return []
    return [[button["text"] for button in row] for row in markup.get("inline_keyboard", [])]
