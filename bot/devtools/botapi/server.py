"""The stand-in server: HTTP routing, getUpdates long polling, bookkeeping and "answered" waits."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from .errors import NOT_FOUND, UNAUTHORIZED, ApiError, ErrorRecord
from .faults import Faults
from .files import FileStore
from .methods import lookup
from .models import Call, CallbackQuery, ChatMessage, Person, now
from .params import Params, read_params
from .updates import Delivery, UpdateQueue, update_type
from .users import SimUser

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:STAND-IN-TOKEN"
MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's upload limit for bots
MAX_POLL_TIMEOUT = 50  # Telegram caps long polls too; aiogram asks for 10-30 s

_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class BotAPIStandIn:
    """A local Telegram Bot API that a real aiogram bot talks to unchanged.

    Use it as ``async with BotAPIStandIn() as api:`` (ephemeral port on 127.0.0.1), point the
    bot at ``api.telegram_server`` (or take ``api.session()``), and drive it with
    ``api.user(...)``.

    When an action "has been answered" -- the rule every ``SimUser`` action waits for:
      1. the update was fetched by getUpdates, then
      2. the bot made at least one API call for that chat (its chat_id is that chat, or it
         answers a callback query from that chat; getFile and downloads don't count), then
      3. the bot went quiet: no API request of any kind (getUpdates aside) in flight, and none
         started or finished during the last ``settle`` seconds.
    Quiet is deliberately global rather than per chat, so work the bot does for another chat
    in reaction (e.g. notifying a manager) is finished before the test looks.
    With ``expect_answer=False`` step 2 is skipped (for updates the bot should ignore, such as
    duplicates). An update dropped by the bot's allowed_updates counts as answered. Everything
    is bounded by ``timeout`` (default 10 s) and fails with an AssertionError that says which
    step never happened.

    Bookkeeping for assertions: ``calls`` (every request but getUpdates), ``errors`` (every
    error the stand-in answered because of what the bot sent -- 400/401/403/404/409, and 500 for
    a bug in the stand-in itself; injected faults are in ``faults.fired`` instead),
    ``unknown_methods``, ``commands``, ``webhook_url`` and ``webhook`` (the last setWebhook's settings).

    Webhook mode: once the bot calls setWebhook, updates are no longer served to getUpdates (409, as on
    Telegram) but POSTed as JSON to the URL, with ``X-Telegram-Bot-Api-Secret-Token`` when a secret was
    set, every update in its own request. An update counts as fetched once the bot answers 2xx; any other
    answer (or no connection) is retried ``webhook_retries`` times, ``webhook_retry_delay`` apart, as
    Telegram retries. ``webhook_posts`` records (update_id, status) for every attempt (status 0: no
    connection). The same ``SimUser`` actions work in both modes.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settle: float = 0.05,
        timeout: float = 10.0,
        bot_name: str = "Moments",
        bot_username: str = "moments_bot",
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.settle = settle
        self.timeout = timeout
        self.me = Person(_bot_id(token), bot_name, is_bot=True, username=bot_username)
        self.faults = Faults()
        self.files = FileStore()
        self.queue = UpdateQueue()
        self.chats: dict[int, SimUser] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.calls: list[Call] = []
        self.errors: list[ErrorRecord] = []
        self.unknown_methods: list[str] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook_url = ""
        self.webhook: dict[str, Any] = {}
        self.webhook_posts: list[tuple[int, int]] = []
        self.webhook_retries = 3
        self.webhook_retry_delay = 0.5
        self._webhook_epoch = 0  # bumped when pending updates are dropped: a failed POST is then not retried
        self._pusher: asyncio.Task[None] | None = None
        self._posts: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._in_flight = 0
        self._last_activity = 0.0
        self._poll_generation = 0
        self._waiting_polls = 0
        self._callback_seq = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        # Binding the socket ourselves is the reliable way to learn an ephemeral port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._closing = False

    async def stop(self) -> None:
        """Release pending long polls (they answer an empty list) and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self.notify()
        await self._stop_pushing()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> BotAPIStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def telegram_server(self) -> TelegramAPIServer:
        return TelegramAPIServer.from_base(self.base_url)

    def session(self, **kwargs: Any) -> AiohttpSession:
        """An aiogram session pointed at this stand-in."""
        return AiohttpSession(api=self.telegram_server, **kwargs)

    # --- users and updates (the test's side) -------------------------------------------------

    def user(
        self,
        id: int,
        name: str = "Ann",
        language: str | None = "en",
        *,
        username: str | None = None,
        last_name: str | None = None,
        started: bool = False,
    ) -> SimUser:
        """The private-chat user with this id (created on first use).

        ``started=True`` lets the bot write first, as if the user had sent /start earlier.
        """
        if id not in self.chats:
            person = Person(id, name, username=username, last_name=last_name, language_code=language)
            self.chats[id] = SimUser(self, person)
        user = self.chats[id]
        user.started = user.started or started
        return user

    async def deliver(
        self, user: SimUser | None, payload: dict[str, Any], *, expect_answer: bool, timeout: float | None
    ) -> dict[str, Any]:
        """Queue an update (a new update_id is assigned) and wait until it has been answered."""
        item = self.queue.push(payload)
        self.notify()
        await self._await_answer(item, user, expect_answer, timeout)
        return copy.deepcopy(item.update)

    async def enqueue_raw(
        self,
        update: dict[str, Any],
        *,
        wait: bool = True,
        expect_answer: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Queue an update as given; an update_id that was already used is delivered again anyway.

        That is how a test reproduces Telegram re-delivering an update the bot already processed.
        """
        item = self.queue.push(update)
        self.notify()
        if wait:
            await self._await_answer(item, self._chat_of(item.update), expect_answer, timeout)
        return copy.deepcopy(item.update)

    async def redeliver(self, update_id: int, **kwargs: Any) -> dict[str, Any]:
        """Deliver the update with this id again, unchanged (see ``enqueue_raw`` for kwargs)."""
        return await self.enqueue_raw(self.queue.original(update_id), **kwargs)

    # --- webhook delivery ----------------------------------------------------------------------

    def set_webhook(
        self,
        url: str,
        *,
        secret_token: str | None = None,
        allowed_updates: list[Any] | None = None,
        drop_pending_updates: bool = False,
        max_connections: int = 40,
    ) -> None:
        """What setWebhook does (an empty url: deleteWebhook): from now on updates are POSTed to ``url``."""
        self.webhook_url = url
        self.webhook = {
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": allowed_updates,
            "drop_pending_updates": drop_pending_updates,
            "max_connections": max_connections,
        } if url else {}
        if allowed_updates is not None:
            self.queue.allowed_updates = [str(kind) for kind in allowed_updates]
        if drop_pending_updates:
            self._webhook_epoch += 1
            self.queue.clear()
        if url and (self._pusher is None or self._pusher.done()):
            self._pusher = asyncio.create_task(self._push_updates(), name="botapi-webhook")
        self.notify()

    @property
    def webhook_in_flight(self) -> int:
        """Webhook POSTs sent and not answered yet."""
        return len(self._posts)

    async def wait_for_webhook(self, timeout: float | None = None) -> None:
        """Wait until the bot has set a webhook (it is then listening: bots set it once serving)."""
        limit = timeout or self.timeout
        await self._wait_for(
            lambda: bool(self.webhook_url),
            self._now() + limit,
            lambda: f"no setWebhook reached {self.base_url} within {limit}s",
        )

    async def _push_updates(self) -> None:
        while self.webhook_url and not self._closing:
            for item in self.queue.pop_for_push():
                task = asyncio.create_task(self._post_update(item, self.webhook_url, self._webhook_epoch))
                self._posts.add(task)
                task.add_done_callback(self._posts.discard)
            self.notify()  # waiters of updates the allowed_updates filter dropped
            await self._changed_or_timeout(1.0)

    async def _post_update(self, item: Delivery, url: str, epoch: int) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        secret = self.webhook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        user = self._chat_of(item.update)
        item.calls_mark = user.calls if user else 0
        item.attempts += 1
        try:
            async with self._http.post(url, json=item.update, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=60)) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = 0
        item.last_status = status
        self.webhook_posts.append((item.update_id, status))
        if 200 <= status < 300:
            item.delivered = True
            self._touch()
            return
        if item.attempts > self.webhook_retries or epoch != self._webhook_epoch or self._closing:
            item.given_up = True
            self.notify()
            return
        await self._sleep(self.webhook_retry_delay)
        if epoch == self._webhook_epoch and not self._closing:
            self.queue.put_back(item)
        self.notify()

    async def _stop_pushing(self) -> None:
        tasks = [t for t in (self._pusher, *self._posts) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pusher = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    def new_callback(self, user: SimUser, message_id: int, data: str) -> CallbackQuery:
        self._callback_seq += 1
        callback = CallbackQuery(str(4_000_000_000_000_000 + self._callback_seq), user.id, message_id, data)
        self.callbacks[callback.id] = callback
        return callback

    def enqueue_member_change(self, user: SimUser, *, old: str, new: str) -> None:
        """Queue the my_chat_member update Telegram sends when a user blocks or unblocks the bot."""

        def member(status: str) -> dict[str, Any]:
            return {
                "status": status,
                "user": self.me.to_api(),
                **({"until_date": 0} if status == "kicked" else {}),
            }

        change = {
            "chat": user.person.private_chat(),
            "from": user.person.to_api(),
            "date": now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        self.queue.push({"my_chat_member": change})
        self.notify()

    async def wait_for_new_message(self, user: SimUser, timeout: float | None = None) -> ChatMessage:
        """Wait until the bot sends ``user`` a message it did not have before, then until quiet."""
        seen = {m.message_id for m in user.messages}
        limit = timeout or self.timeout
        deadline = self._now() + limit
        await self._wait_for(
            lambda: any(m.message_id not in seen for m in user.messages),
            deadline,
            lambda: f"the bot sent {user.name} no new message within {limit}s{self._recent()}",
        )
        await self._wait_quiet(deadline, limit)
        return user.messages[-1]

    async def wait_for_poll(self, timeout: float | None = None) -> None:
        """Wait until a bot is long-polling, e.g. before stopping a polling task cleanly."""
        limit = timeout or self.timeout
        await self._wait_for(
            lambda: self._waiting_polls > 0,
            self._now() + limit,
            lambda: f"no getUpdates reached {self.base_url} within {limit}s",
        )

    async def wait_until(
        self, ready: Callable[[], bool], timeout: float | None = None, what: str = "the condition"
    ) -> None:
        """Wait, without polling sleeps, until ``ready()`` holds after some change in the stand-in.

        For what the bot does late on its own (a retry after flood control, a scheduled message).
        """
        limit = timeout or self.timeout
        await self._wait_for(ready, self._now() + limit, lambda: f"{what} did not hold within {limit}s{self._recent()}")

    # --- assertions helpers ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def assert_no_errors(self) -> None:
        """Fail if the stand-in rejected anything the bot sent (404s for unknown methods included)."""
        if self.errors:
            raise AssertionError(
                "the Bot API stand-in rejected requests:\n" + "\n".join(map(str, self.errors))
            )

    # --- waiting -----------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything waiting on state (long polls, test actions); they re-check and sleep again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _changed_or_timeout(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(timeout, 0.0))

    async def _wait_for(self, ready: Callable[[], bool], deadline: float, explain: Callable[[], str]) -> None:
        while not ready():
            remaining = deadline - self._now()
            if remaining <= 0:
                raise AssertionError(explain())
            await self._changed_or_timeout(remaining)

    async def _wait_quiet(self, deadline: float, limit: float) -> None:
        while True:
            now_ = self._now()
            idle = now_ - self._last_activity
            if self._in_flight == 0 and idle >= self.settle:
                return
            if now_ >= deadline:
                raise AssertionError(
                    f"the bot was still busy after {limit}s ({self._in_flight} API requests in flight)"
                )
            wait = self.settle - idle if self._in_flight == 0 else deadline - now_
            await self._changed_or_timeout(min(wait, deadline - now_))

    async def _await_answer(
        self, item: Delivery, user: SimUser | None, expect_answer: bool, timeout: float | None
    ) -> None:
        limit = timeout or self.timeout
        deadline = self._now() + limit
        what = _describe(item.update)
        await self._wait_for(
            lambda: item.delivered or item.filtered or item.given_up,
            deadline,
            lambda: self._not_fetched(what, item, limit),
        )
        if item.given_up:
            raise AssertionError(self._not_fetched(what, item, limit))
        if item.filtered:
            return
        if expect_answer and user is not None:
            await self._wait_for(
                lambda: user.calls > item.calls_mark,
                deadline,
                lambda: (
                    f"the bot fetched {what} but made no API call for chat {user.id} within {limit}s"
                    + self._recent()
                ),
            )
        await self._wait_quiet(deadline, limit)

    def _not_fetched(self, what: str, item: Delivery, limit: float) -> str:
        if self.webhook_url or item.attempts:
            return (f"{what} was not accepted by the webhook {self.webhook_url or '(deleted)'} within {limit}s: "
                    f"{item.attempts} POSTs, last HTTP status {item.last_status} (0: no connection)")
        return f"{what} was not fetched by getUpdates within {limit}s; is the bot polling {self.base_url}?"

    def _recent(self) -> str:
        details = [
            f"\n  recent stand-in errors: {self.errors[-5:]}" if self.errors else "",
            f"\n  unknown methods called: {self.unknown_methods}" if self.unknown_methods else "",
        ]
        return "".join(details)

    @contextlib.contextmanager
    def _activity(self, chat_id: int | None) -> Iterator[None]:
        """Count a bot request as in flight (and as a call for its chat) for the quiet rule."""
        user = self.chats.get(chat_id) if chat_id is not None else None
        if user is not None:
            user.calls += 1
        self._in_flight += 1
        self._touch()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._touch()

    def _touch(self) -> None:
        self._last_activity = self._now()
        self.notify()

    def _chat_of(self, update: dict[str, Any]) -> SimUser | None:
        body = update.get(update_type(update))
        if not isinstance(body, dict):
            return None
        chat = body.get("chat") or body.get("from") or {}
        return self.chats.get(chat.get("id")) if isinstance(chat, dict) else None

    def _attribute(self, p: Params) -> int | None:
        """Which chat a request is work for, if any."""
        with contextlib.suppress(TypeError, ValueError):
            if p.raw("chat_id") is not None:
                return int(p.raw("chat_id"))
        callback = self.callbacks.get(p.get_str("callback_query_id") or "")
        return callback.chat_id if callback is not None else None

    # --- HTTP --------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._fail(name, UNAUTHORIZED)
        found = lookup(name)
        if found is None and name.lower() != "getupdates":
            self.unknown_methods.append(name)
            return self._fail(name, NOT_FOUND)
        try:
            params = await read_params(request)
        except ApiError as error:
            return self._fail(name, error)
        if found is None:
            # getUpdates is the poller, not the bot reacting: it takes faults but is not activity.
            return await self._run(request, "getUpdates", lambda: self._get_updates(request, params))
        canonical, implementation = found
        chat_id = self._attribute(params)
        with self._activity(chat_id):
            response = await self._run(request, canonical, lambda: implementation(self, params))
        status = 0 if _client_gone(request) else response.status
        self.calls.append(Call(canonical, params.for_log(), chat_id, status))
        return response

    async def _run(
        self, request: web.Request, method: str, call: Callable[[], Awaitable[Any]]
    ) -> web.StreamResponse:
        """Apply any injected fault, then run the method and answer in Telegram's shape."""
        decision = self.faults.decide(method)
        if decision.delay:
            await self._sleep(decision.delay)
        if decision.drop:
            return _drop(request)
        if decision.error is not None:
            return _respond(decision.error.payload(), decision.error.code)
        try:
            result = await call()
        except ApiError as error:
            return self._fail(method, error)
        except Exception as error:  # a stand-in bug must surface in the test, not as a bare 500 page
            log.exception("Bot API stand-in failed on %s", method)
            return self._fail(method, ApiError(500, f"Internal Server Error: stand-in bug: {error!r}"))
        return _respond({"ok": True, "result": result})

    async def _get_updates(self, request: web.Request, p: Params) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = min(max(p.get_int("timeout", 0) or 0, 0), MAX_POLL_TIMEOUT)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self.queue.allowed_updates = [str(kind) for kind in allowed]
        # A newer poll ends the older one, as on Telegram (a restarted bot leaves one behind).
        self._poll_generation += 1
        generation = self._poll_generation
        self.notify()
        self.queue.confirm(p.get_int("offset"))
        batch = await self._long_poll(request, generation, limit, self._now() + timeout)
        self._mark_delivered(batch)
        return [copy.deepcopy(item.update) for item in batch]

    async def _long_poll(
        self, request: web.Request, generation: int, limit: int, deadline: float
    ) -> list[Delivery]:
        self._waiting_polls += 1
        try:
            while True:
                if generation != self._poll_generation:
                    if _client_gone(request):
                        return []
                    raise ApiError(409, _TERMINATED)
                if self._closing or _client_gone(request):
                    return []
                batch = self.queue.take(limit)
                self.notify()  # wakes wait_for_poll(), and waiters of updates allowed_updates filtered
                if batch or self._now() >= deadline:
                    return batch
                await self._changed_or_timeout(deadline - self._now())
        finally:
            self._waiting_polls -= 1

    def _mark_delivered(self, batch: list[Delivery]) -> None:
        for item in batch:
            user = self._chat_of(item.update)
            item.calls_mark = user.calls if user else 0
        if batch:
            self._touch()  # the quiet window restarts when the bot gets work

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _respond(UNAUTHORIZED.payload(), 401)
        stored = self.files.by_path(request.match_info["path"])
        if stored is None:
            return _respond(NOT_FOUND.payload(), 404)
        with self._activity(None):
            return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    def _fail(self, method: str, error: ApiError) -> web.Response:
        self.errors.append(ErrorRecord(method, error.code, error.description))
        return _respond(error.payload(), error.code)

    async def _sleep(self, delay: float) -> None:
        """Sleep for a slow-response fault, but give way at shutdown."""
        deadline = self._now() + delay
        while not self._closing and self._now() < deadline:
            await self._changed_or_timeout(deadline - self._now())


def _respond(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without answering, as a flaky network or proxy would."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=200)


def _client_gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _bot_id(token: str) -> int:
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 1


def _describe(update: dict[str, Any]) -> str:
    kind = update_type(update)
    body = update.get(kind)
    body = body if isinstance(body, dict) else {}
    detail = body.get("text") or body.get("data") or body.get("caption") or ""
    return f"update {update.get('update_id')} ({kind}{' ' + repr(detail[:40]) if detail else ''})"
