"""`moments demo`: chat with the real bot in a terminal, with no token and no internet.

The Bot API stand-in (bot/devtools/botapi) runs on 127.0.0.1 and the unchanged bot long-polls it, in
one asyncio process; the terminal plays one Telegram user. Every text the bot shows comes from its own
templates and locales; only the terminal chrome below (intro, prompt, markers) lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.app import App, build_app, build_bot, build_dispatcher, set_commands
from bot.config import Config
from bot.devtools.botapi import BotAPIStandIn, CallbackAnswer, ChatMessage, SimUser
from bot.devtools.botapi.html import utf16_len
from storage import people
from storage.db import Database

DEMO_USER_ID = 1
PROMPT = "> "
QUIT = "/quit"
LITERAL = "'"  # '2 sends "2": an amount must not press button 2
INTRO = (
    "Moments demo, offline: you are {name} ({role}). Type /start for the menu, or what is happening "
    '(e.g. "customer has no receipt, wants a refund"); a number presses that button ({literal}5 sends "5" '
    "as text); {quit} or Ctrl-D leaves."
)
BOT_HEADER = "── Moments ──"
UPDATED = " (updated)"
ALERT = "(!) "
TOAST = "(i) "
NO_ANSWER = "(the bot did not answer: {detail})"
NOT_A_CALLBACK = "(that button opens {target}, which the demo cannot follow)"

# Each style has its own "off" code, so nested bold+italic switch off independently.
_STYLES: dict[str, tuple[str, str]] = {
    "bold": ("\x1b[1m", "\x1b[22m"),
    "italic": ("\x1b[3m", "\x1b[23m"),
    "underline": ("\x1b[4m", "\x1b[24m"),
    "strikethrough": ("\x1b[9m", "\x1b[29m"),
}
_HEADER_STYLE = ("\x1b[1;36m", "\x1b[0m")
_DIM = ("\x1b[2m", "\x1b[0m")


# --- rendering -----------------------------------------------------------------------------------


def render_text(text: str, entities: list[dict[str, Any]], *, color: bool) -> str:
    """A message's text for a terminal: styles as ANSI (if ``color``), links as "text (url)".

    ``text`` is already plain (tags removed, ``&amp;`` decoded); entities carry the formatting, with
    offsets in UTF-16 code units as Telegram counts them.
    """
    starts = _utf16_starts(text)
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for entity in sorted(entities, key=lambda e: (e["offset"], -e["length"])):
        begin, end = entity["offset"], entity["offset"] + entity["length"]
        style = _STYLES.get(entity["type"]) if color else None
        if style:
            opens.setdefault(begin, []).append(style[0])
            closes.setdefault(end, []).insert(0, style[1])  # inner entities close first
        url = entity.get("url")
        if entity["type"] == "text_link" and url and _slice16(text, starts, begin, end) != url:
            closes.setdefault(end, []).append(f" ({url})")
    out: list[str] = []
    for offset, char in zip(starts, text, strict=True):
        out.extend(closes.get(offset, []) + opens.get(offset, []))
        out.append(char)
    for offset in sorted(o for o in closes if o >= utf16_len(text)):  # entities ending at (or past) the end
        out.extend(closes[offset])
    return "".join(out)


def _utf16_starts(text: str) -> list[int]:
    """The UTF-16 offset at which each character of ``text`` starts."""
    starts, offset = [], 0
    for char in text:
        starts.append(offset)
        offset += utf16_len(char)
    return starts


def _slice16(text: str, starts: list[int], begin: int, end: int) -> str:
    return "".join(char for offset, char in zip(starts, text, strict=True) if begin <= offset < end)


def callback_buttons(message: ChatMessage) -> list[list[dict[str, Any]]]:
    """The message's inline keyboard, row by row (raw button objects)."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [list(row) for row in rows]


# --- the terminal --------------------------------------------------------------------------------


