"""Asking a lead, as pure rules: the waiting stage, who is asked, who may answer, what each answer does."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core import conversation as conv
from bot.core import escalation as esc
from bot.core.decisions import draft_decision
from bot.core.escalation import Status
from bot.core.loader import load_directory, parse_playbook
from bot.core.people import Person
from bot.core.playbook import Playbook

ROOT = Path(__file__).resolve().parent.parent
RULES = conv.Rules(limit=Decimal(50), decimals=2, note_max=300)
LEAD_LIMIT = 20000  # €200.00, the playbook's lead limit, in cents
STAFF_LIMIT = 5000


@pytest.fixture(scope="module")
def refund() -> Playbook:
    playbooks, problems = load_directory(ROOT / "playbooks")
    assert not problems
    return next(p for p in playbooks if p.id == "refund-without-receipt")


def walk(pb: Playbook, *labels: str) -> conv.Flow:
    flow = conv.start(pb, now=100.0, token="tok").flow
    assert flow is not None
    for label in labels:
        step = conv.current_step(pb, flow)
        assert step is not None
        index = [o.label.get() for o in step.options].index(label)
        flow = conv.apply(pb, flow, conv.Answer(pb.step_index(step.id), index), RULES).flow
        assert flow is not None
    return flow


TO_FULL_REFUND = ("Yes, or I can't tell", "Yes, found it", "Unused, can be sold again")


def act(pb: Playbook, flow: conv.Flow, *actions: conv.Action) -> conv.Transition:
    transition = conv.Transition(flow, conv.screen_for(pb, flow, RULES))
    for action in actions:
        assert transition.flow is not None
        transition = conv.apply(pb, transition.flow, action, RULES)
    return transition


def over_limit_note(pb: Playbook, amount: str = "80") -> conv.Flow:
    flow = act(pb, walk(pb, *TO_FULL_REFUND), conv.Done(), conv.TextInput(amount)).flow
    assert flow is not None and flow.stage is conv.Stage.NOTE and flow.over_limit
    return flow


def waiting(pb: Playbook, flow: conv.Flow) -> conv.Flow:
    transition = conv.apply(pb, flow, conv.AskLead(), RULES)
    assert isinstance(transition.screen, conv.WaitingScreen), transition.screen
    assert transition.flow is not None and transition.flow.stage is conv.Stage.WAITING
    return transition.flow


# ---- the waiting stage ----------------------------------------------------------------------------

def test_ask_from_a_question_the_outcome_card_and_an_amount_above_the_limit(refund: Playbook) -> None:
    at_step = waiting(refund, walk(refund, "Yes, or I can't tell"))
    assert at_step.asked_from is conv.Stage.STEP
    at_outcome = waiting(refund, walk(refund, *TO_FULL_REFUND))
    assert at_outcome.asked_from is conv.Stage.OUTCOME
    over = waiting(refund, over_limit_note(refund))
    assert over.asked_from is conv.Stage.NOTE and over.amount_minor == 8000
    assert esc.reason_for(over) is esc.Reason.OVER_LIMIT and esc.reason_for(at_outcome) is esc.Reason.ASKED
    screen = conv.screen_for(refund, over, RULES)
    assert isinstance(screen, conv.WaitingScreen) and screen.over_limit and screen.amount == Decimal(80)


def test_within_the_limit_there_is_nothing_to_ask(refund: Playbook) -> None:
    flow = act(refund, walk(refund, *TO_FULL_REFUND), conv.Done(), conv.TextInput("20")).flow
    assert flow is not None
    assert isinstance(conv.apply(refund, flow, conv.AskLead(), RULES).screen, conv.Expired)


def test_waiting_has_a_way_out_and_takes_a_note(refund: Playbook) -> None:
    flow = waiting(refund, over_limit_note(refund))
    noted = conv.apply(refund, flow, conv.TextInput("  regular   customer  "), RULES)
    assert noted.flow is not None and noted.flow.note == "regular customer"
    assert isinstance(noted.screen, conv.WaitingScreen) and noted.screen.note == "regular customer"
    too_long = conv.apply(refund, flow, conv.TextInput("x" * 301), RULES)
    assert isinstance(too_long.screen, conv.WaitingScreen) and too_long.screen.error == "too_long"
    back = conv.apply(refund, flow, conv.Withdraw(), RULES)
    assert back.flow is not None and back.flow.stage is conv.Stage.NOTE and back.flow.asked_from is None
    assert isinstance(back.screen, conv.NoteScreen) and back.screen.over_limit
    assert isinstance(conv.apply(refund, flow, conv.Cancel(), RULES).screen, conv.Cancelled)
    for stray in (conv.Done(), conv.Skip(), conv.Back(), conv.AskLead()):
        assert isinstance(conv.apply(refund, flow, stray, RULES).screen, conv.Expired), stray


def test_a_waiting_flow_survives_a_round_trip_through_storage(refund: Playbook) -> None:
    flow = waiting(refund, walk(refund, *TO_FULL_REFUND))
    flow.escalation_id = 7
    again = conv.Flow.from_dict(flow.to_dict())
    assert again == flow and again.asked_from is conv.Stage.OUTCOME
    old = {k: v for k, v in walk(refund).to_dict().items()
           if k not in ("asked_from", "escalation_id", "escalation", "lead_user_id")}
    assert conv.Flow.from_dict(old).asked_from is None  # state saved before this release still loads


# ---- who is asked -----------------------------------------------------------------------------------

@dataclass
class Someone:
    id: int
    role: str
    on_duty: bool = False


def test_on_duty_first_then_every_lead_then_managers_never_the_asker() -> None:
    ann, bob, cy, dee, max_ = (Someone(1, "lead", True), Someone(2, "lead"), Someone(3, "lead", True),
                               Someone(4, "manager"), Someone(5, "admin", True))
    assert esc.choose_recipients([ann, bob, cy, dee, max_], asker_user_id=9) == [ann, cy, max_]
    assert esc.choose_recipients([ann, bob, dee], asker_user_id=1) == [bob]  # the asking lead is not asked
    assert esc.choose_recipients([bob, dee], asker_user_id=9) == [bob]
    assert esc.choose_recipients([dee], asker_user_id=9) == [dee]
    assert esc.choose_recipients([Someone(6, "admin")], asker_user_id=9) == []


# ---- who may answer ---------------------------------------------------------------------------------

def person(role: str, team_id: int | None = 1, user_id: int = 50) -> Person:
    return Person(user_id=user_id, telegram_id=user_id, name="X", role=role, team_id=team_id, team="t",
                  language="en")


def test_only_leads_of_that_team_or_admins_and_only_while_pending() -> None:
    def why(who: Person, status: str = "pending") -> str | None:
        return esc.refusal(who, team_id=1, asker_user_id=7, status=status)

    assert why(person("lead")) is None and why(person("manager")) is None
    assert why(person("admin", team_id=2)) is None
    assert why(person("staff")) == "forbidden" and why(person("supervisor")) == "forbidden"
    assert why(person("lead", team_id=2)) == "other_team"
    assert why(person("lead", user_id=7)) == "own"
    assert why(person("lead"), "approved") == "answered" and why(person("lead"), "coming") == "answered"
    assert why(person("lead"), "timeout") == "timed_out"
    assert why(person("lead"), "cancelled") == "withdrawn"
    assert why(person("lead", team_id=2), "approved") == "other_team"  # no peeking at who answered


# ---- what an answer does ----------------------------------------------------------------------------

def test_approved_from_the_outcome_card_records_the_recommendation_with_the_lead(refund: Playbook) -> None:
    flow = waiting(refund, walk(refund, *TO_FULL_REFUND))
    result = esc.resolve(refund, flow, Status.APPROVED, lead_user_id=3, staff_limit_minor=STAFF_LIMIT,
                         lead_limit_minor=LEAD_LIMIT)
    assert result.decided and result.outcome is not None and result.outcome.id == "full-refund"
    decided = result.flow
    assert (decided.taken, decided.disposition) == ("full-refund", conv.Disposition.FOLLOWED)
    assert (decided.escalation, decided.lead_user_id) == ("approved", 3)
    assert flow.escalation is None and flow.stage is conv.Stage.WAITING  # never mutated
    draft = draft_decision(refund, decided, limit=Decimal(50), decimals=2, currency="EUR", now=110.0)
    assert (draft.escalation, draft.lead_user_id, draft.on_timeout) == ("approved", 3, False)
    assert draft.followed and draft.taken_outcome == "full-refund"


def test_approved_over_the_limit_keeps_the_choice_and_the_amount(refund: Playbook) -> None:
    flow = act(refund, walk(refund, *TO_FULL_REFUND), conv.DidOther(), conv.PickOutcome(2),
               conv.TextInput("120")).flow
    assert flow is not None and flow.taken == "store-credit" and flow.over_limit
    result = esc.resolve(refund, waiting(refund, flow), Status.APPROVED, lead_user_id=3,
                         staff_limit_minor=STAFF_LIMIT, lead_limit_minor=LEAD_LIMIT)
    decided = result.flow
    assert (decided.taken, decided.disposition, decided.amount_minor) == ("store-credit", conv.Disposition.OTHER,
                                                                         12000)
    assert decided.over_limit  # the fact stays: above their own limit, approved by a lead


def test_declined_goes_back_to_choose_and_keeps_who_declined(refund: Playbook) -> None:
    over = waiting(refund, over_limit_note(refund))
    result = esc.resolve(refund, over, Status.DECLINED, lead_user_id=3)
    assert not result.decided
    back = result.flow
    assert back.stage is conv.Stage.OUTCOME and back.taken is None and back.amount_minor is None
    assert (back.escalation, back.lead_user_id, back.asked_from, back.escalation_id) == ("declined", 3, None, None)
    assert isinstance(conv.screen_for(refund, back, RULES), conv.OutcomeScreen)
    at_step = esc.resolve(refund, waiting(refund, walk(refund, "Yes, or I can't tell")), Status.DECLINED,
                          lead_user_id=3).flow
    assert at_step.stage is conv.Stage.STEP and len(at_step.path) == 1
    # The decision staff record afterwards keeps the escalation.
    done = act(refund, back, conv.DidOther(), conv.PickOutcome(2), conv.TextInput("40"), conv.Skip(), conv.Skip())
    assert isinstance(done.screen, conv.Complete) and done.flow is not None
    draft = draft_decision(refund, done.flow, limit=Decimal(50), decimals=2, currency="EUR", now=120.0)
    assert (draft.escalation, draft.lead_user_id, draft.taken_outcome) == ("declined", 3, "store-credit")


def test_coming_and_withdrawn_continue_where_staff_were(refund: Playbook) -> None:
    flow = waiting(refund, walk(refund, *TO_FULL_REFUND))
    coming = esc.resolve(refund, flow, Status.COMING, lead_user_id=4)
    assert not coming.decided and coming.flow.stage is conv.Stage.OUTCOME
    assert (coming.flow.escalation, coming.flow.lead_user_id) == ("coming", 4)
    withdrawn = esc.resolve(refund, flow, Status.CANCELLED)
    assert withdrawn.flow.stage is conv.Stage.OUTCOME and withdrawn.flow.escalation is None


def test_timeout_goes_ahead_in_the_customers_favour_up_to_a_leads_limit(refund: Playbook) -> None:
    over = waiting(refund, over_limit_note(refund, "250"))
    result = esc.resolve(refund, over, Status.TIMEOUT, staff_limit_minor=STAFF_LIMIT, lead_limit_minor=LEAD_LIMIT)
    assert result.decided and result.outcome is not None and result.outcome.id == "full-refund"
    assert result.flow.amount_minor == LEAD_LIMIT and result.flow.over_limit and result.limit_minor == LEAD_LIMIT
    assert (result.flow.escalation, result.flow.lead_user_id) == ("timeout", None)
    draft = draft_decision(refund, result.flow, limit=Decimal(50), decimals=2, currency="EUR", now=300.0)
    assert draft.on_timeout and draft.escalation == "timeout" and draft.followed


def test_timeout_at_a_question_takes_the_first_favourable_outcome_still_reachable(refund: Playbook) -> None:
    # At "does it look genuine?" the outcomes left are store credit (favours) and a lead review (does not).
    flow = waiting(refund, walk(refund, "Yes, or I can't tell", "No, no trace at all"))
    assert esc.reachable_outcomes(refund, flow) == ["store-credit", "lead-review"]
    result = esc.resolve(refund, flow, Status.TIMEOUT, staff_limit_minor=STAFF_LIMIT, lead_limit_minor=LEAD_LIMIT)
    assert result.outcome is not None and result.outcome.id == "store-credit"
    assert result.flow.taken == "store-credit" and result.flow.disposition is conv.Disposition.ESCALATED
    assert result.flow.amount_minor is None and not result.flow.over_limit
    # The outcome card of a path that ends against the customer: the default is still in their favour.
    against = waiting(refund, walk(refund, "Yes, or I can't tell", "No, no trace at all", "Something feels off"))
    assert esc.proposal(refund, against).id == "lead-review"
    assert esc.timeout_outcome(refund, against).id == "full-refund"


def test_the_playbooks_on_timeout_outcome_wins(refund: Playbook) -> None:
    strict = replace(refund, on_timeout="lead-review")
    flow = waiting(strict, over_limit_note(strict))
    result = esc.resolve(strict, flow, Status.TIMEOUT, staff_limit_minor=STAFF_LIMIT, lead_limit_minor=LEAD_LIMIT)
    assert result.outcome is not None and result.outcome.id == "lead-review"
    assert result.flow.amount_minor is None and not result.flow.over_limit  # no money in that outcome
    assert result.flow.disposition is conv.Disposition.ESCALATED


def test_own_words_stand_when_approved_or_timed_out(refund: Playbook) -> None:
    flow = act(refund, walk(refund, *TO_FULL_REFUND), conv.DidOther(), conv.WriteOwn(),
               conv.TextInput("Gift card"), conv.TextInput("90")).flow
    assert flow is not None and flow.over_limit
    flow = waiting(refund, flow)
    assert esc.proposal(refund, flow) is None
    for status in (Status.APPROVED, Status.TIMEOUT):
        decided = esc.resolve(refund, flow, status, lead_user_id=3, staff_limit_minor=STAFF_LIMIT,
                              lead_limit_minor=LEAD_LIMIT).flow
        assert (decided.taken, decided.taken_text, decided.amount_minor) == (None, "Gift card", 9000)


def test_path_labels_for_the_leads_copy(refund: Playbook) -> None:
    flow = walk(refund, *TO_FULL_REFUND)
    assert esc.path_labels(refund, flow, "en")[-1] == ("What state is the item in?", "Unused, can be sold again")


# ---- the playbook field ---------------------------------------------------------------------------

MINIMAL = """id: x
title: X
summary: S
principle: P
start: a
steps:
  a:
    ask: Q?
    options:
      - {label: "Yes", outcome: good}
      - {label: "No", outcome: bad}
outcomes:
  good: {title: G, favours_customer: true}
  bad: {title: B}
"""


def test_on_timeout_must_name_an_outcome() -> None:
    playbook, problems = parse_playbook(MINIMAL + "on_timeout: bad\n", "x.yaml")
    assert playbook is not None and playbook.on_timeout == "bad" and not problems
    playbook, _ = parse_playbook(MINIMAL, "x.yaml")
    assert playbook is not None and playbook.on_timeout is None
    playbook, problems = parse_playbook(MINIMAL + "on_timeout: goood\n", "x.yaml")
    assert playbook is None
    assert [(p.line, p.message) for p in problems] == [
        (15, "on_timeout names unknown outcome 'goood' (did you mean 'good'?)")]
    _, problems = parse_playbook(MINIMAL + "on_timeout: [good]\n", "x.yaml")
    assert [p.message for p in problems] == ["on_timeout must be an outcome id, got a list"]
    _, problems = parse_playbook(MINIMAL + "on_timeuot: good\n", "x.yaml")
    assert "did you mean 'on_timeout'" in problems[0].message
