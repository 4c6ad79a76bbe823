"""End-to-end: the real `moments run` process against the local Bot API stand-in, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import select

from bot.devtools.botapi import BotAPIStandIn, SimUser
from storage.db import Database
from storage.models import Decision

ROOT = Path(__file__).resolve().parents[2]
MOMENTS = Path(sys.executable).parent / "moments"
ADMIN_ID = 1000
TOKEN = "123456:E2E-TOKEN"


@dataclass
class BotProcess:
    """One `moments run` subprocess; its log is kept in a file and shown when a test fails."""

    api: BotAPIStandIn
    database_url: str
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    starts: int = field(default=0)
    # Webhook mode: `moments run --webhook` listening on this port of 127.0.0.1, with this secret.
    webhook_port: int | None = None
    webhook_secret: str = "e2e-secret_0123456789"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/telegram/updates"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "MOMENTS_", "DATABASE_"))}
        env.update({
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": self.api.base_url,
            "DATABASE_URL": self.database_url,
            "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
            "MOMENTS_CONFIG": str(ROOT / "config.yaml"),
            "MOMENTS_ADMINS": str(ADMIN_ID),
        })
        if self.webhook_port is not None:
            env.update({"WEBHOOK_URL": self.webhook_url, "WEBHOOK_SECRET": self.webhook_secret,
                        "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(self.webhook_port)})
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        mode = ["--webhook"] if self.webhook_port is not None else []
        self.proc = await asyncio.create_subprocess_exec(str(MOMENTS), "run", *mode, cwd=ROOT, env=self.env(),
                                                         stdout=log, stderr=log)
        log.close()
        if self.webhook_port is None:
            await self.api.wait_for_poll(timeout=30)
        else:
            starts = self.starts
            await self.api.wait_until(lambda: len(self.api.calls_to("setWebhook")) >= starts, timeout=30,
                                      what="setWebhook from the bot")

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def cli(self, *args: str) -> str:
        """Run another `moments` command against the same database; returns stdout."""
        proc = await asyncio.create_subprocess_exec(str(MOMENTS), *args, cwd=ROOT, env=self.env(),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    async def decisions(self) -> list[Decision]:
        db = Database(self.database_url)
        try:
            async with db.session() as session:
                return list((await session.exec(select(Decision).order_by(Decision.id))).all())
        finally:
            await db.dispose()


@dataclass
class Stack:
    api: BotAPIStandIn
    bot: BotProcess
    expected_errors: list[tuple[str, int]] = field(default_factory=list)

    async def staff(self, telegram_id: int, name: str = "Ann", role: str = "staff") -> SimUser:
        admin = self.api.user(ADMIN_ID, "Alice")
        await admin.send(f"/adduser {telegram_id} {role} shop-1")
        assert "as <b>" in admin.screen().html or "as " in admin.screen().text
        return self.api.user(telegram_id, name)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        yield stack


@pytest.fixture
async def webhook_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The bot as `moments run --webhook`: the stand-in POSTs updates to it, as Telegram does."""
    async with running_stack(tmp_path, webhook_port=free_port(), extra_env={"MOMENTS_SHUTDOWN_TIMEOUT": "10"}) as stack:
        yield stack


def print_log_tails(*paths: Path) -> None:
    """The end of each process's log, for the report of a failing test (pytest shows it then)."""
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        print(f"--- {path.name} (tail) ---\n{text[-4000:]}")


def assert_no_tracebacks(*paths: Path) -> None:
    for path in paths:
        assert "Traceback" not in path.read_text(errors="replace"), path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_stack(tmp_path: Path, webhook_port: int | None = None,
                        extra_env: dict[str, str] | None = None) -> AsyncIterator[Stack]:
    # A settle window of 0.1 s: on a slow, cold CI machine the bot may pause between two calls of one answer.
    api = BotAPIStandIn(TOKEN, timeout=20, settle=0.1)
    await api.start()
    bot = BotProcess(api, f"sqlite:///{tmp_path}/moments.db", tmp_path / "bot.log", webhook_port=webhook_port,
                     extra_env=extra_env or {})
    stack = Stack(api, bot)
    try:
        await bot.start()
        yield stack
    finally:
        await bot.stop()
        await api.stop()
        log = bot.log_path.read_text(errors="replace") if bot.log_path.exists() else ""
        # Shown by pytest only when the test fails: what the bot logged and what it asked of the API.
        print("--- bot log (tail) ---\n" + log[-6000:])
        print("--- Bot API calls (tail) ---\n" + "\n".join(map(str, api.calls[-40:])))
    # Nothing the bot sent may be rejected, unless the test said it expects exactly that.
    unexpected = [e for e in api.errors if (e.method, e.code) not in stack.expected_errors]
    assert not api.unknown_methods, api.unknown_methods
    assert not unexpected, unexpected
    assert "Traceback" not in log, log[-3000:]
