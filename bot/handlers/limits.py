"""/limit: a manager sets their team's empowerment limit for a role (config.yaml may fix it instead)."""

from __future__ import annotations

from decimal import Decimal

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Config
from bot.core.money import AmountError, parse_amount
from bot.core.people import Person
from bot.core.roles import Permission
from bot.permissions import needs
from bot.ui.screens import Screens
from bot.ui.send import reply
from storage.audit import audit
from storage.db import Database
from storage.models import Team

SETTABLE = ("staff", "lead", "manager", "supervisor")


async def set_limit(message: Message, command: CommandObject, person: Person, db: Database, config: Config,
                    screens: Screens) -> None:
    lang = person.language
    parts = (command.args or "").split()
    async with db.session() as session:
        team = await session.get(Team, person.team_id) if person.team_id is not None else None
        if team is None:
            await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error="no_team"))
            return
        current = {role: Decimal(amount) for role, amount in team.limits.items()}
        if not parts:
            await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error=None, team=team.name,
                                                limits=current, changed=None, currency=person.currency))
            return
        if len(parts) != 2 or parts[0] not in SETTABLE:
            await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error="usage",
                                                roles=SETTABLE))
            return
        if any(t.name == team.name and t.limits for t in config.teams):
            await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error="in_config",
                                                team=team.name))
            return
        try:
            amount = parse_amount(parts[1])
        except AmountError as exc:
            await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error=exc.code))
            return
        before = dict(team.limits)
        team.limits = {**team.limits, parts[0]: str(amount)}
        session.add(team)
        audit(session, "team.limits_changed", actor_id=person.user_id, actor=person.name, subject=team.name,
              team_id=team.id, before={"limits": before}, after={"limits": team.limits})
        await session.commit()
        limits = {role: Decimal(value) for role, value in team.limits.items()}
    await reply(message, screens.simple("limit.html.j2", lang, with_menu=False, error=None, team=team.name,
                                        limits=limits, changed=parts[0], currency=person.currency))


def router() -> Router:
    r = Router(name="limits")
    r.message.register(set_limit, Command("limit"), flags=needs(Permission.MANAGE_PEOPLE))
    return r
