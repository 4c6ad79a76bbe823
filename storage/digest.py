"""The weekly digest's figures, aggregated in SQL (GROUP BY), and the once-per-week claim.

Every query is bounded by (team_id, created_at) — the `ix_decisions_team_created` index — so one team-week
costs the same however many decisions the whole table holds. Only grouped rows come back to Python, never
one row per decision (the median reads one or two values with ORDER BY … OFFSET … LIMIT).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, column, func, inspect, literal, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.digest import (
    Day,
    Figures,
    Largest,
    OutcomeRow,
    PersonRow,
    Phrase,
    Reactions,
    Review,
    Totals,
    TrainingWeek,
    Week,
    median_offsets,
)
from storage.models import Decision, DigestSent, Team, TeamOversight, TrainingAnswer, User
from storage.types import UTCDateTime

REVIEWS = 10  # rules worth reviewing shown, most worked-around first
NOTES_PER_REVIEW = 3
LARGEST = 5
PHRASES = 5
RECIPIENT_ROLES = ("manager", "supervisor")  # of the team itself
OVERSEER_ROLES = ("manager", "supervisor", "admin")  # through team_oversight


class last_path_step(FunctionElement[str]):
    """The `step` of the last element of a decision's JSON path: the question the recommendation came from.

    JSON access differs per database, so each dialect gets its own spelling; both read the stored text.
    """

    type = String()
    inherit_cache = True
    name = "last_path_step"


@compiles(last_path_step, "sqlite")
def _last_step_sqlite(element: last_path_step, compiler: Any, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.clauses, **kw)}, '$[#-1].step')"


@compiles(last_path_step, "postgresql")
def _last_step_postgresql(element: last_path_step, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) -> -1 ->> 'step')"


@compiles(last_path_step)
def _last_step_other(element: last_path_step, compiler: Any, **kw: Any) -> str:
    return "''"  # another database: rules are grouped by playbook and recommended outcome only


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in_week(team_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col(Decision.team_id) == team_id, col(Decision.created_at) >= start, col(Decision.created_at) < end)


async def totals(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> Totals:
    where = _in_week(team_id, start, end)
    query = select(
        func.count(),
        _count_if(col(Decision.followed).is_(True)),
        _count_if(col(Decision.favours_customer).is_(True)),
        _count_if(col(Decision.disposition) == "escalated"),
        func.coalesce(func.sum(Decision.amount_minor), 0),
        _count_if(col(Decision.over_limit).is_(True)),
        _count_if(col(Decision.escalation) == "approved"),
        _count_if(col(Decision.on_timeout).is_(True)),
    ).where(where)
    row = (await session.exec(query)).one()  # type: ignore[call-overload]
    count = int(row[0])
    return Totals(count, int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]), int(row[6]),
                  int(row[7]), await median_seconds(session, where, count))


async def median_seconds(session: AsyncSession, where: ColumnElement[bool], count: int) -> float | None:
    """The median in SQL on any database: sort the team-week's values, read the middle one (or two)."""
    offset, limit = median_offsets(count)
    if not limit:
        return None
    query = (select(Decision.seconds_to_decide).where(where)
             .order_by(col(Decision.seconds_to_decide)).offset(offset).limit(limit))
    values = [float(v) for v in (await session.exec(query)).scalars().all()]  # type: ignore[call-overload]
    return sum(values) / len(values) if values else None


