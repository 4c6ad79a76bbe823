"""Managing people: list a team, change a role, move, deactivate. Each change commits with its audit row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.audit import audit
from storage.models import Escalation, Team, User
from storage.people import person_record, team_name
from storage.types import utcnow


@dataclass(frozen=True)
class Member:
    user: User
    team: str | None


async def teams(session: AsyncSession, team_ids: Collection[int] | None = None) -> Sequence[Team]:
    """The teams with these ids (None: all), by name."""
    query = select(Team).order_by(col(Team.name))
    if team_ids is not None:
        query = query.where(col(Team.id).in_(list(team_ids)))
    return (await session.exec(query)).all()


async def members(session: AsyncSession, team_ids: Collection[int] | None = None) -> list[Member]:
    """People of these teams (None: every team), active first, then by team and name."""
    query = (
        select(User, Team.name).outerjoin(Team, col(Team.id) == col(User.team_id))
        .order_by(col(User.active).desc(), col(Team.name), col(User.name), col(User.id))
    )
    if team_ids is not None:
        query = query.where(col(User.team_id).in_(list(team_ids)))
    return [Member(user, team) for user, team in (await session.exec(query)).all()]


async def member(session: AsyncSession, user_id: int) -> Member | None:
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        return None
    return Member(user, await team_name(session, user.team_id))


async def set_role(session: AsyncSession, user: User, role: str, *, actor_id: int | None, actor: str) -> bool:
    """Change `user`'s role (audited, one commit). False when it already was that role."""
    if user.role == role:
        return False
    team = await team_name(session, user.team_id)
    before = person_record(user, team)
    user.role = role
    session.add(user)
    audit(session, "person.role_changed", actor_id=actor_id, actor=actor, subject=str(user.telegram_id),
          team_id=user.team_id, before=before, after=person_record(user, team))
    await session.commit()
    return True


async def move(session: AsyncSession, user: User, team_id: int, *, actor_id: int | None, actor: str) -> bool:
    """Move `user` to another team (audited, one commit). False when they were in it already."""
    if user.team_id == team_id:
        return False
    before = person_record(user, await team_name(session, user.team_id))
    old_team = user.team_id
    user.team_id = team_id
    session.add(user)
    audit(session, "person.moved", actor_id=actor_id, actor=actor, subject=str(user.telegram_id),
          team_id=team_id, before={**before, "team_id": old_team},
          after={**person_record(user, await team_name(session, team_id)), "team_id": team_id})
    await session.commit()
    return True


async def deactivate(session: AsyncSession, user: User, *, actor_id: int | None, actor: str,
                     now: datetime | None = None) -> int | None:
    """Someone left: inactive from now on, off duty, their pending escalations cancelled; their decisions
    stay. One commit with the audit row. Returns how many escalations were cancelled; None if already inactive.
    """
    if not user.active:
        return None
    now = now or utcnow()
    team = await team_name(session, user.team_id)
    before = person_record(user, team)
    user.active = False
    user.on_duty = False
    user.deactivated_at = now
    session.add(user)
    cancelled = await session.exec(
        update(Escalation)
        .where(col(Escalation.user_id) == user.id, col(Escalation.status) == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    count = cancelled.rowcount or 0
    audit(session, "person.deactivated", actor_id=actor_id, actor=actor, subject=str(user.telegram_id),
          team_id=user.team_id, before=before,
          after={**person_record(user, team), "escalations_cancelled": count})
    await session.commit()
    return count
