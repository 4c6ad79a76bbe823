"""Invites: created, found by the hash of their token, consumed without races, listed, revoked. Audited."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.audit import audit
from storage.models import Invite, Team, User
from storage.people import upsert_user, user_by_telegram_id
from storage.types import utcnow


def invite_record(invite: Invite) -> dict[str, Any]:
    """What the audit log keeps of an invite (never the token, which the database does not have)."""
    return {"id": invite.id, "team_id": invite.team_id, "role": invite.role, "max_uses": invite.max_uses,
            "uses": invite.uses, "expires_at": invite.expires_at.isoformat(timespec="seconds"),
            "revoked": invite.revoked_at is not None}


async def create(session: AsyncSession, *, token_hash: str, team_id: int, role: str, max_uses: int,
                 expires_at: datetime, actor_id: int | None = None, actor: str = "shell") -> Invite:
    """Store a new invite and its audit row in one commit."""
    invite = Invite(token_hash=token_hash, team_id=team_id, role=role, max_uses=max_uses, expires_at=expires_at,
                    created_by=actor_id)
    session.add(invite)
    await session.flush()
    audit(session, "invite.created", actor_id=actor_id, actor=actor, subject=f"invite #{invite.id}",
          team_id=team_id, after=invite_record(invite))
    await session.commit()
    return invite


async def by_token_hash(session: AsyncSession, token_hash: str) -> Invite | None:
    return (await session.exec(select(Invite).where(Invite.token_hash == token_hash))).first()


async def consume(session: AsyncSession, invite_id: int, now: datetime | None = None) -> bool:
    """Take one use of the invite, if it still has one, in the caller's transaction (not committed).

    One guarded UPDATE: the database checks uses, revocation and expiry while it writes, so of two people
    racing for the last use exactly one gets a row back. PostgreSQL makes the second wait for the first's
    row lock and re-checks the condition on the committed row; SQLite lets one writer at a time.
    """
    statement = (
        update(Invite)
        .where(col(Invite.id) == invite_id, col(Invite.uses) < col(Invite.max_uses),
               col(Invite.revoked_at).is_(None), col(Invite.expires_at) > (now or utcnow()))
        .values(uses=col(Invite.uses) + 1)
        .execution_options(synchronize_session=False)
    )
    result = await session.exec(statement)
    return (result.rowcount or 0) == 1


@dataclass(frozen=True)
class Joined:
    """The outcome of opening an invite. `joined` False: nothing was written; `invite` then shows why
    (bot.core.invites.invite_status tells expired, used up, revoked; None: no such invite), unless
    `registered` says the person is an active member already."""

    joined: bool
    user: User | None = None
    invite: Invite | None = None
    created: bool = False
    registered: bool = False


async def join(session: AsyncSession, invite_id: int, *, telegram_id: int, name: str, language: str,
               shift: dict[str, Any], now: datetime | None = None) -> Joined:
    """Consume one use and create (or bring back) the person, with both audit rows, in ONE transaction.

    If the invite has no use left by now, or the person is already an active member, nothing is written.
    """
    now = now or utcnow()
    # The write comes first: on SQLite it takes the write lock before anything is read, on PostgreSQL
    # the row lock; a rollback gives the use back.
    if not await consume(session, invite_id, now):
        await session.rollback()
        return Joined(False, invite=await session.get(Invite, invite_id, populate_existing=True))
    existing = await user_by_telegram_id(session, telegram_id)
    if existing is not None and existing.active:
        await session.rollback()
        return Joined(False, user=existing, registered=True)
    invite = await session.get(Invite, invite_id, populate_existing=True)
    assert invite is not None
    team = await session.get(Team, invite.team_id)
    assert team is not None
    user, created = await upsert_user(session, telegram_id, role=invite.role, team=team.name, name=name,
                                      language=language, actor_id=invite.created_by,
                                      actor=f"invite #{invite.id}", commit=False)
    user.language = language
    user.shift = shift
    session.add(user)
    await session.flush()
    audit(session, "invite.used", actor_id=user.id, actor=name, subject=f"invite #{invite.id}",
          team_id=invite.team_id, before={"uses": invite.uses - 1},
          after={"uses": invite.uses, "telegram_id": telegram_id, "role": invite.role})
    await session.commit()
    await session.refresh(user)
    return Joined(True, user=user, invite=invite, created=created)


@dataclass(frozen=True)
class InviteRow:
    invite: Invite
    team: str
    created_by: str

    @property
    def uses_left(self) -> int:
        return max(self.invite.max_uses - self.invite.uses, 0)


async def active(session: AsyncSession, team_ids: Collection[int] | None = None,
                 now: datetime | None = None) -> list[InviteRow]:
    """Invites that still open: not revoked, not expired, a use left. `team_ids` None: every team."""
    query = (
        select(Invite, Team.name, User.name)
        .join(Team, col(Team.id) == col(Invite.team_id))
        .outerjoin(User, col(User.id) == col(Invite.created_by))
        .where(col(Invite.revoked_at).is_(None), col(Invite.expires_at) > (now or utcnow()),
               col(Invite.uses) < col(Invite.max_uses))
        .order_by(col(Invite.expires_at), col(Invite.id))
    )
    if team_ids is not None:
        query = query.where(col(Invite.team_id).in_(list(team_ids)))
    return [InviteRow(invite, team, creator or "") for invite, team, creator in (await session.exec(query)).all()]


async def revoke(session: AsyncSession, invite_id: int, *, actor_id: int | None = None, actor: str = "shell",
                 now: datetime | None = None) -> Invite | None:
    """Revoke an invite not yet revoked (audited, one commit). None: no such invite, or revoked already."""
    now = now or utcnow()
    statement = (
        update(Invite).where(col(Invite.id) == invite_id, col(Invite.revoked_at).is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False)
    )
    if ((await session.exec(statement)).rowcount or 0) != 1:
        await session.rollback()
        return None
    invite = await session.get(Invite, invite_id, populate_existing=True)
    assert invite is not None
    before = {**invite_record(invite), "revoked": False}
    audit(session, "invite.revoked", actor_id=actor_id, actor=actor, subject=f"invite #{invite.id}",
          team_id=invite.team_id, before=before, after=invite_record(invite))
    await session.commit()
    return invite