async def outcomes(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[OutcomeRow]:
    outcome = func.coalesce(Decision.taken_outcome, "").label("outcome")
    query = (select(Decision.playbook_id, outcome, func.count(), func.coalesce(func.sum(Decision.amount_minor), 0))
             .where(_in_week(team_id, start, end))
             .group_by(Decision.playbook_id, outcome)
             .order_by(col(Decision.playbook_id), func.count().desc(), outcome))
    return [OutcomeRow(p, o, int(n), int(s)) for p, o, n, s in (await session.exec(query)).all()]


async def largest(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[Largest]:
    query = (select(Decision.amount_minor, User.name, Decision.playbook_id,
                    func.coalesce(Decision.taken_outcome, Decision.taken_text, ""), Decision.note,
                    Decision.created_at, Decision.over_limit)
             .join(User, col(User.id) == Decision.user_id)
             .where(_in_week(team_id, start, end), col(Decision.amount_minor) > 0)
             .order_by(col(Decision.amount_minor).desc(), col(Decision.id)).limit(LARGEST))
    return [Largest(int(a), n or "", p, o or "", note, at, bool(over))
            for a, n, p, o, note, at, over in (await session.exec(query)).all()]


async def reviews(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[Review]:
    """Rules the floor works around: decisions not as recommended (other or escalated), grouped by playbook, the
    step the recommendation came from and that recommendation, most frequent first, with up to three notes each
    (the latest, chosen in SQL with ROW_NUMBER per group)."""
    deviated = and_(_in_week(team_id, start, end), col(Decision.disposition) != "followed")
    step = last_path_step(Decision.path)
    recommended = func.coalesce(Decision.recommended_outcome, "")
    base = (select(Decision.playbook_id.label("playbook_id"),  # type: ignore[attr-defined]
                   func.coalesce(step, "").label("step"), recommended.label("recommended"),
                   Decision.disposition.label("disposition"), Decision.note.label("note"),  # type: ignore[attr-defined]
                   Decision.created_at.label("created_at"), Decision.id.label("id"))  # type: ignore[union-attr]
            .where(deviated).subquery())
    key = (base.c.playbook_id, base.c.step, base.c.recommended)
    groups = (select(*key, func.count(), _count_if(base.c.disposition == "other"),
                     _count_if(base.c.disposition == "escalated"))
              .group_by(*key).order_by(func.count().desc(), *key).limit(REVIEWS))
    found = {(p, s, r): Review(p, s, r, int(n), int(o), int(e))
             for p, s, r, n, o, e in (await session.exec(groups)).all()}  # type: ignore[call-overload]
    if not found:
        return []
    rank = func.row_number().over(partition_by=key, order_by=(base.c.created_at.desc(), base.c.id.desc()))
    noted = (select(*key, base.c.note, rank.label("rank"))
             .where(base.c.note.is_not(None), base.c.note != "").subquery())
    notes = (select(noted.c.playbook_id, noted.c.step, noted.c.recommended, noted.c.note)
             .where(noted.c.rank <= NOTES_PER_REVIEW)
             .order_by(noted.c.playbook_id, noted.c.step, noted.c.recommended, noted.c.rank))
    for p, s, r, note in (await session.exec(notes)).all():  # type: ignore[call-overload]
        review = found.get((p, s, r))
        if review is not None:
            review.notes.append(note)
    return list(found.values())


async def reactions(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[Reactions]:
    query = (select(Decision.playbook_id, Decision.reaction, func.count())
             .where(_in_week(team_id, start, end), col(Decision.reaction).is_not(None))
             .group_by(Decision.playbook_id, Decision.reaction))
    table_: dict[str, dict[str, int]] = {}
    for playbook_id, reaction, count in (await session.exec(query)).all():
        table_.setdefault(playbook_id, {})[reaction or ""] = int(count)
    return [Reactions(p, r.get("happy", 0), r.get("neutral", 0), r.get("unhappy", 0))
            for p, r in sorted(table_.items())]


async def people(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[PersonRow]:
    query = (select(User.name, func.count(), _count_if(col(Decision.over_limit).is_(True)))
             .join(User, col(User.id) == Decision.user_id)
             .where(_in_week(team_id, start, end))
             .group_by(Decision.user_id, User.name)
             .order_by(func.count().desc(), col(User.name)))
    return [PersonRow(name or "", int(n), int(o)) for name, n, o in (await session.exec(query)).all()]


async def days(session: AsyncSession, team_id: int, week: Week) -> list[Day]:
    """Per local day: decisions by disposition, money spent, over-limit count. The day is a CASE over the seven
    local midnights (in UTC), so DST weeks are right on every database without time zone functions."""
    starts = week.day_starts()
    day = case(*[(col(Decision.created_at) < starts[i + 1], literal(i)) for i in range(6)], else_=literal(6))
    rows = (select(day.label("day"), Decision.disposition.label("disposition"),  # type: ignore[attr-defined]
                   Decision.amount_minor.label("amount"), Decision.over_limit.label("over"))  # type: ignore[attr-defined]
            .where(_in_week(team_id, week.start, week.end)).subquery())
    query = (select(rows.c.day, rows.c.disposition, func.count(), func.coalesce(func.sum(rows.c.amount), 0),
                    _count_if(rows.c.over.is_(True)))
             .group_by(rows.c.day, rows.c.disposition))
    totals_: dict[int, dict[str, int]] = {i: {} for i in range(7)}
    for index, disposition, count, spent, over in (await session.exec(query)).all():  # type: ignore[call-overload]
        cell = totals_[int(index)]
        kind = disposition if disposition in ("followed", "escalated") else "other"
        cell[kind] = cell.get(kind, 0) + int(count)
        cell["spent"] = cell.get("spent", 0) + int(spent)
        cell["over"] = cell.get("over", 0) + int(over)
    return [Day(d, totals_[i].get("followed", 0), totals_[i].get("other", 0), totals_[i].get("escalated", 0),
                totals_[i].get("spent", 0), totals_[i].get("over", 0)) for i, d in enumerate(week.days())]


UNMATCHED_TABLE = "unmatched_phrases"


async def unmatched(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> list[Phrase] | None:
    """Top phrases no playbook covered, when this database has the unmatched phrases table; else None."""
    connection = await session.connection()
    if not await connection.run_sync(lambda sync: inspect(sync).has_table(UNMATCHED_TABLE)):
        return None
    phrases = table(UNMATCHED_TABLE, column("text", String()), column("team_id"),
                    column("created_at", UTCDateTime()))
    text = func.lower(phrases.c.text).label("text")
    query = (select(text, func.count())
             .where(phrases.c.team_id == team_id, phrases.c.created_at >= start, phrases.c.created_at < end)
             .group_by(text).order_by(func.count().desc(), text).limit(PHRASES))
    return [Phrase(t, int(n)) for t, n in (await session.exec(query)).all()]  # type: ignore[call-overload]


async def figures(session: AsyncSession, team: Team, week: Week, currency: str) -> Figures:
    assert team.id is not None
    tid = team.id
    previous = week.previous()
    return Figures(
        team=team.name, week=week, currency=currency,
        totals=await totals(session, tid, week.start, week.end),
        previous=await totals(session, tid, previous.start, previous.end),
        outcomes=await outcomes(session, tid, week.start, week.end),
        largest=await largest(session, tid, week.start, week.end),
        reviews=await reviews(session, tid, week.start, week.end),
        reactions=await reactions(session, tid, week.start, week.end),
        people=await people(session, tid, week.start, week.end),
        days=await days(session, tid, week),
        unmatched=await unmatched(session, tid, week.start, week.end),
        training=await training(session, tid, week.start, week.end),
    )


WEAKEST_PLAYBOOKS = 3
MIN_ANSWERS_FOR_WEAKEST = 3  # fewer answers say nothing about a playbook


async def training(session: AsyncSession, team_id: int, start: datetime, end: datetime) -> TrainingWeek:
    """Answers to training cards by the team's people in the week, grouped in SQL."""
    bounds = (TrainingAnswer.team_id == team_id, TrainingAnswer.answered_at >= start, TrainingAnswer.answered_at < end)
    right = func.sum(case((col(TrainingAnswer.correct), 1), else_=0))
    answered, correct, trained = (await session.execute(
        select(func.count(), right, func.count(func.distinct(TrainingAnswer.user_id))).where(*bounds))).one()
    members = (await session.execute(select(func.count()).select_from(User).where(
        User.team_id == team_id, col(User.active)))).scalar_one()
    by_playbook = await session.execute(
        select(TrainingAnswer.playbook_id, right.label("right"), func.count().label("answered"))
        .where(*bounds, col(TrainingAnswer.playbook_id).is_not(None))
        .group_by(TrainingAnswer.playbook_id).having(func.count() >= MIN_ANSWERS_FOR_WEAKEST)
        .order_by((right * 1.0 / func.count()).asc(), func.count().desc(), TrainingAnswer.playbook_id)
        .limit(WEAKEST_PLAYBOOKS))
    weakest = [(row[0], int(row[1] or 0), int(row[2])) for row in by_playbook]
    return TrainingWeek(int(answered), int(correct or 0), int(trained), int(members), weakest)


# ---- who gets it, and the once-per-week claim ----------------------------------------------------------------


async def team_by_name(session: AsyncSession, name: str) -> Team | None:
    return (await session.exec(select(Team).where(Team.name == name))).scalars().first()  # type: ignore[call-overload]


async def team_by_id(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def all_teams(session: AsyncSession) -> list[Team]:
    return list((await session.exec(select(Team).order_by(col(Team.id)))).scalars().all())  # type: ignore[call-overload]


async def recipients(session: AsyncSession, team_id: int) -> list[User]:
    """Active managers and supervisors of the team, plus the managers, supervisors and admins overseeing it."""
    overseers = select(TeamOversight.user_id).where(TeamOversight.team_id == team_id)
    query = (select(User).where(
        col(User.active).is_(True),
        or_(and_(col(User.team_id) == team_id, col(User.role).in_(RECIPIENT_ROLES)),
            and_(col(User.id).in_(overseers), col(User.role).in_(OVERSEER_ROLES))))
        .order_by(col(User.id)))
    return list((await session.exec(query)).scalars().all())  # type: ignore[call-overload]


async def claim(session: AsyncSession, team_id: int, week: str) -> bool:
    """Insert the (team, week) row: True for the one caller that may send; False when it was claimed before."""
    session.add(DigestSent(team_id=team_id, week=week))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def record_delivery(session: AsyncSession, team_id: int, week: str, recipients: int, blocked: int) -> None:
    row = await session.get(DigestSent, (team_id, week))
    if row is not None:
        row.recipients, row.blocked = recipients, blocked
        session.add(row)
        await session.commit()
