"""The playbook loader and validator: what it accepts, and where (line, column) it says what is wrong."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.loader import MAX_LENGTH, load_directory, load_files, parse_playbook
from bot.core.money import limit_for
from bot.core.playbook import Playbook
from bot.core.problems import Problem

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "playbooks"
DOCS = ROOT / "docs" / "playbooks.md"

# The contract: docs/playbooks.md shows exactly this as the minimal example, and the loader accepts it unchanged.
CONTRACT = """\
id: refund-without-receipt          # unique, [a-z0-9-]
title: {en: Refund without a receipt, it: Reso senza scontrino}
summary: {en: A customer wants money back but has no receipt.}
category: returns                   # optional; defaults to the subfolder name
triggers: {en: [refund, no receipt, money back], it: [rimborso, scontrino]}
principle: {en: "Keeping a customer costs far less than winning a new one. When in doubt, decide for the customer."}
limits: {staff: 50, lead: 200}      # money each role may spend without approval (currency from config)
start: proof
steps:
  proof:
    ask: {en: "Can the customer show the purchase another way (card statement, app, loyalty account)?"}
    options:
      - {label: {en: "Yes"}, next: condition}
      - {label: {en: "No"}, outcome: store-credit}
  condition:
    ask: {en: "Is the item unused and resellable?"}
    options:
      - {label: {en: "Yes"}, outcome: full-refund}
      - {label: {en: "No, used or damaged"}, outcome: store-credit}
outcomes:
  full-refund:
    title: {en: Refund in full to the original payment method}
    say: {en: "Of course, I'll refund that for you right now."}
    steps: {en: [Find the purchase on the statement, Refund to the same card]}
    money: true                     # ask the amount spent; compare with the limits
    favours_customer: true
  store-credit:
    title: {en: Offer store credit for the full price}
    say: {en: "I can't refund without proof, but I can give you store credit for the full price today."}
    money: true
    favours_customer: true
"""

# A small valid playbook, 14 lines; the error tests below are variations of it written out in full.
SMALL = """\
id: demo
title: Demo
summary: A demo.
principle: Decide for the customer.
start: first
steps:
  first:
    ask: Is it fine?
    options:
      - {label: "Yes", outcome: fix}
      - {label: "No", outcome: explain}
outcomes:
  fix: {title: Fix it, favours_customer: true}
  explain: {title: Explain}
