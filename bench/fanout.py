"""Training fan-out: 1,500 people due at the same moment, a kill -9 halfway, a restart; against a rate limit.

The local Bot API stand-in accepts at most `--limit` (50) sendMessage calls in any one second and answers
429 (retry_after 1) above it, as Telegram's flood control does. The real bot, `python -m bot.cli run`, runs as a
subprocess with a temp config (training.messages_per_second `--rate`, stale_claim_seconds `--stale`) on a
fresh SQLite database seeded with `--people` staff who have started the bot, one training card, and one
delivery per person (kind "push", slot "push:bench") inserted with storage.deliveries.insert_deliveries.
When `--kill-at` (half) of them have been accepted by the stand-in, the bot gets SIGKILL at a random moment
within the next second; it is started again and runs until every row is final (or `--timeout`).

Reported per run: messages/s while sending (each process's first to last accepted send) as a ratio of the
limit (target >= 0.9), 429s, duplicates (a chat that got the card twice; target 0), missing (a chat that got
nothing; target 0), the rows' final statuses, and the rows left 'sending' at the kill: those are re-sent
after the restart, and the ones whose request had already reached the stand-in become duplicates.

    .venv/bin/python bench/fanout.py                 # 1,500 people, one run: about 45 s
    .venv/bin/python bench/fanout.py --quick         # 300 people
    .venv/bin/python bench/fanout.py --runs 5        # how often a kill leaves a duplicate
    .venv/bin/python bench/fanout.py --rate 50       # pace exactly at the limit: see bench/README.md

Exit status 0 whatever the figures (targets are reported, not asserted); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bot.devtools.botapi import BotAPIStandIn  # noqa: E402
from storage import deliveries  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.deliveries import NewDelivery  # noqa: E402
from storage.models import Team, TrainingDelivery, User  # noqa: E402
from storage.types import utcnow  # noqa: E402

TOKEN = "123456:STAND-IN-TOKEN"
FIRST_TELEGRAM_ID = 800_000_001
SLOT = "push:bench"
FINAL = ("sent", "blocked", "failed", "cancelled")


# --- the stand-in, counting sends ------------------------------------------------------------------


@dataclass
class Send:
    at: float  # perf_counter when the stand-in answered
    chat_id: int
    status: int  # what it answered: 200, or 429 from the rate limit
    client_gone: bool  # the bot had died before the answer went out
    bot_cpu: float  # the bot process's CPU seconds so far


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CountingAPI(BotAPIStandIn):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sends: list[Send] = []
        self.accepted = 0
        self.reached = asyncio.Event()
        self.kill_after = 0
        self.bot_pid: int | None = None

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_method(request)
        if request.match_info.get("method", "").lower() == "sendmessage" and self.calls:
            call = self.calls[-1]  # appended by the call just handled, with nothing in between
            self.sends.append(Send(time.perf_counter(), call.chat_id or 0, response.status, call.status == 0,
                                   cpu_seconds(self.bot_pid)))
            if response.status == 200:
                self.accepted += 1
                if self.kill_after and self.accepted >= self.kill_after:
                    self.reached.set()
        return response


# --- the database --------------------------------------------------------------------------------


async def seed(url: str, people: int) -> tuple[str, list[int]]:
    """Staff in one team, the card set the bot itself would store, one delivery each; returns the card id
    and the Telegram ids."""
    db = Database(url)
    try:
        await db.create_tables()
        card_id = await store_cards(db)
        now = utcnow()
        async with db.engine.begin() as conn:
            team_id = (await conn.execute(insert(Team.__table__).values(name="bench", limits={})  # type: ignore[attr-defined]
                                          .returning(Team.__table__.c.id))).scalar_one()  # type: ignore[attr-defined]
            await conn.execute(insert(User.__table__), [  # type: ignore[attr-defined]
                {"telegram_id": FIRST_TELEGRAM_ID + i, "name": f"Staff{i}", "role": "staff", "team_id": team_id,
                 "language": "en", "active": True, "on_duty": False, "shift": {}, "created_at": now}
                for i in range(people)])
            users = (await conn.execute(select(User.__table__.c.id, User.__table__.c.telegram_id))).all()  # type: ignore[attr-defined]
        rows = [NewDelivery(int(user_id), card_id, SLOT, "push", int(telegram_id)) for user_id, telegram_id in users]
        started = time.perf_counter()
        added = await deliveries.insert_deliveries(db, rows)
        print(f"  seeded {people} people; insert_deliveries: {added} rows in "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        return card_id, [int(t) for _, t in users]
    finally:
        await db.dispose()


async def store_cards(db: Database) -> str:
    """The cards generated from the shipped playbooks, stored as the bot's start-up sync stores them (so that
    sync keeps them active); the first one is the bench's card. Without the generator: one card of our own."""
    try:
        from bot.core.loader import load_directory
        from bot.core.training.generate import cards_from_playbooks
        from storage.training import sync_cards
    except ImportError:
        return await own_card(db)
    playbooks, _ = load_directory(ROOT / "playbooks")
    cards = cards_from_playbooks(playbooks)
    async with db.session() as session:
        await sync_cards(session, cards)
    return cards[0].id


