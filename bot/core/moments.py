"""The staff decision flow as a service: find the playbook version, advance the flow, commit the decision."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.core import conversation as conv
from bot.core.catalog import Catalog
from bot.core.decisions import draft_decision
from bot.core.loader import parse_playbook
from bot.core.money import currency_decimals, limit_for
from bot.core.people import Person
from bot.core.playbook import Playbook
from storage import decisions as decision_store
from storage import versions as version_store
from storage.db import Database
from storage.models import Decision


@dataclass(frozen=True)
class Result:
    """What to show after an action; `decision` is set once it has been committed."""

    playbook: Playbook | None
    flow: conv.Flow | None
    screen: conv.Screen
    rules: conv.Rules | None = None
    decision: Decision | None = None
    trial: bool = False  # a trial flow of a draft reached its end: nothing was recorded


class MomentService:
    def __init__(self, catalog: Catalog, db: Database, *, default_limits: Mapping[str, Decimal],
                 note_max: int, clock: Callable[[], float] = time.time) -> None:
        self.catalog = catalog
        self.db = db
        self.default_limits = dict(default_limits)
        self.note_max = note_max
        self.clock = clock

    def rules_for(self, playbook: Playbook, person: Person) -> conv.Rules:
        return conv.Rules(limit=limit_for(playbook, person.role, self.default_limits, person.team_limits),
                          decimals=currency_decimals(person.currency), note_max=self.note_max)

    async def playbook(self, playbook_id: str, version: str | None = None) -> Playbook | None:
        """The live playbook, or an exact older version that a flow started on (read from the database)."""
        if version is None:
            return self.catalog.live(playbook_id)
        found = self.catalog.version(playbook_id, version)
        if found is not None:
            return found
        async with self.db.session() as session:
            source = await version_store.version_source(session, playbook_id, version)
        if source is None:
            return None
        parsed, _ = parse_playbook(source, f"{playbook_id}@{version}")
        if parsed is not None:
            self.catalog.remember(parsed)
        return parsed

    async def begin(self, person: Person, playbook_id: str) -> Result:
        playbook = self.catalog.live(playbook_id)
        if playbook is None:
            return Result(None, None, conv.Expired())
        transition = conv.start(playbook, self.clock())
        return Result(playbook, transition.flow, transition.screen, self.rules_for(playbook, person))

    async def begin_trial(self, person: Person, playbook: Playbook) -> Result:
        """Walk a draft (not live) playbook as staff would; the flow is marked so nothing is recorded."""
        self.catalog.remember(playbook)
        transition = conv.start(playbook, self.clock())
        assert transition.flow is not None
        transition.flow.trial = True
        return Result(playbook, transition.flow, transition.screen, self.rules_for(playbook, person))

    async def current(self, person: Person, flow_data: Mapping[str, Any] | None) -> Result:
        """Redraw the flow as it stands (after a restart, or when someone asks where they were)."""
        flow, playbook = await self._restore(flow_data)
        if flow is None or playbook is None:
            return Result(None, None, conv.Expired())
        rules = self.rules_for(playbook, person)
        return Result(playbook, flow, conv.screen_for(playbook, flow, rules), rules)

    async def act(self, person: Person, flow_data: Mapping[str, Any] | None, action: conv.Action,
                  token: str | None = None) -> Result:
        """Apply one action. A token that is not the current flow's means an old message: Expired."""
        flow, playbook = await self._restore(flow_data)
        if flow is None or playbook is None or (token is not None and token != flow.token):
            return Result(playbook, flow, conv.Expired())
        rules = self.rules_for(playbook, person)
        transition = conv.apply(playbook, flow, action, rules)
        if not isinstance(transition.screen, conv.Complete):
            return Result(playbook, transition.flow, transition.screen, rules)
        assert transition.flow is not None
        if transition.flow.trial:
            return Result(playbook, None, transition.screen, rules, trial=True)
        draft = draft_decision(playbook, transition.flow, limit=rules.limit, decimals=rules.decimals,
                               currency=person.currency, now=self.clock())
        async with self.db.session() as session:
            decision, _created = await decision_store.record_decision(
                session, draft, user_id=person.user_id, team_id=person.team_id)
        return Result(playbook, None, transition.screen, rules, decision)

    async def _restore(self, flow_data: Mapping[str, Any] | None) -> tuple[conv.Flow | None, Playbook | None]:
        if not flow_data:
            return None, None
        try:
            flow = conv.Flow.from_dict(dict(flow_data))
        except (KeyError, TypeError, ValueError):
            return None, None  # state written by an older release: treat as expired rather than crash
        return flow, await self.playbook(flow.playbook_id, flow.version)


async def recent_decisions(db: Database, person: Person, limit: int = 10) -> list[Decision]:
    async with db.session() as session:
        return list(await decision_store.recent_for_user(session, person.user_id, limit))
