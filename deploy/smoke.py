"""Smoke test of an installed Moments, run inside the image's filesystem by deploy/measure_image.sh.

It starts the local Bot API stand-in (shipped in the package: bot.devtools.botapi), then the image's own
command, `moments run --webhook --no-scheduler`, and `moments scheduler`, as docker-compose.yml runs them; checks
/healthz of both, a message round trip through the webhook, the resident memory of each idle process, and a
clean exit on SIGTERM. Prints one JSON object; exits 1 on any failure. Needs only what the image has.

    cd /app && /opt/moments/bin/python /tmp/smoke.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from bot.devtools.botapi import BotAPIStandIn

TOKEN = "123456:SMOKE-TOKEN"
ADMIN_ID = 1000
SECRET = "smoke-secret_0123456789"
IDLE_SECONDS = 10.0  # after start-up work (imports, catalogue, first GC freeze) has settled


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """VmRSS of a process from /proc (the chroot needs /proc mounted)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


async def health(port: int, timeout: float = 30) -> tuple[int, str]:
    """GET /healthz, retried until it answers 200 or the timeout passes."""
    deadline = time.monotonic() + timeout
    last: tuple[int, str] = (0, "no answer")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    last = (response.status, await response.text())
                    if response.status == 200:
                        return last
            except aiohttp.ClientError as exc:
                last = (0, str(exc))
            await asyncio.sleep(0.2)
    return last


async def start(args: list[str], env: dict[str, str], log: Path) -> tuple[asyncio.subprocess.Process, float]:
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec("moments", *args, env=env, stdout=out, stderr=out)
    return proc, time.monotonic()


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, float]:
    """SIGTERM, as `docker stop` sends; the exit code and how long the process took to exit."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        code = await proc.wait()
    return code, round(time.monotonic() - began, 2)


async def main() -> int:
    api = BotAPIStandIn(TOKEN, timeout=30, settle=0.1)
    await api.start()
    webhook_port, scheduler_port = free_port(), free_port()
    base_env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TZ")}
    base_env.update({
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": api.base_url,
        "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:///data/moments.db"),
        "MOMENTS_ADMINS": str(ADMIN_ID),
        "MOMENTS_LOG_FORMAT": "json",
        "MOMENTS_DB_MIGRATE": "0",  # the caller ran `moments db upgrade`, as compose's migrate service does
    })
    bot_env = {**base_env, "WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}/telegram/updates",
               "WEBHOOK_SECRET": SECRET, "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(webhook_port)}
    scheduler_env = {**base_env, "METRICS_PORT": str(scheduler_port)}
    log = Path("/tmp/smoke-processes.log")
    result: dict[str, object] = {}
    failures: list[str] = []
    bot, bot_started = await start(["run", "--webhook", "--no-scheduler"], bot_env, log)
    scheduler, scheduler_started = await start(["scheduler"], scheduler_env, log)
    try:
        await api.wait_until(lambda: bool(api.calls_to("setWebhook")), timeout=60, what="setWebhook from the bot")
        result["bot_ready_seconds"] = round(time.monotonic() - bot_started, 2)
        result["bot_healthz"] = await health(webhook_port)
        result["scheduler_healthz"] = await health(scheduler_port)
        result["scheduler_ready_seconds"] = round(time.monotonic() - scheduler_started, 2)
        await asyncio.sleep(IDLE_SECONDS)
        result["bot_idle_rss_mib"] = rss_mib(bot.pid)
        result["scheduler_idle_rss_mib"] = rss_mib(scheduler.pid)

        # A round trip through the webhook: the admin adds a staff member, who asks for a playbook.
        admin = api.user(ADMIN_ID, "Alice")
        began = time.monotonic()
        await admin.send("/start")
        result["start_reply_seconds"] = round(time.monotonic() - began, 2)
        result["start_reply"] = admin.screen().text[:80]
        await admin.send("/adduser 2101 staff shop-1")
        ann = api.user(2101, "Ann")
        await ann.send("customer has no receipt, wants a refund")
        result["staff_reply"] = ann.screen().text[:80]
        result["bot_rss_after_round_trip_mib"] = rss_mib(bot.pid)
        result["webhook_posts"] = [status for _, status in api.webhook_posts]
    except Exception as exc:  # reported with the logs below; the processes are still stopped
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        result["bot_exit"], result["bot_stop_seconds"] = await stop(bot)
        result["scheduler_exit"], result["scheduler_stop_seconds"] = await stop(scheduler)
        await api.stop()

    if result.get("bot_healthz") != (200, '{"status": "ok"}'):
        failures.append(f"bot /healthz: {result.get('bot_healthz')}")
    if result.get("scheduler_healthz") != (200, '{"status": "ok"}'):
        failures.append(f"scheduler /healthz: {result.get('scheduler_healthz')}")
    if not result.get("start_reply") or not result.get("staff_reply"):
        failures.append("no reply to /start or to the staff message")
    if any(status != 200 for status in result.get("webhook_posts", [0])):  # type: ignore[union-attr]
        failures.append(f"webhook answers: {result.get('webhook_posts')}")
    if result["bot_exit"] != 0 or result["scheduler_exit"] != 0:
        failures.append(f"exit codes on SIGTERM: bot {result['bot_exit']}, scheduler {result['scheduler_exit']}")
    if api.errors:
        failures.append(f"Bot API errors: {api.errors}")
    text = log.read_text(errors="replace")
    if "Traceback" in text:
        failures.append("a traceback in the logs")
    result["failures"] = failures
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if failures:
        print(text[-6000:], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