async def own_card(db: Database) -> str:
    from bot.core.text import Text
    from bot.core.training.card import Card, Choice
    from storage.models import TrainingCard

    card = Card(key="authored:bench", source="authored", question=Text({"en": "What do you do?"}),
                choices=(Choice(Text({"en": "Help"}), correct=True), Choice(Text({"en": "Wait"}))),
                why=Text({"en": "Because."}))
    async with db.engine.begin() as conn:
        await conn.execute(insert(TrainingCard.__table__).values(  # type: ignore[attr-defined]
            id=card.id, key=card.key, source=card.source, content=card.to_content(),
            content_hash=card.content_hash(), active=True, updated_at=utcnow()))
    return card.id


async def rows_by_status(db: Database) -> tuple[dict[str, int], list[int]]:
    """Rows per status, and the chats of rows still 'sending'."""
    found = await deliveries.counts(db)
    async with db.engine.connect() as conn:
        table = TrainingDelivery.__table__  # type: ignore[attr-defined]
        sending = (await conn.execute(select(table.c.chat_id).where(table.c.status == "sending"))).all()
    return found, [int(chat) for (chat,) in sending]


async def other_rows(db: Database) -> int:
    """Deliveries the bot added on its own (a scheduled tick): they would blur the counts."""
    async with db.engine.connect() as conn:
        table = TrainingDelivery.__table__  # type: ignore[attr-defined]
        return len((await conn.execute(select(table.c.id).where(table.c.slot != SLOT))).all())


# --- the bot -------------------------------------------------------------------------------------


