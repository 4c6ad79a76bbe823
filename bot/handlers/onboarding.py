"""Opening an invite link (`/start <token>`): name, language, usual shift, then the main menu.

The only handlers that serve people the bot does not know yet: IdentifyPerson lets an unknown sender
through for a `/start <payload>` message and while their state is one of ONBOARDING_STATES, with
person=None. This router comes before every other one and ends with catch-alls, so such an update never
reaches another feature's handler.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.types import User as TelegramUser

from bot.config import Config
from bot.core.invites import InviteStatus, hash_token, invite_status, looks_like_token
from bot.core.onboarding import (
    DAY_PRESETS,
    HOUR_PRESETS,
    LANGUAGES,
    MAX_NAME,
    Shift,
    clean_name,
    default_name,
    parse_hours,
    toggle_day,
)
from bot.core.people import Person
from bot.ui import onboarding as ui
from bot.ui.onboarding import OnboardAction, OnboardCb
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage import invites
from storage.db import Database
from storage.models import Invite, Team
from storage.types import utcnow


class Onboarding(StatesGroup):
    name = State()
    language = State()
    days = State()
    hours = State()


ONBOARDING_STATES: frozenset[str] = frozenset(state.state for state in Onboarding.__all_states__ if state.state)
UNKNOWN = MagicData(F.person.is_(None))
KNOWN = MagicData(F.person.is_not(None))


def _first_language(sender: TelegramUser | None, config: Config) -> str:
    code = ((sender.language_code if sender else None) or config.default_language).split("-")[0]
    return code if code in LANGUAGES else config.default_language


async def _data(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("onboarding") or {})


async def _save(state: FSMContext, data: dict[str, Any], step: State) -> None:
    """Data first, then the state that routes the next update, as the moment flow does."""
    await state.set_data({"onboarding": data})
    await state.set_state(step)


# ---- opening the link ------------------------------------------------------------------------------------------

async def open_invite(message: Message, command: CommandObject, state: FSMContext, person: Person | None,
                      db: Database, config: Config, screens: Screens) -> None:
    if person is not None:
        # Already a member: an invite changes nothing (their role and team stay as they are).
        await reply(message, screens.simple("onboarding_registered.html.j2", person.language, name=person.name))
        return
    lang = _first_language(message.from_user, config)
    payload = (command.args or "").strip()
    now = utcnow()
    status, invite, team = InviteStatus.UNKNOWN, None, None
    if looks_like_token(payload):
        async with db.session() as session:
            invite = await invites.by_token_hash(session, hash_token(payload))
            if invite is not None:
                status = invite_status(uses=invite.uses, max_uses=invite.max_uses, expires_at=invite.expires_at,
                                       revoked_at=invite.revoked_at, now=now)
                team = await session.get(Team, invite.team_id)
    if status != InviteStatus.VALID or invite is None or team is None:
        await reply(message, View(screens.r.render("onboarding_invalid.html.j2", lang, reason=status.value)))
        return
    telegram_name = default_name(message.from_user.full_name if message.from_user else "")
    data = {"invite": invite.id, "team": team.name, "role": invite.role, "lang": lang, "name": telegram_name}
    await _save(state, data, Onboarding.name)
    await reply(message, ui.name_prompt(screens, lang, team=team.name, role=invite.role,
                                        telegram_name=telegram_name))


# ---- name --------------------------------------------------------------------------------------------------

async def use_telegram_name(query: CallbackQuery, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    name = default_name(query.from_user.full_name)
    if not name:
        await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)
        return
    data["name"] = name
    await _save(state, data, Onboarding.language)
    await query.answer()
    await edit_or_send(query, ui.language_prompt(screens, data["lang"], name))


async def typed_name(message: Message, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    typed = message.text or ""
    name = clean_name(typed)
    if name is None:
        error = "too_long" if len(typed.strip()) > MAX_NAME else "empty"
        await reply(message, ui.name_prompt(screens, data["lang"], team=data["team"], role=data["role"],
                                            telegram_name=data.get("name") or "", error=error,
                                            length=len(typed.strip())))
        return
    data["name"] = name
    await _save(state, data, Onboarding.language)
    await reply(message, ui.language_prompt(screens, data["lang"], name))


# ---- language and shift ---------------------------------------------------------------------------------------

async def pick_language(query: CallbackQuery, callback_data: OnboardCb, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    if callback_data.value not in LANGUAGES:
        await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)
        return
    data["lang"] = callback_data.value
    data["days"] = []
    await _save(state, data, Onboarding.days)
    await query.answer()
    await edit_or_send(query, ui.days_prompt(screens, data["lang"], []))


async def day_preset(query: CallbackQuery, callback_data: OnboardCb, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    preset = DAY_PRESETS.get(callback_data.value)
    if preset is None:
        await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)
        return
    data["days"] = list(preset)
    await _save(state, data, Onboarding.hours)
    await query.answer()
    await edit_or_send(query, ui.hours_prompt(screens, data["lang"], data["days"]))


async def toggle(query: CallbackQuery, callback_data: OnboardCb, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    if not (callback_data.value.isdigit() and 0 <= int(callback_data.value) <= 6):
        await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)
        return
    data["days"] = toggle_day(list(data.get("days") or []), int(callback_data.value))
    await _save(state, data, Onboarding.days)
    await query.answer()
    await edit_or_send(query, ui.days_prompt(screens, data["lang"], data["days"]))


async def days_done(query: CallbackQuery, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    if not data.get("days"):
        await query.answer(screens.r.t("onboarding.no_days", data["lang"]), show_alert=True)
        return
    await _save(state, data, Onboarding.hours)
    await query.answer()
    await edit_or_send(query, ui.hours_prompt(screens, data["lang"], data["days"]))


async def hours_preset(query: CallbackQuery, callback_data: OnboardCb, state: FSMContext, db: Database,
                       screens: Screens) -> None:
    data = await _data(state)
    index = int(callback_data.value) if callback_data.value.isdigit() else -1
    if not 0 <= index < len(HOUR_PRESETS):
        await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)
        return
    await query.answer()
    start, end = HOUR_PRESETS[index]
    view, welcome = await _finish(query.from_user, state, data, start, end, db, screens)
    await edit_or_send(query, view)
    if welcome is not None and query.message is not None:
        await query.message.answer(welcome.text, reply_markup=welcome.keyboard)


async def typed_hours(message: Message, state: FSMContext, db: Database, screens: Screens) -> None:
    data = await _data(state)
    hours = parse_hours(message.text or "")
    if hours is None:
        await reply(message, ui.hours_prompt(screens, data["lang"], data["days"], error="hours"))
        return
    view, welcome = await _finish(message.from_user, state, data, hours[0], hours[1], db, screens)
    await reply(message, view)
    if welcome is not None:
        await reply(message, welcome)


async def _finish(sender: TelegramUser | None, state: FSMContext, data: dict[str, Any], start: str, end: str,
                  db: Database, screens: Screens) -> tuple[View, View | None]:
    """Create the person and consume the invite in one transaction; then the main menu."""
    assert sender is not None
    lang = data["lang"]
    shift = Shift(tuple(data["days"]), start, end).to_dict()
    async with db.session() as session:
        joined = await invites.join(session, int(data["invite"]), telegram_id=sender.id, name=data["name"],
                                    language=lang, shift=shift)
    await state.clear()
    if joined.registered:
        return screens.simple("onboarding_registered.html.j2", lang, name=data["name"]), None
    if not joined.joined:
        return View(screens.r.render("onboarding_invalid.html.j2", lang, reason=_reason(joined.invite).value)), None
    done = ui.done(screens, lang, name=data["name"], team=data["team"], role=data["role"], shift=shift)
    return done, screens.welcome(lang, data["name"])


def _reason(invite: Invite | None) -> InviteStatus:
    if invite is None:
        return InviteStatus.UNKNOWN
    status = invite_status(uses=invite.uses, max_uses=invite.max_uses, expires_at=invite.expires_at,
                           revoked_at=invite.revoked_at, now=utcnow())
    return InviteStatus.USED_UP if status == InviteStatus.VALID else status  # valid again: it was the race


# ---- everything else while onboarding -------------------------------------------------------------------------

async def cancel(message: Message, state: FSMContext, config: Config, screens: Screens) -> None:
    data = await _data(state)
    await state.clear()
    lang = data.get("lang") or _first_language(message.from_user, config)
    await reply(message, View(screens.r.render("onboarding_cancelled.html.j2", lang)))


async def repeat_step(message: Message, state: FSMContext, screens: Screens) -> None:
    """Text where a button is expected: show the current step again, as a new message."""
    data = await _data(state)
    lang = data.get("lang", "en")
    current = await state.get_state()
    days = list(data.get("days") or [])
    if current == Onboarding.name.state:
        view = ui.name_prompt(screens, lang, team=data.get("team", ""), role=data.get("role", ""),
                              telegram_name=data.get("name") or "")
    elif current == Onboarding.language.state:
        view = ui.language_prompt(screens, lang, data.get("name", ""))
    elif current == Onboarding.hours.state:
        view = ui.hours_prompt(screens, lang, days)
    else:
        view = ui.days_prompt(screens, lang, days, error="buttons")
    await reply(message, view)


async def stale_button(query: CallbackQuery, state: FSMContext, screens: Screens) -> None:
    data = await _data(state)
    await query.answer(screens.r.t("alert.expired", data.get("lang", "en")), show_alert=True)


async def member_in_onboarding(event: Message | CallbackQuery, state: FSMContext, person: Person,
                               screens: Screens) -> None:
    """Added meanwhile (or joined, then the state survived a crash): onboarding is over for them."""
    await state.clear()
    view = screens.simple("onboarding_registered.html.j2", person.language, name=person.name)
    if isinstance(event, CallbackQuery):
        await event.answer()
        await edit_or_send(event, view)
    else:
        await reply(event, view)


async def refuse_message(message: Message, config: Config, screens: Screens) -> None:
    """A stranger's update no onboarding step took (e.g. /start@another_bot x): the usual refusal."""
    sender = message.from_user
    lang = _first_language(sender, config)
    await reply(message, View(screens.r.render("refused.html.j2", lang, telegram_id=sender.id if sender else 0)))


