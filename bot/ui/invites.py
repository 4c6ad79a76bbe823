"""Invite screens: the new link, the list of open invites with a Revoke button each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.render import local_time
from bot.ui.screens import Screens, View
from storage.invites import InviteRow

LIST_LIMIT = 30  # buttons and text stay well inside Telegram's limits


class InviteAction(StrEnum):
    LIST = "l"
    REVOKE = "r"


class InviteCb(CallbackData, prefix="iv"):
    action: InviteAction
    id: int = 0


def home_button(screens: Screens, lang: str) -> InlineKeyboardButton:
    home = MenuCb(action=MenuAction.HOME).pack()
    return InlineKeyboardButton(text=screens.r.t("menu.home", lang), callback_data=home)


def when(moment: datetime, timezone: str, lang: str = "en") -> str:
    return local_time(moment, timezone, lang)


def created(screens: Screens, lang: str, *, link: str, invite_id: int, team: str, role: str, uses: int,
            expires: str) -> View:
    kb = InlineKeyboardBuilder()
    kb.button(text=screens.r.t("invite.revoke", lang, id=invite_id),
              callback_data=InviteCb(action=InviteAction.REVOKE, id=invite_id))
    kb.button(text=screens.r.t("invite.all", lang), callback_data=InviteCb(action=InviteAction.LIST))
    kb.adjust(2)
    text = screens.r.render("invite_created.html.j2", lang, link=link, id=invite_id, team=team, role=role,
                            uses=uses, expires=expires)
    return View(text, kb.as_markup())


def listing(screens: Screens, lang: str, rows: Sequence[InviteRow], timezone: str, notice: str | None = None
            ) -> View:
    kb = InlineKeyboardBuilder()
    items: list[dict[str, Any]] = []
    for row in rows[:LIST_LIMIT]:
        invite = row.invite
        items.append({"id": invite.id, "team": row.team, "role": invite.role, "left": row.uses_left,
                      "max": invite.max_uses, "expires": when(invite.expires_at, timezone, lang), "by": row.created_by})
        kb.button(text=screens.r.t("invite.revoke", lang, id=invite.id),
                  callback_data=InviteCb(action=InviteAction.REVOKE, id=invite.id or 0))
    kb.adjust(2)
    kb.row(home_button(screens, lang))
    text = screens.r.render("invite_list.html.j2", lang, items=items, more=max(len(rows) - LIST_LIMIT, 0),
                            notice=notice)
    return View(text, kb.as_markup())


def problem(screens: Screens, lang: str, error: str, **context: Any) -> View:
    values: dict[str, Any] = {"detail": "", "roles": [], "teams": [], **context}
    return View(screens.r.render("invite_error.html.j2", lang, error=error, **values))
