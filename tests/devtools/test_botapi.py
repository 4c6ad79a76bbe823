"""The Bot API stand-in, exercised by a real aiogram bot over HTTP."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    Message,
    TelegramObject,
)

from bot.devtools.botapi import BotAPIStandIn, HTMLParseError, parse_html

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Ping", callback_data="ping"),
            InlineKeyboardButton(text="File", callback_data="file"),
        ]
    ]
)


class FastSession(AiohttpSession):
    """aiogram's session sleeps 250 ms on close for TLS; plain HTTP on localhost doesn't need it."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def echo_dispatcher(seen_update_ids: list[int]) -> Dispatcher:
    dp = Dispatcher()

    @dp.update.outer_middleware()
    async def record(handler: Any, update: TelegramObject, data: dict[str, Any]) -> Any:
        seen_update_ids.append(update.update_id)  # type: ignore[attr-defined]
        return await handler(update, data)

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        name = html.escape(message.from_user.first_name)  # type: ignore[union-attr]
        await message.answer(f"Hello, <b>{name}</b>!", reply_markup=KEYBOARD)

    @dp.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        data = await bot.download(message.document)  # type: ignore[arg-type]
        name = html.escape(message.document.file_name or "")  # type: ignore[union-attr]
        await message.answer(f"Got {name}: {len(data.getvalue())} bytes")  # type: ignore[union-attr]

    @dp.message(F.text == "ignore me")
    async def ignore(message: Message) -> None:
        return None

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.escape(message.text or ""), reply_markup=KEYBOARD)

    @dp.callback_query(F.data == "ping")
    async def ping(callback: CallbackQuery) -> None:
        await callback.answer("pong")
        await callback.message.edit_text("<i>Pong!</i>", reply_markup=KEYBOARD)  # type: ignore[union-attr]

    @dp.callback_query(F.data == "file")
    async def send_file(callback: CallbackQuery, bot: Bot) -> None:
        upload = BufferedInputFile(b"hello world", filename="hello.txt")
        await bot.send_document(callback.from_user.id, upload, caption="<b>your</b> file")
        await callback.answer()

    @dp.callback_query()
    async def unknown_button(callback: CallbackQuery) -> None:
        await callback.answer("This button has expired", show_alert=True)

    return dp


