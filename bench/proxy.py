"""A minimal round-robin HTTP reverse proxy: one address in front of several `moments run --webhook` processes.

bench/flow.py points the stand-in's webhook at it, as a load balancer (nginx, a cloud balancer) would sit in
front of the bot processes in production. Each request goes to the next backend in turn, unchanged: method,
path and query, headers (X-Telegram-Bot-Api-Secret-Token included; hop-by-hop headers dropped, as HTTP/1.1
says a proxy must), body; the backend's status, headers and body come back as they are. A backend that
cannot be reached is answered 502, which makes Telegram (and the stand-in) deliver the update again.
No retry here: a webhook POST is not idempotent for the proxy to know (the bot's update claim makes the
retry safe, the sender's retry is the right place).

    .venv/bin/python bench/proxy.py --port 8443 --backend http://127.0.0.1:8081 --backend http://127.0.0.1:8082

Runs until SIGINT/SIGTERM; exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

# RFC 9110 section 7.6.1: meant for one connection only, never forwarded. Content-Length is recomputed
# for the body sent on, and Host names the backend, as nginx's default `proxy_set_header Host $proxy_host`.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length", "host",
})


class RoundRobin:
    """Each call to pick() gives the next backend, in turn."""

    def __init__(self, backends: list[str]) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = [b.rstrip("/") for b in backends]
        self._turn = itertools.cycle(self.backends)

    def pick(self) -> str:
        return next(self._turn)


BACKENDS_KEY = web.AppKey("backends", RoundRobin)
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)


def forwarded_headers(headers: object, drop: frozenset[str] = HOP_BY_HOP) -> list[tuple[str, str]]:
    """The end-to-end headers, in order, repeated ones kept (a multidict's items)."""
    items = headers.items()  # type: ignore[attr-defined]
    listed = {token.strip().lower() for value in headers.getall("Connection", [])  # type: ignore[attr-defined]
              for token in value.split(",")}
    return [(name, value) for name, value in items if name.lower() not in drop and name.lower() not in listed]


async def forward(request: web.Request) -> web.StreamResponse:
    backend = request.app[BACKENDS_KEY].pick()
    session = request.app[SESSION_KEY]
    body = await request.read()
    headers = forwarded_headers(request.headers)
    if request.remote:
        headers.append(("X-Forwarded-For", request.remote))
    try:
        async with session.request(request.method, backend + request.path_qs, headers=headers, data=body,
                                   allow_redirects=False) as upstream:
            payload = await upstream.read()
            return web.Response(status=upstream.status, reason=upstream.reason, body=payload,
                                headers=forwarded_headers(upstream.headers))  # type: ignore[arg-type]
    except (aiohttp.ClientError, TimeoutError, OSError):
        return web.Response(status=502, text="Bad Gateway")


def proxy_app(backends: list[str], timeout: float = 60.0) -> web.Application:
    """The proxy as an aiohttp app; backends are base URLs such as http://127.0.0.1:8081 (no trailing /)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[BACKENDS_KEY] = RoundRobin(backends)

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        # auto_decompress off and no automatic headers: bodies and headers pass through byte for byte.
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=timeout),
            auto_decompress=False, skip_auto_headers=("Accept-Encoding", "User-Agent", "Accept", "Content-Type"),
        ) as session:
            app[SESSION_KEY] = session
            yield

    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def serve(host: str, port: int, backends: list[str]) -> None:
    runner = web.AppRunner(proxy_app(backends), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"proxy on {host}:{port} -> {', '.join(backends)}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True, help="base URL; repeat for each backend")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.backend))


if __name__ == "__main__":
    main()
