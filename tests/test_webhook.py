"""The webhook endpoint: secret check (401, nothing processed), 503 while stopping, /healthz, /metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiogram.methods import SendMessage
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot import metrics
from bot.app import build_dispatcher, check_webhook_config
from bot.config import Config, ConfigError, load_config
from bot.webhook import Health, WebhookHandler, health_app, secret_matches, webhook_app
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.conftest import ADMIN_ID, ROOT
from tests.harness import Harness

SECRET = "s3cret-token_for-tests"
PATH = "/telegram/hook"
Hook = tuple[TestClient, WebhookHandler, Harness]


@pytest.fixture
async def hook(harness: Harness) -> AsyncIterator[Hook]:
    harness.dp = build_dispatcher(harness.app, metrics.UpdateTracker())
    handler = WebhookHandler(harness.dp, harness.bot, SECRET)
    async with TestClient(TestServer(webhook_app(handler, PATH, Health(harness.app.db)))) as client:
        yield client, handler, harness


def update_json(h: Harness, text: str = "/help") -> str:
    return h.person(ADMIN_ID, "Alice").message_update(text).model_dump_json(exclude_none=True)


async def claimed(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(ProcessedUpdate))).one()[0]


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(hook: Hook) -> None:
    client, _, h = hook
    body = update_json(h)
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                    {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]},
                    {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
                    {"X-Telegram-Bot-Api-Secret-Token": "sécret"}):
        response = await client.post(PATH, data=body, headers={**headers, "Content-Type": "application/json"})
        assert response.status == 401, headers
    assert h.session.requests == []  # the bot said nothing
    assert await claimed(h.app.db) == 0  # and the update id was not even claimed

    response = await client.post(PATH, data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                                           "Content-Type": "application/json"})
    assert response.status == 200
    assert [type(r) for r in h.session.requests] == [SendMessage]  # answered before the 200
    assert await claimed(h.app.db) == 1


async def test_while_stopping_new_updates_get_503_and_are_not_taken(hook: Hook) -> None:
    client, handler, h = hook
    handler.closing = True
    response = await client.post(PATH, data=update_json(h), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status == 503
    assert h.session.requests == [] and await claimed(h.app.db) == 0


async def test_metrics_after_an_update(hook: Hook) -> None:
    client, _, h = hook
    response = await client.get("/metrics")
    before = metric(await response.text(), 'moments_updates_total{type="message"}')
    await client.post(PATH, data=update_json(h), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert metric(text, 'moments_updates_total{type="message"}') == before + 1
    assert 'moments_update_seconds_bucket{le="+Inf",type="message"}' in text


def metric(text: str, name: str) -> float:
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
    return values[0] if values else 0.0


async def test_healthz_answers_200_with_the_database_and_503_without(harness: Harness) -> None:
    health = Health(harness.app.db)
    async with TestClient(TestServer(health_app(health))) as client:
        response = await client.get("/healthz")
        assert response.status == 200 and json.loads(await response.text()) == {"status": "ok"}
        health.stopping = True
        assert (await client.get("/healthz")).status == 503
    broken = Database("postgresql://nobody@127.0.0.1:1/nothing")  # nothing listens on port 1
    try:
        async with TestClient(TestServer(health_app(Health(broken)))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert json.loads(await response.text()) == {"status": "database unavailable"}
    finally:
        await broken.dispose()


def test_secret_comparison() -> None:
    assert secret_matches("abc_-123", "abc_-123")
    assert not secret_matches("", "abc") and not secret_matches("abd", "abc") and not secret_matches("ab", "abc")
    assert not secret_matches("ébc", "abc")  # non-ASCII: False, not TypeError
    with pytest.raises(ValueError):
        WebhookHandler(None, None, "")  # type: ignore[arg-type]


def test_webhook_settings_from_the_environment_and_their_checks() -> None:
    config = load_config(ROOT / "config.yaml", environ={
        "WEBHOOK_URL": "https://bot.example.com/tg/updates", "WEBHOOK_SECRET": "abc-DEF_123", "WEBHOOK_PORT": "9000",
        "METRICS_PORT": "9100", "MOMENTS_LOG_FORMAT": "json", "MOMENTS_SHUTDOWN_TIMEOUT": "5"})
    assert config.webhook.url == "https://bot.example.com/tg/updates" and config.webhook.serve_path == "/tg/updates"
    assert config.webhook.secret_token == "abc-DEF_123" and config.webhook.port == 9000
    assert config.metrics.port == 9100 and config.logging.json_lines and config.shutdown_timeout_seconds == 5
    check_webhook_config(config)
    shipped = load_config(ROOT / "config.yaml", environ={})
    assert not shipped.webhook.enabled and not shipped.logging.json_lines and shipped.shutdown_timeout_seconds == 20
    with pytest.raises(ConfigError, match=r"webhook\.url"):
        check_webhook_config(shipped)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        check_webhook_config(Config(webhook={"url": "https://x.example/hook"}))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="secret"):
        load_config(ROOT / "config.yaml", environ={"WEBHOOK_SECRET": "has spaces"})
    with pytest.raises(ConfigError, match="MOMENTS_LOG_FORMAT"):
        load_config(ROOT / "config.yaml", environ={"MOMENTS_LOG_FORMAT": "xml"})
