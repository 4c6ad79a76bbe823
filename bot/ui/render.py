"""Every text users read comes from here: Jinja2 templates for messages, locale files for labels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from bot.core.problems import Problem
from bot.core.text import FALLBACK_LANGUAGE
from bot.ui.i18n import Catalogues

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
LOCALES_DIR = PACKAGE_DIR / "locales"
MESSAGE_LIMIT = 4096  # Telegram's limit on a message's text after entity parsing


@lru_cache(maxsize=8)
def _catalogue(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", data)
    return flat


class Renderer:
    """Renders Telegram HTML: autoescaping is on, so every value passed in arrives escaped."""

    def __init__(self, currency: str, templates_dir: Path = TEMPLATES_DIR, locales_dir: Path = LOCALES_DIR) -> None:
        self.currency = currency
        self.locales_dir = locales_dir
        self._labels_path = locales_dir / f"{FALLBACK_LANGUAGE}.yaml"
        self.catalogues = Catalogues(locales_dir)
        self.env = Environment(
            loader=FileSystemLoader(templates_dir),
            extensions=["jinja2.ext.i18n"],
            autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
            undefined=StrictUndefined,
            trim_blocks=False,
            lstrip_blocks=False,
            keep_trailing_newline=False,
            auto_reload=False,  # templates ship with the code: no file stat on every render
        )
        # Language-aware helpers read the language from the render context, so one cached
        # environment serves every language.
        self.env.filters["money"] = pass_context(
            lambda ctx, amount, currency=None: self.money(amount, _language(ctx),
                                                          currency or ctx.get("currency") or self.currency))
        # Roles are stored and typed as ids (staff, lead, ...); people read them by name, in their language.
        self.env.filters["role_name"] = pass_context(lambda ctx, role: self.role_name(role, _language(ctx)))
        self.env.filters["role_choice"] = pass_context(lambda ctx, role: self.role_choice(role, _language(ctx)))
        # Numbers the locale's way: "42 %" with a no-break space in French (CLDR), "3,5" in Italian.
        self.env.filters["percent"] = pass_context(lambda ctx, share: self.percent(share, _language(ctx)))
        self.env.filters["number"] = pass_context(
            lambda ctx, value, digits=0: self.number(value, _language(ctx), digits))
        self.env.filters["signed"] = pass_context(
            lambda ctx, value, digits=1: self.signed(value, _language(ctx), digits))
        self.env.globals["t"] = pass_context(lambda ctx, key, **values: self.t(key, _language(ctx), **values))
        # {% trans %} blocks and _() in templates: the catalogue of the language being rendered. Newstyle
        # gettext escapes the values put into a translated text, as autoescape would.
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            pass_context(lambda ctx, message: self.catalogues.gettext(_language(ctx), message)),
            pass_context(lambda ctx, singular, plural, n: self.catalogues.ngettext(_language(ctx), singular, plural,
                                                                                   n)),
            newstyle=True)

    def warm(self) -> None:
        """Compile every template and catalogue and load the currency data now, so no person waits for it."""
        for name in self.env.list_templates(filter_func=lambda name: name.endswith(".html.j2")):
            self.env.get_template(name)
        self.catalogues.warm()
        for language in self.catalogues.languages:
            self.money(0, language)

    def labels(self, language: str = FALLBACK_LANGUAGE) -> dict[str, str]:
        """The English labels by key (bot/locales/en.yaml): the message ids of the catalogues."""
        return _catalogue(self._labels_path)

    def t(self, key: str, language: str = FALLBACK_LANGUAGE, **values: Any) -> str:
        """A short label in `language` (English where the catalogue lacks it); an unknown key shows the key
        itself, so a missing text is visible, not fatal."""
        english = self.labels().get(key)
        if english is None:
            return key
        text = self.catalogues.gettext(language, english)
        return text.format(**values) if values else text

    def role_name(self, role: object, language: str = FALLBACK_LANGUAGE) -> str:
        """"lead" → "Lead", "Responsabile di turno", "Старший смены"; an unknown role shows as it is stored."""
        key = f"team.role.{role}"
        return self.t(key, language) if key in self.labels() else str(role)

    def role_choice(self, role: object, language: str = FALLBACK_LANGUAGE) -> Markup:
        """A role someone may type in a command: its name, and the id to type when the name is not that id
        ("Responsabile di turno (<code>lead</code>)", but "Lead" in English, where typing "Lead" works)."""
        name = self.role_name(role, language)
        if name.casefold() == str(role).casefold():
            return escape(name)
        return escape(name) + Markup(" (<code>") + escape(str(role)) + Markup("</code>)")

    def percent(self, share: float, language: str = FALLBACK_LANGUAGE) -> str:
        """A share (0.42) as a whole percentage: "42%", "42 %" in French, "42 %" in Russian."""
        return format_percent(share, locale=self.catalogues.locale(language))

    def number(self, value: float | Decimal | int, language: str = FALLBACK_LANGUAGE, digits: int = 0) -> str:
        """Up to `digits` decimals, none shown when they are zero: "3.5", "3,5" in Italian, "1 234" in French."""
        pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
        return format_decimal(value, format=pattern, locale=self.catalogues.locale(language))

    def signed(self, value: float | Decimal | int, language: str = FALLBACK_LANGUAGE, digits: int = 1) -> str:
        """A change with its sign always shown: "+3.3", "−2", "±0" (a true minus sign, as for the arrows)."""
        sign = "+" if value > 0 else ("−" if value < 0 else "±")
        return sign + self.number(abs(value), language, digits)

    def problem(self, problem: Problem, language: str = FALLBACK_LANGUAGE) -> str:
        """A problem's text (not its file:line:column) in `language`, English where the catalogue lacks it."""
        return problem.render(lambda message: self.catalogues.gettext(language, message))

    def money(self, amount: Decimal | int | float, language: str = FALLBACK_LANGUAGE,
              currency: str | None = None) -> str:
        """"€1,234.50" in English, "1.234,50 €" in Italian, "1 234,50 €" in French: Babel's locale data."""
        return _money(amount, currency or self.currency, self.catalogues.locale(language))

    def render(self, template: str, language: str = FALLBACK_LANGUAGE, **context: Any) -> str:
        text = self.env.get_template(template).render(language=language, **context).strip()
        return fit_message(text)


