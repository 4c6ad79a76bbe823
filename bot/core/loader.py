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
from bot.core.problems import N_, Message, Problem
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

    def error(self, path: PathKey, message: Message) -> None:
        self.error_at(self.parsed.position(path), message)

    def key_error(self, path: PathKey, message: Message) -> None:
        """An error about a mapping key (unknown field, bad language code): point at the key."""
        self.error_at(self.parsed.key_position(path), message)

    def error_at(self, pos: Position, message: Message | str) -> None:
        self.problems.append(Problem(self.file, pos.line, pos.column, message))

    def unknown_keys(self, mapping: dict[Any, Any], allowed: set[str], path: PathKey, what: Message) -> None:
        for key in mapping:
            if key not in allowed:
                self.key_error((*path, key), N_("unknown field '%(key)s' in %(what)s%(suggestion)s", key=key,
                                                what=what, suggestion=did_you_mean(str(key), allowed)))

    def mapping(self, value: Any, path: PathKey, what: Message) -> dict[Any, Any] | None:
        if not isinstance(value, dict):
            self.error(path, N_("%(what)s must be a mapping, got %(type)s", what=what, type=_type_name(value)))
            return None
        return value

    def identifier(self, value: Any, path: PathKey, what: Message) -> str | None:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.error(path, N_("%(what)s must be lowercase letters, digits and '-', got %(value)s", what=what,
                                value=repr(value)))
            return None
        return value

    def text(self, value: Any, path: PathKey, what: Message, limit_key: str, required: bool = True) -> Text:
        if value is None:
            if required:
                self.error(path, N_("missing required field '%(field)s' in %(what)s", field=path[-1], what=what))
            return Text()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            values = {"en": str(value)}
        elif isinstance(value, dict):
            values = {}
            for language, item in value.items():
                if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
                    self.key_error((*path, language), not_a_language(language))
                    continue
                if not isinstance(item, str | int | float) or isinstance(item, bool):
                    self.error((*path, language), N_("text in %(what)s must be a string, got %(type)s", what=what,
                                                     type=_type_name(item)))
                    continue
                values[language] = str(item)
            if not value:
                self.error(path, N_("%(what)s is empty: give at least one language, like {en: ...}", what=what))
        else:
            self.error(path, N_("%(what)s must be a string or a mapping of language → string, got %(type)s",
                                what=what, type=_type_name(value)))
            return Text()
        limit = MAX_LENGTH[limit_key]
        for language, item in values.items():
            if not item.strip():
                self.error((*path, language) if isinstance(value, dict) else path, N_("%(what)s is empty", what=what))
            elif len(item) > limit:
                self.error((*path, language) if isinstance(value, dict) else path, too_long(what, len(item), limit))
        return Text(values)

    def text_list(self, value: Any, path: PathKey, what: Message, limit_key: str) -> TextList:
        if value is None:
            return TextList()
        raw: dict[str, Any] = {"en": value} if isinstance(value, list) else value
        if not isinstance(raw, dict):
            self.error(path, N_("%(what)s must be a list or a mapping of language → list, got %(type)s", what=what,
                                type=_type_name(value)))
            return TextList()
        values: dict[str, tuple[str, ...]] = {}
        for language, items in raw.items():
            item_path = path if isinstance(value, list) else (*path, language)
            if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
                self.key_error(item_path, not_a_language(language))
                continue
            if not isinstance(items, list):
                self.error(item_path, N_("%(what)s must be a list, got %(type)s", what=what, type=_type_name(items)))
                continue
            clean: list[str] = []
            for index, item in enumerate(items):
                if not isinstance(item, str | int | float) or isinstance(item, bool):
                    self.error((*item_path, index), N_("item of %(what)s must be a string", what=what))
                    continue
                if len(str(item)) > MAX_LENGTH[limit_key]:
                    self.error((*item_path, index), too_long(N_("item of %(what)s", what=what), len(str(item)),
                                                             MAX_LENGTH[limit_key]))
                clean.append(str(item))
            values[language] = tuple(clean)
        return TextList(values)


def _type_name(value: Any) -> Message | str:
    names = {dict: N_("a mapping"), list: N_("a list"), str: N_("a string"), bool: N_("true/false"),
             int: N_("a number"), float: N_("a number"), type(None): N_("nothing")}
    return names.get(type(value), type(value).__name__)


def did_you_mean(value: str, known: Iterable[str]) -> Message | str:
    """" (did you mean 'x'?)" for the closest known name, or nothing."""
    hint = process.extractOne(value, sorted(known), scorer=fuzz.ratio, score_cutoff=70)
    return N_(" (did you mean '%(name)s'?)", name=hint[0]) if hint else ""


