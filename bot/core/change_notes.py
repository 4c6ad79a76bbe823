"""What to tell staff when a publish changes what they are told to do or how much they may spend.

Pure: from the diff, the playbook before and after, and the changelog line, build one short note in one
language. Only a change that matters to staff (a recommended outcome or a limit, see
`PlaybookDiff.matters_to_staff`) makes a note; a reworded text alone does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.diff import Path, PlaybookDiff, outcome_paths
from bot.core.playbook import Playbook

MAX_CHANGES = 5  # lines in a note; the rest are counted ("and N more")


@dataclass(frozen=True)
class PathNote:
    """These answers now lead to `after` (None: the answers are gone), where they led to `before`."""

    answers: tuple[str, ...]  # button labels, in the note's language
    before: str | None  # outcome title; None: the path is new
    after: str | None


@dataclass(frozen=True)
class LimitNote:
    role: str
    before: Decimal | None  # None: the playbook had no limit for the role
    after: Decimal | None


@dataclass(frozen=True)
class ChangeNote:
    playbook_id: str
    title: str
    version: str
    changelog: str
    limits: tuple[LimitNote, ...]
    paths: tuple[PathNote, ...]
    more: int = 0  # changes left out to keep the note short

    @property
    def shown(self) -> int:
        return len(self.limits) + len(self.paths)


def _labels(playbook: Playbook, path: Path, language: str) -> tuple[str, ...]:
    return tuple(playbook.steps[step_id].options[index].label.get(language) for step_id, index in path)


def _title(playbook: Playbook, outcome_id: str | None, language: str) -> str | None:
    if outcome_id is None:
        return None
    outcome = playbook.outcomes.get(outcome_id)
    return outcome.title.get(language) if outcome is not None else outcome_id


def path_notes(before: Playbook, after: Playbook, language: str) -> list[PathNote]:
    """Every answered path whose recommended outcome changed, in the order of `diff_playbooks`."""
    old, new = outcome_paths(before), outcome_paths(after)
    notes = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) == new.get(path):
            continue
        labels = _labels(after if path in new else before, path, language)
        notes.append(PathNote(labels, _title(before, old.get(path), language), _title(after, new.get(path),
                                                                                          language)))
    return notes


def build_note(diff: PlaybookDiff, before: Playbook | None, after: Playbook, changelog: str = "",
               language: str = "en", max_changes: int = MAX_CHANGES) -> ChangeNote | None:
    """The note for people reading `language`, or None when the change does not matter to staff.

    Limits come first (they are short and concern everyone), then the changed paths; beyond
    `max_changes` lines the rest are only counted. A new playbook (`before` None) has no staff to tell."""
    if before is None or not diff.matters_to_staff:
        return None
    limits = [LimitNote(role, old, new) for role, (old, new) in diff.limits_changed.items()]
    paths = path_notes(before, after, language) if diff.recommendations_changed else []
    total = len(limits) + len(paths)
    if total == 0:
        return None
    kept_limits = limits[:max_changes]
    kept_paths = paths[:max(max_changes - len(kept_limits), 0)]
    return ChangeNote(playbook_id=after.id, title=after.title.get(language), version=after.version,
                      changelog=" ".join(changelog.split()), limits=tuple(kept_limits), paths=tuple(kept_paths),
                      more=total - len(kept_limits) - len(kept_paths))
