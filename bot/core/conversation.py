"""One customer moment as a state machine: walk the playbook, then record what was done.

Pure functions over plain data: the Telegram handlers, the terminal demo and the tests all drive it
the same way. `apply` takes the current flow and an action and returns the next flow and the screen
to show; a stale or forged action returns `Expired` and leaves the flow untouched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.core.money import AmountError, from_minor, parse_amount, to_minor
from bot.core.playbook import Outcome, Playbook, Step

REACTIONS = ("happy", "neutral", "unhappy")
MAX_OTHER_TEXT = 200


class Stage(StrEnum):
    STEP = "step"
    OUTCOME = "outcome"
    OTHER = "other"
    OTHER_TEXT = "other_text"
    AMOUNT = "amount"
    NOTE = "note"
    REACTION = "reaction"
    WAITING = "waiting"  # a lead was asked (bot/core/escalation.py); the flow waits for the answer


class Disposition(StrEnum):
    FOLLOWED = "followed"
    OTHER = "other"
    ESCALATED = "escalated"


@dataclass
class Flow:
    token: str
    playbook_id: str
    version: str
    started_at: float
    stage: Stage = Stage.STEP
    path: list[tuple[str, int]] = field(default_factory=list)
    backs: int = 0
    disposition: Disposition | None = None
    taken: str | None = None
    taken_text: str | None = None
    amount_minor: int | None = None
    over_limit: bool = False
    note: str | None = None
    reaction: str | None = None
    message_id: int | None = None
    # Asking a lead: where the flow was asked from (it returns there), the open escalation, and the
    # answer that the eventual decision records (declined, coming) with the lead who gave it.
    asked_from: Stage | None = None
    escalation_id: int | None = None
    escalation: str | None = None
    lead_user_id: int | None = None
    # A manager trying a draft playbook (bot/core/authoring.py): walked as staff would, never recorded.
    trial: bool = False

    def to_dict(self) -> dict[str, Any]:
        # Every field but `path` is a scalar: a shallow copy is enough (dataclasses.asdict deep-copies each
        # field recursively, a tenth of a millisecond on every tap).
        data = {name: getattr(self, name) for name in _FLOW_FIELDS}
        data["path"] = [list(item) for item in self.path]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flow:
        values = dict(data)
        values["stage"] = Stage(values["stage"])
        values["path"] = [(str(s), int(i)) for s, i in values.get("path", [])]
        if values.get("disposition"):
            values["disposition"] = Disposition(values["disposition"])
        if values.get("asked_from"):
            values["asked_from"] = Stage(values["asked_from"])
        return cls(**values)


_FLOW_FIELDS = tuple(f.name for f in fields(Flow))


def new_token() -> str:
    """Short random id of one flow: buttons carry it, so presses on an older message are recognised."""
    return secrets.token_urlsafe(6)


# ---- actions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    step: int  # ordinal of the step the button was shown for
    option: int


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Restart:
    pass


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class DidOther:
    pass


@dataclass(frozen=True)
class Escalated:
    pass


@dataclass(frozen=True)
class PickOutcome:
    outcome: int  # ordinal in the playbook's outcomes


@dataclass(frozen=True)
class WriteOwn:
    pass


@dataclass(frozen=True)
class NoMoney:
    pass


@dataclass(frozen=True)
class Skip:
    pass


@dataclass(frozen=True)
class React:
    reaction: str


@dataclass(frozen=True)
class TextInput:
    text: str


@dataclass(frozen=True)
class AskLead:
    """Ask the team's leads now (a question, the outcome card, or an amount above the limit)."""


@dataclass(frozen=True)
class Withdraw:
    """While waiting for a lead: decide myself after all, back where I asked from."""


Action = (Answer | Back | Restart | Cancel | Done | DidOther | Escalated | PickOutcome | WriteOwn | NoMoney
          | Skip | React | TextInput | AskLead | Withdraw)


# ---- screens ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepScreen:
    step: Step
    ordinal: int
    number: int  # 1-based position on the path, for "question 2"


@dataclass(frozen=True)
class OutcomeScreen:
    outcome: Outcome


@dataclass(frozen=True)
class OtherScreen:
    choices: tuple[tuple[int, Outcome], ...]  # (ordinal, outcome), the recommended one left out


@dataclass(frozen=True)
class OtherTextScreen:
    error: str | None = None


@dataclass(frozen=True)
class AmountScreen:
    outcome: Outcome | None
    error: str | None = None