def too_long(what: Message | str, length: int, limit: int) -> Message:
    return N_("%(what)s is %(length)s characters long; the most is %(limit)s", what=what, length=length, limit=limit)


def not_a_language(code: object) -> Message:
    return N_("'%(code)s' is not a language code (like en, it, fr)", code=code)


def parse_playbook(source: str, file: str, category_default: str = "general") -> tuple[Playbook | None,
                                                                                        list[Problem]]:
    """Parse and validate one playbook. Returns the playbook (None when any error) and all problems."""
    try:
        parsed = parse_yaml(source)
    except YamlSyntaxError as exc:
        return None, [Problem(file, exc.position.line, exc.position.column, exc.message)]
    check = _Checker(file, parsed)
    for path, position in parsed.duplicates:
        if len(path) == 2 and path[0] == "steps":
            check.error_at(position, N_("duplicate step '%(name)s'", name=path[-1]))
        elif len(path) == 2 and path[0] == "outcomes":
            check.error_at(position, N_("duplicate outcome '%(name)s'", name=path[-1]))
        else:
            check.error_at(position, N_("duplicate key '%(name)s'", name=path[-1]))
    doc = check.mapping(parsed.data, (), N_("a playbook"))
    if doc is None:
        return None, check.problems
    check.unknown_keys(doc, TOP_KEYS, (), N_("the playbook"))
    for key in REQUIRED_TOP:
        if key not in doc:
            check.error((), N_("missing required field '%(field)s'", field=key))

    playbook_id = check.identifier(doc.get("id"), ("id",), N_("id")) if "id" in doc else None
    if playbook_id and len(playbook_id) > MAX_ID_LENGTH:
        check.error(("id",), too_long(N_("id"), len(playbook_id), MAX_ID_LENGTH))
    title = check.text(doc.get("title"), ("title",), N_("title"), "title", required="title" in doc)
    summary = check.text(doc.get("summary"), ("summary",), N_("summary"), "summary", required="summary" in doc)
    principle = check.text(doc.get("principle"), ("principle",), N_("principle"), "principle",
                           required="principle" in doc)
    triggers = check.text_list(doc.get("triggers"), ("triggers",), N_("triggers"), "trigger")
    category = category_default
    if "category" in doc:
        category = check.identifier(doc["category"], ("category",), N_("category")) or category_default
        if len(category) > MAX_ID_LENGTH:
            check.error(("category",), too_long(N_("category"), len(category), MAX_ID_LENGTH))
    elif not ID_PATTERN.match(category_default) or len(category_default) > MAX_ID_LENGTH:
        check.error((), N_("the folder name '%(folder)s' cannot be a category: use lowercase letters, digits and "
                           "'-', at most %(limit)s characters (or set 'category' in the file)",
                           folder=category_default, limit=MAX_ID_LENGTH))
    limits = _limits(check, doc.get("limits"))
    if "tags" in doc and not (isinstance(doc["tags"], list) and all(isinstance(t, str) for t in doc["tags"])):
        check.error(("tags",), N_("tags must be a list of strings"))

    steps = _steps(check, doc.get("steps")) if "steps" in doc else {}
    outcomes = _outcomes(check, doc.get("outcomes")) if "outcomes" in doc else {}
    start = doc.get("start")
    if "start" in doc:
        if not isinstance(start, str):
            check.error(("start",), N_("start must be a step id, got %(type)s", type=_type_name(start)))
        elif steps and start not in steps:
            check.error(("start",), N_("start names unknown step '%(step)s'", step=start))
    if steps and outcomes and isinstance(start, str) and start in steps:
        _check_graph(check, start, steps, outcomes)
    on_timeout = _on_timeout(check, doc, outcomes)
    examples = _examples(check, doc.get("examples"), outcomes) if "examples" in doc else ()
    if outcomes and not any(o.favours_customer for o in outcomes.values()):
        check.error(("outcomes",), N_("no outcome favours the customer: mark at least one "
                                      "with 'favours_customer: true'"))

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
        check.error(("on_timeout",), N_("on_timeout must be an outcome id, got %(type)s", type=_type_name(value)))
        return None
    if outcomes and value not in outcomes:
        check.error(("on_timeout",), N_("on_timeout names unknown outcome '%(outcome)s'%(suggestion)s",
                                        outcome=value, suggestion=did_you_mean(value, outcomes)))
        return None
    return value


