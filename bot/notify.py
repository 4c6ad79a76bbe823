"""Messages to many people, sent in the background at a gentle pace, so nobody's reply waits for them.

One `Notifications` per application: every batch is an asyncio task kept in `tasks` (so it is not
garbage-collected mid-way) until it ends; `drain()` awaits them (tests, shutdown). Each person gets one
send: someone who blocked the bot is skipped and counted, any other failure is logged and counted, and the
loop goes on. Flood control (429) and transient errors are retried by the session (bot/retry.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup

log = logging.getLogger(__name__)

PER_SECOND = 20.0  # Telegram allows about 30 messages a second to different chats: stay well below


@dataclass(frozen=True)
class Delivery:
    chat_id: int
    text: str
    keyboard: InlineKeyboardMarkup | None = None


@dataclass
class Tally:
    sent: int = 0
    blocked: int = 0  # the person blocked the bot (or deleted their account)
    failed: int = 0  # anything else

    @property
    def unreached(self) -> int:
        return self.blocked + self.failed


Done = Callable[[Tally], Awaitable[None]]


class Notifications:
    def __init__(self, per_second: float = PER_SECOND) -> None:
        self.interval = 1.0 / per_second
        self.tasks: set[asyncio.Task[Tally]] = set()

    def start(self, bot: Bot, deliveries: Sequence[Delivery], done: Done | None = None) -> asyncio.Task[Tally]:
        """Send in the background; `done` is awaited with the tally at the end (e.g. to tell the sender)."""
        task = asyncio.create_task(self._send_all(bot, list(deliveries), done), name="moments-notifications")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _send_all(self, bot: Bot, deliveries: list[Delivery], done: Done | None) -> Tally:
        tally = Tally()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for delivery in deliveries:
            wait = next_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            next_at = max(next_at, loop.time()) + self.interval
            try:
                await bot.send_message(delivery.chat_id, delivery.text, reply_markup=delivery.keyboard)
                tally.sent += 1
            except TelegramForbiddenError:
                tally.blocked += 1
                log.info("chat %s blocked the bot: skipped", delivery.chat_id)
            except TelegramAPIError as exc:
                tally.failed += 1
                log.warning("could not notify chat %s: %s", delivery.chat_id, exc)
            except Exception:  # one person's failure never stops the others
                tally.failed += 1
                log.exception("could not notify chat %s", delivery.chat_id)
        if done is not None:
            try:
                await done(tally)
            except Exception:
                log.exception("reporting a notification batch failed")
        return tally

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every batch running now (and any they start); after `timeout` seconds, cancel the rest."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self.tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                for task in list(self.tasks):
                    task.cancel()
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
                log.warning("notifications still sending at shutdown were cancelled")
                return
            await asyncio.wait(set(self.tasks), timeout=left)