@dataclass(frozen=True)
class NoteScreen:
    over_limit: bool
    amount: Decimal | None
    error: str | None = None
    length: int = 0


@dataclass(frozen=True)
class ReactionScreen:
    pass


@dataclass(frozen=True)
class WaitingScreen:
    """A lead was asked; typed text is a note for them."""

    over_limit: bool
    amount: Decimal | None
    note: str | None = None
    error: str | None = None
    length: int = 0


@dataclass(frozen=True)
class Complete:
    """The decision is ready: the caller commits it, then confirms."""


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class Expired:
    pass


Screen = (StepScreen | OutcomeScreen | OtherScreen | OtherTextScreen | AmountScreen | NoteScreen
          | ReactionScreen | WaitingScreen | Complete | Cancelled | Expired)


@dataclass(frozen=True)
class Rules:
    """What the recording needs to know about the person and the money."""

    limit: Decimal
    decimals: int = 2
    note_max: int = 300


@dataclass(frozen=True)
class Transition:
    flow: Flow | None  # None: the flow is over (cancelled or complete)
    screen: Screen


# ---- the machine -----------------------------------------------------------------------------------

def start(playbook: Playbook, now: float, token: str | None = None) -> Transition:
    flow = Flow(token=token or new_token(), playbook_id=playbook.id, version=playbook.version, started_at=now)
    return Transition(flow, screen_for(playbook, flow))


def current_step(playbook: Playbook, flow: Flow) -> Step | None:
    """The step the flow waits on (None once an outcome is reached), found by replaying the path."""
    step_id: str | None = playbook.start
    for answered_id, option_index in flow.path:
        if step_id != answered_id:
            return None
        option = playbook.steps[answered_id].options[option_index]
        step_id = option.next
        if step_id is None:
            return None
    return playbook.steps.get(step_id) if step_id else None


def recommended(playbook: Playbook, flow: Flow) -> Outcome | None:
    """The outcome the path ends in: what the playbook recommends."""
    if not flow.path:
        return None
    step_id, option_index = flow.path[-1]
    outcome_id = playbook.steps[step_id].options[option_index].outcome
    return playbook.outcomes.get(outcome_id) if outcome_id else None


def taken_outcome(playbook: Playbook, flow: Flow) -> Outcome | None:
    return playbook.outcomes.get(flow.taken) if flow.taken else None


def screen_for(playbook: Playbook, flow: Flow, rules: Rules | None = None) -> Screen:
    """The screen that shows `flow` as it stands (used to redraw after a restart, too)."""
    if flow.stage is Stage.STEP:
        step = current_step(playbook, flow)
        if step is None:
            return Expired()
        return StepScreen(step, playbook.step_index(step.id), len(flow.path) + 1)
    if flow.stage is Stage.OUTCOME:
        outcome = recommended(playbook, flow)
        return OutcomeScreen(outcome) if outcome else Expired()
    if flow.stage is Stage.OTHER:
        rec = recommended(playbook, flow)
        return OtherScreen(tuple((i, o) for i, o in enumerate(playbook.outcomes.values())
                                 if rec is None or o.id != rec.id))
    if flow.stage is Stage.OTHER_TEXT:
        return OtherTextScreen()
    if flow.stage is Stage.AMOUNT:
        return AmountScreen(taken_outcome(playbook, flow))
    if flow.stage is Stage.NOTE:
        amount = from_minor(flow.amount_minor, rules.decimals) if flow.amount_minor is not None and rules \
            else None
        return NoteScreen(flow.over_limit, amount)
    if flow.stage is Stage.WAITING:
        return WaitingScreen(flow.over_limit, _amount(flow, rules), flow.note)
    return ReactionScreen()


def _amount(flow: Flow, rules: Rules | None) -> Decimal | None:
    return from_minor(flow.amount_minor, rules.decimals) if flow.amount_minor is not None and rules else None


def apply(playbook: Playbook, flow: Flow, action: Action, rules: Rules) -> Transition:
    """Advance `flow` by `action`. Never mutates `flow`; an action that does not fit returns Expired."""
    handler = _HANDLERS.get((flow.stage, type(action)))
    if isinstance(action, Cancel):
        return Transition(None, Cancelled())
    if handler is None:
        return Transition(flow, Expired())
    return handler(playbook, replace(flow, path=list(flow.path)), action, rules)


def _show(playbook: Playbook, flow: Flow, rules: Rules) -> Transition:
    return Transition(flow, screen_for(playbook, flow, rules))


