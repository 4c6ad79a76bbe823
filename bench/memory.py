"""Resident memory of one `moments run` process with many registered people and many conversations mid-flow.

Issue 10's target: < 300 MB per process with 10,000 registered users and 1,000 conversations in the middle of
a playbook. The bot runs as a subprocess (as in bench/flow.py) against the local Bot API stand-in; the
bare aiogram echo bot (bench/echo_bot.py) is measured in the same run, as the floor any aiogram bot starts
from. RSS is read from /proc/<pid>/status (VmRSS, and VmHWM for the peak).

    .venv/bin/python bench/memory.py                   # 10,000 users, 1,000 mid-flow: about a minute
    .venv/bin/python bench/memory.py --users 2000 --mid-flow 200
    .venv/bin/python bench/memory.py --database postgresql://moments:moments@localhost/bench

Reports only; the exit status is 0 whatever the figures (targets are compared, never asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow
from sqlalchemy import insert

from storage import people
from storage.db import Database
from storage.models import User

TOKEN = "123456:STAND-IN-TOKEN"
FIRST_ID = 5_000_000
MB = 1024 * 1024


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024 / MB, int(fields["VmHWM"].split()[0]) * 1024 / MB


async def register(url: str, count: int) -> None:
    """`count` staff in one team, in bulk (the ORM's per-person upsert would take minutes for 10,000)."""
    db = Database(url)
    try:
        await db.migrate()
        async with db.session() as session:
            team = await people.ensure_team(session, "shop-1")
            await session.commit()
            team_id = team.id
        rows = [{"telegram_id": FIRST_ID + i, "role": "staff", "team_id": team_id, "name": f"Staff {i}",
                 "language": "en", "active": True, "shift": {}} for i in range(count)]
        async with db.engine.begin() as connection:
            for start in range(0, len(rows), 2000):
                await connection.execute(insert(User.__table__), rows[start:start + 2000])  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def measure_echo(workdir: Path) -> tuple[float, float]:
    async with flow.BenchAPI(settle=0.005, timeout=30) as api:
        log = workdir / "echo.log"
        proc = await flow.start_process([sys.executable, str(flow.ROOT / "bench" / "echo_bot.py"), "--api-base",
                                         api.base_url, "--token", TOKEN], {**os.environ, "PYTHONUNBUFFERED": "1"}, log)
        try:
            await flow.wait_polling(api, proc, log)
            await asyncio.sleep(1.0)
            return memory(proc.pid)
        finally:
            await flow.stop_process(proc)


async def measure_bot(args: argparse.Namespace, workdir: Path) -> dict[str, tuple[float, float]]:
    url = args.database or f"sqlite:///{workdir / 'memory-bench.db'}"
    await register(url, args.users)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOT_TOKEN": TOKEN, "DATABASE_URL": url,
           "PLAYBOOKS_DIR": str(flow.ROOT / "playbooks"), "MOMENTS_CONFIG": str(flow.ROOT / "config.yaml")}
    env.pop("MOMENTS_ADMINS", None)
    figures: dict[str, tuple[float, float]] = {}
    async with flow.BenchAPI(settle=0.005, timeout=30) as api:
        log = workdir / "bot.log"
        proc = await flow.start_process([sys.executable, "-m", "bot.cli", "run"],
                                        {**env, "TELEGRAM_API_BASE": api.base_url}, log)
        try:
            await flow.wait_polling(api, proc, log)
            await asyncio.sleep(1.0)
            figures["started, idle"] = memory(proc.pid)
            # Half-way through a playbook: the free text and the first answer (two of a decision's eight actions).
            steps = flow.BOT_STEPS[:2]
            options = argparse.Namespace(think=0.0, timeout=30.0, settle=0.005, rng=random.Random(1))
            stats = flow.Stats()
            users = [api.user(FIRST_ID + i, f"Staff {i}") for i in range(args.mid_flow)]
            gate = asyncio.Semaphore(50)  # 50 staff typing at once, as in bench/flow.py

            async def one(user: object) -> None:
                async with gate:
                    await flow.run_user(api, user, steps, 1, stats, options)  # type: ignore[arg-type]

            await asyncio.gather(*(one(u) for u in users))
            await asyncio.sleep(1.0)
            figures[f"{args.mid_flow} conversations mid-flow"] = memory(proc.pid)
            if stats.failures:
                print(f"  {len(stats.failures)} users did not get there, first: {stats.failures[0]}")
            print(f"  {stats.actions} actions answered; errors from the stand-in: {len(api.errors)}")
        finally:
            code = await flow.stop_process(proc)
            if code != 0:
                print(f"  the bot exited with {code}; log tail:\n{log.read_text(errors='replace')[-1500:]}")
    return figures


async def main_async(args: argparse.Namespace) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}, {flow.git_state()}, "
          f"{args.users} registered users, {args.mid_flow} conversations mid-flow, "
          f"database {'given' if args.database else 'SQLite in a temp dir'}")
    with tempfile.TemporaryDirectory(prefix="moments-memory-") as tmp:
        workdir = Path(tmp)
        echo_rss, echo_peak = await measure_echo(workdir)
        bot = await measure_bot(args, workdir)
    print(f"\n  {'process':<40} {'RSS MB':>8} {'peak MB':>8} {'÷ echo':>7}")
    print(f"  {'echo bot (bare aiogram)':<40} {echo_rss:8.1f} {echo_peak:8.1f} {1:7.2f}")
    for name, (rss, peak) in bot.items():
        print(f"  {'moments run: ' + name:<40} {rss:8.1f} {peak:8.1f} {rss / echo_rss:7.2f}")
    worst = max(peak for _, peak in bot.values())
    print(f"\n  target: < 300 MB per process; peak seen {worst:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--mid-flow", type=int, default=1_000)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file in a temp dir)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
