"""Prometheus metrics, and the small observers that feed them without prometheus in bot/core or storage.

- updates handled, by type, with a latency histogram and an error count: `UpdateTracker`, the outermost update
  middleware, which also knows how many updates are in flight (graceful shutdown waits for them);
- decisions recorded: counted when the transaction that inserted them commits (`watch_decisions`, SQLAlchemy
  session events), so a rolled-back insert or a duplicate flow is not counted;
- training cards sent / blocked / failed: bot/fanout.py;
- 429s from Telegram: `on_flood`, a RetryMiddleware flood listener;
- errors logged anywhere (ERROR and above): `ErrorCounter`, a logging handler.

The process's own figures (memory, CPU, open files) come with prometheus-client's default registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.exposition import choose_encoder
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from bot.inflight import InFlight
from storage.models import Decision

UPDATES = Counter("moments_updates", "Updates handled, by type (message, callback_query, ...)", ["type"])
UPDATE_SECONDS = Histogram(
    "moments_update_seconds", "Time to handle one update, middlewares included", ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
IN_FLIGHT = Gauge("moments_updates_in_flight", "Updates being handled now")
UPDATE_ERRORS = Counter("moments_update_errors", "Updates whose handling raised an exception, by type", ["type"])
DECISIONS = Counter("moments_decisions_recorded", "Decisions committed to the database")
TRAINING = Counter("moments_training_deliveries", "Training cards by result: sent, blocked, failed", ["result"])
FLOOD = Counter("moments_telegram_429", "429 Too Many Requests answers received from Telegram")
ERRORS = Counter("moments_errors", "Log records at ERROR or above, by logger", ["logger"])

for _result in ("sent", "blocked", "failed"):
    TRAINING.labels(result=_result)  # present at 0 from the start, so rate() sees the first one


def render(accept: str = "", registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The exposition the scraper's Accept header asks for (Prometheus text 0.0.4 by default), and its type."""
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type


def on_flood(retry_after: float) -> None:
    """A RetryMiddleware flood listener: one 429 received."""
    FLOOD.inc()


class UpdateTracker(BaseMiddleware):
    """Outermost update middleware: counts and times updates, and tracks the ones in flight."""

    def __init__(self) -> None:
        self.updates = InFlight()

    @property
    def in_flight(self) -> int:
        return self.updates.count

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            with self.updates:
                return await handler(event, data)
        except Exception:
            UPDATE_ERRORS.labels(type=kind).inc()
            raise
        finally:
            UPDATE_SECONDS.labels(type=kind).observe(time.perf_counter() - started)
            UPDATES.labels(type=kind).inc()
            IN_FLIGHT.dec()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no update is being handled; False if some still were after `timeout` seconds."""
        return await self.updates.wait_idle(timeout)


class ErrorCounter(logging.Handler):
    """Counts ERROR and above from every logger (the fan-out, the scheduler, aiogram's handler errors)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        ERRORS.labels(logger=record.name).inc()


_PENDING = "moments_new_decisions"
_watched: set[Engine] = set()


def watch_decisions(engine: Engine) -> None:
    """Count decisions committed through sessions bound to `engine` (a database's `engine.sync_engine`)."""
    _watched.add(engine)
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


def unwatch_decisions(engine: Engine) -> None:
    _watched.discard(engine)


def _after_flush(session: Session, _context: Any) -> None:
    if session.bind not in _watched:
        return
    # After a flush `session.new` still lists what it inserted.
    added = sum(1 for obj in session.new if isinstance(obj, Decision))
    if added:
        session.info[_PENDING] = session.info.get(_PENDING, 0) + added


def _after_commit(session: Session) -> None:
    added = session.info.pop(_PENDING, 0)
    if added:
        DECISIONS.inc(added)


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
