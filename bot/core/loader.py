"""Turn playbook YAML into validated `Playbook` objects, or into problems with line and column."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.core.playbook import ROLES, Example, Option, Outcome, Playbook, Step
from bot.core.problems import Problem
from bot.core.text import Text, TextList
from bot.core.yamlpos import ParsedYaml, PathKey, Position, YamlSyntaxError, parse_yaml

ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
MAX_ID_LENGTH = 40  # keeps every callback button well inside Telegram's 64 bytes

# Longest text each field may hold, so every screen fits one Telegram message and every label a button.
MAX_LENGTH = {
    "title": 100,
    "summary": 300,
    "principle": 300,
    "ask": 500,
    "label": 40,
    "say": 600,
    "outcome_step": 200,
    "trigger": 80,
}
MIN_OPTIONS, MAX_OPTIONS = 2, 8

TOP_KEYS = {"id", "title", "summary", "category", "triggers", "principle", "limits", "start", "steps",
            "outcomes", "tags", "on_timeout", "examples"}
REQUIRED_TOP = ("id", "title", "summary", "principle", "start", "steps", "outcomes")
STEP_KEYS = {"ask", "options"}
OPTION_KEYS = {"label", "next", "outcome"}
OUTCOME_KEYS = {"title", "say", "steps", "money", "favours_customer"}
EXAMPLE_KEYS = {"answers", "expect"}


def content_version(source: str) -> str:
    """Short content hash: the version a decision records."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


