"""Escalations: the case a staff member put to the leads, each lead's copy, and the one answer that wins.

Every change of an escalation's status is one guarded UPDATE ... WHERE id = ? AND status = 'pending':
whichever process or task commits first wins (rowcount 1); the others change nothing and read who did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Escalation, EscalationNotice, Team, User
from storage.types import utcnow

PENDING = "pending"
ANSWERING_ROLES = ("lead", "manager", "admin")


async def team_candidates(session: AsyncSession, team_id: int | None) -> Sequence[User]:
    """Active people of a team who could be asked (leads, managers, admins), oldest first."""
    query = (select(User).where(User.team_id == team_id, col(User.active).is_(True),
                                col(User.role).in_(ANSWERING_ROLES))
             .order_by(col(User.id)))
    return (await session.exec(query)).all()


async def create(session: AsyncSession, escalation: Escalation) -> Escalation:
    session.add(escalation)
    await session.commit()
    await session.refresh(escalation)
    return escalation


async def get(session: AsyncSession, escalation_id: int) -> Escalation | None:
    return await session.get(Escalation, escalation_id, populate_existing=True)


async def add_notice(session: AsyncSession, escalation_id: int, lead_user_id: int, chat_id: int,
                     message_id: int) -> None:
    session.add(EscalationNotice(escalation_id=escalation_id, lead_user_id=lead_user_id, chat_id=chat_id,
                                 message_id=message_id))
    await session.commit()


async def notices(session: AsyncSession, escalation_id: int) -> list[tuple[EscalationNotice, User]]:
    """Every lead's copy of the case, with that lead (for their language and limit)."""
    query = (select(EscalationNotice, User).join(User, col(User.id) == EscalationNotice.lead_user_id)
             .where(EscalationNotice.escalation_id == escalation_id).order_by(col(User.id)))
    return [(notice, user) for notice, user in (await session.exec(query)).all()]


async def claim(session: AsyncSession, escalation_id: int, status: str, *, answered_by: int | None = None,
                now: datetime | None = None, due_by: datetime | None = None) -> bool:
    """Move a pending escalation to `status`. True for the one caller that did it; False changes nothing.

    `due_by`: only if the escalation is due by then (a timeout never fires early).
    """
    moment = now or utcnow()
    query = update(Escalation).where(col(Escalation.id) == escalation_id, col(Escalation.status) == PENDING)
    if due_by is not None:
        query = query.where(col(Escalation.due_at) <= due_by)
    result = await session.exec(query.values(status=status, answered_by=answered_by, answered_at=moment))
    await session.commit()
    return result.rowcount == 1


async def update_pending(session: AsyncSession, escalation_id: int, **values: Any) -> bool:
    """Change fields of an escalation still waiting for its answer (the note, the staff's message)."""
    query = (update(Escalation)
             .where(col(Escalation.id) == escalation_id, col(Escalation.status) == PENDING).values(**values))
    result = await session.exec(query)
    await session.commit()
    return result.rowcount == 1


async def set_decision(session: AsyncSession, escalation_id: int, decision_id: int) -> None:
    await session.exec(update(Escalation).where(col(Escalation.id) == escalation_id)
                       .values(decision_id=decision_id))
    await session.commit()


async def due_ids(session: AsyncSession, now: datetime) -> list[int]:
    query = (select(Escalation.id).where(col(Escalation.status) == PENDING, col(Escalation.due_at) <= now)
             .order_by(col(Escalation.due_at)))
    return [i for i in (await session.exec(query)).all() if i is not None]


async def pending(session: AsyncSession) -> Sequence[Escalation]:
    query = select(Escalation).where(col(Escalation.status) == PENDING).order_by(col(Escalation.due_at))
    return (await session.exec(query)).all()


async def user_and_team(session: AsyncSession, user_id: int | None) -> tuple[User | None, Team | None]:
    user = await session.get(User, user_id) if user_id is not None else None
    team = await session.get(Team, user.team_id) if user is not None and user.team_id is not None else None
    return user, team


async def set_on_duty(session: AsyncSession, user_id: int, on_duty: bool | None = None) -> bool:
    """Set (or, with None, toggle) whether a person receives escalations first. Returns the new value."""
    user = await session.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    user.on_duty = (not user.on_duty) if on_duty is None else on_duty
    session.add(user)
    await session.commit()
    return user.on_duty


async def on_duty(session: AsyncSession, team_id: int | None) -> Sequence[User]:
    query = (select(User).where(User.team_id == team_id, col(User.active).is_(True),
                                col(User.on_duty).is_(True), col(User.role).in_(ANSWERING_ROLES))
             .order_by(col(User.id)))
    return (await session.exec(query)).all()


async def remember_name(session: AsyncSession, user_id: int, name: str) -> None:
    """Keep the name Telegram shows for someone added without one, so the others see who asked or answered."""
    if not name:
        return
    await session.exec(update(User).where(col(User.id) == user_id, col(User.name) == "").values(name=name[:128]))
    await session.commit()
