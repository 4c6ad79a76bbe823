"""Onboarding screens and their buttons: name, language, shift days, shift hours."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.onboarding import DAY_PRESETS, HOUR_PRESETS, LANGUAGES, day_preset
from bot.ui.screens import Screens, View


class OnboardAction(StrEnum):
    NAME = "n"  # use the Telegram name
    LANGUAGE = "l"
    PRESET = "p"  # a preset of days
    DAY = "d"  # toggle one day
    DAYS_DONE = "c"
    HOURS = "h"  # a preset of hours (index)


class OnboardCb(CallbackData, prefix="ob"):
    action: OnboardAction
    value: str = ""


def _button(kb: InlineKeyboardBuilder, text: str, action: OnboardAction, value: str = "") -> None:
    kb.button(text=text, callback_data=OnboardCb(action=action, value=value))


def days_label(screens: Screens, lang: str, days: list[int]) -> str:
    """'Mon–Fri', 'every day', or the days one by one ('Mon, Wed, Sat')."""
    preset = day_preset(days)
    if preset is not None:
        return screens.r.t(f"onboarding.days_text.{preset}", lang)
    return ", ".join(screens.r.t(f"onboarding.day.{day}", lang) for day in sorted(days))


def name_prompt(screens: Screens, lang: str, *, team: str, role: str, telegram_name: str,
                error: str | None = None, length: int = 0) -> View:
    kb = InlineKeyboardBuilder()
    if telegram_name:
        _button(kb, screens.r.t("onboarding.use_name", lang, name=telegram_name), OnboardAction.NAME)
    text = screens.r.render("onboarding_name.html.j2", lang, team=team, role=role, error=error, length=length,
                            telegram_name=telegram_name)
    return View(text, kb.as_markup())


def language_prompt(screens: Screens, lang: str, name: str) -> View:
    kb = InlineKeyboardBuilder()
    for code in LANGUAGES:
        _button(kb, screens.r.t(f"onboarding.language.{code}", lang), OnboardAction.LANGUAGE, code)
    kb.adjust(2)
    return View(screens.r.render("onboarding_language.html.j2", lang, name=name), kb.as_markup())


def days_prompt(screens: Screens, lang: str, days: list[int], error: str | None = None) -> View:
    kb = InlineKeyboardBuilder()
    for preset in DAY_PRESETS:
        _button(kb, screens.r.t(f"onboarding.preset.{preset}", lang), OnboardAction.PRESET, preset)
    for day in range(7):
        mark = "✅ " if day in days else ""
        _button(kb, mark + screens.r.t(f"onboarding.day.{day}", lang), OnboardAction.DAY, str(day))
    _button(kb, screens.r.t("onboarding.days_done", lang), OnboardAction.DAYS_DONE)
    kb.adjust(3, 4, 3, 1)
    chosen = days_label(screens, lang, days) if days else ""
    return View(screens.r.render("onboarding_days.html.j2", lang, chosen=chosen, error=error), kb.as_markup())


def hours_prompt(screens: Screens, lang: str, days: list[int], error: str | None = None) -> View:
    kb = InlineKeyboardBuilder()
    for index, (start, end) in enumerate(HOUR_PRESETS):
        _button(kb, f"{start}–{end}", OnboardAction.HOURS, str(index))
    kb.adjust(2)
    return View(screens.r.render("onboarding_hours.html.j2", lang, days=days_label(screens, lang, days),
                                 error=error), kb.as_markup())


def done(screens: Screens, lang: str, *, name: str, team: str, role: str, shift: dict[str, Any]) -> View:
    text = screens.r.render("onboarding_done.html.j2", lang, name=name, team=team, role=role,
                            days=days_label(screens, lang, list(shift["days"])), start=shift["start"],
                            end=shift["end"])
    return View(text)