class _Checker:
    """Collects problems while reading one parsed document."""

    def __init__(self, file: str, parsed: ParsedYaml) -> None:
        self.file = file
        self.parsed = parsed
        self.problems: list[Problem] = []

    def error(self, path: PathKey, message: str) -> None:
        self.error_at(self.parsed.position(path), message)

    def key_error(self, path: PathKey, message: str) -> None:
        """An error about a mapping key (unknown field, bad language code): point at the key."""
        self.error_at(self.parsed.key_position(path), message)

    def error_at(self, pos: Position, message: str) -> None:
        self.problems.append(Problem(self.file, pos.line, pos.column, message))

    def unknown_keys(self, mapping: dict[Any, Any], allowed: set[str], path: PathKey, what: str) -> None:
        for key in mapping:
            if key not in allowed:
                hint = process.extractOne(str(key), sorted(allowed), scorer=fuzz.ratio, score_cutoff=70)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.key_error((*path, key), f"unknown field '{key}' in {what}{suggestion}")

    def mapping(self, value: Any, path: PathKey, what: str) -> dict[Any, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"{what} must be a mapping, got {_type_name(value)}")
            return None
        return value

    def identifier(self, value: Any, path: PathKey, what: str) -> str | None:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.error(path, f"{what} must be lowercase letters, digits and '-', got {value!r}")
            return None
        return value

    def text(self, value: Any, path: PathKey, what: str, limit_key: str, required: bool = True) -> Text:
        if value is None:
            if required:
                self.error(path, f"missing required field '{path[-1]}' in {what}")
            return Text()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values = {"en": str(value)}
        elif isinstance(value, dict):
            values = {}
            for language, item in value.items():
                if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
                    self.key_error((*path, language), f"'{language}' is not a language code (like en, it, fr)")
                    continue
                if not isinstance(item, str | int | float) or isinstance(item, bool):
                    self.error((*path, language), f"text in {what} must be a string, got {_type_name(item)}")
                    continue
                values[language] = str(item)
            if not value:
                self.error(path, f"{what} is empty: give at least one language, like {{en: ...}}")
        else:
            self.error(path, f"{what} must be a string or a mapping of language → string, "
                             f"got {_type_name(value)}")
            return Text()
        limit = MAX_LENGTH[limit_key]
        for language, item in values.items():
            if not item.strip():
                self.error((*path, language) if isinstance(value, dict) else path, f"{what} is empty")
            elif len(item) > limit:
                self.error((*path, language) if isinstance(value, dict) else path,
                           f"{what} is {len(item)} characters long; the most is {limit}")
        return Text(values)

    def text_list(self, value: Any, path: PathKey, what: str, limit_key: str) -> TextList:
        if value is None:
            return TextList()
        raw: dict[str, Any] = {"en": value} if isinstance(value, list) else value
        if not isinstance(raw, dict):
            self.error(path, f"{what} must be a list or a mapping of language → list, got {_type_name(value)}")
            return TextList()
        values: dict[str, tuple[str, ...]] = {}
        for language, items in raw.items():
            item_path = path if isinstance(value, list) else (*path, language)
            if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
                self.key_error(item_path, f"'{language}' is not a language code (like en, it, fr)")
                continue
            if not isinstance(items, list):
                self.error(item_path, f"{what} must be a list, got {_type_name(items)}")
                continue
            clean: list[str] = []
            for index, item in enumerate(items):
                if not isinstance(item, str | int | float) or isinstance(item, bool):
                    self.error((*item_path, index), f"item of {what} must be a string")
                    continue
                if len(str(item)) > MAX_LENGTH[limit_key]:
                    self.error((*item_path, index), f"item of {what} is {len(str(item))} characters long; "
                                                    f"the most is {MAX_LENGTH[limit_key]}")
                clean.append(str(item))
            values[language] = tuple(clean)
        return TextList(values)


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def parse_playbook(source: str, file: str, category_default: str = "general") -> tuple[Playbook | None,
                                                                                        list[Problem]]:
    """Parse and validate one playbook. Returns the playbook (None when any error) and all problems."""
    try:
        parsed = parse_yaml(source)
    except YamlSyntaxError as exc:
        return None, [Problem(file, exc.position.line, exc.position.column, exc.message)]
    check = _Checker(file, parsed)
    for path, position in parsed.duplicates:
        where = "step" if len(path) == 2 and path[0] == "steps" else \
            "outcome" if len(path) == 2 and path[0] == "outcomes" else "key"
        check.error_at(position, f"duplicate {where} '{path[-1]}'")
    doc = check.mapping(parsed.data, (), "a playbook")
    if doc is None:
        return None, check.problems
    check.unknown_keys(doc, TOP_KEYS, (), "the playbook")
    for key in REQUIRED_TOP:
        if key not in doc:
            check.error((), f"missing required field '{key}'")

    playbook_id = check.identifier(doc.get("id"), ("id",), "id") if "id" in doc else None
    if playbook_id and len(playbook_id) > MAX_ID_LENGTH:
        check.error(("id",), f"id is {len(playbook_id)} characters long; the most is {MAX_ID_LENGTH}")
    title = check.text(doc.get("title"), ("title",), "title", "title", required="title" in doc)
    summary = check.text(doc.get("summary"), ("summary",), "summary", "summary", required="summary" in doc)
    principle = check.text(doc.get("principle"), ("principle",), "principle", "principle",
                           required="principle" in doc)
    triggers = check.text_list(doc.get("triggers"), ("triggers",), "triggers", "trigger")
    category = category_default
    if "category" in doc:
        category = check.identifier(doc["category"], ("category",), "category") or category_default
        if len(category) > MAX_ID_LENGTH:
            check.error(("category",), f"category is {len(category)} characters long; the most is {MAX_ID_LENGTH}")
    elif not ID_PATTERN.match(category_default) or len(category_default) > MAX_ID_LENGTH:
        check.error((), f"the folder name '{category_default}' cannot be a category: use lowercase letters, "
                        f"digits and '-', at most {MAX_ID_LENGTH} characters (or set 'category' in the file)")
    limits = _limits(check, doc.get("limits"))
    if "tags" in doc and not (isinstance(doc["tags"], list) and all(isinstance(t, str) for t in doc["tags"])):
        check.error(("tags",), "tags must be a list of strings")

    steps = _steps(check, doc.get("steps")) if "steps" in doc else {}
    outcomes = _outcomes(check, doc.get("outcomes")) if "outcomes" in doc else {}
    start = doc.get("start")
    if "start" in doc:
        if not isinstance(start, str):
            check.error(("start",), f"start must be a step id, got {_type_name(start)}")
        elif steps and start not in steps:
            check.error(("start",), f"start names unknown step '{start}'")
    if steps and outcomes and isinstance(start, str) and start in steps:
        _check_graph(check, start, steps, outcomes)
    on_timeout = _on_timeout(check, doc, outcomes)
    examples = _examples(check, doc.get("examples"), outcomes) if "examples" in doc else ()
    if outcomes and not any(o.favours_customer for o in outcomes.values()):
        check.error(("outcomes",), "no outcome favours the customer: mark at least one "
                                   "with 'favours_customer: true'")

    if any(p.severity == "error" for p in check.problems) or playbook_id is None:
        return None, check.problems
    return Playbook(
        id=playbook_id, title=title, summary=summary, category=category, triggers=triggers,
        principle=principle, limits=limits, start=str(start), steps=steps, outcomes=outcomes,
        version=content_version(source), source=source, path=file, on_timeout=on_timeout, examples=examples,
    ), check.problems


