"""Telling staff what changed: the note (pure), who gets it, and the background sending after a publish."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import EditMessageText, SendMessage
from sqlmodel import select

from bot.core.change_notes import ChangeNote, LimitNote, PathNote, build_note
from bot.core.diff import diff_playbooks
from bot.core.loader import parse_playbook
from bot.core.playbook import Playbook
from bot.notify import Delivery, Notifications
from bot.ui.change_notes import deliveries
from bot.ui.render import Renderer
from bot.ui.screens import Screens
from storage import people as people_store
from storage.change_notes import Recipient
from storage.models import Decision, Team, User
from storage.types import utcnow
from tests.conftest import ADMIN_ID, ROOT
from tests.harness import Harness, Person

REFUND_FILE = ROOT / "playbooks" / "retail" / "refund-without-receipt.yaml"
PID = "refund-without-receipt"


def answer(russian_label: str, outcome: str) -> str:
    """An option as the playbook file writes it: the label's last language line, then where it leads."""
    return f'ru: "{russian_label}"\n        outcome: {outcome}'


GENUINE = answer("Выглядит честно", "store-credit")
GENUINE_REFUND = answer("Выглядит честно", "full-refund")
FULL_REFUND = "Refund in full to the original payment method"
STORE_CREDIT = "Offer store credit for the full current price"
NO_TRACE = ("Yes, or I can't tell", "No, no trace at all", "Looks genuine")
CHANGELOG = "Genuine returns get their money back"


def source(*replacements: tuple[str, str]) -> str:
    text = REFUND_FILE.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def playbook(*replacements: tuple[str, str]) -> Playbook:
    parsed, problems = parse_playbook(source(*replacements), "refund.yaml", "retail")
    assert parsed is not None, problems
    return parsed


LIMIT = ("staff: 50", "staff: 60")
RECOMMEND = (GENUINE, GENUINE_REFUND)
WORDING = (FULL_REFUND, "Refund everything at once, gladly")


# ---- the note ---------------------------------------------------------------------------------------------------

def test_a_changed_recommendation_names_the_answers_and_both_outcomes() -> None:
    before, after = playbook(), playbook(RECOMMEND)
    note = build_note(diff_playbooks(before, after), before, after, "  Genuine returns\n get their money back ")
    assert note is not None
    assert note.paths == (PathNote(NO_TRACE, STORE_CREDIT, FULL_REFUND),)
    assert note.limits == () and note.more == 0
    assert note.changelog == CHANGELOG and note.title == "Refund without a receipt"


def test_a_changed_limit_is_told() -> None:
    before, after = playbook(), playbook(LIMIT)
    note = build_note(diff_playbooks(before, after), before, after)
    assert note is not None
    assert note.limits == (LimitNote("staff", Decimal(50), Decimal(60)),) and note.paths == ()


def test_wording_only_makes_no_note_and_a_new_playbook_neither() -> None:
    before, after = playbook(), playbook(WORDING)
    diff = diff_playbooks(before, after)
    assert not diff.is_empty and not diff.matters_to_staff
    assert build_note(diff, before, after, "typo") is None
    assert build_note(diff_playbooks(None, after), None, after) is None


def test_the_note_is_in_the_readers_language() -> None:
    before, after = playbook(), playbook(RECOMMEND)
    note = build_note(diff_playbooks(before, after), before, after, language="it")
    assert note is not None and note.title == "Reso senza scontrino"
    assert note.paths[0].answers == ("Sì, o non saprei", "No, nessuna traccia", "Sembra tutto regolare")


