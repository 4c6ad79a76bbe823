"""Training cards: generated from playbooks (one per path), authored in YAML, and checked by `moments lint`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.loader import load_directory, parse_playbook
from bot.core.playbook import Playbook
from bot.core.training.authored import is_training_source, load_training_directory, load_training_files, parse_cards
from bot.core.training.card import Card
from bot.core.training.generate import (
    MAX_CARDS_PER_PLAYBOOK,
    cards_from_playbook,
    cards_from_playbooks,
    check_generated,
    playbook_paths,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "playbooks"
TRAINING = ROOT / "training"
DOCS = ROOT / "docs" / "training.md"

# Three paths: first>second>give ("Also yes" leads to the same outcome as "Yes" and adds no card),
# first>second>refund and first>lead.
DEMO = """\
id: demo
title: Demo
summary: A customer wants something.
principle: Decide for the customer.
start: first
steps:
  first:
    ask: Is it simple?
    options:
      - {label: "Yes", next: second}
      - {label: "No", outcome: lead}
  second:
    ask: Is it cheap?
    options:
      - {label: "Cheap", outcome: give}
      - {label: "Also cheap", outcome: give}
      - {label: "Dear", outcome: refund}
outcomes:
  give: {title: Give it, favours_customer: true}
  refund: {title: Refund it, favours_customer: true}
  lead: {title: Ask the lead}
"""


# Every outcome reads the same (case aside): no path has anything to choose from.
SAME_TITLES = DEMO.replace("title: Refund it", "title: Give it").replace("title: Ask the lead", "title: give IT")


def playbook(source: str) -> Playbook:
    pb, problems = parse_playbook(source, "demo.yaml")
    assert pb is not None, problems
    return pb


@pytest.fixture(scope="module")
def shipped() -> list[Playbook]:
    playbooks, problems = load_directory(SHIPPED)
    assert not [p for p in problems if p.severity == "error"]
    return playbooks


def walk(pb: Playbook, card: Card) -> str:
    """Follow the card's facts through the playbook, as staff would press them; the outcome they reach."""
    steps = card.key.split("/", 1)[1].split(">")[:-1]
    assert steps[0] == pb.start and len(card.facts) == len(steps)
    reached = ""
    for index, (step_id, fact) in enumerate(zip(steps, card.facts, strict=True)):
        step = pb.steps[step_id]
        assert fact.ask == step.ask
        option = next(o for o in step.options if o.label == fact.answer)
        if index + 1 < len(steps):
            assert option.next == steps[index + 1]
        else:
            assert option.outcome is not None
            reached = option.outcome
    return reached


# --- generated from playbooks -----------------------------------------------------------------------------------


def test_every_shipped_playbook_yields_cards_with_one_right_choice(shipped: list[Playbook]) -> None:
    for pb in shipped:
        cards = cards_from_playbook(pb)
        assert 1 <= len(cards) <= MAX_CARDS_PER_PLAYBOOK, pb.id
        for card in cards:
            assert 2 <= len(card.choices) <= 4, card.key
            assert sum(c.correct for c in card.choices) == 1, card.key
            right = card.choices[card.correct_index]
            outcome = card.key.rsplit(">", 1)[1]
            assert right.outcome == outcome == walk(pb, card)
            assert right.text == pb.outcomes[outcome].title
            assert len({c.outcome for c in card.choices}) == len(card.choices)
            assert all(c.outcome in pb.outcomes for c in card.choices)
            assert card.key.startswith(f"playbook:{pb.id}/") and card.source == "playbook"
            assert card.playbook_id == pb.id and card.tags == (pb.category,)
            assert card.why == pb.principle and card.scenario == pb.summary and card.title == pb.title
            assert not card.question  # the template supplies "What do you do?"
    keys = [c.key for c in cards_from_playbooks(shipped)]
    assert len(keys) == len(set(keys))
    assert check_generated(shipped) == []