@pytest.fixture
async def api() -> AsyncIterator[BotAPIStandIn]:
    async with BotAPIStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def bot(api: BotAPIStandIn) -> AsyncIterator[Bot]:
    session = FastSession(api=api.telegram_server)
    bot = Bot(api.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield bot
    await session.close()


@pytest.fixture
def seen_update_ids() -> list[int]:
    return []


@pytest.fixture
async def polling(api: BotAPIStandIn, bot: Bot, seen_update_ids: list[int]) -> AsyncIterator[None]:
    dp = echo_dispatcher(seen_update_ids)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    # Once a poll is waiting, stop_polling() is valid; cancelling the task instead would orphan
    # aiogram's inner polling task, which then logs errors when the stand-in goes away.
    await api.wait_for_poll()
    yield
    await dp.stop_polling()
    await task


def message_update(user_id: int, text: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "Raw"}
    chat = {"id": user_id, "type": "private", "first_name": "Raw"}
    return {"message": {"message_id": 1, "date": 0, "chat": chat, "from": person, "text": text}}


# --- getUpdates ---------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, "Ann")
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    sent = await ann.send("hi", expect_answer=False)  # returns once the poll has fetched it
    updates = await poll
    assert loop.time() - started < 1
    assert [u.update_id for u in updates] == [sent["update_id"]] == [1]
    assert updates[0].message.text == "hi"  # type: ignore[union-attr]


async def test_offsets_confirm_updates_like_telegram(api: BotAPIStandIn, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        await api.enqueue_raw(message_update(7, text), wait=False)
    assert [u.update_id for u in await bot.get_updates(timeout=0, limit=2)] == [1, 2]
    # Without an offset nothing is confirmed, so the same updates come back.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [1, 2, 3]
    assert [u.update_id for u in await bot.get_updates(offset=3, timeout=0)] == [3]
    assert await bot.get_updates(offset=4, timeout=0) == []
    assert await bot.get_updates(timeout=0) == []  # confirmed updates are gone for good
    await api.enqueue_raw(message_update(7, "four"), wait=False)
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [4]


async def test_allowed_updates_drop_other_types(api: BotAPIStandIn, bot: Bot) -> None:
    await api.enqueue_raw(message_update(7, "dropped"), wait=False)
    assert await bot.get_updates(timeout=0, allowed_updates=["callback_query"]) == []
    assert await bot.get_updates(timeout=0, allowed_updates=["message"]) == []


async def test_stopping_releases_a_pending_long_poll() -> None:
    async with BotAPIStandIn() as own:
        session = FastSession(api=own.telegram_server)
        own_bot = Bot(own.token, session=session)
        poll = asyncio.create_task(own_bot.get_updates(timeout=30))
        await own.wait_for_poll()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await own.stop()
        assert await asyncio.wait_for(poll, 2) == []
        assert loop.time() - started < 1.5
        await session.close()


# --- simulated users against a polling bot ------------------------------------------------------


@pytest.mark.usefixtures("polling")
async def test_send_press_and_screen(api: BotAPIStandIn) -> None:
    ann = api.user(42, "Ann")
    await ann.send("/start")
    screen = ann.screen()
    assert screen.text == "Hello, Ann!"
    assert screen.html == "Hello, <b>Ann</b>!"
    assert screen.entities == [{"type": "bold", "offset": 7, "length": 3}]
    assert screen.buttons == [["Ping", "File"]]
    assert str(screen) == "Hello, Ann!\n[Ping]  [File]"

    answer = await ann.press("Ping")
    assert answer is not None and answer.text == "pong"
    assert ann.screen().text == "Pong!"
    assert ann.screen().message_id == screen.message_id  # edited in place
    assert len(ann.messages) == 1

    await ann.send("a < b & c")
    assert ann.screen().text == "a < b & c"
    assert [m.message_id for m in ann.messages] == [2, 4]  # ids are per chat, shared with Ann's own

    with pytest.raises(AssertionError, match=r"no button 'Pong'.*\['Ping', 'File'\]"):
        await ann.press("Pong")
    api.assert_no_errors()


@pytest.mark.usefixtures("polling")
async def test_forged_press_reaches_the_bot(api: BotAPIStandIn) -> None:
    ann = api.user(1, "Ann")
    await ann.send("/start")
    answer = await ann.press_data("stale:123")
    assert answer is not None and answer.show_alert and answer.text == "This button has expired"
    assert ann.callback_answers == [answer]


@pytest.mark.usefixtures("polling")
async def test_documents_both_ways(api: BotAPIStandIn, tmp_path: Path) -> None:
    ann = api.user(1, "Ann")
    await ann.send("/start")
    await ann.press("File")  # the bot uploads with multipart and attach://
    [sent] = ann.documents
    assert (sent.filename, sent.data, sent.caption) == ("hello.txt", b"hello world", "your file")
    assert ann.screen().kind == "document"

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"twelve bytes")
    await ann.send_document(notes, caption="my notes")
    assert ann.screen().text == "Got notes.txt: 12 bytes"  # the bot used getFile + download
    assert len(api.calls_to("getFile")) == 1
    api.assert_no_errors()


@pytest.mark.usefixtures("polling")
async def test_blocked_user_gets_403_while_others_are_served(api: BotAPIStandIn, bot: Bot) -> None:
    ann, bob, cat = api.user(1, "Ann"), api.user(2, "Bob"), api.user(3, "Cat")
    await ann.send("/start")
    await bob.send("/start")
    ann.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ann.id, "are you there?")
    await bob.send("still here")
    assert bob.screen().text == "still here"
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
        await bot.send_message(cat.id, "hello stranger")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "nobody")
    ann.unblock()
    await bot.send_message(ann.id, "welcome back")
    assert ann.screen().text == "welcome back"
    assert [e.code for e in api.errors] == [403, 403, 400]


