"""Whole decisions by many staff at once, against the local Bot API stand-in, next to a bare echo bot.

N simulated staff (concurrent, closed loop: each acts as soon as it has seen the bot's answer) run
complete decisions -- free text "customer lost the receipt and wants money back" -> "Yes, or I can't
tell" -> "Yes, found it" -> "Unused, can be sold again" -> "Done as suggested" -> amount "20" ->
"Skip" (note) -> "Skip" (reaction) -> "Decision #..." -- against the real bot, `python -m bot.cli run`
(= `moments run`) in a subprocess. In the same run, the same number of users send the same sequence
of actions (2 messages and 6 presses per decision) to a bare aiogram echo bot (bench/echo_bot.py),
also a subprocess, over a fresh stand-in. See bench/README.md for why subprocesses, and the figures.

Latency is measured from a user's action (the update queued at the stand-in) to the first Bot API
request the bot makes for that chat ("first response"), and to the end of the last request that
completes the expected screen ("screen ready"). The stand-in's settle window is not counted: the
bench waits per chat (expected screen shown, no request for the chat in flight, then `--settle` of
quiet for that chat) instead of SimUser's global quiet rule, which would lock-step 50 users.

    .venv/bin/python bench/flow.py                  # 50 users x 3 decisions, closed loop, ~35 s
    .venv/bin/python bench/flow.py --quick          # 10 users x 1 decision
    .venv/bin/python bench/flow.py --think 2 --decisions-per-user 1   # staff pausing ~2 s between taps
    .venv/bin/python bench/flow.py --only bot --sample                # where the bot's CPU goes
    .venv/bin/python bench/flow.py --only bot --what-if gc-freeze     # try a suggested fix (bench only)
    .venv/bin/python bench/flow.py --database postgresql://user@host/db
    .venv/bin/python bench/flow.py --database sqlite --database postgresql://user@host/db   # both, one run
    .venv/bin/python bench/flow.py --database sqlite --database postgresql://user@host/db --webhook-processes 2

`--webhook-processes N` adds a phase with README's several-instances shape: N `moments run --webhook
--no-scheduler` processes and one `moments scheduler` on PostgreSQL, behind bench/proxy.py (round robin), the one
address the stand-in's webhook posts to; delivered as Telegram does, one update at a time per chat and at most
max_connections at once. The echo baseline stays one polling process.

Exit status 0 whatever the figures (targets are reported, not asserted); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import contextvars
import io
import os
import pstats
import random
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.devtools.botapi import BotAPIStandIn, SimUser  # noqa: E402
from storage import people  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Decision, ProcessedUpdate, User  # noqa: E402

REFUND_QUERY = "customer lost the receipt and wants money back"
FIRST_USER_ID = 700_000_001
WARMUP_USER_ID = 700_000_000
_METHOD: contextvars.ContextVar[str] = contextvars.ContextVar("bench_method", default="?")


# --- the stand-in, instrumented -----------------------------------------------------------------------


@dataclass
class ChatTrack:
    """Timing of the current action of one simulated user, fed by the stand-in's request hooks."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    t0: float = 0.0  # when the action's update was queued
    first: float | None = None  # start of the first bot request for this chat after t0
    first_method: str = ""
    last_end: float = 0.0  # end of the latest bot request for this chat
    in_flight: int = 0
    callback_id: str = ""
    fetched: float | None = None  # when getUpdates handed the action's update to the bot


