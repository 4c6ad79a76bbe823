"""Bot API methods (everything except getUpdates, which the server handles as a long poll).

Each method takes the stand-in and the request's Params and returns the ``result`` value, or
raises ApiError with Telegram's code and wording.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import bad_request, forbidden
from .files import MAX_DOWNLOAD
from .html import HTMLParseError, parse_html, utf16_len
from .markup import validate_reply_markup
from .models import CallbackAnswer, ChatMessage, StoredFile, now
from .params import Params

if TYPE_CHECKING:
    from .server import BotAPIStandIn
    from .users import SimUser

Method = Callable[["BotAPIStandIn", Params], Awaitable[Any]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")

METHODS: dict[str, tuple[str, Method]] = {}  # lower-case name -> (canonical name, implementation)


def method(name: str) -> Callable[[Method], Method]:
    def register(func: Method) -> Method:
        METHODS[name.lower()] = (name, func)
        return func

    return register


@dataclass
class Formatted:
    html: str  # as the bot sent it
    text: str  # as the user sees it
    entities: list[dict[str, Any]]


# --- shared checks ------------------------------------------------------------------------------


def known_chat(api: BotAPIStandIn, p: Params) -> SimUser:
    raw = p.raw("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        user = api.chats.get(int(raw))
    except (TypeError, ValueError):
        user = None  # "@channel" usernames: the stand-in only has private chats
    if user is None:
        raise bad_request("chat not found")
    return user


def writable_chat(api: BotAPIStandIn, p: Params) -> SimUser:
    """The chat the bot may write to, or Telegram's 403 for users who blocked or never started it."""
    user = known_chat(api, p)
    if user.blocked:
        raise forbidden("bot was blocked by the user")
    if not user.started:
        raise forbidden("bot can't initiate conversation with a user")
    return user


def caption(p: Params) -> Formatted:
    """An optional caption, checked like Telegram checks one (sendDocument, sendPhoto, editMessageCaption)."""
    return formatted(p, "caption", "caption_entities", limit=MAX_CAPTION,
                     too_long="message caption is too long", required=False)


def formatted(
    p: Params, field: str, entities_field: str, *, limit: int, too_long: str, required: bool
) -> Formatted:
    """Parse text/caption with parse_mode or explicit entities, trim it and apply length limits."""
    raw = p.get_str(field) or ""
    explicit = p.get_json(entities_field)
    mode = (p.get_str("parse_mode") or "").lower()
    if explicit is not None:
        # Telegram ignores parse_mode when entities are given explicitly.
        if not isinstance(explicit, list) or not all(map(_is_entity, explicit)):
            raise bad_request(f"can't parse {entities_field} JSON object")
        text, entities = raw, explicit
    elif mode == "html":
        try:
            parsed = parse_html(raw)
        except HTMLParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        text, entities = parsed.text, parsed.entities
    elif mode in ("", "markdown", "markdownv2"):
        text, entities = raw, []  # Markdown is passed through unvalidated; the project uses HTML
    else:
        raise bad_request("unsupported parse_mode")
    text, entities = _trim(text, entities)
    if required and not text:
        raise bad_request("message text is empty")
    if len(text) > limit:
        raise bad_request(too_long)
    return Formatted(raw, text, entities)


