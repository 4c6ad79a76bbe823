"""The `moments` command, run in-process."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from tests.harness import Harness
from tests.test_handlers_flow import staff, walk_to_outcome

ROOT = Path(__file__).resolve().parent.parent


async def cli(*args: str) -> int:
    """The command runs its own event loop, so from an async test it runs in a thread."""
    return await asyncio.to_thread(main, list(args))


def env(monkeypatch: pytest.MonkeyPatch, config: Config, **extra: str) -> None:
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(config.playbooks_dir))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


async def test_export_contains_exactly_the_decisions(config: Config, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    h = await Harness.start(config)
    ann = await staff(h)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("12.5")
    await ann.send('said "thanks", left happy')
    await ann.press("😊 Happy")
    await h.stop()

    env(monkeypatch, config)
    capsys.readouterr()
    assert await cli("export", "decisions") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    row = rows[0]
    assert row["playbook_id"] == "refund-without-receipt" and row["team"] == "shop-1"
    assert row["recommended_outcome"] == row["taken_outcome"] == "full-refund"
    assert row["followed"] == "True" and row["amount"] == "12.50" and row["limit"] == "50.00"
    assert row["note"] == 'said "thanks", left happy' and row["telegram_id"] == "2000"
    for column in ("decision_id", "user_id", "created_at"):
        assert row[column]

    assert await cli("export", "decisions", "--team", "other") == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 0
    assert await cli("export", "decisions", "--until", "2000-01-01") == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 0
    assert await cli("export", "decisions", "--since", "2000-01-01") == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 1


async def test_users_add_from_the_shell(config: Config, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    env(monkeypatch, config)
    assert await cli("users", "add", "777", "--role", "lead", "--team", "hotel-rome") == 0
    assert "added 777 as lead in team hotel-rome" in capsys.readouterr().out
    h = await Harness.start(config)
    lead = h.person(777, "Luca")
    await lead.send("/start")
    assert "Hello" in lead.screen()[0]
    await h.stop()
    assert await cli("users", "add", "777", "--role", "manager") == 0
    assert "updated 777 as manager" in capsys.readouterr().out


def test_run_without_token_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "@BotFather" in err and "Traceback" not in err


def test_broken_config_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text("currency: [")
    monkeypatch.setenv("MOMENTS_CONFIG", str(bad))
    assert main(["lint"]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_bot_refuses_to_start_on_an_invalid_shipped_playbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "playbooks" / "retail"
    folder.mkdir(parents=True)
    source = (ROOT / "playbooks" / "retail" / "refund-without-receipt.yaml").read_text()
    (folder / "broken.yaml").write_text(source.replace("next: proof", "next: nowhere"))
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("PLAYBOOKS_DIR", str(tmp_path / "playbooks"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("BOT_TOKEN", "1:x")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:" in err and "unknown step 'nowhere'" in err and "refusing to start" in err


async def test_users_add_with_oversight(config: Config, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from sqlmodel import select

    from storage.db import Database
    from storage.models import AuditEntry, Team, TeamOversight

    env(monkeypatch, config)
    assert await cli("users", "add", "901", "--role", "supervisor", "--team", "shop-1", "--oversee",
                     "shop-2, shop-3") == 0
    assert "overseeing shop-2, shop-3" in capsys.readouterr().out
    assert await cli("users", "add", "901", "--role", "supervisor", "--oversee", "shop-3") == 0
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            names = (await session.exec(select(Team.name).join(TeamOversight, TeamOversight.team_id == Team.id)))
            assert list(names.all()) == ["shop-3"]
            changes = (await session.exec(select(AuditEntry).where(AuditEntry.action == "person.oversight_changed")
                                          .order_by(AuditEntry.id))).all()
            assert [c.after for c in changes] == [{"oversees": ["shop-2", "shop-3"]}, {"oversees": ["shop-3"]}]
            assert changes[1].before == {"oversees": ["shop-2", "shop-3"]}
    finally:
        await db.dispose()
