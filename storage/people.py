"""Users and teams."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Team, User


async def user_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    result = await session.exec(select(User).where(User.telegram_id == telegram_id))
    return result.first()


async def team_by_name(session: AsyncSession, name: str) -> Team | None:
    return (await session.exec(select(Team).where(Team.name == name))).first()


async def ensure_team(session: AsyncSession, name: str) -> Team:
    team = await team_by_name(session, name)
    if team is None:
        team = Team(name=name)
        session.add(team)
        await session.flush()
    return team


async def team_name(session: AsyncSession, team_id: int | None) -> str | None:
    if team_id is None:
        return None
    team = await session.get(Team, team_id)
    return team.name if team else None


async def upsert_user(session: AsyncSession, telegram_id: int, *, role: str, team: str, name: str = "",
                      language: str | None = None) -> tuple[User, bool]:
    """Add a person, or update the role and team of one already known. Returns (user, created)."""
    team_row = await ensure_team(session, team)
    user = await user_by_telegram_id(session, telegram_id)
    created = user is None
    if user is None:
        user = User(telegram_id=telegram_id, name=name, role=role, team_id=team_row.id,
                    language=language or "en")
    else:
        user.role = role
        user.team_id = team_row.id
        user.active = True
        if name:
            user.name = name
    session.add(user)
    await session.commit()
    await session.refresh(user)
    return user, created
