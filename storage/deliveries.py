"""Training deliveries: the queue the fan-out (bot/fanout.py) sends from, on SQLite and PostgreSQL.

A row's life: pending → sending (claimed, right before the request) → sent | blocked | failed | cancelled.
A claim is a guarded UPDATE (… WHERE id IN <the oldest claimable ids> AND status = 'pending', or for a stale
claim AND status = 'sending' AND claimed_at < stale_before), so of two processes that read the same row only
one gets it. A row left 'sending' by a process that died is claimed again once its claim is older than
`stale_before`: delivery is at least once, and a duplicate is only possible for a request that was in flight
when its process died (at most `senders` rows per crash; bench/fanout.py measures how often).

People who are paused (TrainingProfile.paused_at) or unreachable (unreachable_since: they blocked the bot) are
skipped by `claim`: their rows stay pending and go when they come back (`set_reachable`, or unpausing). The
code that schedules cards decides whether old rows are still worth sending then (it may cancel them).

Everything here is SQLAlchemy Core on short transactions, one statement where it can be: the fan-out claims
and marks about 50 rows a second through SQLite's single connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import TrainingDelivery, TrainingProfile
from storage.types import utcnow

DELIVERIES = TrainingDelivery.__table__  # type: ignore[attr-defined]
PROFILES = TrainingProfile.__table__  # type: ignore[attr-defined]
D = DELIVERIES.c
P = PROFILES.c

STATUSES = ("pending", "sending", "sent", "blocked", "failed", "cancelled")
# Rows per INSERT statement: 9 parameters each stays far below SQLite's (32,766) and PostgreSQL's (65,535) limits.
INSERT_BATCH = 1000
ERROR_MAX = 200  # the column's length


@dataclass(frozen=True)
class NewDelivery:
    user_id: int  # users.id
    card_id: str
    slot: str  # "2026-11-26#1", "push:<id>", "train:<update id>"
    kind: str  # scheduled | push | practice
    chat_id: int  # the person's Telegram chat (their Telegram id for a private chat)
    new_card: bool = False  # never seen by the person before (counts against training.new_per_day)


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed row: what the sender needs, and the claim it holds (to renew or release it safely)."""

    id: int
    user_id: int
    card_id: str
    chat_id: int
    slot: str
    kind: str
    claimed_at: datetime | None = None