def write_config(path: Path, args: argparse.Namespace) -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["training"] = {
        **(config.get("training") or {}),
        "messages_per_second": args.rate,
        "per_chat_seconds": 1,
        "senders": args.senders,
        "stale_claim_seconds": args.stale,
        # Nobody has a shift on record, and the default training day is not today (nor is a tick due within
        # the hour): the bot's own planner adds no rows, so every send is one of the bench's.
        "default_days": [(datetime.now(UTC).weekday() + 3) % 7],
        "tick_seconds": 3600,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


async def start_bot(env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    log = log_path.open("ab")
    try:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env,
                                                    stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL)
    finally:
        log.close()


async def stop_bot(proc: asyncio.subprocess.Process) -> int | None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
    return proc.returncode


def log_problems(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return [line[:160] for line in lines if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")]


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Phase:
    sends: list[Send]

    @property
    def accepted(self) -> list[Send]:
        return [s for s in self.sends if s.status == 200]

    @property
    def limited(self) -> int:
        return sum(1 for s in self.sends if s.status == 429)

    @property
    def span(self) -> float:
        ok = self.accepted
        return ok[-1].at - ok[0].at if len(ok) > 1 else 0.0

    @property
    def rate(self) -> float:
        return (len(self.accepted) - 1) / self.span if self.span else float("nan")

    @property
    def cpu_per_card_ms(self) -> float:
        ok = self.accepted
        return (ok[-1].bot_cpu - ok[0].bot_cpu) / (len(ok) - 1) * 1000 if len(ok) > 1 else float("nan")

    def explain_429s(self) -> list[str]:
        """For each 429: what the stand-in had accepted in the second before, and the smallest and largest gaps
        between those (a stall shows as a long gap followed by sends bunched together)."""
        lines = []
        for index, send in enumerate(self.sends):
            if send.status != 429:
                continue
            window = [s.at for s in self.sends[:index] if s.status == 200 and send.at - s.at < 1.0]
            gaps = [(b - a) * 1000 for a, b in itertools.pairwise(window)]
            lines.append(f"429: {len(window)} accepted in the second before; gaps between them "
                         f"{min(gaps, default=0):.1f}-{max(gaps, default=0):.1f} ms; "
                         f"{sum(1 for g in gaps if g < 10)} under 10 ms")
        return lines

    def gaps_ms(self) -> list[float]:
        ok = self.accepted
        return sorted((b.at - a.at) * 1000 for a, b in itertools.pairwise(ok))


@dataclass
class RunResult:
    before: Phase
    after: Phase
    received: Counter[int]
    people: int
    statuses: dict[str, int]
    sending_at_kill: int
    delivered_at_kill: int  # of those, chats the stand-in had already given the card
    exit_code: int | None
    problems: list[str] = field(default_factory=list)
    timed_out: bool = False
    restart_gap: float = 0.0
    others: int = 0

    @property
    def rate(self) -> float:
        spans = self.before.span + self.after.span
        sends = max(len(self.before.accepted) - 1, 0) + max(len(self.after.accepted) - 1, 0)
        return sends / spans if spans else float("nan")

    @property
    def duplicates(self) -> int:
        return sum(1 for n in self.received.values() if n > 1)

    @property
    def missing(self) -> int:
        return self.people - sum(1 for n in self.received.values() if n >= 1)


async def one_run(args: argparse.Namespace, workdir: Path, number: int) -> RunResult:
    url = f"sqlite:///{workdir / f'fanout-{number}.db'}"
    log_path = (args.logs or workdir) / f"bot-{number}.log"
    _, chats = await seed(url, args.people)
    config_path = workdir / "config.yaml"
    write_config(config_path, args)
    db = Database(url)  # the bench's own reads, one engine for the whole run
    async with CountingAPI(token=TOKEN, timeout=args.timeout) as api:
        api.faults.rate_limit("sendMessage", per_second=args.limit, retry_after=1)
        for chat in chats:
            api.user(chat, f"Staff{chat}", started=True)
        api.kill_after = max(1, round(args.people * args.kill_at))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "MOMENTS_", "DATABASE_"))}
        env.update({"BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": api.base_url, "DATABASE_URL": url,
                    "PLAYBOOKS_DIR": str(ROOT / "playbooks"), "MOMENTS_CONFIG": str(config_path),
                    "PYTHONUNBUFFERED": "1"})
        first = await start_bot(env, log_path)
        api.bot_pid = first.pid
        died = asyncio.ensure_future(first.wait())
        reached = asyncio.ensure_future(api.reached.wait())
        await asyncio.wait({died, reached}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
        if died.done():
            tail = log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"the bot exited ({first.returncode}) before the kill:\n{tail}")
        # At a random moment within the next second: killing right as a send is accepted would catch that
        # very send between "delivered" and "marked sent" every time, which is not what a crash looks like.
        await asyncio.sleep(args.rng.uniform(0, 1.0))
        if first.returncode is None:
            first.send_signal(signal.SIGKILL)  # mid-flight: whatever the bot was doing is cut off here
        await first.wait()
        for task in (died, reached):
            task.cancel()
        killed_at = time.perf_counter()
        before = Phase(list(api.sends))
        _, sending = await rows_by_status(db)
        delivered = {s.chat_id for s in before.accepted}
        delivered_at_kill = sum(1 for chat in sending if chat in delivered)

        second = await start_bot(env, log_path)
        api.bot_pid = second.pid
        deadline = time.perf_counter() + args.timeout
        timed_out = False
        while True:
            statuses, _ = await rows_by_status(db)
            if statuses["pending"] == 0 and statuses["sending"] == 0:
                break
            if time.perf_counter() > deadline or second.returncode is not None:
                timed_out = True
                break
            await asyncio.sleep(0.25)
        code = await stop_bot(second)
        after = Phase([s for s in api.sends[len(before.sends):]])
        received = Counter({chat: len(api.user(chat).messages) for chat in chats})
        others = await other_rows(db)
    await db.dispose()
    gap = after.accepted[0].at - killed_at if after.accepted else float("nan")
    return RunResult(before, after, received, args.people, statuses, len(sending), delivered_at_kill, code,
                     log_problems(log_path), timed_out, gap, others)


