"""Send an update only to the feature routers that could take it, in their usual order.

aiogram walks every router in order for every update and, in each, checks every handler's filters. A press
in the middle of a playbook belongs to the 18th of 19 routers, and an amount typed into it to the same one:
17 routers were walked first, each `CallbackData` filter on the way splitting the data only to find another
prefix, each `Command` filter parsing text that is no command (bench/flow.py: a quarter of the dispatch CPU).

Some filters bound what a handler can ever take, whatever the other filters say (all of them must pass):
- a `CallbackData` filter takes only presses whose data has that class's prefix;
- a `Command` filter takes only text or a caption that starts with one of its prefixes (`/`);
- a `StateFilter` takes only updates whose conversation is in one of its states.
A router none of whose handlers could take an update is skipped; which handler wins does not change. A
router with an outer middleware of that update type is never skipped (it runs even when no handler takes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from inspect import isclass
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject

CACHE_SIZE = 1024  # routes kept per update type; forged data or odd states must not grow it without bound


@dataclass(frozen=True)
class Bound:
    """What one handler can take at most; None: not bounded by that."""

    prefixes: frozenset[tuple[str, str]] | None = None  # (separator, prefix) of its CallbackData
    command_prefixes: str | None = None  # the first characters its Command filter accepts
    states: frozenset[str | None] | None = None  # the conversation states its StateFilter accepts


@dataclass(frozen=True)
class Key:
    """What an update offers to those bounds (hashable: routes are cached by it)."""

    heads: frozenset[tuple[str, str]]  # for a press: (separator, the data's part before it) per separator in use
    first: str  # for a message: the first character of its text or caption ("" without one)
    state: str | None


def _bound(handler: HandlerObject) -> Bound:
    prefixes = commands = states = None
    for event_filter in handler.filters or ():
        check = event_filter.callback
        if isinstance(check, CallbackQueryFilter):
            data = check.callback_data
            prefixes = frozenset({(data.__separator__, data.__prefix__)})
        elif isinstance(check, Command):
            commands = check.prefix
        elif isinstance(check, StateFilter):
            states = _states(check.states)
    return Bound(prefixes, commands, states)


def _states(allowed: Iterable[Any]) -> frozenset[str | None] | None:
    """The raw states a StateFilter accepts (as aiogram's StateFilter.__call__ reads them), None for any."""
    names: set[str | None] = set()
    for state in allowed:
        if state is None or isinstance(state, str):
            if state == "*":
                return None
            names.add(state)
        elif isinstance(state, State):
            if state.state == "*":
                return None
            names.add(state.state)
        elif isinstance(state, StatesGroup):
            names.update(type(state).__all_states_names__)
        elif isclass(state) and issubclass(state, StatesGroup):
            names.update(state.__all_states_names__)
        else:
            return None  # something this module does not know: assume it may take anything
    return frozenset(names)


def _could_take(bound: Bound, key: Key) -> bool:
    if bound.prefixes is not None and not bound.prefixes & key.heads:
        return False
    if bound.command_prefixes is not None and (not key.first or key.first not in bound.command_prefixes):
        return False
    return bound.states is None or key.state in bound.states


class _Table:
    """For one update type: each router's handler bounds, and the routes worked out per key."""

    def __init__(self, update_type: str, routers: list[Router]) -> None:
        self.bounds: dict[Router, list[Bound] | None] = {r: _router_bounds(r, update_type) for r in routers}
        self.separators = sorted({sep for bounds in self.bounds.values() for b in bounds or ()
                                  for sep, _ in b.prefixes or ()})
        self.routes: dict[Key, tuple[Router, ...]] = {}

    def key(self, data: str, first: str, state: str | None) -> Key:
        return Key(frozenset((sep, data.split(sep, 1)[0]) for sep in self.separators), first, state)

    def routes_for(self, key: Key) -> tuple[Router, ...]:
        routes = self.routes.get(key)
        if routes is None:
            routes = tuple(router for router, bounds in self.bounds.items()
                           if bounds is None or any(_could_take(b, key) for b in bounds))
            if len(self.routes) < CACHE_SIZE:
                self.routes[key] = routes
        return routes


def _router_bounds(router: Router, update_type: str) -> list[Bound] | None:
    """The bounds of every handler of this router and its sub-routers; None: walk it for every update."""
    observer = router.observers[update_type]
    if observer.outer_middleware:
        return None
    bounds = [_bound(handler) for handler in observer.handlers]
    for sub in router.sub_routers:
        sub_bounds = _router_bounds(sub, update_type)
        if sub_bounds is None:
            return None
        bounds += sub_bounds
    return bounds


KEYS: dict[str, Callable[[_Table, Any, dict[str, Any]], Key]] = {
    "callback_query": lambda table, event, kwargs: table.key(event.data or "", "", kwargs.get("raw_state")),
    "message": lambda table, event, kwargs: table.key("", (event.text or event.caption or "")[:1],
                                                      kwargs.get("raw_state")),
}
EVENTS: dict[str, type[TelegramObject]] = {"callback_query": CallbackQuery, "message": Message}


class FeatureRouters(Router):
    """The feature routers, as one router that walks, for messages and button presses, only those that could
    take the update."""

    def __init__(self, routers: Iterable[Router]) -> None:
        super().__init__(name="features")
        self.include_routers(*routers)
        self.tables = {update_type: _Table(update_type, list(self.sub_routers)) for update_type in KEYS}

    def routes_for(self, update_type: str, event: TelegramObject, **kwargs: Any) -> tuple[Router, ...]:
        table = self.tables[update_type]
        return table.routes_for(KEYS[update_type](table, event, kwargs))

    async def _propagate_event(self, observer: TelegramEventObserver | None, update_type: str,
                               event: TelegramObject, **kwargs: Any) -> Any:
        if update_type not in KEYS or not isinstance(event, EVENTS[update_type]) or \
                (observer is not None and observer.handlers):
            return await super()._propagate_event(observer, update_type, event, **kwargs)
        if observer is not None:
            passed, data = await observer.check_root_filters(event, **kwargs)
            if not passed:
                return UNHANDLED
            kwargs.update(data)
        for router in self.routes_for(update_type, event, **kwargs):
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

