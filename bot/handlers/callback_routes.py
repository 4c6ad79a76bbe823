"""Send a button press only to the feature routers that could take it, in their usual order.

aiogram walks every router in order for every update and, in each, checks every handler's filters. A press
in the middle of a playbook belongs to the 18th of 19 routers: 17 routers were walked first, and each
`CallbackData` filter on the way split the data only to find another prefix (bench/flow.py: a quarter of
the bot's dispatch CPU). A handler filtered by a `CallbackData` class can only take data with that class's
prefix, so a router whose every button handler is filtered that way can be skipped for any other prefix
without changing which handler wins. Routers with a catch-all button handler (onboarding, waiting for a
lead, the fallback) are always walked, in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, TelegramObject

CALLBACK_QUERY = "callback_query"
Key = tuple[str, str]  # (separator, prefix) of a CallbackData class


class FeatureRouters(Router):
    """The feature routers, as one router that routes button presses by their callback data's prefix."""

    def __init__(self, routers: Iterable[Router]) -> None:
        super().__init__(name="features")
        self.include_routers(*routers)
        self._keys = {router: _callback_keys(router) for router in self.sub_routers}
        self._separators = sorted({sep for keys in self._keys.values() if keys for sep, _ in keys})
        self._routes: dict[frozenset[Key], tuple[Router, ...]] = {}

    def routes_for(self, data: str | None) -> tuple[Router, ...]:
        """The routers, in order, that could take a press with this data (cached per prefix)."""
        keys = frozenset((sep, (data or "").split(sep, 1)[0]) for sep in self._separators)
        routes = self._routes.get(keys)
        if routes is None:
            routes = tuple(router for router, accepted in self._keys.items() if accepted is None or accepted & keys)
            if len(self._routes) < 1024:  # forged data must not grow the cache without bound
                self._routes[keys] = routes
        return routes

    async def _propagate_event(self, observer: TelegramEventObserver | None, update_type: str,
                               event: TelegramObject, **kwargs: Any) -> Any:
        if update_type != CALLBACK_QUERY or not isinstance(event, CallbackQuery) or \
                (observer is not None and observer.handlers):
            return await super()._propagate_event(observer, update_type, event, **kwargs)
        if observer is not None:
            passed, data = await observer.check_root_filters(event, **kwargs)
            if not passed:
                return UNHANDLED
            kwargs.update(data)
        for router in self.routes_for(event.data):
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED


def _callback_keys(router: Router) -> frozenset[Key] | None:
    """The callback data prefixes this router (and its sub-routers) can take; None: it may take any press,
    or it does something with a press even when none of its handlers takes it (an outer middleware)."""
    keys: set[Key] = set()
    observer = router.observers[CALLBACK_QUERY]
    if observer.outer_middleware:
        return None
    for handler in observer.handlers:
        filters = [f.callback for f in handler.filters or ()]
        prefixed = [f for f in filters if isinstance(f, CallbackQueryFilter)]
        if not prefixed:
            return None
        # All of a handler's filters must pass, so any one of its CallbackData filters bounds it.
        keys.add((prefixed[0].callback_data.__separator__, prefixed[0].callback_data.__prefix__))
    for sub in router.sub_routers:
        sub_keys = _callback_keys(sub)
        if sub_keys is None:
            return None
        keys |= sub_keys
    return frozenset(keys)
