"""The customer moment: free text → playbook → questions → outcome → what was done."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.core import conversation as conv
from bot.core.moments import MomentService, Result
from bot.core.people import Person
from bot.handlers.states import TEXT_INPUT_STATES, load_flow, save_flow
from bot.handlers.unmatched import keep_phrase
from bot.ui.callbacks import FlowCb, PickCb, to_action
from bot.ui.screens import Screens, View
from bot.ui.send import drop_keyboard, edit_or_send, reply


def _view(result: Result, person: Person, screens: Screens) -> View:
    lang = person.language
    if result.decision is not None:
        return screens.confirmed(lang, result.playbook, result.decision)
    if result.trial:
        return screens.simple("authoring_trial_done.html.j2", lang)
    if isinstance(result.screen, conv.Cancelled):
        return screens.simple("cancelled.html.j2", lang)
    if result.playbook is None or isinstance(result.screen, conv.Expired):
        return screens.simple("expired.html.j2", lang)
    return screens.flow(lang, result.playbook, result.flow, result.screen, result.rules, person.currency)


async def _remember(state: FSMContext, result: Result, message_id: int | None) -> None:
    """Persist the flow before the person sees its next screen: a crash after this loses nothing."""
    if result.flow is not None:
        result.flow.message_id = message_id
    await save_flow(state, result.flow)


async def typed_answer(message: Message, state: FSMContext, person: Person, moments: MomentService,
                       screens: Screens) -> None:
    """Amount, note or 'what I did' typed while the flow waits for exactly that."""
    flow_data = await load_flow(state)
    result = await moments.act(person, flow_data, conv.TextInput(message.text or ""))
    previous = (flow_data or {}).get("message_id")
    view = _view(result, person, screens)
    await _remember(state, result, previous)
    message_id = await reply(message, view)
    if result.flow is not None:
        await _remember(state, result, message_id)  # the new message is now the flow's
    if previous and previous != message_id:
        await drop_keyboard(message.bot, message.chat.id, previous)


async def describe_moment(message: Message, state: FSMContext, person: Person, moments: MomentService,
                          screens: Screens) -> None:
    """Free text: offer the best playbooks, or start the clear winner at once."""
    query = (message.text or "").strip()
    matcher = moments.catalog.matcher
    matches = matcher.search(query)
    winner = matcher.clear_winner(matches, query)
    if winner is not None:
        result = await moments.begin(person, winner.playbook_id)
        await _remember(state, result, None)
        await _remember(state, result, await reply(message, _view(result, person, screens)))
        return
    playbooks = [p for m in matches if (p := moments.catalog.live(m.playbook_id)) is not None]
    # Kept for /unmatched: what no playbook covered, or an offer whose "None of these" may be pressed.
    phrase_id = await keep_phrase(moments.db, person, query, offered=bool(playbooks))
    await reply(message, screens.matches(person.language, query[:200], playbooks, phrase_id))


async def pick_playbook(query: CallbackQuery, callback_data: PickCb, state: FSMContext, person: Person,
                        moments: MomentService, screens: Screens) -> None:
    result = await moments.begin(person, callback_data.playbook)
    if result.flow is None:
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    view = _view(result, person, screens)
    shown_in = query.message.message_id if query.message else None
    await _remember(state, result, shown_in)
    await query.answer()
    message_id = await edit_or_send(query, view)
    if message_id != shown_in:
        await _remember(state, result, message_id)


async def press(query: CallbackQuery, callback_data: FlowCb, state: FSMContext, person: Person,
                moments: MomentService, screens: Screens) -> None:
    action = to_action(callback_data)
    flow_data = await load_flow(state)
    if action is None:
        result = Result(None, None, conv.Expired())
    else:
        # The decision, when this press completes one, is committed inside act(), before anything is sent.
        result = await moments.act(person, flow_data, action, token=callback_data.token)
    if isinstance(result.screen, conv.Expired):
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    view = _view(result, person, screens)
    shown_in = query.message.message_id if query.message else None
    # All work is done before the first reply, so the answer and the edit reach the person together,
    # and the state is saved first, so a crash right after the edit loses nothing.
    await _remember(state, result, shown_in)
    await query.answer()
    message_id = await edit_or_send(query, view)
    if result.flow is not None and message_id != shown_in:
        await _remember(state, result, message_id)


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="moment")
    r.message.register(typed_answer, StateFilter(*TEXT_INPUT_STATES), F.text, ~F.text.startswith("/"))
    r.message.register(describe_moment, F.text, ~F.text.startswith("/"))
    r.callback_query.register(pick_playbook, PickCb.filter())
    r.callback_query.register(press, FlowCb.filter())
    return r
