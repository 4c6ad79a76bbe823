"""Users and teams."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Row, Select, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.audit import audit
from storage.db import Database
from storage.models import Team, TeamOversight, TrainingProfile, User


class TeamSettings(Protocol):
    """A team as configuration declares it (bot.config.TeamConfig fits)."""

    name: str
    timezone: str | None
    currency: str | None
    language: str | None
    limits: dict[str, Decimal]


async def user_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    result = await session.exec(select(User).where(User.telegram_id == telegram_id))
    return result.first()


@cache
def person_query() -> Select[Any]:
    """The person and their team's settings, as one Core SELECT taking `telegram_id` (see person_row for the
    columns). Built once: it runs on every update, and building it cost more than running it."""
    users, teams = User.__table__, Team.__table__  # type: ignore[attr-defined]
    profiles = TrainingProfile.__table__  # type: ignore[attr-defined]
    return (sa_select(users.c.id, users.c.telegram_id, users.c.name, users.c.role, users.c.team_id,
                      users.c.language, users.c.active, teams.c.name.label("team_name"), teams.c.currency,
                      teams.c.timezone, teams.c.limits, profiles.c.unreachable_since,
                      teams.c.language.label("team_language"))
            .select_from(users.outerjoin(teams, teams.c.id == users.c.team_id)
                         .outerjoin(profiles, profiles.c.user_id == users.c.id))
            .where(users.c.telegram_id == bindparam("telegram_id")))


async def person_row(db: Database, telegram_id: int) -> Row[Any] | None:
    """The person and their team's settings in one Core query (no ORM session: it runs on every update).

    Columns: id, telegram_id, name, role, team_id, language, active, team_name, currency, timezone, limits,
    unreachable_since (training: set when sending to them failed with 403; they are back once they write),
    team_language.
    """
    async with db.connect() as connection:
        return (await connection.execute(person_query(), {"telegram_id": telegram_id})).first()


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    user = await session.get(User, user_id)
    if user is not None:
        user.language = language
        session.add(user)
        await session.commit()


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


def person_record(user: User, team: str | None) -> dict[str, Any]:
    """What the audit log keeps of a person, before and after a change."""
    return {"telegram_id": user.telegram_id, "role": user.role, "team": team, "active": user.active}


async def upsert_user(session: AsyncSession, telegram_id: int, *, role: str, team: str, name: str = "",
                      language: str | None = None, actor_id: int | None = None, actor: str = "shell",
                      commit: bool = True) -> tuple[User, bool]:
    """Add a person, or update the role and team of one already known; audited. Returns (user, created).

    `commit=False` only flushes, so the caller can commit it together with more (an invite's use)."""
    team_row = await ensure_team(session, team)
    user = await user_by_telegram_id(session, telegram_id)
    created = user is None
    before = None
    if user is None:
        # Without a choice of their own (added by an admin), a person speaks their team's language.
        user = User(telegram_id=telegram_id, name=name, role=role, team_id=team_row.id,
                    language=language or team_row.language or "en")
    else:
        before = person_record(user, await team_name(session, user.team_id))
        user.role = role
        user.team_id = team_row.id
        user.active = True
        user.deactivated_at = None
        if name:
            user.name = name
    session.add(user)
    after = person_record(user, team_row.name)
    if before != after:
        audit(session, "person.added" if created else "person.changed", actor_id=actor_id, actor=actor,
              subject=str(telegram_id), team_id=team_row.id, before=before, after=after)
    if not commit:
        await session.flush()
        return user, created
    await session.commit()
    await session.refresh(user)
    return user, created


async def sync_teams(session: AsyncSession, teams: list[TeamSettings]) -> None:
    """Apply the teams declared in config.yaml: created when missing, their declared fields updated."""
    for declared in teams:
        team = await ensure_team(session, declared.name)
        before = team_record(team)
        for name in ("timezone", "currency", "language"):
            value = getattr(declared, name)
            if value is not None:
                setattr(team, name, value)
        if declared.limits:
            team.limits = {role: str(amount) for role, amount in declared.limits.items()}
        after = team_record(team)
        if before != after:
            session.add(team)
            audit(session, "team.configured", actor="config.yaml", subject=team.name, team_id=team.id,
                  before=before, after=after)
    await session.commit()


def team_record(team: Team) -> dict[str, Any]:
    return {"timezone": team.timezone, "currency": team.currency, "language": team.language,
            "limits": dict(team.limits)}


async def overseen_team_ids(session: AsyncSession, user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    query = select(TeamOversight.team_id).where(TeamOversight.user_id == user_id)
    return list((await session.exec(query)).all())


async def set_oversight(session: AsyncSession, user: User, teams: list[str], *, actor_id: int | None = None,
                        actor: str = "shell") -> None:
    """Replace the further teams `user` oversees; audited."""
    assert user.id is not None
    before = sorted(await _overseen_names(session, user.id))
    for row in (await session.exec(select(TeamOversight).where(TeamOversight.user_id == user.id))).all():
        await session.delete(row)
    for name in sorted(set(teams)):
        team = await ensure_team(session, name)
        assert team.id is not None
        session.add(TeamOversight(user_id=user.id, team_id=team.id))
    audit(session, "person.oversight_changed", actor_id=actor_id, actor=actor, subject=str(user.telegram_id),
          team_id=user.team_id, before={"oversees": before}, after={"oversees": sorted(set(teams))})
    await session.commit()


async def _overseen_names(session: AsyncSession, user_id: int) -> list[str]:
    query = select(Team.name).join(TeamOversight, col(TeamOversight.team_id) == Team.id) \
        .where(TeamOversight.user_id == user_id)
    return list((await session.exec(query)).all())
