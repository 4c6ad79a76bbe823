"""diff_playbooks: what a manager reviews before publishing."""

from __future__ import annotations

from decimal import Decimal

from bot.core.diff import RecommendationChange, diff_playbooks, outcome_paths
from bot.core.loader import parse_playbook
from bot.core.playbook import Playbook

BASE = """\
id: sample
title: {en: "Sample"}
summary: {en: "A sample playbook."}
principle: {en: "Be kind."}
triggers: {en: ["sample"]}
limits: {staff: 50, lead: 200}
start: first
steps:
  first:
    ask: {en: "Is it broken?"}
    options:
      - {label: {en: "Yes"}, outcome: refund}
      - {label: {en: "No"}, next: second}
  second:
    ask: {en: "Is the customer upset?"}
    options:
      - {label: {en: "Very"}, outcome: voucher}
      - {label: {en: "Not really"}, outcome: explain}
outcomes:
  refund: {title: {en: "Refund"}, money: true, favours_customer: true}
  voucher: {title: {en: "Give a voucher"}, money: true, favours_customer: true}
  explain: {title: {en: "Explain the policy"}}
"""


def load(source: str) -> Playbook:
    playbook, problems = parse_playbook(source, "sample.yaml")
    assert playbook is not None, problems
    return playbook


def test_identical_playbooks_have_an_empty_diff() -> None:
    changes = diff_playbooks(load(BASE), load(BASE))
    assert changes.is_empty and not changes.matters_to_staff


def test_a_new_playbook_lists_everything_as_added() -> None:
    changes = diff_playbooks(None, load(BASE))
    assert changes.steps_added == ["first", "second"]
    assert changes.outcomes_added == ["refund", "voucher", "explain"]
    assert changes.limits_changed == {"staff": (None, Decimal(50)), "lead": (None, Decimal(200))}
    assert not changes.steps_removed and not changes.recommendations_changed


def test_reworded_step_and_outcome() -> None:
    after = BASE.replace("Is it broken?", "Is it faulty?").replace('"Give a voucher"', '"Give a gift voucher"')
    changes = diff_playbooks(load(BASE), load(after))
    assert changes.steps_reworded == ["first"] and changes.outcomes_reworded == ["voucher"]
    assert not changes.steps_added and not changes.recommendations_changed and not changes.matters_to_staff


def test_limits_changed_added_and_removed() -> None:
    changes = diff_playbooks(load(BASE), load(BASE.replace("{staff: 50, lead: 200}", "{staff: 60, manager: 500}")))
    assert changes.limits_changed == {"lead": (Decimal(200), None), "manager": (None, Decimal(500)),
                                      "staff": (Decimal(50), Decimal(60))}
    assert changes.matters_to_staff


def test_recommendation_changed_names_the_answers() -> None:
    after = BASE.replace('{label: {en: "Very"}, outcome: voucher}', '{label: {en: "Very"}, outcome: explain}') \
        .replace('{label: {en: "Not really"}, outcome: explain}', '{label: {en: "Not really"}, outcome: voucher}')
    changes = diff_playbooks(load(BASE), load(after))
    assert changes.recommendations_changed == [RecommendationChange(("No", "Very"), "voucher", "explain"),
                                               RecommendationChange(("No", "Not really"), "explain", "voucher")]
    assert changes.outcomes_reworded == [] and changes.steps_reworded == ["second"]
    assert changes.matters_to_staff


def test_steps_and_outcomes_added_and_removed() -> None:
    after = BASE.replace("""      - {label: {en: "Very"}, outcome: voucher}
      - {label: {en: "Not really"}, outcome: explain}""", """      - {label: {en: "Very"}, next: third}
      - {label: {en: "Not really"}, outcome: explain}
  third:
    ask: {en: "Did they buy it here?"}
    options:
      - {label: {en: "Yes"}, outcome: replace}
      - {label: {en: "No"}, outcome: explain}""").replace(
        '  voucher: {title: {en: "Give a voucher"}, money: true, favours_customer: true}\n',
        '  replace: {title: {en: "Replace it"}, favours_customer: true}\n')
    changes = diff_playbooks(load(BASE), load(after))
    assert changes.steps_added == ["third"] and changes.steps_removed == []
    assert changes.outcomes_added == ["replace"] and changes.outcomes_removed == ["voucher"]
    assert RecommendationChange(("No", "Very"), "voucher", None) in changes.recommendations_changed
    assert RecommendationChange(("No", "Very", "Yes"), None, "replace") in changes.recommendations_changed


def test_texts_and_category_changes() -> None:
    after = BASE.replace('title: {en: "Sample"}', 'title: {en: "Sample, renamed"}').replace(
        'triggers: {en: ["sample"]}', 'triggers: {en: ["sample", "example"]}') + "category: retail\n"
    changes = diff_playbooks(load(BASE), load(after))
    assert changes.texts_changed == ["title", "triggers", "category"]


def test_outcome_paths_follow_every_branch() -> None:
    paths = outcome_paths(load(BASE))
    assert sorted(paths.values()) == ["explain", "refund", "voucher"]
    assert paths[(("first", 1), ("second", 0))] == "voucher"
