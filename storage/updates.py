"""De-duplication of incoming updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import Database
from storage.models import ProcessedUpdate
from storage.types import utcnow


async def claim_update(db: Database, bot_id: int, update_id: int) -> bool:
    """True the first time an update is seen; False for a repeat. Core, not ORM: it runs on every update."""
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    try:
        async with db.engine.begin() as connection:
            await connection.execute(insert(table).values(bot_id=bot_id, update_id=update_id, processed_at=utcnow()))
    except IntegrityError:
        return False
    return True


async def forget_updates_before(db: Database, moment: datetime) -> int:
    async with db.session() as session:
        result = await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < moment))
        await session.commit()
        return result.rowcount or 0