"""


def problems_of(source: str) -> list[Problem]:
    playbook, problems = parse_playbook(textwrap.dedent(source), "p.yaml")
    assert (playbook is None) == any(p.severity == "error" for p in problems)
    return problems


def the_problem(source: str) -> Problem:
    """The single problem `source` has; fails when there are none or several."""
    problems = problems_of(source)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def at(problem: Problem) -> tuple[int, int]:
    return problem.line, problem.column


def reachable_outcomes(playbook: Playbook) -> set[str]:
    seen: set[str] = set()
    found: set[str] = set()
    todo = [playbook.start]
    while todo:
        step_id = todo.pop()
        if step_id in seen:
            continue
        seen.add(step_id)
        for option in playbook.steps[step_id].options:
            if option.next:
                todo.append(option.next)
            if option.outcome:
                found.add(option.outcome)
    return found


def longest_path(playbook: Playbook, step_id: str | None = None) -> int:
    """The most answers any path from start to an outcome asks for."""
    step = playbook.steps[step_id or playbook.start]
    return 1 + max(longest_path(playbook, o.next) if o.next else 0 for o in step.options)


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# --- the contract example -------------------------------------------------------------------------------------


def test_contract_example_loads_unchanged() -> None:
    playbook, problems = parse_playbook(CONTRACT, "retail/refund-without-receipt.yaml", "retail")
    assert problems == []
    assert playbook is not None
    assert playbook.id == "refund-without-receipt"
    assert playbook.category == "returns"  # the explicit field wins over the folder
    assert playbook.start == "proof"
    assert playbook.step_ids == ["proof", "condition"]
    assert playbook.outcome_ids == ["full-refund", "store-credit"]
    assert playbook.path == "retail/refund-without-receipt.yaml"
    assert playbook.source == CONTRACT

    proof = playbook.steps["proof"]
    assert [(o.label.get(), o.next, o.outcome) for o in proof.options] == [
        ("Yes", "condition", None), ("No", None, "store-credit")]
    condition = playbook.steps["condition"]
    assert [(o.label.get(), o.next, o.outcome) for o in condition.options] == [
        ("Yes", None, "full-refund"), ("No, used or damaged", None, "store-credit")]

    full = playbook.outcomes["full-refund"]
    assert full.title.get() == "Refund in full to the original payment method"
    assert full.say.get() == "Of course, I'll refund that for you right now."
    assert full.steps.get() == ("Find the purchase on the statement", "Refund to the same card")
    assert full.money is True and full.favours_customer is True
    credit = playbook.outcomes["store-credit"]
    assert credit.steps.get() == ()
    assert credit.money is True and credit.favours_customer is True


def test_contract_texts_per_language_with_fallback() -> None:
    playbook, _ = parse_playbook(CONTRACT, "x.yaml")
    assert playbook is not None
    assert playbook.title.get("en") == "Refund without a receipt"
    assert playbook.title.get("it") == "Reso senza scontrino"
    assert playbook.title.get("it-CH") == "Reso senza scontrino"  # regional code falls back to its base
    assert playbook.title.get("fr") == "Refund without a receipt"  # missing language falls back to English
    assert playbook.summary.get("it") == "A customer wants money back but has no receipt."
    assert playbook.principle.get("de").startswith("Keeping a customer costs far less")
    assert playbook.triggers.get("en") == ("refund", "no receipt", "money back")
    assert playbook.triggers.get("it") == ("rimborso", "scontrino")
    assert playbook.triggers.get("fr") == ("refund", "no receipt", "money back")
    assert sorted(playbook.triggers.all()) == sorted(["refund", "no receipt", "money back", "rimborso", "scontrino"])
    assert playbook.steps["proof"].options[0].label.get("it") == "Yes"


def test_plain_strings_and_lists_mean_english() -> None:
    playbook, problems = parse_playbook(SMALL + "triggers: [broken, not fine]\n", "x.yaml")
    assert problems == []
    assert playbook is not None
    assert playbook.title.values == {"en": "Demo"}
    assert playbook.triggers.values == {"en": ("broken", "not fine")}
    assert playbook.outcomes["explain"].say.get() == ""  # say is optional
    assert playbook.outcomes["explain"].money is False  # flags default to false
    assert playbook.outcomes["explain"].favours_customer is False
    assert playbook.limits == {}  # limits are optional: the config fills them in


def test_contract_limits_are_decimals() -> None:
    playbook, _ = parse_playbook(CONTRACT, "x.yaml")
    assert playbook is not None
    assert playbook.limits == {"staff": Decimal("50"), "lead": Decimal("200")}
    assert all(isinstance(amount, Decimal) for amount in playbook.limits.values())
    playbook, problems = parse_playbook(CONTRACT.replace("staff: 50", "staff: 12.50"), "x.yaml")
    assert problems == [] and playbook is not None
    assert playbook.limits["staff"] == Decimal("12.50")


def test_limits_combine_with_the_config_defaults_by_rank() -> None:
    playbook, _ = parse_playbook(CONTRACT, "x.yaml")
    assert playbook is not None
    defaults = {"staff": Decimal(25), "lead": Decimal(100), "manager": Decimal(300)}
    assert limit_for(playbook, "staff", defaults) == Decimal(50)  # the playbook wins over the config
    assert limit_for(playbook, "supervisor", defaults) == Decimal(50)  # supervisor ranks with staff
    assert limit_for(playbook, "lead", defaults) == Decimal(200)
    assert limit_for(playbook, "manager", defaults) == Decimal(300)  # left out by the playbook: config
    assert limit_for(playbook, "admin", defaults) == Decimal(300)  # may spend what any lower rank may


def test_version_is_a_content_hash() -> None:
    playbook, _ = parse_playbook(CONTRACT, "a.yaml")
    again, _ = parse_playbook(CONTRACT, "elsewhere/b.yaml", "other")
    edited, _ = parse_playbook(CONTRACT.replace("right now.", "right away."), "a.yaml")
    assert playbook is not None and again is not None and edited is not None
    assert re.fullmatch(r"[0-9a-f]{12}", playbook.version)
    assert again.version == playbook.version  # same content, same version, wherever it lives
    assert edited.version != playbook.version
    assert re.fullmatch(r"[0-9a-f]{12}", edited.version)


def test_docs_show_the_contract_example_verbatim() -> None:
    assert CONTRACT in DOCS.read_text(encoding="utf-8")


def test_every_full_playbook_in_the_docs_loads() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    playbooks = [block for block in blocks if block.startswith("id:")]
    assert len(playbooks) >= 2
    for block in playbooks:
        playbook, problems = parse_playbook(block, "docs.yaml")
        assert problems == [], [str(p) for p in problems]
        assert playbook is not None


def test_docs_state_the_length_limits() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for field, limit in MAX_LENGTH.items():
        assert f"| {limit} |" in docs, field


# --- the shipped playbooks ------------------------------------------------------------------------------------


def test_every_shipped_playbook_loads_without_problems() -> None:
    playbooks, problems = load_directory(SHIPPED)
    assert problems == [], [str(p) for p in problems]
    files = sorted(SHIPPED.rglob("*.yaml"))
    assert len(playbooks) == len(files) >= 10
    assert len({p.id for p in playbooks}) == len(playbooks)
    for playbook in playbooks:
        folder = Path(playbook.path).parts[1]
        assert playbook.category == folder, playbook.id
        assert Path(playbook.path).stem == playbook.id


@pytest.mark.parametrize("file", sorted(SHIPPED.rglob("*.yaml")), ids=lambda p: p.stem)
def test_each_shipped_playbook_has_a_reachable_customer_favouring_outcome(file: Path) -> None:
    playbook, problems = parse_playbook(file.read_text(encoding="utf-8"), str(file), file.parent.name)
    assert problems == []
    assert playbook is not None
    reachable = reachable_outcomes(playbook)
    assert reachable == set(playbook.outcomes)
    assert any(playbook.outcomes[o].favours_customer for o in reachable)
    assert longest_path(playbook) <= 4  # the 2-4 taps the product promises
    assert playbook.title.get() and playbook.summary.get() and playbook.principle.get()
    assert playbook.triggers.get(), "a shipped playbook without triggers is only found by browsing"


# --- one test per error kind: exact line and column, and a message people can act on --------------------------


def test_yaml_syntax_error() -> None:
    problem = the_problem("""\
        id: demo
        title: [unclosed
        summary: x
        """)
    assert at(problem) == (3, 8)
    assert problem.message.startswith("YAML syntax error: ")
    assert "expected ',' or ']'" in problem.message


def test_yaml_bad_indentation() -> None:
    problem = the_problem("""\
        id: demo
          title: Demo
        """)
    assert at(problem) == (2, 8)
    assert problem.message == "YAML syntax error: mapping values are not allowed here"


def test_tab_indentation_is_a_syntax_error() -> None:
    problem = the_problem("id: demo\n\ttitle: Demo\n")
    assert at(problem) == (2, 1)
    assert "'\\t'" in problem.message


@pytest.mark.parametrize(("source", "kind"), [("- a\n- b\n", "a list"), ("just words\n", "a string"),
                                              ("", "nothing")])
def test_not_a_mapping(source: str, kind: str) -> None:
    problem = the_problem(source)
    assert at(problem) == (1, 1)
    assert problem.message == f"a playbook must be a mapping, got {kind}"


def test_missing_required_fields() -> None:
    problems = problems_of("""\
        id: demo
        title: Demo
        """)
    assert [at(p) for p in problems] == [(1, 1)] * 5
    assert [p.message for p in problems] == [f"missing required field '{key}'" for key in
                                             ("summary", "principle", "start", "steps", "outcomes")]


def test_missing_question_in_a_step() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert at(problem) == (7, 3)
    assert "missing required field 'ask'" in problem.message
    assert "step 'first'" in problem.message


def test_wrong_type_options_not_a_list() -> None:
    problems = problems_of("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options: yes or no
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert at(problems[0]) == (9, 14)
    assert problems[0].message == "step 'first' needs 'options': a list of answers"


def test_wrong_type_money_as_a_string() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix:
            title: Fix it
            money: "yes"
            favours_customer: true
          explain: {title: Explain}
        """)
    assert at(problem) == (15, 12)
    assert problem.message == "'money' of outcome 'fix' must be true or false"


