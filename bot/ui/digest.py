"""The weekly digest as Telegram messages: each section rendered on its own, then packed into messages of at most
4,096 characters, breaking only between sections (a single oversize section is cut at a line by fit_message)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from babel.dates import format_date

from bot.core.digest import Change, Figures, change
from bot.core.money import currency_decimals, from_minor
from bot.ui.render import MESSAGE_LIMIT, Renderer

TEMPLATE = "digest.html.j2"
SECTIONS = ("header", "summary", "money", "reviews", "reactions", "unmatched", "training", "people")
SEPARATOR = "\n\n"


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def changes(figures: Figures) -> dict[str, Change | None]:
    now, before = figures.totals, figures.previous
    decimals = currency_decimals(figures.currency)
    return {
        "decisions": change(now.decisions, before.decisions),
        "followed": change(_pct(now.followed_share), _pct(before.followed_share)),
        "favouring": change(_pct(now.favouring_share), _pct(before.favouring_share)),
        "median": change(now.median_seconds, before.median_seconds),
        "spent": change(from_minor(now.spent_minor, decimals), from_minor(before.spent_minor, decimals))
        if before.decisions else None,
    }


def context(figures: Figures, language: str) -> dict[str, Any]:
    decimals = currency_decimals(figures.currency)
    major: Callable[[int], Decimal] = lambda minor: from_minor(minor, decimals)  # noqa: E731
    locale = language.replace("-", "_")
    return {"d": figures, "major": major, "currency": figures.currency, "changes": changes(figures),
            "first_day": format_date(figures.week.days()[0], "d MMM", locale=locale),
            "last_day": format_date(figures.week.days()[-1], "d MMM yyyy", locale=locale)}


def sections(renderer: Renderer, figures: Figures, language: str) -> list[str]:
    if figures.empty:
        return [renderer.render(TEMPLATE, language, section="empty", **context(figures, language))]
    values = context(figures, language)
    rendered = (renderer.render(TEMPLATE, language, section=name, **values) for name in SECTIONS)
    return [text for text in rendered if text]


def pack(parts: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Greedy: add each section to the current message while it fits, else start a new one."""
    messages: list[str] = []
    for part in parts:
        if messages and len(messages[-1]) + len(SEPARATOR) + len(part) <= limit:
            messages[-1] += SEPARATOR + part
        else:
            messages.append(part)
    return messages


def messages(renderer: Renderer, figures: Figures, language: str) -> list[str]:
    return pack(sections(renderer, figures, language))


def chart_labels(renderer: Renderer, language: str) -> dict[str, str]:
    keys = ("title", "followed", "deviated", "escalated", "decisions", "spent", "over_limit")
    return {key: renderer.t(f"digest.chart.{key}", language) for key in keys}
