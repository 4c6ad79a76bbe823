"""aiogram's inline keyboard builder, minus the deep copies.

`InlineKeyboardBuilder.export()` deep-copies every button (pydantic models), and `adjust()`, `buttons` and
`as_markup()` all go through it: building one flow screen copied its buttons four or five times, a tenth of the
bot's CPU per update in bench/flow.py. Our builders are thrown away once the markup is made and the buttons are
never changed afterwards, so the rows are handed over as they are.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton
from aiogram.utils.keyboard import InlineKeyboardBuilder


class Keyboard(InlineKeyboardBuilder):
    def export(self) -> list[list[InlineKeyboardButton]]:
        return [list(row) for row in self._markup]
