"""Timers that survive restarts: APScheduler 3 on the bot's asyncio loop, jobs kept in the application database.

A job names its function by import path text ("bot.jobs:escalation_timeout") and takes plain keyword
arguments, so the job store holds no pickled code and a restarted process finds every job again. A job
that fell due while the bot was down still runs, once, at the next start (misfire grace of a day,
coalesce). Jobs reach the running application through `context()`, which `start()` sets.

The API is deliberately small and generic: start, schedule_at, schedule_every, schedule_daily, schedule_weekly,
cancel, shutdown.

Several processes on one database: APScheduler 3 has no locking; every running scheduler takes every due
job from a shared store, so two `moments run` processes would each send the same digest. Of the two ways
out, a database claim per run or a single process that runs the jobs, this takes the second:
`moments scheduler` runs the jobs (`start(..., wakeup_seconds=...)`), and `moments run --no-scheduler`
processes start the scheduler paused (`start(..., paused=True)`): their `schedule_at` / `cancel` still write
the shared store, but they never run a job. A claim per run was set aside because APScheduler decides a
job's next run and removes one-off jobs in each process separately (`_process_jobs`: a process that lost
the claim would still update or delete the row, racing the winner's writes), so guarding it would mean
patching its internals. The running scheduler only re-reads the store when it wakes for a job it knows
of, so it also wakes every few seconds to see jobs the other processes added.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 24 * 3600  # a timer due while the bot was down runs at start if it is at most this late
JOBS_TABLE = "apscheduler_jobs"

_scheduler: AsyncIOScheduler | None = None
_context: Any = None
_waker: asyncio.Task[None] | None = None


def sync_url(url: str) -> str | None:
    """The synchronous SQLAlchemy URL APScheduler's job store needs, from the configured one.

    sqlite:///path stays (pysqlite); postgresql:// (any driver) becomes postgresql+psycopg:// (psycopg 3 also
    works synchronously). None for an in-memory SQLite: there is nothing to survive, so jobs stay in memory.
    """
    parsed = make_url(url)
    backend = parsed.drivername.split("+")[0]
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"no job store for database {backend!r}")


def start(context: Any, db_url: str, *, paused: bool = False, wakeup_seconds: float | None = None) -> AsyncIOScheduler:
    """Start the scheduler on the running loop; `context` is what jobs get from `context()`.

    `paused`: jobs are written to and removed from the store, never run here (another process runs them).
    `wakeup_seconds`: look at the store that often, for jobs other processes added or moved earlier.
    """
    global _scheduler, _context, _waker
    if _scheduler is not None:
        raise RuntimeError("the scheduler is already running")
    url = sync_url(db_url)
    if url is None:
        store: Any = MemoryJobStore()
    else:
        is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"connect_args": {"timeout": 10}} if is_sqlite else {"pool_pre_ping": True}
        store = SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE, engine_options=options)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(
        jobstores={"default": store}, timezone=UTC,
        job_defaults={"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1})
    _context = context
    scheduler.start(paused=paused)
    _scheduler = scheduler
    if wakeup_seconds is not None and not paused:
        _waker = asyncio.create_task(_wake_every(scheduler, wakeup_seconds))
    return scheduler


async def _wake_every(scheduler: AsyncIOScheduler, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        scheduler.wakeup()


def is_paused() -> bool:
    return _scheduler is not None and _scheduler.state == STATE_PAUSED


def context() -> Any:
    """What `start()` was given (the running application), or None when the scheduler is not running."""
    return _context


def is_running() -> bool:
    return _scheduler is not None


def _running() -> AsyncIOScheduler:
    if _scheduler is None:
        raise RuntimeError("the scheduler is not running: call bot.scheduler.start() first")
    return _scheduler


def schedule_at(ref: str, when: datetime, job_id: str, **kwargs: Any) -> None:
    """Run the function at import path `ref` once at `when` (aware), with `kwargs`. Same id: replaced."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: give an aware one (UTC)")
    _running().add_job(ref, DateTrigger(run_date=when, timezone=UTC), id=job_id, kwargs=kwargs,
                       replace_existing=True)


def schedule_daily(ref: str, job_id: str, *, hour: int, minute: int = 0, **kwargs: Any) -> None:
    """Run the function at import path `ref` every day at hour:minute UTC. Same id: replaced."""
    _running().add_job(ref, CronTrigger(hour=hour, minute=minute, timezone=UTC), id=job_id, kwargs=kwargs,
                       replace_existing=True)


def schedule_weekly(ref: str, job_id: str, *, day_of_week: str, hour: int, minute: int = 0, timezone: str = "UTC",
                    **kwargs: Any) -> None:
    """Run the function at import path `ref` every week on `day_of_week` (mon…sun) at hour:minute in `timezone`
    (an IANA name: the wall-clock time holds across DST changes). Same id: replaced."""
    _running().add_job(ref, CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, timezone=timezone),
                       id=job_id, kwargs=kwargs, replace_existing=True)


def schedule_every(ref: str, job_id: str, *, seconds: int, **kwargs: Any) -> None:
    """Run the function at import path `ref` every `seconds`. A run missed while the bot was down is not
    repeated (grace of one interval): the next one does the same work. Same id: replaced."""
    _running().add_job(ref, IntervalTrigger(seconds=seconds, timezone=UTC), id=job_id, kwargs=kwargs,
                       replace_existing=True, misfire_grace_time=seconds)


def cancel(job_id: str) -> bool:
    """Remove a job; False when there was none (it ran already, or never existed)."""
    try:
        _running().remove_job(job_id)
    except JobLookupError:
        return False
    return True


def job_ids() -> list[str]:
    return [job.id for job in _running().get_jobs()]


async def shutdown() -> None:
    """Stop the scheduler; the jobs stay in the database for the next start."""
    global _scheduler, _context, _waker
    scheduler, _scheduler, _context = _scheduler, None, None
    waker, _waker = _waker, None
    if waker is not None:
        waker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waker
    if scheduler is None or not scheduler.running:
        return
    scheduler.shutdown(wait=False)
    # AsyncIOScheduler stops on the loop's next turn; let it, so its job store is closed before the loop ends.
    for _ in range(10):
        if not scheduler.running:
            return
        await asyncio.sleep(0)
