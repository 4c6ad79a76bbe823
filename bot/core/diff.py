"""What changes between two versions of a playbook, in the terms a manager reviews before publishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.playbook import Outcome, Playbook, Step

Path = tuple[tuple[str, int], ...]  # (step id, option index) from the start to an outcome


@dataclass(frozen=True)
class RecommendationChange:
    answers: tuple[str, ...]  # the English labels along the path
    before: str | None  # outcome id; None: the path did not exist
    after: str | None


@dataclass
class PlaybookDiff:
    steps_added: list[str] = field(default_factory=list)
    steps_removed: list[str] = field(default_factory=list)
    steps_reworded: list[str] = field(default_factory=list)
    outcomes_added: list[str] = field(default_factory=list)
    outcomes_removed: list[str] = field(default_factory=list)
    outcomes_reworded: list[str] = field(default_factory=list)
    limits_changed: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)
    recommendations_changed: list[RecommendationChange] = field(default_factory=list)
    texts_changed: list[str] = field(default_factory=list)  # title, summary, principle, triggers, category

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)

    @property
    def matters_to_staff(self) -> bool:
        """A change staff must hear about: what they are told to do, or how much they may spend."""
        return bool(self.recommendations_changed or self.limits_changed)


def outcome_paths(playbook: Playbook) -> dict[Path, str]:
    """Every answered path from the start to the outcome it recommends."""
    paths: dict[Path, str] = {}

    def walk(step_id: str, prefix: Path) -> None:
        for index, option in enumerate(playbook.steps[step_id].options):
            path = (*prefix, (step_id, index))
            if option.outcome is not None:
                paths[path] = option.outcome
            elif option.next is not None and option.next in playbook.steps and len(path) <= len(playbook.steps):
                walk(option.next, path)

    walk(playbook.start, ())
    return paths


def _labels(playbook: Playbook, path: Path) -> tuple[str, ...]:
    return tuple(playbook.steps[step_id].options[index].label.get("en") for step_id, index in path)


def _step_shape(step: Step) -> tuple[object, ...]:
    return (dict(step.ask.values), tuple((dict(o.label.values), o.next, o.outcome) for o in step.options))


def _outcome_shape(outcome: Outcome) -> tuple[object, ...]:
    return (dict(outcome.title.values), dict(outcome.say.values), dict(outcome.steps.values), outcome.money,
            outcome.favours_customer)


def diff_playbooks(before: Playbook | None, after: Playbook) -> PlaybookDiff:
    """The changes from `before` (None: a new playbook) to `after`."""
    result = PlaybookDiff()
    if before is None:
        result.steps_added = list(after.steps)
        result.outcomes_added = list(after.outcomes)
        result.limits_changed = {role: (None, amount) for role, amount in after.limits.items()}
        return result
    result.steps_added = [s for s in after.steps if s not in before.steps]
    result.steps_removed = [s for s in before.steps if s not in after.steps]
    result.steps_reworded = [s for s in after.steps
                             if s in before.steps and _step_shape(before.steps[s]) != _step_shape(after.steps[s])]
    result.outcomes_added = [o for o in after.outcomes if o not in before.outcomes]
    result.outcomes_removed = [o for o in before.outcomes if o not in after.outcomes]
    result.outcomes_reworded = [o for o in after.outcomes if o in before.outcomes
                                and _outcome_shape(before.outcomes[o]) != _outcome_shape(after.outcomes[o])]
    for role in sorted(set(before.limits) | set(after.limits)):
        old, new = before.limits.get(role), after.limits.get(role)
        if old != new:
            result.limits_changed[role] = (old, new)
    old_paths, new_paths = outcome_paths(before), outcome_paths(after)
    for path in sorted(set(old_paths) | set(new_paths)):
        old_outcome, new_outcome = old_paths.get(path), new_paths.get(path)
        if old_outcome != new_outcome:
            labels = _labels(after if path in new_paths else before, path)
            result.recommendations_changed.append(RecommendationChange(labels, old_outcome, new_outcome))
    for name in ("title", "summary", "principle", "triggers"):
        if getattr(before, name).values != getattr(after, name).values:
            result.texts_changed.append(name)
    if before.category != after.category:
        result.texts_changed.append("category")
    return result
