"""The FSRS memory of a card: a wrong answer comes back sooner than any right one (first time and after several
reviews), intervals grow with right answers, nudges make a card due now, and the stored forms round-trip."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.core.training.memory import (
    LAPSE_RETRY,
    MAX_INTERVAL_DAYS,
    Memory,
    from_dict,
    from_row,
    is_due,
    nudge,
    retrievability,
    review,
    stability,
    to_dict,
    to_row,
)
from storage.models import TrainingMemory

T0 = datetime(2026, 11, 23, 10, 20, tzinfo=UTC)
CONFIDENCES = ("guessed", None, "fairly", "sure")


def interval(memory: Memory) -> timedelta:
    assert memory.last_review is not None
    return memory.due - memory.last_review


def history(answers: list[tuple[bool, str | None]], start: datetime = T0) -> Memory:
    """Answer a card at each due date in turn."""
    memory: Memory | None = None
    at = start
    for correct, confidence in answers:
        memory = review(memory, correct, confidence, at)
        at = memory.due
    assert memory is not None
    return memory


def test_first_answer_wrong_comes_back_sooner_than_any_right_one() -> None:
    wrong = review(None, False, None, T0)
    rights = {conf: review(None, True, conf, T0) for conf in CONFIDENCES}
    assert wrong.due == T0 + LAPSE_RETRY
    for memory in rights.values():
        assert wrong.due < memory.due
        assert interval(memory) >= timedelta(days=1)  # never the same shift again
    # The more sure, the later: guessed (Hard) < fairly/none (Good) < sure (Easy).
    assert rights["guessed"].due < rights["fairly"].due == rights[None].due < rights["sure"].due


def test_first_answer_counts() -> None:
    wrong = review(None, False, "sure", T0)  # confidence means nothing on a wrong answer
    assert (wrong.reviews, wrong.lapses, wrong.last_review) == (1, 1, T0)
    assert wrong == review(None, False, None, T0)
    right = review(wrong, True, None, wrong.due)
    assert (right.reviews, right.lapses, right.last_review) == (2, 1, wrong.due)


@pytest.mark.parametrize("past", [
    [(True, None)] * 3,
    [(True, "sure"), (True, "fairly"), (True, None), (True, None)],
    [(True, "guessed")] * 5,
    [(True, None), (False, None), (True, None), (True, None)],
    [(False, None)] * 3,
])
def test_after_several_reviews_wrong_still_comes_back_sooner(past: list[tuple[bool, str | None]]) -> None:
    before = history(past)
    at = before.due
    wrong = review(before, False, None, at)
    assert wrong.due == at + LAPSE_RETRY
    assert wrong.lapses == before.lapses + 1
    for confidence in CONFIDENCES:
        right = review(before, True, confidence, at)
        assert wrong.due < right.due
        assert right.lapses == before.lapses


def test_a_wrong_answer_long_after_is_back_the_next_shift_too() -> None:
    before = history([(True, None)] * 4)
    late = before.due + timedelta(days=30)
    assert review(before, False, None, late).due == late + LAPSE_RETRY


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_intervals_grow_with_successive_right_answers(confidence: str | None) -> None:
    memory: Memory | None = None
    at = T0
    intervals = []
    for _ in range(5):
        memory = review(memory, True, confidence, at)
        intervals.append(interval(memory))
        at = memory.due
    capped = timedelta(days=MAX_INTERVAL_DAYS)
    for earlier, later in itertools.pairwise(intervals):
        assert later > earlier or later == capped
    assert max(intervals) <= capped


def test_intervals_grow_again_after_a_lapse() -> None:
    memory = history([(True, None)] * 3 + [(False, None)])
    at = memory.due
    intervals = []
    for _ in range(4):
        memory = review(memory, True, None, at)
        intervals.append(interval(memory))
        at = memory.due
    assert intervals == sorted(intervals) and intervals[0] < intervals[-1]


def test_deterministic_no_fuzz() -> None:
    answers = [(True, None), (True, "sure"), (False, None), (True, "guessed"), (True, None)]
    assert history(answers) == history(answers)


def test_times_must_be_aware_and_any_zone_is_taken_as_utc() -> None:
    with pytest.raises(ValueError):
        review(None, True, None, datetime(2026, 11, 23, 10))
    rome = T0.astimezone(ZoneInfo("Europe/Rome"))
    memory = review(None, True, None, rome)
    assert memory == review(None, True, None, T0)
    assert memory.due.tzinfo is UTC


def test_unknown_confidence_is_refused() -> None:
    with pytest.raises(ValueError):
        review(None, True, "certain", T0)


def test_nudge_makes_a_future_card_due_now() -> None:
    memory = history([(True, None)] * 3)
    assert memory.due > T0 + timedelta(days=10)
    at = T0 + timedelta(days=3)
    nudged = nudge(memory, at)
    assert nudged.due == at and is_due(nudged, at)
    # Only the due date moves: the memory itself (and so the next interval) is what FSRS said.
    assert (nudged.state, nudged.reviews, nudged.lapses, nudged.last_review) == (
        memory.state, memory.reviews, memory.lapses, memory.last_review)


def test_nudge_keeps_an_overdue_card_as_overdue() -> None:
    memory = review(None, True, None, T0)
    late = memory.due + timedelta(days=5)
    assert nudge(memory, late) == memory  # min(due, at): it stays the most overdue it was


def test_nudge_on_a_never_seen_card_makes_it_due_not_new() -> None:
    nudged = nudge(None, T0)
    assert (nudged.due, nudged.reviews, nudged.lapses, nudged.last_review) == (T0, 0, 0, None)
    assert is_due(nudged, T0)
    # Answering it later is its first review.
    at = T0 + timedelta(hours=5)
    assert review(nudged, True, None, at) == review(None, True, None, at)


def test_retrievability() -> None:
    assert retrievability(None, T0) == 0.0
    assert retrievability(nudge(None, T0), T0) == 0.0
    right = review(None, True, None, T0)
    assert retrievability(right, T0) == pytest.approx(1.0)
    later = [retrievability(right, T0 + timedelta(hours=h)) for h in (6, 24, 48, 24 * 10)]
    assert later == sorted(later, reverse=True) and all(0 < value < 1 for value in later)
    # FSRS schedules at 90% recall (intervals are whole days, so roughly).
    assert retrievability(right, right.due) == pytest.approx(0.9, abs=0.02)
    wrong = review(None, False, None, T0)
    assert retrievability(wrong, T0 + timedelta(days=1)) < retrievability(right, T0 + timedelta(days=1))
    assert stability(wrong) is not None and stability(right) is not None
    assert stability(wrong) < stability(right)  # type: ignore[operator]


def test_row_round_trip_through_the_table_model() -> None:
    memory = history([(True, None), (False, None), (True, "sure")])
    row = TrainingMemory(user_id=1, card_id="abc", **to_row(memory))
    assert from_row(row) == memory
    assert from_row(SimpleNamespace(**to_row(memory))) == memory


def test_json_round_trip_regrades_the_same_review() -> None:
    # TrainingAnswer.memory_before keeps the memory before an answer; "How sure were you?" re-grades from it.
    before = history([(True, None), (True, None)])
    stored = json.loads(json.dumps(to_dict(before)))
    assert from_dict(stored) == before
    at = before.due + timedelta(hours=1)
    assert review(from_dict(stored), True, "sure", at) == review(before, True, "sure", at)
    assert to_dict(None) is None and from_dict(None) is None
    first = review(from_dict(None), True, "guessed", T0)
    assert first == review(None, True, "guessed", T0)