class BenchAPI(BotAPIStandIn):
    """The stand-in unchanged, plus per-chat timestamps; actions return at once (no global settle)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracks: dict[int, ChatTrack] = {}
        # Webhook mode, delivered as Telegram does (the stand-in itself POSTs every queued update at once):
        # one update at a time per chat, in order, and at most setWebhook's max_connections POSTs in flight.
        self._waiting: collections.deque[Any] = collections.deque()
        self._chats_posting: set[int] = set()
        self.max_posts_in_flight = 0

    async def _push_updates(self) -> None:
        while self.webhook_url and not self._closing:
            self._waiting.extend(self.queue.pop_for_push())
            # A failed POST comes back through the queue behind newer updates: ids give each chat's order back.
            self._waiting = collections.deque(sorted(self._waiting, key=lambda item: item.update_id))
            self._launch_posts()
            self.notify()  # waiters of updates the allowed_updates filter dropped
            await self._changed_or_timeout(1.0)

    def _launch_posts(self) -> None:
        limit = int(self.webhook.get("max_connections") or 40)
        held: list[Any] = []
        while self._waiting and len(self._posts) < limit:
            item = self._waiting.popleft()
            body = item.update.get(next((k for k in item.update if k != "update_id"), ""), {})
            chat = (body.get("chat") or body.get("from") or {}).get("id") if isinstance(body, dict) else None
            if chat is not None and (chat in self._chats_posting or any(chat == c for c, _ in held)):
                held.append((chat, item))  # this chat's previous update is still being posted
                continue
            if chat is not None:
                self._chats_posting.add(chat)
            user = self._chat_of(item.update)
            if user is not None and user.id in self.tracks and self.tracks[user.id].fetched is None:
                self.tracks[user.id].fetched = time.perf_counter()
            task = asyncio.create_task(self._post_one(item, chat))
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)
            self.max_posts_in_flight = max(self.max_posts_in_flight, len(self._posts))
        self._waiting.extendleft(item for _, item in reversed(held))

    async def _post_one(self, item: Any, chat: int | None) -> None:
        try:
            await self._post_update(item, self.webhook_url, self._webhook_epoch)
        finally:
            self._chats_posting.discard(chat)  # type: ignore[arg-type]
            self._posts.discard(asyncio.current_task())  # type: ignore[arg-type]  # now, not in a later callback
            self.notify()  # the pusher launches what waited for this chat or for a free connection

    def track(self, chat_id: int) -> ChatTrack:
        return self.tracks.setdefault(chat_id, ChatTrack())

    async def deliver(self, user: SimUser | None, payload: dict[str, Any], *, expect_answer: bool,
                      timeout: float | None) -> dict[str, Any]:
        item = self.queue.push(payload)
        if user is not None:
            tr = self.track(user.id)
            tr.t0 = time.perf_counter()
            tr.first = None
            tr.first_method = ""
            tr.fetched = None
            tr.callback_id = payload.get("callback_query", {}).get("id", "")
        self.notify()
        return item.update

    def _mark_delivered(self, batch: list[Any]) -> None:
        now = time.perf_counter()
        for item in batch:
            user = self._chat_of(item.update)
            if user is not None and user.id in self.tracks and self.tracks[user.id].fetched is None:
                self.tracks[user.id].fetched = now
        super()._mark_delivered(batch)

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        token = _METHOD.set(request.match_info.get("method", "?"))
        try:
            return await super()._handle_method(request)
        finally:
            _METHOD.reset(token)

    @contextlib.contextmanager
    def _activity(self, chat_id: int | None) -> Iterator[None]:
        tr = self.tracks.get(chat_id) if chat_id is not None else None
        if tr is not None:
            now = time.perf_counter()
            tr.in_flight += 1
            if tr.first is None and tr.t0:
                tr.first, tr.first_method = now, _METHOD.get()
        try:
            with super()._activity(chat_id):
                yield
        finally:
            if tr is not None:
                tr.in_flight -= 1
                tr.last_end = time.perf_counter()
                tr.event.set()


# --- what users do and what they expect to see ----------------------------------------------------


@dataclass
class Ctx:
    before_latest: int  # latest bot message id before the action
    before_keyboard: int  # latest bot message with buttons before the action
    callback_id: str = ""


Check = Callable[[SimUser, Ctx], bool]


@dataclass(frozen=True)
class Step:
    kind: str  # "send" | "press"
    arg: str
    done: Check  # the expected screen is there (the bot has answered this action completely)
    first_method: str  # the request we expect to come first, to check the attribution


def _screen(user: SimUser) -> Any:
    messages = user.messages
    return messages[-1] if messages else None


def _shows(text: str, button: str | None = None) -> Check:
    def check(user: SimUser, ctx: Ctx) -> bool:
        screen = _screen(user)
        return screen is not None and text in screen.text and (button is None or button in screen.labels)
    return check


def _pressed(check: Check) -> Check:
    def both(user: SimUser, ctx: Ctx) -> bool:
        callback = user._api.callbacks.get(ctx.callback_id)  # type: ignore[attr-defined]
        return callback is not None and callback.answer is not None and check(user, ctx)
    return both


def _new_screen_old_keyboard_gone(text: str) -> Check:
    """A typed answer: a new message, and the buttons taken off the previous live one."""
    def check(user: SimUser, ctx: Ctx) -> bool:
        screen = _screen(user)
        old = user.history.get(ctx.before_keyboard)
        return (screen is not None and screen.message_id > ctx.before_latest and text in screen.text
                and (old is None or not old.labels))
    return check


BOT_STEPS = [
    Step("send", REFUND_QUERY, _shows("Is it something we sell", "Yes, or I can't tell"), "sendMessage"),
    Step("press", "Yes, or I can't tell", _pressed(_shows("", "Yes, found it")), "answerCallbackQuery"),
    Step("press", "Yes, found it", _pressed(_shows("", "Unused, can be sold again")), "answerCallbackQuery"),
    Step("press", "Unused, can be sold again", _pressed(_shows("", "✅ Done as suggested")), "answerCallbackQuery"),
    Step("press", "✅ Done as suggested", _pressed(_shows("how much did it cost")), "answerCallbackQuery"),
    Step("send", "20", _new_screen_old_keyboard_gone("Add a one-line note"), "sendMessage"),
    Step("press", "Skip", _pressed(_shows("How did the customer react?")), "answerCallbackQuery"),
    Step("press", "Skip", _pressed(_shows("Decision #")), "answerCallbackQuery"),
]


def _echoed(user: SimUser, ctx: Ctx) -> bool:
    screen = _screen(user)
    return screen is not None and screen.message_id > ctx.before_latest and screen.labels == ["One", "Two", "Three"]


def _edited(user: SimUser, ctx: Ctx) -> bool:
    screen = _screen(user)
    return screen is not None and screen.text.endswith(f"({ctx.callback_id})")


# The same shape as a decision: message, 4 presses, message, 2 presses.
ECHO_STEPS = [
    Step("send", REFUND_QUERY, _echoed, "sendMessage"),
    *(Step("press", label, _pressed(_edited), "answerCallbackQuery") for label in ("One", "Two", "Three", "One")),
    Step("send", "20", _echoed, "sendMessage"),
    *(Step("press", label, _pressed(_edited), "answerCallbackQuery") for label in ("Two", "Three")),
]


class StepFailed(Exception):
    pass


@dataclass
class Stats:
    first_ms: list[float] = field(default_factory=list)
    ready_ms: list[float] = field(default_factory=list)
    fetch_ms: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    actions: int = 0
    decisions: int = 0
    confirmations: int = 0
    confirmed: list[tuple[int, int]] = field(default_factory=list)  # (user, decision number shown to them)
    misattributed: int = 0
    failures: list[str] = field(default_factory=list)


async def wait_done(api: BenchAPI, user: SimUser, step: Step, ctx: Ctx, timeout: float, settle: float) -> None:
    tr = api.track(user.id)
    deadline = time.perf_counter() + timeout
    while True:
        now = time.perf_counter()
        if tr.first is not None and tr.in_flight == 0 and step.done(user, ctx):
            quiet = now - tr.last_end
            if quiet >= settle:
                return
            wait = settle - quiet
        else:
            wait = deadline - now
        if now >= deadline:
            screen = _screen(user)
            raise StepFailed(f"user {user.id}: no complete answer to {step.kind} {step.arg!r} within {timeout}s; "
                             f"screen: {screen.text[:80] if screen else None!r} {screen.labels if screen else []}")
        tr.event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tr.event.wait(), min(wait, deadline - now))


async def run_user(api: BenchAPI, user: SimUser, steps: list[Step], decisions: int, stats: Stats,
                   args: argparse.Namespace, stagger: bool = False) -> None:
    """One staff member's decisions, action after action; with --think, random pauses (exponential, so
    the users' actions arrive like a Poisson stream, not in waves) and a random start within one pause."""
    tr = api.track(user.id)
    if stagger and args.think:
        await asyncio.sleep(args.rng.uniform(0, args.think))
    for _ in range(decisions):
        for step in steps:
            messages = user.messages
            keyboards = [m for m in messages if m.labels]
            ctx = Ctx(messages[-1].message_id if messages else 0, keyboards[-1].message_id if keyboards else 0)
            try:
                if step.kind == "send":
                    await user.send(step.arg)
                else:
                    await user.press(step.arg)
                ctx.callback_id = tr.callback_id if step.kind == "press" else ""
                await wait_done(api, user, step, ctx, args.timeout, args.settle)
            except (AssertionError, StepFailed) as problem:
                stats.failures.append(str(problem).splitlines()[0])
                return  # this user stops; the missing decisions show up in the DB check too
            assert tr.first is not None
            stats.first_ms.append((tr.first - tr.t0) * 1000)
            stats.by_step.setdefault(f"{step.kind} {step.arg!r}", []).append((tr.first - tr.t0) * 1000)
            stats.ready_ms.append((tr.last_end - tr.t0) * 1000)
            if tr.fetched is not None:
                stats.fetch_ms.append((tr.fetched - tr.t0) * 1000)
            stats.actions += 1
            if tr.first_method != step.first_method:
                stats.misattributed += 1
            if args.think:
                await asyncio.sleep(args.rng.expovariate(1 / args.think))
        stats.decisions += 1
        shown = re.search(r"Decision #(\d+)", _screen(user).text if _screen(user) else "")
        if shown:
            stats.confirmations += 1
            stats.confirmed.append((user.id, int(shown.group(1))))


