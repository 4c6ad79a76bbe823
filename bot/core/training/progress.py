"""Training figures for /progress and for managers, pure: plain answer and memory records in, numbers out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

MIN_ANSWERS = 3  # fewer answers on a playbook say nothing about it being weak


@dataclass(frozen=True)
class AnswerFact:
    answered_at: datetime  # UTC
    correct: bool
    playbook_id: str | None  # None for authored cards tied to no playbook
    card_id: str


class PlaybookScore(NamedTuple):
    """One playbook's answers; a tuple so callers may unpack (playbook_id, accuracy, answers)."""

    playbook_id: str
    accuracy: float  # 0..1
    answers: int

    @property
    def correct(self) -> int:
        return round(self.accuracy * self.answers)


class HasDue(Protocol):
    """A memory record: training.memory.Memory, storage.models.TrainingMemory, or anything with a UTC `due`."""

    @property
    def due(self) -> datetime: ...


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime; training times are aware UTC")
    return at.astimezone(UTC)


def accuracy(answers: Iterable[AnswerFact], since: datetime | None = None) -> float | None:
    """The share of right answers (0..1) at or after `since` (all when None); None when there are none."""
    start = _utc(since) if since is not None else None
    total = right = 0
    for answer in answers:
        if start is None or _utc(answer.answered_at) >= start:
            total += 1
            right += answer.correct
    return right / total if total else None


def streak(answer_times: Iterable[datetime], tz: str, today: date) -> int:
    """Consecutive local days (in `tz`) with at least one answer, ending today, or yesterday when nothing was
    answered yet today (the streak is not broken until the day is over)."""
    zone = ZoneInfo(tz)
    days = {_utc(at).astimezone(zone).date() for at in answer_times}
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


def playbook_scores(answers: Iterable[AnswerFact]) -> list[PlaybookScore]:
    """Answers and right answers per playbook (answers without a playbook left out), by playbook id."""
    totals: dict[str, list[int]] = {}
    for answer in answers:
        if answer.playbook_id is None:
            continue
        entry = totals.setdefault(answer.playbook_id, [0, 0])
        entry[0] += 1
        entry[1] += answer.correct
    return [PlaybookScore(playbook, right / total, total)
            for playbook, (total, right) in sorted(totals.items())]


def weakest_playbooks(answers: Iterable[AnswerFact], limit: int = 3,
                      min_answers: int = MIN_ANSWERS) -> list[PlaybookScore]:
    """Up to `limit` playbooks with the lowest accuracy among those with at least `min_answers` answers; on a
    tie the one with more answers first (more evidence), then by id. Perfect scores are not weak: left out."""
    scores = [score for score in playbook_scores(answers)
              if score.answers >= min_answers and score.correct < score.answers]
    # Exact fractions, not floats, so 2/3 and 4/6 tie and the tie-break decides.
    scores.sort(key=lambda score: (Fraction(score.correct, score.answers), -score.answers, score.playbook_id))
    return scores[:max(limit, 0)]


def due_count(memories: Iterable[HasDue], now: datetime) -> int:
    """How many cards are due (due <= now)."""
    moment = _utc(now)
    return sum(1 for memory in memories if _utc(memory.due) <= moment)