def test_a_long_note_is_capped_and_the_rest_counted() -> None:
    before = playbook()
    after = playbook(("{staff: 50, lead: 200}", "{staff: 60, lead: 250}"), RECOMMEND,
                     (answer("Пользовались, но исправен", "store-credit"),
                      answer("Пользовались, но исправен", "replace-or-refund")),
                     (answer("Не использован, можно продать", "full-refund"),
                      answer("Не использован, можно продать", "store-credit")),
                     (answer("Брак или сломался сам по себе", "replace-or-refund"),
                      answer("Брак или сломался сам по себе", "full-refund")))
    diff = diff_playbooks(before, after)
    assert len(diff.limits_changed) == 2 and len(diff.recommendations_changed) == 4
    note = build_note(diff, before, after)
    assert note is not None
    assert [n.role for n in note.limits] == ["lead", "staff"]  # limits first: short, and they concern everyone
    assert note.shown == 5 and note.more == 1
    short = build_note(diff, before, after, max_changes=1)
    assert short is not None and short.shown == 1 and short.more == 5
    text = Screens(Renderer("EUR")).r.render("change_note.html.j2", "en", note=short, currency="EUR",
                                             rolled_back=False)
    assert text.count("\n💶") == 1 and "🎯" not in text
    assert text.endswith("…and 5 more changes: open the playbook to see them.")


def test_answers_that_no_longer_exist_are_named_as_gone() -> None:
    note = ChangeNote("p", "P", "v2", "", limits=(LimitNote("lead", Decimal(200), None),),
                      paths=(PathNote(("Yes", "No"), "Old way", None), PathNote(("Maybe",), None, "New way")))
    text = Screens(Renderer("EUR")).r.render("change_note.html.j2", "en", note=note, currency="EUR",
                                             rolled_back=False)
    assert "Limit for Lead: €200.00 → <b>none</b>" in text
    assert "<i>Yes › No</i> → these answers are gone (was: Old way)" in text
    assert "<i>Maybe</i> → now: <b>New way</b>\n" not in text and text.endswith("<i>Maybe</i> → now: <b>New way</b>")


def test_the_rendered_note_escapes_and_uses_each_persons_currency_and_language() -> None:
    before, after = playbook(), playbook(LIMIT, RECOMMEND)
    screens = Screens(Renderer("EUR"))
    people = [Recipient(1, 11, "en", None), Recipient(2, 12, "en", "GBP"), Recipient(3, 13, "it", None)]
    notes = deliveries(screens, people, diff_playbooks(before, after), before, after, "<b>more</b> & fair", "EUR")
    assert [n.chat_id for n in notes] == [11, 12, 13]
    euro, pound, italian = (n.text for n in notes)
    assert "Why: <i>&lt;b&gt;more&lt;/b&gt; &amp; fair</i>" in euro
    assert "Limit for Staff: €50.00 → <b>€60.00</b>" in euro and "£60.00" in pound
    assert f"Looks genuine</i> → now: <b>{FULL_REFUND}</b> (was: {STORE_CREDIT})" in euro
    assert "Reso senza scontrino" in italian and "60,00" in italian
    assert [b.text for row in notes[0].keyboard.inline_keyboard for b in row] == ["▶ Open it"]
    wording = playbook(WORDING)
    assert deliveries(screens, people, diff_playbooks(before, wording), before, wording, "", "EUR") == []


# ---- sending in the background ------------------------------------------------------------------------------------