# --- the bot under test, as a subprocess -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread of a process: the main thread vs helpers (aiosqlite runs SQLite in threads)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "main thread" if task.name == str(pid) else "other threads"
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def machine_busy_seconds() -> float:
    """CPU time all processes on the machine used (all cores), from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class PhaseResult:
    name: str
    stats: Stats
    elapsed: float
    bot_cpu: float
    driver_cpu: float
    api_errors: list[str]
    log_problems: list[str]
    log_warnings: int
    exit_code: int | None
    machine_busy: float = float("nan")
    threads: dict[str, float] = field(default_factory=dict)
    db_problem: str | None = None
    db_count: str = ""
    calls: dict[str, int] = field(default_factory=dict)  # Bot API requests by method, getUpdates left out
    processes: dict[str, float] = field(default_factory=dict)  # CPU seconds of each bot process, when several
    helpers: dict[str, float] = field(default_factory=dict)  # CPU seconds of processes that are not the bot (proxy)
    delivery: str = ""  # how updates reached the bot

    @property
    def errors(self) -> int:
        return (len(self.stats.failures) + len(self.api_errors) + len(self.log_problems)
                + (0 if self.exit_code == 0 else 1) + (1 if self.db_problem else 0))


async def start_process(argv: list[str], env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    log = log_path.open("wb")
    try:
        return await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stdout=log, stderr=log,
                                                    stdin=asyncio.subprocess.DEVNULL)
    finally:
        log.close()  # the child has its own descriptor


async def stop_process(proc: asyncio.subprocess.Process) -> int | None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)  # aiogram's handle_signals: stop polling, then close cleanly
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
    return proc.returncode


async def wait_polling(api: BenchAPI, proc: asyncio.subprocess.Process, log_path: Path) -> None:
    poll = asyncio.create_task(api.wait_for_poll(timeout=60))
    died = asyncio.create_task(proc.wait())
    await asyncio.wait({poll, died}, return_when=asyncio.FIRST_COMPLETED)
    if not poll.done():
        poll.cancel()
        tail = log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"the bot process exited ({proc.returncode}) before polling:\n{tail}")
    died.cancel()
    poll.result()


def scan_log(log_path: Path) -> tuple[list[str], int]:
    problems, warnings = [], 0
    for line in log_path.read_text(errors="replace").splitlines():
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            problems.append(line[:200])
        elif " WARNING " in line and "Received SIG" not in line:
            warnings += 1
    return problems, warnings


WEBHOOK_SECRET = "bench-secret_0123456789"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(ready: Callable[[], bool], procs: dict[str, tuple[asyncio.subprocess.Process, Path]],
                     what: str, timeout: float = 60.0) -> None:
    """Until `ready()`; a SystemExit with its log's tail if one of `procs` exits first, or after `timeout`."""
    deadline = time.perf_counter() + timeout
    while not ready():
        for label, (proc, log_path) in procs.items():
            if proc.returncode is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{label} exited ({proc.returncode}) before {what}:\n{tail}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"no {what} within {timeout:.0f} s")
        await asyncio.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def start_webhook_shape(api: BenchAPI, count: int, env: dict[str, str], log_dir: Path, stem: str,
                              bots: dict[str, tuple[asyncio.subprocess.Process, Path]],
                              helpers: dict[str, tuple[asyncio.subprocess.Process, Path]]) -> None:
    """README's "Several instances" shape: `count` x `moments run --webhook --no-scheduler`, each on its own port,
    one `moments scheduler`, and bench/proxy.py as the one address the stand-in's webhook points at.
    Fills `bots` (their CPU is the bot's) and `helpers` (the proxy: infrastructure, reported apart) as each
    process starts, so the caller stops them all even if a later one fails to start."""
    py = sys.executable
    proxy_port, ports = free_port(), [free_port() for _ in range(count)]
    log = log_dir / f"{stem}-proxy.log"
    argv = [py, str(ROOT / "bench" / "proxy.py"), "--port", str(proxy_port)]
    argv += [arg for port in ports for arg in ("--backend", f"http://127.0.0.1:{port}")]
    helpers["proxy"] = (await start_process(argv, env, log), log)
    await wait_ready(lambda: _listening(proxy_port), helpers, "the proxy listening")
    # All started together, as an orchestrator starts replicas.
    for number, port in enumerate(ports, 1):
        log = log_dir / f"{stem}-webhook-{number}.log"
        web_env = {**env, "WEBHOOK_URL": f"http://127.0.0.1:{proxy_port}/telegram/updates",
                   "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port)}
        bots[f"webhook process {number}"] = (
            await start_process([py, "-m", "bot.cli", "run", "--webhook", "--no-scheduler"], web_env, log), log)
    log = log_dir / f"{stem}-scheduler.log"
    bots["scheduler process"] = (await start_process([py, "-m", "bot.cli", "scheduler"], env, log), log)
    # A process calls setWebhook once it listens; the scheduler says when it runs.
    await wait_ready(lambda: len(api.calls_to("setWebhook")) >= count
                     and "Moments scheduler is running" in log.read_text(errors="replace"),
                     {**bots, **helpers}, f"{count} setWebhook calls and the scheduler running")


async def phase(name: str, argv_for: Callable[[str], list[str]], env: dict[str, str], steps: list[Step],
                args: argparse.Namespace, workdir: Path, instrumented: bool = False,
                first_update_id: int = 1, webhook_processes: int = 0) -> PhaseResult:
    log_dir = args.logs or workdir
    stem = re.sub(r"[^a-z0-9]+", "-", name.split("(")[0].lower()).strip("-")
    procs: dict[str, tuple[asyncio.subprocess.Process, Path]] = {}
    helpers: dict[str, tuple[asyncio.subprocess.Process, Path]] = {}
    codes: dict[str, int | None] = {}
    async with BenchAPI(settle=args.settle, timeout=args.timeout) as api:
        api.queue.next_id = first_update_id
        env = {**env, "TELEGRAM_API_BASE": api.base_url}
        try:
            if webhook_processes:
                await start_webhook_shape(api, webhook_processes, env, log_dir, stem, procs, helpers)
            else:
                log_path = log_dir / f"{stem}.log"
                procs[stem] = (await start_process(argv_for(api.base_url), env, log_path), log_path)
                await wait_polling(api, procs[stem][0], log_path)
            proc = next(iter(procs.values()))[0]  # the one process --profile/--sample/--what-if talk to
            # One warm-up decision (imports, template compilation, first connections), not measured.
            warm = Stats()
            no_pauses = argparse.Namespace(**{**vars(args), "think": 0.0})
            await run_user(api, api.user(WARMUP_USER_ID, "Warm"), steps, 1, warm, no_pauses)
            stats = Stats(failures=[f"warm-up: {f}" for f in warm.failures], confirmed=list(warm.confirmed))
            users = [api.user(FIRST_USER_ID + i, f"Staff{i}") for i in range(args.users)]

            def cpu_now() -> dict[str, float]:
                return {label: cpu_seconds(p.pid) for label, (p, _) in {**procs, **helpers}.items()}

            cpu0, driver0, start = cpu_now(), time.process_time(), time.perf_counter()
            busy0, threads0 = machine_busy_seconds(), thread_cpu(proc.pid)
            if instrumented:
                proc.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.5)  # let the handler run (gc-freeze collects first) before the load starts
                cpu0, driver0, start, busy0, threads0 = (cpu_now(), time.process_time(), time.perf_counter(),
                                                         machine_busy_seconds(), thread_cpu(proc.pid))
            args.rng = random.Random(args.seed)  # the same pauses for the bot and the echo
            calls0 = len(api.calls)
            await asyncio.gather(*(run_user(api, u, steps, args.decisions_per_user, stats, args, stagger=True)
                                   for u in users))
            if instrumented:
                proc.send_signal(signal.SIGUSR2)
            elapsed = time.perf_counter() - start
            calls = collections.Counter(c.method for c in api.calls[calls0:] if c.method.lower() != "getupdates")
            cpu1, driver_cpu = cpu_now(), time.process_time() - driver0
            used = {label: cpu1[label] - cpu0[label] for label in cpu1}
            bot_cpu = sum(used[label] for label in procs)
            busy = machine_busy_seconds() - busy0
            threads: dict[str, float] = {}
            if len(procs) == 1:
                # Per-thread figures of threads that ended are gone, so "other" is the process minus the main thread.
                main_thread = thread_cpu(proc.pid).get("main thread", 0.0) - threads0.get("main thread", 0.0)
                threads = {"main thread": main_thread, "other threads (the bot: aiosqlite's)": bot_cpu - main_thread}
        finally:
            # The bot's processes first (they finish what is in flight), then the proxy in front of them.
            for group in (procs, helpers):
                stopped = await asyncio.gather(*(stop_process(p) for p, _ in group.values()))
                codes.update(zip(group, stopped, strict=True))
        api_errors = [str(e) for e in api.errors] + [f"fault {f}" for f in api.faults.fired]
        api_errors += [f"unknown method {m}" for m in api.unknown_methods]
        refused = [(update_id, status) for update_id, status in api.webhook_posts if not 200 <= status < 300]
        api_errors += [f"webhook POST of update {u} answered {st or 'no connection'}" for u, st in refused]
        delivery = "long polling (getUpdates)"
        if webhook_processes:
            delivery = (f"webhook via bench/proxy.py to {webhook_processes} process"
                        f"{'es' if webhook_processes > 1 else ''}: {len(api.webhook_posts)} "
                        f"POSTs, at most {api.max_posts_in_flight} in flight (max_connections "
                        f"{api.webhook.get('max_connections')}), one at a time per chat")
    problems: list[str] = []
    warnings = 0
    for label, (_, log_path) in {**procs, **helpers}.items():
        found, warned = scan_log(log_path)
        problems += [f"{label}: {line}" if len(procs) + len(helpers) > 1 else line for line in found]
        warnings += warned
    bad = {label: code for label, code in codes.items() if code != 0}
    if len(codes) > 1:  # each process that did not exit cleanly is an error of its own
        problems += [f"{label} exited with {code}" for label, code in bad.items()]
    code = next(iter(bad.values())) if bad and len(codes) == 1 else 0
    several = len(procs) + len(helpers) > 1
    return PhaseResult(name, stats, elapsed, bot_cpu, driver_cpu, api_errors, problems, warnings, code, busy, threads,
                       calls=dict(calls), processes={k: used[k] for k in procs} if several else {},
                       helpers={k: used[k] for k in helpers}, delivery=delivery)


