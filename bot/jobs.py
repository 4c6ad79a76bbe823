"""Scheduled jobs, named by import path text ("bot.jobs:escalation_timeout") so the persistent job store
finds them after a restart. Each takes plain keyword arguments and finds the running bot through
`bot.scheduler.context()`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot import scheduler

log = logging.getLogger(__name__)

ESCALATION_TIMEOUT = "bot.jobs:escalation_timeout"
RETENTION_PURGE = "bot.jobs:retention_purge"
WEEKLY_DIGEST = "bot.jobs:weekly_digest"
TRAINING_TICK = "bot.jobs:training_tick"


def escalation_job_id(escalation_id: int) -> str:
    return f"escalation-timeout-{escalation_id}"


def schedule_escalation_timeout(escalation_id: int, due_at: datetime) -> None:
    """Settle the escalation when it falls due. Without a running scheduler (tests, the CLI) nothing is
    scheduled: `Desk.run_due()` and the sweep at every start settle due escalations anyway."""
    if scheduler.is_running():
        scheduler.schedule_at(ESCALATION_TIMEOUT, due_at, escalation_job_id(escalation_id),
                              escalation_id=escalation_id)


def cancel_escalation_timeout(escalation_id: int) -> None:
    if scheduler.is_running():
        scheduler.cancel(escalation_job_id(escalation_id))


async def escalation_timeout(escalation_id: int) -> None:
    running = scheduler.context()
    if running is None:
        log.warning("escalation %s fell due but the bot is not running", escalation_id)
        return
    from bot.handlers.escalation import Desk  # the job module stays importable without the handlers

    desk = Desk(running.dispatcher, running.bot)
    # The timer fires at (or a hair after) the due time; a second of slack keeps a clock rounding from
    # making it look early.
    await desk.time_out(escalation_id, desk.service.now() + timedelta(seconds=1))


def schedule_retention_purge() -> None:
    """Every night at 03:00 UTC, when no shift is busy: notes older than the retention period go."""
    scheduler.schedule_daily(RETENTION_PURGE, "retention-purge", hour=3)


async def retention_purge() -> None:
    running = scheduler.context()
    if running is None:
        return
    from storage import privacy
    from storage.types import utcnow

    app = running.app
    async with app.db.session() as session:
        changed = await privacy.purge_notes(session, utcnow() - timedelta(days=app.config.note_retention_days))
    log.info("retention purge: notes removed from %d decisions", changed)


def digest_job_id(team_id: int) -> str:
    return f"digest-{team_id}"


async def schedule_weekly_digests(app: Any) -> list[str]:
    """One job per team: its digest on the configured weekday and time in the team's own time zone.
    Re-registered at every start (same ids, replaced), so a changed time zone or config takes effect."""
    from storage import digest as store

    async with app.db.session() as session:
        teams = await store.all_teams(session)
    settings = app.config.digest
    ids = []
    for team in teams:
        job_id = digest_job_id(team.id)
        scheduler.schedule_weekly(WEEKLY_DIGEST, job_id, day_of_week=settings.weekday, hour=settings.hour,
                                  minute=settings.minute, timezone=team.timezone or app.config.default_timezone,
                                  team_id=team.id)
        ids.append(job_id)
    return ids


async def weekly_digest(team_id: int) -> None:
    """The last complete week's digest of one team to its managers and supervisors, at most once per team and
    week: storage.digest.claim() inserts the (team, week) row before anything is sent."""
    running = scheduler.context()
    if running is None:
        log.warning("digest of team %s fell due but the bot is not running", team_id)
        return
    from bot.handlers.digest import push

    app = running.app
    await push(app.db, app.renderer, app.config, running.bot, team_id)


def schedule_training_tick(settings: Any) -> None:
    """Every `tick_seconds`: who has a refresher due now (bot/core/training/service.py), then send them.
    Removed when training is switched off, so an old job does not linger in the store."""
    if settings.enabled:
        scheduler.schedule_every(TRAINING_TICK, "training-tick", seconds=settings.tick_seconds)
    else:
        scheduler.cancel("training-tick")


async def training_tick() -> None:
    running = scheduler.context()
    if running is None:
        return
    app = running.app
    added = await app.training.plan()
    # Pushes made from the shell (`moments training push`) are rows in the database too: wake the
    # sender whatever this tick added.
    if app.fanout is not None:
        app.fanout.wake()
    if added:
        log.info("training: %d refresher(s) due", added)
