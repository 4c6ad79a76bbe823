"""One person's memory of one card: FSRS state in, FSRS state out. Pure; no database, no Telegram.

Why this configuration of FSRS (the `fsrs` package):

* No learning or relearning steps. FSRS's defaults (1 and 10 minutes) assume a flashcard session; a person
  gets a few cards a day, in their shift, so a card can never come back ten minutes later. Without steps FSRS
  schedules every answer by the card's stability, in whole days (at least one).
* A wrong answer is checked again after `LAPSE_RETRY` (12 hours: past the end of the shift it was answered
  in, well before the same time tomorrow), so it comes back at the next shift, sooner than any right answer
  (at least a day). This only moves the due date: the FSRS state is what FSRS computed, and a right answer
  on the retry follows FSRS's own same-day rule. We don't use a relearning step for this because FSRS also
  holds a card answered "Hard" at the same step each time, so a card that is always guessed would never move on.
* No fuzzing: the same answers give the same dates, so tests and re-grades are reproducible. Fuzz exists to
  spread a big deck's reviews; here the planner's per-day cap does that.
* Desired retention 0.9 (FSRS's default); intervals capped at `MAX_INTERVAL_DAYS` because playbooks
  change, so even a well-known card is checked at least twice a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fsrs import Card, Rating, Scheduler

DESIRED_RETENTION = 0.9
MAX_INTERVAL_DAYS = 180
LAPSE_RETRY = timedelta(hours=12)
CONFIDENCE: dict[str | None, Rating] = {"guessed": Rating.Hard, None: Rating.Good, "fairly": Rating.Good,
                                        "sure": Rating.Easy}

SCHEDULER = Scheduler(desired_retention=DESIRED_RETENTION, learning_steps=(), relearning_steps=(),
                      maximum_interval=MAX_INTERVAL_DAYS, enable_fuzzing=False)
# Forgetting curve constants, as FSRS computes them, for a retrievability with fractional days (FSRS's own
# rounds elapsed time down to whole days, too coarse to rank cards reviewed the same day).
_DECAY = -SCHEDULER.parameters[20]
_FACTOR = DESIRED_RETENTION ** (1 / _DECAY) - 1


@dataclass(frozen=True)
class Memory:
    state: dict[str, Any]  # fsrs Card.to_dict(), JSON-safe
    due: datetime  # UTC, aware
    reviews: int = 0
    lapses: int = 0
    last_review: datetime | None = None  # UTC, aware


class MemoryRow(Protocol):
    """What `from_row` reads: storage.models.TrainingMemory or anything shaped like it."""

    state: dict[str, Any]
    due: datetime
    reviews: int
    lapses: int
    last_review: datetime | None


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime; training times are aware UTC")
    # fsrs insists on tzinfo being exactly timezone.utc (datetime.UTC), not merely an offset of zero.
    return at.astimezone(UTC)


def _fresh_card(at: datetime) -> Card:
    # card_id is unused (one Memory is one card); a constant also avoids fsrs's 1 ms sleep to make ids unique.
    return Card(card_id=0, due=at)


def _card(state: dict[str, Any]) -> Card:
    return Card.from_dict(state)  # type: ignore[arg-type]  # a JSON dict, shaped as fsrs's CardDict


def rating_for(correct: bool, confidence: str | None) -> Rating:
    """Wrong → Again; right: "guessed" → Hard, none or "fairly" → Good, "sure" → Easy."""
    if not correct:
        return Rating.Again
    if confidence not in CONFIDENCE:
        raise ValueError(f"unknown confidence {confidence!r}; expected guessed, fairly or sure")
    return CONFIDENCE[confidence]


def review(memory: Memory | None, correct: bool, confidence: str | None, at: datetime) -> Memory:
    """The memory after one answer at `at` (None = the card was never answered before)."""
    at = _utc(at)
    rating = rating_for(correct, confidence)
    card = _fresh_card(at) if memory is None or not memory.state else _card(memory.state)
    card, _ = SCHEDULER.review_card(card, rating, at)
    due = card.due
    if not correct:
        due = min(due, at + LAPSE_RETRY)
        card.due = due  # keep the stored state consistent with the row's due
    reviews = memory.reviews if memory else 0
    lapses = memory.lapses if memory else 0
    return Memory(state=dict(card.to_dict()), due=due, reviews=reviews + 1, lapses=lapses + (not correct),
                  last_review=at)


def nudge(memory: Memory | None, at: datetime) -> Memory:
    """The person just went wrong in this card's playbook (deviated, escalated, went back and forth): make
    the card due now. A card never seen becomes due too (zero reviews), so it is treated as due, not new."""
    at = _utc(at)
    if memory is None:
        return Memory(state=dict(_fresh_card(at).to_dict()), due=at)
    if memory.due <= at:
        return memory
    return Memory(state=memory.state, due=at, reviews=memory.reviews, lapses=memory.lapses,
                  last_review=memory.last_review)


def stability(memory: Memory | None) -> float | None:
    """FSRS stability in days (the interval at which recall drops to 90%); None before the first answer."""
    if memory is None or not memory.state:
        return None
    value = memory.state.get("stability")
    return float(value) if value else None


def retrievability(memory: Memory | None, at: datetime) -> float:
    """The predicted chance (0..1) the person recalls the card at `at`; 0 for a card never answered."""
    value = stability(memory)
    if memory is None or value is None or memory.last_review is None:
        return 0.0
    elapsed = max(0.0, (_utc(at) - memory.last_review).total_seconds() / 86400)
    return float((1 + _FACTOR * elapsed / value) ** _DECAY)


def is_due(memory: Memory, at: datetime) -> bool:
    return memory.due <= _utc(at)


def from_row(row: MemoryRow) -> Memory:
    """A Memory from a TrainingMemory row (or anything with the same attributes)."""
    return Memory(state=dict(row.state or {}), due=_utc(row.due), reviews=row.reviews, lapses=row.lapses,
                  last_review=_utc(row.last_review) if row.last_review else None)


def to_row(memory: Memory) -> dict[str, Any]:
    """The TrainingMemory column values for this memory (set them on the row, or pass them to an upsert)."""
    return {"state": dict(memory.state), "due": memory.due, "reviews": memory.reviews, "lapses": memory.lapses,
            "last_review": memory.last_review}


def to_dict(memory: Memory | None) -> dict[str, Any] | None:
    """JSON-safe form (datetimes as ISO text), e.g. for TrainingAnswer.memory_before; None stays None."""
    if memory is None:
        return None
    return {"state": dict(memory.state), "due": memory.due.isoformat(), "reviews": memory.reviews,
            "lapses": memory.lapses, "last_review": memory.last_review.isoformat() if memory.last_review else None}


def from_dict(data: dict[str, Any] | None) -> Memory | None:
    """The inverse of `to_dict`: re-grading an answer starts again from the memory before it."""
    if data is None:
        return None
    last = data.get("last_review")
    return Memory(state=dict(data.get("state") or {}), due=_utc(datetime.fromisoformat(data["due"])),
                  reviews=int(data.get("reviews", 0)), lapses=int(data.get("lapses", 0)),
                  last_review=_utc(datetime.fromisoformat(last)) if last else None)
