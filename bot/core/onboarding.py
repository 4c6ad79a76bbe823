"""Onboarding rules: a display name, a language, a usual shift. Pure functions, no Telegram."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_NAME = 64
LANGUAGES = ("en", "it", "fr", "ru")

WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
DAY_PRESETS: dict[str, tuple[int, ...]] = {"weekdays": WEEKDAYS, "weekend": WEEKEND, "every_day": EVERY_DAY}
# Usual hours: early, day, late and night shifts. Night runs past midnight (end before start).
HOUR_PRESETS: tuple[tuple[str, str], ...] = (("06:00", "14:00"), ("09:00", "17:00"), ("14:00", "22:00"),
                                             ("22:00", "06:00"))
_TIME = r"(\d{1,2})(?:[:.h](\d{2})|h)?"
_HOURS = re.compile(rf"{_TIME}\s*(?:-|–|—|to)\s*{_TIME}")


def clean_name(text: str | None) -> str | None:
    """A display name as typed: spaces tidied, control characters dropped; None when empty or too long."""
    if text is None:
        return None
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    name = " ".join(kept.split())
    if not name or len(name) > MAX_NAME or name.startswith("/"):
        return None
    return name


def default_name(full_name: str) -> str:
    """The Telegram name offered on a button, cut to what a display name may hold."""
    return clean_name(full_name[:MAX_NAME]) or ""


def toggle_day(days: list[int], day: int) -> list[int]:
    chosen = set(days)
    chosen.symmetric_difference_update({day})
    return sorted(d for d in chosen if 0 <= d <= 6)


def _time(hours: str, minutes: str | None) -> str | None:
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        h = 0
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return f"{h:02d}:{m:02d}"


def parse_hours(text: str) -> tuple[str, str] | None:
    """'9-17', '09:00-17:30', '22–6', '9h to 17h' → ('09:00', '17:00'); None if it is not a span of hours."""
    match = _HOURS.fullmatch(text.strip().lower())
    if match is None:
        return None
    start, end = _time(match.group(1), match.group(2)), _time(match.group(3), match.group(4))
    if start is None or end is None or start == end:
        return None
    return start, end


@dataclass(frozen=True)
class Shift:
    days: tuple[int, ...]
    start: str
    end: str

    def to_dict(self) -> dict[str, Any]:
        """The form stored on User.shift: {"days": [0..6, Monday first], "start": "09:00", "end": "17:00"}."""
        return {"days": list(self.days), "start": self.start, "end": self.end}

    @property
    def overnight(self) -> bool:
        return self.end < self.start


def day_preset(days: list[int] | tuple[int, ...]) -> str | None:
    """The preset name for these days, if they are exactly one ('weekdays', 'weekend', 'every_day')."""
    chosen = tuple(sorted(set(days)))
    return next((name for name, preset in DAY_PRESETS.items() if preset == chosen), None)
