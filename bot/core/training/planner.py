"""When a person may get a refresher, and which card. Pure: plain values in, plain values out.

A person's day has `per_day` slots, spread over the part of their shift outside quiet hours (the allowed
window), each named "<local date of the shift's start>#<index>". A slot is used at most once (the caller keeps
the keys it used), so the daily cap holds by construction, even across restarts and several processes.

Times: everything in and out is aware UTC; the shift and quiet hours are wall-clock times in the person's time
zone, converted with zoneinfo. A wall-clock time the clocks skip (spring forward) moves to the first instant
after the jump; one they repeat (fall back) is taken at its first occurrence. That conversion never goes back
in time, so slots keep their order and none falls outside the window it was planned in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

# Below this much allowed time per card, fewer cards: a 20-minute window holds one, not three in a row.
MIN_SEGMENT = timedelta(minutes=15)
_DAY = timedelta(days=1)
_Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Shift:
    """Usual working days (0 = Monday) and hours; end <= start runs past midnight (a night shift), and the
    slots of a night belong to the local date it started."""

    days: frozenset[int]
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Quiet:
    """Local hours with never a card, even in a shift; may wrap midnight; start == end means none."""

    start: time
    end: time


@dataclass(frozen=True)
class Slot:
    key: str  # "2026-11-26#1": the second slot of the shift that started on that local date
    at: datetime  # UTC


def parse_clock(text: str) -> time:
    """'09:00' → time(9, 0); ValueError otherwise."""
    hour, sep, minute = str(text).strip().partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError(f"{text!r} is not a time such as 09:00")
    return time(int(hour), int(minute))


def make_shift(days: Collection[int], start: str, end: str) -> Shift:
    """A Shift from stored or configured values (TrainingConfig.default_days/start/end); ValueError if invalid."""
    chosen = frozenset(int(day) for day in days)
    if not chosen or any(day < 0 or day > 6 for day in chosen):
        raise ValueError("days are 0 (Monday) to 6 (Sunday), at least one")
    return Shift(chosen, parse_clock(start), parse_clock(end))


def shift_from_record(record: Mapping[str, Any] | None, default: Shift) -> Shift:
    """User.shift ({"days": [...], "start": "09:00", "end": "17:00"}) as a Shift; `default` if missing or bad."""
    if not record:
        return default
    try:
        return make_shift(record["days"], record["start"], record["end"])
    except (KeyError, TypeError, ValueError):
        return default


def make_quiet(start: str, end: str) -> Quiet:
    """Quiet hours from TrainingConfig.quiet_start/quiet_end."""
    return Quiet(parse_clock(start), parse_clock(end))


# ---- windows and slots ----------------------------------------------------------------------------------------

def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime; training times are aware UTC")
    return at.astimezone(UTC)


def _span(day: date, start: time, end: time) -> _Span:
    """A wall-clock span starting on `day`; it ends the next day when end <= start."""
    return datetime.combine(day, start), datetime.combine(day + _DAY if end <= start else day, end)


def _subtract(spans: list[_Span], cut: _Span) -> list[_Span]:
    kept: list[_Span] = []
    for start, end in spans:
        if cut[1] <= start or cut[0] >= end:
            kept.append((start, end))
            continue
        if start < cut[0]:
            kept.append((start, cut[0]))
        if cut[1] < end:
            kept.append((cut[1], end))
    return kept


def allowed_spans(day: date, shift: Shift, quiet: Quiet) -> list[_Span]:
    """The allowed window of the shift starting on local `day`, as naive wall-clock spans: the shift minus the
    quiet hours; [] when `day` is not a shift day."""
    if day.weekday() not in shift.days:
        return []
    spans = [_span(day, shift.start, shift.end)]
    if quiet.start != quiet.end:
        # A shift lasts at most a day, so the quiet hours of the day before, the day and the day after cover it.
        for offset in (-1, 0, 1):
            spans = _subtract(spans, _span(day + offset * _DAY, quiet.start, quiet.end))
    return spans


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC: the first occurrence of a repeated time; for a skipped one, the instant
    the clocks jumped (so the result never goes back in time as `wall` goes forward)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=1 reads the wall time with the offset after the jump (earlier in UTC), fold=0 with the one
    # before (later): the jump lies between them. Find it to the second.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high, after = first, first.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _spread(spread_key: int) -> float:
    """A stable per-person fraction of a segment in [-0.25, 0.25), so people on the same shift are not all
    pinged the same second; 0 for key 0 (exactly mid-segment)."""
    if not spread_key:
        return 0.0
    digest = hashlib.blake2b(str(spread_key).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") / 2**64 - 0.5) / 2


@dataclass(frozen=True)
class DayPlan:
    day: date
    windows: tuple[_Span, ...]  # UTC, half-open
    slots: tuple[Slot, ...]  # in time order
    segment: timedelta  # allowed time per slot; zero when there are no slots

    @property
    def min_gap(self) -> timedelta:
        """Least time between two cards: half a segment, so missed slots are caught up spaced, not in a burst."""
        return self.segment / 2

    def is_open(self, at: datetime) -> bool:
        return any(start <= at < end for start, end in self.windows)


@lru_cache(maxsize=32768)  # two days per person: enough for ~16,000 people
def day_plan(day: date, tz: str, shift: Shift, quiet: Quiet, per_day: int, spread_key: int = 0) -> DayPlan:
    """The allowed window and slots of the shift starting on local `day` (cached: the ticker asks every minute)."""
    zone = ZoneInfo(tz)
    spans = allowed_spans(day, shift, quiet)
    windows = tuple((_to_utc(start, zone), _to_utc(end, zone)) for start, end in spans)
    total = sum((end - start for start, end in spans), timedelta())  # wall-clock length
    count = min(per_day, total // MIN_SEGMENT) if per_day > 0 else 0
    if count <= 0:
        return DayPlan(day, windows, (), timedelta())
    segment = total / count
    shift_by = _spread(spread_key)
    slots = []
    for index in range(count):
        position = segment * (index + 0.5 + shift_by)
        slots.append(Slot(f"{day.isoformat()}#{index}", _to_utc(_wall_at(spans, position), zone)))
    return DayPlan(day, windows, tuple(sorted(slots, key=lambda slot: slot.at)), segment)


def _wall_at(spans: list[_Span], position: timedelta) -> datetime:
    """The wall-clock time `position` into the concatenated spans, to the whole second."""
    for start, end in spans:
        if position < end - start:
            wall = start + position
            return wall.replace(microsecond=0)
        position -= end - start
    return spans[-1][1] - timedelta(seconds=1)  # unreachable with positions inside the window


def day_slots(day: date, tz: str, shift: Shift, quiet: Quiet, per_day: int, spread_key: int = 0) -> list[Slot]:
    """The slots of the shift starting on local `day`, in time order: at most per_day (fewer when the allowed
    window is shorter than per_day × MIN_SEGMENT), evenly spread over it, shifted per person by spread_key."""
    return list(day_plan(day, tz, shift, quiet, per_day, spread_key).slots)


def _current_plans(now: datetime, tz: str, shift: Shift, quiet: Quiet, per_day: int,
                   spread_key: int) -> list[DayPlan]:
    # Today's shift, and yesterday's in case it is a night shift still running.
    today = now.astimezone(ZoneInfo(tz)).date()
    return [day_plan(day, tz, shift, quiet, per_day, spread_key) for day in (today - _DAY, today)]


def is_allowed(now: datetime, tz: str, shift: Shift, quiet: Quiet) -> bool:
    """Whether `now` is inside an allowed window (in a shift, outside quiet hours)."""
    now = _utc(now)
    return any(plan.is_open(now) for plan in _current_plans(now, tz, shift, quiet, 1, 0))


def next_slot(now: datetime, tz: str, shift: Shift, quiet: Quiet, per_day: int, taken: Collection[str],
              last_sent_at: datetime | None, spread_key: int = 0) -> Slot | None:
    """The slot to use now, if any: the earliest of the running shift's slots whose time has come and whose key
    is not in `taken`, while `now` is inside that shift's allowed window and at least min_gap after the last
    card sent (`last_sent_at`). After downtime the missed slots of the running shift are caught up one per
    min_gap; those of a shift that has ended are never sent (a day's cap is that day's)."""
    now = _utc(now)
    for plan in _current_plans(now, tz, shift, quiet, per_day, spread_key):
        if not plan.slots or not plan.is_open(now):
            continue
        if last_sent_at is not None and now - _utc(last_sent_at) < plan.min_gap:
            return None
        for slot in plan.slots:
            if slot.at > now:
                break
            if slot.key not in taken:
                return slot
    return None


# ---- which card ----------------------------------------------------------------------------------------------

def choose_card(due: Sequence[tuple[str, datetime]], unseen: Sequence[str], new_today: int, new_per_day: int,
                now: datetime) -> str | None:
    """The card for a scheduled slot: the most overdue card (due <= now; ties by id), else the first unseen
    card if fewer than new_per_day new cards went out today, else None (nothing worth a ping)."""
    now = _utc(now)
    ready = [(_utc(at), card) for card, at in due if _utc(at) <= now]
    if ready:
        return min(ready)[1]
    if new_today < new_per_day and unseen:
        return unseen[0]
    return None


def practice_pick(due: Sequence[tuple[str, datetime]], retrievability: Mapping[str, float], unseen: Sequence[str],
                  now: datetime, exclude: Collection[str] = (), weak_below: float = 1.0) -> str | None:
    """The card for /train (extra practice now), never one in `exclude` (e.g. the card just answered):
    a due card (due <= now, most overdue first), else the weakest seen card (lowest retrievability, from
    memory.retrievability) below `weak_below`, else an unseen card (in the given order), else the weakest seen
    card at all. `due` and `retrievability` cover the cards seen before. With the default weak_below every seen
    card ranks before unseen ones; lower it (e.g. 0.95) to offer new cards once all seen ones are strong."""
    now = _utc(now)
    ready = sorted((_utc(at), card) for card, at in due if card not in exclude and _utc(at) <= now)
    if ready:
        return ready[0][1]
    ranked = sorted((value, card) for card, value in retrievability.items() if card not in exclude)
    if ranked and ranked[0][0] < weak_below:
        return ranked[0][1]
    seen = {card for card, _ in due} | set(retrievability)
    fresh = next((card for card in unseen if card not in exclude and card not in seen), None)
    if fresh is not None:
        return fresh
    return ranked[0][1] if ranked else None