def _is_entity(entity: Any) -> bool:
    return (
        isinstance(entity, dict)
        and isinstance(entity.get("type"), str)
        and isinstance(entity.get("offset"), int)
        and isinstance(entity.get("length"), int)
    )


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace as Telegram does, shifting and clipping entities to match."""
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    stripped = text.strip()
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(int(entity["offset"]) - lead, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def inline_markup(user: SimUser, p: Params) -> dict[str, Any] | None:
    """Validate reply_markup; remember a custom keyboard; return the inline keyboard to echo."""
    markup = p.get_json("reply_markup")
    inline = validate_reply_markup(markup)
    if isinstance(markup, dict) and "keyboard" in markup:
        user.reply_keyboard = [
            [b if isinstance(b, str) else b.get("text", "") for b in row] for row in markup["keyboard"]
        ]
    elif isinstance(markup, dict) and markup.get("remove_keyboard"):
        user.reply_keyboard = None
    return inline


def check_reply_target(user: SimUser, p: Params) -> None:
    reply = p.get_json("reply_parameters")
    reply = reply if isinstance(reply, dict) else {}
    target = reply.get("message_id") or p.get_int("reply_to_message_id")
    lenient = reply.get("allow_sending_without_reply") or p.get_bool("allow_sending_without_reply")
    if target is None or lenient:
        return
    message = user.history.get(target) if isinstance(target, int) else None
    if message is None or message.deleted:
        raise bad_request("message to be replied not found")


def post(
    api: BotAPIStandIn,
    user: SimUser,
    content: Formatted,
    markup: dict[str, Any] | None,
    file: StoredFile | None = None,
) -> dict[str, Any]:
    message = ChatMessage(
        user.allocate_message_id(),
        user.person,
        api.me,
        text=content.text,
        html=content.html,
        entities=content.entities,
        reply_markup=markup,
        file=file,
    )
    user.history[message.message_id] = message
    api.notify()
    return message.to_api()


def editable(user: SimUser, p: Params) -> ChatMessage:
    if "inline_message_id" in p:
        raise bad_request("message to edit not found")  # the stand-in has no inline mode
    message = user.history.get(p.required_int("message_id"))
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def apply_edit(
    api: BotAPIStandIn, message: ChatMessage, content: Formatted | None, markup: dict[str, Any] | None
) -> dict[str, Any]:
    new_text = (content.text, content.entities) if content else (message.text, message.entities)
    if new_text == (message.text, message.entities) and markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    if content is not None:
        message.text, message.html, message.entities = content.text, content.html, content.entities
    message.reply_markup = markup
    message.edit_date = now()
    api.notify()
    return message.to_api()


# --- identity and lifecycle ---------------------------------------------------------------------


@method("getMe")
async def get_me(api: BotAPIStandIn, p: Params) -> Any:
    return {
        **api.me.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


@method("close")
async def close(api: BotAPIStandIn, p: Params) -> Any:
    return True


@method("logOut")
async def log_out(api: BotAPIStandIn, p: Params) -> Any:
    return True


@method("setWebhook")
async def set_webhook(api: BotAPIStandIn, p: Params) -> Any:
    # Updates are then POSTed to the URL (see BotAPIStandIn.set_webhook), and getUpdates refuses, like Telegram.
    url = p.get_str("url") or ""
    if url and not _webhook_url_allowed(url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = p.get_json("allowed_updates")
    api.set_webhook(url, secret_token=secret, allowed_updates=allowed if isinstance(allowed, list) else None,
                    drop_pending_updates=p.get_bool("drop_pending_updates"),
                    max_connections=p.get_int("max_connections", 40) or 40)
    return True


@method("deleteWebhook")
async def delete_webhook(api: BotAPIStandIn, p: Params) -> Any:
    api.set_webhook("", drop_pending_updates=p.get_bool("drop_pending_updates"))
    return True


_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def _webhook_url_allowed(url: str) -> bool:
    """Telegram wants HTTPS; the stand-in also takes plain HTTP to this machine, where the tests run the bot."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


@method("getWebhookInfo")
async def get_webhook_info(api: BotAPIStandIn, p: Params) -> Any:
    return {"url": api.webhook_url, "has_custom_certificate": False, "pending_update_count": len(api.queue)}


# --- commands and profile -----------------------------------------------------------------------


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.get_json("scope") or {"type": "default"}
    return (
        scope.get("type", "default") if isinstance(scope, dict) else "default",
        p.get_str("language_code") or "",
    )


@method("setMyCommands")
async def set_my_commands(api: BotAPIStandIn, p: Params) -> Any:
    commands = p.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_NAME.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    api.commands[_commands_key(p)] = commands
    return True


@method("getMyCommands")
async def get_my_commands(api: BotAPIStandIn, p: Params) -> Any:
    return api.commands.get(_commands_key(p), [])


@method("deleteMyCommands")
async def delete_my_commands(api: BotAPIStandIn, p: Params) -> Any:
    api.commands.pop(_commands_key(p), None)
    return True


async def _accepted(api: BotAPIStandIn, p: Params) -> Any:
    return True


# Profile setters bots call at startup; the stand-in accepts and forgets them.
for _name in ("setMyDescription", "setMyShortDescription", "setMyName", "setChatMenuButton"):
    method(_name)(_accepted)


