"""Demo data: realistic decisions over many teams and weeks, from the shipped playbooks (`moments seed-demo`,
bench/digest.py).

Every decision walks a real answered path of a real playbook to the outcome it recommends (bot.core.diff's
`outcome_paths`); ~75 % follow it, ~15 % do something else (another real outcome, or a few words of their own) and
~10 % escalate. Money only on money outcomes, against the person's real limit (playbook limits over the configured
defaults, as in the bot), some of it over the limit and then approved by a lead or decided on timeout.

Speed: rows are plain dicts inserted with Core `executemany` in batches on the *synchronous* driver of the same
database (bot.scheduler.sync_url: pysqlite, psycopg 3), one transaction per batch. There is nothing to await
while seeding, and the synchronous path skips the event loop and greenlet hand-offs per batch; no ORM objects.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, insert, select

from bot.core.diff import outcome_paths
from bot.core.money import currency_decimals, limit_for, to_minor
from bot.core.playbook import Outcome, Playbook
from bot.scheduler import sync_url
from storage.models import Decision, Team, User

BATCH = 20_000
PEOPLE_PER_TEAM = 20  # 1 manager, 1 supervisor, 3 leads, 15 staff
ROLES = ("manager", "supervisor", "lead", "lead", "lead") + ("staff",) * 15
TELEGRAM_BASE = 8_000_000_000  # seeded people: 8,000,000,000 + team number × 100 + k, far from real ids
SITES = (("rome", "Europe/Rome", "EUR"), ("paris", "Europe/Paris", "EUR"),
         ("moscow", "Europe/Moscow", "RUB"), ("london", "Europe/London", "GBP"))
NAMES = ("Anna", "Luca", "Marie", "Pierre", "Olga", "Ivan", "Emma", "James", "Giulia", "Marco", "Chloé", "Hugo",
         "Daria", "Pavel", "Sophie", "Oliver", "Sara", "Paolo", "Léa", "Nikita", "Amelia", "Harry")
WEEKDAY_WEIGHTS = (1.0, 0.9, 0.9, 1.0, 1.2, 1.4, 0.7)  # Monday first: busier towards the weekend
OTHER_TEXTS = ("Gave a coffee voucher and apologised", "Called the manager of the other shop",
               "Offered a free delivery next time", "Rebooked by phone")
NOTES = ("customer was calm, asked nicely", "regular, third time this month", "very upset, raised voice",
         "rule does not fit this case", "no stock to replace it", "<b>angry</b> & threatened a review",
         "lead said it was fine", "system was down, did it by hand")
ESCALATIONS = ("approved", "approved", "approved", "declined", "coming", "timeout")


class AlreadySeeded(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"the database already holds {count:,} decisions")
        self.count = count


@dataclass(frozen=True)
class Route:
    path: list[dict[str, object]]
    outcome: str


@dataclass(frozen=True)
class Source:
    """One shipped playbook, as the seeder needs it."""

    id: str
    version: str
    routes: tuple[Route, ...]
    outcomes: Mapping[str, Outcome]
    limits: Mapping[str, Decimal]  # major units per role: playbook limits over the configured defaults
    on_timeout: str | None


def sources(playbooks: Sequence[Playbook], defaults: Mapping[str, Decimal]) -> list[Source]:
    found = []
    for playbook in sorted(playbooks, key=lambda p: p.id):
        routes = tuple(
            Route([{"step": step_id, "option": index, "answer": playbook.steps[step_id].options[index].label.get("en")}
                   for step_id, index in path], outcome)
            for path, outcome in outcome_paths(playbook).items() if outcome in playbook.outcomes)
        if routes:
            found.append(Source(playbook.id, playbook.version, routes, playbook.outcomes,
                                {role: limit_for(playbook, role, defaults) for role in set(ROLES)},
                                playbook.on_timeout))
    return found


@dataclass(frozen=True)
class SeedReport:
    decisions: int
    teams: int
    people: int  # people created now
    total: int  # decisions in the database afterwards
    seconds: float


@dataclass(frozen=True)
class _Person:
    id: int
    role: str


@dataclass(frozen=True)
class _Team:
    id: int
    zone: ZoneInfo
    currency: str
    decimals: int
    people: tuple[_Person, ...]
    leads: tuple[int, ...]


def team_name(number: int) -> str:
    return f"{SITES[(number - 1) % len(SITES)][0]}-{number:03d}"


def last_monday(today: date | None = None) -> date:
    """The Monday that starts the current week: seeded weeks end just before it (the last complete week)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def count_decisions(url: str) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Decision.__table__)).scalar_one())  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def _engine(url: str) -> Any:
    target = sync_url(url)
    if target is None:
        raise ValueError("seeding needs a database that outlives the command: a SQLite file or PostgreSQL, "
                         "not an in-memory SQLite")
    return create_engine(target)


