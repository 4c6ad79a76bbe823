"""Typed callback data. Every button fits Telegram's 64 bytes: short prefixes, short ids, numbers."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.core import conversation as conv


class MenuAction(StrEnum):
    HOME = "h"
    MOMENT = "m"
    CATEGORY = "c"
    HISTORY = "y"
    HELP = "q"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction
    value: str = ""


class PickCb(CallbackData, prefix="p"):
    """Start a playbook (live version) from a search result or the browse list."""

    playbook: str


class FlowAction(StrEnum):
    ANSWER = "a"
    BACK = "b"
    RESTART = "r"
    CANCEL = "x"
    DONE = "d"
    OTHER = "o"
    ESCALATE = "e"
    PICK = "k"
    WRITE = "w"
    NO_MONEY = "n"
    SKIP = "s"
    REACT = "h"
    ASK = "l"  # ask a lead now (bot/handlers/escalation.py)
    WITHDRAW = "u"  # while waiting for a lead: decide myself


class FlowCb(CallbackData, prefix="f"):
    """A button inside one flow. `token` ties it to that flow, so presses on old messages expire."""

    token: str
    action: FlowAction
    step: int = 0
    value: int = 0


def to_action(data: FlowCb) -> conv.Action | None:
    """The core action a flow button stands for; None for data no honest button carries."""
    match data.action:
        case FlowAction.ANSWER:
            return conv.Answer(step=data.step, option=data.value)
        case FlowAction.BACK:
            return conv.Back()
        case FlowAction.RESTART:
            return conv.Restart()
        case FlowAction.CANCEL:
            return conv.Cancel()
        case FlowAction.DONE:
            return conv.Done()
        case FlowAction.OTHER:
            return conv.DidOther()
        case FlowAction.ESCALATE:
            return conv.Escalated()
        case FlowAction.PICK:
            return conv.PickOutcome(outcome=data.value)
        case FlowAction.WRITE:
            return conv.WriteOwn()
        case FlowAction.NO_MONEY:
            return conv.NoMoney()
        case FlowAction.SKIP:
            return conv.Skip()
        case FlowAction.REACT:
            if 0 <= data.value < len(conv.REACTIONS):
                return conv.React(conv.REACTIONS[data.value])
        case FlowAction.ASK:
            return conv.AskLead()
        case FlowAction.WITHDRAW:
            return conv.Withdraw()
    return None


class NoneCb(CallbackData, prefix="n"):
    """The "None of these" button under a list of matches; `phrase` is the row of that search (storage/unmatched.py)."""

    phrase: int


class UnmatchedCb(CallbackData, prefix="um"):
    """/unmatched: make a playbook skeleton from the phrase in row `phrase`."""

    phrase: int


class TrainAction(StrEnum):
    ANSWER = "a"  # value: the choice
    SURE = "s"  # value: how sure (0 guessed, 1 fairly, 2 certain)
    WALK = "w"  # walk through the card's playbook (a trial: nothing recorded)
    NEXT = "n"  # another card now
    PAUSE = "p"
    RESUME = "r"
    RESULTS = "t"  # managers: the team's results
    PUSH = "u"  # managers: send the chosen cards to the team (value: index in the push menu)


class TrainCb(CallbackData, prefix="t"):
    """Training buttons. `delivery` ties an answer to the card as it was sent to this person."""

    action: TrainAction
    delivery: int = 0
    value: int = 0
    ref: str = ""  # the playbook or card a push or a walk-through names