class LineReader:
    """Reads stdin lines in a daemon thread, one per request, so the event loop never blocks on input.

    A daemon thread (not run_in_executor) because a read blocked at Ctrl-C must not keep the process alive.
    One line per request keeps the prompt after the bot's answer instead of racing ahead of it.
    """

    def __init__(self, stream: TextIO, out: TextIO) -> None:
        self._stream = stream
        self._out = out
        self._requests: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Future[str | None], str]] = (
            queue.Queue()
        )
        threading.Thread(target=self._serve, name="demo-stdin", daemon=True).start()

    async def read(self, prompt: str) -> str | None:
        """The next line without its newline, or None at end of input."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        self._requests.put((loop, future, prompt))
        return await future

    def _serve(self) -> None:
        while True:
            loop, future, prompt = self._requests.get()
            line = self._read_line(prompt)
            with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
                loop.call_soon_threadsafe(_resolve, future, line)

    def _read_line(self, prompt: str) -> str | None:
        # input() gives line editing on a terminal; a pipe is read directly so prompts still flush.
        if self._stream is sys.stdin and self._stream.isatty():
            try:
                return input(prompt)
            except EOFError:
                return None
        self._out.write(prompt)
        line = self._stream.readline()
        if line:  # nobody echoes piped input; echoing it keeps a transcript readable
            self._out.write(line if line.endswith("\n") else line + "\n")
        self._out.flush()
        return line.rstrip("\r\n") if line else None


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


@dataclass
class Screen:
    """Prints what changed in the chat since last time, and knows which buttons the numbers mean."""

    user: SimUser
    out: TextIO
    color: bool
    seen: dict[int, tuple[str, str]] = field(default_factory=dict)
    answers_seen: int = 0
    choices: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (message id, button)

    def show_changes(self) -> None:
        self._show_answers()
        messages = self.user.messages
        latest = messages[-1].message_id if messages else None
        printed = False
        for message in messages:
            state = (message.text + json.dumps(message.entities), json.dumps(message.reply_markup))
            before = self.seen.get(message.message_id)
            self.seen[message.message_id] = state
            if before == state:
                continue
            # The bot takes the buttons off screens that are no longer live; reprinting those is noise.
            if before is not None and before[0] == state[0] and message.message_id != latest:
                continue
            self._print_message(message, updated=before is not None)
            printed = True
        if printed:  # after only an alert the buttons are the ones already on screen
            self._show_choices(messages[-1])
        self.out.flush()

    def say(self, text: str) -> None:
        self.out.write(self._style(text, _DIM) + "\n")
        self.out.flush()

    def _show_answers(self) -> None:
        for answer in self.user.callback_answers[self.answers_seen:]:
            self._print_answer(answer)
        self.answers_seen = len(self.user.callback_answers)

    def _print_answer(self, answer: CallbackAnswer) -> None:
        if answer.text:
            self.out.write((ALERT if answer.show_alert else TOAST) + answer.text + "\n")

    def _print_message(self, message: ChatMessage, *, updated: bool) -> None:
        header = BOT_HEADER + (UPDATED if updated else "")
        self.out.write("\n" + self._style(header, _HEADER_STYLE) + "\n")
        self.out.write(render_text(message.text, message.entities, color=self.color) + "\n")

    def _show_choices(self, latest: ChatMessage) -> None:
        """Number the latest message's buttons; they are what a typed number presses."""
        self.choices = []
        lines = []
        for row in callback_buttons(latest):
            cells = []
            for button in row:
                self.choices.append((latest.message_id, button))
                cells.append(f"[{len(self.choices)}] {button['text']}")
            lines.append("  " + "  ".join(cells))
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def _style(self, text: str, style: tuple[str, str]) -> str:
        return f"{style[0]}{text}{style[1]}" if self.color else text


async def act(screen: Screen, line: str) -> None:
    """A number presses that button of the latest message; anything else is sent as a message."""
    user = screen.user
    try:
        if line.startswith(LITERAL) and line[1:].strip():
            await user.send(line[1:].strip())
        elif line.isdigit() and 1 <= int(line) <= len(screen.choices):
            message_id, button = screen.choices[int(line) - 1]
            data = button.get("callback_data")
            if data is None:
                target = next((str(v) for k, v in button.items() if k != "text"), "something")
                screen.say(NOT_A_CALLBACK.format(target=target))
                return
            await user.press_data(data, message_id=message_id)
        else:
            await user.send(line)
    except AssertionError as problem:  # the stand-in's "not answered in time", worded for tests
        screen.say(NO_ANSWER.format(detail=str(problem).splitlines()[0]))
    screen.show_changes()


