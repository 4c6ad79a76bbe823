"""How long `moments run` takes from spawn to its first getUpdates, next to the bare aiogram echo bot.

Every end-to-end test and `moments demo` start the bot as a process, so start-up time is most of the e2e
suite's time. Each run spawns a fresh process against a fresh stand-in (and, for the bot, a fresh SQLite file:
migrations, the playbooks folder synced in, templates compiled), and times until the stand-in sees the first
long poll. The echo bot (bench/echo_bot.py) is the baseline: Python plus aiogram's own import. Also timed: a
bare `python -c "import aiogram"`. Runs alternate bot / echo / import so that noise hits all three alike.

    .venv/bin/python bench/startup.py             # 5 runs of each
    .venv/bin/python bench/startup.py --runs 9
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flow import BenchAPI, git_state, start_process, stop_process, wait_polling  # noqa: E402

TOKEN = "123456:STAND-IN-TOKEN"


async def time_to_poll(argv: list[str], env: dict[str, str], log: Path) -> float:
    async with BenchAPI(settle=0.005, timeout=60) as api:
        started = time.perf_counter()
        proc = await start_process([*argv, *(["--api-base", api.base_url] if "echo_bot.py" in argv[1] else [])],
                                   {**env, "TELEGRAM_API_BASE": api.base_url}, log)
        try:
            await wait_polling(api, proc, log)
            return time.perf_counter() - started
        finally:
            await stop_process(proc)


def time_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import aiogram, aiogram.types"], check=True)
    return time.perf_counter() - started


async def main_async(args: argparse.Namespace) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, {git_state()}, "
          f"load average {os.getloadavg()[0]:.2f}, {args.runs} runs each")
    py = sys.executable
    times: dict[str, list[float]] = {"moments run": [], "echo bot": [], "import aiogram": []}
    with tempfile.TemporaryDirectory(prefix="moments-startup-") as tmp:
        base = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for run in range(args.runs):
            env = {**base, "BOT_TOKEN": TOKEN, "DATABASE_URL": f"sqlite:///{tmp}/run{run}.db",
                   "PLAYBOOKS_DIR": str(ROOT / "playbooks"), "MOMENTS_CONFIG": str(ROOT / "config.yaml")}
            times["moments run"].append(await time_to_poll([py, "-m", "bot.cli", "run"], env, Path(tmp) / "bot.log"))
            times["echo bot"].append(await time_to_poll([py, str(ROOT / "bench" / "echo_bot.py"), "--token", TOKEN],
                                                        base, Path(tmp) / "echo.log"))
            times["import aiogram"].append(time_import())
    echo = statistics.median(times["echo bot"])
    print(f"{'':16} {'median':>8} {'min':>8} {'max':>8}  ratio to the echo")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:16} {median:7.2f}s {min(values):7.2f}s {max(values):7.2f}s  {median / echo:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