def _examples(check: _Checker, value: Any, outcomes: dict[str, Outcome]) -> tuple[Example, ...]:
    """Playbook tests: a list of {answers: [label, ...], expect: outcome-id}; `moments test` runs them."""
    if not isinstance(value, list):
        check.error(("examples",), N_("examples must be a list of {answers: [...], expect: ...}, got %(type)s",
                                      type=_type_name(value)))
        return ()
    examples: list[Example] = []
    for index, raw in enumerate(value):
        path: PathKey = ("examples", index)
        what = N_("example %(number)s", number=index + 1)
        raw = check.mapping(raw, path, what)
        if raw is None:
            continue
        check.unknown_keys(raw, EXAMPLE_KEYS, path, what)
        ok = True
        for key in sorted(EXAMPLE_KEYS - set(raw)):
            check.error(path, N_("missing required field '%(field)s' in %(what)s", field=key, what=what))
            ok = False
        answers = raw.get("answers")
        if "answers" in raw:
            if not isinstance(answers, list) or not answers:
                check.error((*path, "answers"), N_("answers of %(what)s must be a list of button labels, got %(type)s",
                                                   what=what, type=_type_name(answers) if answers != []
                                                   else N_("an empty list")))
                ok = False
            else:
                for number, answer in enumerate(answers, 1):
                    if not isinstance(answer, str):
                        hint = N_(' (quote "Yes" and "No")') if isinstance(answer, bool) else ""
                        check.error((*path, "answers", number - 1),
                                    N_("answer %(number)s of %(what)s must be a label, got %(type)s%(hint)s",
                                       number=number, what=what, type=_type_name(answer), hint=hint))
                        ok = False
        expect = raw.get("expect")
        if "expect" in raw:
            if not isinstance(expect, str):
                check.error((*path, "expect"), N_("expect of %(what)s must be an outcome id, got %(type)s", what=what,
                                                  type=_type_name(expect)))
                ok = False
            elif outcomes and expect not in outcomes:
                check.error((*path, "expect"), N_("expect of %(what)s names unknown outcome '%(outcome)s'"
                                                  "%(suggestion)s", what=what, outcome=expect,
                                                  suggestion=did_you_mean(expect, outcomes)))
                ok = False
        if ok:
            pos = check.parsed.position(path)
            examples.append(Example(answers=tuple(answers), expect=str(expect), line=pos.line, column=pos.column))
    return tuple(examples)


def _limits(check: _Checker, value: Any) -> dict[str, Decimal]:
    if value is None:
        return {}
    mapping = check.mapping(value, ("limits",), N_("limits"))
    if mapping is None:
        return {}
    limits: dict[str, Decimal] = {}
    for role, amount in mapping.items():
        if role not in ROLES:
            check.key_error(("limits", role), N_("unknown role '%(role)s' in limits; roles are %(roles)s", role=role,
                                                 roles=", ".join(ROLES)))
            continue
        try:
            number = Decimal(str(amount)) if not isinstance(amount, bool) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0:
            check.error(("limits", role), N_("limit for %(role)s must be a number ≥ 0, got %(amount)s", role=role,
                                             amount=repr(amount)))
            continue
        limits[role] = number
    if "staff" in limits and "lead" in limits and limits["staff"] > limits["lead"]:
        check.error(("limits", "staff"), N_("staff limit %(staff)s is above the lead limit %(lead)s",
                                            staff=limits["staff"], lead=limits["lead"]))
    return limits


def _steps(check: _Checker, value: Any) -> dict[str, Step]:
    mapping = check.mapping(value, ("steps",), N_("steps"))
    if not mapping:
        if mapping is not None:
            check.error(("steps",), N_("a playbook needs at least one step"))
        return {}
    steps: dict[str, Step] = {}
    for step_id, body in mapping.items():
        path: PathKey = ("steps", step_id)
        if check.identifier(step_id, path, N_("a step id")) is None:
            continue
        step = N_("step '%(step)s'", step=step_id)
        body = check.mapping(body, path, step)
        if body is None:
            continue
        check.unknown_keys(body, STEP_KEYS, path, step)
        ask = check.text(body.get("ask"), (*path, "ask"), N_("the question of %(what)s", what=step), "ask")
        options = _options(check, body.get("options"), path, step_id)
        steps[step_id] = Step(id=step_id, ask=ask, options=tuple(options))
    return steps