def _on_timeout(check: _Checker, doc: dict[Any, Any], outcomes: dict[str, Outcome]) -> str | None:
    """The optional outcome taken when no lead answers an escalation in time."""
    if "on_timeout" not in doc:
        return None
    value = doc["on_timeout"]
    if not isinstance(value, str):
        check.error(("on_timeout",), f"on_timeout must be an outcome id, got {_type_name(value)}")
        return None
    if outcomes and value not in outcomes:
        hint = process.extractOne(value, sorted(outcomes), scorer=fuzz.ratio, score_cutoff=70)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        check.error(("on_timeout",), f"on_timeout names unknown outcome '{value}'{suggestion}")
        return None
    return value


def _examples(check: _Checker, value: Any, outcomes: dict[str, Outcome]) -> tuple[Example, ...]:
    """Playbook tests: a list of {answers: [label, ...], expect: outcome-id}; `moments test` runs them."""
    if not isinstance(value, list):
        check.error(("examples",), f"examples must be a list of {{answers: [...], expect: ...}}, "
                                   f"got {_type_name(value)}")
        return ()
    examples: list[Example] = []
    for index, raw in enumerate(value):
        path: PathKey = ("examples", index)
        what = f"example {index + 1}"
        raw = check.mapping(raw, path, what)
        if raw is None:
            continue
        check.unknown_keys(raw, EXAMPLE_KEYS, path, what)
        ok = True
        for key in sorted(EXAMPLE_KEYS - set(raw)):
            check.error(path, f"missing required field '{key}' in {what}")
            ok = False
        answers = raw.get("answers")
        if "answers" in raw:
            if not isinstance(answers, list) or not answers:
                check.error((*path, "answers"), f"answers of {what} must be a list of button labels, "
                                                f"got {_type_name(answers) if answers != [] else 'an empty list'}")
                ok = False
            else:
                for number, answer in enumerate(answers, 1):
                    if not isinstance(answer, str):
                        hint = ' (quote "Yes" and "No")' if isinstance(answer, bool) else ""
                        check.error((*path, "answers", number - 1), f"answer {number} of {what} must be a "
                                                                     f"label, got {_type_name(answer)}{hint}")
                        ok = False
        expect = raw.get("expect")
        if "expect" in raw:
            if not isinstance(expect, str):
                check.error((*path, "expect"), f"expect of {what} must be an outcome id, got {_type_name(expect)}")
                ok = False
            elif outcomes and expect not in outcomes:
                hint = process.extractOne(expect, sorted(outcomes), scorer=fuzz.ratio, score_cutoff=70)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                check.error((*path, "expect"), f"expect of {what} names unknown outcome '{expect}'{suggestion}")
                ok = False
        if ok:
            pos = check.parsed.position(path)
            examples.append(Example(answers=tuple(answers), expect=str(expect), line=pos.line, column=pos.column))
    return tuple(examples)


