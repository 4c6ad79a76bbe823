"""Message catalogues: gettext through Babel, one `messages.po` per language, English as the source.

Message ids are the English texts themselves (templates' `{% trans %}` blocks and the labels of
`bot/locales/en.yaml`), so a text missing from a catalogue falls back to English, never to an id. The `.po`
files are compiled in memory at start (Babel's read_po + write_mo), so there is no build step and no binary
in the repository; fuzzy entries are not used, as gettext does.

    python -m bot.devtools.i18n update   # after changing texts: new ids into every catalogue
    python -m bot.devtools.i18n check    # what is missing or broken, per language
"""

from __future__ import annotations

import gettext
import io
from functools import cached_property, lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.core.text import FALLBACK_LANGUAGE

DOMAIN = "messages"


def po_path(locales_dir: Path, language: str) -> Path:
    return locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def base_language(code: str | None) -> str:
    """"pt-BR" → "pt": catalogues are per language, not per region."""
    return (code or FALLBACK_LANGUAGE).replace("_", "-").split("-")[0].lower()


class Catalogues:
    """Translations per language, loaded once and kept; an unknown language is English."""

    def __init__(self, locales_dir: Path) -> None:
        self.locales_dir = locales_dir
        self._loaded: dict[str, gettext.NullTranslations] = {}

    @cached_property
    def languages(self) -> list[str]:
        """English plus every language with a catalogue, in a stable order."""
        found = sorted(path.parent.parent.name for path in self.locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
        return [FALLBACK_LANGUAGE, *[code for code in found if code != FALLBACK_LANGUAGE]]

    def translations(self, language: str) -> gettext.NullTranslations:
        code = base_language(language)
        found = self._loaded.get(code)
        if found is None:
            found = self._load(code)
            self._loaded[code] = found
        return found

    def _load(self, code: str) -> gettext.NullTranslations:
        path = po_path(self.locales_dir, code)
        if code == FALLBACK_LANGUAGE or not path.exists():
            return gettext.NullTranslations()
        with path.open("rb") as source:
            catalog = read_po(source, locale=code, domain=DOMAIN)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
        compiled.seek(0)
        return Translations(compiled, domain=DOMAIN)

    def gettext(self, language: str, message: str) -> str:
        return self.translations(language).gettext(message)

    def ngettext(self, language: str, singular: str, plural: str, n: int) -> str:
        return self.translations(language).ngettext(singular, plural, n)

    def warm(self) -> None:
        for code in self.languages:
            self.translations(code)

    def locale(self, language: str) -> Locale:
        """Babel's locale for numbers, money and dates; English for anything Babel does not know."""
        return _locale(language)


@lru_cache(maxsize=256)
def _locale(language: str) -> Locale:
    # Parsed once per language: every amount on every screen asks for it.
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, TypeError):
        return Locale.parse(FALLBACK_LANGUAGE)