def seed(url: str, playbooks: Sequence[Playbook], decisions: int, *, defaults: Mapping[str, Decimal],
         teams: int = 10, weeks: int = 12, seed: int = 1, append: bool = False, first_team: int = 1,
         end: date | None = None, progress: Callable[[int, int], None] | None = None) -> SeedReport:
    """Insert `decisions` decisions over teams first_team … first_team + teams - 1 (created with their people when
    missing; shared round-robin, so every team gets the same number) and the `weeks` weeks before `end` (a Monday;
    default: this week's), each in its team's own time zone. The tables must exist. AlreadySeeded if the database
    holds decisions and not `append`. `progress(done, total)` after every batch."""
    if decisions < 0 or teams < 1 or weeks < 1 or first_team < 1:
        raise ValueError("decisions ≥ 0, teams ≥ 1, weeks ≥ 1 and first team ≥ 1")
    found = sources(playbooks, defaults)
    if not found:
        raise ValueError("no playbook with a path to an outcome to seed from")
    began = time.perf_counter()
    rng = random.Random(seed)
    first_day = (end or last_monday()) - timedelta(weeks=weeks)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            existing = int(conn.execute(select(func.count()).select_from(Decision.__table__)).scalar_one())  # type: ignore[attr-defined]
            if existing and not append:
                raise AlreadySeeded(existing)
            offset = int(conn.execute(select(func.coalesce(func.max(Decision.id), 0))).scalar_one())
            squads, created = _ensure_teams(conn, range(first_team, first_team + teams), first_day)
        table = Decision.__table__  # type: ignore[attr-defined]
        done = 0
        while done < decisions:
            size = min(BATCH, decisions - done)
            rows = [_decision(rng, found, squads[(done + i) % teams], first_day, weeks, offset + done + i)
                    for i in range(size)]
            with engine.begin() as conn:
                conn.execute(insert(table), rows)
            done += size
            if progress is not None:
                progress(done, decisions)
    finally:
        engine.dispose()
    return SeedReport(decisions, teams, created, existing + decisions, time.perf_counter() - began)


def _ensure_teams(conn: Any, numbers: range, created_at: date) -> tuple[list[_Team], int]:
    teams_table, users_table = Team.__table__, User.__table__  # type: ignore[attr-defined]
    names = {team_name(n): n for n in numbers}
    at = datetime.combine(created_at - timedelta(days=7), datetime.min.time(), UTC)
    known = dict(conn.execute(select(Team.name, Team.id).where(Team.name.in_(names))).all())  # type: ignore[attr-defined]
    missing = [{"name": name, "timezone": SITES[(n - 1) % len(SITES)][1], "currency": SITES[(n - 1) % len(SITES)][2],
                "limits": {}, "created_at": at} for name, n in names.items() if name not in known]
    if missing:
        conn.execute(insert(teams_table), missing)
        known = dict(conn.execute(select(Team.name, Team.id).where(Team.name.in_(names))).all())  # type: ignore[attr-defined]
    ids = {TELEGRAM_BASE + n * 100 + k: (n, k) for n in numbers for k in range(PEOPLE_PER_TEAM)}
    have = set(conn.execute(select(User.telegram_id).where(User.telegram_id.in_(ids))).scalars())  # type: ignore[attr-defined]
    new_people = [{"telegram_id": tid, "name": f"{NAMES[(n * 7 + k) % len(NAMES)]} {chr(65 + k)}.",
                   "role": ROLES[k], "team_id": known[team_name(n)], "language": "en", "active": True,
                   "on_duty": ROLES[k] == "lead", "shift": {}, "created_at": at}
                  for tid, (n, k) in ids.items() if tid not in have]
    if new_people:
        conn.execute(insert(users_table), new_people)
    by_team: dict[int, list[_Person]] = {}
    for user_id, team_id, role in conn.execute(select(User.id, User.team_id, User.role)
                                               .where(User.telegram_id.in_(ids))  # type: ignore[attr-defined]
                                               .order_by(User.telegram_id)).all():
        by_team.setdefault(team_id, []).append(_Person(user_id, role))
    squads = []
    for n in numbers:
        _, zone, currency = SITES[(n - 1) % len(SITES)]
        people = tuple(by_team[known[team_name(n)]])
        squads.append(_Team(known[team_name(n)], ZoneInfo(zone), currency, currency_decimals(currency),
                            people, tuple(p.id for p in people if p.role == "lead")))
    return squads, len(new_people)


