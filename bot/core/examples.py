"""Playbook tests: walk each `examples:` entry through the real engine and compare the outcome reached.

Pure (no Telegram, no database): `moments test` prints the results, and publishing through the bot refuses
a playbook whose examples fail (`failures(run_examples(playbook))` non-empty).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bot.core import conversation as conv
from bot.core.playbook import Example, Playbook, Step
from bot.core.problems import N_, Message

_RULES = conv.Rules(limit=Decimal(0))


@dataclass(frozen=True)
class ExampleResult:
    file: str  # the playbook's path, as loaded
    playbook_id: str
    number: int  # 1-based, as people count examples
    passed: bool
    expected: str
    reached: str | None = None  # the outcome the answers ended in, if any
    message: str = ""  # why it failed; empty when it passed
    line: int = 0
    column: int = 0
    reason: Message | None = None  # `message` as a translatable text, for uploads shown in the author's language

    @property
    def name(self) -> str:
        return f"{self.file or self.playbook_id}::example {self.number}"

    def __str__(self) -> str:
        return f"{self.name} passed" if self.passed else f"{self.name} FAILED: {self.message}"


def _labels(step: Step) -> list[str]:
    return [option.label.get() for option in step.options]


def _find(step: Step, answer: str) -> int | None:
    """The option whose label is `answer`: in English first, then in any language; case and spaces aside."""
    wanted = " ".join(answer.split()).casefold()
    for index, option in enumerate(step.options):
        if " ".join(option.label.get().split()).casefold() == wanted:
            return index
    for index, option in enumerate(step.options):
        if any(" ".join(text.split()).casefold() == wanted for text in option.label.all()):
            return index
    return None


def run_example(playbook: Playbook, example: Example, number: int) -> ExampleResult:
    """Walk one example: start the playbook, press each answer in turn, expect the outcome."""

    def result(passed: bool, reached: str | None = None, reason: Message | None = None) -> ExampleResult:
        return ExampleResult(playbook.path, playbook.id, number, passed, example.expect, reached,
                             str(reason) if reason else "", example.line, example.column, reason)

    def stopped(screen: object) -> Message:
        if previous is None:
            return N_("at the start the engine stopped (%(screen)s)", screen=type(screen).__name__)
        return N_("after '%(answer)s' the engine stopped (%(screen)s)", answer=previous, screen=type(screen).__name__)

    transition = conv.start(playbook, now=0.0, token="example")
    previous: str | None = None
    for index, answer in enumerate(example.answers):
        screen = transition.screen
        if isinstance(screen, conv.OutcomeScreen):
            left = ", ".join(f"'{a}'" for a in example.answers[index:])
            if previous is None:
                return result(False, screen.outcome.id, N_(
                    "at the start the playbook already ended in outcome '%(outcome)s'; answers left over: %(left)s",
                    outcome=screen.outcome.id, left=left))
            return result(False, screen.outcome.id, N_(
                "after '%(answer)s' the playbook already ended in outcome '%(outcome)s'; answers left over: %(left)s",
                answer=previous, outcome=screen.outcome.id, left=left))
        if not isinstance(screen, conv.StepScreen) or transition.flow is None:
            return result(False, None, stopped(screen))
        option = _find(screen.step, answer)
        if option is None:
            labels = ", ".join(f"'{label}'" for label in _labels(screen.step))
            if previous is None:
                return result(False, None, N_(
                    "at the start step '%(step)s' has no answer '%(given)s' (answers: %(labels)s)",
                    step=screen.step.id, given=answer, labels=labels))
            return result(False, None, N_(
                "after '%(answer)s' step '%(step)s' has no answer '%(given)s' (answers: %(labels)s)",
                answer=previous, step=screen.step.id, given=answer, labels=labels))
        transition = conv.apply(playbook, transition.flow, conv.Answer(screen.ordinal, option), _RULES)
        previous = answer
    screen = transition.screen
    if isinstance(screen, conv.StepScreen):
        labels = ", ".join(f"'{label}'" for label in _labels(screen.step))
        return result(False, None, N_(
            "expected %(expected)s, but after '%(answer)s' step '%(step)s' still asks (answers: %(labels)s)",
            expected=example.expect, answer=previous, step=screen.step.id, labels=labels))
    if not isinstance(screen, conv.OutcomeScreen):
        return result(False, None, stopped(screen))
    reached = screen.outcome.id
    if reached != example.expect:
        return result(False, reached, N_("expected %(expected)s, reached %(reached)s", expected=example.expect,
                                         reached=reached))
    return result(True, reached)


def run_examples(playbook: Playbook) -> list[ExampleResult]:
    """One result per example of `playbook`, in order (an empty list when it has none)."""
    return [run_example(playbook, example, number) for number, example in enumerate(playbook.examples, 1)]


def failures(results: Iterable[ExampleResult]) -> list[ExampleResult]:
    """The results that failed; a publish is refused when this is not empty."""
    return [r for r in results if not r.passed]