@lru_cache(maxsize=4096)
def _money(amount: Decimal | int | float, currency: str, locale: Locale) -> str:
    # The same few amounts (limits, prices) are shown again and again; Babel's formatting is not cheap.
    return format_currency(amount, currency, locale=locale)


def local_time(moment: datetime, timezone: str, language: str, pattern: str = "dd MMM yyyy HH:mm") -> str:
    """A stored (UTC) moment in the team's time zone, written the person's way ("26 nov 2026 14:05" in Italian,
    "26 нояб. 2026 14:05" in Russian): a CLDR pattern through Babel, never strftime's English month names."""
    code = language.replace("-", "_")
    try:
        locale = Locale.parse(code)
    except (ValueError, TypeError):
        locale = Locale.parse(FALLBACK_LANGUAGE)
    return format_datetime(moment.astimezone(ZoneInfo(timezone)), pattern, locale=locale)


def _language(context: Context) -> str:
    return str(context.get("language") or FALLBACK_LANGUAGE)


def fit_message(html: str, limit: int = MESSAGE_LIMIT) -> str:
    """Never let a message exceed Telegram's limit: cut at a line break, closing nothing mid-tag.

    Templates keep tags within single lines, so cutting between lines keeps the HTML balanced.
    """
    if len(html) <= limit:
        return html
    cut = html.rfind("\n", 0, limit - 2)
    return (html[:cut] if cut > 0 else html[: limit - 2]).rstrip() + "\n…"
