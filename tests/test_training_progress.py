"""Training figures: accuracy since a date, streaks in the person's own time zone (also where the UTC day and the
local day differ), the weakest playbooks and the count of due cards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.core.training.memory import nudge, review
from bot.core.training.progress import (
    AnswerFact,
    PlaybookScore,
    accuracy,
    due_count,
    playbook_scores,
    streak,
    weakest_playbooks,
)

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def fact(hours: float, correct: bool, playbook: str | None = "refund", card: str = "c1") -> AnswerFact:
    return AnswerFact(T0 + timedelta(hours=hours), correct, playbook, card)


def test_accuracy_all_and_since() -> None:
    answers = [fact(0, False), fact(1, True), fact(24, True), fact(48, True)]
    assert accuracy(answers) == pytest.approx(0.75)
    assert accuracy(answers, since=T0 + timedelta(hours=1)) == 1.0  # at `since` counts
    assert accuracy(answers, since=T0 + timedelta(days=30)) is None
    assert accuracy([]) is None
    with pytest.raises(ValueError):
        accuracy(answers, since=datetime(2026, 11, 20))


def test_streak_counts_consecutive_local_days() -> None:
    day = lambda d, h=12: datetime(2026, 11, d, h, tzinfo=UTC)  # noqa: E731
    times = [day(20), day(21, 8), day(21, 17), day(22), day(24)]
    assert streak(times, "UTC", date(2026, 11, 24)) == 1
    assert streak(times, "UTC", date(2026, 11, 22)) == 3
    # Nothing yet today: the streak still stands on yesterday's answers.
    assert streak(times, "UTC", date(2026, 11, 23)) == 3
    assert streak(times, "UTC", date(2026, 11, 25)) == 1
    assert streak(times, "UTC", date(2026, 11, 26)) == 0
    assert streak([], "UTC", date(2026, 11, 26)) == 0


def test_streak_across_a_time_zone_boundary() -> None:
    # 14:30 and 16:00 UTC on the 25th: the same afternoon in Rome, but 23:30 on the 25th and 01:00 on the 26th in
    # Tokyo; in New York 09:30 and 11:00 on the 25th, and an answer at 03:00 UTC on the 25th was still the 24th.
    times = [datetime(2026, 11, 25, 3, tzinfo=UTC), datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
             datetime(2026, 11, 25, 16, tzinfo=UTC)]
    assert streak(times[1:], "Europe/Rome", date(2026, 11, 25)) == 1
    assert streak(times[1:], "Asia/Tokyo", date(2026, 11, 26)) == 2
    assert streak(times[1:], "Asia/Tokyo", date(2026, 11, 25)) == 1  # Tokyo's 25th only, seen on the 25th
    assert streak(times, "America/New_York", date(2026, 11, 25)) == 2
    assert streak(times, "UTC", date(2026, 11, 25)) == 1


def test_weakest_playbooks() -> None:
    answers = (
        [fact(i, i < 1, "refund") for i in range(4)]  # 1/4
        + [fact(i, i < 2, "delivery") for i in range(6)]  # 2/6 = 1/3
        + [fact(i, i < 1, "greeting") for i in range(3)]  # 1/3 on fewer answers
        + [fact(i, False, "rare") for i in range(2)]  # 0/2: too few to say
        + [fact(i, True, "perfect") for i in range(5)]  # 5/5: not weak
        + [fact(i, False, None) for i in range(5)]  # authored, no playbook
    )
    weakest = weakest_playbooks(answers)
    assert [(s.playbook_id, s.correct, s.answers) for s in weakest] == [
        ("refund", 1, 4), ("delivery", 2, 6), ("greeting", 1, 3)]  # the 1/3 tie: more answers first
    assert weakest[0].accuracy == 0.25
    playbook, score, count = weakest[1]  # unpacks as (playbook id, accuracy, answers)
    assert (playbook, count) == ("delivery", 6) and score == pytest.approx(1 / 3)
    assert [s.playbook_id for s in weakest_playbooks(answers, limit=1)] == ["refund"]
    assert weakest_playbooks(answers, min_answers=2)[0].playbook_id == "rare"
    assert weakest_playbooks(answers, limit=0) == []
    assert weakest_playbooks([]) == []
    assert PlaybookScore("perfect", 1.0, 5) in playbook_scores(answers)
    assert all(s.playbook_id is not None for s in playbook_scores(answers))


def test_due_count_on_memories_and_rows() -> None:
    now = T0 + timedelta(days=1)
    memories = [review(None, True, None, T0),  # due in 2 days
                review(None, False, None, T0),  # due in 12 hours
                nudge(None, now),  # due now
                nudge(review(None, True, "sure", T0), now - timedelta(hours=1))]
    assert due_count(memories, now) == 3
    assert due_count(memories, T0) == 0
    rows = [SimpleNamespace(due=now - timedelta(minutes=1)), SimpleNamespace(due=now + timedelta(minutes=1))]
    assert due_count(rows, now) == 1
    assert due_count([], now) == 0
