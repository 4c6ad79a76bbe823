"""aiogram FSM storage on the application database, so conversations survive restarts and kill -9."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey

from storage import conversations
from storage.db import Database


class DatabaseStorage(BaseStorage):
    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await conversations.save(self.db, self._key(key), state=value)

    async def set_state_and_data(self, key: StorageKey, state: StateType, data: Mapping[str, Any]) -> None:
        """Both in one write: a crash can never leave a new state with old data."""
        value = state.state if isinstance(state, State) else state
        await conversations.save(self.db, self._key(key), state=value, data=dict(data))

    async def get_state(self, key: StorageKey) -> str | None:
        row = await conversations.load(self.db, self._key(key))
        return row[0] if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await conversations.save(self.db, self._key(key), data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await conversations.load(self.db, self._key(key))
        return row[1] if row else {}

    async def close(self) -> None:
        """The database is closed by its owner, not by the dispatcher."""
