"""Keeps this process's live playbooks in step with the database, which other processes publish to as well.

A publish, roll back or retire swaps the catalog of the process that made it at once (bot/core/authoring.py).
Every other bot process, the `moments scheduler` process and `moments playbooks sync` write the same tables, so
each process looks every `playbooks.refresh_seconds` at one small marker (storage.playbooks.live_marker) and
reloads only when it differs from what it serves. The reload parses and indexes off the event loop, then swaps
the live set and its matcher in one synchronous step. Conversations are pinned to a playbook version, and the
catalog keeps every version it has served, so a flow started before the swap finishes on its own version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.core.authoring import playbooks_of
from bot.core.catalog import Catalog, Signature
from bot.core.matcher import Matcher
from bot.core.playbook import Playbook
from storage import playbooks as store
from storage.db import Database

log = logging.getLogger(__name__)


class PlaybookRefresh:
    """`check()` is one look; `start()` looks every `interval` seconds in an asyncio task until `stop()`.

    `after` brings what is derived from the live set up to date once it changed (the training cards: it is
    TrainingService.sync, which does nothing when its set is current). It also runs when this process made the
    change itself, so the cards follow a publish without waiting for someone to train.
    """

    def __init__(self, db: Database, catalog: Catalog, interval: float,
                 after: Callable[[], Awaitable[object]] | None = None) -> None:
        self.db = db
        self.catalog = catalog
        self.interval = interval
        self.after = after
        self.reloads = 0  # live-set swaps made by this object
        self._seen: Signature | None = None  # the marker last handled completely (swap and `after`)
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def check(self) -> bool:
        """Reload the live set if the database's is not the one served here; True when it was swapped."""
        async with self.db.session() as session:
            marker = await store.live_marker(session)
        if marker == self._seen:
            return False
        swapped = False
        if marker != self.catalog.signature():
            swapped = await self._reload()
            if not swapped:
                return False  # this process changed it meanwhile: the next look compares again
        if self.after is not None:
            await self.after()
        self._seen = marker
        return swapped

    async def _reload(self) -> bool:
        generation = self.catalog.generation
        before = self.catalog.signature()
        async with self.db.session() as session:
            rows = await store.live_sources(session)
        known = self.catalog.all()

        def prepare() -> tuple[list[Playbook], Matcher]:
            playbooks = playbooks_of(rows, known)
            return playbooks, self.catalog.matcher_for(playbooks)

        # Parsing a changed playbook takes tens of milliseconds, and a sync may change many: not on the loop.
        playbooks, matcher = await asyncio.to_thread(prepare)
        if self.catalog.generation != generation:
            return False  # a publish here swapped it while we parsed; ours may be older
        self.catalog.replace(playbooks, matcher)
        self.reloads += 1
        after = self.catalog.signature()
        changed = sorted({entry[0] for entry in before ^ after})
        log.info("live playbooks changed in the database: %s; serving %d now", ", ".join(changed) or "none",
                 len(self.catalog))
        return True

    def start(self) -> None:
        """Look every `interval` seconds from now on; 0 means never."""
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="playbook-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception as exc:  # a database briefly away must not stop the process
                if not self._failing:
                    log.warning("could not bring the live playbooks up to date, trying again every %g s: %s: %s",
                                self.interval, type(exc).__name__, (str(exc).splitlines() or [""])[0])
                self._failing = True
            else:
                if self._failing:
                    log.info("bringing the live playbooks up to date works again")
                self._failing = False
