"""SQLite on the event loop's own thread, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (execute, fetch, commit, cursor close, the pool's rollback) on a worker thread and
hands the result back through the event loop: a thread switch, a self-pipe wake-up and a loop turn each time,
about 28 of them per Telegram update here. A SQLite call on a local file in WAL mode takes tens of microseconds,
far less than the hand-off, so `bench/flow.py` showed the bot spending more CPU on the hand-offs than in SQLite.
This module gives SQLAlchemy an object with aiosqlite's connection and cursor API whose coroutines run the
sqlite3 call at once and never suspend: SQLAlchemy, the ORM and the dialect stay unchanged.

The price: a statement blocks the event loop while it runs. The engine has one connection (storage/db.py), so
database work was already serialised; what could now wait is non-database work, for as long as one statement
takes. A write lock held by another process (a CLI command, a migration) must not freeze the loop the way
SQLite's busy handler would (sleeping inside sqlite3): the connection has no busy timeout, and a "database is
locked" answer is retried here after an asyncio sleep, for up to BUSY_TIMEOUT seconds, so the bot keeps serving
/healthz, signals and everything that does not need the database meanwhile.
MOMENTS_SQLITE_THREADS=1 goes back to aiosqlite's threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

BUSY_TIMEOUT = 10.0  # seconds a statement waits for another process's lock, as busy_timeout did
_T = TypeVar("_T")


def _locked(error: sqlite3.OperationalError) -> bool:
    return str(error).startswith(("database is locked", "database table is locked"))


async def _patiently(call: Callable[[], _T]) -> _T:
    """Run `call` now; while another connection holds the lock, retry after growing sleeps on the event loop."""
    try:
        return call()
    except sqlite3.OperationalError as error:
        if not _locked(error):
            raise
    deadline, pause = time.monotonic() + BUSY_TIMEOUT, 0.001
    while True:
        await asyncio.sleep(pause)
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _locked(error) or time.monotonic() + pause > deadline:
                raise
        pause = min(pause * 2, 0.05)


class InlineCursor:
    """aiosqlite.Cursor's API over a sqlite3 cursor, each coroutine finishing without suspending."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    # SQLAlchemy enters the object Connection.cursor() returns (aiosqlite returns an awaitable context manager).
    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await _patiently(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        parameters = list(parameters)  # a retry must see them all again
        await _patiently(lambda: self._cursor.executemany(sql, parameters))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _ImmediateQueue:
    """What SQLAlchemy's isolation-level setter puts work on (aiosqlite's private `_tx` queue): run it now."""

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite's thread does
            future.set_exception(exc)


class InlineConnection:
    """aiosqlite.Connection's API (the part SQLAlchemy's dialect uses) over a sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._tx = _ImmediateQueue()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _patiently(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """Terminate (SQLAlchemy's force close): nothing runs elsewhere, so closing is all there is."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction


def creator(database: str, **connect_args: Any) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: opens `database` with sqlite3 on the calling (loop) thread."""

    async def connect() -> InlineConnection:
        # Same arguments as SQLAlchemy's pysqlite dialect gives sqlite3 (no type detection: the dialect
        # converts values itself; legacy transaction control, which the dialect expects).
        connection = sqlite3.connect(database, timeout=0, **connect_args)
        return InlineConnection(connection)

    return connect
