"""The weekly digest, pure: which week, its UTC bounds in a team's time zone, and the figures as plain data.

A digest week runs from Monday 00:00 to the next Monday 00:00 in the team's time zone (so a week with a DST
change lasts 167 or 169 hours); the bounds are converted to UTC for the queries, which compare against the
UTC `created_at` column. Weeks are named by their ISO label, "2026-W47".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_LABEL = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WeekError(ValueError):
    """Not an ISO week label such as 2026-W47."""


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    timezone: str
    start: datetime  # UTC, inclusive: Monday 00:00 local
    end: datetime  # UTC, exclusive: next Monday 00:00 local

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def day_starts(self) -> list[datetime]:
        """The UTC instants at which each local day of the week starts, Monday first, plus the week's end."""
        zone = ZoneInfo(self.timezone)
        return [_local_midnight(self.monday + timedelta(days=i), zone) for i in range(7)] + [self.end]

    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    def previous(self) -> Week:
        return week_of(self.monday - timedelta(days=7), self.timezone)

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight exists in every IANA zone we serve; a zone that skips midnight would get its first instant after.
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def week_of(day: date, timezone: str) -> Week:
    """The ISO week containing the local date `day`."""
    year, number, _ = day.isocalendar()
    return make_week(year, number, timezone)


def make_week(year: int, number: int, timezone: str) -> Week:
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise WeekError(f"{year}-W{number:02d} is not a week of {year}") from exc
    zone = ZoneInfo(timezone)
    return Week(year, number, timezone, _local_midnight(monday, zone),
                _local_midnight(monday + timedelta(days=7), zone))


def parse_week(label: str, timezone: str) -> Week:
    match = _LABEL.match(label.strip())
    if not match:
        raise WeekError(f"{label!r} is not a week such as 2026-W47")
    return make_week(int(match.group(1)), int(match.group(2)), timezone)


def is_week_label(text: str) -> bool:
    return bool(_LABEL.match(text.strip()))


def last_complete_week(now: datetime, timezone: str) -> Week:
    """The latest week that has ended at `now` (aware), in the team's time zone."""
    local_today = now.astimezone(ZoneInfo(timezone)).date()
    return week_of(local_today - timedelta(days=7), timezone)


def day_index(created_at: datetime, week: Week) -> int:
    """Which local day (0 = Monday) of `week` a UTC instant falls on."""
    starts = week.day_starts()
    for index in range(7):
        if created_at < starts[index + 1]:
            return index
    return 6


def median_offsets(count: int) -> tuple[int, int]:
    """(offset, limit) that select the middle value(s) of `count` sorted values: one when odd, two when even."""
    if count <= 0:
        return 0, 0
    if count % 2:
        return count // 2, 1
    return count // 2 - 1, 2


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Change:
    """Against the previous week: arrow ▲ ▼ or = and the signed difference."""

    arrow: str
    delta: float

    @property
    def text_delta(self) -> str:
        sign = "+" if self.delta > 0 else ("−" if self.delta < 0 else "±")
        value = abs(self.delta)
        return f"{sign}{value:g}" if value == int(value) else f"{sign}{value:.1f}"


def change(current: float | int | None, previous: float | int | None) -> Change | None:
    if current is None or previous is None:
        return None
    delta = round(float(current) - float(previous), 1)
    return Change("▲" if delta > 0 else ("▼" if delta < 0 else "="), delta)


@dataclass(frozen=True)
class Totals:
    decisions: int = 0
    followed: int = 0
    favouring: int = 0
    escalated: int = 0
    spent_minor: int = 0
    over_limit: int = 0
    approved_by_lead: int = 0
    on_timeout: int = 0
    median_seconds: float | None = None

    @property
    def followed_share(self) -> float | None:
        return share(self.followed, self.decisions)

    @property
    def favouring_share(self) -> float | None:
        return share(self.favouring, self.decisions)


@dataclass(frozen=True)
class OutcomeRow:
    playbook_id: str
    outcome: str
    decisions: int
    spent_minor: int


@dataclass(frozen=True)
class Largest:
    amount_minor: int
    user_name: str
    playbook_id: str
    outcome: str
    note: str | None
    created_at: datetime
    over_limit: bool


@dataclass
class Review:
    """A rule worth reviewing: where people did other than recommended, or escalated."""

    playbook_id: str
    step: str
    recommended: str
    count: int
    other: int
    escalated: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reactions:
    playbook_id: str
    happy: int
    neutral: int
    unhappy: int


@dataclass(frozen=True)
class PersonRow:
    name: str
    decisions: int
    over_limit: int


@dataclass(frozen=True)
class Day:
    day: date
    followed: int = 0
    other: int = 0
    escalated: int = 0
    spent_minor: int = 0
    over_limit: int = 0

    @property
    def decisions(self) -> int:
        return self.followed + self.other + self.escalated


@dataclass(frozen=True)
class Phrase:
    text: str
    count: int


@dataclass(frozen=True)
class TrainingWeek:
    """The team's micro-training in the week: answers, how many right, who trained, the weakest playbooks."""

    answered: int
    correct: int
    people_trained: int
    members: int
    weakest: list[tuple[str, int, int]] = field(default_factory=list)  # (playbook id, right, answered)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None


@dataclass
class Figures:
    """One team's week, every number the digest shows."""

    team: str
    week: Week
    currency: str
    totals: Totals
    previous: Totals
    outcomes: list[OutcomeRow] = field(default_factory=list)
    largest: list[Largest] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    reactions: list[Reactions] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    days: list[Day] = field(default_factory=list)
    unmatched: list[Phrase] | None = None  # None: the unmatched phrases table does not exist here
    training: TrainingWeek | None = None

    @property
    def empty(self) -> bool:
        return self.totals.decisions == 0

    def spent_by_outcome(self) -> list[tuple[str, str, int]]:
        """(playbook, outcome, spent) for outcomes that cost something, largest first."""
        rows = [(r.playbook_id, r.outcome, r.spent_minor) for r in self.outcomes if r.spent_minor]
        return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))