def _decision(rng: random.Random, found: list[Source], team: _Team, first_day: date, weeks: int,
              number: int) -> dict[str, Any]:
    source = rng.choice(found)
    route = rng.choice(source.routes)
    # Staff decide most; leads and the odd manager too.
    person = team.people[rng.randrange(5, PEOPLE_PER_TEAM)] if rng.random() < 0.85 else rng.choice(team.people)
    draw = rng.random()
    taken: str | None = route.outcome
    taken_text = None
    escalation = lead = None
    if draw < 0.75:
        disposition = "followed"
    elif draw < 0.90:
        disposition = "other"
        others = [o for o in source.outcomes if o != route.outcome]
        if others and rng.random() < 0.85:
            taken = rng.choice(others)
        else:
            taken, taken_text = None, rng.choice(OTHER_TEXTS)
    else:
        disposition = "escalated"
        escalation = rng.choice(ESCALATIONS)
        lead = rng.choice(team.leads)
        if escalation == "timeout" and source.on_timeout:
            taken = source.on_timeout
        elif escalation == "approved":
            taken = rng.choice(list(source.outcomes))
        else:
            taken = None
    outcome = source.outcomes.get(taken) if taken else None
    limit_minor = to_minor(source.limits[person.role], team.decimals)
    amount = None
    if outcome is not None and outcome.money:
        scale = max(limit_minor, 10 ** team.decimals * 20)
        if rng.random() < 0.08:  # over the limit: a lead approved it, or nobody answered in time
            amount = limit_minor + rng.randint(1, scale)
        else:
            amount = max(1, int(scale * rng.random() ** 1.6))
            amount = min(amount, limit_minor) if limit_minor else amount
        amount -= amount % (10 ** team.decimals // 2 or 1)  # mostly round prices, some halves
        amount = max(amount, 1)
    over = amount is not None and amount > limit_minor
    if over and disposition != "escalated":
        escalation = "approved" if rng.random() < 0.8 else "timeout"
        lead = None if escalation == "timeout" else rng.choice(team.leads)
    favours = outcome.favours_customer if outcome is not None else None
    reaction = None
    if rng.random() < 0.7:
        unhappy = 0.1 if favours else 0.35
        pick = rng.random()
        reaction = "unhappy" if pick < unhappy else ("neutral" if pick < unhappy + 0.3 else "happy")
    note = None
    if rng.random() < (0.04 if disposition == "followed" else 0.4):
        note = rng.choice(NOTES)
    week = rng.randrange(weeks)
    day = rng.choices(range(7), WEEKDAY_WEIGHTS)[0]
    local = datetime.combine(first_day + timedelta(weeks=week, days=day), datetime.min.time(), team.zone)
    local += timedelta(seconds=rng.randrange(8 * 3600, 21 * 3600))  # aware + timedelta: wall clock, DST kept
    return {
        "flow_token": f"s{number:x}", "user_id": person.id, "team_id": team.id,
        "created_at": local.astimezone(UTC), "playbook_id": source.id, "playbook_version": source.version,
        "path": route.path, "recommended_outcome": route.outcome, "taken_outcome": taken, "taken_text": taken_text,
        "disposition": disposition, "followed": disposition == "followed", "favours_customer": favours,
        "amount_minor": amount, "currency": team.currency, "limit_minor": limit_minor, "over_limit": over,
        "note": note, "reaction": reaction,
        "seconds_to_decide": round(min(900.0, 4 + rng.lognormvariate(3.6, 0.75)), 1),  # median ≈ 40 s, long tail
        "backs": 1 if rng.random() < 0.1 else 0,
        "escalation": escalation, "lead_user_id": lead, "on_timeout": escalation == "timeout",
    }
