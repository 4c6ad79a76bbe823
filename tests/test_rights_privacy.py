"""Roles, team settings, the audit log and privacy, through the real Dispatcher."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.cli import main
from bot.config import Config
from bot.core.roles import ROLE_PERMISSIONS, Permission, Role
from storage import privacy
from storage.models import AuditEntry, Decision, Team, User
from storage.types import utcnow
from tests.conftest import ADMIN_ID, ROOT
from tests.harness import Harness
from tests.test_handlers_flow import decisions, staff, walk_to_outcome

LOWER_THAN_ADMIN = ["staff", "lead", "manager", "supervisor"]


async def audit_rows(h: Harness) -> list[AuditEntry]:
    async with h.app.db.session() as session:
        return list((await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all())


async def user_row(h: Harness, telegram_id: int) -> User | None:
    async with h.app.db.session() as session:
        return (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()


async def finish_decision(person, amount: str = "10", note: str | None = None) -> None:
    await walk_to_outcome(person)
    await person.press("✅ Done as suggested")
    await person.send(amount)
    if note:
        await person.send(note)
    else:
        await person.press("Skip")
    await person.press("Skip")


def test_the_rights_table_is_what_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text()
    for permission in Permission:
        row = next((line for line in readme.splitlines() if line.startswith(f"| {permission.value} |")), None)
        assert row is not None, f"README lacks the row for {permission.value!r}"
        cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
        assert cells == ["✓" if permission in ROLE_PERMISSIONS[role] else "" for role in Role], permission


@pytest.mark.parametrize("role", LOWER_THAN_ADMIN)
async def test_adduser_refused_below_admin_and_nothing_changes(harness: Harness, role: str) -> None:
    person = await staff(harness, telegram_id=2100, role=role)
    before = await audit_rows(harness)
    await person.send("/adduser 3100 admin")
    assert "not part of your role" in person.last_text()
    assert await user_row(harness, 3100) is None
    assert await audit_rows(harness) == before


@pytest.mark.parametrize("role", LOWER_THAN_ADMIN)
async def test_audit_refused_below_admin(harness: Harness, role: str) -> None:
    person = await staff(harness, telegram_id=2100, role=role)
    await person.send("/audit")
    assert "not part of your role" in person.last_text() and "Audit log" not in person.last_text()


async def test_admin_reads_the_audit_log(harness: Harness) -> None:
    await staff(harness, telegram_id=2100, role="lead")
    admin = harness.person(ADMIN_ID)
    await admin.send("/adduser 2100 manager shop-2")
    await admin.send("/audit")
    text = admin.last_text()
    assert "person.added" in text and "person.changed" in text
    assert "&#34;role&#34;: &#34;lead&#34;" in text  # JSON shown escaped for Telegram's HTML
    rows = await audit_rows(harness)
    changed = next(r for r in rows if r.action == "person.changed")
    assert changed.before["role"] == "lead" and changed.after == {"telegram_id": 2100, "role": "manager",
                                                                  "team": "shop-2", "active": True}
    assert changed.actor_id is not None and changed.subject == "2100"


@pytest.mark.parametrize("role", ["staff", "lead", "supervisor"])
async def test_limit_refused_below_manager(harness: Harness, role: str) -> None:
    person = await staff(harness, telegram_id=2100, role=role)
    await person.send("/limit staff 500")
    assert "not part of your role" in person.last_text()
    async with harness.app.db.session() as session:
        assert (await session.exec(select(Team).where(Team.name == "shop-1"))).one().limits == {}


async def test_manager_sets_the_team_limit_and_staff_see_it(harness: Harness) -> None:
    manager = await staff(harness, telegram_id=2100, role="manager")
    await manager.send("/limit staff 80")
    assert "Limit for <b>Staff</b> updated" in manager.last_text() and "• Staff: €80.00" in manager.last_text()
    [entry] = [r for r in await audit_rows(harness) if r.action == "team.limits_changed"]
    assert entry.before == {"limits": {}} and entry.after == {"limits": {"staff": "80"}}
    ann = await staff(harness)
    await ann.send("customer lost the receipt and wants money back")
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Unused, can be sold again")
    assert "up to <b>€80.00</b>" in ann.screen()[0]
    await manager.send("/limit boss 5")
    assert "Usage" in manager.last_text()
    await manager.send("/limit staff -3")
    assert "not an amount" in manager.last_text()


async def test_limits_fixed_in_config_cannot_be_changed_in_the_bot(config: Config) -> None:
    from bot.config import TeamConfig

    fixed = config.model_copy(update={"teams": [TeamConfig(name="shop-1", currency="USD", timezone="America/New_York",
                                                           limits={"staff": 70})]})
    h = await Harness.start(fixed)
    try:
        manager = await staff(h, telegram_id=2100, role="manager")
        await manager.send("/limit staff 80")
        assert "set in config.yaml" in manager.last_text()
        ann = await staff(h)
        await finish_decision(ann, amount="75")
        [decision] = await decisions(h)
        assert decision.currency == "USD" and decision.limit_minor == 7000 and decision.over_limit
        assert "$75.00" in ann.last_text()
        await ann.send("/history")
        assert "$75.00" in ann.last_text()
    finally:
        await h.stop()


async def test_forgetme_keeps_decisions_but_not_the_person(harness: Harness) -> None:
    ann = await staff(harness)
    await finish_decision(ann, note="Mrs Rossi, card ending 4242")
    await ann.send("/forgetme")
    await ann.press("Keep my data")
    assert (await user_row(harness, 2000)) is not None
    await ann.send("/forgetme")
    await ann.press("🗑 Yes, delete my data")
    assert "your personal data is deleted" in ann.last_text()
    assert await user_row(harness, 2000) is None
    [decision] = await decisions(harness)
    assert decision.note is None and decision.amount_minor == 1000  # the decision stays, without the note
    async with harness.app.db.session() as session:
        anonymous = await session.get(User, decision.user_id)
    assert anonymous.name == "" and anonymous.telegram_id < 0 and not anonymous.active
    assert not any(r.subject == "2000" for r in await audit_rows(harness))
    await ann.send("/start")
    assert "only for registered staff" in ann.last_text()


async def test_retention_purge_removes_old_notes_only(harness: Harness) -> None:
    ann = await staff(harness)
    await finish_decision(ann, note="old note")
    await finish_decision(ann, note="new note")
    old, new = await decisions(harness)
    async with harness.app.db.session() as session:
        row = await session.get(Decision, old.id)
        row.created_at = utcnow() - timedelta(days=100)
        session.add(row)
        await session.commit()
        assert await privacy.purge_notes(session, utcnow() - timedelta(days=90)) == 1
    old, new = await decisions(harness)
    assert old.note is None and new.note == "new note"
    assert any(r.action == "privacy.notes_purged" for r in await audit_rows(harness))


async def test_audit_csv_from_the_shell(harness: Harness, config: Config, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    await staff(harness)
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["audit"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # The admin named in config, created at first contact, then the staff member the admin added.
    assert [(r["action"], r["subject"], r["actor"]) for r in rows] == [
        ("person.added", str(ADMIN_ID), "admins in config"), ("person.added", "2000", "Alice")]


async def test_help_lists_the_commands_of_the_role(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/help")
    text = ann.last_text()
    assert "/history" in text and "/forgetme" in text
    assert "/duty" not in text and "/invite" not in text and "/playbooks" not in text and "/audit" not in text
    lead = await staff(harness, telegram_id=2200, role="lead")
    await lead.send("/help")
    assert "/duty" in lead.last_text() and "/invite" not in lead.last_text()
    admin = harness.person(ADMIN_ID)
    await admin.send("/help")
    for command in ("/duty", "/invite", "/team", "/limit", "/playbooks", "/graph", "/unmatched", "/digest",
                    "/adduser", "/audit"):
        assert command in admin.last_text(), command