def _insert_for(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def insert_deliveries(db_or_session: Database | AsyncSession, rows: Iterable[NewDelivery],
                            now: datetime | None = None) -> int:
    """Insert rows, ignoring those already there (same user, card and slot); return how many are new.

    With a Database the rows are committed here; with a session they join the caller's transaction (commit it,
    then wake the fan-out). One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id per 1,000 rows.
    """
    at = now or utcnow()
    values = [{"user_id": r.user_id, "card_id": r.card_id, "slot": r.slot, "kind": r.kind, "chat_id": r.chat_id,
               "new_card": r.new_card, "status": "pending", "attempts": 0, "created_at": at} for r in rows]
    if not values:
        return 0
    if isinstance(db_or_session, Database):
        async with db_or_session.begin() as conn:
            return await _insert(conn, values)
    connection = await db_or_session.connection()
    return await _insert(connection, values)


async def _insert(conn: AsyncConnection, values: list[dict[str, Any]]) -> int:
    insert = _insert_for(conn.dialect.name)
    new = 0
    for start in range(0, len(values), INSERT_BATCH):
        statement = (insert(DELIVERIES).values(values[start:start + INSERT_BATCH])
                     .on_conflict_do_nothing(index_elements=["user_id", "card_id", "slot"])
                     .returning(D.id))
        new += len((await conn.execute(statement)).all())
    return new


def _reachable(rows: Any = DELIVERIES) -> Any:
    """Rows whose person is neither paused nor unreachable (no profile row means neither)."""
    return ~select(P.user_id).where(P.user_id == rows.c.user_id,
                                    or_(P.paused_at.is_not(None), P.unreachable_since.is_not(None))).exists()


def _pending(rows: Any = DELIVERIES) -> Any:
    return rows.c.status == "pending"


def _stale(stale_before: datetime, rows: Any = DELIVERIES) -> Any:
    return and_(rows.c.status == "sending", rows.c.claimed_at < stale_before)


_JOB_COLUMNS = (D.id, D.user_id, D.card_id, D.chat_id, D.slot, D.kind)


async def claim(db: Database, now: datetime, stale_before: datetime | None, limit: int = 1) -> list[DeliveryJob]:
    """Take up to `limit` rows to send: first claims left by dead processes (claimed before stale_before; None
    skips them), then pending rows, oldest first. Each becomes 'sending' with claimed_at=now and attempts+1.

    One guarded UPDATE per kind: WITH chosen AS (SELECT id … ORDER BY id LIMIT n) UPDATE … WHERE id IN chosen
    AND <what chosen read> RETURNING …. SQLite runs it under its one write lock; on PostgreSQL `chosen` skips
    rows another transaction is claiming (FOR UPDATE SKIP LOCKED) and a row claimed and committed meanwhile
    fails the outer condition when rechecked. Either way two processes never claim the same row.
    """
    claimed: list[DeliveryJob] = []
    async with db.begin() as conn:
        if stale_before is not None:
            claimed += await _claim_where(conn, lambda rows: _stale(stale_before, rows), now, limit)
        if len(claimed) < limit:
            claimed += await _claim_where(conn, _pending, now, limit - len(claimed))
    return claimed


async def _claim_where(conn: AsyncConnection, condition: Any, now: datetime, limit: int) -> list[DeliveryJob]:
    # The candidates read an alias: a bare reference to the table would be correlated to the UPDATE's own row.
    candidate = DELIVERIES.alias("candidate")
    query = (select(candidate.c.id).where(condition(candidate), _reachable(candidate))
             .order_by(candidate.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    # MATERIALIZED: chosen once. As a plain IN (subquery) PostgreSQL may rescan it per row, and a rescan skips
    # the rows this very statement just locked, so it would claim far more than `limit`.
    chosen = query.cte("chosen").prefix_with("MATERIALIZED")
    statement = (update(DELIVERIES).where(D.id.in_(select(chosen.c.id)), condition(DELIVERIES))
                 .values(status="sending", claimed_at=now, attempts=D.attempts + 1)
                 .returning(*_JOB_COLUMNS))
    rows = sorted((await conn.execute(statement)).all(), key=lambda row: row.id)
    return [DeliveryJob(row.id, row.user_id, row.card_id, row.chat_id, row.slot, row.kind, now) for row in rows]


async def renew(db: Database, job: DeliveryJob, now: datetime) -> DeliveryJob | None:
    """Refresh a claim held for long (a long flood-control pause), so no other process takes it as stale.
    None: the claim was lost (another process took the row), so this one must not send it."""
    async with db.begin() as conn:
        result = await conn.execute(update(DELIVERIES).where(D.id == job.id, D.status == "sending",
                                                             D.claimed_at == job.claimed_at).values(claimed_at=now))
    if result.rowcount != 1:
        return None
    return DeliveryJob(job.id, job.user_id, job.card_id, job.chat_id, job.slot, job.kind, now)


async def _set(db: Database, delivery_id: int, *guard: Any, **values: Any) -> bool:
    async with db.begin() as conn:
        result = await conn.execute(update(DELIVERIES).where(D.id == delivery_id, *guard).values(**values))
    return result.rowcount == 1


async def mark_sent(db: Database, delivery_id: int, message_id: int, at: datetime) -> None:
    # Unconditional: whatever happened to the claim meanwhile, the message is in the chat now.
    await _set(db, delivery_id, status="sent", sent_at=at, message_id=message_id, error=None)


async def mark_blocked(db: Database, delivery_id: int, user_id: int, at: datetime) -> None:
    """403 (blocked the bot, account deleted): this row is done, and the person is unreachable from `at`
    (kept if already set) until `set_reachable`; their other rows wait."""
    insert = _insert_for(db.engine.dialect.name)
    upsert = insert(PROFILES).values(user_id=user_id, unreachable_since=at)
    upsert = upsert.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"unreachable_since": func.coalesce(P.unreachable_since, upsert.excluded.unreachable_since)})
    async with db.begin() as conn:
        await conn.execute(update(DELIVERIES).where(D.id == delivery_id).values(status="blocked", error="forbidden"))
        await conn.execute(upsert)


async def mark_failed(db: Database, delivery_id: int, error: str) -> None:
    """Given up on (a bad request, or retries exhausted); `error` is Telegram's description, never the text."""
    await _set(db, delivery_id, status="failed", error=error[:ERROR_MAX])


async def mark_cancelled(db: Database, delivery_id: int, reason: str | None = None) -> None:
    """Not to be sent (its card is gone or retired)."""
    await _set(db, delivery_id, status="cancelled", error=reason[:ERROR_MAX] if reason else None)


async def release(db: Database, delivery_id: int, claimed_at: datetime | None = None) -> bool:
    """Back to pending, unsent (on shutdown). With `claimed_at`, only if that claim is still ours."""
    guard = [D.status == "sending"]
    if claimed_at is not None:
        guard.append(D.claimed_at == claimed_at)
    return await _set(db, delivery_id, *guard, status="pending")


async def counts(db: Database) -> dict[str, int]:
    """Rows per status; every status is present (0 when none)."""
    async with db.connect() as conn:
        rows = (await conn.execute(select(D.status, func.count()).group_by(D.status))).all()
    found = {status: 0 for status in STATUSES}
    found.update({status: int(n) for status, n in rows})
    return found


async def set_reachable(db: Database, user_id: int) -> None:
    """The person wrote to the bot again (so they unblocked it): their waiting rows may go."""
    async with db.begin() as conn:
        await conn.execute(update(PROFILES).where(P.user_id == user_id).values(unreachable_since=None))


async def pending_exists(db: Database, stale_before: datetime | None = None) -> bool:
    """Whether `claim` would find something: a pending row of a person neither paused nor unreachable (or,
    with stale_before, a claim older than that)."""
    claimable = _pending() if stale_before is None else or_(_pending(), _stale(stale_before))
    async with db.connect() as conn:
        found = (await conn.execute(select(D.id).where(claimable, _reachable()).limit(1))).first()
    return found is not None


async def statuses(db: Database, ids: Sequence[int]) -> dict[int, str]:
    """Status by row id (tests, benchmarks)."""
    async with db.connect() as conn:
        rows = (await conn.execute(select(D.id, D.status).where(D.id.in_(list(ids))))).all()
    return {int(i): s for i, s in rows}