def test_one_card_per_distinct_path() -> None:
    pb = playbook(DEMO)
    cards = cards_from_playbook(pb)
    assert [c.key for c in cards] == ["playbook:demo/first>second>give", "playbook:demo/first>second>refund",
                                      "playbook:demo/first>lead"]
    assert [f.answer.get() for f in cards[0].facts] == ["Yes", "Cheap"]  # the first of two answers that agree
    assert all(len(c.choices) == 3 for c in cards)


def test_shipped_late_delivery_keeps_the_first_of_two_answers_to_the_same_step(shipped: list[Playbook]) -> None:
    pb = next(p for p in shipped if p.id == "late-delivery")
    cards = cards_from_playbook(pb)
    assert [c.key for c in cards] == [
        "playbook:late-delivery/tracking>wants>deadline>express-replacement",
        "playbook:late-delivery/tracking>wants>deadline>refund-shipping",
        "playbook:late-delivery/tracking>wants>cancel-refund",
        "playbook:late-delivery/tracking>reship-now",
    ]
    assert cards[0].facts[0].answer == pb.steps["tracking"].options[0].label


def test_rewording_keeps_the_identity() -> None:
    before = cards_from_playbook(playbook(DEMO))
    reworded = (DEMO.replace("Is it simple?", "Is it easy to do?").replace("Give it", "Hand it over")
                .replace('"Cheap"', '"Under 10 EUR"').replace("A customer wants something.", "Someone asks.")
                .replace("Decide for the customer.", "When in doubt, say yes."))
    after = cards_from_playbook(playbook(reworded))
    assert [(c.key, c.id) for c in after] == [(c.key, c.id) for c in before]
    assert [c.content_hash() for c in after] != [c.content_hash() for c in before]
    assert after[0].facts[1].answer.get() == "Under 10 EUR" and after[0].why.get() == "When in doubt, say yes."


def test_a_changed_path_is_a_new_card() -> None:
    changed = DEMO.replace('{label: "No", outcome: lead}', '{label: "No", next: check}').replace(
        "outcomes:\n", "  check:\n    ask: Is the lead here?\n    options:\n"
                       '      - {label: "Here", outcome: lead}\n      - {label: "Away", outcome: refund}\n'
                       "outcomes:\n")
    keys = {c.key for c in cards_from_playbook(playbook(changed))}
    old = {c.key for c in cards_from_playbook(playbook(DEMO))}
    assert "playbook:demo/first>lead" in old - keys
    assert {"playbook:demo/first>check>lead", "playbook:demo/first>check>refund"} == keys - old


def test_choice_order_is_deterministic_and_varies(shipped: list[Playbook]) -> None:
    first = [c.to_content() for c in cards_from_playbooks(shipped)]
    again = [c.to_content() for c in cards_from_playbooks(shipped)]
    assert first == again
    positions = [card.correct_index for card in cards_from_playbooks(shipped)]
    assert len(set(positions)) >= 3  # the right answer is not always in the same place


def test_distractors_prefer_outcomes_near_the_path(shipped: list[Playbook]) -> None:
    pb = next(p for p in shipped if p.id == "refund-without-receipt")
    card = next(c for c in cards_from_playbook(pb) if c.key.endswith("genuine>lead-review"))
    # store-credit is the other answer of the last question, other-shop an answer of the first, then the
    # first outcome further down the path's questions.
    assert {c.outcome for c in card.choices} == {"lead-review", "store-credit", "other-shop", "full-refund"}


def test_two_outcomes_make_two_choices() -> None:
    source = DEMO.replace('{label: "Dear", outcome: refund}', '{label: "Dear", outcome: give}').replace(
        "  refund: {title: Refund it, favours_customer: true}\n", "")
    cards = cards_from_playbook(playbook(source))
    assert [len(c.choices) for c in cards] == [2, 2]


