"""Training: the card set, each person's memory of the cards, their answers, and the planner's inputs.

Bulk reads are bounded (people whose slot came, one team's answers over a period); per-person rows are few
(cards × one person). Deliveries themselves (claim, sent, blocked) live in storage/deliveries.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.training.card import Card
from storage.models import (
    Team,
    TrainingAnswer,
    TrainingCard,
    TrainingDelivery,
    TrainingMemory,
    TrainingProfile,
    User,
)
from storage.types import utcnow

CARDS = TrainingCard.__table__  # type: ignore[attr-defined]
MEMORY = TrainingMemory.__table__  # type: ignore[attr-defined]
PROFILES = TrainingProfile.__table__  # type: ignore[attr-defined]


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


# ---- the card set ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    added: int = 0
    changed: int = 0
    retired: int = 0
    revived: int = 0


async def sync_cards(session: AsyncSession, cards: Sequence[Card]) -> SyncReport:
    """Make the stored cards the given set: new ones added, reworded ones updated in place (same id, so
    progress is kept), missing ones retired (kept for history, never sent again)."""
    existing = {row.id: row for row in (await session.exec(select(TrainingCard))).scalars()}  # type: ignore[call-overload]
    wanted: dict[str, Card] = {}
    for card in cards:
        wanted.setdefault(card.id, card)  # two cards with one key: the first wins (the loaders report it)
    added = changed = revived = 0
    now = utcnow()
    for card_id, card in wanted.items():
        digest = card.content_hash()
        row = existing.get(card_id)
        if row is None:
            session.add(TrainingCard(id=card_id, key=card.key, source=card.source, playbook_id=card.playbook_id,
                                     team=card.team, content=card.to_content(), content_hash=digest, updated_at=now))
            added += 1
            continue
        if not row.active:
            revived += 1
        elif row.content_hash != digest or row.team != card.team or row.playbook_id != card.playbook_id:
            changed += 1
        else:
            continue
        row.content, row.content_hash, row.team, row.playbook_id = card.to_content(), digest, card.team, \
            card.playbook_id
        row.active, row.updated_at = True, now
        session.add(row)
    retired = 0
    for card_id, row in existing.items():
        if card_id not in wanted and row.active:
            row.active, row.updated_at = False, now
            session.add(row)
            retired += 1
    await session.commit()
    return SyncReport(added, changed, retired, revived)


def card_of(row: TrainingCard) -> Card:
    return Card.from_content(row.key, row.source, row.content, playbook_id=row.playbook_id, team=row.team)


async def get_card(session: AsyncSession, card_id: str, active_only: bool = False) -> Card | None:
    """A card by id; retired ones too unless `active_only` (a card already sent can still be answered)."""
    row = await session.get(TrainingCard, card_id)
    if row is None or (active_only and not row.active):
        return None
    return card_of(row)


async def active_cards(session: AsyncSession) -> list[TrainingCard]:
    query = select(TrainingCard).where(col(TrainingCard.active)).order_by(col(TrainingCard.id))
    return list((await session.exec(query)).scalars())  # type: ignore[call-overload]


def cards_for_team(cards: Iterable[TrainingCard], team: str | None) -> list[TrainingCard]:
    """The cards a member of `team` may get: everyone's, and those authored for that team."""
    return [card for card in cards if card.team is None or card.team == team]


# ---- memory ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryRow:
    card_id: str
    state: dict[str, Any]
    due: datetime
    reviews: int
    lapses: int
    last_review: datetime | None


async def memories(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, dict[str, MemoryRow]]:
    """Every memory row of these people, by person and card."""
    found: dict[int, dict[str, MemoryRow]] = defaultdict(dict)
    for chunk in _chunks(list(user_ids), 500):
        rows = await session.exec(select(MEMORY).where(MEMORY.c.user_id.in_(chunk)))
        for row in rows:
            found[row.user_id][row.card_id] = MemoryRow(row.card_id, row.state or {}, row.due, row.reviews,
                                                        row.lapses, row.last_review)
    return found


async def save_memory(session: AsyncSession, user_id: int, memory: MemoryRow) -> None:
    values = {"user_id": user_id, "card_id": memory.card_id, "state": memory.state, "due": memory.due,
              "reviews": memory.reviews, "lapses": memory.lapses, "last_review": memory.last_review}
    statement = _insert(session, MEMORY).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "card_id"],
        set_={key: statement.excluded[key] for key in ("state", "due", "reviews", "lapses", "last_review")})
    await session.exec(statement)


