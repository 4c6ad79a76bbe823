"""The training card: a scenario, "what do you do?", 2-4 choices with one right, and the why."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.core.text import Text


@dataclass(frozen=True)
class Choice:
    text: Text
    correct: bool = False
    outcome: str | None = None  # for generated cards: the playbook outcome this choice is


@dataclass(frozen=True)
class Fact:
    """One line of a generated scenario: a playbook question and the answer along the card's path."""

    ask: Text
    answer: Text


@dataclass(frozen=True)
class Card:
    key: str  # stable identity: "playbook:<id>/<step>>…><outcome>" or "authored:<id>"
    source: str  # playbook | authored
    question: Text
    choices: tuple[Choice, ...]
    why: Text
    scenario: Text = field(default_factory=Text)  # generated: the playbook's summary; authored: optional
    facts: tuple[Fact, ...] = ()
    playbook_id: str | None = None  # the playbook to open after answering
    team: str | None = None  # authored cards may be for one team
    tags: tuple[str, ...] = ()
    title: Text = field(default_factory=Text)  # short name for lists (/progress, digests)

    @property
    def id(self) -> str:
        return card_id(self.key)

    @property
    def correct_index(self) -> int:
        return next(i for i, choice in enumerate(self.choices) if choice.correct)

    def to_content(self) -> dict[str, Any]:
        """Plain JSON for the database (training_cards.content)."""
        return {
            "question": dict(self.question.values),
            "choices": [{"text": dict(c.text.values), "correct": c.correct, "outcome": c.outcome}
                        for c in self.choices],
            "why": dict(self.why.values),
            "scenario": dict(self.scenario.values),
            "facts": [{"ask": dict(f.ask.values), "answer": dict(f.answer.values)} for f in self.facts],
            "tags": list(self.tags),
            "title": dict(self.title.values),
        }

    @classmethod
    def from_content(cls, key: str, source: str, content: dict[str, Any], playbook_id: str | None = None,
                     team: str | None = None) -> Card:
        return cls(
            key=key, source=source, question=Text(content.get("question") or {}),
            choices=tuple(Choice(Text(c["text"]), bool(c.get("correct")), c.get("outcome"))
                          for c in content.get("choices", [])),
            why=Text(content.get("why") or {}), scenario=Text(content.get("scenario") or {}),
            facts=tuple(Fact(Text(f["ask"]), Text(f["answer"])) for f in content.get("facts", [])),
            playbook_id=playbook_id, team=team, tags=tuple(content.get("tags", [])),
            title=Text(content.get("title") or {}),
        )

    def content_hash(self) -> str:
        import json

        raw = json.dumps(self.to_content(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


def card_id(key: str) -> str:
    """Ten hex characters of the key's hash: short enough for callback data, stable across rewording."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]
