"""Recording decisions and reading them back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.decisions import DecisionDraft
from bot.core.money import currency_decimals, from_minor
from storage.models import Decision, Team, User
from storage.types import utcnow


async def record_decision(session: AsyncSession, draft: DecisionDraft, *, user_id: int,
                          team_id: int | None, now: datetime | None = None) -> tuple[Decision, bool]:
    """Commit one decision. The same flow recorded again returns the first record. Returns (row, created)."""
    existing = await _by_flow(session, user_id, draft.flow_token)
    if existing is not None:
        return existing, False
    decision = Decision(user_id=user_id, team_id=team_id, created_at=now or utcnow(), **asdict(draft))
    session.add(decision)
    try:
        await session.commit()
    except IntegrityError:
        # A twin of this update won the race between our check and our insert.
        await session.rollback()
        existing = await _by_flow(session, user_id, draft.flow_token)
        if existing is None:
            raise
        return existing, False
    await session.refresh(decision)
    return decision, True


async def _by_flow(session: AsyncSession, user_id: int, flow_token: str) -> Decision | None:
    query = select(Decision).where(Decision.user_id == user_id, Decision.flow_token == flow_token)
    return (await session.exec(query)).first()


async def recent_for_user(session: AsyncSession, user_id: int, limit: int = 10) -> Sequence[Decision]:
    query = (select(Decision).where(Decision.user_id == user_id)
             .order_by(col(Decision.created_at).desc(), col(Decision.id).desc()).limit(limit))
    return (await session.exec(query)).all()


EXPORT_COLUMNS = (
    "decision_id", "created_at", "user_id", "telegram_id", "user_name", "team", "playbook_id",
    "playbook_version", "path", "recommended_outcome", "taken_outcome", "taken_text", "disposition",
    "followed", "favours_customer", "amount", "currency", "limit", "over_limit", "reaction", "note",
    "seconds_to_decide", "escalation", "lead_user_id", "on_timeout",
)


async def export_rows(session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None,
                      team: str | None = None) -> list[dict[str, Any]]:
    """Decisions as flat rows for CSV, oldest first. `until` is exclusive."""
    query = (select(Decision, User, Team).join(User, col(User.id) == Decision.user_id)
             .join(Team, col(Team.id) == Decision.team_id, isouter=True))
    if since is not None:
        query = query.where(Decision.created_at >= since)
    if until is not None:
        query = query.where(Decision.created_at < until)
    if team is not None:
        query = query.where(Team.name == team)
    query = query.order_by(col(Decision.created_at), col(Decision.id))
    rows = []
    for decision, user, team_row in (await session.exec(query)).all():
        decimals = currency_decimals(decision.currency)
        rows.append({
            "decision_id": decision.id,
            "created_at": decision.created_at.isoformat(timespec="seconds"),
            "user_id": decision.user_id,
            "telegram_id": user.telegram_id,
            "user_name": user.name,
            "team": team_row.name if team_row else "",
            "playbook_id": decision.playbook_id,
            "playbook_version": decision.playbook_version,
            "path": " > ".join(str(step.get("answer", "")) for step in decision.path),
            "recommended_outcome": decision.recommended_outcome or "",
            "taken_outcome": decision.taken_outcome or "",
            "taken_text": decision.taken_text or "",
            "disposition": decision.disposition,
            "followed": decision.followed,
            "favours_customer": "" if decision.favours_customer is None else decision.favours_customer,
            "amount": "" if decision.amount_minor is None else str(from_minor(decision.amount_minor, decimals)),
            "currency": decision.currency,
            "limit": str(from_minor(decision.limit_minor, decimals)),
            "over_limit": decision.over_limit,
            "reaction": decision.reaction or "",
            "note": decision.note or "",
            "seconds_to_decide": decision.seconds_to_decide,
            "escalation": decision.escalation or "",
            "lead_user_id": "" if decision.lead_user_id is None else decision.lead_user_id,
            "on_timeout": decision.on_timeout,
        })
    return rows
