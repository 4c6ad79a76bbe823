"""Turn core screens into (HTML text, inline keyboard) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot.core import conversation as conv
from bot.core.catalog import Catalog
from bot.core.money import currency_decimals, from_minor
from bot.core.people import Person
from bot.core.playbook import Playbook
from bot.core.roles import Permission
from bot.ui.callbacks import FlowAction, FlowCb, MenuAction, MenuCb, NoneCb, PickCb
from bot.ui.keyboard import Keyboard
from bot.ui.render import Renderer, local_time
from storage.models import Decision


@dataclass(frozen=True)
class View:
    text: str
    keyboard: InlineKeyboardMarkup | None = None


class Screens:
    def __init__(self, renderer: Renderer) -> None:
        self.r = renderer

    # ---- menus ---------------------------------------------------------------------------------------

    def main_menu_keyboard(self, lang: str) -> InlineKeyboardMarkup:
        kb = Keyboard()
        kb.button(text=self.r.t("menu.moment", lang), callback_data=MenuCb(action=MenuAction.MOMENT))
        kb.button(text=self.r.t("menu.history", lang), callback_data=MenuCb(action=MenuAction.HISTORY))
        kb.button(text=self.r.t("menu.help", lang), callback_data=MenuCb(action=MenuAction.HELP))
        kb.adjust(1, 2)
        return kb.as_markup()

    def home_keyboard(self, lang: str) -> InlineKeyboardMarkup:
        kb = Keyboard()
        kb.button(text=self.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
        return kb.as_markup()

    def welcome(self, lang: str, name: str) -> View:
        return View(self.r.render("welcome.html.j2", lang, name=name), self.main_menu_keyboard(lang))

    def help(self, person: Person) -> View:
        """The help, with the commands of the person's role."""
        can = {permission.name for permission in Permission if person.can(permission)}
        return self.simple("help.html.j2", person.language, can=can)

    def simple(self, template: str, lang: str, with_menu: bool = True, **context: Any) -> View:
        keyboard = self.main_menu_keyboard(lang) if with_menu else None
        return View(self.r.render(template, lang, **context), keyboard)

    def categories(self, lang: str, categories: Sequence[str]) -> View:
        kb = Keyboard()
        for category in categories:
            kb.button(text=self.category_name(category, lang),
                      callback_data=MenuCb(action=MenuAction.CATEGORY, value=category))
        kb.adjust(2)
        kb.row(*self._home_buttons(lang))
        return View(self.r.render("categories.html.j2", lang), kb.as_markup())

    def category(self, lang: str, category: str, playbooks: Sequence[Playbook]) -> View:
        return self._playbook_list("category.html.j2", lang, playbooks, category=self.category_name(category, lang),
                                   back=MenuCb(action=MenuAction.MOMENT))

    def matches(self, lang: str, query: str, playbooks: Sequence[Playbook], phrase_id: int | None = None) -> View:
        """The best playbooks for `query`; with `phrase_id` (its recorded search) a "None of these" button too."""
        if not playbooks:
            return self.no_match(lang, query)
        return self._playbook_list("matches.html.j2", lang, playbooks, query=query,
                                   browse=MenuCb(action=MenuAction.MOMENT),
                                   none_of_these=NoneCb(phrase=phrase_id) if phrase_id is not None else None)

    def no_match(self, lang: str, query: str, template: str = "no_match.html.j2") -> View:
        """Nothing fits: browse all, or the menu; never a dead end."""
        kb = Keyboard()
        kb.button(text=self.r.t("nav.browse", lang), callback_data=MenuCb(action=MenuAction.MOMENT))
        kb.row(*self._home_buttons(lang))
        return View(self.r.render(template, lang, query=query), kb.as_markup())

    def _playbook_list(self, template: str, lang: str, playbooks: Sequence[Playbook], *,
                       back: MenuCb | None = None, browse: MenuCb | None = None,
                       none_of_these: NoneCb | None = None, **context: Any) -> View:
        kb = Keyboard()
        for playbook in playbooks:
            kb.button(text=playbook.title.get(lang), callback_data=PickCb(playbook=playbook.id))
        if none_of_these is not None:
            kb.button(text=self.r.t("unmatched.none_of_these", lang), callback_data=none_of_these)
        kb.adjust(1)
        nav = Keyboard()
        if browse is not None:
            nav.button(text=self.r.t("nav.browse", lang), callback_data=browse)
        if back is not None:
            nav.button(text=self.r.t("nav.back", lang), callback_data=back)
        nav.button(text=self.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
        kb.attach(nav)
        items = [{"title": p.title.get(lang), "summary": p.summary.get(lang)} for p in playbooks]
        return View(self.r.render(template, lang, playbooks=items, **context), kb.as_markup())

    def _home_buttons(self, lang: str) -> list[Any]:
        nav = Keyboard()
        nav.button(text=self.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
        return [button for row in nav.export() for button in row]

    def category_name(self, category: str, lang: str) -> str:
        key = f"category.{category}"
        label = self.r.t(key, lang)
        return label if label != key else category.replace("-", " ").capitalize()

    # ---- the flow ------------------------------------------------------------------------------------

    def flow(self, lang: str, playbook: Playbook, flow: conv.Flow | None, screen: conv.Screen,
             rules: conv.Rules | None, currency: str) -> View:
        title = playbook.title.get(lang)
        kb = Keyboard()
        token = flow.token if flow else ""

        def button(label_key: str, action: FlowAction, step: int = 0, value: int = 0, text: str | None = None) -> None:
            kb.button(text=text or self.r.t(label_key, lang),
                      callback_data=FlowCb(token=token, action=action, step=step, value=value))

        limit = rules.limit if rules else 0
        match screen:
            case conv.StepScreen(step=step, ordinal=ordinal, number=number):
                for index, option in enumerate(step.options):
                    button("", FlowAction.ANSWER, ordinal, index, text=option.label.get(lang))
                button("escalation.ask", FlowAction.ASK)
                kb.adjust(*([2] if len(step.options) == 4 else [1]))
                self._nav(kb, token, lang, restart=number > 1)
                text = self.r.render("step.html.j2", lang, title=title, number=number, ask=step.ask.get(lang))
            case conv.OutcomeScreen(outcome=outcome):
                button("record.done", FlowAction.DONE)
                button("record.other", FlowAction.OTHER)
                button("record.escalate", FlowAction.ESCALATE)
                button("escalation.ask", FlowAction.ASK)
                kb.adjust(1, 2, 1)
                self._nav(kb, token, lang, restart=True)
                text = self.r.render("outcome.html.j2", lang, currency=currency, title=title,
                                     outcome=outcome.title.get(lang),
                                     say=outcome.say.get(lang), steps=outcome.steps.get(lang), limit=limit,
                                     principle=playbook.principle.get(lang))
            case conv.OtherScreen(choices=choices):
                for ordinal, outcome in choices:
                    button("", FlowAction.PICK, value=ordinal, text=outcome.title.get(lang)[:60])
                button("record.write", FlowAction.WRITE)
                kb.adjust(1)
                self._nav(kb, token, lang)
                text = self.r.render("other.html.j2", lang, title=title)
            case conv.OtherTextScreen(error=error):
                self._nav(kb, token, lang)
                text = self.r.render("other_text.html.j2", lang, title=title, error=error, max=conv.MAX_OTHER_TEXT)
            case conv.AmountScreen(outcome=outcome, error=error):
                button("record.no_money", FlowAction.NO_MONEY)
                self._nav(kb, token, lang)
                text = self.r.render("amount.html.j2", lang, title=title,
                                     outcome=outcome.title.get(lang) if outcome else None, error=error,
                                     currency=currency, limit=limit,
                                     decimals=rules.decimals if rules else 2)
            case conv.NoteScreen(over_limit=over_limit, amount=amount, error=error, length=length):
                if over_limit:
                    button("escalation.ask", FlowAction.ASK)
                button("record.skip", FlowAction.SKIP)
                self._nav(kb, token, lang)
                text = self.r.render("note.html.j2", lang, currency=currency, over_limit=over_limit, amount=amount,
                                     limit=limit, error=error, length=length, max=rules.note_max if rules else 0)
            case conv.ReactionScreen():
                for index, reaction in enumerate(conv.REACTIONS):
                    button(f"reaction.{reaction}", FlowAction.REACT, value=index)
                kb.adjust(3)
                kb.row()
                button("record.skip", FlowAction.SKIP)
                text = self.r.render("reaction.html.j2", lang)
            case conv.WaitingScreen():
                return self.waiting(lang, playbook, flow, screen, rules, currency)
            case _:
                return self.simple("expired.html.j2", lang)
        return View(text, kb.as_markup())

    def waiting(self, lang: str, playbook: Playbook, flow: conv.Flow | None, screen: conv.WaitingScreen,
                rules: conv.Rules | None, currency: str, *, asked: Sequence[str] = (),
                seconds: int | None = None, proposal: str | None = None) -> View:
        """A lead was asked: who, until when, and the way out (decide myself, cancel)."""
        kb = Keyboard()
        token = flow.token if flow else ""
        for key, action in (("escalation.withdraw", FlowAction.WITHDRAW), ("nav.cancel", FlowAction.CANCEL)):
            kb.button(text=self.r.t(key, lang), callback_data=FlowCb(token=token, action=action))
        text = self.r.render("escalation_waiting.html.j2", lang, currency=currency, title=playbook.title.get(lang),
                             over_limit=screen.over_limit, amount=screen.amount, limit=rules.limit if rules else 0,
                             note=screen.note, error=screen.error, length=screen.length,
                             max=rules.note_max if rules else 0, asked=list(asked), seconds=seconds,
                             proposal=proposal)
        return View(text, kb.as_markup())

    def _nav(self, kb: Keyboard, token: str, lang: str, restart: bool = False) -> None:
        row = [("nav.back", FlowAction.BACK)]
        if restart:
            row.append(("nav.restart", FlowAction.RESTART))
        row.append(("nav.cancel", FlowAction.CANCEL))
        nav = Keyboard()
        for key, action in row:
            nav.button(text=self.r.t(key, lang), callback_data=FlowCb(token=token, action=action))
        kb.row(*[button for line in nav.export() for button in line])

    def confirmed(self, lang: str, playbook: Playbook | None, decision: Decision) -> View:
        decimals = currency_decimals(decision.currency)
        taken = ""
        if playbook and decision.taken_outcome and decision.taken_outcome in playbook.outcomes:
            taken = playbook.outcomes[decision.taken_outcome].title.get(lang)
        amount = from_minor(decision.amount_minor, decimals) if decision.amount_minor is not None else None
        text = self.r.render(
            "confirmed.html.j2", lang, currency=decision.currency, decision=decision,
            title=playbook.title.get(lang) if playbook else "",
            taken=taken, disposition=self.r.t(f"disposition.{decision.disposition}", lang), amount=amount,
            limit=from_minor(decision.limit_minor, decimals))
        return View(text, self.main_menu_keyboard(lang))

    def history(self, lang: str, decisions: Sequence[Decision], catalog: Catalog, timezone: str) -> View:
        items = []
        for decision in decisions:
            playbook = catalog.live(decision.playbook_id) or catalog.version(decision.playbook_id,
                                                                             decision.playbook_version)
            outcome = playbook.outcomes.get(decision.taken_outcome or "") if playbook else None
            what = (outcome.title.get(lang) if outcome else decision.taken_text
                    or self.r.t(f"disposition.{decision.disposition}", lang))
            items.append({
                "id": decision.id,
                "when": local_time(decision.created_at, timezone, lang, "dd MMM HH:mm"),
                "title": playbook.title.get(lang) if playbook else decision.playbook_id,
                "what": what,
                "amount": None if decision.amount_minor is None
                else from_minor(decision.amount_minor, currency_decimals(decision.currency)),
                "currency": decision.currency,
                "over_limit": decision.over_limit,
            })
        return View(self.r.render("history.html.j2", lang, items=items), self.main_menu_keyboard(lang))
