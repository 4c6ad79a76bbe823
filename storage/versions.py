"""Stored playbook versions: every content a decision may refer to."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PlaybookVersion


async def remember_version(session: AsyncSession, playbook_id: str, version: str, source: str,
                           origin: str = "") -> bool:
    """Store a version once. Returns True when it was new."""
    query = select(PlaybookVersion).where(PlaybookVersion.playbook_id == playbook_id,
                                          PlaybookVersion.version == version)
    if (await session.exec(query)).first() is not None:
        return False
    session.add(PlaybookVersion(playbook_id=playbook_id, version=version, source=source, origin=origin))
    await session.commit()
    return True


async def version_source(session: AsyncSession, playbook_id: str, version: str) -> str | None:
    query = select(PlaybookVersion.source).where(PlaybookVersion.playbook_id == playbook_id,
                                                 PlaybookVersion.version == version)
    return (await session.exec(query)).first()
