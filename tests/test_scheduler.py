"""bot.scheduler: APScheduler with its jobs in the application database, across restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import scheduler
from bot.app import Running
from bot.config import Config
from storage.models import Decision, Escalation
from storage.types import utcnow
from tests.harness import Harness

RECORDED: list[tuple[Any, Any]] = []
REF = "tests.test_scheduler:record"


async def record(value: Any) -> None:
    RECORDED.append((value, scheduler.context()))


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
async def clean(database_url: str) -> Any:
    RECORDED.clear()
    yield database_url
    if scheduler.is_running():
        for job_id in scheduler.job_ids():
            scheduler.cancel(job_id)
    await scheduler.shutdown()


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///data/moments.db", "sqlite:///data/moments.db"),
    ("sqlite+aiosqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgres://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
])
def test_the_job_store_gets_a_synchronous_url(url: str, expected: str | None) -> None:
    assert scheduler.sync_url(url) == expected


async def test_a_job_runs_at_its_time_with_the_context(clean: str) -> None:
    scheduler.start("app-1", clean)
    with pytest.raises(RuntimeError):
        scheduler.start("again", clean)
    scheduler.schedule_at(REF, utcnow() + timedelta(seconds=0.3), "job-a", value=1)
    assert scheduler.job_ids() == ["job-a"]
    await wait_for(lambda: RECORDED)
    assert RECORDED == [(1, "app-1")] and scheduler.job_ids() == []
    with pytest.raises(ValueError):
        scheduler.schedule_at(REF, utcnow().replace(tzinfo=None), "naive", value=0)
    scheduler.schedule_at(REF, utcnow() + timedelta(hours=1), "job-b", value=2)
    assert scheduler.cancel("job-b") and not scheduler.cancel("job-b")


async def test_a_job_survives_a_restart_and_a_missed_time_runs_once_at_start(clean: str) -> None:
    scheduler.start("first", clean)
    scheduler.schedule_at(REF, utcnow() + timedelta(seconds=0.5), "job-late", value="late")
    scheduler.schedule_at(REF, utcnow() + timedelta(hours=2), "job-later", value="later")
    await scheduler.shutdown()
    assert not scheduler.is_running() and scheduler.context() is None
    await asyncio.sleep(0.8)  # the bot is down when job-late falls due
    assert RECORDED == []

    scheduler.start("second", clean)
    await wait_for(lambda: RECORDED)
    await asyncio.sleep(0.2)
    assert RECORDED == [("late", "second")]  # once, late, in the new process
    assert scheduler.job_ids() == ["job-later"]


async def test_the_escalation_timer_fires_by_itself(config: Config) -> None:
    from tests.test_escalation import ASK, BOB, over_the_limit, rows, team

    quick = config.model_copy(update={"escalation_timeout_seconds": 1})
    h = await Harness.start(quick)
    scheduler.start(Running(h.app, h.bot, h.dp), quick.database_url)
    try:
        ann, _, _ = await team(h)
        await over_the_limit(ann)
        await ann.press(ASK)
        [escalation] = await rows(h, Escalation)
        assert scheduler.job_ids() == [f"escalation-timeout-{escalation.id}"]
        await wait_for(lambda: "No lead answered within 1 second." in ann.last_text())
        [decision] = await rows(h, Decision)
        assert decision.on_timeout and decision.escalation == "timeout"
        assert "Nobody answered in time" in h.person(BOB).screen()[0]
        assert scheduler.job_ids() == []
    finally:
        await scheduler.shutdown()
        await h.stop()


async def test_an_answer_cancels_the_timer(config: Config) -> None:
    from tests.test_escalation import ASK, over_the_limit, team

    h = await Harness.start(config)
    scheduler.start(Running(h.app, h.bot, h.dp), config.database_url)
    try:
        ann, bob, _ = await team(h)
        await over_the_limit(ann)
        await ann.press(ASK)
        assert len(scheduler.job_ids()) == 1
        await bob.press("✅ Approve")
        assert scheduler.job_ids() == []
    finally:
        await scheduler.shutdown()
        await h.stop()


async def test_the_daily_retention_purge_is_scheduled_and_purges(clean: str, config: Config) -> None:
    from bot import jobs
    from tests.test_handlers_flow import staff
    from tests.test_rights_privacy import finish_decision

    h = await Harness.start(config)
    try:
        ann = await staff(h)
        await finish_decision(ann, note="Mr Bianchi, room 12")
        async with h.app.db.session() as session:
            decision = (await session.exec(select(Decision))).one()
            decision.created_at = utcnow() - timedelta(days=config.note_retention_days + 1)
            session.add(decision)
            session.add(Escalation(user_id=decision.user_id, flow_token="t", playbook_id="p", playbook_version="v",
                                   flow={"note": "card 4242", "taken_text": "gave cash", "path": []},
                                   due_at=utcnow(), staff_chat_id=1, status="timeout",
                                   created_at=utcnow() - timedelta(days=config.note_retention_days + 1)))
            await session.commit()
        scheduler.start(Running(h.app, h.bot, h.dp), clean)
        jobs.schedule_retention_purge()
        assert "retention-purge" in scheduler.job_ids()
        await jobs.retention_purge()
        async with h.app.db.session() as session:
            assert (await session.exec(select(Decision))).one().note is None
            escalation = (await session.exec(select(Escalation))).one()
            assert escalation.flow["note"] is None and escalation.flow["taken_text"] is None
            assert escalation.flow["path"] == []
    finally:
        await h.stop()


async def test_a_paused_scheduler_keeps_timers_for_the_process_that_runs_them(clean: str) -> None:
    # A `moments run --no-scheduler` process: it sets and cancels timers in the store, never runs them.
    scheduler.start("bot", clean, paused=True)
    assert scheduler.is_paused()
    scheduler.schedule_at(REF, utcnow() + timedelta(seconds=0.2), "job-p", value="p")
    scheduler.schedule_at(REF, utcnow() + timedelta(seconds=0.2), "job-gone", value="gone")
    assert scheduler.cancel("job-gone")
    await asyncio.sleep(0.8)
    assert RECORDED == [] and scheduler.job_ids() == ["job-p"]
    await scheduler.shutdown()
    if scheduler.sync_url(clean) is None:
        return  # an in-memory store has nothing to hand over
    # `moments scheduler`: runs what fell due, once.
    scheduler.start("runner", clean, wakeup_seconds=0.2)
    assert not scheduler.is_paused()
    await wait_for(lambda: RECORDED)
    await asyncio.sleep(0.5)
    assert RECORDED == [("p", "runner")] and scheduler.job_ids() == []
