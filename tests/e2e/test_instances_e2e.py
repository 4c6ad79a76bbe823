"""Several processes on one database: a `moments run --webhook` with its scheduler off, and one `moments scheduler`.

Timers set anywhere (here: by this test's own paused scheduler, as a bot process sets them) are written to the
shared job store and run exactly once, by the scheduler process.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bot import scheduler
from bot.devtools.botapi import BotAPIStandIn
from storage.db import Database
from storage.types import utcnow
from tests.e2e.conftest import MOMENTS, ROOT, TOKEN, BotProcess, assert_no_tracebacks, free_port, print_log_tails

MARK = "tests.e2e.test_instances_e2e:mark"


async def mark(path: str, tag: str) -> None:
    """The test-only job: one line per run, with the process that ran it."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{tag} {os.getpid()}\n")


async def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def drop_job_store(database_url: str) -> None:
    """The job store is not in the models' metadata, so the PostgreSQL fixture leaves it: empty it before and
    after, or the standing jobs `moments scheduler` sets would show up in the other scheduler tests."""
    if database_url.startswith("postgresql"):
        db = Database(database_url)
        async with db.engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE IF EXISTS {scheduler.JOBS_TABLE}"))
        await db.dispose()


async def test_two_processes_run_each_timer_exactly_once(database_url: str, tmp_path: Path) -> None:
    await drop_job_store(database_url)
    marks = tmp_path / "marks.txt"
    env = {"PYTHONPATH": str(ROOT)}  # the subprocesses import the job above
    api = BotAPIStandIn(TOKEN, timeout=20, settle=0.1)
    await api.start()
    bot = BotProcess(api, database_url, tmp_path / "bot.log", webhook_port=free_port(),
                     extra_env={**env, "MOMENTS_SCHEDULER": "false", "MOMENTS_SHUTDOWN_TIMEOUT": "10"})
    sched = BotProcess(api, database_url, tmp_path / "scheduler.log",
                       extra_env={**env, "MOMENTS_SCHEDULER_WAKEUP": "0.3"})
    sched_proc: asyncio.subprocess.Process | None = None
    try:
        await bot.start()
        with sched.log_path.open("ab") as log:
            sched_proc = await asyncio.create_subprocess_exec(str(MOMENTS), "scheduler", cwd=ROOT, env=sched.env(),
                                                              stdout=log, stderr=log)
        await wait_until(lambda: "Moments scheduler is running" in sched.log_path.read_text(errors="replace"),
                         30, "the scheduler process to start")
        assert sched_proc.returncode is None

        # Timers set after both processes started, as a bot process sets them: in the shared store only.
        scheduler.start(None, database_url, paused=True)
        try:
            now = utcnow()
            for n in range(3):
                scheduler.schedule_at(MARK, now + timedelta(seconds=1 + n / 2), f"e2e-once-{n}",
                                      path=str(marks), tag=f"t{n}")
            scheduler.schedule_at(MARK, now + timedelta(seconds=1), "e2e-cancelled", path=str(marks), tag="no")
            assert scheduler.cancel("e2e-cancelled")
            await wait_until(lambda: marks.exists() and len(marks.read_text().splitlines()) >= 3, 15,
                             "three timers to fire")
            await asyncio.sleep(1.5)  # room for a second run, if a process were to make one
            lines = sorted(marks.read_text().splitlines())
            assert [line.split()[0] for line in lines] == ["t0", "t1", "t2"]
            assert {int(line.split()[1]) for line in lines} == {sched_proc.pid}
            assert not any(job.startswith("e2e-") for job in scheduler.job_ids())  # one-off jobs: removed once run
        finally:
            await scheduler.shutdown()
    finally:
        if sched_proc is not None and sched_proc.returncode is None:
            sched_proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(sched_proc.wait(), 15)
        await bot.stop()
        await api.stop()
        await drop_job_store(database_url)
        print_log_tails(bot.log_path, sched.log_path)
    assert sched_proc.returncode == 0
    assert_no_tracebacks(bot.log_path, sched.log_path)
