"""/unmatched screens: what staff asked for that no playbook covers, grouped, with a button per group."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.unmatched import Cluster
from bot.ui.callbacks import MenuAction, MenuCb, UnmatchedCb
from bot.ui.render import local_time
from bot.ui.screens import Screens, View

BUTTON_PHRASE = 28  # characters of the phrase on its button


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def listing(screens: Screens, lang: str, clusters: Sequence[Cluster], timezone: str, days: int,
            total: int) -> View:
    items = [{"number": number, "phrase": c.representative, "count": c.count, "variants": c.variants,
              "when": local_time(c.last_seen, timezone, lang, "dd MMM")} for number, c in enumerate(clusters, 1)]
    kb = InlineKeyboardBuilder()
    for number, c in enumerate(clusters, 1):
        kb.button(text=screens.r.t("unmatched.make", lang, number=number,
                                   phrase=_short(c.representative, BUTTON_PHRASE)),
                  callback_data=UnmatchedCb(phrase=c.ref))
    kb.button(text=screens.r.t("menu.home", lang), callback_data=MenuCb(action=MenuAction.HOME))
    kb.adjust(1)
    text = screens.r.render("unmatched.html.j2", lang, items=items, days=days, total=total)
    return View(text, kb.as_markup())
