"""Checks beyond the loader's: warnings about a playbook's shape and about playbooks side by side.

The loader already refuses (errors) a playbook with no customer-favouring outcome, a staff limit above the
lead's, a `say` or label too long for a message or a button, and an id used by another file. Here:

- `long_paths`: a path longer than MAX_ANSWERS answers (staff abandon long trees), at the step where it gets long;
- `missing_languages`: a text with no version in a language the team uses, at that text;
- `shared_triggers`: a trigger two playbooks share, at the trigger in each file;
- `id_clash`: an error when a playbook takes the id of a playbook from another file (for uploads).

Warnings never block loading. Positions come from re-reading each playbook's own source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from bot.core.playbook import Playbook
from bot.core.problems import N_, Message, Problem
from bot.core.yamlpos import ParsedYaml, PathKey, YamlSyntaxError, parse_yaml

MAX_ANSWERS = 5  # longer paths are allowed, but staff give up on them mid-shift


def _parsed(playbook: Playbook) -> ParsedYaml:
    try:
        return parse_yaml(playbook.source)
    except YamlSyntaxError:  # built in code, not from a file: no positions
        return ParsedYaml(data={})


def _warning(playbook: Playbook, parsed: ParsedYaml, path: PathKey, message: Message) -> Problem:
    pos = parsed.position(path)
    return Problem(playbook.path, pos.line, pos.column, message, severity="warning")


def check_playbooks(playbooks: Sequence[Playbook], languages: Iterable[str] | None = None) -> list[Problem]:
    """Every warning of this module for a set of playbooks loaded together, file by file."""
    wanted = sorted(set(languages or ()))
    problems: list[Problem] = []
    for playbook in playbooks:
        parsed = _parsed(playbook)
        problems.extend(long_paths(playbook, parsed))
        if wanted:
            problems.extend(missing_languages(playbook, wanted, parsed))
    problems.extend(shared_triggers(playbooks))
    return problems


def longest_depths(playbook: Playbook) -> dict[str, int]:
    """For each reachable step: the most answers given before it is asked (0 for the start)."""
    depth: dict[str, int] = {}

    def walk(step_id: str, answers: int, seen: frozenset[str]) -> None:
        if step_id not in playbook.steps or step_id in seen or depth.get(step_id, -1) >= answers:
            return
        depth[step_id] = answers
        for option in playbook.steps[step_id].options:
            if option.next is not None:
                walk(option.next, answers + 1, seen | {step_id})

    walk(playbook.start, 0, frozenset())
    return depth


def longest_path(playbook: Playbook) -> int:
    """The most answers any path of the playbook takes to reach an outcome."""
    return max((d + 1 for d in longest_depths(playbook).values()), default=0)


def long_paths(playbook: Playbook, parsed: ParsedYaml | None = None) -> list[Problem]:
    """A warning at each step that is answer number MAX_ANSWERS + 1 on some path."""
    parsed = parsed or _parsed(playbook)
    longest = longest_path(playbook)
    return [_warning(playbook, parsed, ("steps", step_id),
                     N_("step '%(step)s' is answer %(number)s on a path (the longest takes %(longest)s answers): "
                        "staff abandon long trees; keep paths to %(most)s answers or fewer", step=step_id,
                        number=depth + 1, longest=longest, most=MAX_ANSWERS))
            for step_id, depth in longest_depths(playbook).items() if depth == MAX_ANSWERS]


def _text_fields(playbook: Playbook) -> list[tuple[PathKey, Message, Any]]:
    """(path in the YAML, what it is called, the Text or TextList) for every text staff read."""
    fields: list[tuple[PathKey, Message, Any]] = [
        (("title",), N_("title"), playbook.title), (("summary",), N_("summary"), playbook.summary),
        (("principle",), N_("principle"), playbook.principle)]
    if playbook.triggers:
        fields.append((("triggers",), N_("triggers"), playbook.triggers))
    for step in playbook.steps.values():
        fields.append((("steps", step.id, "ask"), N_("the question of %(what)s", what=N_("step '%(step)s'",
                                                                                          step=step.id)), step.ask))
        for index, option in enumerate(step.options):
            option_name = N_("option %(number)s of step '%(step)s'", number=index + 1, step=step.id)
            fields.append((("steps", step.id, "options", index, "label"),
                           N_("the label of %(what)s", what=option_name), option.label))
    for outcome in playbook.outcomes.values():
        path: PathKey = ("outcomes", outcome.id)
        name = N_("outcome '%(outcome)s'", outcome=outcome.id)
        fields.append(((*path, "title"), N_("the title of %(what)s", what=name), outcome.title))
        if outcome.say:
            fields.append(((*path, "say"), N_("'say' of %(what)s", what=name), outcome.say))
        if outcome.steps:
            fields.append(((*path, "steps"), N_("the steps of %(what)s", what=name), outcome.steps))
    return fields


def _has(values: Any, language: str) -> bool:
    """A language is covered by itself or, for a regional code (pt-BR), by its base language (pt)."""
    return language in values or language.split("-")[0] in values


def missing_languages(playbook: Playbook, languages: Iterable[str], parsed: ParsedYaml | None = None) \
        -> list[Problem]:
    """A warning at every text that has no version in one of `languages`."""
    parsed = parsed or _parsed(playbook)
    problems: list[Problem] = []
    for path, what, text in _text_fields(playbook):
        for language in languages:
            if not _has(text.values, language):
                problems.append(_warning(playbook, parsed, path, N_("%(what)s has no '%(language)s' text", what=what,
                                                                    language=language)))
    return problems


def _normal(trigger: str) -> str:
    return " ".join(trigger.casefold().split())


def _trigger_paths(parsed: ParsedYaml) -> dict[str, list[PathKey]]:
    """Where each trigger is written: a plain list means English, a mapping is language → list."""
    raw = parsed.data.get("triggers") if isinstance(parsed.data, dict) else None
    found: dict[str, list[PathKey]] = defaultdict(list)
    lists = {"": raw} if isinstance(raw, list) else raw if isinstance(raw, dict) else {}
    for language, items in lists.items():
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            path: PathKey = ("triggers", index) if language == "" else ("triggers", language, index)
            found[_normal(str(item))].append(path)
    return found


def shared_triggers(playbooks: Sequence[Playbook]) -> list[Problem]:
    """A warning at a trigger, in each file, when another playbook has the same one (case and spaces aside)."""
    owners: dict[str, list[Playbook]] = defaultdict(list)
    for playbook in playbooks:
        for trigger in {_normal(t) for t in playbook.triggers.all()}:
            owners[trigger].append(playbook)
    problems: list[Problem] = []
    for playbook in playbooks:
        parsed = _parsed(playbook)
        for trigger, paths in _trigger_paths(parsed).items():
            others = [p for p in owners.get(trigger, []) if p is not playbook]
            if not others:
                continue
            names = ", ".join(f"'{p.id}' ({p.path})" for p in others)
            message = N_("trigger '%(trigger)s' is also a trigger of %(others)s: staff typing it get a choice "
                         "instead of an answer", trigger=trigger, others=names)
            problems.extend(_warning(playbook, parsed, path, message) for path in paths)
    return problems


def id_clash(playbook: Playbook, others: Iterable[Playbook]) -> list[Problem]:
    """An error when `playbook` (say, an upload) takes the id of a playbook that lives in another file."""
    parsed = _parsed(playbook)
    pos = parsed.position(("id",))
    return [Problem(playbook.path, pos.line, pos.column,
                    N_("id '%(id)s' is the id of another playbook (in %(file)s); give this one its own id, or edit "
                       "that file", id=playbook.id, file=other.path))
            for other in others if other.id == playbook.id and other.path and other.path != playbook.path]