# --- database ----------------------------------------------------------------------------------------


async def register_staff(url: str, ids: list[int]) -> tuple[int, int, int]:
    """Register the staff (as /adduser would); return how many decisions the database holds, the highest
    update id the bot already handled (a reused database: the stand-in must continue above it, as Telegram's
    ids only grow, or the bot rightly skips every update as a repeat) and the highest decision id."""
    db = Database(url)
    try:
        await db.create_tables()
        async with db.session() as session:
            for telegram_id in ids:
                await people.upsert_user(session, telegram_id, role="staff", team="shop-1", name=f"Staff{telegram_id}")
            last = (await session.exec(select(func.max(ProcessedUpdate.update_id)))).one()
            top = (await session.exec(select(func.max(Decision.id)))).one()
        return await count_decisions(db), int(last or 0), int(top or 0)
    finally:
        await db.dispose()


async def decisions_after(url: str, after_id: int) -> list[tuple[int, int]]:
    """(decision id, the Telegram id of who made it) of every decision with a higher id."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.exec(select(Decision.id, User.telegram_id).join(User, User.id == Decision.user_id)
                                      .where(Decision.id > after_id).order_by(Decision.id))
            return [(int(decision), int(telegram)) for decision, telegram in rows.all()]
    finally:
        await db.dispose()


def check_decisions(rows: list[tuple[int, int]], stats: Stats, expected: dict[int, int]) -> list[str]:
    """Every decision recorded exactly once: each user has as many decisions as it completed flows, no more
    and no fewer, and the decision numbers users were shown are exactly those in the database, each once."""
    problems = []
    per_user = collections.Counter(telegram for _, telegram in rows)
    for user in sorted(set(per_user) | set(expected)):
        if per_user[user] != expected.get(user, 0):
            problems.append(f"user {user}: {per_user[user]} decisions recorded, {expected.get(user, 0)} expected")
    recorded = {(telegram, decision) for decision, telegram in rows}
    shown = collections.Counter(stats.confirmed)
    problems += [f"user {u} was shown decision #{d} {n} times" for (u, d), n in shown.items() if n > 1]
    problems += [f"user {u} was shown decision #{d}, not in the database as theirs" for u, d in set(shown) - recorded]
    problems += [f"decision #{d} of user {u} recorded, never confirmed to them" for u, d in recorded - set(shown)]
    return problems


async def count_decisions(db: Database) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Decision))).one())


async def decisions_now(url: str) -> int:
    db = Database(url)
    try:
        return await count_decisions(db)
    finally:
        await db.dispose()


# --- report ------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def report(result: PhaseResult, decisions_label: bool, args_verbose: bool = False) -> dict[str, float]:
    s = result.stats
    ups = s.actions / result.elapsed if result.elapsed else 0.0
    figures = {"updates_s": ups, "first_p50": pct(s.first_ms, 50), "first_p95": pct(s.first_ms, 95),
               "ready_p50": pct(s.ready_ms, 50), "ready_p95": pct(s.ready_ms, 95)}
    print(f"\n== {result.name} ==")
    line = f"  {s.actions} actions in {result.elapsed:.2f} s: {ups:.1f} updates/s"
    if decisions_label:
        line += f", {s.decisions / result.elapsed:.2f} decisions/s ({s.decisions} decisions)"
    print(line)
    print(f"  action -> first response: p50 {figures['first_p50']:.1f} ms, p95 {figures['first_p95']:.1f} ms, "
          f"max {max(s.first_ms, default=float('nan')):.1f} ms")
    print(f"  action -> screen ready:   p50 {figures['ready_p50']:.1f} ms, p95 {figures['ready_p95']:.1f} ms, "
          f"max {max(s.ready_ms, default=float('nan')):.1f} ms")
    if args_verbose:
        print("  first response by step: " + "; ".join(f"{k} p50 {pct(v, 50):.0f} p95 {pct(v, 95):.0f} max "
                                                       f"{max(v):.0f}" for k, v in s.by_step.items()))
    webhook = result.delivery.startswith("webhook")
    print(f"  of which queued -> {'POSTed by the stand-in' if webhook else 'fetched by getUpdates'}: "
          f"p50 {pct(s.fetch_ms, 50):.1f} ms, p95 {pct(s.fetch_ms, 95):.1f} ms")
    if result.delivery:
        print(f"  delivery: {result.delivery}")
    per_update = result.bot_cpu / s.actions * 1000 if s.actions else float("nan")
    print(f"  bot {'processes' if result.processes else 'process'} CPU: {result.bot_cpu:.2f} s = "
          f"{result.bot_cpu / result.elapsed:.0%} of one core, {per_update:.2f} ms CPU per update; driver "
          f"(stand-in + users) CPU: {result.driver_cpu / result.elapsed:.0%} of one core")
    for label, seconds in {**result.processes, **result.helpers}.items():
        print(f"    {label}: {seconds / result.elapsed:.0%} of one core"
              + (f", {seconds / s.actions * 1000:.2f} ms per update" if s.actions else "")
              + ("  (not counted as the bot's)" if label in result.helpers else ""))
    if result.threads and s.actions:
        print("  bot CPU by thread: " + ", ".join(f"{name} {sec / s.actions * 1000:.2f} ms per update"
                                                  for name, sec in sorted(result.threads.items())))
    others = (result.machine_busy - result.bot_cpu - result.driver_cpu - sum(result.helpers.values())) / result.elapsed
    print(f"  other processes on the machine meanwhile: {max(others, 0):.2f} of {os.cpu_count()} cores busy"
          + ("  <-- contention: figures are pessimistic" if others > 0.25 else ""))
    if result.calls and s.actions:
        print(f"  Bot API requests per update: {sum(result.calls.values()) / s.actions:.2f} ("
              + ", ".join(f"{m} {n / s.actions:.2f}" for m, n in sorted(result.calls.items(), key=lambda i: -i[1]))
              + ")")
    if s.misattributed:
        print(f"  note: {s.misattributed} actions whose first request was not the expected method")
    print(f"  errors: {result.errors}" + ("" if not result.errors else ":"))
    for label, items in (("user", s.failures), ("stand-in", result.api_errors), ("bot log", result.log_problems)):
        for item in items[:5]:
            print(f"    {label}: {item}")
        if len(items) > 5:
            print(f"    {label}: ... {len(items) - 5} more")
    if result.exit_code != 0:
        print(f"    the process exited with {result.exit_code}")
    if result.db_problem:
        print(f"    database: {result.db_problem}")
    if result.db_count:
        print(f"  database: {result.db_count}")
    if result.log_warnings:
        print(f"  bot log warnings (retries, ...): {result.log_warnings}")
    figures.update(decisions_s=s.decisions / result.elapsed if result.elapsed else 0.0, cpu_ms=per_update,
                   requests=sum(result.calls.values()) / s.actions if s.actions else float("nan"),
                   errors=float(result.errors), others=max(others, 0.0))
    return figures


# --- the bot process, instrumented (--profile, --sample, --what-if) ---------------------------------


WHAT_IF = {
    "pin-response-models": "keep strong references to aiogram's Response[...] models (pydantic caches them "
                           "weakly, so each GC evicts them and aiogram rebuilds them)",
    "gc-freeze": "gc.collect() + gc.freeze() once started, so full collections skip the startup heap",
    "sqlite-one-connection": "SQLite engine with one pooled connection (pool_size=1, max_overflow=0): sessions "
                             "queue in the pool (fair, in order) instead of polling SQLite's write lock",
}


def bot_runner(mode: str, out: str, counts_out: str, what_if: list[str]) -> None:
    """`moments run` (bot.cli.main(["run"])) with diagnostics switched on by SIGUSR1 and off by SIGUSR2, so
    only the measured phase is seen (not imports, startup or shutdown).

    mode "profile": cProfile (exact own times, but slows the bot several times and misreads coroutines'
    cumulative times); "sample": after every 2 ms of the process's CPU time (SIGPROF), record the main
    thread's Python stack (little overhead; inclusive times that are right for coroutines); "plain": neither.
    Always: SQL statements, sessions and commits, pydantic models built at run time, GC pauses.
    ``what_if``: suggested fixes, tried in this process only (the bot's code is untouched): see WHAT_IF.
    """
    import cProfile
    import gc
    import json
    from collections import Counter

    from pydantic._internal import _generics
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts: Counter[str] = Counter()
    on = {"counting": False}
    profiler = cProfile.Profile()
    samples: list[list[tuple[str, str]]] = []

    def count(name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            if on["counting"]:
                counts[name] += 1
        return hook

    def statement(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        if on["counting"]:
            counts["sql " + sql.split(None, 1)[0].upper()] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", count("COMMIT"))
    event.listen(Pool, "checkout", count("pool checkout (a session used the database)"))
    event.listen(Pool, "reset", count("pool reset on return (ROLLBACK)"))

    build = _generics.create_generic_submodel

    def counted_build(model_name: str, *a: Any, **k: Any) -> Any:
        if on["counting"]:
            counts[f"pydantic generic model built: {model_name}"] += 1
        return build(model_name, *a, **k)

    _generics.create_generic_submodel = counted_build  # type: ignore[assignment]
    gc_started = {"t": 0.0}

    def gc_hook(phase: str, info: dict[str, Any]) -> None:
        if not on["counting"]:
            return
        if phase == "start":
            gc_started["t"] = time.perf_counter()
        else:
            generation = info["generation"]
            counts[f"gc gen{generation} collections"] += 1
            counts[f"gc gen{generation} pause ms (total)"] += (time.perf_counter() - gc_started["t"]) * 1000

    gc.callbacks.append(gc_hook)

    # Time spent inside SQLite, on aiosqlite's threads, per kind of call (execute, commit, ...): a long
    # maximum means waiting for SQLite's write lock (busy_timeout), not work.
    import aiosqlite.core

    queue_work = aiosqlite.core.Connection._execute

    async def timed_execute(self: Any, fn: Any, *a: Any, **k: Any) -> Any:
        if not on["counting"]:
            return await queue_work(self, fn, *a, **k)
        name = getattr(fn, "__name__", "call")
        if name == "execute" and a and isinstance(a[0], str):
            name = f"execute {a[0].split(None, 1)[0].upper()}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - t) * 1000
                counts[f"sqlite thread: {name} calls"] += 1
                counts[f"sqlite thread: {name} ms (total)"] += ms
                counts[f"sqlite thread: {name} ms (max)"] = max(counts[f"sqlite thread: {name} ms (max)"], ms)

        t0 = time.perf_counter()
        try:
            return await queue_work(self, timed, *a, **k)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            counts["aiosqlite round trip (main thread waits) calls"] += 1
            counts["aiosqlite round trip (main thread waits) ms (total)"] += ms
            counts["aiosqlite round trip (main thread waits) ms (max)"] = max(
                counts["aiosqlite round trip (main thread waits) ms (max)"], ms)

    aiosqlite.core.Connection._execute = timed_execute  # type: ignore[method-assign]

    import greenlet

    def sample(_signum: int, frame: Any) -> None:
        # Runs in the main thread at the interrupted point: the stack of what the bot was doing. SQLAlchemy's
        # asyncio layer runs ORM code in a greenlet whose stack stops at greenlet_spawn; continue in the parent.
        stack = []
        current = greenlet.getcurrent()
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
            if frame is None and current is not None and current.parent is not None:
                current = current.parent
                frame = current.gr_frame
        samples.append(stack)

    def start(*_: Any) -> None:
        counts.clear()
        on["counting"] = True
        if mode == "profile":
            profiler.enable()
        elif mode == "sample":
            signal.signal(signal.SIGPROF, sample)
            signal.setitimer(signal.ITIMER_PROF, 0.002, 0.002)

    def stop(*_: Any) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        profiler.disable()
        on["counting"] = False
        Path(counts_out).write_text(json.dumps(counts))

    if "sqlite-one-connection" in what_if:
        import storage.db

        make_engine = storage.db.create_async_engine

        def one_connection(url: Any, **kwargs: Any) -> Any:
            if str(url).startswith("sqlite") and "poolclass" not in kwargs:
                kwargs.update(pool_size=1, max_overflow=0)
            return make_engine(url, **kwargs)

        storage.db.create_async_engine = one_connection  # type: ignore[assignment]
    if "gc-freeze" in what_if:
        # As the bot would do once started: everything built so far is long-lived, keep it out of collections.
        signal.signal(signal.SIGUSR1, lambda *a: (gc.collect(), gc.freeze(), start()))
    if "pin-response-models" in what_if:
        from aiogram import methods
        from aiogram.methods.base import Response

        pinned = [Response[m.__returning__] for m in (methods.SendMessage, methods.EditMessageText,  # noqa: F841
                  methods.AnswerCallbackQuery, methods.EditMessageReplyMarkup, methods.GetUpdates)]
    if "gc-freeze" not in what_if:
        signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from bot.cli import main as moments

    code = moments(["run"])
    profiler.disable()
    on["counting"] = False
    if mode == "profile":
        profiler.dump_stats(out)
    elif mode == "sample":
        Path(out).write_text(json.dumps(samples))
    sys.exit(code)


def area(filename: str, function: str) -> str:
    """Which package a profiled function belongs to."""
    if filename == "~":
        if "select.epoll" in function:
            return "event loop: waiting in epoll (idle or GIL)"
        if "SimpleQueue" in function:
            return "aiosqlite: handing work to its thread (queue.put, GIL hand-off)"
        if "socket" in function:
            return "sockets: send/recv"
        return "builtins (C): " + function.split("'")[1] if "'" in function else "builtins (C)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0].split("-")[0]
    for mine in ("bot", "storage"):
        if mine in parts and str(ROOT) in filename:
            return f"{mine}/ (the project)"
    if "asyncio" in parts:
        return "asyncio"
    return "stdlib: " + Path(filename).stem


def print_profile(path: Path, updates: int, limit: int) -> None:
    stats = pstats.Stats(str(path))
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = area(filename, function)
        areas[key] = areas.get(key, 0.0) + tottime
    print(f"\n== cProfile of the bot's measured phase ({updates} updates; main thread only, the profiler slows "
          "the bot several times) ==")
    print(f"  own time by package (total {total:.2f} s = {total / updates * 1000:.2f} ms per update):")
    for key, seconds in sorted(areas.items(), key=lambda kv: -kv[1])[:14]:
        print(f"    {seconds:7.2f} s {seconds / total:5.1%}  {key}")
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).strip_dirs().sort_stats("tottime").print_stats(limit)
    text = out.getvalue()
    print(f"  top {limit} functions by own time (ncalls of coroutines count resumptions):")
    print(text[text.find("   ncalls"):].rstrip())


def print_counts(path: Path, updates: int) -> None:
    import json

    counts = json.loads(path.read_text())
    if not updates:
        return
    print(f"\n== inside the bot during the measured phase ({updates} updates) ==")
    print("  database work per update:")
    for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if key.startswith(("sql ", "COMMIT", "pool")):
            print(f"    {n / updates:6.2f}  {key}")
    timed = sorted(key[: -len(" calls")] for key in counts if key.endswith(" calls"))
    if timed:
        print("  calls: per update, mean ms, max ms, total s (times on aiosqlite's threads are time inside SQLite;")
        print("  several threads wait at once, so totals can exceed the run; the round trip includes event-loop delay)")
        for name in timed:
            calls = counts.get(f"{name} calls", 0)
            total = counts.get(f"{name} ms (total)", 0.0)
            print(f"    {calls / updates:6.2f}/update {total / max(calls, 1):8.2f} ms mean "
                  f"{counts.get(f'{name} ms (max)', 0.0):8.1f} ms max {total / 1000:8.1f} s total  {name}")
    print("  in total:")
    for key, n in sorted(counts.items()):
        if key.startswith(("gc ", "pydantic")):
            print(f"    {n:8.0f}  {key}")


def _frame_label(filename: str, function: str) -> str:
    parts = Path(filename).parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return f"{'/'.join(parts[i + 1:])}:{function}"
    if str(ROOT) in filename:
        return f"{Path(filename).relative_to(ROOT)}:{function}"
    return f"{Path(filename).name}:{function}"


SAMPLE_BUCKETS = [  # first match wins; tested against every frame of a sample's stack
    ("pydantic rebuilding aiogram's Response[...] models (cache evicted by GC)",
     ("_generics.py:create_generic_submodel",)),
    ("database: SQLAlchemy ORM + aiosqlite (sessions, queries, commits)", ("sqlalchemy/", "aiosqlite/", "sqlmodel/")),
    ("Bot API requests: aiogram session, aiohttp client, response parsing", ("aiogram/client/", "aiohttp/")),
    ("rendering: Jinja2 templates, keyboards (bot/ui)", ("jinja2/", "bot/ui/", "bot/templates/")),
    ("conversation logic (bot/core)", ("bot/core/",)),
    ("aiogram dispatch: routers, filters, middlewares, event models", ("aiogram/",)),
    ("logging", ("logging/",)),
    ("event loop waiting in select (CPU used by other threads)", ("selectors.py:select",)),
]


def print_samples(path: Path, limit: int) -> None:
    """Where the bot's CPU goes: buckets, and the innermost project function of each sample."""
    import json

    samples = json.loads(path.read_text())
    if not samples:
        return
    total = len(samples)
    buckets: dict[str, int] = {}
    innermost: dict[str, int] = {}
    leaves: dict[str, int] = {}
    for stack in samples:
        frames = [f"{filename}:{function}" for filename, function in stack]
        bucket = next((name for name, needles in SAMPLE_BUCKETS
                       if any(needle in frame for frame in frames for needle in needles)), "other (asyncio, stdlib)")
        buckets[bucket] = buckets.get(bucket, 0) + 1
        for filename, function in stack:
            if area(filename, function).endswith("(the project)"):
                key = _frame_label(filename, function)
                innermost[key] = innermost.get(key, 0) + 1
                break
        if stack:
            leaf = _frame_label(*stack[0])
            leaves[leaf] = leaves.get(leaf, 0) + 1
    print(f"\n== sampled bot process ({total} samples, one per 2 ms of its CPU time, main thread's stack) ==")
    print("  where the CPU goes (each sample in the first bucket its stack matches):")
    for key, n in sorted(buckets.items(), key=lambda kv: -kv[1]):
        print(f"    {n / total:5.1%}  {key}")
    print("  by the innermost project function on the stack (its own code and the libraries it called):")
    for key, n in sorted(innermost.items(), key=lambda kv: -kv[1])[:limit]:
        print(f"    {n / total:5.1%}  {key}")
    print("  leaf Python frame (where the interpreter was):")
    for key, n in sorted(leaves.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {n / total:5.1%}  {key}")


# --- main --------------------------------------------------------------------------------------------


def git_state() -> str:
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "git: unknown"
    return f"git {head}" + (" + uncommitted changes" if dirty else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Concurrent staff decisions against the Bot API stand-in, "
                                            "with a bare echo bot as the baseline.")
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--decisions-per-user", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="10 users x 1 decision")
    p.add_argument("--database", action="append", default=[],
                   help="DATABASE_URL for the bot (default: a fresh SQLite file in a temp dir); repeatable: one "
                        "bot phase per database in the same run, e.g. `--database sqlite --database "
                        "postgresql://…` (`sqlite` alone means the fresh file)")
    p.add_argument("--webhook-processes", type=int, action="append", default=[], metavar="N",
                   help="after the polling phases, a phase with N `moments run --webhook --no-scheduler` processes "
                        "and one `moments scheduler` behind bench/proxy.py (README: \"Several instances\"); "
                        "repeatable; on --webhook-database")
    p.add_argument("--webhook-database", help="DATABASE_URL for the webhook phases (default: the first "
                                              "postgresql --database; several processes need PostgreSQL)")
    p.add_argument("--settle", type=float, default=0.005,
                   help="per-chat quiet (s) after the expected screen before the user acts again; not timed")
    p.add_argument("--think", type=float, default=0.0,
                   help="mean pause (s) between a user's actions, exponentially distributed; 0 = closed loop, "
                        "every user acts as soon as it has seen the answer (a stress test)")
    p.add_argument("--verbose", action="store_true", help="latency per step of the decision")
    p.add_argument("--seed", type=int, default=1, help="for the random pauses")
    p.add_argument("--timeout", type=float, default=30.0, help="per action (s)")
    p.add_argument("--only", choices=("bot", "echo"), help="run one side only")
    p.add_argument("--profile", type=Path, help="run the bot under cProfile (measured phase only), write the "
                                                "stats here, print where time goes; its figures are not the real ones")
    p.add_argument("--sample", action="store_true",
                   help="sample the bot's main-thread stack after every 2 ms of its CPU time (SIGPROF; low "
                        "overhead) and print where the CPU goes")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--what-if", action="append", choices=sorted(WHAT_IF), default=[],
                   help="try a suggested fix in the bot process only (its code untouched); repeatable: "
                        + "; ".join(f"{k}: {v}" for k, v in WHAT_IF.items()))
    p.add_argument("--logs", type=Path, help="keep the bots' logs in this folder (default: a temp dir, removed)")
    args = p.parse_args(argv)
    if args.quick:
        args.users, args.decisions_per_user = 10, 1
    if args.webhook_processes:
        if any(n < 1 for n in args.webhook_processes):
            p.error("--webhook-processes needs N >= 1")
        args.webhook_database = args.webhook_database or next(
            (url for url in args.database if url.startswith("postgresql")), None)
        if not args.webhook_database:
            p.error("--webhook-processes needs PostgreSQL: give --webhook-database or a postgresql --database")
    return args


async def main_async(args: argparse.Namespace) -> int:
    py = sys.executable
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, Python {sys.version.split()[0]}, "
          f"{args.users} users x {args.decisions_per_user} decisions x {len(BOT_STEPS)} actions, "
          f"settle {args.settle * 1000:.0f} ms, think {args.think * 1000:.0f} ms, {git_state()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="moments-bench-") as tmp:
        workdir = Path(tmp)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
        base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        results: dict[str, dict[str, float]] = {}
        shapes: dict[str, str] = {}  # phase label -> what ran, for the comparison table
        errors = 0
        if args.only != "bot":
            echo = await phase("echo", lambda base: [py, str(ROOT / "bench" / "echo_bot.py"), "--api-base", base,
                                                     "--token", "123456:STAND-IN-TOKEN"],
                               base_env, ECHO_STEPS, args, workdir)
            results["echo"] = report(echo, decisions_label=False, args_verbose=args.verbose)
            shapes["echo"] = "echo bot, 1 process, polling (baseline)"
            errors += echo.errors
        databases = [] if args.only == "echo" else (args.database or ["sqlite"])
        plan = [(database, 0) for database in databases]
        plan += [] if args.only == "echo" else [(args.webhook_database, n) for n in args.webhook_processes]
        for number, (database, processes) in enumerate(plan):
            url = f"sqlite:///{workdir / f'moments-bench-{number}.db'}" if database == "sqlite" else database
            backend = url.split(":", 1)[0].split("+", 1)[0]
            if processes:
                label = f"{processes} bot process{'es' if processes > 1 else ''} on {backend} (webhook)"
            else:
                label = "bot" if len(plan) == 1 else f"bot on {backend}"
            if label in results:  # the same shape twice: tell the runs apart
                label += f" #{number + 1}"
            shapes[label] = (f"moments run x {processes} (webhook) + moments scheduler" if processes
                             else "moments run, 1 process, polling") + f", {backend}"
            ids = [WARMUP_USER_ID, *(FIRST_USER_ID + i for i in range(args.users))]
            before, last_update_id, top_decision = await register_staff(url, ids)
            env = {**base_env, "BOT_TOKEN": "123456:STAND-IN-TOKEN", "DATABASE_URL": url,
                   "PLAYBOOKS_DIR": str(ROOT / "playbooks"), "MOMENTS_CONFIG": str(ROOT / "config.yaml")}
            env.pop("MOMENTS_ADMINS", None)
            counts_path = (args.logs or workdir) / "bot-counts.json"
            samples_path = (args.logs or workdir) / "bot-samples.json"
            counts_path.unlink(missing_ok=True)
            mode = "profile" if args.profile else "sample" if args.sample else "plain"
            if processes:  # the diagnostics talk to one process: webhook phases always run plain
                mode, argv, name = "plain", [], f"{label} (moments run --webhook --no-scheduler)"
            elif mode != "plain" or args.what_if:
                out = str(args.profile or samples_path)
                argv = [py, str(Path(__file__).resolve()), "--bot-runner", mode, out, str(counts_path),
                        ",".join(args.what_if) or "-"]
                name = f"{label} (moments run" + (", PROFILED: slower than real" if args.profile else "") + \
                       (", SAMPLED" if args.sample else "") + \
                       (f", WHAT-IF: {' + '.join(args.what_if)}" if args.what_if else "") + ")"
            else:
                argv, name = [py, "-m", "bot.cli", "run"], f"{label} (moments run)"
            instrumented = not processes and (mode != "plain" or bool(args.what_if))
            bot = await phase(name, lambda base, argv=argv: argv, env, BOT_STEPS, args, workdir,
                              instrumented=instrumented, first_update_id=last_update_id + 1,
                              webhook_processes=processes)
            after = await decisions_now(url)
            expected = args.users * args.decisions_per_user + 1  # + the warm-up decision
            bot.db_count = f"{after - before} decisions recorded, {expected} expected (incl. 1 warm-up); " \
                           f"{bot.stats.confirmations} confirmations seen"
            per_user = {WARMUP_USER_ID: 1, **{FIRST_USER_ID + i: args.decisions_per_user for i in range(args.users)}}
            wrong = check_decisions(await decisions_after(url, top_decision), bot.stats, per_user)
            if after - before != expected or wrong:
                bot.db_problem = f"{after - before} decisions in the database, expected {expected}" + "".join(
                    f"\n      {line}" for line in wrong[:10]) + (f"\n      ... {len(wrong) - 10} more" if
                                                                 len(wrong) > 10 else "")
            else:
                bot.db_count += "; each exactly once, each user's own, each confirmed number the recorded one"
            results[label] = report(bot, decisions_label=True, args_verbose=args.verbose)
            errors += bot.errors
            if args.profile and args.profile.exists():
                print_profile(args.profile, bot.stats.actions, args.profile_top)
            if args.sample and samples_path.exists():
                print_samples(samples_path, args.profile_top)
            if counts_path.exists():
                print_counts(counts_path, bot.stats.actions)
    bots = [name for name in results if name != "echo"]
    for name in bots if "echo" in results else []:
        b, e = results[name], results["echo"]
        ratio = b["updates_s"] / e["updates_s"] if e["updates_s"] else float("nan")
        print(f"\n== {name} vs echo ==")
        print(f"  updates/s ratio bot/echo: {ratio:.2f} (target >= 0.5)"
              + ("  [with --think both follow the users' pace: this is not a capacity ratio]" if args.think else ""))
        print(f"  p95 first response: bot {b['first_p95']:.1f} ms, echo {e['first_p95']:.1f} ms (target < 100 ms)")
        print(f"  p95 screen ready:   bot {b['ready_p95']:.1f} ms, echo {e['ready_p95']:.1f} ms")
    if len(results) > 1:
        print_comparison(results, shapes, args)
    print(f"\nerrors in the whole run: {errors} (target 0); load average now {os.getloadavg()[0]:.2f}")
    return 0


def print_comparison(results: dict[str, dict[str, float]], shapes: dict[str, str], args: argparse.Namespace) -> None:
    """Every phase of the run side by side, with ratios to the echo and to the one-process SQLite bot."""
    echo = results.get("echo", {}).get("updates_s")
    base = next((label for label, shape in shapes.items() if label != "echo" and "1 process" in shape
                 and shape.endswith("sqlite")), None)
    sqlite = results[base]["updates_s"] if base else None

    def ratio(value: float, to: float | None) -> str:
        return f"{value / to:.2f}" if to else "-"

    print("\n== all phases of this run ==" + ("  [--think: the users' pace, not capacity]" if args.think else ""))
    header = ("updates/s", "decisions/s", "first resp. p50/p95 ms", "CPU/update ms", "API req/update", "errors",
              "÷ echo", "÷ 1 proc SQLite", "others' cores")
    width = max(len(shape) for shape in shapes.values())
    print(f"  {'':{width}}  " + "  ".join(header))
    for label, r in results.items():
        cells = (f"{r['updates_s']:.1f}", f"{r['decisions_s']:.2f}" if label != "echo" else "-",
                 f"{r['first_p50']:.0f} / {r['first_p95']:.0f}", f"{r['cpu_ms']:.2f}", f"{r['requests']:.2f}",
                 f"{r['errors']:.0f}", ratio(r["updates_s"], echo), ratio(r["updates_s"], sqlite),
                 f"{r['others']:.2f}")
        print(f"  {shapes[label]:{width}}  " + "  ".join(f"{c:>{len(h)}}" for c, h in zip(cells, header, strict=True)))
    print("  CPU/update: all the bot's processes (for webhook phases: every `moments run` and the `moments scheduler`;"
          " not the proxy, the stand-in or PostgreSQL)")


def main() -> None:
    if sys.argv[1:2] == ["--bot-runner"]:
        bot_runner(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(","))
        return
    args = parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