async def refuse_button(query: CallbackQuery, config: Config, screens: Screens) -> None:
    await query.answer(screens.r.t("alert.refused", _first_language(query.from_user, config)), show_alert=True)


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one.

    Registered before `start`: CommandStart(deep_link=True) only matches `/start <payload>`, and plain
    /start must stay with the start router."""
    r = Router(name="onboarding")
    in_onboarding = StateFilter(*Onboarding.__all_states__)
    r.message.register(member_in_onboarding, in_onboarding, KNOWN)
    r.callback_query.register(member_in_onboarding, in_onboarding, KNOWN)
    r.message.register(open_invite, CommandStart(deep_link=True))
    r.message.register(cancel, in_onboarding, Command("cancel"))
    r.message.register(typed_name, StateFilter(Onboarding.name), F.text, ~F.text.startswith("/"))
    r.callback_query.register(use_telegram_name, StateFilter(Onboarding.name),
                              OnboardCb.filter(F.action == OnboardAction.NAME))
    r.callback_query.register(pick_language, StateFilter(Onboarding.language),
                              OnboardCb.filter(F.action == OnboardAction.LANGUAGE))
    r.callback_query.register(day_preset, StateFilter(Onboarding.days),
                              OnboardCb.filter(F.action == OnboardAction.PRESET))
    r.callback_query.register(toggle, StateFilter(Onboarding.days), OnboardCb.filter(F.action == OnboardAction.DAY))
    r.callback_query.register(days_done, StateFilter(Onboarding.days),
                              OnboardCb.filter(F.action == OnboardAction.DAYS_DONE))
    r.callback_query.register(hours_preset, StateFilter(Onboarding.hours),
                              OnboardCb.filter(F.action == OnboardAction.HOURS))
    r.message.register(typed_hours, StateFilter(Onboarding.hours), F.text, ~F.text.startswith("/"))
    # Catch-alls: a stranger's update goes no further than this router.
    r.message.register(repeat_step, in_onboarding)
    r.callback_query.register(stale_button, in_onboarding)
    r.message.register(refuse_message, UNKNOWN)
    r.callback_query.register(refuse_button, UNKNOWN)
    return r
