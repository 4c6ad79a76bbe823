"""Asking a lead, as pure rules: who is asked, who may answer, and what each answer does to the flow.

A staff member asks from a question, the outcome card, or an amount above their limit; the flow waits
(Stage.WAITING). The first answer wins (the storage makes that race-free):

- approved: what staff proposed goes ahead and the decision is recorded at once, with the lead;
- declined: back to the outcome card (or the question) to pick another way; the decision, when staff
  record it, keeps who declined;
- coming: the lead is on the way; the flow continues where it was;
- no answer in time: the playbook's `on_timeout` outcome, else what staff proposed when it favours the
  customer, else the first outcome that does; money up to a lead's limit; recorded as decided on timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, TypeVar

from bot.core import conversation as conv
from bot.core.people import Person
from bot.core.playbook import Outcome, Playbook
from bot.core.roles import Permission


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    COMING = "coming"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"  # staff withdrew the question, or left the flow


ANSWERS = (Status.APPROVED, Status.DECLINED, Status.COMING)


class Reason(StrEnum):
    ASKED = "asked"
    OVER_LIMIT = "over_limit"


def reason_for(flow: conv.Flow) -> Reason:
    return Reason.OVER_LIMIT if flow.asked_from is conv.Stage.NOTE and flow.over_limit else Reason.ASKED


# ---- who is asked ---------------------------------------------------------------------------------

class Candidate(Protocol):
    id: int | None
    role: str
    on_duty: bool


C = TypeVar("C", bound=Candidate)


def choose_recipients(candidates: Iterable[C], asker_user_id: int) -> list[C]:
    """Active people of the asker's team: those on duty who may answer; else every lead; else every manager."""
    others = [c for c in candidates if c.id != asker_user_id]
    for tier in ([c for c in others if c.on_duty and c.role in ("lead", "manager", "admin")],
                 [c for c in others if c.role == "lead"],
                 [c for c in others if c.role == "manager"]):
        if tier:
            return tier
    return []


# ---- who may answer -------------------------------------------------------------------------------

def refusal(person: Person, *, team_id: int | None, asker_user_id: int, status: str) -> str | None:
    """Why `person` may not answer this escalation now (None: they may). Checked before anything changes."""
    if not person.can(Permission.ANSWER_ESCALATIONS):
        return "forbidden"
    if person.user_id == asker_user_id:
        return "own"
    if not person.covers_team(team_id):
        return "other_team"
    if status == Status.PENDING:
        return None
    if status == Status.TIMEOUT:
        return "timed_out"
    if status == Status.CANCELLED:
        return "withdrawn"
    return "answered"


# ---- what is proposed ------------------------------------------------------------------------------

def reachable_outcomes(playbook: Playbook, flow: conv.Flow) -> list[str]:
    """Outcome ids still reachable from the question the flow stands on, in playbook order."""
    step = conv.current_step(playbook, flow)
    if step is None:
        return list(playbook.outcomes)
    found: set[str] = set()
    seen: set[str] = set()
    todo = [step.id]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in playbook.steps:
            continue
        seen.add(step_id)
        for option in playbook.steps[step_id].options:
            if option.outcome:
                found.add(option.outcome)
            elif option.next:
                todo.append(option.next)
    return [outcome_id for outcome_id in playbook.outcomes if outcome_id in found]


def favoured_default(playbook: Playbook, flow: conv.Flow) -> Outcome | None:
    """The first outcome in the customer's favour, preferring those still reachable from here."""
    reachable = [playbook.outcomes[i] for i in reachable_outcomes(playbook, flow)]
    for outcome in (*reachable, *playbook.outcomes.values()):
        if outcome.favours_customer:
            return outcome
    return None


def proposal(playbook: Playbook, flow: conv.Flow) -> Outcome | None:
    """What staff ask to do: the outcome they chose, else the recommendation, else the customer-favouring
    default. None when they wrote their own action (`flow.taken_text`)."""
    if flow.taken:
        return conv.taken_outcome(playbook, flow)
    if flow.taken_text:
        return None
    return conv.recommended(playbook, flow) or favoured_default(playbook, flow)


def timeout_outcome(playbook: Playbook, flow: conv.Flow) -> Outcome | None:
    """What goes ahead when nobody answers. None keeps the action staff wrote themselves."""
    if playbook.on_timeout and playbook.on_timeout in playbook.outcomes:
        return playbook.outcomes[playbook.on_timeout]
    if flow.taken_text and not flow.taken:
        return None
    proposed = proposal(playbook, flow)
    if proposed is not None and proposed.favours_customer:
        return proposed
    return favoured_default(playbook, flow) or proposed


# ---- what an answer does ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Resolution:
    status: Status
    flow: conv.Flow  # decided: the finished flow to record; otherwise the flow staff continue with
    decided: bool
    outcome: Outcome | None = None  # what goes ahead, when decided (None: the action staff wrote)
    limit_minor: int | None = None  # on timeout: the most staff may spend (a lead's limit)


def resolve(playbook: Playbook, waiting: conv.Flow, status: Status, *, lead_user_id: int | None = None,
            staff_limit_minor: int = 0, lead_limit_minor: int = 0) -> Resolution:
    """The flow after `status`. Never mutates `waiting`."""
    flow = replace(waiting, path=list(waiting.path))
    if status is Status.APPROVED:
        outcome = proposal(playbook, flow)
        _take(playbook, flow, outcome)
        flow.escalation, flow.lead_user_id = status.value, lead_user_id
        return Resolution(status, flow, True, outcome)
    if status is Status.TIMEOUT:
        outcome = timeout_outcome(playbook, flow)
        _take(playbook, flow, outcome)
        if outcome is not None and not outcome.money:
            flow.amount_minor = None
        elif flow.amount_minor is not None:
            flow.amount_minor = min(flow.amount_minor, lead_limit_minor)
        flow.over_limit = flow.amount_minor is not None and flow.amount_minor > staff_limit_minor
        flow.escalation, flow.lead_user_id = status.value, None
        return Resolution(status, flow, True, outcome, lead_limit_minor)
    conv.return_to_asked(flow)
    if status is Status.DECLINED:
        if conv.recommended(playbook, flow) is not None:
            flow.stage = conv.Stage.OUTCOME  # pick another way on the outcome card
            _reset_record(flow)
        else:
            flow.stage = conv.Stage.STEP
    if status in (Status.DECLINED, Status.COMING):
        flow.escalation, flow.lead_user_id = status.value, lead_user_id
    return Resolution(status, flow, False)


def _take(playbook: Playbook, flow: conv.Flow, outcome: Outcome | None) -> None:
    if outcome is None:  # the action staff wrote themselves stands
        flow.disposition = flow.disposition or conv.Disposition.OTHER
        return
    rec = conv.recommended(playbook, flow)
    if rec is not None and outcome.id == rec.id:
        flow.disposition = conv.Disposition.FOLLOWED
    elif not (flow.disposition and flow.taken == outcome.id):
        flow.disposition = conv.Disposition.ESCALATED
    flow.taken = outcome.id
    flow.taken_text = None


def _reset_record(flow: conv.Flow) -> None:
    flow.disposition = None
    flow.taken = None
    flow.taken_text = None
    flow.amount_minor = None
    flow.over_limit = False


def path_labels(playbook: Playbook, flow: conv.Flow, language: str) -> list[tuple[str, str]]:
    """(question, answer) pairs of the path, in `language`, for the lead's copy of the case."""
    return [(playbook.steps[step_id].ask.get(language), playbook.steps[step_id].options[index].label.get(language))
            for step_id, index in flow.path if step_id in playbook.steps]

