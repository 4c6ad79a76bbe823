"""Running the stand-in outside tests: ``serve()`` for a demo script, ``main()`` for a terminal.

With ``--console`` you chat with the bot as a simulated user: type a message to send it, or
``!press <label>``, ``!data <callback data>``, ``!doc <path> [caption]``, ``!screen``,
``!user <id> [name]`` (switch user), ``!block``, ``!unblock``, ``!quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .server import DEFAULT_TOKEN, BotAPIStandIn
from .users import SimUser


async def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str = DEFAULT_TOKEN,
    *,
    console: bool = False,
    ready: Callable[[BotAPIStandIn], Awaitable[None]] | None = None,
) -> None:
    """Run until cancelled (or until ``!quit`` on the console).

    ``ready`` is awaited once the server listens: a demo uses it to script users.
    """
    async with BotAPIStandIn(token, host=host, port=port) as api:
        print(f"Bot API stand-in on {api.base_url} (token {api.token})", flush=True)
        if ready is not None:
            await ready(api)
        if console:
            await _console(api)
        else:
            await asyncio.Event().wait()


async def _console(api: BotAPIStandIn) -> None:
    user = api.user(1, "Ann")
    loop = asyncio.get_running_loop()
    while True:
        try:
            line = (await loop.run_in_executor(None, input, f"{user.name}> ")).strip()
        except EOFError:
            return
        if line in ("!quit", "!q"):
            return
        if line.startswith("!user"):
            parts = line.split(maxsplit=2)
            user = api.user(int(parts[1]), parts[2] if len(parts) > 2 else f"User{parts[1]}")
            continue
        try:
            await _console_action(user, line)
            print(user.screen(), flush=True)
        except AssertionError as problem:
            print(f"!! {problem}", flush=True)


async def _console_action(user: SimUser, line: str) -> None:
    command, _, rest = line.partition(" ")
    if command == "!press":
        answer = await user.press(rest)
        if answer and answer.text:
            print(f"(toast) {answer.text}")
    elif command == "!data":
        await user.press_data(rest)
    elif command == "!doc":
        path, _, caption = rest.partition(" ")
        await user.send_document(path, caption or None)
    elif command == "!block":
        user.block()
    elif command == "!unblock":
        user.unblock()
    elif command != "!screen" and line:
        await user.send(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for the Telegram Bot API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--console", action="store_true", help="chat with the bot as a simulated user")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, console=args.console))
