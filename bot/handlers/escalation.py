"""Asking a lead: the staff member's question, the leads' answers, /duty, and the timeout.

The handlers stay thin. `Desk` shows a case in Telegram: each lead's copy, the staff member's message
(edited in place) and their conversation state, which a lead's answer or the timeout changes from outside
that chat. The staff member's state is changed under their own event lock (the one aiogram holds while
their updates are handled), so an answer never crosses a button they press at the same moment; across
processes the guarded UPDATE in storage/escalations.py decides, and the escalation row is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, Message

from bot import jobs
from bot.core import conversation as conv
from bot.core import escalation as rules
from bot.core.escalation import Status
from bot.core.escalation_service import Case, EscalationService
from bot.core.moments import MomentService
from bot.core.money import currency_decimals, from_minor
from bot.core.people import Person
from bot.core.playbook import Playbook
from bot.core.roles import Permission
from bot.handlers.states import Moment, load_flow, save_flow
from bot.permissions import needs
from bot.ui.callbacks import FlowAction, FlowCb
from bot.ui.escalation import STATUS, LeadCb, lead_keyboard
from bot.ui.screens import Screens, View
from bot.ui.send import drop_keyboard, edit_or_send, reply
from storage.models import Escalation

log = logging.getLogger(__name__)
STAFF_LOCK_SECONDS = 5.0  # beyond this, go on without the staff member's lock rather than wait forever


def shown_name(person: Person) -> str:
    return person.name or str(person.telegram_id)


def joined(notice: str, view: View) -> View:
    return View(f"{notice}\n\n{view.text}", view.keyboard)


class Desk:
    """Everything an escalation shows in Telegram. Built per use from the dispatcher and the bot."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot) -> None:
        self.dp = dispatcher
        self.bot = bot
        self.service: EscalationService = dispatcher["escalations"]
        self.moments: MomentService = dispatcher["moments"]
        self.screens: Screens = dispatcher["screens"]
        self.r = self.screens.r

    # ---- the staff member asks -------------------------------------------------------------------

    async def ask(self, query: CallbackQuery, state: FSMContext, person: Person, token: str) -> None:
        lang = person.language
        result = await self.moments.act(person, await load_flow(state), conv.AskLead(), token=token)
        if result.flow is None or result.playbook is None or isinstance(result.screen, conv.Expired):
            await query.answer(self.r.t("alert.expired", lang), show_alert=True)
            return
        playbook, flow, flow_rules = result.playbook, result.flow, result.rules
        shown_in = query.message.message_id if query.message else None
        chat_id = query.message.chat.id if query.message else query.from_user.id
        opened = await self.service.open(person, playbook, flow, chat_id=chat_id, message_id=shown_in)
        if opened is None:  # nobody to ask: say so now, and let them decide
            await self._back_to_staff(query, state, person, playbook, conv.return_to_asked(flow), shown_in)
            return
        escalation = opened.escalation
        assert escalation.id is not None
        flow.escalation_id = escalation.id
        await self._save(state, flow, shown_in)
        jobs.schedule_escalation_timeout(escalation.id, escalation.due_at)
        await query.answer()
        asked = [shown_name(p) for p in opened.recipients]
        view = self._waiting_view(person, playbook, flow, flow_rules, asked, self._seconds(escalation))
        message_id = await edit_or_send(query, view)
        if message_id != shown_in:
            await self._save(state, flow, message_id)
            await self.service.update_waiting(escalation.id, staff_message_id=message_id)
        case = await self.service.case(escalation.id)
        assert case is not None
        delivered = 0
        for lead in opened.recipients:
            try:
                sent = await self.bot.send_message(lead.telegram_id, self._case_text(case, lead),
                                                   reply_markup=lead_keyboard(self.r, lead.language, escalation.id))
            except TelegramAPIError as exc:
                log.info("escalation %s: cannot reach %s (%s)", escalation.id, lead.telegram_id, exc)
                continue
            await self.service.add_notice(escalation.id, lead.user_id, sent.chat.id, sent.message_id)
            delivered += 1
        if delivered == 0 and await self.service.withdraw(escalation.id) is not None:
            jobs.cancel_escalation_timeout(escalation.id)
            flow = conv.return_to_asked(flow)
            await self._save(state, flow, message_id)
            view = self._flow_view(person, playbook, flow, notice=self._notice("nobody", lang))
            new_id = await self._edit(chat_id, message_id, view)
            if new_id != message_id:
                await self._save(state, flow, new_id)

    async def _back_to_staff(self, query: CallbackQuery, state: FSMContext, person: Person, playbook: Playbook,
                             flow: conv.Flow, shown_in: int | None) -> None:
        await self._save(state, flow, shown_in)
        await query.answer()
        view = self._flow_view(person, playbook, flow, notice=self._notice("nobody", person.language))
        message_id = await edit_or_send(query, view)
        if message_id != shown_in:
            await self._save(state, flow, message_id)

    async def note(self, message: Message, state: FSMContext, person: Person) -> None:
        """A line typed while waiting: it goes to the leads' copies."""
        flow_data = await load_flow(state)
        result = await self.moments.act(person, flow_data, conv.TextInput(message.text or ""))
        flow, playbook, screen = result.flow, result.playbook, result.screen
        if flow is None or playbook is None or not isinstance(screen, conv.WaitingScreen) \
                or flow.escalation_id is None:
            await reply(message, self.screens.simple("expired.html.j2", person.language))
            return
        case = await self.service.case(flow.escalation_id)
        if case is None:
            await reply(message, self.screens.simple("expired.html.j2", person.language))
            return
        if screen.error is None and not await self.service.update_waiting(case.escalation.id, note=flow.note):
            await self._settled_meanwhile(case.escalation.id, state)
            return
        previous = (flow_data or {}).get("message_id")
        await self._save(state, flow, previous)
        asked = [shown_name(lead) for _, lead in case.notices]
        view = self._waiting_view(person, playbook, flow, result.rules, asked, self._seconds(case.escalation),
                                  screen=screen)
        message_id = await reply(message, view)
        await self._save(state, flow, message_id)
        await self.service.update_waiting(case.escalation.id, staff_message_id=message_id)
        if previous and previous != message_id:
            await drop_keyboard(self.bot, message.chat.id, previous)
        if screen.error is None:
            updated = await self.service.case(case.escalation.id)
            if updated is not None:
                await self._show_to_leads(updated)

    async def withdraw(self, query: CallbackQuery, state: FSMContext, person: Person, token: str,
                       leave: bool) -> None:
        """Decide myself (back where I asked from) or leave the playbook: the leads' copies say so."""
        lang = person.language
        flow_data = await load_flow(state)
        waiting = (flow_data or {}).get("stage") == conv.Stage.WAITING.value
        escalation_id = (flow_data or {}).get("escalation_id")
        if not waiting or (flow_data or {}).get("token") != token:
            await query.answer(self.r.t("alert.expired", lang), show_alert=True)
            return
        withdrawn: Case | None = None
        if escalation_id is not None:
            withdrawn = await self.service.withdraw(escalation_id)
            if withdrawn is None:  # an answer came first: show it
                await self._settled_meanwhile(escalation_id, state, query)
                return
            jobs.cancel_escalation_timeout(escalation_id)
        action: conv.Action = conv.Cancel() if leave else conv.Withdraw()
        result = await self.moments.act(person, flow_data, action, token=token)
        shown_in = query.message.message_id if query.message else None
        if result.flow is None or result.playbook is None:
            await save_flow(state, None)
            view = self.screens.simple("cancelled.html.j2", lang)
        else:
            await self._save(state, result.flow, shown_in)
            view = self._flow_view(person, result.playbook, result.flow, notice=self._notice("cancelled", lang))
        await query.answer()
        message_id = await edit_or_send(query, view)
        if result.flow is not None and message_id != shown_in:
            await self._save(state, result.flow, message_id)
        if withdrawn is not None:
            await self._show_to_leads(withdrawn)

    async def abandon(self, state: FSMContext) -> None:
        """The person left the flow another way (/start, /cancel) while a lead was asked: close the question,
        so leads are not left answering someone who no longer waits."""
        flow_data = await load_flow(state) or {}
        escalation_id = flow_data.get("escalation_id")
        if flow_data.get("stage") != conv.Stage.WAITING.value or escalation_id is None:
            return
        withdrawn = await self.service.withdraw(escalation_id)
        if withdrawn is not None:
            jobs.cancel_escalation_timeout(escalation_id)
            await self._show_to_leads(withdrawn)

    async def _settled_meanwhile(self, escalation_id: int, state: FSMContext,
                                 query: CallbackQuery | None = None) -> None:
        """The staff member acted on a question that was answered (or timed out) a moment ago."""
        case = await self.service.case(escalation_id)
        if case is None or case.resolution is None:
            if query is not None:
                await query.answer()
            return
        if query is not None:
            key = "escalation.alert.timed_out_first" if case.status is Status.TIMEOUT else \
                "escalation.alert.answered_first"
            await query.answer(self.r.t(key, case.staff.language, name=case.answered_by or ""), show_alert=True)
        await self._show_to_staff(case, state)

    # ---- a lead answers ----------------------------------------------------------------------------

    async def answer(self, query: CallbackQuery, lead: Person, escalation_id: int, status: Status) -> None:
        lang = lead.language
        checked = await self.service.check(lead, escalation_id)
        if checked is None:
            await query.answer(self.r.t("escalation.alert.gone", lang), show_alert=True)
            return
        if checked.refused:
            await query.answer(self._refusal(checked, lang), show_alert=True)
            return
        async with self._staff_lock(checked):
            staff_state = self._staff_state(checked)
            if not await self._waiting_on(staff_state, checked):
                # They left the playbook (/cancel, /start) while waiting: nobody waits for this answer.
                withdrawn = await self.service.withdraw(escalation_id)
                if withdrawn is not None:
                    jobs.cancel_escalation_timeout(escalation_id)
                    await query.answer(self._refusal(withdrawn, lang, "withdrawn"), show_alert=True)
                    await self._show_to_leads(withdrawn)
                    return
            case = await self.service.answer(lead, escalation_id, status)
            if case is None:
                await query.answer(self.r.t("escalation.alert.gone", lang), show_alert=True)
                return
            if case.refused:
                await query.answer(self._refusal(case, lang), show_alert=True)
                return
            jobs.cancel_escalation_timeout(escalation_id)
            await query.answer(self.r.t(f"escalation.alert.{status.value}", lang, name=shown_name(case.staff)))
            await self._show_to_staff(case, staff_state)
        await self._show_to_leads(case)

    def _refusal(self, case: Case, lang: str, reason: str | None = None) -> str:
        reason = reason or case.refused or "answered"
        name = case.answered_by if reason == "answered" else shown_name(case.staff)
        return self.r.t(f"escalation.alert.{reason}", lang, name=name or "")

    # ---- nobody answered in time -------------------------------------------------------------------

    async def time_out(self, escalation_id: int, now: datetime | None = None) -> bool:
        """Settle one escalation whose time ran out, once; True when this call did it."""
        moment = now or self.service.now()
        case = await self.service.case(escalation_id)
        if case is None or case.status is not Status.PENDING or case.escalation.due_at > moment:
            return False
        async with self._staff_lock(case):
            staff_state = self._staff_state(case)
            if not await self._waiting_on(staff_state, case):
                withdrawn = await self.service.withdraw(escalation_id)
                if withdrawn is not None:
                    await self._show_to_leads(withdrawn)
                return False
            settled = await self.service.time_out(escalation_id, moment)
            if settled is None:
                return False
            log.info("escalation %s: nobody answered in time; decision %s", escalation_id,
                     settled.decision.id if settled.decision else None)
            await self._show_to_staff(settled, staff_state)
        await self._show_to_leads(settled)
        return True

    async def run_due(self, now: datetime | None = None) -> int:
        """Settle every escalation due by `now`: what the timer does, callable from tests and at start."""
        moment = now or self.service.now()
        settled = 0
        for escalation_id in await self.service.due(moment):
            settled += await self.time_out(escalation_id, moment)
        return settled

    async def sweep(self, now: datetime | None = None) -> int:
        """At start: settle what fell due while the bot was down; make sure every other one has its timer."""
        settled = await self.run_due(now)
        if settled:
            log.info("settled %d escalation(s) that fell due while the bot was down", settled)
        for escalation_id, due_at in await self.service.pending():
            jobs.schedule_escalation_timeout(escalation_id, due_at)
        return settled

    # ---- showing -----------------------------------------------------------------------------------

    async def _show_to_staff(self, case: Case, staff_state: FSMContext) -> None:
        """The answer, in the staff member's flow message; their flow moves on (if they still wait on it)."""
        resolution = case.resolution
        assert resolution is not None
        escalation, staff = case.escalation, case.staff
        waiting_here = await self._waiting_on(staff_state, case)
        notice = self._staff_notice(case)
        flow: conv.Flow | None = None
        if resolution.decided:
            if waiting_here:
                await save_flow(staff_state, None)
            view = joined(notice, self.screens.confirmed(staff.language, case.playbook, case.decision)) \
                if case.decision is not None else View(notice, self.screens.main_menu_keyboard(staff.language))
        elif waiting_here:
            flow = resolution.flow
            await self._save(staff_state, flow, escalation.staff_message_id)
            view = self._flow_view(staff, case.playbook, flow, notice=notice)
        else:
            view = View(notice)
        message_id = await self._edit(escalation.staff_chat_id, escalation.staff_message_id, view)
        if flow is not None and message_id is not None and message_id != escalation.staff_message_id:
            await self._save(staff_state, flow, message_id)

    async def _show_to_leads(self, case: Case) -> None:
        """Every lead's copy says how it ended (or shows the latest note while it waits)."""
        pending = case.status is Status.PENDING
        for notice, lead in case.notices:
            keyboard = lead_keyboard(self.r, lead.language, notice.escalation_id) if pending else None
            try:
                await self.bot.edit_message_text(text=self._case_text(case, lead), chat_id=notice.chat_id,
                                                 message_id=notice.message_id, reply_markup=keyboard)
            except TelegramAPIError as exc:
                if "not modified" not in str(exc):
                    log.info("escalation %s: cannot update the copy of %s (%s)", notice.escalation_id,
                             notice.chat_id, exc)

    async def _edit(self, chat_id: int, message_id: int | None, view: View) -> int | None:
        """Edit a message of another chat in place; send a new one when that fails. The id showing it."""
        if message_id is not None:
            try:
                await self.bot.edit_message_text(text=view.text, chat_id=chat_id, message_id=message_id,
                                                 reply_markup=view.keyboard)
                return message_id
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return message_id
                log.info("cannot edit message %s in %s (%s): sending a new one", message_id, chat_id, exc.message)
            except TelegramAPIError as exc:
                log.info("cannot edit message %s in %s (%s)", message_id, chat_id, exc)
                return None
        try:
            sent = await self.bot.send_message(chat_id, view.text, reply_markup=view.keyboard)
        except TelegramAPIError as exc:
            log.info("cannot write to %s (%s)", chat_id, exc)
            return None
        return sent.message_id

    def _case_text(self, case: Case, lead: Person) -> str:
        escalation, playbook, waiting, staff = case.escalation, case.playbook, case.waiting, case.staff
        lang = lead.language
        decimals = currency_decimals(escalation.currency)
        proposed = rules.proposal(playbook, waiting)
        stuck = None
        if waiting.asked_from is conv.Stage.STEP:
            step = conv.current_step(playbook, waiting)
            stuck = step.ask.get(lang) if step else None
        ahead, ahead_limit = self._ahead(case, lang)
        return self.r.render(
            "escalation_case.html.j2", lang, currency=escalation.currency, staff=shown_name(staff), team=staff.team,
            reason=escalation.reason, title=playbook.title.get(lang), path=rules.path_labels(playbook, waiting, lang),
            stuck=stuck, proposal=proposed.title.get(lang) if proposed else waiting.taken_text,
            amount=from_minor(escalation.amount_minor, decimals) if escalation.amount_minor is not None else None,
            staff_limit=self.service.limit_of(playbook, staff.role, staff.team_limits),
            lead_limit=self.service.limit_of(playbook, lead.role, staff.team_limits),
            note=escalation.note, status=escalation.status, by=case.answered_by or "", ahead=ahead,
            ahead_limit=ahead_limit, seconds=self._seconds(escalation))

    def _ahead(self, case: Case, lang: str) -> tuple[str, object]:
        """What went ahead (the outcome, or the action staff wrote) and, on timeout, the money ceiling."""
        resolution = case.resolution
        if resolution is None:
            return "", None
        outcome = resolution.outcome
        title = outcome.title.get(lang) if outcome else (resolution.flow.taken_text or "")
        limit = None
        if resolution.limit_minor is not None and (outcome is None or outcome.money):
            limit = from_minor(resolution.limit_minor, currency_decimals(case.escalation.currency))
        return title, limit

    def _staff_notice(self, case: Case) -> str:
        lang = case.staff.language
        ahead, limit = self._ahead(case, lang)
        return self._notice(case.status.value, lang, by=case.answered_by or "", ahead=ahead, limit=limit,
                            seconds=self._seconds(case.escalation), currency=case.escalation.currency)

    def _notice(self, kind: str, lang: str, **context: object) -> str:
        values = {"by": "", "ahead": "", "limit": None, "seconds": 0, "currency": self.r.currency, **context}
        return self.r.render("escalation_staff.html.j2", lang, kind=kind, **values)

    def _flow_view(self, person: Person, playbook: Playbook, flow: conv.Flow, notice: str = "") -> View:
        flow_rules = self.moments.rules_for(playbook, person)
        view = self.screens.flow(person.language, playbook, flow, conv.screen_for(playbook, flow, flow_rules),
                                 flow_rules, person.currency)
        return joined(notice, view) if notice else view

    def _waiting_view(self, person: Person, playbook: Playbook, flow: conv.Flow, flow_rules: conv.Rules | None,
                      asked: list[str], seconds: int, screen: conv.WaitingScreen | None = None) -> View:
        flow_rules = flow_rules or self.moments.rules_for(playbook, person)
        if screen is None:
            shown = conv.screen_for(playbook, flow, flow_rules)
            screen = shown if isinstance(shown, conv.WaitingScreen) else conv.WaitingScreen(flow.over_limit, None)
        proposed = rules.proposal(playbook, flow)
        return self.screens.waiting(person.language, playbook, flow, screen, flow_rules, person.currency, asked=asked,
                                    seconds=seconds,
                                    proposal=proposed.title.get(person.language) if proposed else flow.taken_text)

    @staticmethod
    def _seconds(escalation: Escalation) -> int:
        return max(1, round((escalation.due_at - escalation.created_at).total_seconds()))

    # ---- the staff member's conversation, from outside their chat ---------------------------------

    def _staff_key(self, case: Case) -> StorageKey:
        return StorageKey(bot_id=self.bot.id, chat_id=case.escalation.staff_chat_id, user_id=case.staff.telegram_id)

    def _staff_state(self, case: Case) -> FSMContext:
        return FSMContext(storage=self.dp.storage, key=self._staff_key(case))

    @contextlib.asynccontextmanager
    async def _staff_lock(self, case: Case) -> AsyncIterator[None]:
        """Hold the staff member's event lock while their state changes from here."""
        stack = contextlib.AsyncExitStack()
        try:
            await asyncio.wait_for(stack.enter_async_context(self.dp.fsm.events_isolation.lock(self._staff_key(case))),
                                   STAFF_LOCK_SECONDS)
        except TimeoutError:
            log.warning("escalation %s: the staff member's updates are busy; going on", case.escalation.id)
        try:
            yield
        finally:
            await stack.aclose()

    @staticmethod
    async def _waiting_on(staff_state: FSMContext, case: Case) -> bool:
        data = await load_flow(staff_state) or {}
        return (data.get("token") == case.escalation.flow_token and data.get("stage") == conv.Stage.WAITING.value
                and data.get("escalation_id") in (None, case.escalation.id))

    @staticmethod
    async def _save(state: FSMContext, flow: conv.Flow, message_id: int | None) -> None:
        flow.message_id = message_id
        await save_flow(state, flow)