def big_playbook() -> str:
    """16 paths to 10 outcomes: 'a' ends in o1..o8, 'b' in o1..o6, then o9 and o10 (walked last)."""
    a = "\n".join(f'      - {{label: "A{i}", outcome: o{i}}}' for i in range(1, 9))
    b = "\n".join(f'      - {{label: "B{i}", outcome: o{i}}}' for i in (1, 2, 3, 4, 5, 6, 9, 10))
    outcomes = "\n".join(f"  o{i}: {{title: Outcome {i}, favours_customer: true}}" for i in range(1, 11))
    return (f"id: big\ntitle: Big\nsummary: Many paths.\nprinciple: Decide.\nstart: s\nsteps:\n"
            f"  s:\n    ask: Which?\n    options:\n      - {{label: A, next: a}}\n      - {{label: B, next: b}}\n"
            f"  a:\n    ask: A?\n    options:\n{a}\n  b:\n    ask: B?\n    options:\n{b}\noutcomes:\n{outcomes}\n")


def test_a_big_playbook_is_capped_and_every_outcome_keeps_a_card() -> None:
    pb = playbook(big_playbook())
    assert len(playbook_paths(pb)) == 16
    cards = cards_from_playbook(pb)
    assert len(cards) == MAX_CARDS_PER_PLAYBOOK
    assert {c.key.rsplit(">", 1)[1] for c in cards} == {f"o{i}" for i in range(1, 11)}
    assert all(len(c.choices) == 4 for c in cards)


def test_outcomes_with_the_same_title_give_no_card_and_a_warning() -> None:
    pb = playbook(SAME_TITLES)
    assert cards_from_playbook(pb) == []
    problems = check_generated([pb])
    assert [(p.line, p.column, p.severity) for p in problems] == [(19, 17, "warning"), (20, 19, "warning"),
                                                                   (21, 17, "warning")]
    assert "same title as 'give'" in problems[0].message


# --- authored cards ---------------------------------------------------------------------------------------------

VALID = """\
cards:
  - id: kettle
    title: A small gesture
    scenario: A regular brings back a kettle one month out of warranty.
    question: What do you do?
    choices:
      - Explain that the warranty has expired
      - Replace it
    answer: 2
    why: Keeping a customer costs less than winning one.
    tags: [money]
    team: shop-1
    playbook: demo
  - id: wrap
    question: {en: "Gift wrap?", it: "Pacco regalo?"}
    choices: [Say no, {en: Wrap it, it: Incartalo}, Ask the lead]
    answer: 2
    why: {en: Helping costs little., it: Aiutare costa poco.}
"""


def found(source: str, **kwargs: object) -> list[tuple[int, int, str, str]]:
    _, problems = parse_cards(source, "t.yaml", **kwargs)  # type: ignore[arg-type]
    return [(p.line, p.column, p.severity, p.message) for p in problems]


