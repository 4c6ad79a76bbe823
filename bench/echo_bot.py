"""The baseline for bench/flow.py: a bare aiogram echo bot, nothing else.

Each message is answered with one sendMessage (the text echoed, with a 3-button inline keyboard);
each button press with answerCallbackQuery + editMessageText (same keyboard, so users can press
again). No database, no FSM storage beyond aiogram's default, no middlewares. Long polling with the
same aiogram defaults as `moments run`, and the same logging level, so aiogram's per-update log line
is paid by both.

    .venv/bin/python bench/echo_bot.py --api-base http://127.0.0.1:8081 --token 123456:STAND-IN-TOKEN

SIGINT/SIGTERM stop polling, close the session and exit 0 (bench/flow.py relies on that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import logging

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[
    InlineKeyboardButton(text="One", callback_data="one"),
    InlineKeyboardButton(text="Two", callback_data="two"),
    InlineKeyboardButton(text="Three", callback_data="three"),
]])


def dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.escape(message.text or ""), reply_markup=KEYBOARD)

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            # The query id makes every edit differ from the previous one ("message is not modified").
            await query.message.edit_text(f"pressed {html.escape(query.data or '')} ({query.id})",
                                          reply_markup=KEYBOARD)

    return dp


async def run(api_base: str, token: str) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    bot = Bot(token, session=session,
              default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True))
    dp = dispatcher()
    try:
        await dp.start_polling(bot, allowed_updates=dp.resolve_used_update_types(), handle_signals=True)
    finally:
        await bot.session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True, help="Bot API base URL, e.g. the stand-in's")
    parser.add_argument("--token", required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.api_base, args.token))


if __name__ == "__main__":
    main()
