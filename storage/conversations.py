"""Conversation state by key: each write is committed at once, so a killed process loses nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Conversation
from storage.types import utcnow


async def load(db: Database, key: str) -> Conversation | None:
    async with db.session() as session:
        return await session.get(Conversation, key)


async def save(db: Database, key: str, **changes: Any) -> None:
    """Set `state` and/or `data` for `key`, creating the row when needed."""
    for _attempt in range(3):
        async with db.session() as session:
            row = await session.get(Conversation, key)
            if row is None:
                row = Conversation(key=key)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            session.add(row)
            try:
                await session.commit()
                return
            except IntegrityError:
                await session.rollback()  # created concurrently by a twin update: update it instead
    raise RuntimeError(f"could not save conversation {key}")