async def nudge_playbook(session: AsyncSession, user_id: int, playbook_id: str, at: datetime) -> int:
    """The person struggled with this playbook: its cards are due for them now (sooner, never later).
    Cards they never saw are brought in as due. Not committed: the caller's transaction decides."""
    card_ids = list((await session.exec(
        select(CARDS.c.id).where(CARDS.c.playbook_id == playbook_id, CARDS.c.active))).scalars())
    if not card_ids:
        return 0
    await session.exec(update(MEMORY).where(MEMORY.c.user_id == user_id, MEMORY.c.card_id.in_(card_ids),
                                               MEMORY.c.due > at).values(due=at))
    seen = set((await session.exec(select(MEMORY.c.card_id).where(
        MEMORY.c.user_id == user_id, MEMORY.c.card_id.in_(card_ids)))).scalars())
    fresh = [{"user_id": user_id, "card_id": card_id, "state": {}, "due": at, "reviews": 0, "lapses": 0,
              "last_review": None} for card_id in card_ids if card_id not in seen]
    if fresh:
        await session.exec(_insert(session, MEMORY).values(fresh).on_conflict_do_nothing())
    return len(card_ids)


# ---- profiles (paused, unreachable) -----------------------------------------------------------------------


async def profile(session: AsyncSession, user_id: int) -> TrainingProfile | None:
    return await session.get(TrainingProfile, user_id)


async def set_paused(session: AsyncSession, user_id: int, paused: bool) -> bool:
    """Pause or resume; False when it already was so."""
    row = await session.get(TrainingProfile, user_id)
    if row is None:
        row = TrainingProfile(user_id=user_id)
    if (row.paused_at is not None) == paused:
        return False
    row.paused_at = utcnow() if paused else None
    session.add(row)
    await session.commit()
    return True


async def set_reachable(db: Any, telegram_id: int, unreachable_since: datetime | None) -> None:
    """Record that a person blocked the bot (a time) or came back (None), by their Telegram id."""
    async with db.session() as session:
        user_id = (await session.exec(select(User.id).where(User.telegram_id == telegram_id))).scalar()
        if user_id is None:
            return
        statement = _insert(session, PROFILES).values(user_id=user_id, unreachable_since=unreachable_since)
        statement = statement.on_conflict_do_update(index_elements=["user_id"],
                                                    set_={"unreachable_since": unreachable_since})
        await session.exec(statement)
        await session.commit()


# ---- the planner's inputs ---------------------------------------------------------------------------------


@dataclass
class Trainee:
    user_id: int
    telegram_id: int
    team_id: int | None
    team: str | None
    timezone: str
    shift: dict[str, Any]
    slots_taken: set[str] = field(default_factory=set)  # scheduled slot keys since `since`
    last_sent_at: datetime | None = None  # last scheduled card, claimed or sent
    new_by_day: dict[str, int] = field(default_factory=dict)  # local day → cards seen first in its slots


async def trainees(session: AsyncSession, default_timezone: str, since: datetime) -> list[Trainee]:
    """Active people who may get scheduled cards (not paused, not unreachable), with their recent slots."""
    query = (select(User.id, User.telegram_id, User.team_id, Team.name, Team.timezone, User.shift)
             .select_from(User).join(Team, Team.id == User.team_id, isouter=True)
             .join(TrainingProfile, TrainingProfile.user_id == User.id, isouter=True)
             .where(col(User.active), col(TrainingProfile.paused_at).is_(None),
                    col(TrainingProfile.unreachable_since).is_(None)))
    people = {row[0]: Trainee(row[0], row[1], row[2], row[3], row[4] or default_timezone, row[5] or {})
              for row in (await session.exec(query))}
    deliveries = await session.exec(
        select(TrainingDelivery.user_id, TrainingDelivery.slot, TrainingDelivery.created_at,
               TrainingDelivery.sent_at, TrainingDelivery.new_card)
        .where(TrainingDelivery.kind == "scheduled", TrainingDelivery.created_at >= since))
    for user_id, slot, created_at, sent_at, new_card in deliveries:
        person = people.get(user_id)
        if person is None:
            continue
        person.slots_taken.add(slot)
        if new_card:
            day = slot.split("#")[0]
            person.new_by_day[day] = person.new_by_day.get(day, 0) + 1
        at = sent_at or created_at
        if person.last_sent_at is None or at > person.last_sent_at:
            person.last_sent_at = at
    return list(people.values())


