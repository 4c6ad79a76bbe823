"""Checks beyond the Core's (bot/core/checks.py and the loader): each with its line and column."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.checks import MAX_ANSWERS, id_clash, longest_path
from bot.core.loader import load_directory, load_files, parse_playbook
from bot.core.problems import Problem
from tests import test_loader
from tests.test_loader import SMALL, at, write

in_tmp = test_loader.in_tmp  # the fixture: run a command from an empty folder, no configuration
SHIPPED = Path(__file__).resolve().parent.parent / "playbooks"


def chain(steps: int, playbook_id: str = "long") -> str:
    """A playbook whose longest path takes `steps` answers: s1 → s2 → … → s<steps> → outcome."""
    lines = [f"id: {playbook_id}", "title: Long", "summary: A long one.", "principle: Decide for the customer.",
             "start: s1", "steps:"]
    for n in range(1, steps + 1):
        onward = f"next: s{n + 1}" if n < steps else "outcome: fix"
        lines += [f"  s{n}:", f"    ask: Question {n}?", "    options:",
                  f'      - {{label: "Go on", {onward}}}', '      - {label: "Stop", outcome: explain}']
    lines += ["outcomes:", "  fix: {title: Fix it, favours_customer: true}", "  explain: {title: Explain}"]
    return "\n".join(lines) + "\n"


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


# --- errors the loader already gives (verified here, as issue 6 lists them) ------------------------------------


def errors_of(source: str) -> list[Problem]:
    playbook, problems = parse_playbook(textwrap.dedent(source), "p.yaml")
    assert playbook is None
    return [p for p in problems if p.severity == "error"]


def test_no_customer_favouring_outcome_is_an_error() -> None:
    [problem] = errors_of(SMALL.replace(", favours_customer: true", ""))
    assert (at(problem), problem.message.split(":")[0]) == ((12, 1), "no outcome favours the customer")


def test_staff_limit_above_lead_is_an_error() -> None:
    [problem] = errors_of(SMALL.replace("start: first", "limits: {staff: 90, lead: 50}\nstart: first"))
    assert at(problem) == (5, 17)
    assert problem.message == "staff limit 90 is above the lead limit 50"


def test_too_long_say_and_label_are_errors() -> None:
    source = SMALL.replace('{label: "Yes", outcome: fix}', '{label: "' + "y" * 41 + '", outcome: fix}') \
        .replace("fix: {title: Fix it,", 'fix: {title: Fix it, say: "' + "s" * 601 + '",')
    problems = errors_of(source)
    assert [(at(p), p.message) for p in problems] == [
        ((10, 17), "the label of option 1 of step 'first' is 41 characters long; the most is 40"),
        ((13, 29), "'say' of outcome 'fix' is 601 characters long; the most is 600"),
    ]


def test_the_id_of_another_playbook_is_an_error_naming_the_other_file(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    write(root, "retail/demo.yaml", SMALL)
    write(root, "travel/copy.yaml", "# copied, id not changed\n" + SMALL.replace("title: Demo", "title: Copy"))
    _, problems = load_directory(root)
    [problem] = problems
    assert (problem.file, at(problem), problem.severity) == (str(Path("playbooks/travel/copy.yaml")), (2, 5),
                                                             "error")
    assert "duplicate playbook id 'demo'" in problem.message
    assert str(Path("playbooks/retail/demo.yaml")) in problem.message
    assert "give this one its own id" in problem.message


def test_id_clash_for_an_upload() -> None:
    live, _ = parse_playbook(SMALL, "playbooks/retail/demo.yaml")
    upload, _ = parse_playbook("# upload\n" + SMALL, "upload.yaml")
    assert live is not None and upload is not None
    [problem] = id_clash(upload, [live])
    assert (problem.file, at(problem), problem.severity) == ("upload.yaml", (2, 5), "error")
    assert problem.message.startswith("id 'demo' is the id of another playbook (in playbooks/retail/demo.yaml)")
    assert id_clash(upload, [upload]) == []  # the same file is no clash
    new_version, _ = parse_playbook(SMALL + "# edited\n", "playbooks/retail/demo.yaml")
    assert new_version is not None and id_clash(new_version, [live]) == []


# --- long paths ---------------------------------------------------------------------------------------------


def test_five_answers_is_fine(tmp_path: Path) -> None:
    file = write(tmp_path, "long.yaml", chain(MAX_ANSWERS))
    playbooks, problems = load_files([file])
    assert problems == [] and longest_path(playbooks[0]) == 5


def test_a_path_of_six_answers_warns_at_the_sixth_step(tmp_path: Path) -> None:
    file = write(tmp_path, "long.yaml", chain(7))
    playbooks, problems = load_files([file])
    assert len(playbooks) == 1  # a warning never blocks loading
    [problem] = problems
    assert (problem.file, at(problem), problem.severity) == (str(file), (32, 3), "warning")
    assert problem.message == ("step 's6' is answer 6 on a path (the longest takes 7 answers): staff abandon "
                               "long trees; keep paths to 5 answers or fewer")


# --- triggers two playbooks share ----------------------------------------------------------------------------


def test_a_shared_trigger_warns_in_each_file(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    one = write(root, "retail/demo.yaml", SMALL + "triggers: [refund, lost receipt]\n")
    two = write(root, "travel/other.yaml", SMALL.replace("id: demo", "id: other")
                + "triggers: {en: [Lost  Receipt, bags], it: [rimborso]}\n")
    playbooks, problems = load_directory(root)
    assert len(playbooks) == 2
    assert [(p.file, at(p), p.severity) for p in problems] == [
        (str(Path("playbooks/retail/demo.yaml")), (15, 20), "warning"),
        (str(Path("playbooks/travel/other.yaml")), (15, 17), "warning"),
    ]
    assert problems[0].message.startswith("trigger 'lost receipt' is also a trigger of 'other' "
                                          f"({Path('playbooks/travel/other.yaml')})")
    assert "'demo'" in problems[1].message
    assert one.exists() and two.exists()


def test_shipped_playbooks_share_no_trigger_and_have_no_long_path() -> None:
    _, problems = load_directory(SHIPPED)
    assert problems == []


# --- languages the team uses ---------------------------------------------------------------------------------


BILINGUAL = SMALL.replace("title: Demo", "title: {en: Demo, it: Prova}")


def test_missing_language_warns_at_each_text(tmp_path: Path) -> None:
    file = write(tmp_path, "demo.yaml", BILINGUAL)
    playbooks, problems = load_files([file], languages=["en", "it"])
    assert len(playbooks) == 1
    found = [(at(p), p.message) for p in problems]
    assert ((3, 10), "summary has no 'it' text") in found
    assert ((10, 17), "the label of option 1 of step 'first' has no 'it' text") in found
    assert ((13, 16), "the title of outcome 'fix' has no 'it' text") in found
    assert not any("title has no" in m and m.startswith("title") for _, m in found)  # title has Italian
    assert all(p.severity == "warning" for p in problems)
    assert not any("'en'" in m for _, m in found)


def test_regional_language_is_covered_by_its_base(tmp_path: Path) -> None:
    file = write(tmp_path, "demo.yaml", BILINGUAL)
    _, problems = load_files([file], languages=["it-CH"])
    assert "title has no" not in " ".join(p.message for p in problems if p.line == 2)


def test_no_languages_no_language_warnings(tmp_path: Path) -> None:
    _, problems = load_files([write(tmp_path, "demo.yaml", BILINGUAL)])
    assert problems == []


def test_lint_languages_option_and_config(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", BILINGUAL)
    assert main(["lint", "playbooks", "--languages", "en,it"]) == 0  # warnings only: exit 0
    out = capsys.readouterr().out
    assert f"{Path('playbooks/retail/demo.yaml')}:3:10: warning: summary has no 'it' text" in out.splitlines()
    assert out.splitlines()[-1].startswith("1 playbook file(s) checked: 0 error(s), ")
    # Without the option, the languages come from config: default_language and the teams' languages.
    assert main(["lint", "playbooks"]) == 0
    assert "no 'it' text" not in capsys.readouterr().out
    write(in_tmp, "config.yaml", "teams:\n  - {name: roma, language: it}\n")
    assert main(["lint", "playbooks"]) == 0
    assert "summary has no 'it' text" in capsys.readouterr().out


# --- moments lint --format json --------------------------------------------------------------------------------


def test_lint_json_with_errors_exits_1(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", SMALL)
    write(in_tmp, "playbooks/travel/bad.yaml", SMALL.replace("id: demo", "id: bad")
          .replace('{label: "Yes", outcome: fix}', '{label: "Yes", next: second}'))
    write(in_tmp, "playbooks/travel/long.yaml", chain(6))
    assert main(["lint", "playbooks", "--format", "json"]) == 1
    captured = capsys.readouterr()
    items = json.loads(captured.out)
    bad, long = str(Path("playbooks/travel/bad.yaml")), str(Path("playbooks/travel/long.yaml"))
    assert items == [
        {"file": bad, "line": 10, "column": 30, "severity": "error",
         "message": "option 1 of step 'first' goes to unknown step 'second'"},
        {"file": bad, "line": 13, "column": 3, "severity": "error",
         "message": "outcome 'fix' is never used by any option"},
        {"file": long, "line": 32, "column": 3, "severity": "warning",
         "message": "step 's6' is answer 6 on a path (the longest takes 6 answers): staff abandon long trees; "
                    "keep paths to 5 answers or fewer"},
    ]
    assert captured.err.strip() == "3 playbook file(s) checked: 2 error(s), 1 warning(s)"


def test_lint_json_warnings_only_exits_0(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/travel/long.yaml", chain(6))
    assert main(["lint", "playbooks", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["severity"] for i in items] == ["warning"]


def test_lint_json_clean_is_an_empty_list(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/retail/demo.yaml", SMALL)
    assert main(["lint", "playbooks", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert captured.err.strip() == "1 playbook file(s) checked: 0 error(s), 0 warning(s)"


def test_lint_text_format_shows_warnings_like_errors(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_tmp, "playbooks/travel/long.yaml", chain(6))
    assert main(["lint", "playbooks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{Path('playbooks/travel/long.yaml')}:32:3: warning: step 's6' is answer 6")
    assert lines[-1] == "1 playbook file(s) checked: 0 error(s), 1 warning(s)"
