"""aiogram FSM storage on the application database, so conversations survive restarts and kill -9.

Every write goes to the database first (one committed upsert); reads are served from a small write-through
cache for `cache_seconds` after the last read or write of a key. aiogram reads a conversation twice per update
(its FSM middleware, then the handler) and the flow reads it again on the next tap seconds later: in
bench/flow.py the reads were two of the five database round trips of every update.

The cache is only right while this process is the only writer of conversation state. With several bot
processes on one database (webhook behind a load balancer) it must be 0: the default on PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey

from storage import conversations
from storage.db import Database

Entry = tuple[float, str | None, str]  # (expires at, state, data as JSON, as the database holds it)


class DatabaseStorage(BaseStorage):
    def __init__(self, db: Database, key_builder: KeyBuilder | None = None, cache_seconds: float = 0.0,
                 cache_size: int = 20_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, Entry] = OrderedDict()

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    # --- the cache -----------------------------------------------------------------------------------

    def _remember(self, key: str, state: str | None, data: Mapping[str, Any] | str) -> None:
        if self.cache_seconds <= 0:
            return
        # Kept as JSON text: each read then gets its own copy, exactly what a database read would give
        # (json.loads is several times cheaper than deepcopy), and the cache cannot be changed through it.
        text = data if isinstance(data, str) else json.dumps(data)
        self._cache[key] = (self._clock() + self.cache_seconds, state, text)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _read(self, key: str) -> tuple[str | None, dict[str, Any]]:
        entry = self._fresh(key)
        if entry is not None:
            _, state, text = entry
            self._remember(key, state, text)
            return state, json.loads(text)
        row = await conversations.load(self.db, key)
        state, data = row if row else (None, {})
        self._remember(key, state, data)
        return state, data

    def _fresh(self, key: str) -> Entry | None:
        entry = self._cache.get(key)
        if entry is not None and entry[0] <= self._clock():
            del self._cache[key]
            return None
        return entry

    def forget(self, key_prefix: str) -> None:
        """Drop cached conversations whose key starts with `key_prefix` (their rows were deleted elsewhere)."""
        for key in [k for k in self._cache if k.startswith(key_prefix)]:
            del self._cache[key]

    # --- aiogram's storage API -------------------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        name = self._key(key)
        await conversations.save(self.db, name, state=value)
        entry = self._fresh(name)
        if entry is not None:
            self._remember(name, value, entry[2])

    async def set_state_and_data(self, key: StorageKey, state: StateType, data: Mapping[str, Any]) -> None:
        """Both in one write: a crash can never leave a new state with old data."""
        value = state.state if isinstance(state, State) else state
        name = self._key(key)
        await conversations.save(self.db, name, state=value, data=dict(data))
        self._remember(name, value, data)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(self._key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        name = self._key(key)
        await conversations.save(self.db, name, data=dict(data))
        entry = self._fresh(name)
        if entry is not None:
            self._remember(name, entry[1], data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._read(self._key(key)))[1]

    async def close(self) -> None:
        """The database is closed by its owner, not by the dispatcher."""