@pytest.mark.usefixtures("polling")
async def test_redelivered_update_keeps_its_id(api: BotAPIStandIn, seen_update_ids: list[int]) -> None:
    ann = api.user(1, "Ann")
    first = await ann.send("hello")
    await api.redeliver(first["update_id"], expect_answer=True)
    await api.enqueue_raw(first, expect_answer=True)
    await ann.send("again")
    assert seen_update_ids == [1, 1, 1, 2]
    assert [m.text for m in ann.messages] == ["hello", "hello", "hello", "again"]


@pytest.mark.usefixtures("polling")
async def test_waiting_explains_what_never_happened(api: BotAPIStandIn) -> None:
    ann = api.user(1, "Ann")
    with pytest.raises(AssertionError, match="made no API call for chat 1"):
        await ann.send("ignore me", timeout=0.5)
    await ann.send("ignore me", expect_answer=False)  # fine when silence is expected


async def test_waiting_without_a_poller_fails_clearly(api: BotAPIStandIn) -> None:
    with pytest.raises(AssertionError, match="not fetched by getUpdates"):
        await api.user(1).send("hello?", timeout=0.2)


# --- strictness ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["<b>x", "a < b", "AT&T", "<script>alert(1)</script>", "<b>x</i>"])
async def test_invalid_html_is_rejected(api: BotAPIStandIn, bot: Bot, text: str) -> None:
    api.user(1, started=True)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(1, text)
    assert api.errors[0].code == 400


@pytest.mark.parametrize(("text", "shown"), [("&lt;b&gt;", "<b>"), ("<b>ok</b>", "ok")])
async def test_valid_html_is_accepted(api: BotAPIStandIn, bot: Bot, text: str, shown: str) -> None:
    ann = api.user(1, started=True)
    sent = await bot.send_message(1, text)
    assert sent.text == shown == ann.screen().text
    api.assert_no_errors()


async def test_length_is_counted_after_parsing(api: BotAPIStandIn, bot: Bot) -> None:
    api.user(1, started=True)
    await bot.send_message(1, "a" * 4096)
    await bot.send_message(1, "<b>" + "a" * 4096 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1, "a" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1, "<b> </b>")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(1, BufferedInputFile(b"x", "x.txt"), caption="c" * 1025)


def _keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        (_keyboard([InlineKeyboardButton(text="x", callback_data="d" * 65)]), "BUTTON_DATA_INVALID"),
        (_keyboard([InlineKeyboardButton(text="x", callback_data="é" * 33)]), "BUTTON_DATA_INVALID"),
        (_keyboard([InlineKeyboardButton(text=str(i), callback_data="d") for i in range(9)]), "row 1 has 9"),
        (_keyboard(*[[InlineKeyboardButton(text="b", callback_data="d")] for _ in range(101)]), "too long"),
        (_keyboard([InlineKeyboardButton(text="", callback_data="d")]), "Text must be non-empty"),
        (_keyboard([InlineKeyboardButton(text="x")]), "Text buttons are unallowed"),
        (_keyboard([InlineKeyboardButton(text="x", callback_data="d", url="https://a.io")]), "exactly one"),
    ],
)
async def test_keyboard_limits(
    api: BotAPIStandIn, bot: Bot, markup: InlineKeyboardMarkup, error: str
) -> None:
    api.user(1, started=True)
    with pytest.raises(TelegramBadRequest, match=error):
        await bot.send_message(1, "pick", reply_markup=markup)


