"""Playbook authoring for managers: upload a .yaml, see the diff, try it, publish; /playbooks to look after them."""

from __future__ import annotations

import io
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.config import Config
from bot.core.authoring import USE_WINDOW, Authoring, Change, name_acceptable, size_acceptable
from bot.core.diff import diff_playbooks
from bot.core.moments import MomentService
from bot.core.people import Person
from bot.core.roles import Permission
from bot.handlers.states import save_flow
from bot.notify import Delivery, Notifications, Tally
from bot.permissions import needs
from bot.ui import authoring as ui
from bot.ui import change_notes as notes_ui
from bot.ui.authoring import BookAction, BookCb, DraftAction, DraftCb
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage.change_notes import recent_users
from storage.types import utcnow

log = logging.getLogger(__name__)


async def upload(message: Message, bot: Bot, person: Person, moments: MomentService, screens: Screens) -> None:
    """A document from a manager: refuse what is not a small .yaml before downloading, then check it."""
    lang, document = person.language, message.document
    assert document is not None
    filename = document.file_name or ""
    if not name_acceptable(filename):
        await reply(message, ui.refused(screens, lang, "not_yaml_name"))
        return
    if not size_acceptable(document.file_size):
        await reply(message, ui.refused(screens, lang, "too_large"))
        return
    buffer = io.BytesIO()
    await bot.download(document, destination=buffer)
    result = await Authoring(moments).upload(person, buffer.getvalue(), filename, message.caption or "")
    if result.refused:
        await reply(message, ui.refused(screens, lang, result.refused))
    elif result.draft is None:
        await reply(message, ui.problems(screens, lang, filename, result))
    else:
        await reply(message, ui.diff(screens, lang, result))


async def draft_button(query: CallbackQuery, callback_data: DraftCb, state: FSMContext, bot: Bot, person: Person,
                       moments: MomentService, screens: Screens, notifications: Notifications,
                       config: Config) -> None:
    authoring, lang = Authoring(moments), person.language
    match callback_data.action:
        case DraftAction.PUBLISH:
            outcome, playbook = await authoring.publish(callback_data.draft, person)
            if playbook is None:
                await query.answer(screens.r.t(f"authoring.draft.{outcome}", lang), show_alert=True)
                return
            await query.answer(screens.r.t("authoring.draft.published", lang))
            view = screens.simple("authoring_published.html.j2", lang, with_menu=False,
                                  title=playbook.title.get(lang), version=ui.short(playbook.version))
            # The manager hears first; the staff who used it are told in the background (bot/notify.py).
            stage, notes = await change_notes(authoring.last_change, person, moments, screens, config.currency)
            head = f"{view.text}\n\n" if stage else view.text
            text = head + notes_ui.report(screens, lang, stage, len(notes)) if stage else head
            shown = await edit_or_send(query, View(text))
            if notes:
                tell_staff(bot, notifications, screens, person, notes, head, shown)
        case DraftAction.DISCARD:
            outcome = await authoring.discard(callback_data.draft)
            if outcome != "discarded_now":
                await query.answer(screens.r.t(f"authoring.draft.{outcome}", lang), show_alert=True)
                return
            await query.answer(screens.r.t("authoring.draft.discarded_now", lang))
            await edit_or_send(query, screens.simple("authoring_discarded.html.j2", lang, with_menu=False))
        case DraftAction.TRY:
            found, playbook = await authoring.draft_playbook(callback_data.draft)
            if found is None or playbook is None or found.status != "pending":
                outcome = "unknown" if found is None else "already_published" if found.status == "published" \
                    else found.status
                await query.answer(screens.r.t(f"authoring.draft.{outcome}", lang), show_alert=True)
                return
            result = await moments.begin_trial(person, playbook)
            assert result.flow is not None and query.message is not None
            await query.answer()
            await query.message.answer(screens.r.render("authoring_trial.html.j2", lang,
                                                        title=playbook.title.get(lang)))
            view = screens.flow(lang, playbook, result.flow, result.screen, result.rules, person.currency)
            await save_flow(state, result.flow)
            sent = await query.message.answer(view.text, reply_markup=view.keyboard)
            result.flow.message_id = sent.message_id
            await save_flow(state, result.flow)


async def playbooks_command(message: Message, person: Person, moments: MomentService, screens: Screens) -> None:
    rows = await Authoring(moments).overview()
    await reply(message, ui.listing(screens, person.language, rows, person.timezone))


