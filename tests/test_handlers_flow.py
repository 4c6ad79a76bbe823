"""The staff decision flow through the real Dispatcher, fed real Updates (no network)."""

from __future__ import annotations

from aiogram.methods import EditMessageText, SendMessage
from sqlmodel import select

from bot.ui.callbacks import FlowAction, FlowCb
from storage.models import Decision, User
from tests.conftest import ADMIN_ID, STAFF_ID
from tests.harness import Harness, Person

REFUND_QUERY = "customer lost the receipt and wants money back"


async def decisions(h: Harness) -> list[Decision]:
    async with h.app.db.session() as session:
        return list((await session.exec(select(Decision).order_by(Decision.id))).all())


async def staff(h: Harness, telegram_id: int = STAFF_ID, role: str = "staff") -> Person:
    await h.person(ADMIN_ID, "Alice").send(f"/adduser {telegram_id} {role} shop-1")
    return h.person(telegram_id, "Ann")


async def walk_to_outcome(ann: Person) -> None:
    await ann.send(REFUND_QUERY)
    assert "Is it something we sell" in ann.screen()[0]
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Unused, can be sold again")


async def test_start_shows_menu(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/start")
    text, labels = ann.screen()
    assert "Hello" in text
    assert labels == ["🧭 A customer moment", "📒 My decisions", "❓ Help"]


async def test_whole_decision_is_recorded_before_the_confirmation(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    text, labels = ann.screen()
    assert "Refund in full to the original payment method" in text
    assert "You may spend up to <b>€50.00</b> without asking anyone" in text
    assert "Keeping a customer costs" in text  # the principle, the why
    assert labels[:3] == ["✅ Done as suggested", "🔀 I did something else", "⬆ Escalated"]
    assert "◀ Back" in labels and "✖ Cancel" in labels

    await ann.press("✅ Done as suggested")
    assert "how much did it cost" in ann.screen()[0]
    await ann.send("abc")
    assert "That is not an amount" in ann.screen()[0]
    await ann.send("-5")
    assert "cannot be negative" in ann.screen()[0]
    await ann.send("30,50")
    assert "Add a one-line note" in ann.screen()[0]
    assert "over the limit" not in ann.screen()[0]
    await ann.send("Customer was <b>kind</b> & patient </i> <script>")
    assert "How did the customer react?" in ann.screen()[0]
    await ann.press("😊 Happy")

    confirmation = ann.last_text()
    assert "Decision #" in confirmation
    assert "Customer was &lt;b&gt;kind&lt;/b&gt; &amp; patient &lt;/i&gt; &lt;script&gt;" in confirmation
    [decision] = await decisions(harness)
    assert f"Decision #{decision.id} recorded" in confirmation
    assert decision.playbook_id == "refund-without-receipt"
    assert decision.playbook_version == harness.app.catalog.live("refund-without-receipt").version
    assert [step["step"] for step in decision.path] == ["ours", "proof", "condition"]
    assert decision.recommended_outcome == decision.taken_outcome == "full-refund"
    assert decision.followed and decision.disposition == "followed" and decision.favours_customer
    assert decision.amount_minor == 3050 and decision.currency == "EUR" and decision.limit_minor == 5000
    assert not decision.over_limit
    assert decision.note == "Customer was <b>kind</b> & patient </i> <script>"
    assert decision.reaction == "happy"
    assert decision.seconds_to_decide >= 0


async def test_over_the_limit_is_said_and_marked(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("80")
    assert "above your limit of <b>€50.00</b>" in ann.screen()[0]
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await decisions(harness)
    assert decision.over_limit and decision.amount_minor == 8000
    assert decision.note is None and decision.reaction is None


async def test_lead_has_the_lead_limit(harness: Harness) -> None:
    lead = await staff(harness, role="lead")
    await walk_to_outcome(lead)
    assert "up to <b>€200.00</b>" in lead.screen()[0]


async def test_something_else_and_escalated(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("🔀 I did something else")
    _, labels = ann.screen()
    assert "Refund in full to the original payment method" not in labels  # the recommendation is not "else"
    await ann.press("Offer store credit for the full current price")
    await ann.send("20")
    await ann.press("Skip")
    await ann.press("😐 Neutral")

    await walk_to_outcome(ann)
    await ann.press("🔀 I did something else")
    await ann.press("✏ Something else (write it)")
    await ann.send("Gave a gift card from the drawer")
    await ann.press("No money spent")
    await ann.press("Skip")
    await ann.press("Skip")

    await walk_to_outcome(ann)
    await ann.press("⬆ Escalated")
    await ann.send("Lead took over")
    await ann.press("😞 Unhappy")

    first, second, third = sorted(await decisions(harness), key=lambda d: d.id)
    assert (first.disposition, first.taken_outcome, first.followed) == ("other", "store-credit", False)
    assert first.recommended_outcome == "full-refund" and first.reaction == "neutral"
    assert (second.disposition, second.taken_outcome, second.taken_text) == ("other", None,
                                                                            "Gave a gift card from the drawer")
    assert second.amount_minor == 0
    assert (third.disposition, third.taken_outcome, third.note) == ("escalated", None, "Lead took over")
    assert third.amount_minor is None


async def test_back_and_start_over_never_dead_end(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send(REFUND_QUERY)
    await ann.press("Yes, or I can't tell")
    assert "Can you find the purchase" in ann.screen()[0]
    await ann.press("◀ Back")
    assert "Is it something we sell" in ann.screen()[0]
    await ann.press("Yes, or I can't tell")
    await ann.press("No, no trace at all")
    await ann.press("↺ Start over")
    assert "Is it something we sell" in ann.screen()[0]
    await ann.press("◀ Back")  # back from the first question leaves the playbook, to the menu
    text, labels = ann.screen()
    assert "Nothing was recorded" in text and "🧭 A customer moment" in labels
    assert await decisions(harness) == []


async def test_browse_by_category(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/start")
    await ann.press("🧭 A customer moment")
    _, labels = ann.screen()
    assert {"Retail", "Hospitality", "Travel", "Call centre"} <= set(labels)
    await ann.press("Hospitality")
    _, labels = ann.screen()
    noisy = next(label for label in labels if "noisy room" in label)
    await ann.press(noisy)
    text, labels = ann.screen()
    assert "Question 1" in text and "◀ Back" in labels


async def test_unclear_text_offers_choices_and_browse(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("my cat is sick")
    text, labels = ann.screen()
    assert "I found no playbook" in text and "📚 Browse all" in labels
    await ann.send("refund")
    text, labels = ann.screen()
    assert "Best matches" in text and "Refund without a receipt" in labels and "📚 Browse all" in labels


async def test_history_shows_last_ten(harness: Harness) -> None:
    ann = await staff(harness)
    for _ in range(11):
        await walk_to_outcome(ann)
        await ann.press("✅ Done as suggested")
        await ann.send("5")
        await ann.press("Skip")
        await ann.press("Skip")
    await ann.send("/history")
    text = ann.last_text()
    assert text.count("Refund without a receipt") == 10
    assert "#11" in text and "#1 " not in text


async def test_restart_mid_flow_continues_the_same_playbook(config) -> None:
    first = await Harness.start(config)
    ann = await staff(first)
    await ann.send(REFUND_QUERY)
    await ann.press("Yes, or I can't tell")
    data = ann.button_data("Yes, found it")
    message_id = first.session.last_with_keyboard[STAFF_ID]
    screens = dict(first.session.screens)
    await first.stop()  # the process is gone; only the database remains

    second = await Harness.start(config)
    second.session.screens.update(screens)
    second.session.last_with_keyboard[STAFF_ID] = message_id
    ann2 = second.person(STAFF_ID, "Ann")
    await ann2.press_data(data)
    assert "What state is the item in?" in ann2.screen()[0]
    await ann2.press("Unused, can be sold again")
    await ann2.press("✅ Done as suggested")
    await ann2.send("10")
    await ann2.press("Skip")
    await ann2.press("Skip")
    [decision] = await decisions(second)
    assert [step["step"] for step in decision.path] == ["ours", "proof", "condition"]
    await second.stop()


async def test_same_update_twice_records_one_decision(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    final = ann.callback_update(ann.button_data("Skip"))
    await harness.feed(final)
    await harness.feed(final)  # Telegram re-delivers after a crash
    assert len(await decisions(harness)) == 1
    confirmations = [r for r in harness.session.requests
                     if isinstance(r, SendMessage | EditMessageText) and "Decision #" in r.text]
    assert len(confirmations) == 1


async def test_double_tap_on_the_last_button_records_once(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    data = ann.button_data("Skip")
    await ann.press_data(data)
    await ann.press_data(data)  # a second, distinct update with the same button
    assert len(await decisions(harness)) == 1
    assert "This button has expired" in ann.alerts()[-1]


async def test_forged_and_stale_callbacks_expire_and_record_nothing(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    token = FlowCb.unpack(ann.button_data("✅ Done as suggested")).token
    forged = [
        "f:zzzzzzzz:d:0:0",  # another flow's token
        FlowCb(token=token, action=FlowAction.ANSWER, step=0, value=0).pack(),  # a question already answered
        FlowCb(token=token, action=FlowAction.PICK, step=0, value=99).pack(),  # wrong stage, bad index
        FlowCb(token=token, action=FlowAction.REACT, step=0, value=7).pack(),
        "p:no-such-playbook",
        "m:zz",
        "garbage",
        "f:" + "x" * 60,
    ]
    for data in forged:
        before = len(ann.alerts())
        await ann.press_data(data)
        assert len(ann.alerts()) == before + 1, data
        assert "expired" in ann.alerts()[-1], data
    assert await decisions(harness) == []
    # The real flow is untouched and still completes.
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    assert len(await decisions(harness)) == 1


async def test_buttons_of_an_old_flow_expire(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send(REFUND_QUERY)
    old = ann.button_data("Yes, or I can't tell")
    await ann.send(REFUND_QUERY)  # a new moment replaces the old one
    await ann.press_data(old)
    assert "expired" in ann.alerts()[-1]


async def test_long_note_is_refused_and_can_be_retried(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.send("<" * 4000)
    text = ann.screen()[0]
    assert "4000 characters; the most is 300" in text
    await ann.send("short & sweet")
    await ann.press("Skip")
    [decision] = await decisions(harness)
    assert decision.note == "short & sweet"


async def test_unknown_user_is_refused_and_nothing_else(harness: Harness) -> None:
    stranger = harness.person(9999, "Eve")
    await stranger.send("/start")
    await stranger.send(REFUND_QUERY)
    texts = [r.text for r in harness.session.sent(SendMessage)]
    assert len(texts) == 2 and all("only for registered staff" in t for t in texts)
    await stranger.press_data("p:refund-without-receipt")
    assert "only for registered staff" in stranger.alerts()[-1]
    async with harness.app.db.session() as session:
        assert (await session.exec(select(User).where(User.telegram_id == 9999))).first() is None


async def test_adduser_is_for_admins_only(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/adduser 3000 admin")
    assert "not part of your role" in ann.last_text() and "It is for: Admin." in ann.last_text()
    admin = harness.person(ADMIN_ID)
    await admin.send("/adduser nonsense")
    assert "Usage" in admin.last_text()
    async with harness.app.db.session() as session:
        assert (await session.exec(select(User).where(User.telegram_id == 3000))).first() is None
        ann_row = (await session.exec(select(User).where(User.telegram_id == STAFF_ID))).one()
        assert ann_row.role == "staff"


async def test_cancel_command_leaves_the_flow(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("/cancel")
    assert "Nothing was recorded" in ann.last_text()
    await ann.send("12")  # no longer an amount: treated as a search
    assert await decisions(harness) == []


async def test_names_are_escaped(harness: Harness) -> None:
    await harness.person(ADMIN_ID).send(f"/adduser {STAFF_ID} staff")
    odd = harness.person(STAFF_ID, "<Ann & Co>")
    await odd.send("/start")
    assert "Hello, &lt;Ann &amp; Co&gt;!" in odd.screen()[0]


async def test_a_flow_finishes_on_the_version_it_started_on(config, tmp_path) -> None:
    import shutil

    from tests.conftest import ROOT

    folder = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", folder)
    pinned = config.model_copy(update={"playbooks_dir": folder})
    first = await Harness.start(pinned)
    ann = await staff(first)
    await ann.send(REFUND_QUERY)
    await ann.press("Yes, or I can't tell")
    data = ann.button_data("Yes, found it")
    old_version = first.app.catalog.live("refund-without-receipt").version
    screens, last = dict(first.session.screens), dict(first.session.last_with_keyboard)
    await first.stop()

    file = folder / "retail" / "refund-without-receipt.yaml"
    file.write_text(file.read_text().replace("What state is the item in?", "How is the item now?"))
    second = await Harness.start(pinned)
    assert second.app.catalog.live("refund-without-receipt").version != old_version
    second.session.screens.update(screens)
    second.session.last_with_keyboard.update(last)
    ann = second.person(STAFF_ID, "Ann")
    await ann.press_data(data)
    assert "What state is the item in?" in ann.screen()[0]  # the old wording: the version it started on
    await ann.press("Used, nothing wrong with it")
    await ann.press("✅ Done as suggested")
    await ann.send("5")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await decisions(second)
    assert decision.playbook_version == old_version
    await ann.send(REFUND_QUERY)  # a new moment takes the new version
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    assert "How is the item now?" in ann.screen()[0]
    await second.stop()
