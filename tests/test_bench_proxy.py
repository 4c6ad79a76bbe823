"""bench/proxy.py: the round-robin reverse proxy bench/flow.py puts in front of several webhook processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.proxy import proxy_app

SECRET = "X-Telegram-Bot-Api-Secret-Token"


async def _site(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _backend(name: str, seen: list[dict[str, Any]]) -> web.Application:
    """Records what reached it; answers with its name, a chosen status and a header of its own."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"backend": name, "method": request.method, "path_qs": request.path_qs, "body": body,
                     "secret": request.headers.getall(SECRET, []), "connection": request.headers.get("Connection"),
                     "x_hop": request.headers.get("X-Hop"), "content_type": request.headers.get("Content-Type")})
        status = int(request.query.get("status", "200"))
        return web.Response(status=status, body=json.dumps({"from": name}).encode(),
                            headers={"X-Backend": name, "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def stack() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[str]]]:
    seen: list[dict[str, Any]] = []
    runners, urls = [], []
    for name in ("a", "b"):
        runner, url = await _site(_backend(name, seen))
        runners.append(runner)
        urls.append(url)
    proxy_runner, proxy_url = await _site(proxy_app(urls))
    runners.append(proxy_runner)
    try:
        yield proxy_url, seen, urls
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def test_forwards_path_headers_body_and_status_round_robin(stack: tuple[str, list[dict[str, Any]], list[str]]
                                                                ) -> None:
    proxy_url, seen, _ = stack
    update = json.dumps({"update_id": 7, "message": {"text": "ciao ✓"}}).encode()
    answers = []
    async with aiohttp.ClientSession() as http:
        for n, status in enumerate((200, 503, 200, 401)):
            async with http.post(f"{proxy_url}/telegram/updates?status={status}&n={n}", data=update,
                                 headers={SECRET: "s3cret_-0", "Content-Type": "application/json",
                                          "Connection": "keep-alive, X-Hop", "X-Hop": "for the proxy only"},
                                 ) as response:
                answers.append((response.status, response.headers.get("X-Backend"), await response.json()))

    # Every request reached a backend unchanged, alternating a, b, a, b.
    assert [s["backend"] for s in seen] == ["a", "b", "a", "b"]
    assert [s["path_qs"] for s in seen] == [f"/telegram/updates?status={st}&n={n}"
                                            for n, st in enumerate((200, 503, 200, 401))]
    assert all(s["method"] == "POST" and s["body"] == update for s in seen)
    assert all(s["secret"] == ["s3cret_-0"] and s["content_type"] == "application/json" for s in seen)
    # Hop-by-hop headers (and those Connection names) stop at the proxy.
    assert all(s["x_hop"] is None and (s["connection"] or "").lower() != "x-hop" for s in seen)
    # The backend's status, headers and body come back as they are.
    assert answers == [(200, "a", {"from": "a"}), (503, "b", {"from": "b"}), (200, "a", {"from": "a"}),
                       (401, "b", {"from": "b"})]


async def test_no_secret_header_is_not_invented_and_other_methods_pass(
        stack: tuple[str, list[dict[str, Any]], list[str]]) -> None:
    proxy_url, seen, _ = stack
    async with aiohttp.ClientSession() as http, http.get(f"{proxy_url}/healthz") as response:
        assert response.status == 200
    assert seen[0]["method"] == "GET" and seen[0]["path_qs"] == "/healthz"
    assert seen[0]["secret"] == [] and seen[0]["body"] == b""


async def test_an_unreachable_backend_is_a_502() -> None:
    # A port that was free a moment ago: nothing listens there.
    runner, dead = await _site(web.Application())
    await runner.cleanup()
    proxy_runner, proxy_url = await _site(proxy_app([dead]))
    try:
        async with aiohttp.ClientSession() as http, http.post(f"{proxy_url}/telegram/updates", data=b"{}") as r:
            assert r.status == 502
    finally:
        await proxy_runner.cleanup()