# ---- handlers -------------------------------------------------------------------------------------

async def ask_lead(query: CallbackQuery, callback_data: FlowCb, state: FSMContext, person: Person,
                   dispatcher: Dispatcher, bot: Bot) -> None:
    await Desk(dispatcher, bot).ask(query, state, person, callback_data.token)


async def decide_myself(query: CallbackQuery, callback_data: FlowCb, state: FSMContext, person: Person,
                        dispatcher: Dispatcher, bot: Bot) -> None:
    await Desk(dispatcher, bot).withdraw(query, state, person, callback_data.token, leave=False)


async def leave_while_waiting(query: CallbackQuery, callback_data: FlowCb, state: FSMContext, person: Person,
                              dispatcher: Dispatcher, bot: Bot) -> None:
    await Desk(dispatcher, bot).withdraw(query, state, person, callback_data.token, leave=True)


async def note_for_lead(message: Message, state: FSMContext, person: Person, dispatcher: Dispatcher,
                        bot: Bot) -> None:
    await Desk(dispatcher, bot).note(message, state, person)


async def lead_answers(query: CallbackQuery, callback_data: LeadCb, person: Person, dispatcher: Dispatcher,
                       bot: Bot) -> None:
    await Desk(dispatcher, bot).answer(query, person, callback_data.escalation, STATUS[callback_data.answer])


async def duty(message: Message, command: CommandObject, person: Person, escalations: EscalationService,
               screens: Screens) -> None:
    """/duty switches; /duty on, /duty off set. Those on duty get their team's questions first."""
    word = (command.args or "").strip().lower()
    wanted = True if word == "on" else False if word == "off" else None
    on_duty, team = await escalations.set_duty(person, wanted)
    await reply(message, screens.simple("escalation_duty.html.j2", person.language, with_menu=False,
                                        on_duty=on_duty, names=[shown_name(p) for p in team]))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="escalation")
    r.message.register(duty, Command("duty"), flags=needs(Permission.ANSWER_ESCALATIONS))
    r.callback_query.register(lead_answers, LeadCb.filter(), flags=needs(Permission.ANSWER_ESCALATIONS))
    r.callback_query.register(ask_lead, FlowCb.filter(F.action == FlowAction.ASK))
    r.callback_query.register(decide_myself, FlowCb.filter(F.action == FlowAction.WITHDRAW))
    r.callback_query.register(leave_while_waiting, StateFilter(Moment.waiting),
                              FlowCb.filter(F.action == FlowAction.CANCEL))
    r.message.register(note_for_lead, StateFilter(Moment.waiting), F.text, ~F.text.startswith("/"))
    return r
