"""Asking a lead, as a service: open the case, take the first answer or the timeout, commit the decision.

No Telegram here: bot/handlers/escalation.py shows the results. The rules are in bot/core/escalation.py;
the race between answers (and the timeout) is settled by one guarded UPDATE in storage/escalations.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.core import conversation as conv
from bot.core import escalation as rules
from bot.core.decisions import draft_decision
from bot.core.escalation import Status
from bot.core.moments import MomentService
from bot.core.money import currency_decimals, limit_for, to_minor
from bot.core.people import Person
from bot.core.playbook import Playbook
from storage import decisions as decision_store
from storage import escalations as store
from storage.models import Decision, Escalation, EscalationNotice, Team, User


@dataclass(frozen=True)
class Opened:
    escalation: Escalation
    recipients: list[Person]


@dataclass(frozen=True)
class Case:
    """One escalation with everything needed to show it: to the leads, and back to the staff member."""

    escalation: Escalation
    playbook: Playbook
    waiting: conv.Flow  # the flow as it was asked, with the note staff added while waiting
    staff: Person
    answered_by: str | None = None  # the name of who answered (or withdrew)
    resolution: rules.Resolution | None = None
    decision: Decision | None = None
    notices: list[tuple[EscalationNotice, Person]] = field(default_factory=list)
    refused: str | None = None  # why an answer was refused (see rules.refusal); nothing changed

    @property
    def status(self) -> Status:
        return Status(self.escalation.status)


class EscalationService:
    def __init__(self, moments: MomentService, *, timeout_seconds: int, default_currency: str,
                 default_timezone: str = "UTC", clock: Callable[[], float] | None = None) -> None:
        self.moments = moments
        self.db = moments.db
        self.timeout_seconds = timeout_seconds
        self.default_currency = default_currency
        self.default_timezone = default_timezone
        self.clock = clock or moments.clock or time.time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ---- limits ----------------------------------------------------------------------------------

    def limit_of(self, playbook: Playbook, role: str, team_limits: Mapping[str, Decimal]) -> Decimal:
        return limit_for(playbook, role, self.moments.default_limits, team_limits)

    def lead_limit(self, playbook: Playbook, staff: Person) -> Decimal:
        """What a lead of the staff member's team may spend: the ceiling when nobody answers."""
        return self.limit_of(playbook, "lead", staff.team_limits)

    # ---- asking ----------------------------------------------------------------------------------

    async def open(self, person: Person, playbook: Playbook, flow: conv.Flow, *, chat_id: int,
                   message_id: int | None) -> Opened | None:
        """Create the escalation and pick who is asked. None (and nothing stored) when there is nobody."""
        await self.remember_name(person)
        async with self.db.session() as session:
            candidates = await store.team_candidates(session, person.team_id)
            chosen = rules.choose_recipients(candidates, person.user_id)
            if not chosen:
                return None
            team = await session.get(Team, person.team_id) if person.team_id is not None else None
            now = self.now()
            escalation = await store.create(session, Escalation(
                user_id=person.user_id, team_id=person.team_id, flow_token=flow.token,
                playbook_id=playbook.id, playbook_version=playbook.version, flow={**flow.to_dict(), "note": None},
                amount_minor=flow.amount_minor, currency=person.currency, note=flow.note,
                reason=rules.reason_for(flow).value, status=Status.PENDING.value, created_at=now,
                due_at=now + timedelta(seconds=self.timeout_seconds), staff_chat_id=chat_id,
                staff_message_id=message_id))
        return Opened(escalation, [self._person(user, team) for user in chosen])

    async def add_notice(self, escalation_id: int, lead_user_id: int, chat_id: int, message_id: int) -> None:
        async with self.db.session() as session:
            await store.add_notice(session, escalation_id, lead_user_id, chat_id, message_id)

    async def update_waiting(self, escalation_id: int, **values: Any) -> bool:
        """While still unanswered: the note staff typed (`note`), the message showing the wait
        (`staff_message_id`). False when an answer (or the timeout) came first: nothing changed."""
        async with self.db.session() as session:
            return await store.update_pending(session, escalation_id, **values)

    # ---- answers ---------------------------------------------------------------------------------

    async def check(self, lead: Person, escalation_id: int) -> Case | None:
        """The case as it stands, with `refused` set when `lead` may not answer it now. Changes nothing."""
        case = await self.case(escalation_id)
        if case is None:
            return None
        reason = rules.refusal(lead, team_id=case.escalation.team_id, asker_user_id=case.escalation.user_id,
                               status=case.escalation.status)
        return case if reason is None else replace_case(case, refused=reason)

    async def answer(self, lead: Person, escalation_id: int, status: Status) -> Case | None:
        """The first answer wins: the case after it, or with `refused` (who answered first, the timeout...)."""
        if status not in rules.ANSWERS:
            raise ValueError(status)
        checked = await self.check(lead, escalation_id)
        if checked is None or checked.refused:
            return checked
        await self.remember_name(lead)
        async with self.db.session() as session:
            won = await store.claim(session, escalation_id, status.value, answered_by=lead.user_id, now=self.now())
        return await self._settled(escalation_id, won, lead)

    async def time_out(self, escalation_id: int, now: datetime | None = None) -> Case | None:
        """Nobody answered in time: settle it once. None when it was settled already (or is not due)."""
        moment = now or self.now()
        async with self.db.session() as session:
            won = await store.claim(session, escalation_id, Status.TIMEOUT.value, now=moment, due_by=moment)
        return await self._settled(escalation_id, won) if won else None

    async def withdraw(self, escalation_id: int) -> Case | None:
        """Staff decide themselves (or left the flow). None when an answer came first."""
        async with self.db.session() as session:
            won = await store.claim(session, escalation_id, Status.CANCELLED.value, now=self.now())
        return await self.case(escalation_id) if won else None

    async def _settled(self, escalation_id: int, won: bool, lead: Person | None = None) -> Case | None:
        case = await self.case(escalation_id)
        if case is None:
            return None
        if not won:
            assert lead is not None
            reason = rules.refusal(lead, team_id=case.escalation.team_id, asker_user_id=case.escalation.user_id,
                                   status=case.escalation.status)
            return replace_case(case, refused=reason or "answered")
        if case.resolution is not None and case.resolution.decided and case.decision is None:
            decision = await self._record(case)
            case = replace_case(case, decision=decision)
        return case

    async def _record(self, case: Case) -> Decision:
        assert case.resolution is not None and case.escalation.id is not None
        staff = case.staff
        limit = self.limit_of(case.playbook, staff.role, staff.team_limits)
        draft = draft_decision(case.playbook, case.resolution.flow, limit=limit,
                               decimals=currency_decimals(case.escalation.currency),
                               currency=case.escalation.currency, now=self.clock())
        async with self.db.session() as session:
            decision, _created = await decision_store.record_decision(
                session, draft, user_id=case.escalation.user_id, team_id=case.escalation.team_id)
            assert decision.id is not None
            await store.set_decision(session, case.escalation.id, decision.id)
        return decision

    # ---- reading ---------------------------------------------------------------------------------

    async def case(self, escalation_id: int) -> Case | None:
        async with self.db.session() as session:
            escalation = await store.get(session, escalation_id)
            if escalation is None:
                return None
            staff_user, team = await store.user_and_team(session, escalation.user_id)
            answerer, _ = await store.user_and_team(session, escalation.answered_by)
            copies = await store.notices(session, escalation_id)
            decision = await session.get(Decision, escalation.decision_id) if escalation.decision_id else None
        playbook = await self.moments.playbook(escalation.playbook_id, escalation.playbook_version)
        if playbook is None or staff_user is None:
            return None
        waiting = conv.Flow.from_dict(dict(escalation.flow))
        waiting.note = escalation.note
        staff = self._person(staff_user, team)
        status = Status(escalation.status)
        resolution = None
        if status is not Status.PENDING:
            decimals = currency_decimals(escalation.currency)
            resolution = rules.resolve(
                playbook, waiting, status, lead_user_id=escalation.answered_by,
                staff_limit_minor=to_minor(self.limit_of(playbook, staff.role, staff.team_limits), decimals),
                lead_limit_minor=to_minor(self.lead_limit(playbook, staff), decimals))
        return Case(escalation, playbook, waiting, staff, answered_by=answerer.name if answerer else None,
                    resolution=resolution, decision=decision,
                    notices=[(notice, self._person(user, team)) for notice, user in copies])

    async def due(self, now: datetime | None = None) -> list[int]:
        async with self.db.session() as session:
            return await store.due_ids(session, now or self.now())

    async def pending(self) -> list[tuple[int, datetime]]:
        async with self.db.session() as session:
            return [(e.id, e.due_at) for e in await store.pending(session) if e.id is not None]

    # ---- duty ------------------------------------------------------------------------------------

    async def set_duty(self, person: Person, on_duty: bool | None) -> tuple[bool, list[Person]]:
        """Switch a lead's duty (None toggles). Returns the new value and who of the team is on duty now."""
        await self.remember_name(person)
        async with self.db.session() as session:
            value = await store.set_on_duty(session, person.user_id, on_duty)
            team = await session.get(Team, person.team_id) if person.team_id is not None else None
            return value, [self._person(user, team) for user in await store.on_duty(session, person.team_id)]

    async def remember_name(self, person: Person) -> None:
        async with self.db.session() as session:
            await store.remember_name(session, person.user_id, person.name)

    def _person(self, user: User, team: Team | None) -> Person:
        """A person as the core sees them (the team of the case: leads are asked within it)."""
        assert user.id is not None
        return Person(
            user_id=user.id, telegram_id=user.telegram_id, name=user.name, role=user.role, team_id=user.team_id,
            team=team.name if team else None, language=user.language,
            currency=(team.currency if team and team.currency else self.default_currency),
            timezone=(team.timezone if team and team.timezone else self.default_timezone),
            team_limits={role: Decimal(amount) for role, amount in (team.limits if team else {}).items()},
        )


def replace_case(case: Case, **changes: Any) -> Case:
    return replace(case, **changes)
