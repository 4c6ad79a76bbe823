"""Joining by invite link, through the real Dispatcher: name, language, shift, then the menu. Strangers
get in only this way; bad links create nothing."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import SendMessage
from sqlalchemy import update
from sqlmodel import select

from bot.core.onboarding import clean_name, parse_hours, toggle_day
from bot.ui.onboarding import OnboardAction, OnboardCb
from bot.ui.team import TeamAction, TeamCb
from storage.models import AuditEntry, Invite, User
from storage.types import utcnow
from tests.harness import Harness, Person
from tests.test_handlers_flow import staff
from tests.test_invites import audit_rows, invite_rows, make_invite

NEWCOMER = 5000
MENU = ["🧭 A customer moment", "📒 My decisions", "❓ Help"]


async def user(h: Harness, telegram_id: int = NEWCOMER) -> User | None:
    async with h.app.db.session() as session:
        return (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()


async def invite_from_manager(h: Harness, args: str = "") -> str:
    manager = await staff(h, telegram_id=2100, role="manager")
    return await make_invite(manager, args)


async def join_with_buttons(person: Person, token: str) -> None:
    await person.send(f"/start {token}")
    await person.press(f"Use {person.name}")
    await person.press("English")
    await person.press("Mon–Fri")
    await person.press("09:00–17:00")


def test_names_and_hours() -> None:
    assert clean_name("  Ann   Lee ") == "Ann Lee"
    assert clean_name("a\u0000b\u200b") == "ab"
    assert clean_name("x" * 64) == "x" * 64 and clean_name("x" * 65) is None
    assert clean_name("   ") is None and clean_name("/start") is None
    assert parse_hours("9-17") == ("09:00", "17:00")
    assert parse_hours("22:00 – 06:30") == ("22:00", "06:30")
    assert parse_hours("9h to 17h") == ("09:00", "17:00")
    for bad in ("9", "9-9", "25-3", "9:75-10", "morning"):
        assert parse_hours(bad) is None, bad
    assert toggle_day([0, 2], 2) == [0] and toggle_day([0], 6) == [0, 6]


async def test_onboarding_in_italian(harness: Harness) -> None:
    token = await invite_from_manager(harness)
    nora = harness.person(NEWCOMER, "Nora", language="it")
    await nora.send(f"/start {token}")
    await nora.send("Nora")
    await nora.press("Italiano")
    _, labels = nora.screen()
    assert {"Lun–Ven", "Lun", "Dom", "Continua ▶"} <= set(labels)  # from here on, the bot speaks Italian
    await nora.press("Lun–Ven")  # a preset goes straight on to the hours
    await nora.press("09:00–17:00")
    joined = await user(harness)
    assert joined is not None and joined.language == "it"
    _, labels = nora.screen()
    assert labels[0] == "🧭 Un momento con il cliente"


async def test_onboarding_end_to_end(harness: Harness) -> None:
    token = await invite_from_manager(harness)
    nora = harness.person(NEWCOMER, "Nora")
    await nora.send(f"/start {token}")
    text, labels = nora.screen()
    assert "join <b>shop-1</b> as <b>Staff</b>" in text and labels == ["Use Nora"]
    await nora.send("x" * 65)
    assert "65 characters; the most is 64" in nora.screen()[0]
    await nora.send("<Nora & Co>")
    text, labels = nora.screen()
    assert "Thanks, <b>&lt;Nora &amp; Co&gt;</b>" in text
    assert labels == ["English", "Italiano", "Français", "Русский"]
    await nora.press("English")  # the Italian path: test_onboarding_in_italian
    text, labels = nora.screen()
    assert "which days" in text and {"Mon–Fri", "Sat–Sun", "Every day", "Mon", "Sun", "Continue ▶"} <= set(labels)
    await nora.press("Continue ▶")
    assert "at least one day" in nora.alerts()[-1]
    await nora.press("Mon")
    await nora.press("Wed")
    assert "Chosen: Mon, Wed" in nora.screen()[0] and "✅ Mon" in nora.screen()[1]
    await nora.press("Continue ▶")
    assert "Your usual hours" in nora.screen()[0] and "(Mon, Wed)" in nora.screen()[0]
    assert await user(harness) is None  # nothing exists until the last answer
    await nora.send("whenever")
    assert "not a span of hours" in nora.screen()[0]
    await nora.send("8-16")

    joined = await user(harness)
    assert joined is not None and joined.active
    assert (joined.name, joined.role, joined.language) == ("<Nora & Co>", "staff", "en")
    assert joined.shift == {"days": [0, 2], "start": "08:00", "end": "16:00"}
    [invite] = await invite_rows(harness)
    assert invite.uses == 1 and joined.team_id == invite.team_id
    [used] = await audit_rows(harness, "invite.used")
    [added] = [e for e in await audit_rows(harness, "person.added") if e.subject == str(NEWCOMER)]
    assert used.subject == f"invite #{invite.id}" and used.actor_id == joined.id and used.after["uses"] == 1
    assert added.after == {"telegram_id": NEWCOMER, "role": "staff", "team": "shop-1", "active": True}
    texts = [r.text for r in harness.session.sent(SendMessage) if int(r.chat_id) == NEWCOMER]
    assert any("You are in, &lt;Nora &amp; Co&gt;!" in t and "Mon, Wed, 08:00–16:00" in t for t in texts)
    text, labels = nora.screen()
    assert "Hello, &lt;Nora &amp; Co&gt;!" in text and labels == MENU

    await nora.send("/start")  # a member now: the ordinary menu
    assert nora.screen()[1] == MENU


async def test_onboarding_with_presets(harness: Harness) -> None:
    token = await invite_from_manager(harness, "lead")
    nora = harness.person(NEWCOMER, "Nora")
    await join_with_buttons(nora, token)
    joined = await user(harness)
    assert joined is not None and (joined.name, joined.role, joined.language) == ("Nora", "lead", "en")
    assert joined.shift == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    assert nora.screen()[1] == MENU


async def _refused_and_nothing_created(h: Harness, person: Person, expected: str) -> None:
    assert expected in person.last_text(), person.last_text()
    assert "Nothing was set up" in person.last_text()
    assert await user(h, person.telegram_id) is None
    await person.send("hello")  # no onboarding state was left behind
    assert "only for registered staff" in person.last_text()


async def test_bad_links_create_nothing(harness: Harness) -> None:
    token = await invite_from_manager(harness, "2")
    first, second, third = (harness.person(NEWCOMER + n, f"P{n}") for n in range(3))
    await join_with_buttons(first, token)
    await join_with_buttons(second, token)
    assert await user(harness, first.telegram_id) and await user(harness, second.telegram_id)
    await third.send(f"/start {token}")
    await _refused_and_nothing_created(harness, third, "already been used")

    stranger = harness.person(NEWCOMER + 10, "Eve")
    await stranger.send("/start " + "A" * 32)
    await _refused_and_nothing_created(harness, stranger, "link is not valid")
    await stranger.send("/start <b>nope</b>")
    await _refused_and_nothing_created(harness, stranger, "link is not valid")

    manager = harness.person(2100)
    expired = await make_invite(manager)
    async with harness.app.db.session() as session:
        await session.exec(update(Invite).where(Invite.id == (await invite_rows(harness))[-1].id)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    await stranger.send(f"/start {expired}")
    await _refused_and_nothing_created(harness, stranger, "has expired")

    revoked = await make_invite(manager)
    await manager.send("/invites")
    await manager.press(f"✖ Revoke #{(await invite_rows(harness))[-1].id}")
    await stranger.send(f"/start {revoked}")
    await _refused_and_nothing_created(harness, stranger, "was withdrawn")


async def test_invite_closed_while_onboarding_creates_nothing(harness: Harness) -> None:
    token = await invite_from_manager(harness)
    nora = harness.person(NEWCOMER, "Nora")
    await nora.send(f"/start {token}")
    await nora.press("Use Nora")
    await nora.press("English")
    await nora.press("Every day")
    manager = harness.person(2100)
    await manager.send("/invites")
    await manager.press(f"✖ Revoke #{(await invite_rows(harness))[0].id}")
    await nora.press("22:00–06:00")
    assert "was withdrawn" in nora.last_text()
    assert await user(harness) is None
    [invite] = await invite_rows(harness)
    assert invite.uses == 0 and await audit_rows(harness, "invite.used") == []
    await nora.send("hi")
    assert "only for registered staff" in nora.last_text()


async def test_a_member_opening_an_invite_changes_nothing(harness: Harness) -> None:
    token = await invite_from_manager(harness, "manager")
    ann = await staff(harness)  # staff in shop-1
    before = await audit_rows(harness)
    await ann.send(f"/start {token}")
    assert "already registered" in ann.last_text()
    row = await user(harness, ann.telegram_id)
    assert row is not None and row.role == "staff"
    assert (await invite_rows(harness))[0].uses == 0 and await audit_rows(harness) == before


async def test_strangers_get_nothing_but_onboarding(harness: Harness) -> None:
    eve = harness.person(NEWCOMER, "Eve")
    forged = [OnboardCb(action=OnboardAction.LANGUAGE, value="en").pack(),
              OnboardCb(action=OnboardAction.HOURS, value="1").pack(),
              TeamCb(action=TeamAction.CONFIRM, user=1).pack()]
    for data in forged:  # not onboarding: refused by the middleware
        await eve.press_data(data)
        assert "only for registered staff" in eve.alerts()[-1]
    for text in ("/start", "/invite", "/team", "refund please", "/start@another_bot " + "A" * 32):
        await eve.send(text)
        assert "only for registered staff" in eve.last_text(), text

    token = await invite_from_manager(harness)
    await eve.send(f"/start {token}")
    await eve.send("/team")  # a command is no name; nothing privileged runs
    assert "What name should your colleagues see?" in eve.last_text()
    await eve.press("Use Eve")
    for data in [*forged[2:], OnboardCb(action=OnboardAction.HOURS, value="1").pack()]:
        await eve.press_data(data)  # not this step's buttons
        assert "expired" in eve.alerts()[-1]
    await eve.send("/history")
    assert "Which language" in eve.last_text()
    await eve.press_data(OnboardCb(action=OnboardAction.LANGUAGE, value="xx").pack())
    assert "expired" in eve.alerts()[-1]
    await eve.send("/cancel")
    assert "Joining cancelled" in eve.last_text()
    await eve.press_data(OnboardCb(action=OnboardAction.LANGUAGE, value="en").pack())
    assert "only for registered staff" in eve.alerts()[-1]
    assert await user(harness) is None and (await invite_rows(harness))[0].uses == 0
    async with harness.app.db.session() as session:
        assert (await session.exec(select(AuditEntry).where(AuditEntry.subject == str(NEWCOMER)))).all() == []
