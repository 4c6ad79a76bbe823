"""Messages and button presses go only to the routers that could take them, and the same handler wins as
when every router is walked in order (bot/handlers/routing.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup, default_state
from aiogram.types import CallbackQuery, Chat, Message, User

from bot.handlers import routers
from bot.handlers.routing import FeatureRouters


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


def names(indexed: FeatureRouters, data: str, state: str | None = None) -> list[str | None]:
    return [r.name for r in indexed.routes_for("callback_query", press(data), raw_state=state)]


def message_names(indexed: FeatureRouters, text: str, state: str | None) -> list[str | None]:
    return [r.name for r in indexed.routes_for("message", message(text), raw_state=state)]


def message(text: str | None, caption: str | None = None) -> Message:
    return Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=7, type="private"), text=text,
                   caption=caption, from_user=User(id=7, is_bot=False, first_name="Ann"))


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
    assert names(indexed, "c:word") == ["sometimes", "c", "fallback"]
    assert names(indexed, "a:1") == ["a", "sometimes", "fallback"]
    assert names(indexed, "forged") == ["sometimes", "fallback"]


def test_a_router_with_an_outer_middleware_is_always_walked() -> None:
    shaped = feature_routers()

    async def middleware(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        return await handler(event, data)

    shaped[2].callback_query.outer_middleware(middleware)  # runs even for presses no handler of c takes
    indexed = FeatureRouters(shaped)
    assert "c" in names(indexed, "a:1")


def test_forged_prefixes_do_not_grow_the_cache_without_bound() -> None:
    indexed = FeatureRouters(feature_routers())
    for n in range(5000):
        indexed.routes_for("callback_query", press(f"forged{n}:1"))
    assert len(indexed.tables["callback_query"].routes) <= 1024


def test_every_prefix_of_the_bot_reaches_the_router_that_handles_it() -> None:
    features = FeatureRouters(routers())
    order = [router.name for router in features.sub_routers]
    bounds = features.tables["callback_query"].bounds
    for router in features.sub_routers:
        for bound in bounds[router] or ():
            for separator, prefix in bound.prefixes or ():
                routed = names(features, f"{prefix}{separator}x", state=next(iter(bound.states or {None})))
                assert router.name in routed
                assert "fallback" in routed
                assert routed == sorted(routed, key=order.index)  # walked in the usual order
    # The press that moves a playbook on skips all but the routers that could take it.
    assert names(features, "f:1") == ["onboarding", "escalation", "moment", "fallback"]
    # So does an amount typed into it; a command still reaches every router with commands.
    assert message_names(features, "20", "Moment:amount") == ["onboarding", "authoring", "moment", "fallback"]
    assert len(message_names(features, "/history", None)) == 18


class Form(StatesGroup):
    name = State()
    amount = State()


def message_routers() -> list[Router]:
    """Commands, states (one State, a whole group, the default state, any state), and catch-alls."""
    commands, named, grouped, anything, plain, fallback = (Router(name=n) for n in (
        "commands", "named", "grouped", "anything", "plain", "fallback"))
    commands.message.register(labelled("help"), Command("help"))
    commands.message.register(labelled("bang"), Command("go", prefix="!"))
    named.message.register(labelled("name"), StateFilter(Form.name), F.text)
    grouped.message.register(labelled("grouped"), StateFilter(Form), F.text.isdigit())
    grouped.message.register(labelled("idle"), StateFilter(default_state), F.text == "hello")
    anything.message.register(labelled("any state"), StateFilter("*"), F.text == "stop")
    plain.message.register(labelled("no text"), ~F.text)
    fallback.message.register(labelled("fallback"))
    return [commands, named, grouped, anything, plain, fallback]


@pytest.mark.parametrize("state", [None, "Form:name", "Form:amount", "Other:state"])
@pytest.mark.parametrize(("text", "caption"), [("/help", None), ("/help@moments_bot x", None), ("!go", None),
                                               ("/go", None), ("hello", None), ("42", None), ("stop", None),
                                               ("", None), (None, "/help"), (None, "a photo"), (None, None)])
async def test_messages_reach_the_same_handler_as_when_every_router_is_walked(text: str | None, caption: str | None,
                                                                            state: str | None) -> None:
    bot = Bot("42:TEST")
    bot._me = User(id=42, is_bot=True, first_name="Moments", username="moments_bot")
    walked = Router(name="all")
    walked.include_routers(*message_routers())
    indexed = FeatureRouters(message_routers())

    event = message(text, caption)
    expected = await walked.propagate_event("message", event, bot=bot, raw_state=state)
    assert await indexed.propagate_event("message", event, bot=bot, raw_state=state) == expected
    assert expected is not UNHANDLED


def test_a_typed_answer_skips_the_command_routers() -> None:
    indexed = FeatureRouters(message_routers())
    assert message_names(indexed, "42", "Form:amount") == ["grouped", "anything", "plain", "fallback"]
    assert message_names(indexed, "/help", None) == ["commands", "grouped", "anything", "plain", "fallback"]
