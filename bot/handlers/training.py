"""Micro-training: /train, answers and "How sure were you?", /progress (pause, resume), /results and /push."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.chat_member_updated import JOIN_TRANSITION, LEAVE_TRANSITION, ChatMemberUpdatedFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.core.catalog import Catalog
from bot.core.moments import MomentService
from bot.core.people import Person
from bot.core.roles import Permission
from bot.core.training.card import Card
from bot.core.training.service import TrainingService
from bot.handlers.states import save_flow
from bot.permissions import needs
from bot.ui import training as ui
from bot.ui.callbacks import TrainAction, TrainCb
from bot.ui.screens import Screens, View
from bot.ui.send import edit_or_send, reply
from storage import deliveries
from storage import training as store
from storage.db import Database
from storage.types import utcnow


async def _practice(bot: Bot, person: Person, training: TrainingService, screens: Screens, slot: str,
                    exclude: tuple[str, ...] = ()) -> None:
    """Send one practice card now. It is a delivery like any other (claimed, then marked sent), so an
    answer to it counts and updates the person's memory."""
    job = await training.practice(person, slot, exclude)
    if job is None:
        view = screens.simple("training_none.html.j2", person.language)
        await bot.send_message(person.telegram_id, view.text, reply_markup=view.keyboard)
        return
    card = await training.card(job.card_id)
    assert card is not None
    view = ui.card_view(screens, person.language, card, job.id, job.kind)
    sent = await bot.send_message(person.telegram_id, view.text, reply_markup=view.keyboard)
    await deliveries.mark_sent(training.db, job.id, sent.message_id, utcnow())


async def train_command(message: Message, bot: Bot, person: Person, training: TrainingService,
                        screens: Screens) -> None:
    await _practice(bot, person, training, screens, f"train:m{message.message_id}")


async def answer_button(query: CallbackQuery, callback_data: TrainCb, person: Person, training: TrainingService,
                        screens: Screens, catalog: Catalog) -> None:
    answered = await training.answer(person, callback_data.delivery, callback_data.value)
    if answered.status == "unknown":
        await query.answer(screens.r.t("training.unknown", person.language), show_alert=True)
        return
    await query.answer()
    await edit_or_send(query, ui.answer_view(screens, person.language, answered, catalog))


async def sure_button(query: CallbackQuery, callback_data: TrainCb, person: Person, training: TrainingService,
                      screens: Screens, catalog: Catalog) -> None:
    answered = await training.set_confidence(person, callback_data.delivery, callback_data.value)
    if answered.status == "unknown" or answered.card is None:
        await query.answer(screens.r.t("training.unknown", person.language), show_alert=True)
        return
    await query.answer(screens.r.t("training.noted", person.language))
    await edit_or_send(query, ui.answer_view(screens, person.language, answered, catalog))


async def walk_button(query: CallbackQuery, callback_data: TrainCb, state: FSMContext, person: Person,
                      moments: MomentService, screens: Screens) -> None:
    """The card's playbook as a trial: the same screens as on the floor, nothing recorded."""
    playbook = moments.catalog.live(callback_data.ref)
    if playbook is None or query.message is None:
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    result = await moments.begin_trial(person, playbook)
    assert result.flow is not None
    await query.answer()
    lang = person.language
    await query.message.answer(screens.r.render("training_walk.html.j2", lang, title=playbook.title.get(lang)))
    view = screens.flow(lang, playbook, result.flow, result.screen, result.rules, person.currency)
    await save_flow(state, result.flow)
    sent = await query.message.answer(view.text, reply_markup=view.keyboard)
    result.flow.message_id = sent.message_id
    await save_flow(state, result.flow)


async def next_button(query: CallbackQuery, bot: Bot, person: Person, training: TrainingService,
                      screens: Screens) -> None:
    await query.answer()
    await _practice(bot, person, training, screens, f"train:q{query.id}"[:48])


async def _progress(person: Person, training: TrainingService, screens: Screens, catalog: Catalog) -> View:
    figures = await training.progress(person)
    return ui.progress_view(screens, person.language, figures, catalog, person.can(Permission.DIGESTS))


async def progress_command(message: Message, person: Person, training: TrainingService, screens: Screens,
                           catalog: Catalog) -> None:
    await reply(message, await _progress(person, training, screens, catalog))


async def pause_button(query: CallbackQuery, callback_data: TrainCb, person: Person, training: TrainingService,
                       screens: Screens, catalog: Catalog) -> None:
    paused = callback_data.action == TrainAction.PAUSE
    await training.pause(person, paused)
    await query.answer(screens.r.render("training_paused.html.j2", person.language, paused=paused)[:200])
    await edit_or_send(query, await _progress(person, training, screens, catalog))


async def _results(person: Person, training: TrainingService, screens: Screens) -> View:
    if person.team_id is None:
        return View(screens.r.t("training.no_team", person.language))
    rows = await training.team_results(person.team_id)
    return ui.results_view(screens, person.language, person.team or "", rows, person.timezone, 30)


