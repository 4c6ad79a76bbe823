"""Playbook tests: `examples:` in the loader, run_examples through the engine, and `moments test`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.examples import ExampleResult, failures, run_examples
from bot.core.loader import load_directory, parse_playbook
from bot.core.playbook import Playbook
from bot.core.problems import Problem
from tests import test_loader
from tests.test_loader import CONTRACT, at, write

in_tmp = test_loader.in_tmp  # the fixture: run a command from an empty folder, no configuration
SHIPPED = Path(__file__).resolve().parent.parent / "playbooks"

EXAMPLES = """\
examples:
  - {answers: ["Yes", "Yes"], expect: full-refund}
  - answers: ["Yes", "No, used or damaged"]
    expect: store-credit
  - {answers: ["no"], expect: store-credit}
"""


def playbook_of(source: str, file: str = "p.yaml") -> Playbook:
    playbook, problems = parse_playbook(textwrap.dedent(source), file)
    assert playbook is not None, [str(p) for p in problems]
    return playbook


def problems_of(source: str) -> list[Problem]:
    playbook, problems = parse_playbook(source, "p.yaml")
    assert playbook is None
    return problems


# --- the loader ------------------------------------------------------------------------------------------


def test_examples_are_optional_and_loaded_in_order() -> None:
    assert playbook_of(CONTRACT).examples == ()
    playbook = playbook_of(CONTRACT + EXAMPLES)
    assert [(e.answers, e.expect, e.line) for e in playbook.examples] == [
        (("Yes", "Yes"), "full-refund", 33),
        (("Yes", "No, used or damaged"), "store-credit", 34),
        (("no",), "store-credit", 36),
    ]


@pytest.mark.parametrize(("examples", "position", "message"), [
    ("examples: {answers: [a], expect: x}", (32, 1),
     "examples must be a list of {answers: [...], expect: ...}, got a mapping"),
    ("examples:\n  - just text", (33, 5), "example 1 must be a mapping, got a string"),
    ("examples:\n  - {answers: [\"Yes\"]}", (33, 5), "missing required field 'expect' in example 1"),
    ("examples:\n  - {answers: \"Yes\", expect: store-credit}", (33, 15),
     "answers of example 1 must be a list of button labels, got a string"),
    ("examples:\n  - {answers: [], expect: store-credit}", (33, 6),
     "answers of example 1 must be a list of button labels, got an empty list"),
    ("examples:\n  - {answers: [Yes, \"Yes\"], expect: full-refund}", (33, 16),
     'answer 1 of example 1 must be a label, got true/false (quote "Yes" and "No")'),
    ("examples:\n  - {answers: [\"Yes\"], expect: store-credt}", (33, 32),
     "expect of example 1 names unknown outcome 'store-credt' (did you mean 'store-credit'?)"),
    ("examples:\n  - {answers: [\"Yes\"], expct: full-refund}", (33, 24),
     "unknown field 'expct' in example 1 (did you mean 'expect'?)"),
])
def test_bad_examples_are_errors_with_positions(examples: str, position: tuple[int, int], message: str) -> None:
    problems = problems_of(CONTRACT + examples + "\n")
    assert message in [p.message for p in problems], [str(p) for p in problems]
    assert at(next(p for p in problems if p.message == message)) == position


# --- run_examples ----------------------------------------------------------------------------------------


def test_passing_examples() -> None:
    results = run_examples(playbook_of(CONTRACT + EXAMPLES, "playbooks/retail/x.yaml"))
    assert [r.passed for r in results] == [True, True, True]
    assert [r.reached for r in results] == ["full-refund", "store-credit", "store-credit"]
    assert failures(results) == []
    assert str(results[0]) == "playbooks/retail/x.yaml::example 1 passed"


def test_labels_match_in_any_language() -> None:
    source = CONTRACT.replace('{label: {en: "No"}', '{label: {en: "No", it: "No, niente"}') + \
        'examples:\n  - {answers: ["No, niente"], expect: store-credit}\n'
    assert [r.passed for r in run_examples(playbook_of(source))] == [True]


def failing(examples: str) -> list[ExampleResult]:
    return run_examples(playbook_of(CONTRACT + "examples:\n" + examples, "playbooks/retail/x.yaml"))


def test_wrong_outcome_fails() -> None:
    [result] = failing('  - {answers: ["Yes", "Yes"], expect: store-credit}\n')
    assert not result.passed and result.reached == "full-refund"
    assert str(result) == "playbooks/retail/x.yaml::example 1 FAILED: expected store-credit, reached full-refund"


def test_unknown_answer_fails_naming_the_step_and_its_answers() -> None:
    [result] = failing('  - {answers: ["Yes", "Maybe"], expect: full-refund}\n')
    assert str(result) == ("playbooks/retail/x.yaml::example 1 FAILED: after 'Yes' step 'condition' has no "
                           "answer 'Maybe' (answers: 'Yes', 'No, used or damaged')")
    [first] = failing('  - {answers: ["Perhaps"], expect: full-refund}\n')
    assert first.message == "at the start step 'proof' has no answer 'Perhaps' (answers: 'Yes', 'No')"


def test_too_few_and_too_many_answers_fail() -> None:
    short, long = failing('  - {answers: ["Yes"], expect: full-refund}\n'
                          '  - {answers: ["No", "Yes"], expect: store-credit}\n')
    assert short.message == ("expected full-refund, but after 'Yes' step 'condition' still asks "
                             "(answers: 'Yes', 'No, used or damaged')")
    assert long.message == ("after 'No' the playbook already ended in outcome 'store-credit'; "
                            "answers left over: 'Yes'")
    assert [r.number for r in failures([short, long])] == [1, 2]


def test_no_examples_no_results() -> None:
    assert run_examples(playbook_of(CONTRACT)) == []


# --- the shipped playbooks -------------------------------------------------------------------------------


def test_every_shipped_playbook_has_passing_examples_including_a_customer_favouring_one() -> None:
    playbooks, problems = load_directory(SHIPPED)
    assert problems == []
    assert len(playbooks) >= 10
    for playbook in playbooks:
        results = run_examples(playbook)
        assert len(results) >= 2, playbook.id
        assert failures(results) == [], [str(r) for r in results]
        assert any(playbook.outcomes[e.expect].favours_customer for e in playbook.examples), playbook.id
        assert len({e.expect for e in playbook.examples}) >= 2, playbook.id


# --- moments test ----------------------------------------------------------------------------------------


def test_cli_all_passing_exits_0(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/x.yaml", CONTRACT + EXAMPLES)
    assert main(["test", "playbooks"]) == 0
    assert capsys.readouterr().out.splitlines() == ["3 passed, 0 failed"]


def test_cli_reports_failures_like_pytest_and_exits_1(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/x.yaml", CONTRACT + EXAMPLES
          + '  - {answers: ["Yes", "Maybe"], expect: full-refund}\n'
          + '  - {answers: ["Yes", "Yes"], expect: store-credit}\n')
    write(in_tmp, "playbooks/retail/none.yaml", CONTRACT.replace("id: refund-without-receipt", "id: none"))
    assert main(["test", "playbooks"]) == 1
    x = Path("playbooks/retail/x.yaml")
    assert capsys.readouterr().out.splitlines() == [
        f"{x}::example 4 FAILED: after 'Yes' step 'condition' has no answer 'Maybe' "
        "(answers: 'Yes', 'No, used or damaged')",
        f"{x}::example 5 FAILED: expected store-credit, reached full-refund",
        f"{Path('playbooks/retail/none.yaml')}: no examples",
        "3 passed, 2 failed",
    ]


def test_cli_single_file_and_invalid_playbook(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(in_tmp, "good.yaml", CONTRACT + EXAMPLES)
    bad = write(in_tmp, "bad.yaml", CONTRACT + 'examples:\n  - {answers: ["Yes"], expect: nowhere}\n')
    assert main(["test", str(good)]) == 0
    capsys.readouterr()
    assert main(["test", str(good), str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad}:33:32: error: expect of example 1 names unknown outcome 'nowhere'"
    assert lines[-1] == "3 passed, 0 failed, 1 playbook error(s)"  # an invalid playbook fails the run


def test_cli_missing_path_exits_2(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "nonexistent"]) == 2
    assert "nonexistent: no such file or folder" in capsys.readouterr().err


def test_cli_defaults_to_the_configured_folder(in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PLAYBOOKS_DIR", str(SHIPPED))
    assert main(["test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith(" passed, 0 failed")
    assert int(lines[0].split()[0]) >= 20
