"""Cross-cutting concerns, one job each: drop repeated updates; know who is acting (or refuse them)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from decimal import Decimal
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TelegramUser

from bot.config import Config
from bot.core.people import Person
from bot.core.text import Language
from bot.ui.render import Renderer
from storage import people
from storage.db import Database
from storage.updates import claim_update, claim_update_and_find_person

log = logging.getLogger(__name__)
OVERSEERS = ("manager", "supervisor", "admin")  # the roles that may cover several teams
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


PERSON_ROW = "moments_person_row"  # handler data: the sender's row, read together with the update's claim


class DeduplicateUpdates(BaseMiddleware):
    """An update Telegram delivers twice (after a crash, a retry) is handled once.

    The claim also reads the sender's person row in the same round trip (aiogram's own outer middleware has
    already found the sender), for IdentifyPerson: both happen on every update."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Update):
            bot = data["bot"]
            sender: TelegramUser | None = data.get("event_from_user")
            if sender is None:
                claimed = await claim_update(self.db, bot.id, event.update_id)
            else:
                claimed, data[PERSON_ROW] = await claim_update_and_find_person(self.db, bot.id, event.update_id,
                                                                               sender.id)
            if not claimed:
                log.info("update %s already handled: skipped", event.update_id)
                return None
        return await handler(event, data)


class IdentifyPerson(BaseMiddleware):
    """Loads the person behind the update. Unknown people get a polite refusal and nothing else,
    except on their way in: a `/start <payload>` message (an invite link), and updates while their
    conversation state is one of `onboarding_states`. Those go on with person=None."""

    def __init__(self, db: Database, config: Config, renderer: Renderer,
                 onboarding_states: Collection[str] = ()) -> None:
        self.db = db
        self.config = config
        self.renderer = renderer
        self.onboarding_states = frozenset(onboarding_states)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None:
            return None
        person = await self._person(sender, data)
        if person is None:
            if await self._onboarding(event, data):
                data["person"] = None
                return await handler(event, data)
            await self._refuse(event, sender)
            return None
        data["person"] = person
        return await handler(event, data)

    async def _onboarding(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        """Whether an unknown sender is on their way in: opening an invite link, or in the middle of joining."""
        if isinstance(event, Message):
            parts = (event.text or "").split(maxsplit=1)
            if len(parts) == 2 and parts[0].split("@", 1)[0] == "/start":
                return True
        state = data.get("state")
        return bool(self.onboarding_states) and state is not None and await state.get_state() in self.onboarding_states

    async def _person(self, sender: TelegramUser, data: dict[str, Any] | None = None) -> Person | None:
        # Read with the update's claim (DeduplicateUpdates); else one Core query for the person and their team.
        data = data or {}
        found = data[PERSON_ROW] if PERSON_ROW in data else await people.person_row(self.db, sender.id)
        if found is None and sender.id in self.config.admins:
            # Admins named in config exist from their first message on.
            async with self.db.session() as session:
                await people.upsert_user(session, sender.id, role="admin", team=self.config.default_team,
                                         name=sender.full_name, actor="admins in config",
                                         language=self._language(sender.language_code))
            found = await people.person_row(self.db, sender.id)
        if found is None or not found.active:
            return None
        if found.unreachable_since is not None:
            # Sending to them failed (403) and training stopped; they write again, so they are back.
            from storage import training

            await training.set_reachable(self.db, found.telegram_id, None)
        # Staff and leads (most updates) cover their own team only: spare them the query.
        oversees: list[int] = []
        if found.role in OVERSEERS:
            async with self.db.session() as session:
                oversees = await people.overseen_team_ids(session, found.id)
        return Person(
            user_id=found.id, telegram_id=found.telegram_id, name=found.name or sender.full_name, role=found.role,
            team_id=found.team_id, team=found.team_name,
            # Playbook texts missing in their language show in their team's, before English.
            language=Language(found.language, (found.team_language or self.config.default_language,)),
            currency=found.currency or self.config.currency,
            timezone=found.timezone or self.config.default_timezone,
            team_limits={role: Decimal(amount) for role, amount in (found.limits or {}).items()},
            oversees=frozenset(oversees),
        )

    def _language(self, code: str | None) -> str:
        return (code or self.config.default_language).split("-")[0]

    async def _refuse(self, event: TelegramObject, sender: TelegramUser) -> None:
        language = self._language(sender.language_code)
        if isinstance(event, Message):
            await event.answer(self.renderer.render("refused.html.j2", language, telegram_id=sender.id))
        elif isinstance(event, CallbackQuery):
            await event.answer(self.renderer.t("alert.refused", language), show_alert=True)
