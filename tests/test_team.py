"""/team through the real Dispatcher: list, change a role, move, deactivate; every change audited, every
refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.ui.team import TeamAction, TeamCb
from storage.models import AuditEntry, Escalation, Team, TeamOversight, User
from storage.types import utcnow
from tests.conftest import ADMIN_ID, STAFF_ID
from tests.harness import Harness, Person
from tests.test_handlers_flow import decisions, staff, walk_to_outcome
from tests.test_invites import audit_rows, make_invite

MANAGER_ID, LEAD_ID, OTHER_ID = 2100, 2200, 2300


async def user(h: Harness, telegram_id: int) -> User:
    async with h.app.db.session() as session:
        return (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()


async def team_id(h: Harness, name: str) -> int:
    async with h.app.db.session() as session:
        team = (await session.exec(select(Team).where(Team.name == name))).one()
        assert team.id is not None
        return team.id


async def setup(h: Harness) -> tuple[Person, Person]:
    """shop-1: manager Mia, staff Ann, lead Leo; shop-2: staff Olga."""
    manager = await staff(h, telegram_id=MANAGER_ID, role="manager")
    manager.name = "Mia"
    ann = await staff(h)
    await staff(h, telegram_id=LEAD_ID, role="lead")
    await h.person(ADMIN_ID, "Alice").send(f"/adduser {OTHER_ID} staff shop-2")
    async with h.app.db.session() as session:
        for telegram_id, name in ((MANAGER_ID, "Mia"), (STAFF_ID, "Ann"), (LEAD_ID, "Leo"), (OTHER_ID, "Olga")):
            row = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
            row.name = name
            session.add(row)
        await session.commit()
    return manager, ann


async def open_person(manager: Person, label: str) -> None:
    await manager.send("/team")
    await manager.press(label)


async def test_manager_lists_their_teams_people(harness: Harness) -> None:
    manager, _ = await setup(harness)
    await manager.send("/team")
    text, labels = manager.screen()
    assert "<b>Ann</b> · Staff · shop-1" in text and "<b>Leo</b> · Lead" in text and "<b>Mia</b> · Manager" in text
    assert "Olga" not in text and "Alice" not in text  # other teams stay out of sight
    assert {"Ann · Staff", "Leo · Lead", "Mia · Manager", "☰ Menu"} <= set(labels)
    await manager.press("Mia · Manager")
    text, labels = manager.screen()
    assert "You cannot change this person" in text and labels == ["◀ Back"]

    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/team")
    assert "Olga" in admin.screen()[0] and "Ann" in admin.screen()[0]


async def test_change_role_is_audited(harness: Harness) -> None:
    manager, _ = await setup(harness)
    await open_person(manager, "Ann · Staff")
    text, labels = manager.screen()
    assert "Role: <b>Staff</b>" in text
    assert labels == ["🎚 Change role", "🔀 Move to a team", "🚪 Deactivate", "◀ Back"]
    await manager.press("🎚 Change role")
    assert manager.screen()[1] == ["Lead", "Manager", "◀ Back"]  # never above manager
    await manager.press("Lead")
    assert "Ann is now Lead" in manager.screen()[0] and "Role: <b>Lead</b>" in manager.screen()[0]
    assert (await user(harness, STAFF_ID)).role == "lead"
    [entry] = await audit_rows(harness, "person.role_changed")
    assert entry.before["role"] == "staff" and entry.after["role"] == "lead"
    assert entry.subject == str(STAFF_ID) and entry.actor_id == (await user(harness, MANAGER_ID)).id


async def test_move_within_covered_teams(harness: Harness) -> None:
    manager, _ = await setup(harness)
    await open_person(manager, "Ann · Staff")
    await manager.press("🔀 Move to a team")
    assert "no other team you cover" in manager.screen()[0]
    async with harness.app.db.session() as session:  # Mia now oversees shop-2 too
        mia = await user(harness, MANAGER_ID)
        session.add(TeamOversight(user_id=mia.id, team_id=await team_id(harness, "shop-2")))
        await session.commit()
    await open_person(manager, "Ann · Staff")
    await manager.press("🔀 Move to a team")
    await manager.press("shop-2")
    assert "Ann moved to shop-2" in manager.screen()[0]
    assert (await user(harness, STAFF_ID)).team_id == await team_id(harness, "shop-2")
    [entry] = await audit_rows(harness, "person.moved")
    assert entry.before["team"] == "shop-1" and entry.after["team"] == "shop-2"


async def test_deactivate_stops_them_and_keeps_their_decisions(harness: Harness) -> None:
    manager, ann = await setup(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    ann_row = await user(harness, STAFF_ID)
    async with harness.app.db.session() as session:
        for status in ("pending", "approved"):
            session.add(Escalation(user_id=ann_row.id, team_id=ann_row.team_id, flow_token=status[:8],
                                   playbook_id="p", playbook_version="1", status=status,
                                   due_at=utcnow() + timedelta(minutes=5), staff_chat_id=STAFF_ID))
        await session.commit()

    await open_person(manager, "Ann · Staff")
    await manager.press("🚪 Deactivate")
    text, labels = manager.screen()
    assert "Deactivate Ann?" in text and labels == ["🚪 Yes, deactivate", "◀ Back"]
    assert (await user(harness, STAFF_ID)).active  # asking changes nothing
    await manager.press("🚪 Yes, deactivate")
    assert "Ann is deactivated" in manager.screen()[0] and "Inactive since" in manager.screen()[0]

    row = await user(harness, STAFF_ID)
    assert not row.active and row.deactivated_at is not None
    async with harness.app.db.session() as session:
        statuses = sorted(e.status for e in (await session.exec(select(Escalation))).all())
    assert statuses == ["approved", "cancelled"]
    assert len(await decisions(harness)) == 1
    [entry] = await audit_rows(harness, "person.deactivated")
    assert entry.before["active"] is True and entry.after["active"] is False
    assert entry.after["escalations_cancelled"] == 1

    await ann.send("/start")
    assert "only for registered staff" in ann.last_text()
    await manager.press_data(TeamCb(action=TeamAction.CONFIRM, user=row.id).pack())  # again: nothing new
    assert len(await audit_rows(harness, "person.deactivated")) == 1

    # Brought back by a new invite: active again, the same person, the decisions still theirs.
    token = await make_invite(manager)
    await ann.send(f"/start {token}")
    await ann.press("Use Ann")
    await ann.press("English")
    await ann.press("Sat–Sun")
    await ann.press("14:00–22:00")
    back = await user(harness, STAFF_ID)
    assert back.active and back.id == row.id and back.deactivated_at is None
    assert back.shift == {"days": [5, 6], "start": "14:00", "end": "22:00"}


async def _unchanged(h: Harness, before_users: list[User], before_audit: list[AuditEntry]) -> None:
    async with h.app.db.session() as session:
        now = list((await session.exec(select(User).order_by(User.id))).all())
    assert [(u.role, u.team_id, u.active) for u in now] == [(u.role, u.team_id, u.active) for u in before_users]
    assert await audit_rows(h) == before_audit


async def test_forged_buttons_outside_ones_rights_change_nothing(harness: Harness) -> None:
    manager, _ = await setup(harness)
    await harness.person(ADMIN_ID).send("/adduser 2400 admin shop-1")
    olga, ann, mia, boss = [await user(harness, t) for t in (OTHER_ID, STAFF_ID, MANAGER_ID, 2400)]
    async with harness.app.db.session() as session:
        users_before = list((await session.exec(select(User).order_by(User.id))).all())
    audit_before = await audit_rows(harness)
    shop2 = str(await team_id(harness, "shop-2"))
    forged = [
        TeamCb(action=TeamAction.SET_ROLE, user=olga.id, value="lead"),  # another team's person
        TeamCb(action=TeamAction.CONFIRM, user=olga.id),
        TeamCb(action=TeamAction.PERSON, user=olga.id),
        TeamCb(action=TeamAction.SET_ROLE, user=ann.id, value="supervisor"),  # above manager
        TeamCb(action=TeamAction.SET_ROLE, user=ann.id, value="admin"),
        TeamCb(action=TeamAction.SET_ROLE, user=ann.id, value="nonsense"),
        TeamCb(action=TeamAction.SET_TEAM, user=ann.id, value=shop2),  # to a team not covered
        TeamCb(action=TeamAction.SET_ROLE, user=boss.id, value="staff"),  # an admin of their team
        TeamCb(action=TeamAction.CONFIRM, user=boss.id),
        TeamCb(action=TeamAction.SET_ROLE, user=mia.id, value="staff"),  # themselves
        TeamCb(action=TeamAction.CONFIRM, user=mia.id),
        TeamCb(action=TeamAction.CONFIRM, user=99999),  # nobody
    ]
    for data in forged:
        before = len(manager.alerts())
        await manager.press_data(data.pack())
        assert len(manager.alerts()) == before + 1 and "You cannot change this person" in manager.alerts()[-1], data
    await _unchanged(harness, users_before, audit_before)


@pytest.mark.parametrize("role", ["staff", "lead", "supervisor"])
async def test_team_refused_below_manager(harness: Harness, role: str) -> None:
    await setup(harness)
    person = await staff(harness, telegram_id=2500, role=role)
    ann = await user(harness, STAFF_ID)
    async with harness.app.db.session() as session:
        users_before = list((await session.exec(select(User).order_by(User.id))).all())
    audit_before = await audit_rows(harness)
    await person.send("/team")
    assert "not part of your role" in person.last_text() and "Ann" not in person.last_text()
    values = {TeamAction.SET_ROLE: "lead", TeamAction.SET_TEAM: str(await team_id(harness, "shop-2"))}
    for action in TeamAction:  # every button of /team
        await person.press_data(TeamCb(action=action, user=ann.id, value=values.get(action, "")).pack())
        assert "not part of your role" in person.alerts()[-1], action
    await _unchanged(harness, users_before, audit_before)


def test_buttons_fit_telegrams_64_bytes() -> None:
    from bot.ui.invites import InviteAction, InviteCb
    from bot.ui.onboarding import OnboardAction, OnboardCb

    big = 2**63 - 1
    packed = [TeamCb(action=action, user=big, value="supervisor", page=9999).pack() for action in TeamAction]
    packed += [TeamCb(action=TeamAction.SET_TEAM, user=big, value=str(big), page=9999).pack()]
    packed += [InviteCb(action=action, id=big).pack() for action in InviteAction]
    packed += [OnboardCb(action=action, value="every_day").pack() for action in OnboardAction]
    assert all(len(data.encode()) <= 64 for data in packed), max(packed, key=len)