async def test_keyboard_at_the_limits_is_accepted(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, started=True)
    row = [InlineKeyboardButton(text=str(i), callback_data="d" * 64) for i in range(8)]
    await bot.send_message(1, "pick", reply_markup=_keyboard(*[row] * 12, row[:4]))
    assert len(ann.screen().labels) == 100


async def test_edits_and_deletes_are_checked(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, started=True)
    sent = await bot.send_message(1, "<b>v1</b>", reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message content"):
        await bot.edit_message_text("<b>v1</b>", chat_id=1, message_id=sent.message_id, reply_markup=KEYBOARD)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=1, message_id=sent.message_id, reply_markup=KEYBOARD)
    # Same text with different formatting is a real change, and dropping reply_markup removes the keyboard.
    await bot.edit_message_text("<i>v1</i>", chat_id=1, message_id=sent.message_id)
    assert ann.screen().labels == []
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("v2", chat_id=1, message_id=99)
    await bot.delete_message(1, sent.message_id)
    assert ann.messages == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(1, sent.message_id)


async def test_media_group_uploads_via_attach(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, started=True)
    media = [
        InputMediaDocument(media=BufferedInputFile(b"a", "a.txt"), caption="<b>first</b>"),
        InputMediaDocument(media=BufferedInputFile(b"bb", "b.txt")),
    ]
    sent = await bot.send_media_group(1, media)
    assert [m.document.file_name for m in sent] == ["a.txt", "b.txt"]  # type: ignore[union-attr]
    assert [(d.filename, d.data, d.caption) for d in ann.documents] == [
        ("a.txt", b"a", "first"),
        ("b.txt", b"bb", None),
    ]


async def test_photos_must_be_images(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, started=True)
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000002000000030806000000"
        "9d74cbd60000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
    )
    sent = await bot.send_photo(1, BufferedInputFile(png, "dot.png"), caption="a dot")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (2, 3)  # type: ignore[index]
    assert [(p.data, p.caption) for p in ann.photos] == [(png, "a dot")]
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(1, BufferedInputFile(b"%PDF-1.4", "doc.pdf"))


async def test_waiting_for_a_message_the_bot_sends_on_its_own(api: BotAPIStandIn, bot: Bot) -> None:
    ann = api.user(1, started=True)
    reminder = asyncio.create_task(bot.send_message(1, "Reminder: <b>standup</b>"))
    assert (await ann.wait_for_message()).text == "Reminder: standup"
    await reminder


# --- faults -------------------------------------------------------------------------------------