async def book_button(query: CallbackQuery, callback_data: BookCb, bot: Bot, person: Person,
                      moments: MomentService, screens: Screens, notifications: Notifications,
                      config: Config) -> None:
    authoring, lang, pid = Authoring(moments), person.language, callback_data.playbook
    action = callback_data.action
    if action == BookAction.LIST:
        await query.answer()
        await edit_or_send(query, ui.listing(screens, lang, await authoring.overview(), person.timezone))
        return
    row = await authoring.one(pid)
    if row is None:
        await query.answer(screens.r.t("authoring.unknown", lang), show_alert=True)
        return
    notice = ""
    match action:
        case BookAction.DOWNLOAD:
            source = await authoring.live_source(pid) or ""
            await query.answer()
            await bot.send_document(person.telegram_id, BufferedInputFile(source.encode("utf-8"), f"{pid}.yaml"),
                                    caption=screens.r.t("authoring.download_caption", lang, id=pid,
                                                        version=ui.short(row.state.live_version)))
            return
        case BookAction.HISTORY:
            await query.answer()
            await edit_or_send(query, ui.history(screens, lang, pid, row.title, row.state.live_version,
                                                 await authoring.history(pid), person.timezone))
            return
        case BookAction.ROLLBACK:
            playbook = await authoring.rollback(person, pid, callback_data.version)
            key = "rolled_back" if playbook is not None else "rollback_refused"
            notice = screens.r.t(f"authoring.{key}", lang, version=ui.short(callback_data.version))
        case BookAction.RETIRE | BookAction.UNRETIRE:
            retire = action == BookAction.RETIRE
            changed = await authoring.set_retired(person, pid, retire)
            notice = screens.r.t(f"authoring.{'retired' if retire else 'unretired'}" if changed
                                 else "authoring.unchanged", lang)
    await query.answer(notice)
    fresh = await authoring.one(pid)
    assert fresh is not None
    await edit_or_send(query, ui.playbook(screens, lang, fresh, person.timezone, notice=notice))
    if action == BookAction.ROLLBACK and authoring.last_change is not None:
        # A roll back publishes content too: the same note, progress in a message of its own.
        _, notes = await change_notes(authoring.last_change, person, moments, screens, config.currency)
        if notes:
            title = fresh.title
            sent = await bot.send_message(person.telegram_id,
                                          notes_ui.report(screens, lang, "telling", len(notes), title=title))
            tell_staff(bot, notifications, screens, person, notes, "", sent.message_id, title=title)


async def open_button(query: CallbackQuery, callback_data: BookCb, person: Person, moments: MomentService,
                      screens: Screens) -> None:
    row = await Authoring(moments).one(callback_data.playbook)
    if row is None:
        await query.answer(screens.r.t("authoring.unknown", person.language), show_alert=True)
        return
    await query.answer()
    await edit_or_send(query, ui.playbook(screens, person.language, row, person.timezone))


# ---- telling staff what changed -----------------------------------------------------------------------------

async def change_notes(change: Change | None, person: Person, moments: MomentService, screens: Screens,
                       default_currency: str) -> tuple[str, list[Delivery]]:
    """What the manager is told (report stage; "" for a new playbook) and one note per person to tell.

    Staff hear about a change of a recommended outcome or a limit, if they decided with the playbook in the
    last 30 days; the one who published it is not told."""
    if change is None or change.before is None:
        return "", []
    diff = diff_playbooks(change.before, change.after)
    if not diff.matters_to_staff:
        return "wording", []
    async with moments.db.session() as session:
        recipients = await recent_users(session, change.after.id, utcnow() - USE_WINDOW,
                                        exclude_user_id=person.user_id)
    notes = notes_ui.deliveries(screens, recipients, diff, change.before, change.after, change.changelog,
                                default_currency, rolled_back=change.rolled_back)
    return ("telling" if notes else "nobody"), notes


def tell_staff(bot: Bot, notifications: Notifications, screens: Screens, person: Person, notes: list[Delivery],
               head: str, message_id: int | None, title: str = "") -> None:
    """Send the notes in the background; at the end the manager's message `head` + progress shows the tally."""
    async def done(tally: Tally) -> None:
        text = head + notes_ui.report(screens, person.language, "done", tally=tally, title=title)
        try:
            if message_id is None:
                await bot.send_message(person.telegram_id, text)
            else:
                await bot.edit_message_text(text, chat_id=person.telegram_id, message_id=message_id)
        except TelegramAPIError as exc:
            log.info("could not report the change notes to %s: %s", person.telegram_id, exc)

    notifications.start(bot, notes, done)


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="authoring")
    guard = needs(Permission.EDIT_PLAYBOOKS)
    r.message.register(upload, F.document, flags=guard)
    r.message.register(playbooks_command, Command("playbooks"), flags=guard)
    r.callback_query.register(draft_button, DraftCb.filter(), flags=guard)
    r.callback_query.register(open_button, BookCb.filter(F.action == BookAction.OPEN), flags=guard)
    r.callback_query.register(book_button, BookCb.filter(), flags=guard)
    return r
