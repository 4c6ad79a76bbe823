"""Button presses go only to the routers that could take them, and the same handler wins as when every
router is walked in order (bot/handlers/callback_routes.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Chat, Message, User

from bot.handlers import routers
from bot.handlers.callback_routes import FeatureRouters


class ACb(CallbackData, prefix="a"):
    n: int


class CCb(CallbackData, prefix="c"):
    word: str


def labelled(label: str) -> Callable[..., Any]:
    async def handler(event: CallbackQuery) -> str:
        return label
    return handler


def feature_routers() -> list[Router]:
    """A small copy of the real shape: prefixed routers, a catch-all that only some presses pass, and a
    fallback that takes everything."""
    a, sometimes, c, fallback = Router(name="a"), Router(name="sometimes"), Router(name="c"), Router(name="fallback")
    a.callback_query.register(labelled("a.small"), ACb.filter(F.n < 10))
    a.callback_query.register(labelled("a.any"), ACb.filter())
    # No CallbackData filter: it may take a press of any prefix, so it must be tried before c.
    sometimes.callback_query.register(labelled("sometimes"), F.data.endswith(":steal"))
    c.callback_query.register(labelled("c"), CCb.filter())
    fallback.callback_query.register(labelled("fallback"))
    return [a, sometimes, c, fallback]


def press(data: str | None) -> CallbackQuery:
    user = User(id=7, is_bot=False, first_name="Ann")
    message = Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=7, type="private"), text="x")
    return CallbackQuery(id="1", from_user=user, chat_instance="1", data=data, message=message)


@pytest.mark.parametrize("data", ["a:1", "a:50", "a:x", "a:1:2", "c:word", "c:steal", "c:word:steal", "a:3:steal",
                                  "zz:1", "zz", "", None, "c", ":", "a:", "\u00e9:1"])
async def test_the_same_handler_wins_as_when_every_router_is_walked(data: str | None) -> None:
    walked = Router(name="all")
    walked.include_routers(*feature_routers())
    indexed = FeatureRouters(feature_routers())

    expected = await walked.propagate_event("callback_query", press(data))
    assert await indexed.propagate_event("callback_query", press(data)) == expected
    assert expected is not UNHANDLED  # the fallback takes everything


def test_a_press_skips_the_routers_that_cannot_take_it() -> None:
    indexed = FeatureRouters(feature_routers())
    assert [r.name for r in indexed.routes_for("c:word")] == ["sometimes", "c", "fallback"]
    assert [r.name for r in indexed.routes_for("a:1")] == ["a", "sometimes", "fallback"]
    assert [r.name for r in indexed.routes_for("forged")] == ["sometimes", "fallback"]


def test_a_router_with_an_outer_middleware_is_always_walked() -> None:
    shaped = feature_routers()

    async def middleware(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        return await handler(event, data)

    shaped[2].callback_query.outer_middleware(middleware)  # runs even for presses no handler of c takes
    indexed = FeatureRouters(shaped)
    assert "c" in [r.name for r in indexed.routes_for("a:1")]


def test_forged_prefixes_do_not_grow_the_cache_without_bound() -> None:
    indexed = FeatureRouters(feature_routers())
    for n in range(5000):
        indexed.routes_for(f"forged{n}:1")
    assert len(indexed._routes) <= 1024


def test_every_prefix_of_the_bot_reaches_the_router_that_handles_it() -> None:
    features = FeatureRouters(routers())
    names = [router.name for router in features.sub_routers]
    always = [router.name for router in features.sub_routers if features._keys[router] is None]
    assert always == ["onboarding", "fallback"]  # the routers that may take any press: keep this list short
    for router in features.sub_routers:
        for separator, prefix in features._keys[router] or ():
            routed = [r.name for r in features.routes_for(f"{prefix}{separator}x")]
            assert router.name in routed
            assert set(always) <= set(routed)
            assert routed == sorted(routed, key=names.index)  # walked in the usual order
    # The press that moves a playbook on skips all but the routers that could take it.
    assert [r.name for r in features.routes_for("f:1")] == ["onboarding", "escalation", "moment", "fallback"]
