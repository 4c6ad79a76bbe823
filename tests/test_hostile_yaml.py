"""Bad input a manager (or an attacker) may send as a playbook: each gets a clear error, nothing else."""

from __future__ import annotations

import pytest

from bot.core.loader import parse_playbook
from bot.core.yamlpos import MAX_ALIASES, parse_yaml

BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
"""


def only_error(source: str) -> str:
    playbook, problems = parse_playbook(source, "upload.yaml")
    assert playbook is None and len(problems) == 1, problems
    return f"{problems[0].line}:{problems[0].column} {problems[0].message}"


def test_alias_bomb_is_refused_before_expanding() -> None:
    assert only_error(BOMB) == "3:12 more than 10 YAML aliases (*name): refused, as a document that expands too much"


def test_a_few_aliases_are_fine() -> None:
    parsed = parse_yaml("a: &a [x, y]\nb: [*a, *a]\n")
    assert parsed.data == {"a": ["x", "y"], "b": [["x", "y"], ["x", "y"]]}
    assert MAX_ALIASES >= 2


def test_oversized_file() -> None:
    assert only_error("id: x\nsummary: " + "y" * 300_000) == "1:1 the file is larger than 256 KB"


def test_binary_file() -> None:
    assert only_error("\x00\x01\x02PNG") == "1:1 the file is not text: it holds binary or control characters"


def test_absurd_nesting() -> None:
    assert only_error("[" * 5000 + "]" * 5000) == "1:41 the document is nested more than 40 levels deep"


def test_yaml_that_is_not_a_playbook() -> None:
    assert only_error("- just\n- a list\n") == "1:1 a playbook must be a mapping, got a list"
    assert only_error("hello") == "1:1 a playbook must be a mapping, got a string"


def test_libyaml_reads_the_shipped_playbooks_as_the_python_parser_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_yaml uses libyaml where PyYAML has it (ten times faster at start-up): same values, same positions."""
    from pathlib import Path

    import yaml

    from bot.core import yamlpos

    assert yamlpos.FastLoader is getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files = sorted((Path(__file__).resolve().parent.parent / "playbooks").rglob("*.yaml"))
    assert files
    fast = [yamlpos.parse_yaml(path.read_text(encoding="utf-8")) for path in files]
    monkeypatch.setattr(yamlpos, "FastLoader", yaml.SafeLoader)
    for path, quick in zip(files, fast, strict=True):
        slow = yamlpos.parse_yaml(path.read_text(encoding="utf-8"))
        assert (quick.data, quick.positions, quick.key_positions) == (slow.data, slow.positions, slow.key_positions), \
            path
