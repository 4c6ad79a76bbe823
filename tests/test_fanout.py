"""bot/fanout.py: a real aiogram Bot (with the project's RetryMiddleware) against the Bot API stand-in.

No test asserts how long something took: counts, orders, and lower bounds of spacing with a wide margin.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from sqlalchemy import update

from bot.config import TrainingConfig
from bot.devtools.botapi import BotAPIStandIn, SimUser
from bot.fanout import Fanout, Outgoing, RateLimiter
from bot.retry import RetryMiddleware, caller_retries
from storage import deliveries
from storage.db import Database
from storage.deliveries import DeliveryJob
from storage.models import TrainingDelivery
from storage.types import utcnow
from tests.test_deliveries import all_rows, profile, rows_for, seed

# --- the rate limiter alone, on a fake clock ------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_spaces_every_send_and_each_chat() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, per_chat_seconds=1, clock=clock)
    times = [limiter.reserve(chat) for chat in (1, 2, 3, 4)]
    assert times == pytest.approx([100.0, 100.1, 100.2, 100.3])
    # Chat 1 again: a second after its last send, and it does not hold back chat 5 behind it.
    assert limiter.reserve(1) == pytest.approx(101.0)
    assert limiter.reserve(5) == pytest.approx(100.4)
    gaps = sorted([*times, 101.0, 100.4])
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(gaps))


def test_limiter_fills_gaps_left_by_a_waiting_chat() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, per_chat_seconds=1, clock=clock)
    assert limiter.reserve(1) == pytest.approx(100.0)
    assert limiter.reserve(1) == pytest.approx(101.0)
    # Everyone else fits between 100 and 101, 0.1 s apart, around the reserved 101.0.
    others = [limiter.reserve(chat) for chat in range(2, 13)]
    assert others[:9] == pytest.approx([100.1 + 0.1 * i for i in range(9)])
    assert others[9:] == pytest.approx([101.1, 101.2])


def test_limiter_pause_pushes_every_send() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, per_chat_seconds=0, clock=clock)
    limiter.reserve(1)
    limiter.pause(5)
    assert limiter.reserve(2) == pytest.approx(105.0)
    assert limiter.reserve(3) == pytest.approx(105.1)
    limiter.pause(1)  # a shorter pause does not shorten the one running
    assert limiter.paused_until == pytest.approx(105.0)
    assert limiter.pauses == 1


async def test_limiter_waiters_caught_by_a_pause_wait_for_its_end() -> None:
    limiter = RateLimiter(per_second=20, per_chat_seconds=0)
    loop = asyncio.get_running_loop()
    done: list[tuple[int, float]] = []

    async def send(chat: int) -> None:
        await limiter.acquire(chat)
        done.append((chat, loop.time()))

    tasks = [asyncio.create_task(send(chat)) for chat in range(5)]
    await asyncio.sleep(0)  # all five have reserved their slots
    limiter.pause(0.3)
    await asyncio.gather(*tasks)
    assert [chat for chat, _ in done] == [0, 1, 2, 3, 4]  # in the order they asked
    assert all(t >= limiter.paused_until - 0.01 for _, t in done[1:])


async def test_after_a_stall_no_second_holds_more_than_the_rate() -> None:
    limiter = RateLimiter(per_second=10, per_chat_seconds=0)
    loop = asyncio.get_running_loop()
    granted: list[float] = []

    async def send(chat: int) -> None:
        await limiter.acquire(chat)
        granted.append(loop.time())  # no await in between: this is when the limiter let it go

    tasks = [asyncio.create_task(send(chat)) for chat in range(15)]
    await asyncio.sleep(0)  # every task has reserved a slot, 0.1 s apart
    time.sleep(1.2)  # the event loop stalls: a dozen slots fall due at once
    await asyncio.gather(*tasks)
    assert len(granted) == 15
    assert all(sum(1 for t in granted if start <= t < start + 1.0) <= 10 for start in granted)


# --- the fan-out against the stand-in ------------------------------------------------------------


@dataclass
class Sent:
    chat_id: int
    at: float
    status: int


class TimedAPI(BotAPIStandIn):
    """The stand-in, plus when each sendMessage was answered and with what status."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sends: list[Sent] = []

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_method(request)
        if request.match_info.get("method", "").lower() == "sendmessage" and self.calls:
            call = self.calls[-1]
            self.sends.append(Sent(call.chat_id or 0, self._now(), response.status))
        return response