def _options(check: _Checker, value: Any, step_path: PathKey, step_id: str) -> list[Option]:
    path = (*step_path, "options")
    if not isinstance(value, list):
        check.error(path if value is not None else step_path,
                    N_("step '%(step)s' needs 'options': a list of answers", step=step_id))
        return []
    if not MIN_OPTIONS <= len(value) <= MAX_OPTIONS:
        check.error(path, N_("step '%(step)s' has %(count)s options; give %(least)s to %(most)s", step=step_id,
                             count=len(value), least=MIN_OPTIONS, most=MAX_OPTIONS)
                    if len(value) != 1 else
                    N_("step '%(step)s' has 1 option; give %(least)s to %(most)s", step=step_id, least=MIN_OPTIONS,
                       most=MAX_OPTIONS))
    options: list[Option] = []
    for index, raw in enumerate(value):
        opt_path = (*path, index)
        what = N_("option %(number)s of step '%(step)s'", number=index + 1, step=step_id)
        raw = check.mapping(raw, opt_path, what)
        if raw is None:
            continue
        check.unknown_keys(raw, OPTION_KEYS, opt_path, what)
        label = check.text(raw.get("label"), (*opt_path, "label"), N_("the label of %(what)s", what=what), "label")
        has_next, has_outcome = "next" in raw, "outcome" in raw
        if has_next == has_outcome:
            check.error(opt_path, N_("%(what)s must have exactly one of 'next' or 'outcome', not both", what=what)
                        if has_next else N_("%(what)s must have exactly one of 'next' or 'outcome'", what=what))
            continue
        key = "next" if has_next else "outcome"
        target = raw[key]
        if not isinstance(target, str):
            check.error((*opt_path, key), N_("'%(key)s' of %(what)s must be an id, got %(type)s", key=key, what=what,
                                             type=_type_name(target)))
            continue
        options.append(Option(label=label, next=target if has_next else None,
                              outcome=target if has_outcome else None))
    return options


def _outcomes(check: _Checker, value: Any) -> dict[str, Outcome]:
    mapping = check.mapping(value, ("outcomes",), N_("outcomes"))
    if not mapping:
        if mapping is not None:
            check.error(("outcomes",), N_("a playbook needs at least two outcomes"))
        return {}
    if len(mapping) < 2:
        check.error(("outcomes",), N_("a playbook needs at least two outcomes, so staff have a choice"))
    outcomes: dict[str, Outcome] = {}
    for outcome_id, body in mapping.items():
        path: PathKey = ("outcomes", outcome_id)
        if check.identifier(outcome_id, path, N_("an outcome id")) is None:
            continue
        what = N_("outcome '%(outcome)s'", outcome=outcome_id)
        body = check.mapping(body, path, what)
        if body is None:
            continue
        check.unknown_keys(body, OUTCOME_KEYS, path, what)
        flags = {}
        for flag in ("money", "favours_customer"):
            flag_value = body.get(flag, False)
            if not isinstance(flag_value, bool):
                check.error((*path, flag), N_("'%(flag)s' of %(what)s must be true or false", flag=flag, what=what))
                flag_value = False
            flags[flag] = flag_value
        outcomes[outcome_id] = Outcome(
            id=outcome_id,
            title=check.text(body.get("title"), (*path, "title"), N_("the title of %(what)s", what=what), "title"),
            say=check.text(body.get("say"), (*path, "say"), N_("'say' of %(what)s", what=what), "say",
                           required=False),
            steps=check.text_list(body.get("steps"), (*path, "steps"), N_("the steps of %(what)s", what=what),
                                  "outcome_step"),
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
                check.error((*opt_path, "next"), N_("option %(number)s of step '%(step)s' goes to unknown step "
                                                    "'%(target)s'", number=index + 1, step=step.id,
                                                    target=option.next))
            if option.outcome is not None:
                if option.outcome not in outcomes:
                    check.error((*opt_path, "outcome"), N_("option %(number)s of step '%(step)s' ends in unknown "
                                                           "outcome '%(outcome)s'", number=index + 1, step=step.id,
                                                           outcome=option.outcome))
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
                                N_("cycle: step '%(step)s' leads back to step '%(target)s'", step=step_id,
                                   target=target))
            elif target not in reachable:
                walk(target)
        on_path.discard(step_id)

    walk(start)
    for step_id in steps:
        if step_id not in reachable:
            check.error(("steps", step_id), N_("step '%(step)s' can never be reached from start '%(start)s'",
                                               step=step_id, start=start))
    for outcome_id in outcomes:
        if outcome_id not in used_outcomes:
            check.error(("outcomes", outcome_id), N_("outcome '%(outcome)s' is never used by any option",
                                                     outcome=outcome_id))


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
            problems.append(Problem(shown, 1, 1, N_("cannot read file: %(error)s", error=str(exc))))
            continue
        category = category_for(file, root) if root else "general"
        playbook, found = parse_playbook(source, shown, category)
        problems.extend(found)
        if playbook is None:
            continue
        if playbook.id in seen:
            pos = parse_yaml(source).position(("id",))
            problems.append(Problem(shown, pos.line, pos.column,
                                    N_("duplicate playbook id '%(id)s' (also in %(file)s): it is the id of another "
                                       "playbook; give this one its own id (this file is skipped)",
                                       id=playbook.id, file=seen[playbook.id])))
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
