"""Wires the parts together: configuration → database → playbooks → dispatcher → bot."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand

from bot import jobs, metrics, scheduler
from bot.config import Config, ConfigError
from bot.core.authoring import live_playbooks, sync_files
from bot.core.catalog import Catalog
from bot.core.escalation_service import EscalationService
from bot.core.loader import load_directory
from bot.core.moments import MomentService
from bot.core.problems import PlaybookLoadError
from bot.core.training.authored import load_training_directory
from bot.core.training.card import Card
from bot.core.training.service import TrainingService
from bot.fanout import Fanout
from bot.fsm_storage import DatabaseStorage
from bot.handlers import routers
from bot.handlers.escalation import Desk
from bot.handlers.onboarding import ONBOARDING_STATES
from bot.handlers.routing import FeatureRouters
from bot.middlewares import DeduplicateUpdates, IdentifyPerson
from bot.notify import Notifications
from bot.permissions import RequirePermission
from bot.pinning import pin_response_models
from bot.playbook_refresh import PlaybookRefresh
from bot.retry import RetryMiddleware
from bot.ui.render import Renderer
from bot.ui.screens import Screens
from bot.webhook import Health, Server, WebhookHandler, health_app, webhook_app
from storage import people, privacy
from storage.db import Database
from storage.types import utcnow
from storage.updates import forget_updates_before

log = logging.getLogger(__name__)


@dataclass
class App:
    config: Config
    db: Database
    catalog: Catalog
    renderer: Renderer
    screens: Screens
    moments: MomentService
    training: TrainingService
    # Messages to many people (change notes) sent in the background; drained before the app closes.
    notifications: Notifications = field(default_factory=Notifications)
    # Training cards to many people (bot/fanout.py); None when training is off or the bot is not running.
    fanout: Fanout | None = None
    # Follows publishes made by other processes; started by run() and run_scheduler(), not by tests' harness.
    refresh: PlaybookRefresh | None = None

    async def close(self) -> None:
        if self.refresh is not None:
            await self.refresh.stop()  # before the database closes under a look in progress
        await self.notifications.drain(timeout=10)
        await self.db.dispose()


@dataclass
class Running:
    """What scheduled jobs reach through bot.scheduler.context(): the app, and the bot and dispatcher serving it."""

    app: App
    bot: Bot
    dispatcher: Dispatcher


def load_catalog(config: Config) -> Catalog:
    """The shipped playbooks; any error refuses the start, naming file, line and column."""
    if not config.playbooks_dir.is_dir():
        raise PlaybookLoadError([])  # reported by the caller as a missing folder
    playbooks, problems = load_directory(config.playbooks_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlaybookLoadError(errors)
    return Catalog(playbooks, config.matching.settings())


async def build_app(config: Config) -> App:
    catalog = load_catalog(config)
    db = Database(config.database_url)
    if config.database_migrate_on_start:
        await db.migrate()  # also adopts a database made before migrations (create_all, ensure_columns)
    else:
        await db.warn_unless_at_head()
    async with db.session() as session:
        await people.sync_teams(session, config.teams)
    # The playbooks folder feeds the database; the live set is the database's (see bot/core/authoring.py).
    await sync_files(db, catalog.all())
    catalog.replace(await live_playbooks(db, catalog.all()))
    # Telegram re-delivers an update only within hours; a week of ids is plenty to recognise repeats.
    await forget_updates_before(db, utcnow() - timedelta(days=7))
    # The daily purge also runs at every start, so a bot that is often restarted still forgets on time.
    async with db.session() as session:
        await privacy.purge_notes(session, utcnow() - timedelta(days=config.note_retention_days))
    renderer = Renderer(config.currency)
    renderer.warm()
    moments = MomentService(catalog, db, default_limits=config.limits, note_max=config.note_max_length)
    training = TrainingService(db, catalog, config.training, default_timezone=config.default_timezone,
                               authored=load_authored_cards(config, catalog))
    await training.sync(force=True)  # cards follow the playbooks: regenerated at every start and publish
    refresh = PlaybookRefresh(db, catalog, config.playbooks.refresh_seconds, after=training.sync)
    return App(config, db, catalog, renderer, Screens(renderer), moments, training, refresh=refresh)


def load_authored_cards(config: Config, catalog: Catalog) -> list[Card]:
    """The training folder's cards; any error refuses the start, naming file, line and column."""
    cards, problems = load_training_directory(config.training_dir, {p.id for p in catalog.all()})
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlaybookLoadError(errors)
    return cards


