"""Training screens: the card, the answer with the why, progress, team results and the push menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.catalog import Catalog
from bot.core.training.card import Card
from bot.core.training.service import Answered, PersonResult, Progress
from bot.ui.callbacks import MenuAction, MenuCb, TrainAction, TrainCb
from bot.ui.render import local_time
from bot.ui.screens import Screens, View

if TYPE_CHECKING:
    from bot.app import App
    from bot.fanout import Outgoing
    from storage.deliveries import DeliveryJob

LETTERS = "ABCD"
BUTTON_CHARS = 48  # longer choices are cut on the button; the message shows them whole


def _short(text: str, limit: int = BUTTON_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card_view(screens: Screens, lang: str, card: Card, delivery_id: int, kind: str = "scheduled") -> View:
    kb = InlineKeyboardBuilder()
    for index, choice in enumerate(card.choices):
        kb.button(text=f"{LETTERS[index]} · {_short(choice.text.get(lang))}",
                  callback_data=TrainCb(action=TrainAction.ANSWER, delivery=delivery_id, value=index))
    kb.adjust(1)
    text = screens.r.render(
        "training_card.html.j2", lang, title=card.title.get(lang), scenario=card.scenario.get(lang),
        facts=[(fact.ask.get(lang), fact.answer.get(lang)) for fact in card.facts],
        question=card.question.get(lang),
        choices=[(LETTERS[i], choice.text.get(lang)) for i, choice in enumerate(card.choices)], kind=kind)
    return View(text, kb.as_markup())


def answer_view(screens: Screens, lang: str, answered: Answered, catalog: Catalog) -> View:
    card = answered.card
    assert card is not None
    right = card.correct_index
    kb = InlineKeyboardBuilder()
    levels = ("guessed", "fairly", "sure")
    for level, name in enumerate(levels):
        label = screens.r.t(f"training.sure.{name}", lang)
        if answered.confidence == name:
            label = f"• {label} •"
        kb.button(text=label, callback_data=TrainCb(action=TrainAction.SURE, delivery=answered.delivery_id,
                                                    value=level))
    widths = [3]
    playbook = catalog.live(card.playbook_id) if card.playbook_id else None
    if playbook is not None:
        kb.button(text=screens.r.t("training.walk", lang),
                  callback_data=TrainCb(action=TrainAction.WALK, ref=playbook.id))
        widths.append(1)
    kb.button(text=screens.r.t("training.another", lang), callback_data=TrainCb(action=TrainAction.NEXT))
    kb.button(text=screens.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
    widths.append(2)
    kb.adjust(*widths)
    text = screens.r.render(
        "training_answer.html.j2", lang, correct=answered.correct, again=answered.status == "again",
        chosen=(LETTERS[answered.choice], card.choices[answered.choice].text.get(lang)),
        right=(LETTERS[right], card.choices[right].text.get(lang)), why=card.why.get(lang),
        question=card.question.get(lang), title=card.title.get(lang),
        playbook=playbook.title.get(lang) if playbook is not None else None, confidence=answered.confidence)
    return View(text, kb.as_markup())


def progress_view(screens: Screens, lang: str, figures: Progress, catalog: Catalog, can_see_team: bool) -> View:
    kb = InlineKeyboardBuilder()
    kb.button(text=screens.r.t("training.train_now", lang), callback_data=TrainCb(action=TrainAction.NEXT))
    if figures.paused:
        kb.button(text=screens.r.t("training.resume", lang), callback_data=TrainCb(action=TrainAction.RESUME))
    else:
        kb.button(text=screens.r.t("training.pause", lang), callback_data=TrainCb(action=TrainAction.PAUSE))
    if can_see_team:
        kb.button(text=screens.r.t("training.team_results", lang), callback_data=TrainCb(action=TrainAction.RESULTS))
    kb.button(text=screens.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
    kb.adjust(2, 1, 1) if can_see_team else kb.adjust(2, 1)
    weakest = [(_playbook_title(catalog, pid, lang), round(accuracy * 100), count)
               for pid, accuracy, count in figures.weakest]
    text = screens.r.render("training_progress.html.j2", lang, p=figures,
                            accuracy=None if figures.accuracy is None else round(figures.accuracy * 100),
                            weakest=weakest)
    return View(text, kb.as_markup())


def _playbook_title(catalog: Catalog, playbook_id: str | None, lang: str) -> str:
    playbook = catalog.live(playbook_id) if playbook_id else None
    return playbook.title.get(lang) if playbook is not None else (playbook_id or "—")


def results_view(screens: Screens, lang: str, team: str, rows: Sequence[PersonResult], timezone: str,
                 days: int) -> View:
    items = [{"name": row.name or str(row.user_id), "answered": row.answered,
              "accuracy": None if row.accuracy is None else round(row.accuracy * 100), "due": row.due,
              "last": local_time(row.last_trained, timezone, lang, "dd MMM") if row.last_trained else None}
             for row in rows]
    return screens.simple("training_results.html.j2", lang, team=team, items=items, days=days)


def push_menu(screens: Screens, lang: str, team: str, options: Sequence[tuple[str, str, int]]) -> View:
    """`options`: (ref, label, number of cards) — a playbook's cards, or one authored card."""
    kb = InlineKeyboardBuilder()
    for ref, label, count in options:
        kb.button(text=f"{_short(label, 40)} ({count})", callback_data=TrainCb(action=TrainAction.PUSH, ref=ref))
    kb.button(text=screens.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
    kb.adjust(1)
    return View(screens.r.render("training_push.html.j2", lang, team=team), kb.as_markup())


async def compose_delivery(app: App, job: DeliveryJob) -> Outgoing | None:
    """The message of one delivery, for the fan-out; None when the card or the person is gone."""
    from bot.fanout import Outgoing
    from storage import training as store

    async with app.db.session() as session:
        language = await store.language_of(session, job.user_id)
        card = await store.get_card(session, job.card_id, active_only=True)
    if card is None or language is None:
        return None
    view = card_view(app.screens, language, card, job.id, job.kind)
    return Outgoing(view.text, view.keyboard)