def test_a_valid_file() -> None:
    cards, problems = parse_cards(VALID, "t.yaml", playbook_ids={"demo"}, languages=["en"])
    assert problems == []
    kettle, wrap = cards
    assert kettle.key == "authored:kettle" and kettle.source == "authored"
    assert [c.text.get() for c in kettle.choices] == ["Explain that the warranty has expired", "Replace it"]
    assert kettle.correct_index == 1 and kettle.team == "shop-1" and kettle.tags == ("money",)
    assert kettle.playbook_id == "demo" and kettle.title.get() == "A small gesture"
    assert kettle.scenario.get().startswith("A regular")
    assert wrap.choices[1].text.get("it") == "Incartalo" and wrap.correct_index == 1
    assert wrap.question.get("it") == "Pacco regalo?" and wrap.playbook_id is None and wrap.team is None
    assert Card.from_content(wrap.key, wrap.source, wrap.to_content()).to_content() == wrap.to_content()


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    title: A small", "    titel: A small",
     (3, 5, "unknown field 'titel' in card 'kettle' (did you mean 'title'?)")),
    ("    why: Keeping a customer costs less than winning one.\n", "",
     (2, 5, "missing required field 'why' in card 'kettle'")),
    ("    answer: 2\n    why: Keeping", "    why: Keeping",
     (2, 5, "missing required field 'answer' in card 'kettle'")),
    ("    tags: [money]", "    tags: money", (11, 11, "the tags of card 'kettle' must be a list of strings")),
    ("    answer: 2\n    why: Keeping", "    answer: two\n    why: Keeping",
     (9, 13, "the answer of card 'kettle' must be the number of the right choice, 1 to 2, got 'two'")),
    ("    answer: 2\n    why: Keeping", "    answer: 3\n    why: Keeping",
     (9, 13, "the answer of card 'kettle' must be the number of the right choice, 1 to 2, got 3")),
    ("    answer: 2\n    why: Keeping", "    answer: [1, 2]\n    why: Keeping",
     (9, 5, "the answer of card 'kettle' must be one number: a card has exactly one right choice")),
    ("      - Replace it\n", "", (6, 5, "card 'kettle' has 1 choice(s); give 2 to 4")),
    ("      - Replace it\n", "      - Replace it\n      - C\n      - D\n      - E\n",
     (6, 5, "card 'kettle' has 5 choice(s); give 2 to 4")),
    ("      - Replace it\n", "      - replace IT \n      - Replace it\n",
     (9, 9, "choice 3 of card 'kettle' is the same as choice 2")),
    ("      - Replace it\n", "      - {text: Replace it, correct: true}\n",
     (8, 9, "choice 2 of card 'kettle' must be a text (a string or {en: ..., it: ...}); "
            "mark the right choice with 'answer: N'")),
    ("      - Replace it", "      - Replace it with a brand new kettle from the shelf",
     (8, 9, "choice 2 of card 'kettle' is 49 characters long; the most is 40")),
    ("  - id: wrap", "  - id: kettle", (14, 9, "duplicate card id 'kettle' (also in t.yaml:2): give this card "
                                          "its own id (it is skipped)")),
    ("  - id: wrap", "  - id: Wrap_It",
     (14, 9, "the id of card 2 must be lowercase letters, digits and '-', got 'Wrap_It'")),
    ("    choices: [Say no", "    choices: Say no, Wrap it\n    x: [Say no",
     (16, 14, "the choices of card 'wrap' must be a list of texts (- ...), got a string")),
    ("    question: What do you do?", "    question: What do you do?\n    question: Again?",
     (6, 5, "duplicate key 'question'")),
])
def test_each_error_at_its_line_and_column(old: str, new: str, expected: tuple[int, int, str]) -> None:
    assert old in VALID
    problems = found(VALID.replace(old, new, 1))
    assert (*expected[:2], "error", expected[2]) in problems, problems


def test_a_card_with_an_error_is_left_out_the_others_kept() -> None:
    cards, problems = parse_cards(VALID.replace("    answer: 2\n    why: Keeping", "    answer: 9\n    why: Keeping"),
                                  "t.yaml")
    assert [c.key for c in cards] == ["authored:wrap"] and len(problems) == 1


def test_texts_too_long_for_a_message() -> None:
    scenario = "x" * 590
    question = "y" * 450
    source = VALID.replace("A regular brings back a kettle one month out of warranty.", scenario).replace(
        "What do you do?", question)
    assert (5, 15, "error", "the question and scenario of card 'kettle' are 1040 characters long together "
                            "('en'); the most is 1000") in found(source)
    assert (4, 15, "error", "the scenario of card 'kettle' is 601 characters long; the most is 600") in found(
        source.replace(scenario, scenario + "x" * 11))
    assert (10, 10, "error", "the why of card 'kettle' is 301 characters long; the most is 300") in found(
        VALID.replace("Keeping a customer costs less than winning one.", "w" * 301))


def test_file_shape_errors() -> None:
    assert found("") == [(1, 1, "error", "a training file (cards: followed by a list of cards) must be a mapping, "
                                         "got nothing")]
    assert found("- id: x\n")[0][3].startswith("a training file (cards: followed by a list of cards) must be a "
                                                "mapping, got a list")
    assert found("card:\n  - id: x\n") == [
        (1, 1, "error", "unknown field 'card' in the training file (did you mean 'cards'?)"),
        (1, 1, "error", "missing required field 'cards'"),
    ]
    assert found("cards: []\n") == [(1, 1, "warning", "no cards in this file")]
    _, _, severity, message = found("cards:\n  - id: x\n    why: [oops\n")[0]
    assert severity == "error" and message.startswith("YAML syntax error: ")


