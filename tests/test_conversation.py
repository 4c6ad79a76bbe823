"""The conversation state machine, with plain function calls."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.core import conversation as conv
from bot.core.loader import load_directory
from bot.core.playbook import Playbook

ROOT = Path(__file__).resolve().parent.parent
RULES = conv.Rules(limit=Decimal(50), decimals=2, note_max=300)


@pytest.fixture(scope="module")
def refund() -> Playbook:
    playbooks, problems = load_directory(ROOT / "playbooks")
    assert not problems
    return next(p for p in playbooks if p.id == "refund-without-receipt")


def answer(pb: Playbook, flow: conv.Flow, label: str) -> conv.Transition:
    step = conv.current_step(pb, flow)
    assert step is not None
    index = [o.label.get() for o in step.options].index(label)
    return conv.apply(pb, flow, conv.Answer(pb.step_index(step.id), index), RULES)


def to_outcome(pb: Playbook) -> conv.Flow:
    flow = conv.start(pb, now=100.0, token="tok").flow
    assert flow is not None
    for label in ("Yes, or I can't tell", "Yes, found it", "Unused, can be sold again"):
        flow = answer(pb, flow, label).flow
        assert flow is not None
    return flow


def test_start_shows_the_first_question(refund: Playbook) -> None:
    t = conv.start(refund, now=1.0)
    assert isinstance(t.screen, conv.StepScreen) and t.screen.step.id == "ours" and t.screen.number == 1
    assert t.flow is not None and t.flow.version == refund.version and len(t.flow.token) >= 8


def test_path_leads_to_the_recommended_outcome(refund: Playbook) -> None:
    flow = to_outcome(refund)
    assert flow.stage is conv.Stage.OUTCOME
    assert conv.recommended(refund, flow).id == "full-refund"
    assert isinstance(conv.screen_for(refund, flow, RULES), conv.OutcomeScreen)


def test_apply_never_mutates_its_input(refund: Playbook) -> None:
    flow = conv.start(refund, now=1.0).flow
    before = flow.to_dict()
    answer(refund, flow, "Yes, or I can't tell")
    assert flow.to_dict() == before


def test_stale_answer_expires_and_changes_nothing(refund: Playbook) -> None:
    flow = conv.start(refund, now=1.0).flow
    flow = answer(refund, flow, "Yes, or I can't tell").flow
    stale = conv.apply(refund, flow, conv.Answer(step=0, option=0), RULES)  # the first question again
    assert isinstance(stale.screen, conv.Expired) and stale.flow == flow
    out_of_range = conv.apply(refund, flow, conv.Answer(step=refund.step_index("proof"), option=9), RULES)
    assert isinstance(out_of_range.screen, conv.Expired)


@pytest.mark.parametrize("action", [conv.Done(), conv.Skip(), conv.React("happy"), conv.PickOutcome(0),
                                    conv.NoMoney(), conv.TextInput("5")])
def test_actions_of_another_stage_expire(refund: Playbook, action: conv.Action) -> None:
    flow = conv.start(refund, now=1.0).flow
    assert isinstance(conv.apply(refund, flow, action, RULES).screen, conv.Expired)


def test_back_counts_and_returns(refund: Playbook) -> None:
    flow = to_outcome(refund)
    t = conv.apply(refund, flow, conv.Back(), RULES)
    assert isinstance(t.screen, conv.StepScreen) and t.screen.step.id == "condition" and t.flow.backs == 1
    t = conv.apply(refund, conv.start(refund, now=1.0).flow, conv.Back(), RULES)
    assert t.flow is None and isinstance(t.screen, conv.Cancelled)


def test_restart_clears_the_path(refund: Playbook) -> None:
    t = conv.apply(refund, to_outcome(refund), conv.Restart(), RULES)
    assert t.flow.path == [] and t.flow.stage is conv.Stage.STEP


def test_done_asks_amount_then_note_then_reaction(refund: Playbook) -> None:
    flow = conv.apply(refund, to_outcome(refund), conv.Done(), RULES).flow
    assert flow.stage is conv.Stage.AMOUNT and flow.disposition is conv.Disposition.FOLLOWED
    bad = conv.apply(refund, flow, conv.TextInput("lots"), RULES)
    assert isinstance(bad.screen, conv.AmountScreen) and bad.screen.error == "not_a_number"
    t = conv.apply(refund, flow, conv.TextInput("€ 75"), RULES)
    assert isinstance(t.screen, conv.NoteScreen) and t.screen.over_limit and t.screen.amount == Decimal(75)
    assert t.flow.amount_minor == 7500 and t.flow.over_limit
    t = conv.apply(refund, t.flow, conv.TextInput("x" * 301), RULES)
    assert isinstance(t.screen, conv.NoteScreen) and t.screen.error == "too_long" and t.screen.length == 301
    t = conv.apply(refund, t.flow, conv.TextInput("  fine  "), RULES)
    assert t.flow.note == "fine" and isinstance(t.screen, conv.ReactionScreen)
    done = conv.apply(refund, t.flow, conv.React("happy"), RULES)
    assert isinstance(done.screen, conv.Complete) and done.flow.reaction == "happy"
    assert isinstance(conv.apply(refund, t.flow, conv.React("ecstatic"), RULES).screen, conv.Expired)


def test_outcome_without_money_skips_the_amount(refund: Playbook) -> None:
    flow = conv.start(refund, now=1.0).flow
    flow = answer(refund, flow, "No, clearly from another shop").flow
    t = conv.apply(refund, flow, conv.Done(), RULES)
    assert isinstance(t.screen, conv.NoteScreen) and t.flow.amount_minor is None


def test_other_lists_every_outcome_but_the_recommended(refund: Playbook) -> None:
    t = conv.apply(refund, to_outcome(refund), conv.DidOther(), RULES)
    ids = [o.id for _, o in t.screen.choices]
    assert "full-refund" not in ids and set(ids) == set(refund.outcomes) - {"full-refund"}
    recommended_index = refund.outcome_ids.index("full-refund")
    assert isinstance(conv.apply(refund, t.flow, conv.PickOutcome(recommended_index), RULES).screen, conv.Expired)
    picked = conv.apply(refund, t.flow, conv.PickOutcome(refund.outcome_ids.index("store-credit")), RULES)
    assert picked.flow.taken == "store-credit" and picked.flow.disposition is conv.Disposition.OTHER


def test_written_action_asks_amount_with_none_option(refund: Playbook) -> None:
    flow = conv.apply(refund, to_outcome(refund), conv.DidOther(), RULES).flow
    flow = conv.apply(refund, flow, conv.WriteOwn(), RULES).flow
    assert conv.apply(refund, flow, conv.TextInput("   "), RULES).screen == conv.OtherTextScreen(error="empty")
    assert conv.apply(refund, flow, conv.TextInput("y" * 201), RULES).screen == conv.OtherTextScreen(error="too_long")
    t = conv.apply(refund, flow, conv.TextInput("Gave   a voucher"), RULES)
    assert t.flow.taken_text == "Gave a voucher" and isinstance(t.screen, conv.AmountScreen)
    t = conv.apply(refund, t.flow, conv.NoMoney(), RULES)
    assert t.flow.amount_minor == 0 and not t.flow.over_limit
    back = conv.apply(refund, conv.apply(refund, flow, conv.Back(), RULES).flow, conv.Back(), RULES)
    assert back.flow.stage is conv.Stage.OUTCOME


def test_escalated_records_no_outcome(refund: Playbook) -> None:
    t = conv.apply(refund, to_outcome(refund), conv.Escalated(), RULES)
    assert t.flow.disposition is conv.Disposition.ESCALATED and t.flow.taken is None
    assert isinstance(t.screen, conv.NoteScreen)


def test_cancel_ends_from_any_stage(refund: Playbook) -> None:
    flow = conv.apply(refund, to_outcome(refund), conv.Done(), RULES).flow
    t = conv.apply(refund, flow, conv.Cancel(), RULES)
    assert t.flow is None and isinstance(t.screen, conv.Cancelled)


def test_flow_round_trips_through_json(refund: Playbook) -> None:
    import json

    flow = conv.apply(refund, to_outcome(refund), conv.Done(), RULES).flow
    restored = conv.Flow.from_dict(json.loads(json.dumps(flow.to_dict())))
    assert restored == flow


def test_flow_to_dict_shares_nothing_mutable_with_the_flow(refund: Playbook) -> None:
    """to_dict copies shallowly for speed: that is only right while every field but `path` is a scalar."""
    import dataclasses

    flow = conv.apply(refund, to_outcome(refund), conv.Done(), RULES).flow
    data = flow.to_dict()
    assert data == {**dataclasses.asdict(flow), "path": [list(item) for item in flow.path]}
    assert data["path"] is not flow.path and all(isinstance(item, list) for item in data["path"])
    for name, value in data.items():
        if name != "path":
            assert value is None or isinstance(value, str | int | float | bool), (name, value)
