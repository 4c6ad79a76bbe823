"""Who hears about a changed playbook: the active people who decided with it lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Decision, Team, User


@dataclass(frozen=True)
class Recipient:
    user_id: int
    telegram_id: int
    language: str
    currency: str | None  # the team's, when it has one


async def recent_users(session: AsyncSession, playbook_id: str, since: datetime,
                       exclude_user_id: int | None = None) -> list[Recipient]:
    """The distinct active people with a decision on `playbook_id` since `since`, in one query."""
    query = (select(User.id, User.telegram_id, User.language, Team.currency)
             .join(Decision, col(Decision.user_id) == col(User.id))
             .join(Team, col(Team.id) == col(User.team_id), isouter=True)
             .where(Decision.playbook_id == playbook_id, col(Decision.created_at) >= since,
                    col(User.active).is_(True))
             .distinct()
             .order_by(col(User.id)))
    if exclude_user_id is not None:
        query = query.where(col(User.id) != exclude_user_id)
    return [Recipient(user_id, telegram_id, language, currency)
            for user_id, telegram_id, language, currency in (await session.exec(query)).all()]