# --- wiring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    name: str
    role: str = "admin"
    language: str | None = None
    database_url: str | None = None  # None: a throwaway SQLite file


def demo_name() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "Demo"


@contextlib.contextmanager
def database_url(given: str | None) -> Iterator[str]:
    """The database to use: the one given, else a SQLite file in a temporary folder removed at exit."""
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="moments-demo-") as folder:
        yield f"sqlite:///{Path(folder) / 'moments.db'}"


def demo_config(config: Config, api: BotAPIStandIn, options: DemoOptions, url: str) -> Config:
    """The user's configuration, pointed at the stand-in; the bot itself runs unchanged."""
    admins = [*config.admins, DEMO_USER_ID] if options.role == "admin" else config.admins
    update: dict[str, Any] = {"bot_token": api.token, "telegram_api_base": api.base_url, "admins": admins,
                              "database_url": url}
    if options.language:
        update["default_language"] = options.language
    return config.model_copy(update=update)


async def register(config: Config, options: DemoOptions) -> None:
    """Make the demo user known with the chosen role (also in a kept database where they had another)."""
    db = Database(config.database_url)
    try:
        await db.migrate()
        async with db.session() as session:
            await people.upsert_user(session, DEMO_USER_ID, role=options.role, team=config.default_team,
                                     name=options.name, language=config.default_language)
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def running_bot(config: Config) -> AsyncIterator[App]:
    """The real bot long-polling the stand-in; stopped cleanly (polling, session, database) on exit."""
    app = await build_app(config)
    bot = build_bot(config)
    dp = build_dispatcher(app)
    polling: asyncio.Task[None] | None = None
    try:
        await set_commands(bot, app.renderer)
        polling = asyncio.create_task(
            dp.start_polling(bot, allowed_updates=dp.resolve_used_update_types(), handle_signals=False))
        yield app
    finally:
        if polling is not None:
            if not polling.done():
                # stop_polling(), not cancel(): cancelling orphans aiogram's inner polling task.
                with contextlib.suppress(RuntimeError):  # polling had not really started yet
                    await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        await bot.session.close()
        await app.close()


async def run_demo(config: Config, options: DemoOptions, stdin: TextIO = sys.stdin,
                   stdout: TextIO = sys.stdout) -> int:
    """Chat until /quit or end of input; returns the exit code."""
    color = stdout.isatty() and not os.environ.get("NO_COLOR")
    with database_url(options.database_url) as url:
        async with BotAPIStandIn(host="127.0.0.1", port=0) as api:
            demo = demo_config(config, api, options, url)
            await register(demo, options)
            async with running_bot(demo):
                await api.wait_for_poll()
                user = api.user(DEMO_USER_ID, options.name, language=demo.default_language)
                if options.database_url:
                    continue_ids(api, user)
                await chat(Screen(user, stdout, color), LineReader(stdin, stdout), options)
    return 0


def continue_ids(api: BotAPIStandIn, user: SimUser) -> None:
    """Number this run's updates and messages after any earlier run's, for a database that is kept.

    The stand-in counts from 1 each time, but the bot remembers update ids (it skips repeats) and the
    message showing a flow; reused ids would be ignored, or strip the buttons off the wrong message.
    Milliseconds since the epoch grow faster than any demo sends.
    """
    base = int(time.time() * 1000)
    api.queue.next_id = base
    user._next_message_id = base  # no public setter; the stand-in is ours, and this is its only user


async def chat(screen: Screen, reader: LineReader, options: DemoOptions) -> None:
    screen.say(INTRO.format(name=options.name, role=options.role, literal=LITERAL, quit=QUIT))
    while True:
        line = await reader.read(PROMPT)
        if line is None or line.strip() == QUIT:
            if line is None:
                screen.out.write("\n")  # end of input leaves the cursor after the prompt
            return
        if line.strip():
            await act(screen, line.strip())


def quiet_logging() -> None:
    """The conversation is the output; the bot's INFO chatter (polling started...) would drown it.

    DEBUG, asked for on purpose, is kept for troubleshooting.
    """
    root = logging.getLogger()
    if root.level > logging.DEBUG:
        root.setLevel(max(root.level, logging.WARNING))