class FakeBot:
    def __init__(self, fail: dict[int, Exception] | None = None) -> None:
        self.fail = fail or {}
        self.sent: list[tuple[float, int]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((asyncio.get_running_loop().time(), chat_id))
        if chat_id in self.fail:
            raise self.fail[chat_id]


async def test_sending_is_paced_skips_failures_and_reports_the_tally() -> None:
    method = SendMessage(chat_id=2, text="x")
    bot = FakeBot({2: TelegramForbiddenError(method, "Forbidden: bot was blocked by the user"),
                   3: TelegramBadRequest(method, "Bad Request: chat not found"), 4: RuntimeError("boom")})
    notifications = Notifications(per_second=50)
    reports = []

    async def done(tally: Any) -> None:
        reports.append(tally)

    task = notifications.start(bot, [Delivery(chat, "hello") for chat in range(1, 7)], done)  # type: ignore[arg-type]
    assert notifications.tasks == {task}
    await notifications.drain()
    assert notifications.tasks == set()
    [tally] = reports
    assert (tally.sent, tally.blocked, tally.failed, tally.unreached) == (3, 1, 2, 3)
    assert [chat for _, chat in bot.sent] == [1, 2, 3, 4, 5, 6]  # one send each, the loop went on
    times = [t for t, _ in bot.sent]
    assert times[-1] - times[0] >= 5 * 0.02 * 0.9  # no faster than 50 a second


async def test_drain_with_a_timeout_cancels_what_is_left() -> None:
    notifications = Notifications(per_second=1)
    task = notifications.start(FakeBot(), [Delivery(chat, "x") for chat in range(10)])  # type: ignore[arg-type]
    await notifications.drain(timeout=0.1)
    assert task.cancelled() and notifications.tasks == set()


# ---- through the real Dispatcher ------------------------------------------------------------------------------------

MANAGER_ID = 3000
ANN, BOB, CID, DEE, EVE = 2000, 2001, 2002, 2003, 2004


async def decide(h: Harness, telegram_id: int, days_ago: int, playbook_id: str = PID) -> None:
    async with h.app.db.session() as session:
        user = await people_store.user_by_telegram_id(session, telegram_id)
        assert user is not None and user.id is not None
        session.add(Decision(flow_token=secrets.token_hex(4), user_id=user.id, team_id=user.team_id,
                             created_at=utcnow() - timedelta(days=days_ago), playbook_id=playbook_id,
                             playbook_version="v1", disposition="followed", followed=True, currency="EUR",
                             limit_minor=5000))
        await session.commit()


async def floor(h: Harness) -> Person:
    """Ann and Bob used the playbook lately (Bob's team pays in pounds), Cid 40 days ago, Dee never (another
    playbook only), Eve lately but is deactivated; Mia, the manager who publishes, used it too."""
    admin = h.person(ADMIN_ID, "Alice")
    await admin.send(f"/adduser {MANAGER_ID} manager shop-1")
    for telegram_id in (ANN, CID, DEE, EVE):
        await admin.send(f"/adduser {telegram_id} staff shop-1")
    await admin.send(f"/adduser {BOB} staff shop-2")
    for telegram_id, days in ((ANN, 1), (ANN, 3), (BOB, 29), (CID, 40), (EVE, 2), (MANAGER_ID, 1)):
        await decide(h, telegram_id, days)
    await decide(h, DEE, 1, "noisy-room")
    async with h.app.db.session() as session:
        eve = await people_store.user_by_telegram_id(session, EVE)
        assert eve is not None
        eve.active = False
        session.add(eve)
        team = (await session.exec(select(Team).where(Team.name == "shop-2"))).one()
        team.currency = "GBP"
        session.add(team)
        await session.commit()
    h.session.clear()
    return h.person(MANAGER_ID, "Mia")


def notes_to(h: Harness, chat_id: int) -> list[str]:
    return [r.text for r in h.session.sent(SendMessage) if int(r.chat_id) == chat_id and "what changed" in r.text
            and "📣 <b>Refund without a receipt</b>" in r.text]


async def publish(h: Harness, mia: Person, *replacements: tuple[str, str], caption: str = CHANGELOG) -> None:
    await mia.send_document(source(*replacements).encode(), "refund.yaml", caption=caption)
    await mia.press("🚀 Publish")


async def test_a_publish_tells_the_recent_users_once_each_in_the_background(harness: Harness) -> None:
    mia = await floor(harness)
    await publish(harness, mia, LIMIT, RECOMMEND)
    # The manager hears first, before any note goes out.
    telling = next(i for i, r in enumerate(harness.session.requests)
                   if isinstance(r, EditMessageText) and "Telling 2 people" in r.text)
    assert "is live for everyone now" in harness.session.requests[telling].text
    await harness.app.notifications.drain()
    first_note = next(i for i, r in enumerate(harness.session.requests)
                      if isinstance(r, SendMessage) and "what changed" in r.text)
    assert telling < first_note

    [ann] = notes_to(harness, ANN)
    [bob] = notes_to(harness, BOB)
    for telegram_id in (CID, DEE, EVE, MANAGER_ID):
        assert notes_to(harness, telegram_id) == []
    assert f"Why: <i>{CHANGELOG}</i>" in ann and "Limit for Staff: €50.00 → <b>€60.00</b>" in ann
    assert f"→ now: <b>{FULL_REFUND}</b> (was: {STORE_CREDIT})" in ann
    assert "£60.00" in bob
    assert "is live for everyone now" in mia.last_text() and "Told 2 people what changed." in mia.last_text()

    # The note's button opens the playbook as it is now.
    await harness.person(ANN, "Ann").press("▶ Open it")
    assert "Is it something we sell" in harness.person(ANN).screen()[0]


async def test_publish_pressed_twice_tells_nobody_twice(harness: Harness) -> None:
    mia = await floor(harness)
    await mia.send_document(source(LIMIT).encode(), "refund.yaml", caption=CHANGELOG)
    button = mia.button_data("🚀 Publish")
    await mia.press_data(button)
    await mia.press_data(button)
    await harness.app.notifications.drain()
    assert "already published: nothing changed" in mia.alerts()[-1]
    assert len(notes_to(harness, ANN)) == 1 and len(notes_to(harness, BOB)) == 1


async def test_a_wording_only_publish_sends_nothing(harness: Harness) -> None:
    mia = await floor(harness)
    await publish(harness, mia, WORDING, caption="Friendlier title")
    await harness.app.notifications.drain()
    assert notes_to(harness, ANN) == [] and notes_to(harness, BOB) == []
    assert "No recommendation or limit changed: staff are not notified." in mia.last_text()


async def test_someone_who_blocked_the_bot_is_skipped_and_counted(harness: Harness) -> None:
    mia = await floor(harness)
    harness.session.blocked.add(BOB)
    await publish(harness, mia, LIMIT)
    await harness.app.notifications.drain()
    assert len(notes_to(harness, ANN)) == 1
    assert "Told 1 person what changed; 1 could not be reached (blocked the bot)." in mia.last_text()


async def test_nobody_recent_means_nobody_told(harness: Harness) -> None:
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send(f"/adduser {MANAGER_ID} manager shop-1")
    await admin.send(f"/adduser {CID} staff shop-1")
    await decide(harness, CID, 40)
    mia = harness.person(MANAGER_ID, "Mia")
    await publish(harness, mia, LIMIT)
    await harness.app.notifications.drain()
    assert notes_to(harness, CID) == []
    assert "Nobody used it in the last 30 days: nobody to tell." in mia.last_text()


async def test_a_roll_back_tells_them_too(harness: Harness) -> None:
    mia = await floor(harness)
    old = harness.app.catalog.live(PID)
    assert old is not None
    await publish(harness, mia, LIMIT, RECOMMEND)
    await harness.app.notifications.drain()
    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    await mia.press("🕓 History")
    await mia.press(f"↩ Roll back to {old.version[:7]}")
    await harness.app.notifications.drain()
    first, rolled = notes_to(harness, ANN)
    assert CHANGELOG in first
    assert "Rolled back to an earlier version." in rolled and CHANGELOG not in rolled
    assert "Limit for Staff: €60.00 → <b>€50.00</b>" in rolled
    assert f"→ now: <b>{STORE_CREDIT}</b> (was: {FULL_REFUND})" in rolled
    assert len(notes_to(harness, BOB)) == 2
    assert "Rolled back" in mia.screen()[0]  # the playbook screen stays as it was
    assert "📣 <b>Refund without a receipt</b>: Told 2 people what changed." in mia.last_text()


async def test_who_is_told_is_one_query_of_distinct_active_recent_users(harness: Harness) -> None:
    from storage.change_notes import recent_users

    await floor(harness)
    async with harness.app.db.session() as session:
        users = {u.telegram_id: u.id for u in (await session.exec(select(User))).all()}
        found = await recent_users(session, PID, utcnow() - timedelta(days=30), exclude_user_id=users[MANAGER_ID])
        everyone = await recent_users(session, PID, utcnow() - timedelta(days=30))
    assert [(r.telegram_id, r.currency) for r in found] == [(ANN, None), (BOB, "GBP")]
    assert sorted(r.telegram_id for r in everyone) == [ANN, BOB, MANAGER_ID]

