"""/invite makes a deep link for a team and role; /invites lists the open ones, each with a Revoke button."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.core.invites import deep_link, hash_token, new_token, parse_invite_args
from bot.core.people import Person
from bot.core.roles import Permission
from bot.core.team import covered_team_ids, grantable_roles, may_grant
from bot.permissions import needs
from bot.ui import invites as ui
from bot.ui.invites import InviteAction, InviteCb
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage import invites, people
from storage.db import Database
from storage.models import Invite, Team
from storage.team import teams
from storage.types import utcnow


async def create_invite(message: Message, command: CommandObject, bot: Bot, person: Person, db: Database,
                        screens: Screens) -> None:
    lang = person.language
    request = parse_invite_args(command.args)
    if request.error is not None:
        await reply(message, ui.problem(screens, lang, request.error, detail=request.detail))
        return
    async with db.session() as session:
        team: Team | None
        if request.team is not None:
            team = await people.team_by_name(session, request.team)
        else:
            team = await session.get(Team, person.team_id) if person.team_id is not None else None
        if team is None or team.id is None or not person.covers_team(team.id):
            names = [t.name for t in await teams(session, covered_team_ids(person))]
            error = "no_team" if request.team is None else "team"
            await reply(message, ui.problem(screens, lang, error, detail=request.team or "", teams=names))
            return
        if not may_grant(person, request.role, team.id):
            await reply(message, ui.problem(screens, lang, "role", detail=request.role,
                                            roles=[r.value for r in grantable_roles(person)]))
            return
        token = new_token()
        invite = await invites.create(session, token_hash=hash_token(token), team_id=team.id, role=request.role,
                                      max_uses=request.uses, expires_at=utcnow() + request.lifetime,
                                      actor_id=person.user_id, actor=person.name)
    me = await bot.me()
    view = ui.created(screens, lang, link=deep_link(me.username or "", token), invite_id=invite.id or 0,
                      team=team.name, role=invite.role, uses=invite.max_uses,
                      expires=ui.when(invite.expires_at, person.timezone, person.language))
    await reply(message, view)


async def _listing(person: Person, db: Database, screens: Screens, notice: str | None = None) -> View:
    async with db.session() as session:
        rows = await invites.active(session, covered_team_ids(person))
    return ui.listing(screens, person.language, rows, person.timezone, notice=notice)


async def list_command(message: Message, person: Person, db: Database, screens: Screens) -> None:
    await reply(message, await _listing(person, db, screens))


async def list_button(query: CallbackQuery, person: Person, db: Database, screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, await _listing(person, db, screens))


async def revoke(query: CallbackQuery, callback_data: InviteCb, person: Person, db: Database,
                 screens: Screens) -> None:
    lang = person.language
    async with db.session() as session:
        invite = await session.get(Invite, callback_data.id)
        if invite is None or not person.covers_team(invite.team_id):
            await query.answer(screens.r.t("invite.not_yours", lang), show_alert=True)
            return
        revoked = await invites.revoke(session, invite.id or 0, actor_id=person.user_id, actor=person.name)
    if revoked is None:
        await query.answer(screens.r.t("invite.already_revoked", lang, id=callback_data.id), show_alert=True)
        return
    await query.answer(screens.r.t("invite.revoked", lang, id=callback_data.id))
    notice = screens.r.t("invite.revoked", lang, id=callback_data.id)
    await edit_or_send(query, await _listing(person, db, screens, notice=notice))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="invites")
    guard = needs(Permission.MANAGE_PEOPLE)
    r.message.register(create_invite, Command("invite"), flags=guard)
    r.message.register(list_command, Command("invites"), flags=guard)
    r.callback_query.register(list_button, InviteCb.filter(F.action == InviteAction.LIST), flags=guard)
    r.callback_query.register(revoke, InviteCb.filter(F.action == InviteAction.REVOKE), flags=guard)
    return r