async def test_injected_faults(api: BotAPIStandIn, bot: Bot) -> None:
    api.user(1, started=True)
    api.faults.fail_next("sendMessage", 1, status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as limited:
        await bot.send_message(1, "x")
    assert limited.value.retry_after == 3
    await bot.send_message(1, "next call succeeds")

    api.faults.server_error("sendMessage", 1)
    with pytest.raises(TelegramServerError):
        await bot.send_message(1, "x")
    api.faults.drop_connection("sendMessage", 1)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(1, "x")

    api.faults.rate_limit("sendMessage", per_second=2, retry_after=1)
    await bot.send_message(1, "one")
    await bot.send_message(1, "two")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(1, "three")
    api.faults.clear()

    api.faults.slow("getMe", 0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.get_me()
    assert loop.time() - started >= 0.2
    assert [f.kind for f in api.faults.fired] == ["error", "error", "drop", "rate_limit"]
    api.assert_no_errors()  # injected faults are not the bot's mistakes


async def test_429_body_carries_retry_after(api: BotAPIStandIn) -> None:
    api.faults.fail_next("getMe", status=429, retry_after=7)
    async with aiohttp.ClientSession() as http, http.post(f"{api.base_url}/bot{api.token}/getMe") as resp:
        assert resp.status == 429
        assert await resp.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }


# --- raw HTTP -----------------------------------------------------------------------------------


async def test_unknown_method_is_404_and_recorded(api: BotAPIStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot{api.token}/sendTeleport", json={"chat_id": 1}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.post(f"{api.base_url}/bot1:wrong/getMe") as resp:
            assert resp.status == 401
    assert api.unknown_methods == ["sendTeleport"]


async def test_json_form_and_query_parameters(api: BotAPIStandIn) -> None:
    ann = api.user(5, "Eve", started=True)
    url = f"{api.base_url}/bot{api.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with aiohttp.ClientSession() as http:
        body = {"chat_id": 5, "text": "<b>json</b>", "parse_mode": "HTML", "reply_markup": markup}
        async with http.post(url, json=body) as resp:
            result = (await resp.json())["result"]
        assert result["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
        assert result["reply_markup"] == markup
        form = {
            "chat_id": "5",
            "text": "form",
            "reply_markup": '{"inline_keyboard": [[{"text": "Go", "url": "https://a.io"}]]}',
        }
        async with http.post(url, data=form) as resp:
            assert resp.status == 200
        async with http.get(url, params={"chat_id": "5", "text": "query"}) as resp:
            assert resp.status == 200
    assert [m.text for m in ann.messages] == ["json", "form", "query"]


async def test_webhook_and_commands(api: BotAPIStandIn, bot: Bot) -> None:
    await api.enqueue_raw(message_update(7, "pending"), wait=False)
    await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == []

    await bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert api.commands[("default", "")] == [{"command": "start", "description": "Begin"}]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    ann = api.user(1, started=True)
    assert await bot.send_chat_action(ann.id, "typing")
    assert ann.chat_actions == ["typing"]


# --- the HTML parser on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("plain", "plain", []),
        ("<b>bold</b> <strong>s</strong>", "bold s", [("bold", 0, 4), ("bold", 5, 1)]),
        (
            "<i>i</i><em>e</em><u>u</u><ins>n</ins>",
            "ieun",
            [("italic", 0, 1), ("italic", 1, 1), ("underline", 2, 1), ("underline", 3, 1)],
        ),
        ("<s>a</s><strike>b</strike><del>c</del>", "abc", [("strikethrough", i, 1) for i in range(3)]),
        (
            '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>',
            "xy",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ('<a href="https://t.me/x?a=1&b=2">link</a>', "link", [("text_link", 0, 4)]),
        ("<code>c</code>", "c", [("code", 0, 1)]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", 0, 5)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", [("custom_emoji", 0, 2)]),
        ("<b>bold <i>both</i></b>", "bold both", [("bold", 0, 9), ("italic", 5, 4)]),
        ("&lt;&gt;&amp;&quot;&#65;&#x42;&#x27;", "<>&\"AB'", []),
        ("😀<b>x</b>", "😀x", [("bold", 2, 1)]),  # offsets are UTF-16 code units
        ("<B>caps</B>", "caps", [("bold", 0, 4)]),
        ("<b></b>x", "x", []),
    ],
)
def test_parse_html_accepts(source: str, text: str, entities: list[tuple[str, int, int]]) -> None:
    parsed = parse_html(source)
    assert parsed.text == text
    assert [(e["type"], e["offset"], e["length"]) for e in parsed.entities] == entities


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x <5", "Unclosed start tag at byte offset 2"),
        ("<script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<br/>", 'Unsupported start tag "br/"'),
        ("AT&T", "Unsupported HTML entity at byte offset 2"),
        ("&nbsp;", "Unsupported HTML entity"),
        ("&#xD800;", "Unsupported HTML entity"),
        ("ü&", "Unsupported HTML entity at byte offset 2"),  # byte offsets count UTF-8 bytes
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<a href="x>y</a>', "Unclosed start tag"),
        ("<b class>x</b>", "Expected equal sign"),
        ("<b>x</b", "Unclosed end tag"),
    ],
)
def test_parse_html_rejects(source: str, error: str) -> None:
    with pytest.raises(HTMLParseError) as raised:
        parse_html(source)
    assert error in str(raised.value)