def build_dispatcher(app: App, tracker: metrics.UpdateTracker | None = None) -> Dispatcher:
    """`tracker` (counts, times and follows updates in flight, for /metrics and shutdown) goes outermost."""
    dp = Dispatcher(
        storage=DatabaseStorage(app.db, DefaultKeyBuilder(with_destiny=True),
                                cache_seconds=app.config.conversation_cache()),
        # One update at a time per person: two fast taps must not race over the same flow.
        events_isolation=SimpleEventIsolation(),
        config=app.config, db=app.db, catalog=app.catalog, renderer=app.renderer, screens=app.screens,
        moments=app.moments, training=app.training,
    )
    dp["escalations"] = EscalationService(
        app.moments, timeout_seconds=app.config.escalation_timeout_seconds, default_currency=app.config.currency,
        default_timezone=app.config.default_timezone)
    dp["notifications"] = app.notifications
    if tracker is not None:
        dp.update.outer_middleware(tracker)
    dp.update.outer_middleware(DeduplicateUpdates(app.db))
    identify = IdentifyPerson(app.db, app.config, app.renderer, onboarding_states=ONBOARDING_STATES)
    dp.message.outer_middleware(identify)
    dp.callback_query.outer_middleware(identify)
    require = RequirePermission(app.renderer)
    dp.message.middleware(require)
    dp.callback_query.middleware(require)
    dp.include_router(FeatureRouters(routers()))
    return dp


def build_bot(config: Config) -> Bot:
    pin_response_models()
    session = AiohttpSession(api=TelegramAPIServer.from_base(config.telegram_api_base))
    retry = RetryMiddleware()
    retry.add_flood_listener(metrics.on_flood)  # every 429 from Telegram, counted for /metrics
    session.middleware(retry)
    return Bot(config.require_token(), session=session,
               default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True))


async def set_commands(bot: Bot, renderer: Renderer) -> None:
    """The command menu in English, and in each language with a catalogue for people whose Telegram is set
    to it (Telegram picks the list by the user's language_code)."""
    names = ("start", "history", "train", "progress", "language", "cancel", "help")
    for language in renderer.catalogues.languages:
        commands = [BotCommand(command=name, description=renderer.t(f"commands.{name}", language)) for name in names]
        await bot.set_my_commands(commands, language_code=None if language == "en" else language)


class ShutdownTimeout(Exception):
    """Shutdown did not finish within shutdown_timeout_seconds; what was still running was abandoned."""


