"""Phrases staff typed that no playbook covered: kept for /unmatched, purged like notes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import UnmatchedPhrase
from storage.types import utcnow

MAX_TEXT = 200
NO_MATCH = "no_match"
OFFERED = "offered"  # a list of playbooks was shown; becomes none_of_these when its button is pressed
NONE_OF_THESE = "none_of_these"
UNMATCHED = (NO_MATCH, NONE_OF_THESE)  # what /unmatched counts


def clip(text: str) -> str:
    """One line, at most MAX_TEXT characters: never more is stored."""
    return " ".join(text.split())[:MAX_TEXT]


async def record(session: AsyncSession, text: str, *, team_id: int | None, user_id: int | None,
                 reason: str = NO_MATCH) -> UnmatchedPhrase:
    row = UnmatchedPhrase(text=clip(text), team_id=team_id, user_id=user_id, reason=reason, created_at=utcnow())
    session.add(row)
    await session.commit()
    return row


async def get(session: AsyncSession, phrase_id: int) -> UnmatchedPhrase | None:
    return await session.get(UnmatchedPhrase, phrase_id)


async def mark_none_of_these(session: AsyncSession, phrase_id: int, user_id: int) -> UnmatchedPhrase | None:
    """The person's own offered phrase, now marked none_of_these (idempotent); None when not theirs or gone."""
    await session.exec(
        update(UnmatchedPhrase)
        .where(col(UnmatchedPhrase.id) == phrase_id, col(UnmatchedPhrase.user_id) == user_id,
               col(UnmatchedPhrase.reason) == OFFERED)
        .values(reason=NONE_OF_THESE))
    await session.commit()
    row = await session.get(UnmatchedPhrase, phrase_id)
    if row is None or row.user_id != user_id or row.reason != NONE_OF_THESE:
        return None
    return row


async def recent(session: AsyncSession, since: datetime,
                 team_ids: Collection[int | None] | None = None) -> Sequence[UnmatchedPhrase]:
    """Unmatched phrases since `since`, newest first; of `team_ids` only (None in it: no team), or of all."""
    query = select(UnmatchedPhrase).where(col(UnmatchedPhrase.created_at) >= since,
                                          col(UnmatchedPhrase.reason).in_(UNMATCHED))
    if team_ids is not None:
        ids = [team_id for team_id in team_ids if team_id is not None]
        conditions = [col(UnmatchedPhrase.team_id).in_(ids)] if ids else []
        if None in team_ids:
            conditions.append(col(UnmatchedPhrase.team_id).is_(None))
        if not conditions:
            return []
        query = query.where(or_(*conditions))
    query = query.order_by(col(UnmatchedPhrase.created_at).desc(), col(UnmatchedPhrase.id).desc())
    return (await session.exec(query)).all()


async def purge(session: AsyncSession, older_than: datetime, offered_before: datetime | None = None) -> int:
    """Delete phrases made before `older_than`, and offers nobody answered made before `offered_before`.

    Does not commit: the caller's purge commits once.
    """
    result = await session.exec(
        delete(UnmatchedPhrase).where(col(UnmatchedPhrase.created_at) < older_than))
    deleted = result.rowcount or 0
    if offered_before is not None:
        result = await session.exec(
            delete(UnmatchedPhrase).where(col(UnmatchedPhrase.created_at) < offered_before,
                                          col(UnmatchedPhrase.reason) == OFFERED))
        deleted += result.rowcount or 0
    return deleted


async def forget(session: AsyncSession, user_id: int) -> None:
    """Delete every phrase a person typed (/forgetme). Does not commit."""
    await session.exec(delete(UnmatchedPhrase).where(col(UnmatchedPhrase.user_id) == user_id))
