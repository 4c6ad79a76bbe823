"""The training fan-out: sends queued cards (storage/deliveries.py) within Telegram's limits, once each.

`senders` workers each take one row at a time: claim (pending → sending, a guarded UPDATE) → compose →
wait for the rate limiter → sendMessage → mark sent at once. Claiming right before the request means a crash
leaves at most `senders` rows 'sending'; a later process re-sends them once the claim is older than
`stale_claim_seconds`. A request that reached Telegram just before its process died is therefore sent twice:
at-least-once is the price of never skipping anyone (bench/fanout.py measures how often it happens).

Errors: 429 → every send pauses for retry_after (flood control is per bot), then the same row is tried again;
403 (blocked, deactivated) → the row is 'blocked' and the person unreachable until they write again; network
errors and 5xx → exponential back-off, then 'failed'; 400 → 'failed' with Telegram's description. The loop never
dies of one row. Logs carry row ids and Telegram's error descriptions, never the message text.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup

from bot.config import TrainingConfig
from bot.metrics import TRAINING
from bot.retry import RetryMiddleware, caller_retries
from storage import deliveries
from storage.db import Database
from storage.deliveries import DeliveryJob
from storage.types import utcnow

log = logging.getLogger(__name__)

COMPOSE_TIMEOUT = 30.0  # seconds


@dataclass(frozen=True)
class Outgoing:
    text: str
    reply_markup: InlineKeyboardMarkup | None = None


# None: the card is gone or retired, so the row is cancelled instead of sent.
Compose = Callable[[DeliveryJob], Awaitable[Outgoing | None]]


class RateLimiter:
    """Send times for the whole bot: at least 1/per_second apart overall, per_chat_seconds apart per chat.

    `acquire` reserves the earliest free time at once (so callers are served in the order they asked) and
    sleeps until then: no polling. Even spacing rather than bursts of per_second: Telegram (and the stand-in)
    count over a sliding second, and a burst plus a little network jitter crosses it. A chat that must wait
    takes a later slot without holding back the others. `pause` (a 429) pushes every send past its end.
    And whatever the spacing, no second holds more than ceil(per_second) sends: when the event loop stalls,
    the slots that fell due meanwhile would otherwise all go at once.
    """

    def __init__(self, per_second: float, per_chat_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self.per_chat_seconds = per_chat_seconds
        self._clock = clock
        self._slots: list[float] = []  # reserved send times, sorted; old ones dropped
        self._chat_next: dict[int, float] = {}  # earliest next send per chat
        self._paused_until = 0.0
        self.pauses = 0
        self.window_budget = max(1, math.ceil(per_second))
        self._granted: deque[float] = deque()  # when the sends of the last second were let go

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1

    def reserve(self, chat_id: int, not_before: float = 0.0) -> float:
        """The send time for one message to chat_id (also what `acquire` waits for)."""
        now = self._clock()
        self._forget(now)
        t = max(now, not_before, self._paused_until, self._chat_next.get(chat_id, 0.0))
        # The first gap of at least `interval` on both sides, from t on.
        for slot in self._slots[bisect.bisect_left(self._slots, t - self.interval):]:
            if slot >= t + self.interval:
                break
            t = max(t, slot + self.interval)
        bisect.insort(self._slots, t)
        self._chat_next[chat_id] = t + self.per_chat_seconds
        return t

    def _unreserve(self, t: float, chat_id: int, chat_before: float | None) -> None:
        index = bisect.bisect_left(self._slots, t)
        if index < len(self._slots) and self._slots[index] == t:
            del self._slots[index]
        if chat_before is None:
            self._chat_next.pop(chat_id, None)
        else:
            self._chat_next[chat_id] = chat_before

    async def acquire(self, chat_id: int) -> None:
        not_before = 0.0
        while True:
            chat_before = self._chat_next.get(chat_id)
            t = self.reserve(chat_id, not_before)
            delay = t - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            now = self._clock()
            if now < self._paused_until:
                # A 429 came while we waited: our slot is inside the pause; take a new one after it.
                self._unreserve(t, chat_id, chat_before)
                continue
            while self._granted and now - self._granted[0] >= 1.0:
                self._granted.popleft()
            if len(self._granted) < self.window_budget:
                self._granted.append(now)
                return
            # Woken late with others (a stall): this second is full; go when its oldest send leaves it.
            self._unreserve(t, chat_id, chat_before)
            not_before = self._granted[0] + 1.0

    def _forget(self, now: float) -> None:
        cut = bisect.bisect_left(self._slots, now - self.interval)
        if cut:
            del self._slots[:cut]
        if len(self._chat_next) > 4096:  # people who got a card long ago no longer constrain anything
            self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}


@dataclass
class FanoutStats:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    cancelled: int = 0
    retry_after_seen: int = 0  # 429s answered to the fan-out's own sends
    flood_reports: int = 0  # 429s anywhere in the bot, reported by RetryMiddleware (includes the above)
    network_retries: int = 0
    lost_claims: int = 0  # rows another process took over while this one waited (not sent here)
    released: int = 0  # claimed rows given back unsent at stop


class Fanout:
    """Background sender of training deliveries; see the module docstring."""

    def __init__(self, bot: Bot, db: Database, compose: Compose, settings: TrainingConfig, *,
                 clock: Callable[[], datetime] = utcnow, limiter: RateLimiter | None = None,
                 idle_poll_seconds: float | None = None, network_attempts: int = 5,
                 backoff_seconds: float = 0.5, backoff_max_seconds: float = 30.0) -> None:
        self.bot = bot
        self.db = db
        self.compose = compose
        self.settings = settings
        self.clock = clock
        self.limiter = limiter or RateLimiter(settings.messages_per_second, settings.per_chat_seconds)
        self.stats = FanoutStats()
        self.stale_seconds = float(settings.stale_claim_seconds)
        # Rows inserted by another process, and claims going stale, are only seen by looking again.
        self.idle_poll_seconds = idle_poll_seconds or min(5.0, max(0.5, self.stale_seconds / 2))
        self.network_attempts = network_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        # A request must end well before its claim could be taken as stale by another process.
        self.request_timeout = max(1, int(self.stale_seconds // 2))
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._wake_seq = 0
        self._wake_event = asyncio.Event()
        self._idle: dict[int, int] = {}  # worker → the wake generation at which it found nothing to do
        self._state_event = asyncio.Event()
        self._next_stale_look = 0.0  # time.monotonic()
        self._preparing = asyncio.Lock()
        self._retry: list[RetryMiddleware] = [m for m in bot.session.middleware if isinstance(m, RetryMiddleware)]

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    def start(self) -> None:
        """Start the workers; they pick up pending rows and stale claims at once."""
        if self._tasks:
            raise RuntimeError("the fan-out is already started")
        for middleware in self._retry:
            middleware.add_flood_listener(self._on_flood)
        self._tasks = [asyncio.create_task(self._worker(n), name=f"fanout-{n}") for n in range(self.settings.senders)]
        log.info("training fan-out started: %d senders, %.1f messages/s, %.1f s per chat",
                 self.settings.senders, self.settings.messages_per_second, self.settings.per_chat_seconds)

    def wake(self) -> None:
        """New rows were inserted (or someone became reachable): look now instead of at the next poll."""
        self._wake_seq += 1
        self._wake_event.set()
        self._wake_event = asyncio.Event()

    async def stop(self, timeout: float = 10.0) -> None:
        """Let requests in flight finish (and be marked), give unsent claimed rows back, and return."""
        if not self._tasks:
            return
        self._stopping = True
        self._stop_event.set()
        self.wake()
        _, unfinished = await asyncio.wait(self._tasks, timeout=timeout)
        for task in unfinished:
            task.cancel()  # a request still hanging: its row stays 'sending' and is re-sent when stale
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for middleware in self._retry:
            middleware.remove_flood_listener(self._on_flood)
        log.info("training fan-out stopped: %s", self.stats)

    async def drain_until_idle(self, timeout: float = 30.0) -> None:
        """Wait until every worker has found nothing to claim after this call (tests, benchmarks)."""
        if not self._tasks:
            raise RuntimeError("the fan-out is not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.wake()
        target = self._wake_seq
        while not (len(self._idle) == len(self._tasks) and all(seq >= target for seq in self._idle.values())):
            for task in self._tasks:
                if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                    raise error
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the fan-out was still busy after {timeout}s: {self.stats}")
            event = self._state_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # --- the workers -------------------------------------------------------------------------------

    def _changed(self) -> None:
        self._state_event.set()
        self._state_event = asyncio.Event()

    def _on_flood(self, retry_after: float) -> None:
        self.stats.flood_reports += 1
        self.limiter.pause(retry_after)

    async def _worker(self, n: int) -> None:
        while not self._stopping:
            seq = self._wake_seq
            # One worker at a time claims and composes: the others' cards are in flight meanwhile, and the
            # database queue stays short, so a sent card is marked within milliseconds (on SQLite every
            # statement waits for the one connection); that is the window in which a crash makes a duplicate.
            async with self._preparing:
                if self._stopping:
                    return
                try:
                    jobs = await self._claim()
                except Exception:
                    log.exception("claiming a training delivery failed")
                    jobs = None
                outgoing = await self._compose(jobs[0]) if jobs else None
            if jobs is None:
                await self._sleep(self.idle_poll_seconds)
            elif not jobs:
                await self._wait_for_work(n, seq)
            elif outgoing is not None:
                await self._send(jobs[0], outgoing)

    async def _claim(self) -> list[DeliveryJob]:
        """One row. Claims left by dead processes are looked for about once a second, and always before a
        worker goes idle: one statement per card instead of two in the common case."""
        now = self.clock()
        stale_before = now - timedelta(seconds=self.stale_seconds)
        look_stale = time.monotonic() >= self._next_stale_look
        if look_stale:
            self._next_stale_look = time.monotonic() + 1.0
        jobs = await deliveries.claim(self.db, now, stale_before if look_stale else None, limit=1)
        if not jobs and not look_stale:
            jobs = await deliveries.claim(self.db, now, stale_before, limit=1)
        return jobs

    async def _wait_for_work(self, n: int, seq: int) -> None:
        event = self._wake_event
        if seq != self._wake_seq or self._stopping:
            return  # woken while claiming: look again
        self._idle[n] = seq
        self._changed()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.idle_poll_seconds)
        finally:
            self._idle.pop(n, None)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, cut short by stop(); False if stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        return not self._stopping

    async def _unless_stopping(self, waiting: Coroutine[Any, Any, None]) -> bool:
        """Run a wait (the rate limiter) unless stop() comes first; False if stopping."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return task.done() and not task.cancelled() and not self._stopping

    async def _compose(self, job: DeliveryJob) -> Outgoing | None:
        """The message, or None when the row is settled without sending (cancelled, failed)."""
        try:
            # Bounded: the other workers wait for this one (a hang would stop every card).
            outgoing = await asyncio.wait_for(self.compose(job), COMPOSE_TIMEOUT)
        except Exception as exc:
            log.exception("composing training delivery %d failed", job.id)
            await self._record(deliveries.mark_failed, job.id, f"compose: {type(exc).__name__}")
            self.stats.failed += 1
            TRAINING.labels(result="failed").inc()
            return None
        if outgoing is None:
            await self._record(deliveries.mark_cancelled, job.id, "card gone")
            self.stats.cancelled += 1
        return outgoing

    async def _send(self, job: DeliveryJob, outgoing: Outgoing) -> None:
        failures = 0
        while True:
            if not await self._unless_stopping(self.limiter.acquire(job.chat_id)):
                await self._release(job)
                return
            renewed = await self._renewed(job)
            if renewed is None:
                return
            job = renewed
            try:
                with caller_retries():  # 429s and errors come back here, to go through the limiter again
                    message = await self.bot.send_message(chat_id=job.chat_id, text=outgoing.text,
                                                          reply_markup=outgoing.reply_markup,
                                                          request_timeout=self.request_timeout)
            except TelegramRetryAfter as exc:
                self.stats.retry_after_seen += 1
                self.limiter.pause(exc.retry_after)
                log.warning("flood control on training delivery %d: every send waits %s s", job.id, exc.retry_after)
                continue
            except TelegramForbiddenError as exc:
                log.info("training delivery %d: person %d unreachable (%s)", job.id, job.user_id, exc.message)
                await self._record(deliveries.mark_blocked, job.id, job.user_id, self.clock())
                self.stats.blocked += 1
                TRAINING.labels(result="blocked").inc()
                return
            except (TelegramNetworkError, TelegramServerError) as exc:
                failures += 1
                if failures >= self.network_attempts:
                    log.error("training delivery %d failed after %d attempts: %s", job.id, failures, exc.message)
                    await self._record(deliveries.mark_failed, job.id, exc.message)
                    self.stats.failed += 1
                    TRAINING.labels(result="failed").inc()
                    return
                delay = min(self.backoff_seconds * 2 ** (failures - 1), self.backoff_max_seconds)
                log.warning("training delivery %d: %s; retry %d in %.1f s", job.id, exc.message, failures, delay)
                self.stats.network_retries += 1
                if not await self._sleep(delay):
                    await self._release(job)
                    return
                continue
            except (TelegramBadRequest, TelegramAPIError) as exc:
                log.error("training delivery %d refused: %s", job.id, exc.message)
                await self._record(deliveries.mark_failed, job.id, exc.message)
                self.stats.failed += 1
                TRAINING.labels(result="failed").inc()
                return
            except Exception as exc:  # a bug (say, a bad keyboard): this row fails, the loop goes on
                log.exception("training delivery %d failed", job.id)
                await self._record(deliveries.mark_failed, job.id, type(exc).__name__)
                self.stats.failed += 1
                TRAINING.labels(result="failed").inc()
                return
            await self._record(deliveries.mark_sent, job.id, message.message_id, self.clock())
            self.stats.sent += 1
            TRAINING.labels(result="sent").inc()
            return

    async def _renewed(self, job: DeliveryJob) -> DeliveryJob | None:
        """The claim, refreshed if it is getting old (a long pause), or None if another process took it."""
        assert job.claimed_at is not None
        if (self.clock() - job.claimed_at).total_seconds() < self.stale_seconds / 3:
            return job
        try:
            renewed = await deliveries.renew(self.db, job, self.clock())
        except Exception:
            log.exception("renewing the claim on training delivery %d failed", job.id)
            renewed = None
        if renewed is None:
            self.stats.lost_claims += 1
            log.warning("training delivery %d: claim lost to another process; not sent here", job.id)
        return renewed

    async def _release(self, job: DeliveryJob) -> None:
        try:
            if await deliveries.release(self.db, job.id, job.claimed_at):
                self.stats.released += 1
        except Exception:  # it stays 'sending' and is taken again once stale
            log.exception("releasing training delivery %d failed", job.id)

    async def _record(self, write: Callable[..., Awaitable[None]], *args: Any) -> None:
        """A status write (storage.deliveries.mark_*; args after the database), retried briefly: if it never
        lands, the row is re-sent once its claim is stale."""
        for attempt in range(5):
            try:
                await write(self.db, *args)
                return
            except Exception:
                if attempt == 4:
                    log.exception("recording training delivery %s failed; it may be sent again", args[0])
                    return
                await asyncio.sleep(0.2 * 2 ** attempt)
