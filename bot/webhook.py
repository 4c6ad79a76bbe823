"""The HTTP side of the process: Telegram's webhook, /healthz and /metrics (aiohttp).

The webhook answers Telegram only once the update has been handled (aiogram's handle_in_background=False):
a 200 means the decision is committed, and anything else (a crash, a 5xx, a shutdown) makes Telegram deliver
the update again, which the update-id claim (bot/middlewares.py) turns into "handled once".
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.web_app import Application
from sqlalchemy import text

from bot import metrics
from bot.inflight import InFlight
from storage.db import Database

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEALTH_DB_TIMEOUT = 3.0  # seconds for SELECT 1 before /healthz says the database is not answering


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of the header with the secret. Bytes, because hmac.compare_digest refuses
    non-ASCII str (a forged header must be a 401, not a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler with a mandatory secret, a 503 while shutting down, and requests in flight counted.

    aiogram's own check passes every request when no secret is set and raises on a non-ASCII header; its
    `register` also closes the bot session on the app's shutdown, before the requests in flight finish
    (aiohttp runs on_shutdown first): the process closes the session itself, last.
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str, **data: Any) -> None:
        if not secret_token:
            raise ValueError("the webhook needs a secret token")
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token, **data)
        self.closing = False
        self.requests = InFlight()

    def register(self, app: Application, /, path: str, **kwargs: Any) -> None:
        app.router.add_route("POST", path, self.handle, **kwargs)

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        return secret_matches(telegram_secret_token, self.secret_token or "")

    async def handle(self, request: web.Request) -> web.Response:
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), self.bot):
            log.warning("webhook request with a wrong or missing secret refused")
            return web.Response(text="Unauthorized", status=401)
        if self.closing:
            # Not taken: Telegram delivers it again, to this address (another instance, or this one restarted).
            return web.Response(text="Shutting down", status=503)
        with self.requests:
            try:
                return await self._handle_request(bot=self.bot, request=request)
            except Exception:
                # aiogram has logged it. A 500 makes Telegram try again; if the update was claimed before the
                # failure, the retry is skipped as a repeat, otherwise it gets a second chance.
                return web.Response(text="Internal Server Error", status=500)

    async def wait_idle(self, timeout: float) -> bool:
        return await self.requests.wait_idle(timeout)

    async def close(self) -> None:
        """Nothing: the process closes the bot session after the last update (see the class docstring)."""


class Health:
    """/healthz and /metrics handlers; `stopping` turns /healthz to 503 so a balancer stops sending traffic."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stopping = False

    async def healthz(self, request: web.Request) -> web.Response:
        if self.stopping:
            return web.json_response({"status": "stopping"}, status=503)
        try:
            async with asyncio.timeout(HEALTH_DB_TIMEOUT):
                async with self.db.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: the database does not answer (%s)", type(exc).__name__)
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def metrics(self, request: web.Request) -> web.Response:
        body, content_type = metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    def register(self, app: Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)


def health_app(health: Health) -> Application:
    app = web.Application()
    health.register(app)
    return app


def webhook_app(handler: WebhookHandler, path: str, health: Health) -> Application:
    app = web.Application()
    handler.register(app, path=path)
    health.register(app)
    return app


class Server:
    """One aiohttp app on host:port, started and stopped by the process (not by aiohttp's run_app)."""

    def __init__(self, app: Application, host: str, port: int, shutdown_timeout: float = 5.0) -> None:
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
        self.host = host
        self.port = port
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        await self.runner.setup()
        self._site = web.TCPSite(self.runner, self.host, self.port)
        await self._site.start()
        log.info("listening on %s:%d", self.host, self.port)

    async def stop_listening(self) -> None:
        """No new connections (requests on open keep-alive connections still arrive)."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def close(self) -> None:
        await self.stop_listening()
        await self.runner.cleanup()
