"""`moments seed-demo`: realistic decisions from the shipped playbooks, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import func, select

from bot.config import Config
from bot.core.diff import outcome_paths
from bot.core.loader import load_directory
from bot.core.money import limit_for
from bot.handlers.digest import build, team_week
from bot.ui.render import Renderer
from storage import digest as store
from storage.db import Database
from storage.models import Decision, Team, User
from tests.test_cli import cli, env


async def test_seed_demo_fills_a_realistic_database(config: Config, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    env(monkeypatch, config)
    capsys.readouterr()
    assert await cli("seed-demo", "--decisions", "2,000", "--teams", "4", "--weeks", "6", "--seed", "7") == 0
    out, err = capsys.readouterr()
    assert "seeded 2,000 / 2,000 decisions…" in err
    assert out.count("\n") == 1 and "seeded 2,000 decisions over 4 teams (80 new people)" in out

    playbooks = {p.id: p for p in load_directory(config.playbooks_dir)[0]}
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            decisions = (await session.exec(select(Decision))).all()
            people = {u.id: u for u in (await session.exec(select(User))).all()}
            teams = {t.id: t for t in (await session.exec(select(Team))).all()}
        assert len(decisions) == 2000 and len(people) == 80
        assert {t.timezone for t in teams.values()} == {"Europe/Rome", "Europe/Paris", "Europe/Moscow",
                                                        "Europe/London"}
        assert Counter(d.team_id for d in decisions) == {team_id: 500 for team_id in teams}
        assert Counter(u.team_id for u in people.values()) == {team_id: 20 for team_id in teams}
        for d in decisions:
            playbook = playbooks[d.playbook_id]
            assert d.playbook_version == playbook.version
            walked = tuple((step["step"], step["option"]) for step in d.path)
            assert outcome_paths(playbook)[walked] == d.recommended_outcome
            assert d.taken_outcome is None or d.taken_outcome in playbook.outcomes
            assert (d.taken_outcome is None) == (d.favours_customer is None)
            money = d.taken_outcome is not None and playbook.outcomes[d.taken_outcome].money
            assert (d.amount_minor is not None) == money
            assert d.over_limit == (d.amount_minor is not None and d.amount_minor > d.limit_minor)
            assert d.limit_minor == int(limit_for(playbook, people[d.user_id].role, config.limits).scaleb(2))
            assert d.currency == teams[d.team_id].currency and people[d.user_id].team_id == d.team_id
            assert d.followed == (d.disposition == "followed")
            assert d.taken_outcome or d.taken_text or d.disposition == "escalated"
        share = Counter(d.disposition for d in decisions)
        assert 0.70 < share["followed"] / 2000 < 0.80 and 0.06 < share["escalated"] / 2000 < 0.14
        assert any(d.over_limit for d in decisions) and any(d.note for d in decisions)
        assert {d.reaction for d in decisions} == {None, "happy", "neutral", "unhappy"}

        # The digest /digest sends builds on it, for the last complete week of a team.
        async with db.session() as session:
            team = await store.team_by_name(session, "moscow-003")
        assert team is not None and team.timezone == "Europe/Moscow" and team.currency == "RUB"
        week = team_week(team, config, None)
        digest = await build(db, Renderer(config.currency), config, team, week, "en")
        assert digest.figures.totals.decisions > 50 and digest.chart and digest.csv
        assert digest.csv.decode().count("\n") == digest.figures.totals.decisions + 1
    finally:
        await db.dispose()

    assert await cli("seed-demo", "--decisions", "500") == 2
    assert "already holds 2,000 decisions" in capsys.readouterr().err
    assert await cli("seed-demo", "--decisions", "500", "--teams", "5", "--append") == 0
    assert "over 5 teams (20 new people)" in capsys.readouterr().out
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            assert (await session.exec(select(func.count()).select_from(Decision))).one() == 2500
    finally:
        await db.dispose()


def test_seed_demo_needs_a_count(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["seed-demo", "--decisions", "0"])
    assert exit_.value.code == 2 and "not a whole number above 0" in capsys.readouterr().err
