"""/team: the people of the teams a manager covers; change a role, move someone, deactivate someone who left.

Every button is checked again when pressed (the permission by the middleware, the person and the teams
here): a forged or stale button changes nothing.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.core.people import Person
from bot.core.roles import Permission
from bot.core.team import covered_team_ids, grantable_roles, may_grant, may_manage
from bot.permissions import needs
from bot.ui import team as ui
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from bot.ui.team import TeamAction, TeamCb
from storage import team as store
from storage.db import Database


async def _listing(person: Person, db: Database, screens: Screens, page: int = 0) -> View:
    async with db.session() as session:
        members = await store.members(session, covered_team_ids(person))
    return ui.listing(screens, person.language, members, page)


async def team_command(message: Message, person: Person, db: Database, screens: Screens) -> None:
    await reply(message, await _listing(person, db, screens))


async def team_page(query: CallbackQuery, callback_data: TeamCb, person: Person, db: Database,
                    screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, await _listing(person, db, screens, callback_data.page))


def _manageable(person: Person, member: store.Member) -> bool:
    user = member.user
    return may_manage(person, user_id=user.id or 0, role=user.role, team_id=user.team_id)


async def _refuse(query: CallbackQuery, person: Person, screens: Screens) -> None:
    await query.answer(screens.r.t("team.not_yours", person.language), show_alert=True)


async def act(query: CallbackQuery, callback_data: TeamCb, person: Person, db: Database, screens: Screens) -> None:
    """One handler for every button about one person: load them, check the rights, act, show them again."""
    lang, page, action = person.language, callback_data.page, callback_data.action
    async with db.session() as session:
        member = await store.member(session, callback_data.user)
        if member is None or not person.covers_team(member.user.team_id):
            await _refuse(query, person, screens)
            return
        manageable = _manageable(person, member)
        user = member.user
        if action == TeamAction.PERSON:
            await query.answer()
            await edit_or_send(query, ui.person(screens, lang, member, manageable=manageable,
                                                timezone=person.timezone, page=page))
            return
        if not manageable or not user.active:
            await _refuse(query, person, screens)
            return
        notice: str | None = None
        match action:
            case TeamAction.ROLE:
                choices = [role.value for role in grantable_roles(person) if role != user.role]
                await query.answer()
                await edit_or_send(query, ui.roles(screens, lang, member, choices, page))
                return
            case TeamAction.MOVE:
                choices = [t for t in await store.teams(session, covered_team_ids(person)) if t.id != user.team_id]
                await query.answer()
                await edit_or_send(query, ui.teams(screens, lang, member, choices, page))
                return
            case TeamAction.DEACTIVATE:
                await query.answer()
                await edit_or_send(query, ui.confirm(screens, lang, member, page))
                return
            case TeamAction.SET_ROLE:
                role = callback_data.value
                if not may_grant(person, role, user.team_id):
                    await _refuse(query, person, screens)
                    return
                changed = await store.set_role(session, user, role, actor_id=person.user_id, actor=person.name)
                notice = "role_changed" if changed else "unchanged"
            case TeamAction.SET_TEAM:
                team_id = int(callback_data.value) if callback_data.value.isdigit() else None
                target = next((t for t in await store.teams(session, covered_team_ids(person)) if t.id == team_id),
                              None)
                # Moving keeps the role: it must be one the manager may give in the new team too.
                if target is None or target.id is None or not may_grant(person, user.role, target.id):
                    await _refuse(query, person, screens)
                    return
                changed = await store.move(session, user, target.id, actor_id=person.user_id, actor=person.name)
                notice = "moved" if changed else "unchanged"
            case TeamAction.CONFIRM:
                cancelled = await store.deactivate(session, user, actor_id=person.user_id, actor=person.name)
                notice = "deactivated" if cancelled is not None else "unchanged"
            case _:
                await _refuse(query, person, screens)
                return
        member = await store.member(session, callback_data.user)
    assert member is not None
    text = screens.r.t(f"team.done.{notice}", lang, name=member.user.name or str(member.user.telegram_id),
                       role=screens.r.role_name(member.user.role, lang), team=member.team or "")
    await query.answer(text)
    await edit_or_send(query, ui.person(screens, lang, member, manageable=_manageable(person, member),
                                        timezone=person.timezone, page=page, notice=text))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="team")
    guard = needs(Permission.MANAGE_PEOPLE)
    r.message.register(team_command, Command("team"), flags=guard)
    r.callback_query.register(team_page, TeamCb.filter(F.action == TeamAction.LIST), flags=guard)
    r.callback_query.register(act, TeamCb.filter(), flags=guard)
    return r
