"""Recording decisions and reading them back."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.decisions import DecisionDraft
from bot.core.money import currency_decimals, from_minor
from bot.core.training.nudges import struggled
from storage import training
from storage.models import Decision, Team, User
from storage.types import utcnow

log = logging.getLogger(__name__)


async def record_decision(session: AsyncSession, draft: DecisionDraft, *, user_id: int,
                          team_id: int | None, now: datetime | None = None) -> tuple[Decision, bool]:
    """Commit one decision. The same flow recorded again returns the first record. Returns (row, created).

    Insert first, look only on a conflict: the unique (user_id, flow_token) constraint is the check, so the
    usual case is one statement, not a look-up, an insert and a re-read (every value is set here, none by the
    database, and sessions keep them after the commit)."""
    decision = Decision(user_id=user_id, team_id=team_id, created_at=now or utcnow(), **asdict(draft))
    session.add(decision)
    try:
        await session.commit()
    except IntegrityError:
        # Recorded before (a repeated press), or a twin of this update got there first.
        await session.rollback()
        existing = await _by_flow(session, user_id, draft.flow_token)
        if existing is None:
            raise
        return existing, False
    if struggled(followed=decision.followed, disposition=decision.disposition, escalation=decision.escalation,
                 backs=decision.backs):
        # After the decision is safe: a refresher due sooner must never cost the decision itself.
        try:
            await training.nudge_playbook(session, user_id, decision.playbook_id, decision.created_at)
            await session.commit()
        except SQLAlchemyError:
            await session.rollback()
            log.exception("could not bring %s's cards forward for user %s", decision.playbook_id, user_id)
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
    """Decisions as flat rows for CSV, oldest first. `until` is exclusive.

    A Core query of the columns the CSV needs, read as plain rows: no ORM objects (identity map, instance state)
    for each of a week's or a year's decisions."""
    d = Decision.__table__.c  # type: ignore[attr-defined]
    query = (select(d.id, d.created_at, d.user_id, User.telegram_id, User.name, Team.name, d.playbook_id,
                    d.playbook_version, d.path, d.recommended_outcome, d.taken_outcome, d.taken_text,
                    d.disposition, d.followed, d.favours_customer, d.amount_minor, d.currency, d.limit_minor,
                    d.over_limit, d.reaction, d.note, d.seconds_to_decide, d.escalation, d.lead_user_id,
                    d.on_timeout)
             .join(User, col(User.id) == d.user_id)
             .join(Team, col(Team.id) == d.team_id, isouter=True))
    if since is not None:
        query = query.where(d.created_at >= since)
    if until is not None:
        query = query.where(d.created_at < until)
    if team is not None:
        query = query.where(Team.name == team)
    query = query.order_by(d.created_at, d.id)
    rows = []
    decimals_of: dict[str, int] = {}
    for (decision_id, created_at, user_id, telegram_id, user_name, team_name, playbook_id, playbook_version, path,
         recommended, taken, taken_text, disposition, followed, favours, amount, currency, limit, over_limit,
         reaction, note, seconds, escalation, lead_user_id, on_timeout) in (await session.exec(query)).all():
        decimals = decimals_of.get(currency)
        if decimals is None:
            decimals = decimals_of[currency] = currency_decimals(currency)
        rows.append({
            "decision_id": decision_id,
            "created_at": created_at.isoformat(timespec="seconds"),
            "user_id": user_id,
            "telegram_id": telegram_id,
            "user_name": user_name,
            "team": team_name or "",
            "playbook_id": playbook_id,
            "playbook_version": playbook_version,
            "path": " > ".join(str(step.get("answer", "")) for step in path),
            "recommended_outcome": recommended or "",
            "taken_outcome": taken or "",
            "taken_text": taken_text or "",
            "disposition": disposition,
            "followed": followed,
            "favours_customer": "" if favours is None else favours,
            "amount": "" if amount is None else str(from_minor(amount, decimals)),
            "currency": currency,
            "limit": str(from_minor(limit, decimals)),
            "over_limit": over_limit,
            "reaction": reaction or "",
            "note": note or "",
            "seconds_to_decide": seconds,
            "escalation": escalation or "",
            "lead_user_id": "" if lead_user_id is None else lead_user_id,
            "on_timeout": on_timeout,
        })
    return rows
