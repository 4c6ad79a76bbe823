"""Authored training cards: YAML files in the training folder, checked like playbooks (file:line:column).

A file holds a list of cards under `cards:`. Each card is a situation, a question, 2 to 4 choices and the why:

    cards:
      - id: cost-of-a-gesture                  # unique across all files; [a-z0-9-], at most 40 characters
        title: The cost of a gesture           # optional: short name for lists
        scenario: A regular's coffee machine ... # optional: what is happening
        question: What do you do?              # required
        choices:                               # required: 2 to 4 texts, each a button (at most 40 characters)
          - Refund it in full
          - Send it away for repair
        answer: 1                              # required: the number of the right choice, counting from 1
        why: A lost regular costs ...          # required: the principle, in one to three sentences
        tags: [money]                          # optional: list of strings
        team: shop-1                           # optional: the card is only for this team
        playbook: refund-without-receipt       # optional: the playbook to open after answering

Texts follow the playbooks' conventions (a string is English, or a mapping language → string) and their
length limits: a choice is a button like a playbook label, the question is like a step's `ask`, the scenario
like an outcome's `say`, the why like a principle; question and scenario together must also fit one message.

Choices are shown in the order written: put the right one wherever it reads best, and not always first.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.core.loader import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    MAX_LENGTH,
    _Checker,
    _display,
    _type_name,
    did_you_mean,
    playbook_files,
    too_long,
)
from bot.core.problems import N_, Message, Problem
from bot.core.text import Text
from bot.core.training.card import Card, Choice
from bot.core.yamlpos import PathKey, YamlSyntaxError, parse_yaml

FILE_KEYS = {"cards"}
CARD_KEYS = {"id", "title", "scenario", "question", "choices", "answer", "why", "tags", "team", "playbook"}
REQUIRED = ("id", "question", "choices", "answer", "why")
MIN_CHOICES, MAX_CHOICES = 2, 4
# The playbook limit each card text follows (bot/core/loader.py MAX_LENGTH), so cards fit where playbooks do.
LIMIT_KEYS = {"title": "title", "scenario": "say", "question": "ask", "choice": "label", "why": "principle"}
MAX_MESSAGE = 1000  # question and scenario together: one short message, read at a glance mid-shift
MAX_TEAM_LENGTH = 64  # as config.yaml's team names
MAX_TAG_LENGTH = MAX_ID_LENGTH


def _has(text: Text, language: str) -> bool:
    """A language is covered by itself or, for a regional code (pt-BR), by its base language (pt)."""
    return language in text.values or language.split("-")[0] in text.values


def parse_cards(source: str, file: str, playbook_ids: set[str] | None = None,
                languages: Iterable[str] | None = None, *, seen: dict[str, str] | None = None,
                ) -> tuple[list[Card], list[Problem]]:
    """Parse and validate one training file: its valid cards and every problem.

    A card with an error is left out; the others of the file are kept. `playbook_ids`, when given, are the
    playbooks a card may link to (else `playbook:` is not checked); `languages` adds a warning for every text
    missing in one of them. `seen` (id → "file:line") carries ids across files, to report duplicates.
    """
    try:
        parsed = parse_yaml(source)
    except YamlSyntaxError as exc:
        return [], [Problem(file, exc.position.line, exc.position.column, exc.message)]
    check = _Checker(file, parsed)
    for path, position in parsed.duplicates:
        check.error_at(position, N_("duplicate key '%(name)s'", name=path[-1]))
    doc = check.mapping(parsed.data, (), N_("a training file (cards: followed by a list of cards)"))
    if doc is None:
        return [], check.problems
    check.unknown_keys(doc, FILE_KEYS, (), N_("the training file"))
    if "cards" not in doc:
        check.error((), N_("missing required field '%(field)s'", field="cards"))
        return [], check.problems
    raw_cards = doc["cards"]
    if not isinstance(raw_cards, list):
        check.error(("cards",), N_("cards must be a list of cards (- id: ...), got %(type)s",
                                   type=_type_name(raw_cards)))
        return [], check.problems
    if not raw_cards:
        pos = parsed.position(("cards",))
        check.problems.append(Problem(file, pos.line, pos.column, N_("no cards in this file"), severity="warning"))
    seen = {} if seen is None else seen
    wanted = sorted(set(languages or ()))
    cards: list[Card] = []
    for index, raw in enumerate(raw_cards):
        before = sum(1 for p in check.problems if p.severity == "error")
        card = _card(check, raw, ("cards", index), index, playbook_ids, wanted, seen)
        if card is not None and sum(1 for p in check.problems if p.severity == "error") == before:
            cards.append(card)
    return cards, check.problems


def _card(check: _Checker, raw: Any, path: PathKey, index: int, playbook_ids: set[str] | None,
          languages: list[str], seen: dict[str, str]) -> Card | None:
    what = N_("card %(number)s", number=index + 1)
    body = check.mapping(raw, path, what)
    if body is None:
        return None
    card_id = None
    if "id" in body:
        card_id = check.identifier(body["id"], (*path, "id"), N_("the id of %(what)s", what=what))
        if card_id is not None and len(card_id) > MAX_ID_LENGTH:
            check.error((*path, "id"), too_long(N_("the id of %(what)s", what=what), len(card_id), MAX_ID_LENGTH))
            card_id = None
    if card_id is not None:
        what = N_("card '%(card)s'", card=card_id)
    check.unknown_keys(body, CARD_KEYS, path, what)
    for key in REQUIRED:
        if key not in body:
            check.error(path, N_("missing required field '%(field)s' in %(what)s", field=key, what=what))
    labels = {"title": N_("the title of %(what)s", what=what), "scenario": N_("the scenario of %(what)s", what=what),
              "question": N_("the question of %(what)s", what=what), "why": N_("the why of %(what)s", what=what)}

    def text(key: str, required: bool = True) -> Text:
        return check.text(body.get(key), (*path, key), labels[key], LIMIT_KEYS[key], required=required and key in body)

    title = text("title", required=False)
    scenario = text("scenario", required=False)
    question = text("question")
    why = text("why")
    _message_length(check, (*path, "question"), what, question, scenario)
    choices = _choices(check, body.get("choices"), (*path, "choices"), what) if "choices" in body else []
    answer = _answer(check, body.get("answer"), (*path, "answer"), what, len(choices)) if "answer" in body else None
    tags = _tags(check, body.get("tags"), (*path, "tags"), what) if "tags" in body else ()
    team = _team(check, body.get("team"), (*path, "team"), what) if "team" in body else None
    playbook = _playbook(check, body.get("playbook"), (*path, "playbook"), what, playbook_ids) \
        if "playbook" in body else None

    if card_id is not None:
        pos = check.parsed.position((*path, "id"))
        if card_id in seen:
            check.error((*path, "id"), N_("duplicate card id '%(card)s' (also in %(where)s): give this card its own "
                                          "id (it is skipped)", card=card_id, where=seen[card_id]))
            return None
        seen[card_id] = f"{check.file}:{pos.line}"
    if languages:
        texts: list[tuple[str | tuple[str, int], Text, Message]] = [
            (key, value, labels[key]) for key, value in
            (("title", title), ("scenario", scenario), ("question", question), ("why", why))]
        texts += [(("choices", number), choice, N_("choice %(number)s of %(what)s", number=number + 1, what=what))
                  for number, choice in enumerate(choices)]
        for key, value, label in texts:
            if not value:
                continue
            where = (*path, *key) if isinstance(key, tuple) else (*path, key)
            for language in languages:
                if not _has(value, language):
                    pos = check.parsed.position(where)
                    check.problems.append(Problem(check.file, pos.line, pos.column,
                                                  N_("%(what)s has no '%(language)s' text", what=label,
                                                     language=language), severity="warning"))
    if card_id is None or answer is None or len(choices) < MIN_CHOICES or not question or not why:
        return None
    return Card(key=f"authored:{card_id}", source="authored", question=question,
                choices=tuple(Choice(text=choice, correct=number == answer) for number, choice in enumerate(choices)),
                why=why, scenario=scenario, playbook_id=playbook, team=team, tags=tags, title=title)


def _message_length(check: _Checker, path: PathKey, what: Message, question: Text, scenario: Text) -> None:
    """Question and scenario are one message: each may be within its own limit and still be too long together."""
    if not question or not scenario:
        return
    for language in sorted({*question.values, *scenario.values}):
        q, s = question.get(language), scenario.get(language)
        if len(q) > MAX_LENGTH[LIMIT_KEYS["question"]] or len(s) > MAX_LENGTH[LIMIT_KEYS["scenario"]]:
            continue  # already reported as too long on its own
        if len(q) + len(s) > MAX_MESSAGE:
            check.error(path, N_("the question and scenario of %(what)s are %(length)s characters long together "
                                 "('%(language)s'); the most is %(limit)s", what=what, length=len(q) + len(s),
                                 language=language, limit=MAX_MESSAGE))


def _choices(check: _Checker, value: Any, path: PathKey, what: Message) -> list[Text]:
    """The 2 to 4 texts, in order; an error for a wrong count and for two choices that read the same."""
    if not isinstance(value, list):
        check.error(path, N_("the choices of %(what)s must be a list of texts (- ...), got %(type)s", what=what,
                             type=_type_name(value)))
        return []
    if not MIN_CHOICES <= len(value) <= MAX_CHOICES:
        check.error(path, N_("%(what)s has %(count)s choice(s); give %(least)s to %(most)s", what=what,
                             count=len(value), least=MIN_CHOICES, most=MAX_CHOICES))
    choices: list[Text] = []
    for number, item in enumerate(value):
        if isinstance(item, dict) and {"text", "correct", "label"} & set(item):
            # The shape other quiz formats use; here a choice is only its text, and `answer:` marks the right one.
            check.error((*path, number), N_("choice %(number)s of %(what)s must be a text (a string or "
                                            "{en: ..., it: ...}); mark the right choice with 'answer: N'",
                                            number=number + 1, what=what))
            choices.append(Text())
            continue
        choice = check.text(item, (*path, number), N_("choice %(number)s of %(what)s", number=number + 1, what=what),
                            LIMIT_KEYS["choice"])
        for earlier, other in enumerate(choices):
            shared = [lang for lang in choice.values if lang in other.values
                      and choice.values[lang].strip().casefold() == other.values[lang].strip().casefold()]
            if choice and shared:
                check.error((*path, number), N_("choice %(number)s of %(what)s is the same as choice %(earlier)s",
                                                number=number + 1, what=what, earlier=earlier + 1))
                break
        choices.append(choice)
    return choices


def _answer(check: _Checker, value: Any, path: PathKey, what: Message, count: int) -> int | None:
    """The right choice, 1-based in the file, 0-based in the result. Exactly one: a list is refused."""
    top = count if MIN_CHOICES <= count <= MAX_CHOICES else MAX_CHOICES
    if isinstance(value, list):
        check.error(path, N_("the answer of %(what)s must be one number: a card has exactly one right choice",
                             what=what))
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
        check.error(path, N_("the answer of %(what)s must be the number of the right choice, 1 to %(top)s, "
                             "got %(value)s", what=what, top=top, value=repr(value)))
        return None
    return value - 1


def _tags(check: _Checker, value: Any, path: PathKey, what: Message) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        check.error(path, N_("the tags of %(what)s must be a list of strings", what=what))
        return ()
    for number, tag in enumerate(value):
        if len(tag) > MAX_TAG_LENGTH:
            check.error((*path, number), too_long(N_("tag %(number)s of %(what)s", number=number + 1, what=what),
                                                  len(tag), MAX_TAG_LENGTH))
    return tuple(value)


def _team(check: _Checker, value: Any, path: PathKey, what: Message) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEAM_LENGTH:
        check.error(path, N_("the team of %(what)s must be a team name (at most %(limit)s characters), got %(value)s",
                             what=what, limit=MAX_TEAM_LENGTH, value=repr(value)))
        return None
    return value


def _playbook(check: _Checker, value: Any, path: PathKey, what: Message, playbook_ids: set[str] | None,
              ) -> str | None:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        check.error(path, N_("the playbook of %(what)s must be a playbook id, got %(value)s", what=what,
                             value=repr(value)))
        return None
    if playbook_ids is not None and value not in playbook_ids:
        # A warning: the card still teaches; only the "open the playbook" button would have nowhere to go.
        pos = check.parsed.position(path)
        check.problems.append(Problem(check.file, pos.line, pos.column,
                                      N_("the playbook of %(what)s names unknown playbook '%(playbook)s'%(suggestion)s",
                                         what=what, playbook=value, suggestion=did_you_mean(value, playbook_ids)),
                                      severity="warning"))
        return None
    return value


def training_files(root: Path) -> list[Path]:
    """Every .yaml/.yml file under the training folder, sorted (the same rule as for playbooks)."""
    return playbook_files(root)


def load_training_files(files: Iterable[Path], playbook_ids: set[str] | None = None,
                        languages: Iterable[str] | None = None, display_root: Path | None = None,
                        ) -> tuple[list[Card], list[Problem]]:
    """Cards and problems of many files; card ids must be unique across them."""
    cards: list[Card] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    wanted = list(languages or ())
    for file in files:
        shown = _display(file, display_root)
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(shown, 1, 1, N_("cannot read file: %(error)s", error=str(exc))))
            continue
        found_cards, found = parse_cards(source, shown, playbook_ids, wanted, seen=seen)
        cards.extend(found_cards)
        problems.extend(found)
    return cards, problems


def load_training_directory(root: Path, playbook_ids: set[str] | None = None,
                            languages: Iterable[str] | None = None) -> tuple[list[Card], list[Problem]]:
    """Every authored card under `root`. A folder that does not exist holds no cards and no problems."""
    if not root.is_dir():
        return [], []
    return load_training_files(training_files(root), playbook_ids, languages, display_root=root.parent)


def is_training_source(source: str) -> bool:
    """Whether a YAML text is a training file: a mapping with `cards:` at the top (for `moments lint`)."""
    try:
        data = parse_yaml(source).data
    except YamlSyntaxError:
        return False
    return isinstance(data, dict) and "cards" in data
