"""Invites: tokens and durations (pure), /invite and /invites through the real Dispatcher, the race for the
last use on the real databases, and `moments invite` from the shell."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.config import Config
from bot.core.invites import (
    InviteStatus,
    deep_link,
    hash_token,
    invite_status,
    looks_like_token,
    new_token,
    parse_duration,
    parse_invite_args,
)
from bot.core.people import Person as CorePerson
from bot.core.team import grantable_roles, may_grant, may_manage
from bot.ui.invites import InviteAction, InviteCb
from storage import invites
from storage.db import Database
from storage.models import AuditEntry, Invite, User
from storage.people import ensure_team
from storage.types import utcnow
from tests.conftest import ADMIN_ID
from tests.harness import Harness, Person
from tests.test_cli import cli, env
from tests.test_handlers_flow import staff

LINK = re.compile(r"https://t\.me/moments_test_bot\?start=([A-Za-z0-9_-]+)")


# ---- pure rules --------------------------------------------------------------------------------------------------

def test_tokens_are_long_random_and_only_hashed() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert len(token) >= 22 and looks_like_token(token)  # ≥ 128 bits in url-safe base64
    token = next(iter(tokens))
    assert len(hash_token(token)) == 64 and hash_token(token) != token and hash_token(token) == hash_token(token)
    assert deep_link("my_bot", token) == f"https://t.me/my_bot?start={token}"
    assert not looks_like_token("short") and not looks_like_token("x" * 65) and not looks_like_token("a b" * 10)


def test_durations() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("", "7", "d", "7x", "0d", "-1d", "7 days", "shop-1"):
        assert parse_duration(bad) is None, bad


def test_invite_status() -> None:
    now = utcnow()
    later, earlier = now + timedelta(hours=1), now - timedelta(seconds=1)
    assert invite_status(uses=0, max_uses=1, expires_at=later, revoked_at=None, now=now) == InviteStatus.VALID
    assert invite_status(uses=1, max_uses=1, expires_at=later, revoked_at=None, now=now) == InviteStatus.USED_UP
    assert invite_status(uses=0, max_uses=1, expires_at=earlier, revoked_at=None, now=now) == InviteStatus.EXPIRED
    assert invite_status(uses=1, max_uses=1, expires_at=earlier, revoked_at=now, now=now) == InviteStatus.REVOKED


def test_invite_arguments() -> None:
    plain = parse_invite_args(None)
    assert (plain.role, plain.uses, plain.lifetime, plain.team, plain.error) == ("staff", 1, timedelta(days=7),
                                                                                None, None)
    full = parse_invite_args("lead 3 48h hotel-rome")
    assert (full.role, full.uses, full.lifetime, full.team) == ("lead", 3, timedelta(hours=48), "hotel-rome")
    assert parse_invite_args("staff 0").error == "uses"
    assert parse_invite_args("staff 91d").error == "expires"
    assert parse_invite_args("a b").error == "usage"


def _person(role: str, team_id: int | None = 1, oversees: frozenset[int] = frozenset(), user_id: int = 1
            ) -> CorePerson:
    return CorePerson(user_id=user_id, telegram_id=1, name="x", role=role, team_id=team_id, team="t",
                      language="en", oversees=oversees)


def test_who_may_grant_what() -> None:
    manager, admin = _person("manager"), _person("admin")
    assert [r.value for r in grantable_roles(manager)] == ["staff", "lead", "manager"]
    assert len(grantable_roles(admin)) == 5
    for role in ("staff", "lead", "supervisor"):
        assert grantable_roles(_person(role)) == ()
    assert may_grant(manager, "manager", 1) and not may_grant(manager, "supervisor", 1)
    assert not may_grant(manager, "staff", 2) and may_grant(_person("manager", oversees=frozenset({2})), "staff", 2)
    assert may_grant(admin, "admin", 7)
    assert may_manage(manager, user_id=2, role="lead", team_id=1)
    assert not may_manage(manager, user_id=2, role="admin", team_id=1)  # above what they may grant
    assert not may_manage(manager, user_id=2, role="staff", team_id=2)  # another team
    assert not may_manage(manager, user_id=1, role="manager", team_id=1)  # themselves
    assert may_manage(admin, user_id=2, role="admin", team_id=None)


# ---- through the bot -----------------------------------------------------------------------------------------------

async def invite_rows(h: Harness) -> list[Invite]:
    async with h.app.db.session() as session:
        return list((await session.exec(select(Invite).order_by(Invite.id))).all())


async def audit_rows(h: Harness, action: str | None = None) -> list[AuditEntry]:
    async with h.app.db.session() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list((await session.exec(query)).all())


async def make_invite(person: Person, args: str = "") -> str:
    """Send /invite, return the token from the link in the answer."""
    await person.send(f"/invite {args}".strip())
    found = LINK.search(person.last_text())
    assert found, person.last_text()
    return found.group(1)


async def test_manager_creates_an_invite(harness: Harness) -> None:
    manager = await staff(harness, telegram_id=2100, role="manager")
    token = await make_invite(manager)
    text = manager.last_text()
    assert "Invite #" in text and "<b>shop-1</b> as <b>Staff</b>" in text and "once" in text
    assert len(token) >= 22
    [row] = await invite_rows(harness)
    assert row.token_hash == hash_token(token) and row.token_hash != token
    assert (row.role, row.max_uses, row.uses, row.revoked_at) == ("staff", 1, 0, None)
    assert timedelta(days=6, hours=23) < row.expires_at - utcnow() <= timedelta(days=7)
    [entry] = await audit_rows(harness, "invite.created")
    assert entry.actor_id is not None and entry.subject == f"invite #{row.id}" and entry.team_id == row.team_id
    assert token not in str(entry.after) and entry.after["role"] == "staff"

    token2 = await make_invite(manager, "lead 3 48h")
    row2 = (await invite_rows(harness))[-1]
    assert token2 != token and (row2.role, row2.max_uses) == ("lead", 3)
    assert timedelta(hours=47) < row2.expires_at - utcnow() <= timedelta(hours=48)
    assert "3 times" in manager.last_text()


@pytest.mark.parametrize("role", ["staff", "lead", "supervisor"])
async def test_invite_refused_below_manager(harness: Harness, role: str) -> None:
    person = await staff(harness, telegram_id=2100, role=role)
    before = await audit_rows(harness)
    await person.send("/invite")
    assert "not part of your role" in person.last_text() and "t.me" not in person.last_text()
    await person.send("/invites")
    assert "not part of your role" in person.last_text()
    assert await invite_rows(harness) == [] and await audit_rows(harness) == before


async def test_manager_grants_at_most_manager_and_only_for_their_teams(harness: Harness) -> None:
    manager = await staff(harness, telegram_id=2100, role="manager")
    await harness.person(ADMIN_ID, "Alice").send("/adduser 2200 staff shop-2")  # shop-2 exists, not theirs
    for args in ("supervisor", "admin"):
        await manager.send(f"/invite {args}")
        assert "You may not invite" in manager.last_text() and "Staff, Lead, Manager." in manager.last_text()
    await manager.send("/invite staff shop-2")
    assert "no team <b>shop-2</b> among the teams you cover" in manager.last_text()
    await manager.send("/invite staff 0")
    assert "not a number of uses" in manager.last_text()
    await manager.send("/invite staff 100d")
    assert "not a lifetime" in manager.last_text()
    assert await invite_rows(harness) == [] and await audit_rows(harness, "invite.created") == []
    await make_invite(manager, "manager")  # their own rank is fine

    admin = harness.person(ADMIN_ID, "Alice")
    await make_invite(admin, "supervisor shop-2 2 1d")
    row = (await invite_rows(harness))[-1]
    assert (row.role, row.max_uses) == ("supervisor", 2)


async def test_list_and_revoke(harness: Harness) -> None:
    manager = await staff(harness, telegram_id=2100, role="manager")
    await make_invite(manager, "lead 3")
    await make_invite(manager)
    first, second = await invite_rows(harness)
    await manager.send("/invites")
    text, labels = manager.screen()
    assert f"#{first.id}" in text and "3 of 3 uses left" in text and "1 of 1 use left" in text
    assert f"✖ Revoke #{first.id}" in labels and f"✖ Revoke #{second.id}" in labels
    await manager.press(f"✖ Revoke #{first.id}")
    text, labels = manager.screen()
    assert f"Invite #{first.id} revoked" in text and f"✖ Revoke #{first.id}" not in labels
    first = (await invite_rows(harness))[0]
    assert first.revoked_at is not None
    [entry] = await audit_rows(harness, "invite.revoked")
    assert entry.before["revoked"] is False and entry.after["revoked"] is True
    await manager.press_data(InviteCb(action=InviteAction.REVOKE, id=first.id).pack())  # again: nothing new
    assert "already revoked" in manager.alerts()[-1]
    assert len(await audit_rows(harness, "invite.revoked")) == 1


async def test_revoke_refused_outside_ones_teams_and_below_manager(harness: Harness) -> None:
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/invite staff shop-2")  # no team shop-2 yet: nothing is created
    assert "no team <b>shop-2</b>" in admin.last_text() and await invite_rows(harness) == []
    await admin.send("/adduser 2200 staff shop-2")
    await make_invite(admin, "staff shop-2")
    [row] = await invite_rows(harness)
    forged = InviteCb(action=InviteAction.REVOKE, id=row.id).pack()
    manager = await staff(harness, telegram_id=2100, role="manager")  # shop-1
    await manager.press_data(forged)
    assert "not for a team you cover" in manager.alerts()[-1]
    lead = await staff(harness, telegram_id=2300, role="lead")
    await lead.press_data(forged)
    assert "not part of your role" in lead.alerts()[-1]
    [row] = await invite_rows(harness)
    assert row.revoked_at is None and await audit_rows(harness, "invite.revoked") == []


# ---- the race for the last use -----------------------------------------------------------------------------------

async def _db_with_invite(config: Config, max_uses: int) -> tuple[Database, int]:
    db = Database(config.database_url)
    await db.create_tables()
    async with db.session() as session:
        team = await ensure_team(session, "race")
        assert team.id is not None
        invite = await invites.create(session, token_hash=hash_token(new_token()), team_id=team.id, role="staff",
                                      max_uses=max_uses, expires_at=utcnow() + timedelta(hours=1))
    assert invite.id is not None
    return db, invite.id


async def test_racing_for_the_last_use_lets_exactly_one_in(config: Config) -> None:
    db, invite_id = await _db_with_invite(config, max_uses=1)

    async def attempt() -> bool:
        async with db.session() as session:
            won = await invites.consume(session, invite_id)
            await asyncio.sleep(0.05)  # hold the transaction open while the other one tries
            await session.commit()
            return won

    try:
        results = await asyncio.gather(attempt(), attempt())
        assert sorted(results) == [False, True]
        async with db.session() as session:
            assert (await session.get(Invite, invite_id)).uses == 1
    finally:
        await db.dispose()


async def test_racing_people_join_no_more_than_the_uses(config: Config) -> None:
    db, invite_id = await _db_with_invite(config, max_uses=2)
    shift = {"days": [0], "start": "09:00", "end": "17:00"}

    async def join(telegram_id: int) -> bool:
        async with db.session() as session:
            joined = await invites.join(session, invite_id, telegram_id=telegram_id, name=f"p{telegram_id}",
                                        language="en", shift=shift)
            return joined.joined

    try:
        results = await asyncio.gather(*(join(7000 + n) for n in range(5)))
        assert results.count(True) == 2
        async with db.session() as session:
            assert (await session.get(Invite, invite_id)).uses == 2
            users = (await session.exec(select(User).where(User.telegram_id >= 7000))).all()
            assert len(users) == 2
            used = (await session.exec(select(AuditEntry).where(AuditEntry.action == "invite.used"))).all()
            added = (await session.exec(select(AuditEntry).where(AuditEntry.action == "person.added"))).all()
            assert len(used) == 2 and len(added) == 2
    finally:
        await db.dispose()


# ---- from the shell --------------------------------------------------------------------------------------------------

async def test_cli_invite_create_list_revoke(config: Config, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    env(monkeypatch, config)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    capsys.readouterr()
    assert await cli("invite", "create", "--team", "shop-9", "--role", "lead", "--uses", "2", "--expires", "2d",
                     "--bot-username", "acme_bot") == 0
    out = capsys.readouterr()
    found = re.search(r"https://t\.me/acme_bot\?start=([A-Za-z0-9_-]{22,})", out.out)
    assert found and "lead in team shop-9, 2 use(s)" in out.out and "shop-9 did not exist" in out.err

    assert await cli("invite", "create", "--team", "shop-9", "--role", "staff") == 0
    out = capsys.readouterr()
    assert "https://t.me/<your-bot>?start=" in out.out and "--bot-username" in out.err

    assert await cli("invite", "create", "--team", "shop-9", "--role", "staff", "--expires", "soon") == 2
    assert "--expires" in capsys.readouterr().err

    assert await cli("invite", "list") == 0
    listed = capsys.readouterr().out
    assert "shop-9\tlead\t2 of 2 use(s) left" in listed and "shop-9\tstaff\t1 of 1 use(s) left" in listed
    first_id = int(re.search(r"#(\d+)\tshop-9\tlead", listed).group(1))

    assert await cli("invite", "revoke", str(first_id)) == 0
    assert f"invite #{first_id} revoked" in capsys.readouterr().out
    assert await cli("invite", "revoke", str(first_id)) == 1
    assert await cli("invite", "list") == 0
    assert "lead" not in capsys.readouterr().out

    db = Database(config.database_url)
    try:
        async with db.session() as session:
            rows = (await session.exec(select(Invite).order_by(Invite.id))).all()
            assert rows[0].token_hash == hash_token(found.group(1)) and rows[0].revoked_at is not None
            actions = [e.action for e in (await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()]
            assert actions.count("invite.created") == 2 and actions.count("invite.revoked") == 1
    finally:
        await db.dispose()
