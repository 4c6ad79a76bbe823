"""storage/deliveries.py on SQLite and PostgreSQL: insert-or-ignore, guarded claims, stale claims, statuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from storage import deliveries
from storage.db import Database
from storage.deliveries import NewDelivery
from storage.models import Team, TrainingCard, TrainingDelivery, TrainingProfile, User
from storage.types import utcnow

FIRST_TELEGRAM_ID = 510_000
CARDS = ("card-a", "card-b")
D = TrainingDelivery.__table__.c  # type: ignore[attr-defined]


async def seed(db: Database, people: int, first_telegram_id: int = FIRST_TELEGRAM_ID) -> list[tuple[int, int]]:
    """A team, `people` staff and two cards; returns (users.id, Telegram id) per person."""
    await db.create_tables()
    async with db.engine.begin() as conn:
        team_id = (await conn.execute(insert(Team.__table__).values(name="fanout-team", limits={})  # type: ignore[attr-defined]
                                      .returning(Team.__table__.c.id))).scalar_one()  # type: ignore[attr-defined]
        now = utcnow()
        rows = [{"telegram_id": first_telegram_id + i, "name": f"P{i}", "role": "staff", "team_id": team_id,
                 "language": "en", "active": True, "on_duty": False, "shift": {}, "created_at": now}
                for i in range(people)]
        if rows:
            await conn.execute(insert(User.__table__), rows)  # type: ignore[attr-defined]
        await conn.execute(insert(TrainingCard.__table__), [  # type: ignore[attr-defined]
            {"id": card, "key": f"authored:{card}", "source": "authored", "content": {}, "content_hash": card,
             "active": True, "updated_at": now} for card in CARDS])
        found = (await conn.execute(select(User.__table__.c.id, User.__table__.c.telegram_id)  # type: ignore[attr-defined]
                                    .order_by(User.__table__.c.telegram_id))).all()  # type: ignore[attr-defined]
    return [(int(user_id), int(telegram_id)) for user_id, telegram_id in found]


def rows_for(people: list[tuple[int, int]], slot: str = "push:t", card: str = CARDS[0]) -> list[NewDelivery]:
    return [NewDelivery(user_id, card, slot, "push", telegram_id) for user_id, telegram_id in people]


async def all_rows(db: Database) -> list[TrainingDelivery]:
    async with db.session() as session:
        return list((await session.exec(select(TrainingDelivery).order_by(TrainingDelivery.id))).scalars())  # type: ignore[call-overload]


async def profile(db: Database, user_id: int) -> TrainingProfile | None:
    async with db.session() as session:
        return await session.get(TrainingProfile, user_id)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def later(seconds: float = 0) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


async def test_insert_ignores_rows_already_there_and_counts_the_new(db: Database) -> None:
    people = await seed(db, 3)
    assert await deliveries.insert_deliveries(db, rows_for(people[:2])) == 2
    # Same user, card and slot again: ignored; a new slot or card is new.
    again = [*rows_for(people), *rows_for(people[:1], slot="push:u"), *rows_for(people[:1], card=CARDS[1])]
    assert await deliveries.insert_deliveries(db, again) == 3
    assert await deliveries.insert_deliveries(db, []) == 0
    rows = await all_rows(db)
    assert len(rows) == 5
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    assert await deliveries.counts(db) == {"pending": 5, "sending": 0, "sent": 0, "blocked": 0, "failed": 0,
                                           "cancelled": 0}


async def test_insert_of_many_rows_in_batches(db: Database) -> None:
    people = await seed(db, 1500)
    assert await deliveries.insert_deliveries(db, rows_for(people)) == 1500
    assert await deliveries.insert_deliveries(db, rows_for(people)) == 0
    assert (await deliveries.counts(db))["pending"] == 1500


async def test_insert_in_a_session_joins_the_callers_transaction(db: Database) -> None:
    people = await seed(db, 2)
    async with db.session() as session:
        assert await deliveries.insert_deliveries(session, rows_for(people)) == 2
        await session.rollback()
    assert await all_rows(db) == []
    async with db.session() as session:
        assert await deliveries.insert_deliveries(session, rows_for(people)) == 2
        await session.commit()
    assert len(await all_rows(db)) == 2


async def test_claim_takes_the_oldest_pending_row_once(db: Database) -> None:
    people = await seed(db, 3)
    await deliveries.insert_deliveries(db, rows_for(people))
    now = utcnow()
    first = await deliveries.claim(db, now, now - timedelta(seconds=30))
    assert [job.chat_id for job in first] == [people[0][1]]
    assert first[0].claimed_at == now and first[0].kind == "push" and first[0].slot == "push:t"
    rest = await deliveries.claim(db, now, now - timedelta(seconds=30), limit=5)
    assert [job.chat_id for job in rest] == [people[1][1], people[2][1]]
    assert await deliveries.claim(db, now, now - timedelta(seconds=30)) == []
    rows = await all_rows(db)
    assert {(r.status, r.attempts, r.claimed_at) for r in rows} == {("sending", 1, now)}
    assert not await deliveries.pending_exists(db)


async def test_a_claim_left_by_a_dead_process_is_taken_again_once_stale(db: Database) -> None:
    people = await seed(db, 2)
    await deliveries.insert_deliveries(db, rows_for(people))
    old = utcnow() - timedelta(minutes=5)
    await deliveries.claim(db, old, old - timedelta(seconds=30), limit=2)  # the process died after this
    now = utcnow()
    # Not stale yet for a process whose threshold is before the claim.
    assert await deliveries.claim(db, now, old - timedelta(seconds=1)) == []
    assert not await deliveries.pending_exists(db, stale_before=old - timedelta(seconds=1))
    assert await deliveries.pending_exists(db, stale_before=now - timedelta(seconds=30))
    again = await deliveries.claim(db, now, now - timedelta(seconds=30), limit=5)
    assert sorted(job.chat_id for job in again) == sorted(t for _, t in people)
    assert {r.attempts for r in await all_rows(db)} == {2}


async def test_two_processes_never_claim_the_same_row(database_url: str) -> None:
    setup = Database(database_url)
    people = await seed(setup, 120)
    await deliveries.insert_deliveries(setup, rows_for(people))
    await setup.dispose()
    claimed: list[list[int]] = [[], []]

    async def process(n: int) -> None:
        db = Database(database_url)  # its own engine and connections, as another process would have
        try:
            while True:
                now = utcnow()
                jobs = await deliveries.claim(db, now, now - timedelta(seconds=30))
                if not jobs:
                    return
                claimed[n].extend(job.id for job in jobs)
        finally:
            await db.dispose()

    await asyncio.gather(process(0), process(1))
    every = claimed[0] + claimed[1]
    assert len(every) == len(set(every)) == 120


async def test_many_workers_in_many_processes_claim_each_row_once(database_url: str) -> None:
    setup = Database(database_url)
    people = await seed(setup, 100)
    await deliveries.insert_deliveries(setup, [*rows_for(people), *rows_for(people, slot="push:2")])
    await setup.dispose()
    claimed: list[int] = []

    async def worker(db: Database) -> None:
        while True:
            now = utcnow()
            jobs = await deliveries.claim(db, now, now - timedelta(seconds=30), limit=3)
            assert len(jobs) <= 3
            if not jobs:
                return
            claimed.extend(job.id for job in jobs)

    processes = [Database(database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(worker(db) for db in processes for _ in range(4)))
    finally:
        for db in processes:
            await db.dispose()
    assert len(claimed) == len(set(claimed)) == 200


async def test_paused_and_unreachable_people_wait_until_they_are_back(db: Database) -> None:
    people = await seed(db, 3)
    (paused, _), (blocked, _), (fine, fine_chat) = people
    await deliveries.insert_deliveries(db, rows_for(people))
    async with db.engine.begin() as conn:
        await conn.execute(insert(TrainingProfile.__table__), [  # type: ignore[attr-defined]
            {"user_id": paused, "paused_at": utcnow(), "unreachable_since": None},
            {"user_id": blocked, "paused_at": None, "unreachable_since": utcnow()}])
    now = utcnow()
    assert [job.chat_id for job in await deliveries.claim(db, now, now, limit=5)] == [fine_chat]
    assert not await deliveries.pending_exists(db)
    await deliveries.set_reachable(db, blocked)
    assert await deliveries.pending_exists(db)
    assert [job.user_id for job in await deliveries.claim(db, now, now, limit=5)] == [blocked]
    statuses = {r.user_id: r.status for r in await all_rows(db)}
    assert statuses == {paused: "pending", blocked: "sending", fine: "sending"}


async def test_outcomes_sent_blocked_failed_cancelled(db: Database) -> None:
    people = await seed(db, 4)
    await deliveries.insert_deliveries(db, rows_for(people))
    now = utcnow()
    a, b, c, d = await deliveries.claim(db, now, now, limit=4)
    await deliveries.mark_sent(db, a.id, 77, now)
    await deliveries.mark_blocked(db, b.id, b.user_id, now)
    await deliveries.mark_failed(db, c.id, "Bad Request: " + "x" * 300)
    await deliveries.mark_cancelled(db, d.id, "card gone")
    rows = {r.id: r for r in await all_rows(db)}
    assert (rows[a.id].status, rows[a.id].message_id, rows[a.id].sent_at) == ("sent", 77, now)
    assert rows[b.id].status == "blocked"
    assert rows[c.id].status == "failed" and rows[c.id].error is not None and len(rows[c.id].error) == 200
    assert rows[d.id].status == "cancelled"
    found = await profile(db, b.user_id)
    assert found is not None and found.unreachable_since == now
    assert await deliveries.statuses(db, [a.id, b.id]) == {a.id: "sent", b.id: "blocked"}


async def test_blocked_keeps_the_first_date_and_the_pause(db: Database) -> None:
    people = await seed(db, 1)
    user_id, chat = people[0]
    paused_at = utcnow() - timedelta(days=2)
    async with db.engine.begin() as conn:
        await conn.execute(insert(TrainingProfile.__table__).values(user_id=user_id, paused_at=paused_at))  # type: ignore[attr-defined]
    await deliveries.insert_deliveries(db, [*rows_for(people), *rows_for(people, slot="push:2")])
    first = utcnow() - timedelta(hours=1)
    # claim() skips paused people, so take the rows directly as a sender would have before the pause.
    async with db.engine.begin() as conn:
        await conn.execute(update(TrainingDelivery.__table__).values(status="sending"))  # type: ignore[attr-defined]
    ids = [r.id for r in await all_rows(db)]
    await deliveries.mark_blocked(db, ids[0], user_id, first)
    await deliveries.mark_blocked(db, ids[1], user_id, utcnow())
    found = await profile(db, user_id)
    assert found is not None and found.unreachable_since == first and found.paused_at == paused_at
    await deliveries.set_reachable(db, user_id)
    found = await profile(db, user_id)
    assert found is not None and found.unreachable_since is None and found.paused_at == paused_at
    assert chat == FIRST_TELEGRAM_ID


async def test_release_and_renew_respect_the_claim(db: Database) -> None:
    people = await seed(db, 1)
    await deliveries.insert_deliveries(db, rows_for(people))
    old = utcnow() - timedelta(minutes=5)
    (mine,) = await deliveries.claim(db, old, old)
    # Another process took it as stale meanwhile: our renew and release must not touch its claim.
    now = utcnow()
    (theirs,) = await deliveries.claim(db, now, now - timedelta(seconds=30))
    assert theirs.id == mine.id
    assert await deliveries.renew(db, mine, now) is None
    assert not await deliveries.release(db, mine.id, mine.claimed_at)
    renewed = await deliveries.renew(db, theirs, later(1))
    assert renewed is not None and renewed.claimed_at is not None and renewed.claimed_at > now
    assert await deliveries.release(db, renewed.id, renewed.claimed_at)
    assert (await deliveries.counts(db))["pending"] == 1
    assert (await all_rows(db))[0].attempts == 2