class FastSession(AiohttpSession):
    """aiogram's session sleeps 250 ms on close for TLS; plain HTTP on localhost doesn't need it."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(api: BotAPIStandIn) -> Bot:
    session = FastSession(api=api.telegram_server)
    session.middleware(RetryMiddleware(base_delay=0.01))
    return Bot(api.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])


async def compose(job: DeliveryJob) -> Outgoing | None:
    return Outgoing(f"card <b>{job.card_id}</b> #{job.id}", KEYBOARD)


def settings(**overrides: Any) -> TrainingConfig:
    values: dict[str, Any] = {"messages_per_second": 200, "per_chat_seconds": 0, "senders": 4,
                              "stale_claim_seconds": 30}
    return TrainingConfig(**{**values, **overrides})


@dataclass
class Rig:
    api: TimedAPI
    db: Database
    bot: Bot
    people: list[tuple[int, int]]  # (users.id, Telegram id)
    fanouts: list[Fanout] = field(default_factory=list)

    def user(self, index: int) -> SimUser:
        return self.api.user(self.people[index][1])

    def fanout(self, compose_with: Callable[[DeliveryJob], Awaitable[Outgoing | None]] = compose,
               db: Database | None = None, bot: Bot | None = None, **overrides: Any) -> Fanout:
        clock = overrides.pop("clock", utcnow)
        extra = {k: overrides.pop(k) for k in ("backoff_seconds", "network_attempts") if k in overrides}
        fanout = Fanout(bot or self.bot, db or self.db, compose_with, settings(**overrides), clock=clock, **extra)
        self.fanouts.append(fanout)
        return fanout

    def received(self) -> dict[int, int]:
        """Messages per chat, over every person."""
        return {telegram_id: len(self.api.user(telegram_id).messages) for _, telegram_id in self.people}


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    db = Database(database_url)
    people = await seed(db, 40)
    async with TimedAPI() as api:
        for _, telegram_id in people:
            api.user(telegram_id, started=True)
        bot = make_bot(api)
        rig = Rig(api, db, bot, people)
        try:
            yield rig
        finally:
            for fanout in rig.fanouts:
                await fanout.stop(timeout=5)
            await bot.session.close()
            await db.dispose()
    assert not api.unknown_methods


async def run_until_idle(fanout: Fanout) -> None:
    fanout.start()
    await fanout.drain_until_idle(timeout=60)


async def test_every_delivery_arrives_exactly_once(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, [*rows_for(rig.people), *rows_for(rig.people, slot="push:2")])
    fanout = rig.fanout()
    await run_until_idle(fanout)
    assert set(rig.received().values()) == {2}
    assert fanout.stats.sent == 80 and fanout.stats.failed == fanout.stats.blocked == 0
    assert (await deliveries.counts(rig.db))["sent"] == 80
    rows = await all_rows(rig.db)
    assert all(r.message_id is not None and r.sent_at is not None for r in rows)
    # The text and the keyboard are the composed ones.
    first = rig.user(0).messages[0]
    assert first.text.startswith("card card-a #") and first.labels == ["A"]
    assert not rig.api.errors


async def test_each_chat_gets_its_cards_spaced(rig: Rig) -> None:
    people = rig.people[:2]
    rows = [row for slot in ("s1", "s2", "s3") for row in rows_for(people, slot=slot)]
    await deliveries.insert_deliveries(rig.db, rows)
    fanout = rig.fanout(per_chat_seconds=0.4)
    await run_until_idle(fanout)
    assert set(rig.received().values()) - {0} == {3}
    for _, chat in people:
        times = [s.at for s in rig.api.sends if s.chat_id == chat]
        # 0.4 s apart when reserved; half of it is left even if the event loop stalls between two sends.
        assert all(b - a >= 0.2 for a, b in itertools.pairwise(times)), times


async def test_the_global_rate_stays_under_the_limit(rig: Rig) -> None:
    rig.api.faults.rate_limit("sendMessage", per_second=40, retry_after=1)
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people))
    fanout = rig.fanout(messages_per_second=20)
    await run_until_idle(fanout)
    assert not rig.api.faults.fired  # the stand-in never had to say 429
    assert set(rig.received().values()) == {1}
    assert fanout.stats.retry_after_seen == 0


async def test_flood_control_pauses_everything_then_all_arrive_once(rig: Rig) -> None:
    rig.api.faults.rate_limit("sendMessage", per_second=5, retry_after=1)
    people = rig.people[:12]
    await deliveries.insert_deliveries(rig.db, rows_for(people))
    fanout = rig.fanout(messages_per_second=100)  # far above what the stand-in accepts
    await run_until_idle(fanout)
    assert fanout.stats.retry_after_seen > 0
    assert fanout.limiter.pauses > 0
    assert sum(1 for f in rig.api.faults.fired if f.kind == "rate_limit") == fanout.stats.retry_after_seen
    received = rig.received()
    assert [received[chat] for _, chat in people] == [1] * 12
    assert fanout.stats.sent == 12 and (await deliveries.counts(rig.db))["sent"] == 12
    # Every sendMessage answered 200 went to a different chat: no retry sent a card twice.
    accepted = [s.chat_id for s in rig.api.sends if s.status == 200]
    assert len(accepted) == len(set(accepted)) == 12


async def test_a_429_on_any_other_request_pauses_the_fanout(rig: Rig) -> None:
    fanout = rig.fanout()
    fanout.start()
    rig.api.faults.fail_next("sendMessage", 1, status=429, retry_after=1)
    await rig.bot.send_message(rig.people[0][1], "a handler's answer")  # the middleware retries it
    assert fanout.stats.flood_reports == 1
    assert fanout.limiter.pauses == 1
    assert fanout.stats.retry_after_seen == 0  # not one of the fan-out's own sends
    assert len(rig.user(0).messages) == 1


async def test_inside_caller_retries_the_middleware_tries_once(rig: Rig) -> None:
    rig.api.faults.fail_next("sendMessage", 1, status=429, retry_after=1)
    reported: list[float] = []
    middleware = next(m for m in rig.bot.session.middleware if isinstance(m, RetryMiddleware))
    middleware.add_flood_listener(reported.append)
    with caller_retries(), pytest.raises(TelegramRetryAfter):
        await rig.bot.send_message(rig.people[0][1], "once")
    middleware.remove_flood_listener(reported.append)
    assert reported == [1]
    assert rig.user(0).messages == []


async def test_a_person_who_blocked_the_bot_waits_until_reachable(rig: Rig) -> None:
    blocked_user, blocked_chat = rig.people[0]
    rig.user(0).block()
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:3]))
    fanout = rig.fanout()
    await run_until_idle(fanout)
    assert fanout.stats.blocked == 1 and fanout.stats.sent == 2
    found = await profile(rig.db, blocked_user)
    assert found is not None and found.unreachable_since is not None
    statuses = {r.chat_id: r.status for r in await all_rows(rig.db)}
    assert statuses[blocked_chat] == "blocked"
    # A later card for them is not even tried while they are unreachable...
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:1], slot="push:later"))
    tried = len(rig.api.sends)
    fanout.wake()
    await fanout.drain_until_idle()
    assert len(rig.api.sends) == tried
    # ...and goes once they write to the bot again.
    rig.user(0).unblock()
    await deliveries.set_reachable(rig.db, blocked_user)
    fanout.wake()
    await fanout.drain_until_idle()
    assert len(rig.user(0).messages) == 1 and fanout.stats.sent == 3
    rows = [r for r in await all_rows(rig.db) if r.chat_id == blocked_chat]
    assert [r.status for r in rows] == ["blocked", "sent"]


async def test_claims_left_by_a_crashed_process_are_sent_by_the_next(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:10]))
    crashed = rig.fanout(senders=3)
    crashed.limiter.pause(600)  # each worker claims a row and composes it, then waits: it "dies" there
    crashed.start()
    await wait_for(lambda: len(crashed._tasks) == 3)
    async with asyncio.timeout(10):
        while (await deliveries.counts(rig.db))["sending"] < 3:
            await asyncio.sleep(0.01)
    for task in crashed._tasks:  # a kill -9: no stop(), no release
        task.cancel()
    await asyncio.gather(*crashed._tasks, return_exceptions=True)
    rig.fanouts.remove(crashed)
    left = [r for r in await all_rows(rig.db) if r.status == "sending"]
    assert len(left) == 3 and rig.api.sends == []

    # A new process at once: the claims are not stale yet, so it sends the other seven only.
    fresh = rig.fanout(stale_claim_seconds=30)
    await run_until_idle(fresh)
    assert fresh.stats.sent == 7
    assert {r.id for r in await all_rows(rig.db) if r.status == "sending"} == {r.id for r in left}
    await fresh.stop()
    # The next one, half a minute later: the three stale claims are sent, once.
    late = rig.fanout(clock=lambda: utcnow() + timedelta(seconds=31))
    await run_until_idle(late)
    assert late.stats.sent == 3
    assert set(rig.received()[chat] for chat in (r.chat_id for r in left)) == {1}
    assert (await deliveries.counts(rig.db))["sent"] == 10
    assert {r.attempts for r in await all_rows(rig.db) if r.id in {x.id for x in left}} == {2}


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


async def test_two_fanouts_on_one_database_never_send_a_row_twice(rig: Rig, database_url: str) -> None:
    rows = [row for slot in ("a", "b") for row in rows_for(rig.people, slot=slot)]
    await deliveries.insert_deliveries(rig.db, rows)
    other_db = Database(database_url)  # another process: its own engine, its own bot
    other_bot = make_bot(rig.api)
    try:
        first, second = rig.fanout(), rig.fanout(db=other_db, bot=other_bot)
        first.start()
        second.start()
        await first.drain_until_idle(timeout=60)
        await second.drain_until_idle(timeout=60)
        await first.drain_until_idle(timeout=60)
        await second.stop()
        rig.fanouts.remove(second)
    finally:
        await other_bot.session.close()
        await other_db.dispose()
    assert first.stats.sent + second.stats.sent == 80
    assert set(rig.received().values()) == {2}
    accepted = [(s.chat_id, s.status) for s in rig.api.sends]
    assert len(accepted) == 80
    assert (await deliveries.counts(rig.db))["sent"] == 80


async def test_a_card_that_is_gone_is_cancelled_and_a_broken_one_failed(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:3]))
    chats = [chat for _, chat in rig.people[:3]]

    async def some_gone(job: DeliveryJob) -> Outgoing | None:
        if job.chat_id == chats[0]:
            return None
        if job.chat_id == chats[1]:
            raise LookupError("the card's playbook is broken")
        return await compose(job)

    fanout = rig.fanout(some_gone)
    await run_until_idle(fanout)
    statuses = {r.chat_id: (r.status, r.error) for r in await all_rows(rig.db)}
    assert statuses[chats[0]] == ("cancelled", "card gone")
    assert statuses[chats[1]] == ("failed", "compose: LookupError")
    assert statuses[chats[2]][0] == "sent"
    assert (fanout.stats.cancelled, fanout.stats.failed, fanout.stats.sent) == (1, 1, 1)
    assert [len(rig.user(i).messages) for i in range(3)] == [0, 0, 1]


async def test_bad_requests_fail_and_server_errors_are_retried(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:1]))
    rig.api.faults.fail_next("sendMessage", 1, status=400, description="Bad Request: can't parse entities")
    fanout = rig.fanout(senders=1, backoff_seconds=0.01)
    await run_until_idle(fanout)
    (row,) = await all_rows(rig.db)
    assert (row.status, row.error) == ("failed", "Bad Request: can't parse entities")

    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[1:2]))
    rig.api.faults.server_error("sendMessage", 2)
    fanout.wake()
    await fanout.drain_until_idle()
    assert fanout.stats.network_retries == 2 and fanout.stats.sent == 1
    assert len(rig.user(1).messages) == 1

    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[2:3]))
    rig.api.faults.server_error("sendMessage", 10)
    fanout.network_attempts = 3
    fanout.wake()
    await fanout.drain_until_idle()
    rows = {r.chat_id: r for r in await all_rows(rig.db)}
    assert rows[rig.people[2][1]].status == "failed" and fanout.stats.failed == 2
    assert rig.user(2).messages == []


async def test_stop_gives_unsent_claims_back(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:10]))
    fanout = rig.fanout(senders=3)
    fanout.limiter.pause(600)  # every worker claims a row, then waits for the limiter
    fanout.start()
    async with asyncio.timeout(10):
        while (await deliveries.counts(rig.db))["sending"] < 3:
            await asyncio.sleep(0.01)
    await fanout.stop(timeout=5)
    assert fanout.stats.released == 3 and fanout.stats.sent == 0
    assert (await deliveries.counts(rig.db))["pending"] == 10
    assert rig.api.sends == []


async def test_a_long_wait_renews_the_claim(rig: Rig) -> None:
    """A claim held through a long pause is refreshed before sending, so nobody takes it as stale."""
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:1]))
    times = iter([utcnow(), *(utcnow() + timedelta(seconds=20 + i) for i in range(100))])
    fanout = rig.fanout(senders=1, clock=lambda: next(times))
    await run_until_idle(fanout)
    (row,) = await all_rows(rig.db)
    assert row.status == "sent" and fanout.stats.lost_claims == 0


async def test_a_claim_taken_over_meanwhile_is_not_sent(rig: Rig) -> None:
    await deliveries.insert_deliveries(rig.db, rows_for(rig.people[:1]))
    started = utcnow()

    async def taken_over(job: DeliveryJob) -> Outgoing | None:
        # While this process waited, another took the claim as stale.
        async with rig.db.engine.begin() as conn:
            await conn.execute(update(TrainingDelivery.__table__)  # type: ignore[attr-defined]
                               .values(claimed_at=started + timedelta(seconds=1)))
        return await compose(job)

    times = iter([started, *(started + timedelta(seconds=20 + i) for i in range(100))])
    fanout = rig.fanout(taken_over, senders=1, clock=lambda: next(times))
    await run_until_idle(fanout)
    assert fanout.stats.lost_claims == 1 and fanout.stats.sent == 0
    assert rig.api.sends == []
