"""`moments training cards|push|results`, run in-process against the same database as the bot."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from bot.config import Config
from storage.models import TrainingDelivery
from tests.harness import Harness
from tests.test_cli import cli, env
from tests.test_handlers_flow import staff


async def test_cards_push_and_results_from_the_shell(config: Config, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    env(monkeypatch, config, TRAINING_DIR=str(config.training_dir.resolve()))
    h = await Harness.start(config)
    try:
        await staff(h)
        await staff(h, telegram_id=2001)
        assert await cli("training", "cards") == 0
        cards = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert {row["source"] for row in cards} == {"playbook", "authored"}
        assert len({row["id"] for row in cards}) == len(cards)
        of_playbook = [row for row in cards if row["playbook"] == "noisy-room"]

        assert await cli("training", "push", "--team", "shop-1", "--playbook", "noisy-room", "--id", "w48") == 0
        out = capsys.readouterr().out
        assert f"{len(of_playbook)} card(s) to 2 member(s) of shop-1: {2 * len(of_playbook)} new deliveries" in out
        assert await cli("training", "push", "--team", "shop-1", "--playbook", "noisy-room", "--id", "w48") == 0
        assert ": 0 new deliveries" in capsys.readouterr().out
        assert await cli("training", "push", "--team", "shop-1", "--card", cards[0]["id"]) == 0
        assert "1 card(s) to 2 member(s)" in capsys.readouterr().out
        async with h.app.db.session() as session:
            rows = (await session.exec(select(TrainingDelivery))).all()
        assert len(rows) == 2 * len(of_playbook) + 2 and all(row.kind == "push" for row in rows)

        assert await cli("training", "push", "--team", "nowhere", "--card", cards[0]["id"]) == 1
        assert await cli("training", "push", "--team", "shop-1", "--card", "no-such-card") == 1
        capsys.readouterr()
        assert await cli("training", "results", "--team", "shop-1") == 0
        results = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert len(results) == 2 and all(row["answered"] == "0" for row in results)
    finally:
        await h.stop()
