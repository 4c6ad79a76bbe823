"""Personal data: the retention purge of notes, and a person's right to be forgotten."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import unmatched
from storage.audit import audit
from storage.models import (
    AuditEntry,
    Conversation,
    Decision,
    Escalation,
    TrainingDelivery,
    TrainingMemory,
    TrainingProfile,
    User,
)
from storage.types import utcnow

# An offered list's "None of these" button needs its phrase only while the list is fresh.
OFFERED_KEPT = timedelta(days=2)


async def purge_notes(session: AsyncSession, older_than: datetime) -> int:
    """Remove free text (notes, written actions) from decisions and escalations made before `older_than`.

    The decisions themselves stay: they carry no free text any more. Returns how many decisions changed.
    """
    result = await session.exec(
        update(Decision)
        .where(col(Decision.created_at) < older_than)
        .where((col(Decision.note).is_not(None)) | (col(Decision.taken_text).is_not(None)))
        .values(note=None, taken_text=None)
    )
    await session.exec(
        update(Escalation).where(col(Escalation.created_at) < older_than).where(col(Escalation.note).is_not(None))
        .values(note=None)
    )
    await _scrub_escalation_flows(session, col(Escalation.created_at) < older_than)
    changed = result.rowcount or 0
    # Phrases staff typed that no playbook covered (/unmatched) may name customers too: deleted outright.
    phrases = await unmatched.purge(session, older_than, offered_before=utcnow() - OFFERED_KEPT)
    if changed or phrases:
        audit(session, "privacy.notes_purged", actor="retention", subject=f"before {older_than.date().isoformat()}",
              after={"decisions": changed, **({"phrases": phrases} if phrases else {})})
    await session.commit()
    return changed


def conversation_key_prefix(telegram_id: int) -> str:
    """The FSM key of a private chat is fsm:<chat id>:<user id>:<destiny>: the start of that chat's keys."""
    return f"fsm:{telegram_id}:{telegram_id}:"


async def forget_person(session: AsyncSession, user: User) -> None:
    """Delete a person's personal data. Decisions stay, attached to an anonymous, inactive record."""
    assert user.id is not None
    telegram_id = user.telegram_id
    await session.exec(update(Decision).where(col(Decision.user_id) == user.id).values(note=None, taken_text=None))
    await session.exec(update(Escalation).where(col(Escalation.user_id) == user.id).values(note=None))
    await _scrub_escalation_flows(session, col(Escalation.user_id) == user.id)
    await unmatched.forget(session, user.id)
    # Training: their memory and switches go; answers stay for the team's figures, like decisions; the chat id
    # kept on each delivery is their Telegram id, so it goes too, and nothing unsent will be sent.
    await session.exec(delete(TrainingMemory).where(col(TrainingMemory.user_id) == user.id))
    await session.exec(delete(TrainingProfile).where(col(TrainingProfile.user_id) == user.id))
    await session.exec(update(TrainingDelivery).where(col(TrainingDelivery.user_id) == user.id)
                       .where(col(TrainingDelivery.status).in_(("pending", "sending"))).values(status="cancelled"))
    await session.exec(update(TrainingDelivery).where(col(TrainingDelivery.user_id) == user.id)
                       .values(chat_id=-user.id))
    await session.exec(update(AuditEntry).where(col(AuditEntry.actor_id) == user.id).values(actor="(forgotten)"))
    await session.exec(update(AuditEntry).where(col(AuditEntry.subject) == str(telegram_id))
                       .values(subject=f"(forgotten #{user.id})"))
    chat_keys = conversation_key_prefix(telegram_id) + "%"
    await session.exec(delete(Conversation).where(col(Conversation.key).like(chat_keys)))
    user.name = ""
    user.telegram_id = -user.id  # keeps the row unique and the decisions linked, identifies nobody
    user.active = False
    user.on_duty = False
    user.shift = {}
    session.add(user)
    audit(session, "person.forgotten", actor_id=user.id, actor="(forgotten)", subject=f"(forgotten #{user.id})",
          team_id=user.team_id)
    await session.commit()


FREE_TEXT_IN_FLOW = ("note", "taken_text")


async def _scrub_escalation_flows(session: AsyncSession, condition: ColumnElement[bool]) -> None:
    """An escalation keeps a copy of the flow, which may hold typed text: clear it there too.

    JSON is edited in Python rather than SQL, which differs between SQLite and PostgreSQL; settled
    escalations are few next to decisions.
    """
    rows = (await session.exec(select(Escalation).where(condition))).all()
    for row in rows:
        if any(row.flow.get(key) for key in FREE_TEXT_IN_FLOW):
            row.flow = {**row.flow, **dict.fromkeys(FREE_TEXT_IN_FLOW)}
            session.add(row)
