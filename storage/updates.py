"""De-duplication of incoming updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import Database
from storage.models import ProcessedUpdate


async def claim_update(db: Database, bot_id: int, update_id: int) -> bool:
    """True the first time an update is seen; False for a repeat."""
    async with db.session() as session:
        session.add(ProcessedUpdate(bot_id=bot_id, update_id=update_id))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False
    return True


async def forget_updates_before(db: Database, moment: datetime) -> int:
    async with db.session() as session:
        result = await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < moment))
        await session.commit()
        return result.rowcount or 0
