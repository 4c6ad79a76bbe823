"""Training cards generated from playbooks: one card per path from the first question to an outcome.

A card replays a path: the scenario is the playbook's summary, the facts are the questions asked on the way
with the answers given, and the choices are the path's outcome (the right one) and up to three other outcomes
of the same playbook. The why is the playbook's principle.

Generated cards carry an **empty question**: the text shown above the choices ("What do you do?") is the same
for every generated card and lives with the other user-visible texts, so the template that renders a card
supplies it whenever `card.question` is empty. Authored cards always have their own question.

A card's key names the steps and the outcome, never the texts: rewording a question, a label or a title keeps
the key, so people keep their progress; changing where an answer leads makes a new key (a new card).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.core.playbook import Playbook
from bot.core.problems import N_, Problem
from bot.core.text import Text
from bot.core.training.card import Card, Choice, Fact
from bot.core.yamlpos import YamlSyntaxError, parse_yaml

# A playbook with many branches would flood everyone's queue with near-identical cards: at most this many per
# playbook, chosen so that every outcome is the right answer of at least one card (see `_select`).
MAX_CARDS_PER_PLAYBOOK = 12
# Paths can grow exponentially with the number of steps that branch and merge again; stop walking after these.
MAX_PATHS_WALKED = 1000
MAX_CHOICES = 4  # the right outcome and up to three distractors: four buttons fit any phone


@dataclass(frozen=True)
class PlaybookPath:
    """One way through a playbook: the steps asked, the option chosen at each, the outcome reached."""

    playbook_id: str
    steps: tuple[str, ...]
    options: tuple[int, ...]  # index of the option chosen at each step
    outcome: str

    @property
    def key(self) -> str:
        return f"playbook:{self.playbook_id}/{'>'.join(self.steps)}>{self.outcome}"


def playbook_paths(pb: Playbook, limit: int = MAX_PATHS_WALKED) -> list[PlaybookPath]:
    """Every distinct path from `pb.start` to an outcome, in the order of the options (depth first).

    When two options of a step lead to the same place, only the first is followed: the other would make a
    card with the same key. Targets that do not exist and cycles (possible only in playbooks built in code;
    the loader refuses them) are skipped. Stops after `limit` paths.
    """
    found: list[PlaybookPath] = []

    def walk(step_id: str, steps: tuple[str, ...], options: tuple[int, ...]) -> None:
        step = pb.steps.get(step_id)
        if step is None or step_id in steps:
            return
        steps = (*steps, step_id)
        taken: set[tuple[str, str]] = set()
        for index, option in enumerate(step.options):
            if len(found) >= limit:
                return
            target = ("outcome", option.outcome) if option.outcome is not None else ("next", option.next or "")
            if target in taken:
                continue
            taken.add(target)
            if option.outcome is not None:
                if option.outcome in pb.outcomes:
                    found.append(PlaybookPath(pb.id, steps, (*options, index), option.outcome))
            elif option.next is not None:
                walk(option.next, steps, (*options, index))

    walk(pb.start, (), ())
    return found


def _select(pb: Playbook, paths: list[PlaybookPath], cap: int) -> list[PlaybookPath]:
    """At most `cap` paths: first the first path to each outcome (outcomes as declared), then the others in
    walk order; the result keeps walk order, so the same playbook always gives the same cards."""
    if len(paths) <= cap:
        return paths
    chosen: set[int] = set()
    for outcome_id in pb.outcomes:
        if len(chosen) >= cap:
            break
        first = next((i for i, path in enumerate(paths) if path.outcome == outcome_id), None)
        if first is not None:
            chosen.add(first)
    for index in range(len(paths)):
        if len(chosen) >= cap:
            break
        chosen.add(index)
    return [paths[i] for i in sorted(chosen)]


def _outcomes_below(pb: Playbook, step_id: str) -> Iterator[str]:
    """Outcomes reachable from a step, in walk order (each once)."""
    seen_steps: set[str] = set()
    stack = [step_id]
    while stack:
        current = stack.pop()
        if current in seen_steps or current not in pb.steps:
            continue
        seen_steps.add(current)
        nexts: list[str] = []
        for option in pb.steps[current].options:
            if option.outcome is not None:
                yield option.outcome
            elif option.next is not None:
                nexts.append(option.next)
        stack.extend(reversed(nexts))  # depth first in option order


def _same_text(a: Text, b: Text) -> bool:
    """Two titles a person would read as the same choice, in any language either has."""
    return any(a.get(language).strip().casefold() == b.get(language).strip().casefold()
               for language in {*a.values, *b.values})


def _distractors(pb: Playbook, path: PlaybookPath) -> list[str]:
    """Up to three wrong outcomes, the most plausible first: those an answer of a question on the path ends
    in (nearest the end first), then those further down another branch of those questions, then the rest."""
    ranked: list[str] = []
    for step_id in reversed(path.steps):
        ranked.extend(o.outcome for o in pb.steps[step_id].options if o.outcome is not None)
    for step_id in reversed(path.steps):
        ranked.extend(_outcomes_below(pb, step_id))
    ranked.extend(pb.outcomes)
    right = pb.outcomes[path.outcome].title
    picked: list[str] = []
    for outcome_id in ranked:
        if len(picked) == MAX_CHOICES - 1:
            break
        if outcome_id == path.outcome or outcome_id in picked or outcome_id not in pb.outcomes:
            continue
        # A distractor that reads like the right answer (or like another distractor) is no choice at all.
        title = pb.outcomes[outcome_id].title
        if _same_text(title, right) or any(_same_text(title, pb.outcomes[p].title) for p in picked):
            continue
        picked.append(outcome_id)
    return picked


def _order(key: str, outcome_id: str) -> str:
    """Where a choice goes: a hash, so the order is stable for a card yet the right one is not always first."""
    return hashlib.sha256(f"{key}|{outcome_id}".encode()).hexdigest()


def card_for_path(pb: Playbook, path: PlaybookPath) -> Card:
    facts = tuple(Fact(ask=pb.steps[step_id].ask, answer=pb.steps[step_id].options[index].label)
                  for step_id, index in zip(path.steps, path.options, strict=True))
    outcome_ids = sorted([path.outcome, *_distractors(pb, path)], key=lambda o: _order(path.key, o))
    choices = tuple(Choice(text=pb.outcomes[o].title, correct=o == path.outcome, outcome=o) for o in outcome_ids)
    return Card(key=path.key, source="playbook", question=Text(), choices=choices, why=pb.principle,
                scenario=pb.summary, facts=facts, playbook_id=pb.id, tags=(pb.category,), title=pb.title)


def cards_from_playbook(pb: Playbook) -> list[Card]:
    """The playbook's cards: one per distinct path (at most MAX_CARDS_PER_PLAYBOOK), each with 2-4 choices.

    A path whose outcome has no distinct alternative (the other outcomes all bear its title) gives no card:
    one choice is no question. `check_generated` reports it.
    """
    paths = _select(pb, playbook_paths(pb), MAX_CARDS_PER_PLAYBOOK)
    return [card for card in (card_for_path(pb, path) for path in paths) if len(card.choices) >= 2]


def cards_from_playbooks(playbooks: Iterable[Playbook]) -> list[Card]:
    return [card for pb in playbooks for card in cards_from_playbook(pb)]


def check_generated(playbooks: Iterable[Playbook]) -> list[Problem]:
    """Warnings for `moments lint`: paths that cannot become a card. The loader already demands two outcomes,
    each used, so this only happens when outcomes share a title; it never blocks anything."""
    problems: list[Problem] = []
    for pb in playbooks:
        for path in _select(pb, playbook_paths(pb), MAX_CARDS_PER_PLAYBOOK):
            if len(card_for_path(pb, path).choices) >= 2:
                continue
            try:
                pos = parse_yaml(pb.source).position(("outcomes", path.outcome, "title"))
                line, column = pos.line, pos.column
            except YamlSyntaxError:  # built in code, not from a file: no positions
                line, column = 1, 1
            problems.append(Problem(
                pb.path, line, column,
                N_("no training card for the path %(path)s > %(outcome)s: every other outcome has the same title "
                   "as '%(outcome)s', so there is nothing to choose from; give outcomes distinct titles",
                   path=" > ".join(path.steps), outcome=path.outcome), severity="warning"))
    return problems
