"""Work in progress, counted, so that a shutdown can wait until there is none (updates, webhook requests)."""

from __future__ import annotations

import asyncio


class InFlight:
    """`with in_flight:` around each piece of work; `await in_flight.wait_idle(timeout)` at shutdown."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> InFlight:
        self.count += 1
        self._idle.clear()
        return self

    def __exit__(self, *_: object) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is in flight; False if something still was after `timeout` seconds."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), max(timeout, 0.0))
        except TimeoutError:
            return False
        return True