def report(number: int, r: RunResult, limit: int, verbose: bool = False) -> None:
    print(f"\n== run {number} ==")
    for name, phase in (("before the kill", r.before), ("after the restart", r.after)):
        print(f"  {name}: {len(phase.accepted)} cards accepted in {phase.span:.2f} s = {phase.rate:.1f} msg/s, "
              f"{phase.limited} x 429, bot CPU {phase.cpu_per_card_ms:.1f} ms per card")
        if verbose:
            for line in phase.explain_429s():
                print(f"    {line}")
        gaps = phase.gaps_ms()
        if verbose and gaps:
            picks = ", ".join(f"p{q} {gaps[min(len(gaps) - 1, len(gaps) * q // 100)]:.1f}" for q in (10, 50, 90, 99))
            print(f"    gaps between accepted sends (ms): {picks}, max {gaps[-1]:.1f}")
    print(f"  while sending: {r.rate:.1f} msg/s = {r.rate / limit:.3f} of the {limit}/s limit (target >= 0.9)")
    gone = sum(1 for s in r.before.sends if s.client_gone)
    print(f"  at the kill: {r.sending_at_kill} rows 'sending'; the stand-in had already delivered "
          f"{r.delivered_at_kill} of them (re-sending those makes duplicates); {gone} answered after the bot died")
    print(f"  kill -> first card from the restarted bot: {r.restart_gap:.1f} s (start-up, then claims once stale)")
    print(f"  duplicates: {r.duplicates} (target 0); missing: {r.missing} (target 0); 429s: "
          f"{r.before.limited + r.after.limited}")
    print("  final rows: " + ", ".join(f"{k} {v}" for k, v in r.statuses.items() if v))
    if r.others:
        print(f"  note: the bot added {r.others} deliveries of its own")
    if r.timed_out:
        print("  TIMED OUT before every row was final")
    if r.exit_code != 0:
        print(f"  the restarted bot exited with {r.exit_code}")
    for line in r.problems[:5]:
        print(f"  bot log: {line}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Training fan-out against a rate-limited Bot API stand-in, with a "
                                            "kill -9 halfway.")
    p.add_argument("--people", type=int, default=1500)
    p.add_argument("--quick", action="store_true", help="300 people")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--limit", type=int, default=50, help="sendMessage calls the stand-in accepts per second")
    p.add_argument("--rate", type=float, default=48.0, help="the bot's training.messages_per_second")
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--stale", type=int, default=2, help="the bot's training.stale_claim_seconds")
    p.add_argument("--kill-at", type=float, default=0.5, help="kill when this share has been accepted")
    p.add_argument("--timeout", type=float, default=300.0, help="per process (s)")
    p.add_argument("--logs", type=Path, help="keep the bot's logs in this folder")
    p.add_argument("--verbose", action="store_true", help="percentiles of the gaps between accepted sends")
    p.add_argument("--seed", type=int, default=1, help="for the moment of the kill")
    args = p.parse_args(argv)
    if args.quick:
        args.people = 300
    args.rng = random.Random(args.seed)
    if args.people < 2 or args.runs < 1 or not 0 < args.kill_at < 1:
        p.error("--people >= 2, --runs >= 1 and 0 < --kill-at < 1")
    return args


async def main_async(args: argparse.Namespace) -> int:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, Python {sys.version.split()[0]}, "
          f"{args.people} people, stand-in limit {args.limit}/s (429 retry_after 1 above it), bot "
          f"messages_per_second {args.rate:g}, senders {args.senders}, stale_claim_seconds {args.stale}, kill at "
          f"{args.kill_at:.0%}, load average {os.getloadavg()[0]:.2f}")
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="moments-fanout-") as tmp:
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
        for number in range(1, args.runs + 1):
            result = await one_run(args, Path(tmp), number)
            report(number, result, args.limit, args.verbose)
            results.append(result)
    if len(results) > 1:
        print(f"\n== {len(results)} runs ==")
        rates = [r.rate / args.limit for r in results]
        print(f"  ratio to the limit: min {min(rates):.3f}, max {max(rates):.3f}")
        print(f"  429s: {sum(r.before.limited + r.after.limited for r in results)}; missing: "
              f"{sum(r.missing for r in results)}")
        with_dup = sum(1 for r in results if r.duplicates)
        print(f"  duplicates: {sum(r.duplicates for r in results)} in {with_dup} of {len(results)} runs; rows "
              f"'sending' at the kill: {sum(r.sending_at_kill for r in results)}, already delivered: "
              f"{sum(r.delivered_at_kill for r in results)}")
    print("\nCaveat: delivery is at least once. A card whose request reached Telegram just before the process died"
          "\nis still 'sending' in the database and is sent again after the restart (at most `senders` per crash).")
    return 0


def main() -> None:
    sys.exit(asyncio.run(main_async(parse_args())))


if __name__ == "__main__":
    main()
