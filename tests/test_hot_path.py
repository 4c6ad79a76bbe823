"""The per-update fast paths: SQLite on the loop's thread, the conversation cache, the claim that also finds
the person, and filters checked without a thread hop. Each must be as correct as the slow path it replaced."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from sqlalchemy.exc import IntegrityError

from bot.config import Config
from bot.fsm_storage import DatabaseStorage
from bot.handlers import routers
from storage import conversations, people
from storage.db import Database
from storage.sqlite_inline import InlineConnection
from storage.updates import claim_update_and_find_person
from tests.conftest import ADMIN_ID
from tests.harness import Harness


def key(user: int = 7) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=user, user_id=user)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(database_url: str) -> Any:
    database = Database(database_url)
    await database.create_tables()
    try:
        yield database
    finally:
        await database.dispose()


# --- SQLite on the loop's thread -------------------------------------------------------------------------


async def test_sqlite_runs_on_the_loops_thread_unless_asked(tmp_path: Path) -> None:
    inline = Database(f"sqlite:///{tmp_path}/a.db")
    threads = Database(f"sqlite:///{tmp_path}/b.db", sqlite_threads=True)
    try:
        for database in (inline, threads):
            await database.create_tables()
        async with inline.engine.connect() as connection:
            assert isinstance((await connection.get_raw_connection()).driver_connection, InlineConnection)
        async with threads.engine.connect() as connection:
            assert not isinstance((await connection.get_raw_connection()).driver_connection, InlineConnection)
    finally:
        await inline.dispose()
        await threads.dispose()


async def test_inline_sqlite_keeps_transactions_and_constraints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    db = Database(url)
    await db.create_tables()
    try:
        await conversations.save(db, "k", state="one", data={"n": 1})
        # A failing transaction changes nothing; the error is SQLAlchemy's, as with aiosqlite.
        table = conversations.TABLE
        with pytest.raises(IntegrityError):
            async with db.engine.begin() as connection:
                await connection.execute(table.insert().values(key="new", state="x", data={}))
                await connection.execute(table.insert().values(key="k", state="twin", data={}))
        assert await conversations.load(db, "new") is None and await conversations.load(db, "k") == ("one", {"n": 1})
        # Pragmas reach the inline connection too (foreign keys on, WAL), and the file is shared with others.
        async with db.engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        await db.dispose()
    other = Database(url, sqlite_threads=True)
    try:
        assert await conversations.load(other, "k") == ("one", {"n": 1})
    finally:
        await other.dispose()


async def test_inline_sqlite_serves_many_concurrent_tasks(tmp_path: Path) -> None:
    """One connection, many tasks at once: each waits its turn in the pool, none deadlocks the loop."""
    db = Database(f"sqlite:///{tmp_path}/m.db")
    await db.create_tables()
    try:
        async def worker(n: int) -> None:
            for i in range(20):
                await conversations.save(db, f"k{n}", state=str(i), data={"i": i})
                assert (await conversations.load(db, f"k{n}"))[0] == str(i)  # type: ignore[index]

        await asyncio.wait_for(asyncio.gather(*(worker(n) for n in range(30))), timeout=60)
        assert [await conversations.load(db, f"k{n}") for n in range(30)] == [("19", {"i": 19})] * 30
    finally:
        await db.dispose()


async def test_connections_close_at_once_and_keep_transactions(database_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Database.begin()/connect()/session() are SQLAlchemy's, minus the shielding task on SQLite on the loop's
    thread: commit on the way out, roll back on an error, the one pooled connection always given back."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import base as asyncio_base
    from sqlalchemy.ext.asyncio import engine as asyncio_engine
    from sqlalchemy.ext.asyncio import session as asyncio_session

    db = Database(database_url)
    await db.create_tables()
    shielded: list[object] = []
    real = asyncio_base._run_to_completion

    async def counted(coro: Any) -> Any:
        shielded.append(coro)
        return await real(coro)

    for module in (asyncio_engine, asyncio_session):
        monkeypatch.setattr(module, "_run_to_completion", counted)
    try:
        async with db.begin() as connection:
            await connection.execute(text("INSERT INTO conversations (key, state, data, updated_at) "
                                          "VALUES ('kept', NULL, '{}', CURRENT_TIMESTAMP)"))
        with pytest.raises(RuntimeError):
            async with db.begin() as connection:
                await connection.execute(text("INSERT INTO conversations (key, state, data, updated_at) "
                                              "VALUES ('dropped', NULL, '{}', CURRENT_TIMESTAMP)"))
                raise RuntimeError("handler failed")
        for _ in range(50):  # the pool has one connection on SQLite: each use must give it back
            async with db.connect() as connection:
                keys = (await connection.execute(text("SELECT key FROM conversations ORDER BY key"))).scalars().all()
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
        assert keys == ["kept"]
        assert bool(shielded) == (not db.closes_at_once)
        assert db.closes_at_once == database_url.startswith("sqlite")
    finally:
        await db.dispose()


async def test_another_processs_lock_is_waited_for_without_freezing_the_loop(tmp_path: Path) -> None:
    """A CLI command (another connection) holds the write lock: the write waits for it on asyncio sleeps, so the
    loop keeps running other work meanwhile, and goes through once the lock is released."""
    import sqlite3
    import time

    db = Database(f"sqlite:///{tmp_path}/m.db")
    await db.create_tables()
    other = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(conversations.save(db, "k", state="waited"))
        ticks, started = 0, time.monotonic()
        while time.monotonic() - started < 0.5:  # the loop turns while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done() and ticks >= 20
        other.execute("ROLLBACK")
        await asyncio.wait_for(write, 5)
        assert await conversations.load(db, "k") == ("waited", {})
    finally:
        other.close()
        await db.dispose()


# --- the conversation cache ------------------------------------------------------------------------------


async def test_every_write_reaches_the_database_and_reads_come_from_memory(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    storage = DatabaseStorage(db, DefaultKeyBuilder(with_destiny=True), cache_seconds=60, clock=clock)
    uncached = DatabaseStorage(db, DefaultKeyBuilder(with_destiny=True))
    loads = 0
    real_load = conversations.load

    async def counting_load(*args: Any) -> Any:
        nonlocal loads
        loads += 1
        return await real_load(*args)

    monkeypatch.setattr(conversations, "load", counting_load)
    assert await storage.get_state(key()) is None and loads == 1  # a missing row is remembered as empty
    assert await storage.get_data(key()) == {} and loads == 1
    await storage.set_state_and_data(key(), "Flow:step", {"flow": {"step": 1}})
    assert await uncached.get_state(key()) == "Flow:step"  # in the database at once (kill -9 keeps it)
    loads = 0
    assert await storage.get_state(key()) == "Flow:step" and await storage.get_data(key()) == {"flow": {"step": 1}}
    assert loads == 0
    await storage.set_data(key(), {"flow": {"step": 2}})
    await storage.set_state(key(), "Flow:amount")
    assert (await uncached.get_state(key()), await uncached.get_data(key())) == ("Flow:amount", {"flow": {"step": 2}})
    loads = 0
    assert (await storage.get_state(key()), await storage.get_data(key())) == ("Flow:amount", {"flow": {"step": 2}})
    assert loads == 0


async def test_cached_conversations_expire_and_are_copies(db: Database) -> None:
    clock = Clock()
    storage = DatabaseStorage(db, DefaultKeyBuilder(with_destiny=True), cache_seconds=60, clock=clock)
    await storage.set_state_and_data(key(), "A", {"list": [1]})
    data = await storage.get_data(key())
    data["list"].append(2)  # a handler changing what it got must not change the stored conversation
    assert await storage.get_data(key()) == {"list": [1]}
    # Changed behind the cache's back (another process): seen once the entry is older than cache_seconds.
    await conversations.save(db, storage._key(key()), state="B")
    clock.now += 59
    assert await storage.get_state(key()) == "A"  # each read keeps it fresh for another 60 s
    clock.now += 61
    assert await storage.get_state(key()) == "B"


async def test_cache_off_reads_the_database_every_time(db: Database) -> None:
    storage = DatabaseStorage(db, DefaultKeyBuilder(with_destiny=True), cache_seconds=0)
    await storage.set_state_and_data(key(), "A", {})
    await conversations.save(db, storage._key(key()), state="B")
    assert await storage.get_state(key()) == "B"


async def test_cache_is_bounded_and_forgets_a_chat(db: Database) -> None:
    storage = DatabaseStorage(db, DefaultKeyBuilder(with_destiny=True), cache_seconds=60, cache_size=3)
    for user in range(1, 6):
        await storage.set_state_and_data(key(user), f"S{user}", {})
    assert len(storage._cache) == 3 and storage._key(key(1)) not in storage._cache
    storage.forget("fsm:5:5:")
    assert storage._key(key(5)) not in storage._cache and storage._key(key(4)) in storage._cache


async def test_forgetme_drops_the_cached_conversation(config: Config) -> None:
    harness = await Harness.start(config.model_copy(update={"conversation_cache_seconds": 300}))
    try:
        await _forgetme_drops_the_cached_conversation(harness)
    finally:
        await harness.stop()


async def _forgetme_drops_the_cached_conversation(harness: Harness) -> None:
    ann = harness.person(2000, "Ann")
    await harness.person(ADMIN_ID, "Alice").send("/adduser 2000 staff shop-1")
    await ann.send("customer lost the receipt and wants money back")
    storage = harness.dp.storage
    assert isinstance(storage, DatabaseStorage)
    assert any(k.startswith("fsm:2000:2000:") for k in storage._cache)
    await ann.send("/forgetme")
    await ann.press(harness.app.renderer.t("privacy.confirm", "en"))
    assert not any(k.startswith("fsm:2000:2000:") for k in storage._cache)


# --- the update's claim finds its sender ---------------------------------------------------------------


async def test_claim_finds_the_person_once(db: Database) -> None:
    async with db.session() as session:
        await people.upsert_user(session, 77, role="lead", team="shop-1", name="Bea", actor="test")
    claimed, row = await claim_update_and_find_person(db, 42, 1, 77)
    assert claimed and row is not None and (row.role, row.team_name, row.name) == ("lead", "shop-1", "Bea")
    assert await claim_update_and_find_person(db, 42, 1, 77) == (False, None)  # a repeat: nothing
    claimed, row = await claim_update_and_find_person(db, 42, 2, 999)  # a stranger's update is still claimed
    assert claimed and row is None
    assert await claim_update_and_find_person(db, 42, 2, 999) == (False, None)
    assert (await claim_update_and_find_person(db, 43, 1, 77))[0]  # update ids are per bot


# --- filters on the loop -----------------------------------------------------------------------------------


def test_no_filter_is_left_to_a_thread() -> None:
    for router in routers():
        for observer in router.observers.values():
            for handler in [observer._handler, *observer.handlers]:
                assert all(f.awaitable for f in handler.filters or ()), (router.name, handler.callback)


async def test_a_whole_decision_never_goes_through_a_worker_thread(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await harness.person(ADMIN_ID, "Alice").send("/adduser 2000 staff shop-1")
    ann = harness.person(2000, "Ann")

    async def no_thread(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"asyncio.to_thread({args[0]!r}) on the update path")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    await ann.send("customer lost the receipt and wants money back")
    for label in ("Yes, or I can't tell", "Yes, found it", "Unused, can be sold again", "✅ Done as suggested"):
        await ann.press(label)
    await ann.send("20")
    await ann.press("Skip")
    await ann.press("Skip")
    assert "Decision #" in ann.last_text()


def test_the_cache_is_on_for_sqlite_and_off_for_postgresql_unless_set(tmp_path: Path) -> None:
    from bot.config import load_config

    (tmp_path / "config.yaml").write_text("{}\n")

    def cache(**environ: str) -> float:
        return load_config(tmp_path / "config.yaml", environ=environ).conversation_cache()

    assert cache(DATABASE_URL="sqlite:///data/m.db") == 300
    assert cache(DATABASE_URL="postgresql://u@h/db") == 0
    assert cache(DATABASE_URL="postgresql://u@h/db", MOMENTS_CONVERSATION_CACHE="30") == 30
    assert cache(DATABASE_URL="sqlite:///data/m.db", MOMENTS_CONVERSATION_CACHE="0") == 0