class Stopper:
    """SIGTERM / SIGINT set `requested`; the process then stops within `timeout` seconds of the signal."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.requested = asyncio.Event()
        self.deadline = 0.0  # loop time by which everything must be done, set at the signal

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
                loop.add_signal_handler(sig, self.request, sig)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)

    def request(self, sig: signal.Signals | None = None) -> None:
        if self.requested.is_set():
            return
        if sig is not None:
            log.info("%s received: stopping within %.0f s", sig.name, self.timeout)
        else:
            log.info("stopping within %.0f s", self.timeout)
        self.deadline = asyncio.get_running_loop().time() + self.timeout
        self.requested.set()

    def remaining(self) -> float:
        if not self.requested.is_set():
            return self.timeout
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def budget(self) -> float:
        """What a shutdown step may take: the time left, less a reserve for closing the bot and the database."""
        return max(0.0, self.remaining() - min(1.0, self.timeout / 10))


async def run(config: Config, *, webhook: bool = False) -> None:
    """Serve until SIGTERM/SIGINT: long polling, or Telegram's webhook (`webhook=True` or config webhook.enabled).

    Pending updates are kept by default: what staff sent during a restart counts. Shutdown stops taking
    updates, lets those in flight finish (their decisions are committed), drains notifications and the
    training fan-out, and closes the database, all within shutdown_timeout_seconds; past it, ShutdownTimeout.
    The webhook is never deleted at shutdown: another instance behind the same address may be serving it.
    """
    config.require_token()
    webhook = webhook or config.webhook.enabled
    if webhook:
        check_webhook_config(config)
    stopper = Stopper(config.shutdown_timeout_seconds)
    stopper.install()  # before the slow start, so a SIGTERM during it is graceful too
    try:
        app = await build_app(config)
    except BaseException:
        stopper.uninstall()
        raise
    metrics.watch_decisions(app.db.engine.sync_engine)
    bot = build_bot(config)
    tracker = metrics.UpdateTracker()
    dp = build_dispatcher(app, tracker)
    health = Health(app.db)
    servers: list[Server] = []
    handler: WebhookHandler | None = None
    try:
        me = await bot.get_me()
        log.info("Moments is running as @%s with %d playbooks (%s)", me.username, len(app.catalog),
                 "webhook" if webhook else "long polling")
        await set_commands(bot, app.renderer)
        await _start_timers(config, app, bot, dp, runs_jobs=config.scheduler.enabled)
        _start_refresh(app)
        # Everything loaded so far lives as long as the process: keep it out of the collector's full
        # passes, which otherwise stall the bot for ~200 ms a few times a minute under load.
        gc.collect()
        gc.freeze()
        if app.fanout is not None:
            app.fanout.start()  # after the full collection above: it would stall the first cards for ~300 ms
        if config.metrics.port is not None:
            servers.append(Server(health_app(health), config.metrics.host, config.metrics.port))
            await servers[-1].start()
        allowed_updates = dp.resolve_used_update_types()
        if webhook:
            handler = WebhookHandler(dp, bot, config.webhook.secret_token or "")
            site = Server(webhook_app(handler, config.webhook.serve_path, health), config.webhook.host,
                          config.webhook.port)
            servers.insert(0, site)
            await site.start()  # listening before Telegram is told where to post
            await bot.set_webhook(config.webhook.url, secret_token=config.webhook.secret_token,
                                  allowed_updates=allowed_updates, max_connections=config.webhook.max_connections,
                                  drop_pending_updates=config.webhook.drop_pending_updates)
            log.info("webhook set; serving %s", config.webhook.serve_path)
            await stopper.requested.wait()
            handler.closing = True  # new updates get a 503 and come again later, here or elsewhere
        else:
            await _poll_until_stopped(dp, bot, allowed_updates, stopper)
    finally:
        stopper.request()  # a failure or the end of polling stops everything as a signal would
        health.stopping = True
        try:
            complete = await asyncio.wait_for(_shut_down(app, bot, tracker, handler, servers, stopper),
                                              stopper.remaining())
        except TimeoutError:
            complete = False
        finally:
            metrics.unwatch_decisions(app.db.engine.sync_engine)
            stopper.uninstall()
        if not complete:
            raise ShutdownTimeout(f"shutdown took longer than {config.shutdown_timeout_seconds:g} s; updates "
                                  "still running were abandoned (Telegram delivers them again)")


async def _start_timers(config: Config, app: App, bot: Bot, dp: Dispatcher, *, runs_jobs: bool,
                        wakeup_seconds: float | None = None) -> None:
    """The scheduler, the training sender, and the standing jobs. Without `runs_jobs` the scheduler is paused:
    this process still sets and cancels timers in the shared store; `moments scheduler` runs them."""
    # Timers in the database: escalations due while the bot was down are settled now, once.
    scheduler.start(Running(app, bot, dp), config.database_url, paused=not runs_jobs, wakeup_seconds=wakeup_seconds)
    if config.training.enabled:
        # Imported only when training is on: the card screens and their templates.
        from bot.ui.training import compose_delivery

        # There before the first tick, which wakes it; started by the caller.
        app.fanout = Fanout(bot, app.db, partial(compose_delivery, app), config.training)
        dp["fanout"] = app.fanout
    if not runs_jobs:
        # The process that runs the jobs settles what fell due and keeps the standing jobs.
        log.info("timers are set here and run by `moments scheduler` (scheduler.enabled is false)")
        return
    await Desk(dp, bot).sweep()
    jobs.schedule_retention_purge()
    await jobs.schedule_weekly_digests(app)  # Monday 08:00 (config digest:) in each team's time zone
    jobs.schedule_training_tick(config.training)  # refreshers: who is due, every minute


def _start_refresh(app: App) -> None:
    """Other processes (and `moments playbooks sync`) publish to the same database: follow them."""
    if app.refresh is not None and app.refresh.interval > 0:
        app.refresh.start()
        log.info("looking for playbook changes made elsewhere every %g s", app.refresh.interval)


async def run_scheduler(config: Config) -> None:
    """`moments scheduler`: run the timers for bot processes started with `--no-scheduler`, until SIGTERM/SIGINT.

    It takes no updates (no polling, no webhook) but has the whole application, the bot and the dispatcher,
    because the jobs send messages and settle escalations as a bot process would. It looks at the shared job
    store every `scheduler.wakeup_seconds` for timers the bot processes set. Exactly one should run.
    """
    config.require_token()
    stopper = Stopper(config.shutdown_timeout_seconds)
    stopper.install()
    try:
        app = await build_app(config)
    except BaseException:
        stopper.uninstall()
        raise
    bot = build_bot(config)
    dp = build_dispatcher(app)
    health = Health(app.db)
    server: Server | None = None
    try:
        await _start_timers(config, app, bot, dp, runs_jobs=True, wakeup_seconds=config.scheduler.wakeup_seconds)
        _start_refresh(app)  # its jobs (training cards, digests) follow the live set too
        if app.fanout is not None:
            app.fanout.start()
        if config.metrics.port is not None:
            server = Server(health_app(health), config.metrics.host, config.metrics.port)
            await server.start()
        log.info("Moments scheduler is running with %d job(s); looking for new ones every %g s",
                 len(scheduler.job_ids()), config.scheduler.wakeup_seconds)
        await stopper.requested.wait()
    finally:
        stopper.request()
        health.stopping = True
        try:
            await asyncio.wait_for(_shut_down_scheduler(app, bot, server, stopper), stopper.remaining())
        except TimeoutError:
            log.warning("the scheduler did not stop within %g s", config.shutdown_timeout_seconds)
        finally:
            stopper.uninstall()


async def _shut_down_scheduler(app: App, bot: Bot, server: Server | None, stopper: Stopper) -> None:
    await scheduler.shutdown()  # first: no job starts while the rest closes
    if app.refresh is not None:
        await app.refresh.stop()
    if server is not None:
        await server.close()
    await app.notifications.drain(timeout=stopper.budget())
    if app.fanout is not None:
        await app.fanout.stop(timeout=stopper.budget())
    await bot.session.close()
    await app.close()
    log.info("stopped")


def check_webhook_config(config: Config) -> None:
    if not config.webhook.url:
        raise ConfigError("Webhook mode needs webhook.url in config.yaml (or WEBHOOK_URL): the public HTTPS "
                          "address Telegram posts updates to, e.g. https://bot.example.com/telegram.")
    if not config.webhook.secret_token:
        raise ConfigError("Webhook mode needs a secret: set WEBHOOK_SECRET to 1-256 characters of A-Z, a-z, "
                          "0-9, _ and - (for instance the output of `openssl rand -hex 32`). Telegram sends it "
                          "with every update; requests without it are refused.")


async def _poll_until_stopped(dp: Dispatcher, bot: Bot, allowed_updates: list[str], stopper: Stopper) -> None:
    polling = asyncio.create_task(dp.start_polling(bot, allowed_updates=allowed_updates, handle_signals=False,
                                                   close_bot_session=False))
    stop = asyncio.create_task(stopper.requested.wait())
    try:
        await asyncio.wait({polling, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not polling.done():
        try:
            await dp.stop_polling()  # ends the long poll; update handlers already started go on
        except RuntimeError:  # the signal came before polling had started
            polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling


async def _shut_down(app: App, bot: Bot, tracker: metrics.UpdateTracker, handler: WebhookHandler | None,
                     servers: list[Server], stopper: Stopper) -> bool:
    """Stop in order; False if updates in flight had to be abandoned."""
    complete = True
    if handler is not None:
        handler.closing = True
        await servers[0].stop_listening()
        if not await handler.wait_idle(stopper.budget()):
            log.warning("webhook requests still running at the shutdown timeout")
            complete = False
    if not await tracker.wait_idle(stopper.budget()):
        log.warning("%d updates still being handled at the shutdown timeout", tracker.in_flight)
        complete = False
    for server in servers:
        await server.close()  # the answers of finished webhook requests are written out first
    if app.refresh is not None:
        await app.refresh.stop()
    await app.notifications.drain(timeout=stopper.budget())  # notes being sent finish while the bot can send
    if app.fanout is not None:
        await app.fanout.stop(timeout=stopper.budget())  # cards in flight are marked, the rest go back to pending
    await scheduler.shutdown()
    await bot.session.close()
    await app.close()
    log.info("stopped")
    return complete
