"""The playbook model: immutable, validated, and independent of where it was loaded from."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.text import Text, TextList

ROLES = ("staff", "lead", "manager", "supervisor", "admin")


@dataclass(frozen=True)
class Option:
    label: Text
    next: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Step:
    id: str
    ask: Text
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Outcome:
    id: str
    title: Text
    say: Text = field(default_factory=Text)
    steps: TextList = field(default_factory=TextList)
    money: bool = False
    favours_customer: bool = False


@dataclass(frozen=True)
class Example:
    """A playbook test: these answers (button labels, in order) must end in outcome `expect`."""

    answers: tuple[str, ...]
    expect: str
    line: int = 0  # where the example is written, for reports
    column: int = 0


@dataclass(frozen=True)
class Playbook:
    id: str
    title: Text
    summary: Text
    category: str
    triggers: TextList
    principle: Text
    limits: dict[str, Decimal]
    start: str
    steps: dict[str, Step]
    outcomes: dict[str, Outcome]
    version: str  # content hash of the source: decisions keep it so later edits never rewrite history
    source: str = ""
    path: str = ""
    on_timeout: str | None = None  # outcome taken when no lead answers an escalation in time
    examples: tuple[Example, ...] = ()  # playbook tests, run by `moments test` and before a publish

    @property
    def step_ids(self) -> list[str]:
        return list(self.steps)

    @property
    def outcome_ids(self) -> list[str]:
        return list(self.outcomes)

    def step_index(self, step_id: str) -> int:
        return self.step_ids.index(step_id)

    def step_at(self, index: int) -> Step | None:
        ids = self.step_ids
        return self.steps[ids[index]] if 0 <= index < len(ids) else None

    def outcome_at(self, index: int) -> Outcome | None:
        ids = self.outcome_ids
        return self.outcomes[ids[index]] if 0 <= index < len(ids) else None
