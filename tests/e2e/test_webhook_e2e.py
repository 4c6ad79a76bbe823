"""`moments run --webhook` as a real process: the stand-in POSTs updates to it as Telegram does."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
import yaml

from tests.e2e.conftest import ROOT, Stack, free_port, running_stack
from tests.e2e.test_bot_e2e import decide, to_outcome


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, http.get(url) as response:
        return response.status, await response.text()


async def post_update(url: str, update: dict, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as response:
        return response.status


def metric(text: str, name: str) -> float:
    """The value of one sample line (name with its labels, as exposed) in the Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


async def test_a_decision_through_the_webhook_with_health_and_metrics(webhook_stack: Stack) -> None:
    api, bot = webhook_stack.api, webhook_stack.bot
    assert len(api.calls_to("setWebhook")) == 1
    assert api.webhook["url"] == bot.webhook_url and api.webhook["secret_token"] == bot.webhook_secret
    assert {"message", "callback_query"} <= set(api.webhook["allowed_updates"])
    assert api.webhook["drop_pending_updates"] is False

    ann = await webhook_stack.staff(2101)
    await decide(ann)
    assert "Decision #1 recorded" in ann.screen().text
    assert len(await bot.decisions()) == 1
    assert all(status == 200 for _, status in api.webhook_posts)

    base = f"http://127.0.0.1:{bot.webhook_port}"
    assert await get(base + "/healthz") == (200, '{"status": "ok"}')
    status, text = await get(base + "/metrics")
    assert status == 200
    assert metric(text, 'moments_updates_total{type="message"}') == 3  # /adduser, the moment, the amount
    assert metric(text, 'moments_updates_total{type="callback_query"}') == 6
    assert metric(text, "moments_decisions_recorded_total") == 1
    assert metric(text, 'moments_update_seconds_count{type="callback_query"}') == 6
    assert metric(text, "moments_updates_in_flight") == 0
    assert "moments_telegram_429_total 0.0" in text


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(webhook_stack: Stack) -> None:
    api, bot = webhook_stack.api, webhook_stack.bot
    ann = await webhook_stack.staff(2102)
    first = await ann.send("/history")
    before = len(ann.messages)
    # The same message again under a new update id, as Telegram would number a new one.
    update = {**first, "update_id": api.queue.next_id}
    assert await post_update(bot.webhook_url, update, "wrong-secret") == 401
    assert await post_update(bot.webhook_url, update, None) == 401
    assert await post_update(bot.webhook_url, update, bot.webhook_secret + "x") == 401
    assert await post_update(bot.webhook_url, update, "sécret") == 401  # non-ASCII: still a 401, not a 500
    assert len(ann.messages) == before and not [c for c in api.calls if c.chat_id == ann.id][before:]
    # Not even claimed: the same update with the right secret is handled.
    await api.enqueue_raw(update, expect_answer=True)
    assert len(ann.messages) == before + 1


def without_timed_jobs(tmp_path: Path) -> dict[str, str]:
    """Environment for a bot without the minute training tick. The tests below hold SQLite's write lock,
    and APScheduler writes its job store synchronously on the event loop: a tick inside that window would
    stall the whole bot on the test's lock, signal handling included."""
    values = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    values["training"]["enabled"] = False
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return {"MOMENTS_CONFIG": str(path), "MOMENTS_SHUTDOWN_TIMEOUT": "10"}


async def test_sigterm_during_a_slow_handler_commits_the_decision_and_exits_0(tmp_path: Path) -> None:
    async with running_stack(tmp_path, webhook_port=free_port(), extra_env=without_timed_jobs(tmp_path)) as stack:
        await sigterm_during_the_last_press(stack, 2103, webhook=True)


async def test_polling_with_a_metrics_port_and_sigterm_during_a_slow_handler(tmp_path: Path) -> None:
    port = free_port()
    env = {**without_timed_jobs(tmp_path), "METRICS_PORT": str(port)}
    async with running_stack(tmp_path, extra_env=env) as stack:
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
        await sigterm_during_the_last_press(stack, 2104, webhook=False, metrics_port=port)


async def sigterm_during_the_last_press(stack: Stack, telegram_id: int, *, webhook: bool,
                                        metrics_port: int | None = None) -> None:
    """The last press (the one that records the decision) waits on the database's write lock, held here;
    SIGTERM comes meanwhile, then the lock goes: the decision must still be committed and answered."""
    api, bot = stack.api, stack.bot
    ann = await stack.staff(telegram_id)
    await to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("20")
    await ann.press("Skip")
    base = f"http://127.0.0.1:{bot.webhook_port if webhook else metrics_port}"
    lock = sqlite3.connect(bot.database_url.removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        last_press = asyncio.create_task(ann.press("😊 Happy"))
        await until(lambda: in_flight(base), "the bot to be handling the press")
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        if webhook:
            await until(lambda: refused(base), "the bot to stop listening")
        else:
            await until(lambda: logged(bot.log_path, "SIGTERM received"), "the bot to take the signal")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await asyncio.wait_for(last_press, 20)
    assert await asyncio.wait_for(bot.proc.wait(), 20) == 0
    assert time.monotonic() - signalled < 10  # MOMENTS_SHUTDOWN_TIMEOUT
    assert "Decision #1 recorded" in ann.screen().text
    [decision] = await bot.decisions()
    assert decision.reaction == "happy"
    log = bot.log_path.read_text()
    assert "SIGTERM received" in log and "stopped" in log
    if webhook:
        assert api.webhook_posts[-1][1] == 200
        assert "deleteWebhook" not in [c.method for c in api.calls]  # another instance may serve it


async def logged(path: Path, text: str) -> bool:
    return text in path.read_text(errors="replace")


async def in_flight(base: str) -> bool:
    _, text = await get(base + "/metrics")
    return metric(text, "moments_updates_in_flight") >= 1


async def refused(base: str) -> bool:
    try:
        await get(base + "/metrics")
    except aiohttp.ClientConnectionError:
        return True
    return False


async def until(check, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition on the bot process (its HTTP endpoints): it has no event to wait on from here."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
