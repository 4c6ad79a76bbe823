"""Retry Bot API calls on flood control (429 retry_after) and transient network or server errors.

aiogram raises TelegramRetryAfter / TelegramNetworkError / TelegramServerError from inside the
session, so a request middleware sees them and can try again, bounded in attempts and time.

Flood control applies to the whole bot, so every 429 is also reported to listeners (the training fan-out
pauses all its sends). Code that paces and retries its own requests (the fan-out) sends inside
`caller_retries()`: the middleware then tries once and leaves the retry to it, so a retry cannot slip past
the caller's rate limiter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

FloodListener = Callable[[float], None]  # called with retry_after (seconds) on every 429
_CALLER_RETRIES: ContextVar[bool] = ContextVar("moments_caller_retries", default=False)


@contextmanager
def caller_retries() -> Iterator[None]:
    """Requests made inside (in this task) are tried once: the caller handles 429s and errors itself."""
    token = _CALLER_RETRIES.set(True)
    try:
        yield
    finally:
        _CALLER_RETRIES.reset(token)


class RetryMiddleware(BaseRequestMiddleware):
    def __init__(self, attempts: int = 5, max_wait: float = 30.0, base_delay: float = 0.2) -> None:
        self.attempts = attempts
        self.max_wait = max_wait
        self.base_delay = base_delay
        self._flood_listeners: list[FloodListener] = []

    def add_flood_listener(self, listener: FloodListener) -> None:
        self._flood_listeners.append(listener)

    def remove_flood_listener(self, listener: FloodListener) -> None:
        if listener in self._flood_listeners:
            self._flood_listeners.remove(listener)

    def _report_flood(self, retry_after: float) -> None:
        for listener in list(self._flood_listeners):
            try:
                listener(retry_after)
            except Exception:  # a listener's bug must not turn into a failed request
                log.exception("flood listener failed")

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)  # the polling loop has its own back-off
        if _CALLER_RETRIES.get():
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self._report_flood(exc.retry_after)
                raise
        for attempt in range(1, self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self._report_flood(exc.retry_after)
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                log.warning("flood control on %s: retrying in %ss", type(method).__name__, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError) as exc:
                if attempt == self.attempts:
                    raise
                delay = min(self.base_delay * 2 ** (attempt - 1), 5.0)
                log.warning("%s failed (%s): retry %d in %.1fs", type(method).__name__, exc, attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
