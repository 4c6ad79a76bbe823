"""When refreshers go out and which card: shifts and quiet hours in several time zones (a night shift across
midnight, both 2026 DST changes in Rome), the daily cap, catch-up after downtime spaced by min_gap, and a
backlog after a week away spread over the following days, most overdue first."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.training.memory import Memory, nudge, retrievability, review
from bot.core.training.planner import (
    MIN_SEGMENT,
    Quiet,
    Shift,
    Slot,
    allowed_spans,
    choose_card,
    day_plan,
    day_slots,
    is_allowed,
    make_quiet,
    make_shift,
    next_slot,
    parse_clock,
    practice_pick,
    shift_from_record,
)

ROME, NEW_YORK, TOKYO = "Europe/Rome", "America/New_York", "Asia/Tokyo"
WEEKDAYS = make_shift(range(5), "09:00", "17:00")
EVERY_DAY = frozenset(range(7))
NIGHT = make_shift(range(7), "22:00", "06:00")
QUIET = make_quiet("21:00", "08:00")  # TrainingConfig's default
NO_QUIET = make_quiet("00:00", "00:00")
THURSDAY = date(2026, 11, 26)


def local(slot: Slot | datetime, tz: str) -> datetime:
    at = slot.at if isinstance(slot, Slot) else slot
    return at.astimezone(ZoneInfo(tz))


def wall(day: date, hhmm: str, tz: str) -> datetime:
    """UTC of a local wall-clock time."""
    return datetime.combine(day, parse_clock(hhmm), ZoneInfo(tz)).astimezone(UTC)


def run(start: datetime, end: datetime, tz: str, shift: Shift, quiet: Quiet, per_day: int, spread_key: int = 0,
        taken: set[str] | None = None, last: datetime | None = None,
        step: timedelta = timedelta(minutes=1)) -> list[tuple[datetime, Slot]]:
    """A ticker asking next_slot every `step` from start to end, marking what it sends."""
    taken = set() if taken is None else taken
    sent = []
    now = start
    while now < end:
        slot = next_slot(now, tz, shift, quiet, per_day, taken, last, spread_key)
        if slot is not None:
            assert slot.key not in taken
            taken.add(slot.key)
            sent.append((now, slot))
            last = now
        now += step
    return sent


# ---- shifts from records and config ---------------------------------------------------------------------------

def test_shift_from_record() -> None:
    default = make_shift([0, 1, 2, 3, 4], "09:00", "17:00")
    night = shift_from_record({"days": [4, 5], "start": "22:00", "end": "06:00"}, default)
    assert night == Shift(frozenset({4, 5}), time(22), time(6)) and night.overnight
    assert not default.overnight
    for bad in ({}, None, {"days": []}, {"days": [], "start": "09:00", "end": "17:00"},
                {"days": [7], "start": "09:00", "end": "17:00"}, {"days": [1], "start": "9am", "end": "17:00"},
                {"days": [1], "start": "25:00", "end": "17:00"}, {"days": "mon", "start": "09:00", "end": "17:00"},
                {"days": [1], "start": None, "end": "17:00"}, {"start": "09:00", "end": "17:00"}):
        assert shift_from_record(bad, default) == default
    with pytest.raises(ValueError):
        make_quiet("21:00", "8")


def test_allowed_spans_are_the_shift_minus_quiet_hours() -> None:
    day = THURSDAY
    at = lambda d, h, m=0: datetime.combine(d, time(h, m))  # noqa: E731
    assert allowed_spans(day, WEEKDAYS, QUIET) == [(at(day, 9), at(day, 17))]
    assert allowed_spans(day, make_shift([3], "06:00", "23:00"), QUIET) == [(at(day, 8), at(day, 21))]
    # A quiet lunch hour splits the window in two.
    assert allowed_spans(day, WEEKDAYS, make_quiet("12:00", "13:00")) == [(at(day, 9), at(day, 12)),
                                                                         (at(day, 13), at(day, 17))]
    nxt = day + timedelta(days=1)
    assert allowed_spans(day, NIGHT, make_quiet("02:00", "04:00")) == [(at(day, 22), at(nxt, 2)),
                                                                      (at(nxt, 4), at(nxt, 6))]
    assert allowed_spans(day, NIGHT, QUIET) == []  # the whole night is quiet by default
    assert allowed_spans(date(2026, 11, 28), WEEKDAYS, QUIET) == []  # Saturday


# ---- slots ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tz, offset", [(ROME, 1), (NEW_YORK, -5), (TOKYO, 9)])
def test_day_slots_at_the_same_wall_clock_in_each_zone(tz: str, offset: int) -> None:
    slots = day_slots(THURSDAY, tz, WEEKDAYS, QUIET, 3)
    assert [s.key for s in slots] == ["2026-11-26#0", "2026-11-26#1", "2026-11-26#2"]
    # 8 hours, 3 slots: a segment of 2 h 40, each in its middle.
    assert [local(s, tz).strftime("%H:%M") for s in slots] == ["10:20", "13:00", "15:40"]
    assert [s.at.hour for s in slots] == [(h - offset) % 24 for h in (10, 13, 15)]
    assert all(s.at.tzinfo is UTC for s in slots)


def test_no_slots_on_days_off_or_in_a_quiet_shift() -> None:
    assert day_slots(date(2026, 11, 28), ROME, WEEKDAYS, QUIET, 3) == []
    assert day_slots(THURSDAY, ROME, NIGHT, QUIET, 3) == []


def test_night_shift_crossing_midnight_belongs_to_the_day_it_started() -> None:
    quiet = make_quiet("12:00", "14:00")
    slots = day_slots(THURSDAY, TOKYO, NIGHT, quiet, 4)  # 8 hours, 4 segments of 2 hours
    assert [s.key for s in slots] == [f"2026-11-26#{i}" for i in range(4)]
    assert [local(s, TOKYO).isoformat(timespec="minutes") for s in slots] == [
        "2026-11-26T23:00+09:00", "2026-11-27T01:00+09:00", "2026-11-27T03:00+09:00", "2026-11-27T05:00+09:00"]
    # At 03:30 on Friday, the slot due is Thursday's night's third, not a Friday one.
    now = wall(date(2026, 11, 27), "03:30", TOKYO)
    taken = {"2026-11-26#0", "2026-11-26#1"}
    assert next_slot(now, TOKYO, NIGHT, quiet, 4, taken, None) == slots[2]
    # Sending a whole week of nights gives 4 a night, all inside the night.
    sent = run(wall(THURSDAY, "12:00", TOKYO), wall(THURSDAY + timedelta(days=7), "12:00", TOKYO), TOKYO, NIGHT,
               quiet, 4)
    assert Counter(slot.key[:10] for _, slot in sent) == Counter(
        {(THURSDAY + timedelta(days=i)).isoformat(): 4 for i in range(7)})
    for at, slot in sent:
        assert at == slot.at
        hour = local(at, TOKYO).hour
        assert hour >= 22 or hour < 6
    # Starting mid-night, the running night's missed slot is caught up; the night before's are not.
    sent = run(wall(THURSDAY, "00:30", TOKYO), wall(THURSDAY, "12:00", TOKYO), TOKYO, NIGHT, quiet, 4)
    assert [(local(at, TOKYO).strftime("%H:%M"), slot.key) for at, slot in sent] == [
        ("00:30", "2026-11-25#0"), ("01:30", "2026-11-25#1"), ("03:00", "2026-11-25#2"), ("05:00", "2026-11-25#3")]


def test_quiet_hours_split_slots_never_in_them() -> None:
    quiet = make_quiet("12:00", "13:00")
    slots = day_slots(THURSDAY, ROME, WEEKDAYS, quiet, 7)  # 7 h allowed: one an hour
    assert [local(s, ROME).strftime("%H:%M") for s in slots] == [
        "09:30", "10:30", "11:30", "13:30", "14:30", "15:30", "16:30"]


def test_spread_per_person_stays_within_a_quarter_segment() -> None:
    segment = timedelta(hours=8) / 3
    mids = day_slots(THURSDAY, ROME, WEEKDAYS, QUIET, 3)
    seconds: Counter[datetime] = Counter()
    for user in range(1, 1001):
        slots = day_slots(THURSDAY, ROME, WEEKDAYS, QUIET, 3, spread_key=user)
        assert slots == day_slots(THURSDAY, ROME, WEEKDAYS, QUIET, 3, spread_key=user)  # stable
        assert [s.key for s in slots] == [s.key for s in mids]
        for slot, mid in zip(slots, mids, strict=True):
            assert abs(slot.at - mid.at) <= segment / 4
        seconds[slots[0].at] += 1
    # A thousand people on one shift are spread over 80 minutes: a handful at most share a second.
    assert len(seconds) > 850 and max(seconds.values()) <= 4


def test_short_windows_get_fewer_slots() -> None:
    quiet = make_quiet("09:20", "16:30")  # leaves 09:00-09:20 and 16:30-17:00: 50 minutes
    assert len(day_slots(THURSDAY, ROME, WEEKDAYS, quiet, 5)) == 50 // 15
    assert len(day_slots(THURSDAY, ROME, make_shift([3], "09:00", "09:20"), NO_QUIET, 3)) == 1
    assert day_slots(THURSDAY, ROME, make_shift([3], "09:00", "09:14"), NO_QUIET, 3) == []
    assert timedelta(minutes=15) == MIN_SEGMENT


def test_no_slot_outside_shift_or_in_quiet_hours_anywhere() -> None:
    rng = random.Random(7)
    zones = [ROME, NEW_YORK, TOKYO, "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo", "UTC"]
    days = [date(2026, 3, 8), date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24), date(2026, 10, 25),
            date(2026, 11, 1), date(2026, 4, 5), THURSDAY]
    for _ in range(600):
        tz = rng.choice(zones)
        shift = Shift(frozenset(rng.sample(range(7), rng.randint(1, 7))),
                      time(rng.randrange(24), rng.choice((0, 15, 30, 45))),
                      time(rng.randrange(24), rng.choice((0, 30))))
        quiet = Quiet(time(rng.randrange(24)), time(rng.randrange(24)))
        per_day = rng.randint(1, 8)
        day = rng.choice(days)
        slots = day_slots(day, tz, shift, quiet, per_day, spread_key=rng.randrange(10**6))
        assert len(slots) <= per_day
        assert len({s.key for s in slots}) == len(slots)
        assert [s.at for s in slots] == sorted(s.at for s in slots)
        for slot in slots:
            assert _inside(local(slot, tz), day, shift, quiet), (tz, shift, quiet, day, slot)
            assert is_allowed(slot.at, tz, shift, quiet)


def _inside(at: datetime, day: date, shift: Shift, quiet: Quiet) -> bool:
    """Checked independently of the planner: local wall clock within the shift started on `day`, not quiet."""
    naive = at.replace(tzinfo=None)
    start = datetime.combine(day, shift.start)
    end = datetime.combine(day + timedelta(days=1) if shift.overnight else day, shift.end)
    if not start <= naive < end:
        return False
    if quiet.start == quiet.end:
        return True
    clock = naive.time()
    if quiet.start < quiet.end:
        return not quiet.start <= clock < quiet.end
    return quiet.end <= clock < quiet.start


# ---- DST -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [date(2026, 3, 29), date(2026, 10, 25)])
def test_day_shift_on_a_dst_day_keeps_its_wall_clock_times(change: date) -> None:
    every_day = Shift(EVERY_DAY, time(9), time(17))
    times = {}
    for day in (change - timedelta(days=1), change, change + timedelta(days=1)):
        slots = day_slots(day, ROME, every_day, QUIET, 3)
        times[day] = [local(s, ROME).strftime("%H:%M") for s in slots]
    assert set(map(tuple, times.values())) == {("10:20", "13:00", "15:40")}
    offsets = {day: local(day_slots(day, ROME, every_day, QUIET, 3)[0], ROME).utcoffset() for day in times}
    assert offsets[change - timedelta(days=1)] != offsets[change + timedelta(days=1)]


def test_night_shift_across_spring_forward_nothing_lost_or_doubled() -> None:
    night_before = date(2026, 3, 28)  # Rome skips 02:00-03:00 on the 29th
    slots = day_slots(night_before, ROME, NIGHT, NO_QUIET, 4)  # wall 23:00, 01:00, 03:00, 05:00
    assert [local(s, ROME).strftime("%H:%M") for s in slots] == ["23:00", "01:00", "03:00", "05:00"]
    # A slot planned in the skipped hour moves to the first instant after it.
    skipped = day_slots(night_before, ROME, NIGHT, NO_QUIET, 3)  # wall 23:20, 02:00 (skipped), 04:40
    assert [local(s, ROME).isoformat(timespec="minutes") for s in skipped] == [
        "2026-03-28T23:20+01:00", "2026-03-29T03:00+02:00", "2026-03-29T04:40+02:00"]
    sent = run(wall(night_before, "20:00", ROME), wall(night_before + timedelta(days=1), "08:00", ROME), ROME,
               NIGHT, NO_QUIET, 3)
    assert [slot for _, slot in sent] == skipped


def test_night_shift_across_fall_back_nothing_lost_or_doubled() -> None:
    night_before = date(2026, 10, 24)  # Rome repeats 02:00-03:00 on the 25th
    slots = day_slots(night_before, ROME, NIGHT, NO_QUIET, 3)  # wall 23:20, 02:00 (repeated), 04:40
    assert [local(s, ROME).isoformat(timespec="minutes") for s in slots] == [
        "2026-10-24T23:20+02:00", "2026-10-25T02:00+02:00", "2026-10-25T04:40+01:00"]  # the first 02:00
    sent = run(wall(night_before, "20:00", ROME), wall(night_before + timedelta(days=1), "08:00", ROME), ROME,
               NIGHT, NO_QUIET, 3)
    assert [slot for _, slot in sent] == slots
    # The window is the real night: nine hours of it tonight, all allowed.
    plan = day_plan(night_before, ROME, NIGHT, NO_QUIET, 3)
    assert sum((end - start for start, end in plan.windows), timedelta()) == timedelta(hours=9)


@pytest.mark.parametrize("tz", [ROME, NEW_YORK])
def test_a_week_across_each_dst_change_sends_exactly_per_day(tz: str) -> None:
    for change in ({ROME: date(2026, 3, 29), NEW_YORK: date(2026, 3, 8)}[tz],
                   {ROME: date(2026, 10, 25), NEW_YORK: date(2026, 11, 1)}[tz]):
        start = change - timedelta(days=3)
        shift = Shift(EVERY_DAY, time(7), time(19))
        sent = run(wall(start, "00:00", tz), wall(start + timedelta(days=7), "00:00", tz), tz, shift, QUIET, 3,
                   spread_key=42, step=timedelta(minutes=5))
        per_day = Counter(slot.key[:10] for _, slot in sent)
        assert per_day == Counter({(start + timedelta(days=i)).isoformat(): 3 for i in range(7)})
        for at, slot in sent:
            assert local(at, tz).date().isoformat() == slot.key[:10]
            assert time(8) <= local(at, tz).time() < time(19)


# ---- next_slot: cap, catch-up, past days -----------------------------------------------------------------------

def test_daily_cap_over_a_week_of_ticks() -> None:
    monday = date(2026, 11, 23)
    sent = run(wall(monday, "00:00", ROME), wall(monday + timedelta(days=7), "00:00", ROME), ROME, WEEKDAYS,
               QUIET, 3, spread_key=1234)
    per_day = Counter(local(at, ROME).date() for at, _ in sent)
    assert per_day == Counter({monday + timedelta(days=i): 3 for i in range(5)})  # weekend off
    # Each went out in its slot's minute: nothing early, nothing late when the ticker is running.
    for at, slot in sent:
        assert timedelta(0) <= at - slot.at < timedelta(minutes=1)


def test_restart_catches_up_missed_slots_spaced_by_min_gap() -> None:
    plan = day_plan(THURSDAY, ROME, WEEKDAYS, QUIET, 3)
    assert plan.min_gap == timedelta(minutes=80)
    # Down from 09:00 to 14:00: the 10:20 and 13:00 slots were missed.
    sent = run(wall(THURSDAY, "14:00", ROME), wall(THURSDAY, "23:59", ROME), ROME, WEEKDAYS, QUIET, 3)
    assert [(local(at, ROME).strftime("%H:%M"), slot.key) for at, slot in sent] == [
        ("14:00", "2026-11-26#0"), ("15:20", "2026-11-26#1"), ("16:40", "2026-11-26#2")]


def test_restart_respects_the_last_card_sent_before_it() -> None:
    last = wall(THURSDAY, "13:50", ROME)  # sent just before going down; 13:00 slot taken
    taken = {"2026-11-26#0", "2026-11-26#1"}
    assert next_slot(wall(THURSDAY, "15:45", ROME), ROME, WEEKDAYS, QUIET, 3, taken, last) == \
        day_slots(THURSDAY, ROME, WEEKDAYS, QUIET, 3)[2]
    late = wall(THURSDAY, "15:00", ROME)
    assert next_slot(late, ROME, WEEKDAYS, QUIET, 3, set(), wall(THURSDAY, "14:30", ROME)) is None  # 30 min < 80


def test_late_in_the_window_only_what_fits_is_sent() -> None:
    # Back at 16:30: only one card before 17:00, the others of the day are gone.
    sent = run(wall(THURSDAY, "16:30", ROME), wall(THURSDAY + timedelta(days=1), "09:00", ROME), ROME, WEEKDAYS,
               QUIET, 3)
    assert [slot.key for _, slot in sent] == ["2026-11-26#0"]


def test_slots_of_a_past_day_are_never_sent() -> None:
    friday = THURSDAY + timedelta(days=1)
    # Down all Thursday; on Friday morning nothing of Thursday's comes out, only Friday's three.
    sent = run(wall(friday, "00:00", ROME), wall(friday, "23:59", ROME), ROME, WEEKDAYS, QUIET, 3)
    assert [slot.key for _, slot in sent] == [f"{friday.isoformat()}#{i}" for i in range(3)]
    assert next_slot(wall(friday, "09:30", ROME), ROME, WEEKDAYS, QUIET, 3, set(), None) is None  # before 10:20


def test_nothing_outside_the_window_even_with_slots_untaken() -> None:
    for hhmm in ("08:59", "17:00", "18:00", "23:00"):
        assert next_slot(wall(THURSDAY, hhmm, ROME), ROME, WEEKDAYS, QUIET, 3, set(), None) is None
    assert not is_allowed(wall(THURSDAY, "08:59", ROME), ROME, WEEKDAYS, QUIET)
    assert is_allowed(wall(THURSDAY, "09:00", ROME), ROME, WEEKDAYS, QUIET)
    assert not is_allowed(wall(THURSDAY, "22:30", ROME), ROME, make_shift([3], "14:00", "23:00"), QUIET)
    with pytest.raises(ValueError):
        next_slot(datetime(2026, 11, 26, 12), ROME, WEEKDAYS, QUIET, 3, set(), None)


# ---- which card -------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def test_choose_card_most_overdue_first_then_new_under_the_cap() -> None:
    due = [("b", NOW - timedelta(days=1)), ("a", NOW - timedelta(days=3)), ("c", NOW + timedelta(hours=1)),
           ("d", NOW - timedelta(days=3))]
    assert choose_card(due, ["n1", "n2"], 0, 2, NOW) == "a"  # a and d tie: by id
    assert choose_card([("c", NOW + timedelta(hours=1))], ["n1", "n2"], 1, 2, NOW) == "n1"
    assert choose_card([("c", NOW + timedelta(hours=1))], ["n1", "n2"], 2, 2, NOW) is None
    assert choose_card([], [], 0, 2, NOW) is None
    assert choose_card([("c", NOW)], [], 0, 0, NOW) == "c"  # due exactly now counts


def test_nudged_cards_come_before_new_ones() -> None:
    seen = review(None, True, None, NOW - timedelta(days=1))  # due in a day
    memories = {"seen": nudge(seen, NOW), "never": nudge(None, NOW - timedelta(minutes=5))}
    due = [(card, memory.due) for card, memory in memories.items()]
    assert choose_card(due, ["n1"], 0, 2, NOW) == "never"
    assert choose_card(due[:1], ["n1"], 0, 2, NOW) == "seen"


def test_backlog_after_a_week_away_is_spread_over_days_most_overdue_first() -> None:
    monday = date(2026, 11, 23)
    tz, per_day, new_per_day = ROME, 3, 2
    # Ten cards learnt earlier, all of which fell due while the person was away for a week.
    memories: dict[str, Memory] = {}
    for i in range(10):
        learnt = review(None, True, None, wall(monday, "09:00", tz) - timedelta(days=9, hours=i))
        memories[f"c{i}"] = learnt
    assert all(memory.due < wall(monday, "09:00", tz) for memory in memories.values())
    backlog_order = sorted(memories, key=lambda card: (memories[card].due, card))
    unseen = [f"new{i}" for i in range(6)]

    picks: list[tuple[date, str]] = []
    first_seen: list[tuple[date, str]] = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        new_today = 0
        for slot in day_slots(day, tz, Shift(EVERY_DAY, time(9), time(17)), QUIET, per_day, spread_key=9):
            due = [(card, memory.due) for card, memory in memories.items()]
            card = choose_card(due, [c for c in unseen if c not in memories], new_today, new_per_day, slot.at)
            if card is None:
                continue
            ready = [at for _, at in due if at <= slot.at]
            if card in memories:
                assert memories[card].due == min(ready)  # the most overdue one
            else:
                assert not ready
                new_today += 1
                first_seen.append((day, card))
            memories[card] = review(memories.get(card), True, None, slot.at)
            picks.append((day, card))
    per_day_count = Counter(day for day, _ in picks)
    assert max(per_day_count.values()) <= per_day
    # The backlog goes first, in order of how overdue each card was, three a day, no new card until it is done.
    assert [card for _, card in picks[:10]] == backlog_order
    assert [day for day, _ in picks[:10]] == [monday + timedelta(days=i // 3) for i in range(10)]
    assert all(not card.startswith("new") for _, card in picks[:10])
    assert first_seen and first_seen[0][0] >= picks[9][0]
    assert max(Counter(day for day, _ in first_seen).values()) <= new_per_day


def test_practice_pick_due_then_weakest_then_unseen() -> None:
    strong = review(None, True, "sure", NOW - timedelta(days=2))
    weak = review(None, True, "guessed", NOW - timedelta(hours=20))
    overdue = review(None, False, None, NOW - timedelta(days=2))
    more_overdue = review(None, False, None, NOW - timedelta(days=3))
    assert retrievability(weak, NOW) < retrievability(strong, NOW)
    seen = {"strong": strong, "weak": weak, "overdue": overdue, "more": more_overdue}
    due = [(card, memory.due) for card, memory in seen.items()]
    weakness = {card: retrievability(memory, NOW) for card, memory in seen.items()}

    def pick(exclude: set[str], unseen: tuple[str, ...] = ("n1",), weak_below: float = 1.0) -> str | None:
        return practice_pick(due, weakness, list(unseen), NOW, exclude=exclude, weak_below=weak_below)

    assert pick(set()) == "more"
    assert pick({"more"}) == "overdue"
    assert pick({"more", "overdue"}) == "weak"
    assert pick({"more", "overdue", "weak"}) == "strong"
    # With a threshold, strong cards give way to new ones, and come back once nothing new is left.
    assert pick({"more", "overdue", "weak"}, weak_below=0.5) == "n1"
    assert pick({"more", "overdue", "weak", "n1"}, weak_below=0.5) == "strong"
    assert pick({"more", "overdue", "weak"}, unseen=("weak", "n1"), weak_below=0.5) == "n1"  # seen is not new
    assert practice_pick([], {}, ["n1", "n2"], NOW, exclude={"n1"}) == "n2"
    assert practice_pick([], {}, [], NOW) is None
