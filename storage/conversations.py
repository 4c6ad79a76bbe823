"""Conversation state by key: each write is one committed statement, so a killed process loses nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select

from storage.db import Database
from storage.models import Conversation
from storage.types import utcnow


async def load(db: Database, key: str) -> Conversation | None:
    async with db.session() as session:
        return (await session.exec(select(Conversation).where(Conversation.key == key))).first()


async def save(db: Database, key: str, **changes: Any) -> None:
    """Set `state` and/or `data` for `key` in one upsert (no read first, no race with a twin update)."""
    values = {"key": key, "updated_at": utcnow(), **changes}
    insert = sqlite_insert if db.is_sqlite else postgresql_insert
    statement = insert(Conversation).values({"state": None, "data": {}, **values})
    statement = statement.on_conflict_do_update(index_elements=["key"],
                                                set_={name: statement.excluded[name] for name in values})
    async with db.session() as session:
        await session.exec(statement)
        await session.commit()