def _answer(playbook: Playbook, flow: Flow, action: Answer, rules: Rules) -> Transition:
    step = current_step(playbook, flow)
    if step is None or playbook.step_index(step.id) != action.step or not 0 <= action.option < len(step.options):
        return Transition(flow, Expired())
    flow.path.append((step.id, action.option))
    if step.options[action.option].outcome is not None:
        flow.stage = Stage.OUTCOME
    return _show(playbook, flow, rules)


def _back(playbook: Playbook, flow: Flow, action: Back, rules: Rules) -> Transition:
    flow.backs += 1
    if flow.stage in (Stage.STEP, Stage.OUTCOME):
        if not flow.path:
            return Transition(None, Cancelled())  # back from the first question leaves the playbook
        flow.path.pop()
        flow.stage = Stage.STEP
    elif flow.stage is Stage.OTHER_TEXT or (flow.stage is Stage.AMOUNT and flow.disposition is Disposition.OTHER):
        flow.stage = Stage.OTHER
    else:
        flow.stage = Stage.OUTCOME
    if flow.stage in (Stage.OUTCOME, Stage.OTHER):
        _reset_record(flow)
    return _show(playbook, flow, rules)


def _reset_record(flow: Flow) -> None:
    flow.disposition = None
    flow.taken = None
    flow.taken_text = None
    flow.amount_minor = None
    flow.over_limit = False
    flow.note = None


def _restart(playbook: Playbook, flow: Flow, action: Restart, rules: Rules) -> Transition:
    flow.path = []
    flow.stage = Stage.STEP
    _reset_record(flow)
    return _show(playbook, flow, rules)


def _done(playbook: Playbook, flow: Flow, action: Done, rules: Rules) -> Transition:
    outcome = recommended(playbook, flow)
    if outcome is None:
        return Transition(flow, Expired())
    flow.disposition = Disposition.FOLLOWED
    flow.taken = outcome.id
    flow.stage = Stage.AMOUNT if outcome.money else Stage.NOTE
    return _show(playbook, flow, rules)


def _did_other(playbook: Playbook, flow: Flow, action: DidOther, rules: Rules) -> Transition:
    flow.stage = Stage.OTHER
    return _show(playbook, flow, rules)


def _escalated(playbook: Playbook, flow: Flow, action: Escalated, rules: Rules) -> Transition:
    flow.disposition = Disposition.ESCALATED
    flow.taken = None
    flow.stage = Stage.NOTE
    return _show(playbook, flow, rules)


def _pick(playbook: Playbook, flow: Flow, action: PickOutcome, rules: Rules) -> Transition:
    outcome = playbook.outcome_at(action.outcome)
    rec = recommended(playbook, flow)
    if outcome is None or (rec is not None and outcome.id == rec.id):
        return Transition(flow, Expired())
    flow.disposition = Disposition.OTHER
    flow.taken = outcome.id
    flow.stage = Stage.AMOUNT if outcome.money else Stage.NOTE
    return _show(playbook, flow, rules)


def _write_own(playbook: Playbook, flow: Flow, action: WriteOwn, rules: Rules) -> Transition:
    flow.stage = Stage.OTHER_TEXT
    return _show(playbook, flow, rules)


def _own_text(playbook: Playbook, flow: Flow, action: TextInput, rules: Rules) -> Transition:
    text = " ".join(action.text.split())
    if not text:
        return Transition(flow, OtherTextScreen(error="empty"))
    if len(text) > MAX_OTHER_TEXT:
        return Transition(flow, OtherTextScreen(error="too_long"))
    flow.disposition = Disposition.OTHER
    flow.taken = None
    flow.taken_text = text
    flow.stage = Stage.AMOUNT  # we cannot know whether a free-text action cost money, so ask (with "none")
    return _show(playbook, flow, rules)


def _amount_text(playbook: Playbook, flow: Flow, action: TextInput, rules: Rules) -> Transition:
    try:
        amount = parse_amount(action.text, rules.decimals)
    except AmountError as exc:
        return Transition(flow, AmountScreen(taken_outcome(playbook, flow), error=exc.code))
    return _set_amount(playbook, flow, amount, rules)


def _no_money(playbook: Playbook, flow: Flow, action: NoMoney, rules: Rules) -> Transition:
    return _set_amount(playbook, flow, Decimal(0), rules)


