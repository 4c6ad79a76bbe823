"""One team-week digest (figures in SQL + the template + the CSV) at 100,000 and at 1,000,000 decisions, the
team-week itself the same size in both.

    .venv/bin/python bench/digest.py            # --small 100000 --large 1000000 --teams-small 5 --teams-large 50

Seeds a SQLite file with storage/seed.py (the seeder of `moments seed-demo`: the shipped playbooks, Core
executemany in batches on the synchronous driver) over `--weeks` weeks: first `small` decisions over
`teams-small` teams, then the rest over further teams up to `teams-large`. Every team gets the same number of
decisions, and the measured team's rows are not touched by the second step: the measured team-week is identical
at both sizes, only the table around it grows. So the ratio large/small shows whether the cost follows the
team-week or the table (target ≤ 1.5). Builds the digest of that team-week 5 times, reports the median, the peak
memory of the digest (tracemalloc) and of the process (ru_maxrss); the chart is timed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Config
from bot.core.digest import parse_week
from bot.core.loader import load_directory
from bot.handlers.digest import build
from bot.ui import digest as ui
from bot.ui.digest_chart import render_chart
from bot.ui.render import Renderer
from storage import digest as store
from storage import seed
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
END = date(2026, 11, 23)  # a Monday: 52 weeks from 2025-W48 to 2026-W47
WEEK = "2026-W47"
TEAM = seed.team_name(1)  # rome-001, Europe/Rome


async def create(url: str) -> None:
    db = Database(url)
    await db.create_tables()
    await db.dispose()


def fill(url: str, decisions: int, teams: int, weeks: int, first_team: int) -> None:
    playbooks = load_directory(ROOT / "playbooks")[0]
    seed.seed(url, playbooks, decisions, defaults=Config().limits, teams=teams, weeks=weeks, seed=first_team,
              append=True, first_team=first_team, end=END)


async def time_digest(url: str, rounds: int = 5) -> tuple[float, float, float, int]:
    config = Config(database_url=url)
    renderer = Renderer("EUR")
    renderer.warm()
    db = Database(url)
    try:
        async with db.session() as session:
            team = await store.team_by_name(session, TEAM)
        assert team is not None
        week = parse_week(WEEK, team.timezone)
        times = []
        tracemalloc.start()
        for _ in range(rounds):
            began = time.perf_counter()
            digest = await build(db, renderer, config, team, week, "en", with_chart=False)
            times.append(time.perf_counter() - began)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        began = time.perf_counter()
        render_chart(digest.figures, ui.chart_labels(renderer, "en"))
        chart = time.perf_counter() - began
        assert digest.figures.totals.decisions > 0
        return statistics.median(times), peak, chart, digest.figures.totals.decisions
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--teams-small", type=int, default=5)
    parser.add_argument("--teams-large", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=52)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(create(url))
        began = time.perf_counter()
        fill(url, args.small, args.teams_small, args.weeks, 1)
        print(f"seeded {args.small:,} decisions over {args.teams_small} teams in {time.perf_counter() - began:.1f} s")
        small, small_peak, chart, rows = asyncio.run(time_digest(url))
        print(f"{args.small:>9,} rows: {TEAM} {WEEK} ({rows} decisions): digest {small * 1000:.0f} ms (median of 5), "
              f"peak traced {small_peak:.1f} MB, chart {chart * 1000:.0f} ms")
        began = time.perf_counter()
        fill(url, args.large - args.small, args.teams_large - args.teams_small, args.weeks, args.teams_small + 1)
        print(f"seeded up to {args.large:,} decisions over {args.teams_large} teams in "
              f"{time.perf_counter() - began:.1f} s more")
        large, large_peak, chart, rows = asyncio.run(time_digest(url))
        print(f"{args.large:>9,} rows: {TEAM} {WEEK} ({rows} decisions): digest {large * 1000:.0f} ms (median of 5), "
              f"peak traced {large_peak:.1f} MB, chart {chart * 1000:.0f} ms")
        print(f"ratio large/small: {large / small:.2f}; process peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