def _limits(check: _Checker, value: Any) -> dict[str, Decimal]:
    if value is None:
        return {}
    mapping = check.mapping(value, ("limits",), "limits")
    if mapping is None:
        return {}
    limits: dict[str, Decimal] = {}
    for role, amount in mapping.items():
        if role not in ROLES:
            check.key_error(("limits", role), f"unknown role '{role}' in limits; roles are {', '.join(ROLES)}")
            continue
        try:
            number = Decimal(str(amount)) if not isinstance(amount, bool) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0:
            check.error(("limits", role), f"limit for {role} must be a number ≥ 0, got {amount!r}")
            continue
        limits[role] = number
    if "staff" in limits and "lead" in limits and limits["staff"] > limits["lead"]:
        check.error(("limits", "staff"), f"staff limit {limits['staff']} is above the lead limit {limits['lead']}")
    return limits


def _steps(check: _Checker, value: Any) -> dict[str, Step]:
    mapping = check.mapping(value, ("steps",), "steps")
    if not mapping:
        if mapping is not None:
            check.error(("steps",), "a playbook needs at least one step")
        return {}
    steps: dict[str, Step] = {}
    for step_id, body in mapping.items():
        path: PathKey = ("steps", step_id)
        if check.identifier(step_id, path, "a step id") is None:
            continue
        body = check.mapping(body, path, f"step '{step_id}'")
        if body is None:
            continue
        check.unknown_keys(body, STEP_KEYS, path, f"step '{step_id}'")
        ask = check.text(body.get("ask"), (*path, "ask"), f"the question of step '{step_id}'", "ask")
        options = _options(check, body.get("options"), path, step_id)
        steps[step_id] = Step(id=step_id, ask=ask, options=tuple(options))
    return steps


def _options(check: _Checker, value: Any, step_path: PathKey, step_id: str) -> list[Option]:
    path = (*step_path, "options")
    if not isinstance(value, list):
        check.error(path if value is not None else step_path,
                    f"step '{step_id}' needs 'options': a list of answers")
        return []
    if not MIN_OPTIONS <= len(value) <= MAX_OPTIONS:
        plural = "" if len(value) == 1 else "s"
        check.error(path, f"step '{step_id}' has {len(value)} option{plural}; give {MIN_OPTIONS} to {MAX_OPTIONS}")
    options: list[Option] = []
    for index, raw in enumerate(value):
        opt_path = (*path, index)
        what = f"option {index + 1} of step '{step_id}'"
        raw = check.mapping(raw, opt_path, what)
        if raw is None:
            continue
        check.unknown_keys(raw, OPTION_KEYS, opt_path, what)
        label = check.text(raw.get("label"), (*opt_path, "label"), f"the label of {what}", "label")
        has_next, has_outcome = "next" in raw, "outcome" in raw
        if has_next == has_outcome:
            check.error(opt_path, f"{what} must have exactly one of 'next' or 'outcome'"
                                  + (", not both" if has_next else ""))
            continue
        key = "next" if has_next else "outcome"
        target = raw[key]
        if not isinstance(target, str):
            check.error((*opt_path, key), f"'{key}' of {what} must be an id, got {_type_name(target)}")
            continue
        options.append(Option(label=label, next=target if has_next else None,
                              outcome=target if has_outcome else None))
    return options


def _outcomes(check: _Checker, value: Any) -> dict[str, Outcome]:
    mapping = check.mapping(value, ("outcomes",), "outcomes")
    if not mapping:
        if mapping is not None:
            check.error(("outcomes",), "a playbook needs at least two outcomes")
        return {}
    if len(mapping) < 2:
        check.error(("outcomes",), "a playbook needs at least two outcomes, so staff have a choice")
    outcomes: dict[str, Outcome] = {}
    for outcome_id, body in mapping.items():
        path: PathKey = ("outcomes", outcome_id)
        if check.identifier(outcome_id, path, "an outcome id") is None:
            continue
        body = check.mapping(body, path, f"outcome '{outcome_id}'")
        if body is None:
            continue
        check.unknown_keys(body, OUTCOME_KEYS, path, f"outcome '{outcome_id}'")
        what = f"outcome '{outcome_id}'"
        flags = {}
        for flag in ("money", "favours_customer"):
            flag_value = body.get(flag, False)
            if not isinstance(flag_value, bool):
                check.error((*path, flag), f"'{flag}' of {what} must be true or false")
                flag_value = False
            flags[flag] = flag_value
        outcomes[outcome_id] = Outcome(
            id=outcome_id,
            title=check.text(body.get("title"), (*path, "title"), f"the title of {what}", "title"),
            say=check.text(body.get("say"), (*path, "say"), f"'say' of {what}", "say", required=False),
            steps=check.text_list(body.get("steps"), (*path, "steps"), f"the steps of {what}", "outcome_step"),
            **flags,
        )
    return outcomes