async def recently_open_many(session: AsyncSession, user_ids: Sequence[int], since: datetime,
                             ) -> dict[int, set[str]]:
    """Per person, cards delivered since `since` and not answered: not offered again yet, so a card someone
    ignored does not come back at every slot."""
    found: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(list(user_ids), 500):
        answered = select(TrainingAnswer.delivery_id).where(col(TrainingAnswer.user_id).in_(chunk))
        query = (select(TrainingDelivery.user_id, TrainingDelivery.card_id)
                 .where(col(TrainingDelivery.user_id).in_(chunk), TrainingDelivery.created_at >= since,
                        col(TrainingDelivery.status).in_(("pending", "sending", "sent")),
                        col(TrainingDelivery.id).not_in(answered)))
        for user_id, card_id in await session.exec(query):
            found[user_id].add(card_id)
    return found


async def insert_claimed(session: AsyncSession, *, user_id: int, card_id: str, slot: str, chat_id: int,
                         new_card: bool, at: datetime) -> int | None:
    """A delivery this process sends itself at once (/train): inserted already claimed. None if that slot
    exists (the same request twice)."""
    row = TrainingDelivery(user_id=user_id, card_id=card_id, slot=slot, kind="practice", status="sending",
                           chat_id=chat_id, new_card=new_card, created_at=at, claimed_at=at, attempts=1)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return row.id


# ---- deliveries and answers --------------------------------------------------------------------------------


async def delivery(session: AsyncSession, delivery_id: int) -> TrainingDelivery | None:
    return await session.get(TrainingDelivery, delivery_id)


async def answer_of(session: AsyncSession, delivery_id: int) -> TrainingAnswer | None:
    query = select(TrainingAnswer).where(TrainingAnswer.delivery_id == delivery_id)
    return (await session.exec(query)).scalars().first()  # type: ignore[call-overload]


async def record_answer(session: AsyncSession, answer: TrainingAnswer, memory: MemoryRow) -> bool:
    """The answer and the new memory in one transaction; False (nothing changed) if the card was answered."""
    session.add(answer)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    await save_memory(session, answer.user_id, memory)
    await session.commit()
    return True


async def set_confidence(session: AsyncSession, answer: TrainingAnswer, confidence: str, memory: MemoryRow) -> None:
    answer.confidence = confidence
    session.add(answer)
    await save_memory(session, answer.user_id, memory)
    await session.commit()


@dataclass(frozen=True)
class AnswerRow:
    user_id: int
    card_id: str
    playbook_id: str | None
    answered_at: datetime
    correct: bool


async def answers(session: AsyncSession, *, since: datetime, until: datetime | None = None,
                  user_id: int | None = None, team_id: int | None = None) -> list[AnswerRow]:
    query = select(TrainingAnswer.user_id, TrainingAnswer.card_id, TrainingAnswer.playbook_id,
                   TrainingAnswer.answered_at, TrainingAnswer.correct).where(TrainingAnswer.answered_at >= since)
    if until is not None:
        query = query.where(TrainingAnswer.answered_at < until)
    if user_id is not None:
        query = query.where(TrainingAnswer.user_id == user_id)
    if team_id is not None:
        query = query.where(TrainingAnswer.team_id == team_id)
    return [AnswerRow(*row) for row in await session.exec(query.order_by(TrainingAnswer.answered_at))]


async def team_members(session: AsyncSession, team_id: int) -> list[tuple[int, int, str]]:
    """(user id, telegram id, name) of the team's active members."""
    query = (select(User.id, User.telegram_id, User.name).where(User.team_id == team_id, col(User.active))
             .order_by(User.name))
    return [(row[0], row[1], row[2]) for row in await session.exec(query)]


async def language_of(session: AsyncSession, user_id: int) -> str | None:
    """The language of an active person; None when they left (their cards are not sent)."""
    query = select(User.language).where(User.id == user_id, col(User.active))
    return (await session.exec(query)).scalar_one_or_none()


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