def test_wrong_type_unquoted_yes_label_is_true_not_text() -> None:
    problem = the_problem(SMALL.replace('{label: "Yes",', "{label: Yes,"))
    assert at(problem) == (10, 17)
    assert problem.message == ("the label of option 1 of step 'first' must be a string or a mapping of "
                               "language → string, got true/false")


def test_wrong_type_steps_not_a_mapping() -> None:
    problems = problems_of("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps: [first]
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert at(problems[0]) == (6, 1)
    assert problems[0].message == "steps must be a mapping, got a list"


def test_unknown_field_with_a_mapping_value_points_at_the_key() -> None:
    problem = the_problem(SMALL.replace("principle: Decide for the customer.",
                                        "principel: {en: Decide for the customer.}\nprinciple: Be kind."))
    assert at(problem) == (4, 1)
    assert problem.message == "unknown field 'principel' in the playbook (did you mean 'principle'?)"


def test_unknown_field_in_an_outcome_suggests_the_spelling() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix:
            title: Fix it
            favours_customer: true
            favors_customer: true
          explain: {title: Explain}
        """)
    assert problem.line == 16
    assert problem.message == "unknown field 'favors_customer' in outcome 'fix' (did you mean 'favours_customer'?)"


def test_unknown_field_without_a_close_name_has_no_suggestion() -> None:
    problem = the_problem(SMALL + "colour:\n  - red\n")
    assert at(problem) == (15, 1)
    assert problem.message == "unknown field 'colour' in the playbook"


def test_unknown_field_with_a_plain_value_is_reported_on_its_line() -> None:
    problem = the_problem(SMALL + "colour: red\n")
    assert problem.line == 15  # the column: see test_errors_about_a_key_point_at_the_key
    assert problem.message == "unknown field 'colour' in the playbook"


@pytest.mark.parametrize(("source", "position", "message"), [
    (SMALL + "colour: red\n", (15, 1), "unknown field 'colour' in the playbook"),
    (SMALL.replace("principle:", "principel:"), (4, 1), "unknown field 'principel' in the playbook (did you mean "
                                                        "'principle'?)"),
    (SMALL.replace("title: Demo", "title: {en: Demo, English: Demo}"), (2, 19),
     "'English' is not a language code (like en, it, fr)"),
    (SMALL + "limits:\n  cashier: 20\n", (16, 3),
     "unknown role 'cashier' in limits; roles are staff, lead, manager, supervisor, admin"),
], ids=["unknown-field", "misspelt-field", "language-code", "unknown-role"])
def test_errors_about_a_key_point_at_the_key(source: str, position: tuple[int, int], message: str) -> None:
    problem = problems_of(source)[0]
    assert problem.message == message
    assert at(problem) == position


@pytest.mark.parametrize(("bad_id", "message"), [
    ("Refund_No_Receipt", "id must be lowercase letters, digits and '-', got 'Refund_No_Receipt'"),
    ("-refund", "id must be lowercase letters, digits and '-', got '-refund'"),
    ("42", "id must be lowercase letters, digits and '-', got 42"),
    ("a" * 41, "id is 41 characters long; the most is 40"),
])
def test_bad_id(bad_id: str, message: str) -> None:
    problem = the_problem(SMALL.replace("id: demo", f"id: {bad_id}"))
    assert at(problem) == (1, 5)
    assert problem.message == message


def test_bad_step_id() -> None:
    problems = problems_of(SMALL.replace("  first:", "  First:").replace("start: first", "start: First"))
    assert at(problems[0]) == (7, 3)
    assert problems[0].message == "a step id must be lowercase letters, digits and '-', got 'First'"


def test_start_names_an_unknown_step() -> None:
    problem = the_problem(SMALL.replace("start: first", "start: frist"))
    assert at(problem) == (5, 8)
    assert problem.message == "start names unknown step 'frist'"


def test_unknown_step_in_next() -> None:
    problems = problems_of(SMALL.replace('{label: "Yes", outcome: fix}', '{label: "Yes", next: second}'))
    assert [(at(p), p.message) for p in problems] == [
        ((10, 30), "option 1 of step 'first' goes to unknown step 'second'"),
        ((13, 3), "outcome 'fix' is never used by any option"),
    ]


def test_unknown_outcome() -> None:
    problems = problems_of(SMALL.replace("outcome: explain}", "outcome: explian}"))
    assert [(at(p), p.message) for p in problems] == [
        ((11, 32), "option 2 of step 'first' ends in unknown outcome 'explian'"),
        ((14, 3), "outcome 'explain' is never used by any option"),
    ]


def test_option_with_both_next_and_outcome() -> None:
    problems = problems_of(SMALL.replace('{label: "Yes", outcome: fix}', '{label: "Yes", outcome: fix, next: first}'))
    assert [(at(p), p.message) for p in problems] == [
        ((10, 9), "option 1 of step 'first' must have exactly one of 'next' or 'outcome', not both"),
        ((13, 3), "outcome 'fix' is never used by any option"),
    ]


def test_option_with_neither_next_nor_outcome() -> None:
    problems = problems_of(SMALL.replace('{label: "Yes", outcome: fix}', '{label: "Yes"}'))
    assert [(at(p), p.message) for p in problems] == [
        ((10, 9), "option 1 of step 'first' must have exactly one of 'next' or 'outcome'"),
        ((13, 3), "outcome 'fix' is never used by any option"),
    ]


def test_unreachable_step() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
          orphan:
            ask: Nobody asks this?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert at(problem) == (12, 3)
    assert problem.message == "step 'orphan' can never be reached from start 'first'"


def test_cycle() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Ask more", next: second}
              - {label: "No", outcome: explain}
          second:
            ask: Really?
            options:
              - {label: "Go back", next: first}
              - {label: "Yes", outcome: fix}
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert at(problem) == (15, 34)
    assert problem.message == "cycle: step 'second' leads back to step 'first'"


def test_self_loop_is_a_cycle() -> None:
    problems = problems_of(SMALL.replace('{label: "No", outcome: explain}', '{label: "No", next: first}'))
    assert [(at(p), p.message) for p in problems] == [
        ((11, 29), "cycle: step 'first' leads back to step 'first'"),
        ((14, 3), "outcome 'explain' is never used by any option"),
    ]


def test_unused_outcome() -> None:
    problem = the_problem(SMALL + "  spare:\n    title: Nobody gets here\n")
    assert at(problem) == (15, 3)
    assert problem.message == "outcome 'spare' is never used by any option"


def test_duplicate_step_id_is_reported() -> None:
    problems = problems_of("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
          first:
            ask: Is it really fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert [p.message for p in problems] == ["duplicate step 'first'"]


def test_duplicate_step_id_points_at_the_second_definition() -> None:
    problem = the_problem("""\
        id: demo
        title: Demo
        summary: A demo.
        principle: Decide for the customer.
        start: first
        steps:
          first:
            ask: Is it fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
          first:
            ask: Is it really fine?
            options:
              - {label: "Yes", outcome: fix}
              - {label: "No", outcome: explain}
        outcomes:
          fix: {title: Fix it, favours_customer: true}
          explain: {title: Explain}
        """)
    assert problem.message == "duplicate step 'first'"
    assert at(problem) == (12, 3)


def test_duplicate_outcome_and_duplicate_key_are_reported() -> None:
    problems = problems_of(SMALL + "  fix: {title: Fix it again}\nid: other\n")
    assert sorted(p.message for p in problems) == ["duplicate key 'id'", "duplicate outcome 'fix'"]


def test_duplicate_playbook_id_across_files(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    write(root, "retail/demo.yaml", SMALL)
    write(root, "travel/also-demo.yaml", "# a copy someone forgot to rename\n" + SMALL)
    playbooks, problems = load_directory(root)
    assert [p.path for p in playbooks] == [str(Path("playbooks/retail/demo.yaml"))]
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file == str(Path("playbooks/travel/also-demo.yaml"))
    assert at(problem) == (2, 5)
    assert problem.message.startswith(f"duplicate playbook id 'demo' (also in {Path('playbooks/retail/demo.yaml')}): ")
    assert "give this one its own id" in problem.message


def test_no_outcome_favours_the_customer() -> None:
    problem = the_problem(SMALL.replace(", favours_customer: true", ""))
    assert at(problem) == (12, 1)
    assert problem.message == "no outcome favours the customer: mark at least one with 'favours_customer: true'"


def test_staff_limit_above_lead_limit() -> None:
    problem = the_problem(SMALL + "limits: {staff: 300, lead: 100}\n")
    assert at(problem) == (15, 17)
    assert problem.message == "staff limit 300 is above the lead limit 100"


@pytest.mark.parametrize(("value", "shown"), [("-5", "-5"), ("fifty", "'fifty'"), ("true", "True"),
                                              (".inf", "inf")])
def test_limit_must_be_a_number_not_below_zero(value: str, shown: str) -> None:
    problem = the_problem(SMALL + f"limits:\n  lead: 100\n  staff: {value}\n")
    assert at(problem) == (17, 10)
    assert problem.message == f"limit for staff must be a number ≥ 0, got {shown}"


def test_unknown_role_in_limits() -> None:
    problem = the_problem(SMALL + "limits:\n  cashier: 20\n")
    assert problem.line == 16  # the column: see test_errors_about_a_key_point_at_the_key
    assert problem.message == "unknown role 'cashier' in limits; roles are staff, lead, manager, supervisor, admin"


def test_label_too_long() -> None:
    label = "Yes, and the customer has the receipt too"  # 41 characters
    problem = the_problem(SMALL.replace('{label: "Yes",', f'{{label: "{label}",'))
    assert at(problem) == (10, 17)
    assert problem.message == "the label of option 1 of step 'first' is 41 characters long; the most is 40"


def test_label_of_exactly_the_limit_is_fine() -> None:
    assert problems_of(SMALL.replace('{label: "Yes",', f'{{label: "{"y" * 40}",')) == []


@pytest.mark.parametrize(("field", "limit"), [("title", 100), ("summary", 300), ("principle", 300)])
def test_top_level_texts_too_long(field: str, limit: int) -> None:
    source = "\n".join(f"{field}: {'x' * (limit + 1)}" if line.startswith(f"{field}:") else line
                       for line in SMALL.splitlines()) + "\n"
    problem = the_problem(source)
    assert problem.column == len(field) + 3
    assert problem.message == f"{field} is {limit + 1} characters long; the most is {limit}"


def test_trigger_too_long() -> None:
    problem = the_problem(SMALL + f"triggers:\n  en:\n    - refund\n    - {'t' * 81}\n")
    assert at(problem) == (18, 7)
    assert problem.message == "item of triggers is 81 characters long; the most is 80"


def test_bad_language_code() -> None:
    problem = the_problem(SMALL.replace("title: Demo", "title: {en: Demo, English: Demo}"))
    assert problem.line == 2  # the column: see test_errors_about_a_key_point_at_the_key
    assert problem.message == "'English' is not a language code (like en, it, fr)"


def test_norwegian_needs_quotes_because_yaml_reads_no_as_false() -> None:
    problem = the_problem(SMALL.replace("title: Demo", "title: {en: Demo, no: Demo}"))
    assert problem.message == "'False' is not a language code (like en, it, fr)"
    assert problems_of(SMALL.replace("title: Demo", "title: {en: Demo, 'no': Demo}")) == []


def test_empty_text() -> None:
    problem = the_problem(SMALL.replace("summary: A demo.", "summary: '  '"))
    assert at(problem) == (3, 10)
    assert problem.message == "summary is empty"


def test_empty_text_mapping_is_an_error() -> None:
    problem = the_problem(SMALL.replace('{label: "No",', "{label: {},"))
    assert problem.line == 11


def test_too_few_options() -> None:
    problems = problems_of(SMALL.replace('      - {label: "No", outcome: explain}\n', ""))
    assert [(at(p), p.message) for p in problems] == [
        ((9, 5), "step 'first' has 1 option; give 2 to 8"),
        ((13, 3), "outcome 'explain' is never used by any option"),
    ]


def test_too_many_options() -> None:
    many = "".join(f'      - {{label: "Choice {n}", outcome: explain}}\n' for n in range(8))
    problem = the_problem(SMALL.replace('      - {label: "No", outcome: explain}\n', many))
    assert at(problem) == (9, 5)
    assert problem.message == "step 'first' has 9 options; give 2 to 8"


def test_at_least_two_outcomes() -> None:
    problem = the_problem(SMALL.replace('outcome: explain}', 'outcome: fix}').replace("  explain: {title: Explain}\n",
                                                                                        ""))
    assert at(problem) == (12, 1)
    assert problem.message == "a playbook needs at least two outcomes, so staff have a choice"


def test_category_must_be_an_id() -> None:
    problem = the_problem(SMALL + "category: Front Desk\n")
    assert at(problem) == (15, 11)
    assert problem.message == "category must be lowercase letters, digits and '-', got 'Front Desk'"


def test_category_too_long_for_a_button() -> None:
    problem = the_problem(SMALL + f"category: {'c' * 61}\n")
    assert problem.line == 15


def test_tags_must_be_a_list_of_strings() -> None:
    problem = the_problem(SMALL + "tags: refunds\n")
    assert at(problem) == (15, 7)
    assert problem.message == "tags must be a list of strings"
    assert problems_of(SMALL + "tags: [refunds, cash]\n") == []


def test_several_problems_are_all_reported_in_one_go() -> None:
    problems = problems_of(SMALL.replace("id: demo", "id: Demo").replace("start: first", "start: last")
                           + "limits: {staff: 9, lead: 5}\n")
    assert [p.line for p in problems] == [1, 15, 5]


def test_problem_prints_as_file_line_column() -> None:
    assert str(Problem("retail/x.yaml", 3, 7, "something is wrong")) == "retail/x.yaml:3:7: error: something is wrong"


# --- loading folders and files --------------------------------------------------------------------------------


def test_load_directory_categories_from_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    write(root, "hotel/demo.yaml", SMALL)
    write(root, "hotel/returns.yaml", SMALL.replace("id: demo", "id: back") + "category: returns\n")
    write(root, "top.yml", SMALL.replace("id: demo", "id: top"))
    write(root, "notes.txt", "not a playbook")
    playbooks, problems = load_directory(root)
    assert problems == []
    assert {p.id: p.category for p in playbooks} == {"demo": "hotel", "back": "returns", "top": "general"}
    assert {p.id: p.path for p in playbooks} == {"demo": str(Path("playbooks/hotel/demo.yaml")),
                                                 "back": str(Path("playbooks/hotel/returns.yaml")),
                                                 "top": str(Path("playbooks/top.yml"))}


def test_load_directory_reports_every_file(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    write(root, "a/good.yaml", SMALL)
    write(root, "a/bad.yaml", SMALL.replace("id: demo", "id: bad").replace("start: first", "start: nowhere"))
    (root / "a" / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    playbooks, problems = load_directory(root)
    assert [p.id for p in playbooks] == ["demo"]
    assert [str(p) for p in problems] == [
        f"{Path('playbooks/a/bad.yaml')}:5:8: error: start names unknown step 'nowhere'",
        f"{Path('playbooks/a/binary.yaml')}:1:1: error: cannot read file: "
        + problems[1].message.removeprefix("cannot read file: "),
    ]
    assert problems[1].message.startswith("cannot read file: ")


def test_load_files_without_a_root(tmp_path: Path) -> None:
    first = write(tmp_path, "one.yaml", SMALL)
    second = write(tmp_path, "sub/two.yaml", SMALL.replace("id: demo", "id: two"))
    playbooks, problems = load_files([first, second])
    assert problems == []
    assert [(p.id, p.category, p.path) for p in playbooks] == [("demo", "general", str(first)),
                                                               ("two", "general", str(second))]


# --- moments lint -----------------------------------------------------------------------------------------------


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the command from an empty folder with no configuration: defaults only."""
    for variable in ("MOMENTS_CONFIG", "PLAYBOOKS_DIR", "DATABASE_URL", "BOT_TOKEN", "MOMENTS_ADMINS",
                     "TELEGRAM_API_BASE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_lint_valid_folder_exits_0(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/refund-without-receipt.yaml", CONTRACT)
    write(in_tmp, "playbooks/retail/demo.yaml", SMALL)
    assert main(["lint", "playbooks"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["2 playbook file(s) checked: 0 error(s), 0 warning(s)"]


def test_lint_invalid_folder_exits_1_with_positions(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/good.yaml", SMALL)
    write(in_tmp, "playbooks/travel/bad.yaml", SMALL.replace("id: demo", "id: bad")
          .replace('{label: "Yes", outcome: fix}', '{label: "Yes", next: second}'))
    assert main(["lint", "playbooks"]) == 1
    lines = capsys.readouterr().out.splitlines()
    bad = Path("playbooks/travel/bad.yaml")
    assert lines == [
        f"{bad}:10:30: error: option 1 of step 'first' goes to unknown step 'second'",
        f"{bad}:13:3: error: outcome 'fix' is never used by any option",
        "2 playbook file(s) checked: 2 error(s), 0 warning(s)",
    ]
    assert all(re.match(r"^\S+:\d+:\d+: error: ", line) for line in lines[:-1])


def test_lint_single_files(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(in_tmp, "good.yaml", SMALL)
    broken = write(in_tmp, "broken.yaml", "id: demo\ntitle: [oops\n")
    assert main(["lint", str(good)]) == 0
    capsys.readouterr()
    assert main(["lint", str(good), str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{broken}:3:1: error: YAML syntax error: ")
    assert lines[-1] == "2 playbook file(s) checked: 1 error(s), 0 warning(s)"


def test_lint_finds_a_duplicate_id_across_files(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/a/one.yaml", SMALL)
    write(in_tmp, "playbooks/b/two.yaml", SMALL)
    assert main(["lint", "playbooks"]) == 1
    out = capsys.readouterr().out
    assert f"{Path('playbooks/b/two.yaml')}:1:5: error: duplicate playbook id 'demo'" in out


def test_lint_missing_path_exits_2(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "nonexistent"]) == 2
    captured = capsys.readouterr()
    assert "nonexistent: no such file or folder" in captured.err
    assert captured.out == ""


def test_lint_defaults_to_the_configured_folder(in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PLAYBOOKS_DIR", str(SHIPPED))
    assert main(["lint"]) == 0
    out = capsys.readouterr().out
    count = len(list(SHIPPED.rglob("*.yaml")))
    assert out.splitlines() == [f"{count} playbook file(s) checked: 0 error(s), 0 warning(s)"]
