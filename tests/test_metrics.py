"""Metrics: decisions counted when committed, updates counted and timed, 429s counted, errors counted."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from prometheus_client import REGISTRY

from bot import metrics
from bot.app import build_dispatcher
from bot.config import Config
from bot.core.decisions import DecisionDraft
from bot.retry import RetryMiddleware
from storage import people
from storage.db import Database
from storage.decisions import record_decision
from tests.conftest import ADMIN_ID
from tests.harness import Harness


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def draft(token: str) -> DecisionDraft:
    return DecisionDraft(flow_token=token, playbook_id="refund", playbook_version="1", path=[],
                         recommended_outcome="full", taken_outcome="full", taken_text=None, disposition="followed",
                         followed=True, favours_customer=True, amount_minor=1000, currency="EUR", limit_minor=2500,
                         over_limit=False, note=None, reaction=None, seconds_to_decide=3.0, backs=0)


async def test_decisions_are_counted_once_when_committed(config: Config) -> None:
    db = Database(config.database_url)
    other = Database(config.database_url)
    await db.create_tables()
    metrics.watch_decisions(db.engine.sync_engine)
    try:
        async with db.session() as session:
            user, *_ = await people.upsert_user(session, 501, role="staff", team="main")
            await session.commit()
            user_id = user.id
        before = sample("moments_decisions_recorded_total")
        async with db.session() as session:
            _, created = await record_decision(session, draft("tok00001"), user_id=user_id, team_id=None)
        assert created and sample("moments_decisions_recorded_total") == before + 1
        async with db.session() as session:  # the same flow again: the first record, nothing new
            _, created = await record_decision(session, draft("tok00001"), user_id=user_id, team_id=None)
        assert not created and sample("moments_decisions_recorded_total") == before + 1
        async with db.session() as session:  # flushed, then rolled back: never recorded
            session.add(metrics.Decision(user_id=user_id, **vars(draft("tok00002"))))
            await session.flush()
            await session.rollback()
        assert sample("moments_decisions_recorded_total") == before + 1
        async with other.session() as session:  # a database nobody watches (another app in this process)
            await record_decision(session, draft("tok00003"), user_id=user_id, team_id=None)
        assert sample("moments_decisions_recorded_total") == before + 1
    finally:
        metrics.unwatch_decisions(db.engine.sync_engine)
        await db.dispose()
        await other.dispose()


async def test_updates_are_counted_timed_and_tracked(harness: Harness) -> None:
    tracker = metrics.UpdateTracker()
    harness.dp = build_dispatcher(harness.app, tracker)
    before = sample("moments_updates_total", type="message")
    seconds = sample("moments_update_seconds_count", type="message")
    await harness.person(ADMIN_ID, "Alice").send("/help")
    assert sample("moments_updates_total", type="message") == before + 1
    assert sample("moments_update_seconds_count", type="message") == seconds + 1
    assert tracker.in_flight == 0 and await tracker.wait_idle(0)
    assert sample("moments_updates_in_flight") == 0


async def test_the_tracker_waits_for_updates_in_flight() -> None:
    tracker = metrics.UpdateTracker()
    release = asyncio.Event()

    async def slow(event: object, data: dict) -> str:
        await release.wait()
        return "done"

    task = asyncio.create_task(tracker(slow, object(), {}))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert tracker.in_flight == 1
    assert not await tracker.wait_idle(0.05)
    release.set()
    assert await tracker.wait_idle(1) and await task == "done"

    async def broken(event: object, data: dict) -> None:
        raise RuntimeError("handler bug")

    errors = sample("moments_update_errors_total", type="object")
    with pytest.raises(RuntimeError):
        await tracker(broken, object(), {})  # type: ignore[arg-type]
    assert sample("moments_update_errors_total", type="object") == errors + 1
    assert tracker.in_flight == 0


async def test_every_429_from_telegram_is_counted() -> None:
    retry = RetryMiddleware(attempts=2, base_delay=0)
    retry.add_flood_listener(metrics.on_flood)
    before = sample("moments_telegram_429_total")
    calls = 0

    async def make_request(bot: Bot, method: SendMessage) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TelegramRetryAfter(method, "Too Many Requests: retry after 0", retry_after=0)
        return "ok"

    assert await retry(make_request, None, SendMessage(chat_id=1, text="x")) == "ok"  # type: ignore[arg-type]
    assert sample("moments_telegram_429_total") == before + 1


def test_errors_logged_anywhere_are_counted() -> None:
    counter = metrics.ErrorCounter()
    logger = logging.getLogger("bot.test_metrics")
    logger.addHandler(counter)
    logger.propagate = False  # counted here only, whatever handlers other tests left on the root logger
    try:
        before = sample("moments_errors_total", logger="bot.test_metrics")
        logger.warning("not an error")
        logger.error("an error")
        assert sample("moments_errors_total", logger="bot.test_metrics") == before + 1
    finally:
        logger.removeHandler(counter)
        logger.propagate = True


def test_the_exposition_is_prometheus_text() -> None:
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain; version=0.0.4")
    for name in ("moments_updates_total", "moments_update_seconds", "moments_decisions_recorded_total",
                 "moments_training_deliveries_total", "moments_telegram_429_total", "moments_errors_total",
                 "moments_updates_in_flight", "process_resident_memory_bytes"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'moments_training_deliveries_total{result="sent"}' in text