async def results_command(message: Message, person: Person, training: TrainingService, screens: Screens) -> None:
    await reply(message, await _results(person, training, screens))


async def results_button(query: CallbackQuery, person: Person, training: TrainingService, screens: Screens) -> None:
    await query.answer()
    await edit_or_send(query, await _results(person, training, screens))


def _push_options(training: TrainingService, lang: str, catalog: Catalog) -> list[tuple[str, str, int]]:
    """Each live playbook (all its cards, named by its first card's id) and each authored card."""
    options: list[tuple[str, str, int]] = []
    by_playbook: dict[str, list[Card]] = {}
    for card in training.cards():
        if card.playbook_id:  # generated, and authored cards about that playbook
            by_playbook.setdefault(card.playbook_id, []).append(card)
    for playbook_id, cards in by_playbook.items():
        playbook = catalog.live(playbook_id)
        options.append(("P" + cards[0].id, playbook.title.get(lang) if playbook else playbook_id, len(cards)))
    for card in training.cards():
        if card.source != "playbook":
            options.append(("C" + card.id, (card.title or card.question).get(lang), 1))
    return options


def _cards_for_ref(training: TrainingService, ref: str) -> list[Card]:
    kind, card_id = ref[:1], ref[1:]
    found = [card for card in training.cards() if card.id == card_id]
    if kind == "P" and found and found[0].playbook_id:
        return training.cards_of_playbook(found[0].playbook_id)
    return found if kind == "C" else []


async def _push(bot: Bot, person: Person, training: TrainingService, screens: Screens, cards: list[Card],
                fanout: object | None) -> View:
    assert person.team_id is not None
    people, added = await training.push(person.team_id, [card.id for card in cards])
    if fanout is not None:
        fanout.wake()  # type: ignore[attr-defined]
    return screens.simple("training_pushed.html.j2", person.language, cards=len(cards), people=people, added=added,
                          team=person.team or "")


async def push_command(message: Message, command: CommandObject, bot: Bot, person: Person,
                       training: TrainingService, screens: Screens, catalog: Catalog,
                       fanout: object | None = None) -> None:
    lang = person.language
    if person.team_id is None:
        await reply(message, View(screens.r.t("training.no_team", lang)))
        return
    ref = (command.args or "").strip()
    if not ref:
        await reply(message, ui.push_menu(screens, lang, person.team or "", _push_options(training, lang, catalog)))
        return
    cards = training.find(ref)
    if not cards:
        await reply(message, View(screens.r.t("training.no_cards", lang, ref=ref[:64])))
        return
    await reply(message, await _push(bot, person, training, screens, cards, fanout))


async def push_button(query: CallbackQuery, callback_data: TrainCb, bot: Bot, person: Person,
                      training: TrainingService, screens: Screens, fanout: object | None = None) -> None:
    cards = _cards_for_ref(training, callback_data.ref)
    if not cards or person.team_id is None:
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    await query.answer()
    await edit_or_send(query, await _push(bot, person, training, screens, cards, fanout))


async def blocked(event: ChatMemberUpdated, db: Database) -> None:
    """The person blocked the bot: no refreshers until they come back (sending would only fail)."""
    await store.set_reachable(db, event.from_user.id, utcnow())


async def came_back(event: ChatMemberUpdated, db: Database) -> None:
    await store.set_reachable(db, event.from_user.id, None)


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="training")
    take = {"flags": needs(Permission.TRAINING)}
    r.message.register(train_command, Command("train"), **take)
    r.message.register(progress_command, Command("progress"), **take)
    r.message.register(results_command, Command("results"), flags=needs(Permission.DIGESTS))
    r.message.register(push_command, Command("push"), flags=needs(Permission.PUSH_TRAINING))
    r.callback_query.register(answer_button, TrainCb.filter(F.action == TrainAction.ANSWER), **take)
    r.callback_query.register(sure_button, TrainCb.filter(F.action == TrainAction.SURE), **take)
    r.callback_query.register(walk_button, TrainCb.filter(F.action == TrainAction.WALK), **take)
    r.callback_query.register(next_button, TrainCb.filter(F.action == TrainAction.NEXT), **take)
    r.callback_query.register(pause_button, TrainCb.filter(F.action.in_({TrainAction.PAUSE, TrainAction.RESUME})),
                              **take)
    r.callback_query.register(results_button, TrainCb.filter(F.action == TrainAction.RESULTS),
                              flags=needs(Permission.DIGESTS))
    r.callback_query.register(push_button, TrainCb.filter(F.action == TrainAction.PUSH),
                              flags=needs(Permission.PUSH_TRAINING))
    r.my_chat_member.register(blocked, ChatMemberUpdatedFilter(LEAVE_TRANSITION))
    r.my_chat_member.register(came_back, ChatMemberUpdatedFilter(JOIN_TRANSITION))
    return r
