"""The audit log: append-only rows, never updated or deleted by the application."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEntry


def audit(session: AsyncSession, action: str, *, actor_id: int | None = None, actor: str = "",
          subject: str = "", team_id: int | None = None, before: dict[str, Any] | None = None,
          after: dict[str, Any] | None = None) -> AuditEntry:
    """Add one entry to the session; it commits with the change it describes, or not at all."""
    entry = AuditEntry(actor_id=actor_id, actor=actor[:128], action=action, subject=subject[:128], team_id=team_id,
                       before=before, after=after)
    session.add(entry)
    return entry


async def recent(session: AsyncSession, limit: int = 20, since: datetime | None = None) -> Sequence[AuditEntry]:
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)
    return (await session.exec(query)).all()


async def all_entries(session: AsyncSession, since: datetime | None = None) -> Sequence[AuditEntry]:
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return (await session.exec(query.order_by(col(AuditEntry.at), col(AuditEntry.id)))).all()