def _check_graph(check: _Checker, start: str, steps: dict[str, Step], outcomes: dict[str, Outcome]) -> None:
    """Unknown targets, unreachable steps, cycles and unused outcomes."""
    used_outcomes: set[str] = set()
    for step in steps.values():
        for index, option in enumerate(step.options):
            opt_path: PathKey = ("steps", step.id, "options", index)
            if option.next is not None and option.next not in steps:
                check.error((*opt_path, "next"), f"option {index + 1} of step '{step.id}' goes to unknown "
                                                 f"step '{option.next}'")
            if option.outcome is not None:
                if option.outcome not in outcomes:
                    check.error((*opt_path, "outcome"), f"option {index + 1} of step '{step.id}' ends in "
                                                        f"unknown outcome '{option.outcome}'")
                used_outcomes.add(option.outcome)

    # Depth-first walk from start: grey nodes on the current path reveal cycles.
    reachable: set[str] = set()
    on_path: set[str] = set()
    reported: set[tuple[str, str]] = set()

    def walk(step_id: str) -> None:
        reachable.add(step_id)
        on_path.add(step_id)
        for index, option in enumerate(steps[step_id].options):
            target = option.next
            if target is None or target not in steps:
                continue
            if target in on_path:
                if (step_id, target) not in reported:
                    reported.add((step_id, target))
                    check.error(("steps", step_id, "options", index, "next"),
                                f"cycle: step '{step_id}' leads back to step '{target}'")
            elif target not in reachable:
                walk(target)
        on_path.discard(step_id)

    walk(start)
    for step_id in steps:
        if step_id not in reachable:
            check.error(("steps", step_id), f"step '{step_id}' can never be reached from start '{start}'")
    for outcome_id in outcomes:
        if outcome_id not in used_outcomes:
            check.error(("outcomes", outcome_id), f"outcome '{outcome_id}' is never used by any option")


def playbook_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def category_for(file: Path, root: Path) -> str:
    """The first subfolder under the playbooks root names the category."""
    try:
        parts = file.relative_to(root).parts
    except ValueError:
        return "general"
    return parts[0] if len(parts) > 1 else "general"


def load_files(files: Iterable[Path], root: Path | None = None, display_root: Path | None = None,
               languages: Iterable[str] | None = None) -> tuple[list[Playbook], list[Problem]]:
    """Load many files; ids must be unique across them. Warnings (bot/core/checks.py) never block loading:
    long paths, triggers two playbooks share, and, when `languages` is given, texts missing in one of them."""
    playbooks: list[Playbook] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for file in files:
        shown = _display(file, display_root)
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(shown, 1, 1, f"cannot read file: {exc}"))
            continue
        category = category_for(file, root) if root else "general"
        playbook, found = parse_playbook(source, shown, category)
        problems.extend(found)
        if playbook is None:
            continue
        if playbook.id in seen:
            pos = parse_yaml(source).position(("id",))
            problems.append(Problem(shown, pos.line, pos.column,
                                    f"duplicate playbook id '{playbook.id}' (also in {seen[playbook.id]}): "
                                    "it is the id of another playbook; give this one its own id "
                                    "(this file is skipped)"))
            continue
        seen[playbook.id] = shown
        playbooks.append(playbook)
    from bot.core.checks import check_playbooks  # checks reads playbooks; imported here to keep the layering flat

    problems.extend(check_playbooks(playbooks, languages))
    return playbooks, problems


def load_directory(root: Path, languages: Iterable[str] | None = None) -> tuple[list[Playbook], list[Problem]]:
    return load_files(playbook_files(root), root=root, display_root=root.parent, languages=languages)


def _display(file: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(file.relative_to(base))
        except ValueError:
            pass
    return str(file)
