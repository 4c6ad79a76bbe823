"""The leads' buttons on an escalation: typed callback data with the escalation id (a few bytes of 64)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.escalation import Status
from bot.ui.render import Renderer


class LeadAnswer(StrEnum):
    APPROVE = "a"
    DECLINE = "d"
    COMING = "c"


STATUS = {LeadAnswer.APPROVE: Status.APPROVED, LeadAnswer.DECLINE: Status.DECLINED, LeadAnswer.COMING: Status.COMING}


class LeadCb(CallbackData, prefix="es"):
    """A lead's answer to escalation `escalation`; who may press it is checked against the database."""

    escalation: int
    answer: LeadAnswer


def lead_keyboard(r: Renderer, lang: str, escalation_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for answer, key in ((LeadAnswer.APPROVE, "escalation.approve"), (LeadAnswer.DECLINE, "escalation.decline"),
                        (LeadAnswer.COMING, "escalation.coming")):
        kb.button(text=r.t(key, lang), callback_data=LeadCb(escalation=escalation_id, answer=answer))
    kb.adjust(2, 1)
    return kb.as_markup()
