"""Conversation state by key: each write is one committed statement, so a killed process loses nothing.

On the hot path (every update reads it, most write it), so this uses SQLAlchemy Core on a plain
connection: an ORM session per call cost a fifth of the bot's CPU in bench/flow.py.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.db import Database
from storage.models import Conversation
from storage.types import utcnow

TABLE = Conversation.__table__  # type: ignore[attr-defined]


@cache
def _select() -> Select:
    """Built once, with a bind parameter: building the query cost more than running it."""
    return select(TABLE.c.state, TABLE.c.data).where(TABLE.c.key == bindparam("key"))


async def load(db: Database, key: str) -> tuple[str | None, dict[str, Any]] | None:
    """(state, data) for `key`, or None when there is no row."""
    async with db.connect() as connection:
        row = (await connection.execute(_select(), {"key": key})).first()
    return (row.state, dict(row.data or {})) if row else None


@cache
def _upsert(is_sqlite: bool, changed: frozenset[str]) -> Insert:
    """INSERT … ON CONFLICT (key) DO UPDATE of the `changed` columns, built once per shape: building it anew
    (the `excluded` alias copies every column) cost more CPU than SQLite took to run it."""
    insert = sqlite_insert if is_sqlite else postgresql_insert
    statement = insert(TABLE)
    return statement.on_conflict_do_update(index_elements=["key"],
                                           set_={name: statement.excluded[name] for name in sorted(changed)})


async def save(db: Database, key: str, **changes: Any) -> None:
    """Set `state` and/or `data` for `key` in one upsert (no read first, no race with a twin update)."""
    values = {"state": None, "data": {}, **changes, "key": key, "updated_at": utcnow()}
    statement = _upsert(db.is_sqlite, frozenset(changes) | {"updated_at"})
    async with db.begin() as connection:
        await connection.execute(statement, values)
