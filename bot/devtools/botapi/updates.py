"""The pending-updates queue behind getUpdates, with Telegram's offset confirmation."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

# Telegram leaves these out unless a bot asks for them explicitly.
_OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


@dataclass(eq=False)
class Delivery:
    """One copy of an update in the queue; a re-delivered update gets its own Delivery."""

    update: dict[str, Any]
    forced: bool = False  # re-delivery of an already confirmed id: bypasses the offset check once
    delivered: bool = False
    filtered: bool = False  # dropped because the bot's allowed_updates exclude its type
    calls_mark: int = 0  # the chat's call count when the bot fetched it
    # Webhook mode: POSTs made, and the last HTTP status (0: no connection); delivered once a 2xx came back.
    attempts: int = 0
    last_status: int | None = None
    given_up: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class UpdateQueue:
    def __init__(self) -> None:
        self._items: list[Delivery] = []
        self._history: dict[int, dict[str, Any]] = {}
        self.next_id = 1
        self.allowed_updates: list[str] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def push(self, update: dict[str, Any]) -> Delivery:
        """Queue a copy of ``update``; without an update_id it gets the next one."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self.next_id, **update}
        update_id = int(update["update_id"])
        forced = update_id < self.next_id
        self.next_id = max(self.next_id, update_id + 1)
        self._history.setdefault(update_id, copy.deepcopy(update))
        item = Delivery(update, forced=forced)
        self._items.append(item)
        return item

    def original(self, update_id: int) -> dict[str, Any]:
        if update_id not in self._history:
            raise KeyError(f"no update with id {update_id} was ever queued")
        return copy.deepcopy(self._history[update_id])

    def confirm(self, offset: int | None) -> None:
        """Drop what ``offset`` confirms, as Telegram does when getUpdates carries an offset."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            # A negative offset keeps only the last -offset updates, forgetting the rest.
            self._items = self._items[offset:]
            return
        self._items = [i for i in self._items if not (i.update_id < offset and (i.delivered or not i.forced))]

    def take(self, limit: int) -> list[Delivery]:
        """The updates the next getUpdates answers with (re-deliveries first, so offsets stay sane)."""
        self._filter_disallowed()
        ordered = [i for i in self._items if i.forced] + [i for i in self._items if not i.forced]
        batch = ordered[:limit]
        for item in batch:
            item.delivered = True
        return batch

    def pop_for_push(self) -> list[Delivery]:
        """Webhook mode: every queued update allowed, taken out of the queue (re-deliveries first)."""
        self._filter_disallowed()
        ordered = [i for i in self._items if i.forced] + [i for i in self._items if not i.forced]
        self._items.clear()
        return ordered

    def put_back(self, item: Delivery) -> None:
        """A webhook POST that failed: the update waits for the next attempt, as on Telegram."""
        self._items.append(item)

    def clear(self) -> None:
        for item in self._items:
            item.filtered = True  # waiters see it will never be fetched
        self._items.clear()

    def _filter_disallowed(self) -> None:
        allowed = self.allowed_updates
        kept = []
        for item in self._items:
            kind = update_type(item.update)
            if (allowed and kind not in allowed) or (not allowed and kind in _OPT_IN_TYPES):
                item.filtered = True
            else:
                kept.append(item)
        self._items = kept
