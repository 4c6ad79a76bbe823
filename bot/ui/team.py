"""Team screens: the people of the teams a manager covers, one person, role and team pickers, confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.ui.invites import home_button, when
from bot.ui.screens import Screens, View
from storage.models import Team
from storage.team import Member

PAGE = 20  # people per page: buttons and text stay well inside Telegram's limits


class TeamAction(StrEnum):
    LIST = "l"
    PERSON = "p"
    ROLE = "r"  # show the roles to pick from
    SET_ROLE = "s"
    MOVE = "m"  # show the teams to pick from
    SET_TEAM = "t"
    DEACTIVATE = "d"  # ask for confirmation
    CONFIRM = "x"  # deactivate, confirmed


class TeamCb(CallbackData, prefix="tm"):
    action: TeamAction
    user: int = 0
    value: str = ""
    page: int = 0


def _label(member: Member) -> str:
    return member.user.name or str(member.user.telegram_id)


def _cb(action: TeamAction, user: int = 0, value: str = "", page: int = 0) -> str:
    return TeamCb(action=action, user=user, value=value, page=page).pack()


def listing(screens: Screens, lang: str, members: Sequence[Member], page: int) -> View:
    pages = max((len(members) + PAGE - 1) // PAGE, 1)
    page = min(max(page, 0), pages - 1)
    shown = members[page * PAGE:(page + 1) * PAGE]
    kb = InlineKeyboardBuilder()
    for member in shown:
        kb.button(text=screens.r.t("team.person_button", lang, name=_label(member)[:40],
                                        role=screens.r.role_name(member.user.role, lang)),
                  callback_data=TeamCb(action=TeamAction.PERSON, user=member.user.id or 0, page=page))
    kb.adjust(2)
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(InlineKeyboardButton(text=screens.r.t("team.previous", lang),
                                        callback_data=_cb(TeamAction.LIST, page=page - 1)))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text=screens.r.t("team.next", lang),
                                        callback_data=_cb(TeamAction.LIST, page=page + 1)))
    nav.append(home_button(screens, lang))
    kb.row(*nav)
    items = [{"name": _label(m), "team": m.team, "role": m.user.role, "on_duty": m.user.on_duty,
              "active": m.user.active} for m in shown]
    text = screens.r.render("team_list.html.j2", lang, items=items, page=page + 1, pages=pages, total=len(members))
    return View(text, kb.as_markup())


def person(screens: Screens, lang: str, member: Member, *, manageable: bool, timezone: str, page: int = 0,
           notice: str | None = None) -> View:
    user = member.user
    uid = user.id or 0
    kb = InlineKeyboardBuilder()
    if manageable and user.active:
        kb.button(text=screens.r.t("team.change_role", lang), callback_data=_cb(TeamAction.ROLE, uid, page=page))
        kb.button(text=screens.r.t("team.move", lang), callback_data=_cb(TeamAction.MOVE, uid, page=page))
        kb.button(text=screens.r.t("team.deactivate", lang), callback_data=_cb(TeamAction.DEACTIVATE, uid, page=page))
    kb.button(text=screens.r.t("team.back", lang), callback_data=_cb(TeamAction.LIST, page=page))
    kb.adjust(2, 1, 1)
    text = screens.r.render(
        "team_person.html.j2", lang, name=_label(member), telegram_id=user.telegram_id, team=member.team,
        role=user.role, on_duty=user.on_duty, active=user.active, joined=when(user.created_at, timezone, lang),
        left=when(user.deactivated_at, timezone, lang) if user.deactivated_at else None, notice=notice,
        manageable=manageable)
    return View(text, kb.as_markup())


def roles(screens: Screens, lang: str, member: Member, choices: Sequence[str], page: int = 0) -> View:
    uid = member.user.id or 0
    kb = InlineKeyboardBuilder()
    for role in choices:
        kb.button(text=screens.r.t(f"team.role.{role}", lang), callback_data=_cb(TeamAction.SET_ROLE, uid, role, page))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(text=screens.r.t("team.back", lang), callback_data=_cb(TeamAction.PERSON, uid,
                                                                                       page=page)))
    text = screens.r.render("team_pick.html.j2", lang, what="role", name=_label(member), role=member.user.role,
                            team=member.team)
    return View(text, kb.as_markup())


def teams(screens: Screens, lang: str, member: Member, choices: Sequence[Team], page: int = 0) -> View:
    uid = member.user.id or 0
    kb = InlineKeyboardBuilder()
    for team in choices:
        kb.button(text=team.name, callback_data=_cb(TeamAction.SET_TEAM, uid, str(team.id), page))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(text=screens.r.t("team.back", lang), callback_data=_cb(TeamAction.PERSON, uid,
                                                                                       page=page)))
    text = screens.r.render("team_pick.html.j2", lang, what="team" if choices else "no_team", name=_label(member),
                            role=member.user.role, team=member.team)
    return View(text, kb.as_markup())


def confirm(screens: Screens, lang: str, member: Member, page: int = 0) -> View:
    uid = member.user.id or 0
    kb = InlineKeyboardBuilder()
    kb.button(text=screens.r.t("team.confirm_deactivate", lang), callback_data=_cb(TeamAction.CONFIRM, uid, page=page))
    kb.button(text=screens.r.t("team.back", lang), callback_data=_cb(TeamAction.PERSON, uid, page=page))
    kb.adjust(1)
    text = screens.r.render("team_confirm.html.j2", lang, name=_label(member), team=member.team,
                            role=member.user.role)
    return View(text, kb.as_markup())
