from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.retry import RetryMiddleware
from storage.db import DatabaseURLError, async_url

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_is_valid_and_documented() -> None:
    config = load_config(ROOT / "config.yaml", environ={})
    assert config.database_url == "sqlite:///data/moments.db"
    assert config.currency == "EUR" and config.bot_token is None


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("database_url: sqlite:///a.db\nadmins: [1]\ncurrency: usd\n")
    config = load_config(environ={"MOMENTS_CONFIG": str(file), "DATABASE_URL": "postgresql://u@h/db",
                                  "MOMENTS_ADMINS": "5, 6", "BOT_TOKEN": "1:x", "TELEGRAM_API_BASE": "http://127.0.0.1:1"})
    assert config.database_url == "postgresql://u@h/db" and config.admins == [5, 6]
    assert config.currency == "USD" and config.bot_token == "1:x" and config.telegram_api_base == "http://127.0.0.1:1"


@pytest.mark.parametrize(("content", "fragment"), [
    ("database_url: [unclosed", "not valid YAML at line 1"),
    ("- a list", "must be a mapping"),
    ("currency: EURO", "currency"),
    ("limits: {boss: 5}", "unknown role"),
    ("no_such_setting: 1", "no_such_setting"),
])
def test_broken_config_is_one_clear_paragraph(tmp_path: Path, content: str, fragment: str) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_config(file, environ={})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_missing_named_config_and_bad_admins() -> None:
    with pytest.raises(ConfigError):
        load_config(environ={"MOMENTS_CONFIG": "/nonexistent/config.yaml"})
    with pytest.raises(ConfigError):
        load_config(ROOT / "config.yaml", environ={"MOMENTS_ADMINS": "12,abc"})


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///data/moments.db", "sqlite+aiosqlite:///data/moments.db"),
    ("postgresql://user@host/db", "postgresql+psycopg://user@host/db"),
    ("postgres://user:pw@host:5433/db", "postgresql+psycopg://user:pw@host:5433/db"),
    ("postgresql+asyncpg://user@host/db", "postgresql+asyncpg://user@host/db"),
])
def test_database_urls_people_write(url: str, expected: str) -> None:
    assert async_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url"])
def test_unsupported_database_urls(url: str) -> None:
    with pytest.raises(DatabaseURLError):
        async_url(url)


async def test_retry_waits_out_flood_control_and_network_errors() -> None:
    from aiogram import Bot
    from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter
    from aiogram.methods import SendMessage

    method = SendMessage(chat_id=1, text="x")
    failures = [TelegramRetryAfter(method, "Too Many Requests", retry_after=0), TelegramNetworkError(method, "reset")]
    calls = []

    async def make_request(bot: Bot, m: SendMessage) -> str:
        calls.append(m)
        if failures:
            raise failures.pop(0)
        return "ok"

    middleware = RetryMiddleware(base_delay=0)
    assert await middleware(make_request, Bot("1:x"), method) == "ok"
    assert len(calls) == 3

    always = RetryMiddleware(attempts=2, base_delay=0)

    async def broken(bot: Bot, m: SendMessage) -> str:
        raise TelegramNetworkError(m, "down")

    with pytest.raises(TelegramNetworkError):
        await always(broken, Bot("1:x"), method)