def test_unknown_playbook_is_a_warning_and_only_when_ids_are_known() -> None:
    assert found(VALID) == []
    problems = found(VALID, playbook_ids={"demos", "other"})
    assert problems == [(13, 15, "warning", "the playbook of card 'kettle' names unknown playbook 'demo' "
                                            "(did you mean 'demos'?)")]
    cards, _ = parse_cards(VALID, "t.yaml", playbook_ids={"other"})
    assert len(cards) == 2 and cards[0].playbook_id is None  # the card still teaches, without the link


def test_missing_translations_are_warnings() -> None:
    problems = found(VALID, languages=["en", "it"])
    assert all(p[2] == "warning" for p in problems)
    messages = {(line, message) for line, _, _, message in problems}
    assert (5, "the question of card 'kettle' has no 'it' text") in messages
    assert (7, "choice 1 of card 'kettle' has no 'it' text") in messages
    assert (16, "choice 1 of card 'wrap' has no 'it' text") in messages
    assert not any("'wrap'" in m and ("question" in m or "why" in m or "choice 2" in m) for _, m in messages)
    # A regional code is covered by its base language, and reported under its own name where it is missing.
    regional = found(VALID, languages=["it-CH"])
    assert [p[:2] for p in regional] == [p[:2] for p in found(VALID, languages=["it"])]
    assert all("'it-CH'" in p[3] for p in regional)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "a.yaml").write_text(VALID)
    (tmp_path / "training" / "b.yaml").write_text(VALID.replace("id: kettle", "id: other"))
    cards, problems = load_training_directory(tmp_path / "training")
    b = str(Path("training/b.yaml"))
    assert [str(p) for p in problems] == [f"{b}:14:9: error: duplicate card id 'wrap' (also in "
                                          f"{Path('training/a.yaml')}:14): give this card its own id (it is skipped)"]
    assert [c.key for c in cards] == ["authored:kettle", "authored:wrap", "authored:other"]


def test_a_missing_folder_has_no_cards_and_no_problems(tmp_path: Path) -> None:
    assert load_training_directory(tmp_path / "nowhere") == ([], [])


def test_the_shipped_cards_are_clean_and_link_to_shipped_playbooks(shipped: list[Playbook]) -> None:
    ids = {p.id for p in shipped}
    cards, problems = load_training_directory(TRAINING, ids, languages=["en"])
    assert problems == []
    assert len(cards) >= 16 and len({c.key for c in cards}) == len(cards)
    linked = [c for c in cards if c.playbook_id]
    assert len(linked) >= 8 and all(c.playbook_id in ids for c in linked)
    assert all(2 <= len(c.choices) <= 4 and c.why and c.question for c in cards)
    assert len({c.correct_index for c in cards}) == 4  # the right answer is not always in the same place


def test_the_documented_example_is_valid() -> None:
    block = re.search(r"```yaml\n(cards:\n.*?)```", DOCS.read_text(), re.S)
    assert block is not None
    cards, problems = parse_cards(block.group(1), "docs.yaml", playbook_ids={p.id for p in
                                                                             load_directory(SHIPPED)[0]})
    assert problems == [] and len(cards) >= 1


def test_is_training_source() -> None:
    assert is_training_source(VALID) and not is_training_source(DEMO) and not is_training_source("a: [")


