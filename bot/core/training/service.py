"""Training as the bot uses it: plan who gets which card now, take answers, report progress, push cards.

Transport-independent: it writes deliveries (storage/deliveries.py) and the fan-out (bot/fanout.py) sends
them; handlers call it for /train, answers, /progress, /results and /push.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import TrainingConfig
from bot.core.catalog import Catalog
from bot.core.people import Person
from bot.core.training import memory as fsrs_memory
from bot.core.training import planner, progress
from bot.core.training.card import Card
from bot.core.training.generate import cards_from_playbooks
from storage import deliveries
from storage import training as store
from storage.db import Database
from storage.deliveries import DeliveryJob, NewDelivery
from storage.models import TrainingAnswer
from storage.types import utcnow

log = logging.getLogger(__name__)

HISTORY_DAYS = 2  # scheduled slots looked back on: today's and a night shift's that began yesterday
REOFFER_AFTER = timedelta(days=3)  # an ignored card is not offered again before this
PROGRESS_DAYS = 30
CONFIDENCE = ("guessed", "fairly", "sure")


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def memory_of(row: store.MemoryRow | None) -> fsrs_memory.Memory | None:
    """A stored memory for FSRS; None for a card never reviewed (also one only nudged into being due)."""
    if row is None or not row.state:
        return None
    return fsrs_memory.Memory(state=row.state, due=row.due, reviews=row.reviews, lapses=row.lapses,
                              last_review=row.last_review)


def row_of(card_id: str, memory: fsrs_memory.Memory) -> store.MemoryRow:
    return store.MemoryRow(card_id, memory.state, memory.due, memory.reviews, memory.lapses, memory.last_review)


def _dump(row: store.MemoryRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"state": row.state, "due": row.due.isoformat(), "reviews": row.reviews, "lapses": row.lapses,
            "last_review": row.last_review.isoformat() if row.last_review else None}


def _load(card_id: str, data: dict[str, Any] | None) -> store.MemoryRow | None:
    if not data:
        return None
    last = data.get("last_review")
    return store.MemoryRow(card_id, data.get("state") or {}, datetime.fromisoformat(data["due"]),
                           int(data.get("reviews", 0)), int(data.get("lapses", 0)),
                           datetime.fromisoformat(last) if last else None)


def _spread(user_id: int, card_id: str) -> str:
    """A per-person order of new cards, so a team does not all learn the same card on the same day."""
    return hashlib.sha256(f"{user_id}:{card_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Answered:
    """What an answer did. `status`: answered | again (already answered: shown as it was) | unknown."""

    status: str
    card: Card | None = None
    choice: int = -1
    correct: bool = False
    confidence: str | None = None
    delivery_id: int = 0


@dataclass(frozen=True)
class Progress:
    due: int
    answered: int  # in the last PROGRESS_DAYS days
    accuracy: float | None  # 0..1, None without answers
    streak: int
    weakest: list[tuple[str, float, int]]  # (playbook id, accuracy, answers)
    paused: bool
    unreachable: bool


@dataclass(frozen=True)
class PersonResult:
    user_id: int
    name: str
    answered: int
    accuracy: float | None
    due: int
    last_trained: datetime | None


class TrainingService:
    def __init__(self, db: Database, catalog: Catalog, settings: TrainingConfig, *, default_timezone: str = "UTC",
                 authored: Sequence[Card] = (), clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.default_timezone = default_timezone
        self.authored = list(authored)
        self.clock = clock
        self._synced: tuple[str, ...] | None = None
        self.default_shift = planner.Shift(frozenset(settings.default_days), _clock(settings.default_start),
                                           _clock(settings.default_end))
        self.quiet = planner.Quiet(_clock(settings.quiet_start), _clock(settings.quiet_end))

    # ---- the card set ----------------------------------------------------------------------------------

    def cards(self) -> list[Card]:
        """Every card now: generated from the live playbooks, then the authored ones."""
        return cards_from_playbooks(self.catalog.all()) + self.authored

    async def sync(self, force: bool = False) -> store.SyncReport | None:
        """Store the current card set when the live playbooks changed (a publish, a roll back)."""
        fingerprint = tuple(sorted(f"{p.id}@{p.version}" for p in self.catalog.all()))
        if not force and fingerprint == self._synced:
            return None
        async with self.db.session() as session:
            report = await store.sync_cards(session, self.cards())
        self._synced = fingerprint
        if report.added or report.changed or report.retired or report.revived:
            log.info("training cards: %d added, %d changed, %d retired, %d back", report.added, report.changed,
                     report.retired, report.revived)
        return report

    # ---- scheduled refreshers ------------------------------------------------------------------------------

    async def plan(self, now: datetime | None = None) -> int:
        """Deliveries for everyone whose next slot has come (in shift, not quiet, under the day's cap, spaced)
        and who has a card due or new. Returns how many were added; the fan-out sends them."""
        if not self.settings.enabled:
            return 0
        now = now or self.clock()
        await self.sync()
        async with self.db.session() as session:
            people = await store.trainees(session, self.default_timezone, now - timedelta(days=HISTORY_DAYS))
            ready: list[tuple[store.Trainee, planner.Slot]] = []
            for person in people:
                shift = planner.shift_from_record(person.shift, self.default_shift)
                slot = planner.next_slot(now, person.timezone, shift, self.quiet, self.settings.per_day,
                                         person.slots_taken, person.last_sent_at, spread_key=person.user_id)
                if slot is not None:
                    ready.append((person, slot))
            if not ready:
                return 0
            cards = await store.active_cards(session)
            known = await store.memories(session, [person.user_id for person, _ in ready])
            open_cards = await store.recently_open_many(session, [p.user_id for p, _ in ready], now - REOFFER_AFTER)
        rows: list[NewDelivery] = []
        for person, slot in ready:
            allowed = [card.id for card in store.cards_for_team(cards, person.team)
                       if card.id not in open_cards.get(person.user_id, set())]
            mine = known.get(person.user_id, {})
            due = [(card_id, mine[card_id].due) for card_id in allowed if card_id in mine]
            unseen = sorted((card_id for card_id in allowed if card_id not in mine),
                            key=lambda card_id, uid=person.user_id: _spread(uid, card_id))
            day = slot.key.split("#")[0]
            chosen = planner.choose_card(due, unseen, person.new_by_day.get(day, 0), self.settings.new_per_day,
                                         now)
            if chosen is None:
                continue
            seen = chosen in mine and mine[chosen].reviews > 0
            rows.append(NewDelivery(user_id=person.user_id, card_id=chosen, slot=slot.key, kind="scheduled",
                                    chat_id=person.telegram_id, new_card=not seen))
        if not rows:
            return 0
        return await deliveries.insert_deliveries(self.db, rows, now)

    # ---- practice, answers, confidence -------------------------------------------------------------------------

    async def practice(self, person: Person, slot: str, exclude: Sequence[str] = ()) -> DeliveryJob | None:
        """A card for extra practice now (/train): due first, then the weakest, then one never seen."""
        now = self.clock()
        await self.sync()
        async with self.db.session() as session:
            cards = store.cards_for_team(await store.active_cards(session), person.team)
            mine = (await store.memories(session, [person.user_id])).get(person.user_id, {})
        allowed = [card.id for card in cards]
        chosen = planner.practice_pick(
            due=[(cid, mine[cid].due) for cid in allowed if cid in mine],
            retrievability={cid: fsrs_memory.retrievability(m, now) for cid in allowed
                            if (m := memory_of(mine.get(cid))) is not None},
            unseen=sorted((cid for cid in allowed if cid not in mine),
                          key=lambda cid: _spread(person.user_id, cid)),
            exclude=set(exclude), now=now, weak_below=0.95)
        if chosen is None:
            return None
        # Claimed at insert: the person is waiting for it, so this process sends it, not the fan-out; a
        # crash before it is marked sent leaves a stale claim, which the fan-out sends later.
        async with self.db.session() as session:
            delivery_id = await store.insert_claimed(session, user_id=person.user_id, card_id=chosen, slot=slot,
                                                     chat_id=person.telegram_id, new_card=chosen not in mine, at=now)
        if delivery_id is None:
            return None  # the same /train seen twice: the first one sends
        return DeliveryJob(id=delivery_id, user_id=person.user_id, card_id=chosen, chat_id=person.telegram_id,
                           slot=slot, kind="practice")

    async def card(self, card_id: str) -> Card | None:
        async with self.db.session() as session:
            return await store.get_card(session, card_id)

    async def answer(self, person: Person, delivery_id: int, choice: int) -> Answered:
        """Grade an answer and update the person's memory of the card, once: a second press shows the first."""
        now = self.clock()
        async with self.db.session() as session:
            delivery = await store.delivery(session, delivery_id)
            if delivery is None or delivery.user_id != person.user_id:
                return Answered("unknown")  # forged or someone else's: nothing changes
            card = await store.get_card(session, delivery.card_id)
            if card is None or not 0 <= choice < len(card.choices):
                return Answered("unknown")
            earlier = await store.answer_of(session, delivery_id)
            if earlier is not None:
                return Answered("again", card, earlier.choice, earlier.correct, earlier.confidence, delivery_id)
            before = (await store.memories(session, [person.user_id])).get(person.user_id, {}).get(card.id)
            correct = card.choices[choice].correct
            after = fsrs_memory.review(memory_of(before), correct, None, now)
            answer = TrainingAnswer(delivery_id=delivery_id, user_id=person.user_id, team_id=person.team_id,
                                    card_id=card.id, playbook_id=card.playbook_id, answered_at=now, choice=choice,
                                    correct=correct, memory_before=_dump(before))
            if not await store.record_answer(session, answer, row_of(card.id, after)):
                return await self.answer(person, delivery_id, choice)  # a twin press won: show its answer
        return Answered("answered", card, choice, correct, None, delivery_id)

    async def set_confidence(self, person: Person, delivery_id: int, level: int) -> Answered:
        """"How sure were you?": re-grades the same review (from the memory before it), never a second one."""
        if not 0 <= level < len(CONFIDENCE):
            return Answered("unknown")
        async with self.db.session() as session:
            answer = await store.answer_of(session, delivery_id)
            if answer is None or answer.user_id != person.user_id:
                return Answered("unknown")
            card = await store.get_card(session, answer.card_id)
            confidence = CONFIDENCE[level]
            if answer.confidence != confidence:
                before = _load(answer.card_id, answer.memory_before)
                after = fsrs_memory.review(memory_of(before), answer.correct, confidence, answer.answered_at)
                await store.set_confidence(session, answer, confidence, row_of(answer.card_id, after))
        return Answered("answered", card, answer.choice, answer.correct, confidence, delivery_id)

    # ---- progress and results ------------------------------------------------------------------------------------

    async def progress(self, person: Person) -> Progress:
        now = self.clock()
        async with self.db.session() as session:
            rows = await store.answers(session, since=now - timedelta(days=365), user_id=person.user_id)
            mine = (await store.memories(session, [person.user_id])).get(person.user_id, {})
            profile = await store.profile(session, person.user_id)
        facts = [progress.AnswerFact(r.answered_at, r.correct, r.playbook_id, r.card_id) for r in rows]
        recent = [fact for fact in facts if fact.answered_at >= now - timedelta(days=PROGRESS_DAYS)]
        today = now.astimezone(ZoneInfo(person.timezone)).date()
        return Progress(
            due=sum(1 for m in mine.values() if m.due <= now),
            answered=len(recent),
            accuracy=progress.accuracy(recent, now - timedelta(days=PROGRESS_DAYS)),
            streak=progress.streak([fact.answered_at for fact in facts], person.timezone, today),
            weakest=progress.weakest_playbooks(recent, limit=3),
            paused=profile is not None and profile.paused_at is not None,
            unreachable=profile is not None and profile.unreachable_since is not None,
        )

    async def team_results(self, team_id: int, days: int = PROGRESS_DAYS) -> list[PersonResult]:
        now = self.clock()
        since = now - timedelta(days=days)
        async with self.db.session() as session:
            members = await store.team_members(session, team_id)
            rows = await store.answers(session, since=since, team_id=team_id)
            known = await store.memories(session, [user_id for user_id, _, _ in members])
        by_person: dict[int, list[store.AnswerRow]] = {}
        for row in rows:
            by_person.setdefault(row.user_id, []).append(row)
        results = []
        for user_id, _, name in members:
            mine = by_person.get(user_id, [])
            right = sum(1 for row in mine if row.correct)
            results.append(PersonResult(
                user_id, name, len(mine), right / len(mine) if mine else None,
                sum(1 for m in known.get(user_id, {}).values() if m.due <= now),
                max((row.answered_at for row in mine), default=None)))
        # The people who most need a word first: lowest accuracy, then those who trained least.
        return sorted(results, key=lambda r: (r.accuracy if r.accuracy is not None else 2.0, r.answered, r.name))

    # ---- switches and pushes -------------------------------------------------------------------------------------

    async def pause(self, person: Person, paused: bool) -> bool:
        async with self.db.session() as session:
            return await store.set_paused(session, person.user_id, paused)

    async def push(self, team_id: int, card_ids: Sequence[str], push_id: str | None = None) -> tuple[int, int]:
        """These cards to every active member of the team now (managers' /push, `moments training push`).
        Returns (people, deliveries added); the same push_id twice adds nothing."""
        await self.sync()
        push_id = push_id or secrets.token_hex(4)
        async with self.db.session() as session:
            members = await store.team_members(session, team_id)
            known = await store.memories(session, [user_id for user_id, _, _ in members])
        rows = [NewDelivery(user_id=user_id, card_id=card_id, slot=f"push:{push_id}", kind="push", chat_id=chat_id,
                            new_card=card_id not in known.get(user_id, {}))
                for user_id, chat_id, _ in members for card_id in card_ids]
        added = await deliveries.insert_deliveries(self.db, rows, self.clock()) if rows else 0
        return len(members), added

    def cards_of_playbook(self, playbook_id: str) -> list[Card]:
        return [card for card in self.cards() if card.playbook_id == playbook_id]

    def find(self, card_or_playbook: str) -> list[Card]:
        """The cards a push names: one card by id or key, or every card of a playbook."""
        cards = self.cards()
        exact = [card for card in cards if card_or_playbook in (card.id, card.key, card.key.split(":", 1)[-1])]
        return exact or [card for card in cards if card.playbook_id == card_or_playbook]

