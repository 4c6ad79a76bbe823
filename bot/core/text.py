"""Localised text values: every text field of a playbook is a string or a language → string mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

FALLBACK_LANGUAGE = "en"


class Language(str):
    """A person's language code ("it") that also knows what to show when a text lacks it: their team's
    language. It is a str everywhere else (catalogues, Babel, templates), so only content lookups see more."""

    fallbacks: tuple[str, ...]

    def __new__(cls, code: str, fallbacks: tuple[str, ...] = ()) -> Language:
        value = super().__new__(cls, code)
        value.fallbacks = tuple(f for f in fallbacks if f and f != code)
        return value


def _pick(values: Mapping[str, object], language: str) -> object | None:
    """The value for `language` (or its base: pt-BR → pt), else for the person's team's language, else
    English, else the first given."""
    if not values:
        return None
    for code in (language, *getattr(language, "fallbacks", ())):
        if code in values:
            return values[code]
        base = code.split("-")[0]
        if base in values:
            return values[base]
    if FALLBACK_LANGUAGE in values:
        return values[FALLBACK_LANGUAGE]
    return next(iter(values.values()))


@dataclass(frozen=True)
class Text:
    """A text in one or more languages."""

    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, language: str = FALLBACK_LANGUAGE) -> str:
        value = _pick(self.values, language)
        return value if isinstance(value, str) else ""

    def all(self) -> list[str]:
        return list(self.values.values())

    def __bool__(self) -> bool:
        return any(self.values.values())


@dataclass(frozen=True)
class TextList:
    """A list of texts (steps, triggers) in one or more languages."""

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, language: str = FALLBACK_LANGUAGE) -> tuple[str, ...]:
        value = _pick(self.values, language)
        return value if isinstance(value, tuple) else ()

    def all(self) -> list[str]:
        return [item for items in self.values.values() for item in items]

    def __bool__(self) -> bool:
        return any(self.values.values())
