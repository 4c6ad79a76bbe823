"""One team-week digest (figures in SQL + the template) at 100,000 and at 1,000,000 decisions.

    .venv/bin/python bench/digest.py            # --small 100000 --large 1000000 --teams 50 --weeks 52

Seeds a SQLite file with decisions spread over `teams` teams and `weeks` weeks (a bulk Core insert in batches,
one transaction each), then builds the digest of one team for one week, 5 times, and reports the median time,
the ratio large/small (the cost should follow the team-week, not the table: target ≤ 1.5) and the peak memory
of the digest (tracemalloc) and of the process (ru_maxrss). The chart is timed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert

from bot.config import Config
from bot.core.digest import make_week
from bot.handlers.digest import build
from bot.ui import digest as ui
from bot.ui.digest_chart import render_chart
from bot.ui.render import Renderer
from storage import digest as store
from storage.db import Database
from storage.models import Decision, Team, User

FIRST_MONDAY = datetime(2025, 11, 24, tzinfo=UTC)  # 2025-W48; 52 weeks later is 2026-W47
PLAYBOOKS = [("refund", "full-refund", "store-credit"), ("late-delivery", "voucher", "apology"),
             ("broken-item", "replace", "repair"), ("price-match", "match", "decline")]
BATCH = 50_000


async def create(url: str) -> None:
    db = Database(url)
    await db.create_tables()
    await db.dispose()


def seed(path: Path, decisions: int, teams: int, weeks: int, start_id: int = 0) -> None:
    """Fast: plain Core executemany in batches on the synchronous driver, no ORM objects."""
    engine = create_engine(f"sqlite:///{path}")
    rng = random.Random(start_id or 1)
    span = weeks * 7 * 24 * 3600
    with engine.begin() as conn:
        if start_id == 0:
            conn.execute(insert(Team.__table__), [{"name": f"team-{t}", "timezone": "Europe/Rome",  # type: ignore[attr-defined]
                                                  "currency": "EUR", "limits": {}, "created_at": FIRST_MONDAY}
                                                 for t in range(1, teams + 1)])
            conn.execute(insert(User.__table__), [{"telegram_id": 10_000 + u, "name": f"Person {u}",  # type: ignore[attr-defined]
                                                  "role": "staff", "team_id": u % teams + 1, "language": "en",
                                                  "active": True, "on_duty": False, "shift": {},
                                                  "created_at": FIRST_MONDAY} for u in range(teams * 20)])
    table = Decision.__table__  # type: ignore[attr-defined]
    done = 0
    while done < decisions:
        rows = []
        for i in range(done, min(decisions, done + BATCH)):
            user = rng.randrange(teams * 20)
            playbook, good, other = rng.choice(PLAYBOOKS)
            kind = rng.random()
            disposition = "followed" if kind < 0.75 else ("other" if kind < 0.92 else "escalated")
            amount = rng.choice([None, rng.randrange(100, 12000)])
            rows.append({
                "flow_token": f"b{start_id + i}", "user_id": user + 1, "team_id": user % teams + 1,
                "created_at": FIRST_MONDAY + timedelta(seconds=rng.randrange(span)),
                "playbook_id": playbook, "playbook_version": "1",
                "path": [{"step": "first", "answer": "a"}, {"step": "last", "answer": "b"}],
                "recommended_outcome": good, "taken_outcome": good if disposition == "followed" else other,
                "taken_text": None, "disposition": disposition, "followed": disposition == "followed",
                "favours_customer": rng.random() < 0.6, "amount_minor": amount, "currency": "EUR",
                "limit_minor": 5000, "over_limit": bool(amount and amount > 5000),
                "note": rng.choice([None, "customer <upset> & loud", "regular, asked nicely"]),
                "reaction": rng.choice([None, "happy", "neutral", "unhappy"]),
                "seconds_to_decide": rng.uniform(5, 300), "backs": 0,
                "escalation": "approved" if disposition == "escalated" else None, "lead_user_id": None,
                "on_timeout": False,
            })
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
        done += len(rows)
    engine.dispose()


async def time_digest(url: str, rounds: int = 5) -> tuple[float, float, float]:
    config = Config(database_url=url)
    renderer = Renderer("EUR")
    renderer.warm()
    db = Database(url)
    try:
        async with db.session() as session:
            team = await store.team_by_name(session, "team-7")
        assert team is not None
        week = make_week(2026, 47, "Europe/Rome")
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
        return statistics.median(times), peak, chart
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=52)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        url = f"sqlite:///{path}"
        asyncio.run(create(url))
        began = time.perf_counter()
        seed(path, args.small, args.teams, args.weeks)
        print(f"seeded {args.small:,} decisions in {time.perf_counter() - began:.1f} s")
        small, small_peak, chart = asyncio.run(time_digest(url))
        print(f"{args.small:>9,} rows: digest {small * 1000:.0f} ms (median of 5), peak traced {small_peak:.1f} MB, "
              f"chart {chart * 1000:.0f} ms")
        began = time.perf_counter()
        seed(path, args.large - args.small, args.teams, args.weeks, start_id=args.small)
        print(f"seeded up to {args.large:,} decisions in {time.perf_counter() - began:.1f} s more")
        large, large_peak, chart = asyncio.run(time_digest(url))
        print(f"{args.large:>9,} rows: digest {large * 1000:.0f} ms (median of 5), peak traced {large_peak:.1f} MB, "
              f"chart {chart * 1000:.0f} ms")
        print(f"ratio large/small: {large / small:.2f}; process peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
