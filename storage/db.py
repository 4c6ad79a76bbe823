"""Engine and sessions from the URLs people write: sqlite:///data/moments.db, postgresql://user@host/db."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncTransaction,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage import sqlite_inline

if TYPE_CHECKING:
    from storage.migrations import UpgradeReport

log = logging.getLogger(__name__)

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


class DatabaseURLError(ValueError):
    pass


class ClosedAtOnce:
    """`engine.connect()` / `engine.begin()` for SQLite on the loop's thread, minus a task per use.

    SQLAlchemy's async context managers close the connection in a task of their own, shielded, so that a
    cancelled caller cannot abandon the close halfway (sqlalchemy/ext/asyncio/base.py `_run_to_completion`).
    That is a new task and two more turns of the event loop on every use: half the CPU of a short read, and
    the bot makes two or three per update. With storage/sqlite_inline.py no close or commit ever suspends, so
    nothing can interrupt it, and it is awaited directly."""

    __slots__ = ("_begin", "_connection", "_engine", "_transaction")

    def __init__(self, engine: AsyncEngine, begin: bool) -> None:
        self._engine = engine
        self._begin = begin

    async def __aenter__(self) -> AsyncConnection:
        self._connection = connection = await self._engine.connect()
        if self._begin:
            try:
                self._transaction: AsyncTransaction = await connection.begin()
            except BaseException:
                await connection.close()
                raise
        return connection

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if self._begin and self._transaction.is_active:
                if exc_type is None:
                    await self._transaction.commit()
                else:
                    await self._transaction.rollback()
        finally:
            await self._connection.close()


class SessionClosedAtOnce(AsyncSession):
    """An ORM session that closes without SQLAlchemy's shielding task, for the same reason as ClosedAtOnce."""

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def async_url(url: str) -> str:
    """Pick the async driver for a plain URL; an explicit driver (postgresql+asyncpg://) is kept."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError for different typos
        raise DatabaseURLError(f"DATABASE_URL is not a database URL: {url!r}") from exc
    backend = parsed.drivername.split("+")[0]
    if backend not in ASYNC_DRIVERS:
        raise DatabaseURLError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[backend])
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers work while one writer commits; NORMAL sync survives a killed process
        # (not a power cut mid-commit), which is SQLite's advice for WAL. Busy timeout rides out write bursts
        # (none on the loop's own thread: storage/sqlite_inline.py waits for locks there without blocking).
        cursor = dbapi_connection.cursor()
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.close()

    return apply


def _switch_to_wal(cursor: Any) -> None:
    """Turning a new file to WAL needs it to itself for a moment: processes opening a fresh database together
    get "database is locked" at once, without SQLite's busy handler. Try again, briefly; once one of them has
    switched, the mode is the file's and the others' pragma is a no-op."""
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as error:  # sqlite3's OperationalError, or SQLAlchemy's wrapping it
            if "locked" not in str(error) or attempt == 99:
                raise
            time.sleep(0.01 + 0.002 * attempt)


class Database:
    def __init__(self, url: str, echo: bool = False, sqlite_threads: bool | None = None) -> None:
        # aiosqlite's worker threads only when asked (MOMENTS_SQLITE_THREADS=1): see storage/sqlite_inline.py.
        threads = os.environ.get("MOMENTS_SQLITE_THREADS") == "1" if sqlite_threads is None else sqlite_threads
        self.url = async_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = parsed.database or ""
            in_memory = database in ("", ":memory:")
            if in_memory:
                kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                # One connection: SQLite has one writer anyway, and queueing in the pool is fair and fast,
                # where several connections fight for the write lock with sleeps of up to 100 ms
                # (bench/flow.py saw waits of 3 s at 50 users).
                kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
            if not threads:
                # SQLite calls on the loop's thread, not aiosqlite's: see storage/sqlite_inline.py.
                path = ":memory:" if in_memory else os.path.abspath(Path(database).expanduser())
                kwargs["async_creator"] = sqlite_inline.creator(path, check_same_thread=False)
                kwargs.pop("connect_args", None)
        else:
            kwargs.update(pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas(10_000 if threads else 0))
        # SQLite on the loop's thread: closing never suspends, so it need not be shielded (see ClosedAtOnce).
        self.closes_at_once = self.is_sqlite and not threads
        self.sessions = async_sessionmaker(self.engine, class_=SessionClosedAtOnce if self.closes_at_once else
                                           AsyncSession, expire_on_commit=False)

    async def create_tables(self) -> None:
        """The models' tables straight from the metadata, for tests and throwaway databases; real databases are
        made and changed by migrate()."""
        async with self.engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)

    async def migrate(self, revision: str = "head") -> UpgradeReport:
        """Upgrade the schema through the migrations (storage/migrations), adopting a create_all database."""
        from storage import migrations

        if migrations.is_memory(self.url):
            # Another engine would open another, empty, in-memory database: migrate on this one's connection.
            async with self.engine.begin() as connection:
                return await connection.run_sync(migrations.upgrade_connection, revision)
        # Alembic is synchronous: a short-lived engine of its own, off the event loop.
        return await asyncio.to_thread(migrations.upgrade, self.url, revision)

    async def warn_unless_at_head(self) -> None:
        """With migrations off at start, say so when the schema is not the one this release expects."""
        from storage import migrations

        async with self.engine.connect() as connection:
            found = await connection.run_sync(migrations.current_revision)
        head = migrations.head_revision()
        if found != head:
            log.warning("the database schema is at revision %s, this release expects %s: run `moments db upgrade`",
                        found or "none", head)

    def session(self) -> AsyncSession:
        return self.sessions()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """`engine.connect()`, closed at once on the way out where closing cannot suspend (see ClosedAtOnce)."""
        return ClosedAtOnce(self.engine, begin=False) if self.closes_at_once else self.engine.connect()

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """`engine.begin()`: a connection in a transaction, committed on the way out unless it raised."""
        return ClosedAtOnce(self.engine, begin=True) if self.closes_at_once else self.engine.begin()

    async def dispose(self) -> None:
        await self.engine.dispose()