def _set_amount(playbook: Playbook, flow: Flow, amount: Decimal, rules: Rules) -> Transition:
    flow.amount_minor = to_minor(amount, rules.decimals)
    flow.over_limit = amount > rules.limit
    flow.stage = Stage.NOTE
    return _show(playbook, flow, rules)


def _note_text(playbook: Playbook, flow: Flow, action: TextInput, rules: Rules) -> Transition:
    note = action.text.strip()
    if len(note) > rules.note_max:
        amount = from_minor(flow.amount_minor, rules.decimals) if flow.amount_minor is not None else None
        return Transition(flow, NoteScreen(flow.over_limit, amount, error="too_long", length=len(note)))
    flow.note = note or None
    flow.stage = Stage.REACTION
    return _show(playbook, flow, rules)


def _skip_note(playbook: Playbook, flow: Flow, action: Skip, rules: Rules) -> Transition:
    flow.stage = Stage.REACTION
    return _show(playbook, flow, rules)


def _react(playbook: Playbook, flow: Flow, action: React, rules: Rules) -> Transition:
    if action.reaction not in REACTIONS:
        return Transition(flow, Expired())
    flow.reaction = action.reaction
    return Transition(flow, Complete())


def _skip_reaction(playbook: Playbook, flow: Flow, action: Skip, rules: Rules) -> Transition:
    return Transition(flow, Complete())


def _ask_lead(playbook: Playbook, flow: Flow, action: AskLead, rules: Rules) -> Transition:
    if flow.trial:
        return Transition(flow, Expired())  # a trial of a draft never reaches a real lead
    if flow.stage is Stage.NOTE and not flow.over_limit:
        return Transition(flow, Expired())  # within the limit there is nothing to ask
    if flow.stage is Stage.STEP and current_step(playbook, flow) is None:
        return Transition(flow, Expired())
    if flow.stage is Stage.OUTCOME and recommended(playbook, flow) is None:
        return Transition(flow, Expired())
    flow.asked_from = flow.stage
    flow.stage = Stage.WAITING
    flow.escalation_id = None
    return _show(playbook, flow, rules)


def return_to_asked(flow: Flow) -> Flow:
    """The flow back where the lead was asked from, with no open escalation (mutates and returns it)."""
    flow.stage = flow.asked_from or Stage.OUTCOME
    flow.asked_from = None
    flow.escalation_id = None
    return flow


def _withdraw(playbook: Playbook, flow: Flow, action: Withdraw, rules: Rules) -> Transition:
    return _show(playbook, return_to_asked(flow), rules)


def _waiting_note(playbook: Playbook, flow: Flow, action: TextInput, rules: Rules) -> Transition:
    note = " ".join(action.text.split())
    if len(note) > rules.note_max:
        return Transition(flow, WaitingScreen(flow.over_limit, _amount(flow, rules), flow.note, error="too_long",
                                              length=len(note)))
    if note:
        flow.note = note
    return _show(playbook, flow, rules)


_HANDLERS: dict[tuple[Stage, type], Any] = {
    (Stage.STEP, Answer): _answer,
    (Stage.STEP, Back): _back,
    (Stage.STEP, Restart): _restart,
    (Stage.OUTCOME, Back): _back,
    (Stage.OUTCOME, Restart): _restart,
    (Stage.OUTCOME, Done): _done,
    (Stage.OUTCOME, DidOther): _did_other,
    (Stage.OUTCOME, Escalated): _escalated,
    (Stage.OTHER, Back): _back,
    (Stage.OTHER, PickOutcome): _pick,
    (Stage.OTHER, WriteOwn): _write_own,
    (Stage.OTHER, Escalated): _escalated,
    (Stage.OTHER_TEXT, Back): _back,
    (Stage.OTHER_TEXT, TextInput): _own_text,
    (Stage.AMOUNT, Back): _back,
    (Stage.AMOUNT, TextInput): _amount_text,
    (Stage.AMOUNT, NoMoney): _no_money,
    (Stage.NOTE, Back): _back,
    (Stage.NOTE, TextInput): _note_text,
    (Stage.NOTE, Skip): _skip_note,
    (Stage.REACTION, React): _react,
    (Stage.REACTION, Skip): _skip_reaction,
    (Stage.REACTION, Back): _back,
    (Stage.STEP, AskLead): _ask_lead,
    (Stage.OUTCOME, AskLead): _ask_lead,
    (Stage.NOTE, AskLead): _ask_lead,
    (Stage.WAITING, Withdraw): _withdraw,
    (Stage.WAITING, TextInput): _waiting_note,
}
