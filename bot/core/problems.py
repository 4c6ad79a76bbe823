"""Validation problems that point at a file, a line and a column.

A problem's text is a `Message`: an English message id with %(name)s placeholders and the values to put in,
so whoever shows it translates it into the reader's language (bot/ui for uploads in Telegram), while `str()`
and `.message` give the English the CLI prints. `N_()` builds one and marks the id for the catalogue
(`python -m bot.devtools.i18n update` extracts N_ calls from bot/core); the core itself never translates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _english(message_id: str) -> str:
    return message_id


@dataclass(frozen=True)
class Message:
    """A text in no language yet. Values may be Messages themselves ("the label of %(what)s"), translated too."""

    id: str
    values: tuple[tuple[str, Any], ...] = ()

    def render(self, gettext: Callable[[str], str] = _english) -> str:
        values = {name: value.render(gettext) if isinstance(value, Message) else value for name, value in self.values}
        return gettext(self.id) % values

    def __str__(self) -> str:
        return self.render()


def N_(message_id: str, **values: Any) -> Message:
    """A message to translate when shown: `N_("unknown step '%(step)s'", step=name)`."""
    return Message(message_id, tuple(values.items()))


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    text: Message | str  # a plain str is shown as it is (a YAML parser's own words, say)
    severity: str = "error"

    @property
    def message(self) -> str:
        """In English, as `moments lint` prints it."""
        return str(self.text)

    def render(self, gettext: Callable[[str], str] = _english) -> str:
        """The text in the language `gettext` translates into."""
        return self.text.render(gettext) if isinstance(self.text, Message) else self.text

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class PlaybookLoadError(Exception):
    """Raised when shipped playbooks are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        files = sorted({p.file for p in problems if p.severity == "error"})
        super().__init__(f"{len(problems)} problem(s) in {', '.join(files)}")
