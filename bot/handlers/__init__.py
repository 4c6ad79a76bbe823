"""aiogram routers, one per feature; the order matters: specific before catch-all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject

from bot.handlers import (
    admin,
    audit,
    authoring,
    digest,
    errors,
    escalation,
    fallback,
    graph,
    history,
    invites,
    language,
    limits,
    moment,
    onboarding,
    privacy,
    start,
    team,
    training,
    unmatched,
)


def routers() -> list[Router]:
    return checked_on_the_loop([
        errors.router(),
        onboarding.router(),  # before start: `/start <token>` is an invite, plain /start the menu
        start.router(),
        admin.router(),
        invites.router(),
        team.router(),
        audit.router(),
        authoring.router(),  # managers' .yaml uploads and /playbooks
        digest.router(),  # /digest [team] [week]: the weekly figures for managers and supervisors
        graph.router(),  # /graph ID: a playbook's decision tree as a picture
        unmatched.router(),  # /unmatched, and "None of these" under search results
        limits.router(),
        privacy.router(),
        language.router(),  # /language
        history.router(),
        training.router(),  # /train, /progress, /results, /push and the answers to cards
        escalation.router(),  # before moment: asking a lead, and what is typed while waiting for one
        moment.router(),
        fallback.router(),
    ])


def checked_on_the_loop(routers: list[Router]) -> list[Router]:
    """Make every plain (non-async) filter run on the event loop.

    aiogram runs a filter that is not a coroutine function — `F.text`, `~F.text.startswith("/")`, a lambda —
    through `asyncio.to_thread`: a worker-thread round trip for a check that takes a microsecond, for each
    handler tried, on every update (bench/flow.py: three quarters of a thread hop per update, a few percent of
    the bot's CPU). Ours are all pure checks on the event, so they are called directly instead.
    """
    for router in _with_subrouters(routers):
        for observer in router.observers.values():
            for handler in [observer._handler, *observer.handlers]:  # the router's own filters, then each handler's
                for event_filter in handler.filters or ():
                    _call_directly(event_filter)
    return routers


def _with_subrouters(routers: Iterable[Router]) -> Iterable[Router]:
    for router in routers:
        yield router
        yield from _with_subrouters(router.sub_routers)


def _call_directly(event_filter: FilterObject) -> None:
    if event_filter.awaitable:
        return
    check = event_filter.callback

    async def on_the_loop(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    event_filter.callback = on_the_loop
    event_filter.awaitable = True  # its parameters were read from the plain check already; they stay