# --- messages -----------------------------------------------------------------------------------


@method("sendMessage")
async def send_message(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    content = formatted(p, "text", "entities", limit=MAX_TEXT, too_long="message is too long", required=True)
    markup = inline_markup(user, p)
    check_reply_target(user, p)
    return post(api, user, content, markup)


@method("editMessageText")
async def edit_message_text(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    message = editable(user, p)
    if message.file is not None:
        raise bad_request("there is no text in the message to edit")
    content = formatted(p, "text", "entities", limit=MAX_TEXT, too_long="message is too long", required=True)
    return apply_edit(api, message, content, validate_reply_markup(p.get_json("reply_markup")))


@method("editMessageCaption")
async def edit_message_caption(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    message = editable(user, p)
    if message.file is None:
        raise bad_request("there is no caption in the message to edit")
    content = caption(p)
    return apply_edit(api, message, content, validate_reply_markup(p.get_json("reply_markup")))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    message = editable(user, p)
    return apply_edit(api, message, None, validate_reply_markup(p.get_json("reply_markup")))


@method("deleteMessage")
async def delete_message(api: BotAPIStandIn, p: Params) -> Any:
    user = known_chat(api, p)
    message = user.history.get(p.required_int("message_id"))
    if message is None or message.deleted:
        raise bad_request("message to delete not found")
    message.deleted = True
    api.notify()
    return True


@method("deleteMessages")
async def delete_messages(api: BotAPIStandIn, p: Params) -> Any:
    user = known_chat(api, p)
    ids = p.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must be a non-empty list of at most 100 ids")
    for message_id in ids:
        message = user.history.get(int(message_id))
        if message is not None:
            message.deleted = True  # Telegram silently skips ids it can't delete
    api.notify()
    return True


@method("sendChatAction")
async def send_chat_action(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    action = p.get_str("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    user.chat_actions.append(action)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(api: BotAPIStandIn, p: Params) -> Any:
    callback = api.callbacks.get(p.get_str("callback_query_id") or "")
    if callback is None or callback.answer is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = p.get_str("text")
    if text and len(text) > MAX_CALLBACK_ANSWER:
        raise bad_request("MESSAGE_TOO_LONG")
    callback.answer = CallbackAnswer(text, p.get_bool("show_alert"), p.get_str("url"))
    api.chats[callback.chat_id].callback_answers.append(callback.answer)
    api.notify()
    return True


# --- files --------------------------------------------------------------------------------------


async def _send_file(api: BotAPIStandIn, p: Params, kind: str) -> Any:
    user = writable_chat(api, p)
    content = caption(p)
    markup = inline_markup(user, p)
    check_reply_target(user, p)
    stored = api.files.resolve(p.raw(kind), p.uploads, kind, kind)
    return post(api, user, content, markup, stored)


@method("sendDocument")
async def send_document(api: BotAPIStandIn, p: Params) -> Any:
    return await _send_file(api, p, "document")


@method("sendPhoto")
async def send_photo(api: BotAPIStandIn, p: Params) -> Any:
    return await _send_file(api, p, "photo")


@method("sendMediaGroup")
async def send_media_group(api: BotAPIStandIn, p: Params) -> Any:
    user = writable_chat(api, p)
    media = p.get_json("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the group: send 2 to 10 items")
    kinds = {item.get("type") for item in media if isinstance(item, dict)}
    if not kinds <= {"photo", "document"}:
        raise bad_request(
            f"the stand-in supports photo and document media only, got {sorted(map(str, kinds))}"
        )
    if len(kinds) > 1:
        raise bad_request("document can't be mixed with other media types")
    check_reply_target(user, p)
    sent = []
    for item in media:
        item_params = Params(item, p.uploads)
        content = caption(item_params)
        # Uploads arrive as attach://<part name>, the way aiogram sends every InputFile.
        stored = api.files.resolve(item.get("media"), p.uploads, "", item["type"])
        sent.append(post(api, user, content, None, stored))
    return sent


@method("getFile")
async def get_file(api: BotAPIStandIn, p: Params) -> Any:
    stored = api.files.get(p.get_str("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return stored.file_api()


def lookup(name: str) -> tuple[str, Method] | None:
    """Find a method by name, case-insensitively as Telegram does."""
    return METHODS.get(name.lower())