# --- moments lint -----------------------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the command from an empty folder with no configuration: defaults only."""
    for variable in ("MOMENTS_CONFIG", "PLAYBOOKS_DIR", "TRAINING_DIR", "DATABASE_URL", "BOT_TOKEN",
                     "MOMENTS_ADMINS", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_lint_checks_playbooks_and_training_by_default(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", DEMO)
    write(in_tmp, "training/cards.yaml", VALID)
    assert main(["lint"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 playbook file(s) and 1 training file(s) checked: 0 error(s), 0 warning(s)"]
    # The card links to 'demo': rename the playbook and the link is reported, as a warning.
    write(in_tmp, "playbooks/retail/demo.yaml", DEMO.replace("id: demo", "id: demos"))
    assert main(["lint"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{Path('training/cards.yaml')}:13:15: warning: the playbook of card 'kettle' names unknown playbook "
        "'demo' (did you mean 'demos'?)",
        "1 playbook file(s) and 1 training file(s) checked: 0 error(s), 1 warning(s)"]


def test_lint_an_invalid_card_exits_1(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", DEMO)
    write(in_tmp, "training/cards.yaml", VALID.replace("    answer: 2\n    why: Keeping", "    why: Keeping"))
    assert main(["lint"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{Path('training/cards.yaml')}:2:5: error: missing required field 'answer' in card 'kettle'",
        "1 playbook file(s) and 1 training file(s) checked: 1 error(s), 0 warning(s)"]
    assert main(["lint", "training"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 training file(s) checked: 1 error(s), 0 warning(s)"
    assert main(["lint", "--format", "json", "training/cards.yaml", "playbooks"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"file": str(Path("training/cards.yaml")), "line": 2, "column": 5,
                                         "severity": "error",
                                         "message": "missing required field 'answer' in card 'kettle'"}]
    assert captured.err.strip() == "1 playbook file(s) and 1 training file(s) checked: 1 error(s), 0 warning(s)"


def test_lint_a_cards_file_outside_the_training_folder(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", DEMO)
    draft = write(in_tmp, "draft.yaml", VALID.replace("playbook: demo", "playbook: nowhere"))
    assert main(["lint", str(draft)]) == 0  # the link is checked against the configured playbooks
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{draft}:13:15: warning: the playbook of card 'kettle' names unknown playbook 'nowhere'",
                     "1 training file(s) checked: 0 error(s), 1 warning(s)"]
    assert main(["lint", str(draft), "playbooks/retail/demo.yaml"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("1 playbook file(s) and 1 training file(s) checked: "
                                                        "0 error(s), 1 warning(s)")
    assert main(["lint", "playbooks"]) == 0  # playbooks only: the summary names playbooks only
    assert capsys.readouterr().out.splitlines() == ["1 playbook file(s) checked: 0 error(s), 0 warning(s)"]


def test_lint_an_empty_training_folder(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "training").mkdir()
    assert main(["lint", "training"]) == 0
    assert capsys.readouterr().out.splitlines() == ["0 training file(s) checked: 0 error(s), 0 warning(s)"]
    assert main(["lint", "training/nothing.yaml"]) == 2


def test_lint_the_shipped_playbooks_and_cards(in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PLAYBOOKS_DIR", str(SHIPPED))
    monkeypatch.setenv("TRAINING_DIR", str(TRAINING))
    assert main(["lint"]) == 0
    playbooks, training = len(list(SHIPPED.rglob("*.yaml"))), len(list(TRAINING.rglob("*.yaml")))
    assert capsys.readouterr().out.splitlines() == [
        f"{playbooks} playbook file(s) and {training} training file(s) checked: 0 error(s), 0 warning(s)"]


def test_lint_reports_a_playbook_whose_cards_have_nothing_to_choose(in_tmp: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/demo.yaml", SAME_TITLES)
    assert main(["lint", "playbooks"]) == 0  # warnings: the playbook itself is fine for staff
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{Path('playbooks/demo.yaml')}:19:17: warning: no training card for the path "
                             "first > second > give: every other outcome")
    assert out[-1] == "1 playbook file(s) checked: 0 error(s), 3 warning(s)"


def test_load_training_files_keeps_the_given_paths(tmp_path: Path) -> None:
    file = write(tmp_path, "x.yaml", VALID)
    cards, problems = load_training_files([file])
    assert len(cards) == 2 and problems == []
