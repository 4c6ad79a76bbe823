"""Asking a lead through the real Dispatcher: answered, raced, refused, timed out across a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import EditMessageText, SendMessage
from sqlmodel import select

from bot.config import Config
from bot.handlers.escalation import Desk
from bot.ui.escalation import LeadAnswer, LeadCb
from storage.models import Decision, Escalation, EscalationNotice, User
from storage.types import utcnow
from tests.conftest import ADMIN_ID, STAFF_ID
from tests.harness import Harness, Person
from tests.test_handlers_flow import walk_to_outcome

BOB, CY, DEE, MAX = 3001, 3002, 3003, 3004
ASK = "🙋 Ask a lead"


async def add(h: Harness, telegram_id: int, role: str, team: str = "shop-1") -> None:
    await h.person(ADMIN_ID, "Alice").send(f"/adduser {telegram_id} {role} {team}")


async def team(h: Harness, on_duty: tuple[int, ...] = (BOB,)) -> tuple[Person, Person, Person]:
    """Ann (staff), Bob and Cy (leads) in shop-1; those in `on_duty` said /duty."""
    for telegram_id, role in ((STAFF_ID, "staff"), (BOB, "lead"), (CY, "lead")):
        await add(h, telegram_id, role)
    ann, bob, cy = h.person(STAFF_ID, "Ann"), h.person(BOB, "Bob"), h.person(CY, "Cy")
    for lead in (bob, cy):
        if lead.telegram_id in on_duty:
            await lead.send("/duty")
            assert "You are <b>on duty</b>" in lead.last_text()
    return ann, bob, cy


async def over_the_limit(ann: Person, amount: str = "80") -> None:
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send(amount)
    text, labels = ann.screen()
    assert "above your limit of <b>€50.00</b>" in text and ASK in labels


def answer(escalation_id: int | None, what: LeadAnswer) -> str:
    assert escalation_id is not None
    return LeadCb(escalation=escalation_id, answer=what).pack()


async def pressed(person: Person, data: str) -> str | None:
    """Press a button; the answer the bot gave to that very press (presses may run concurrently)."""
    from aiogram.methods import AnswerCallbackQuery

    update = await person.press_data(data)
    assert update.callback_query is not None
    answers = [r for r in person.h.session.sent(AnswerCallbackQuery)
               if r.callback_query_id == update.callback_query.id]
    return answers[-1].text if answers else None


async def rows(h: Harness, model: type) -> list:
    async with h.app.db.session() as session:
        return list((await session.exec(select(model))).all())


async def user_id(h: Harness, telegram_id: int) -> int:
    async with h.app.db.session() as session:
        return (await session.exec(select(User.id).where(User.telegram_id == telegram_id))).one()


async def staff_state(h: Harness, telegram_id: int = STAFF_ID) -> str | None:
    key = StorageKey(bot_id=h.bot.id, chat_id=telegram_id, user_id=telegram_id)
    return await FSMContext(storage=h.dp.storage, key=key).get_state()


def messages_to(h: Harness, telegram_id: int) -> list[SendMessage]:
    return [r for r in h.session.sent(SendMessage) if int(r.chat_id) == telegram_id]


def edits_of(h: Harness, telegram_id: int, message_id: int) -> list[EditMessageText]:
    return [r for r in h.session.sent(EditMessageText)
            if int(r.chat_id or 0) == telegram_id and r.message_id == message_id]


async def test_over_the_limit_approved_by_the_lead_on_duty(harness: Harness) -> None:
    ann, bob, cy = await team(harness)
    await over_the_limit(ann)
    waiting_id = harness.session.last_with_keyboard[STAFF_ID]
    await ann.press(ASK)
    text, labels = ann.screen()
    assert harness.session.last_with_keyboard[STAFF_ID] == waiting_id  # the same message, edited
    assert "Waiting for a lead" in text and "I asked <b>Bob</b>" in text
    assert "You asked to: <b>Refund in full to the original payment method</b>, €80.00" in text
    assert "within 3 minutes" in text
    assert labels == ["↩ Decide myself", "✖ Cancel"]
    assert await staff_state(harness) == "Moment:waiting"

    case, buttons = bob.screen()
    assert buttons == ["✅ Approve", "✖ Decline", "🏃 I'll come over"]
    assert "<b>Ann</b> (shop-1) asks you to approve an amount above their limit" in case
    assert "<b>Refund without a receipt</b>" in case
    assert "What state is the item in? → <i>Unused, can be sold again</i>" in case
    assert "Amount: <b>€80.00</b> (their limit €50.00, yours €200.00)" in case
    assert messages_to(harness, CY) == []  # Cy is not on duty

    await bob.press("✅ Approve")
    assert bob.alerts()[-1] == "Approved. Ann is told."
    assert "✅ Approved by <b>Bob</b>." in bob.screen()[0] and bob.screen()[1] == []
    text, labels = ann.screen()
    assert "<b>Bob</b> approved: <b>Refund in full to the original payment method</b>" in text
    assert "Decision #1 recorded" in text and "🧭 A customer moment" in labels
    assert edits_of(harness, STAFF_ID, waiting_id)[-1].text == text  # in place
    [decision] = await rows(harness, Decision)
    assert (decision.escalation, decision.lead_user_id, decision.on_timeout) == ("approved",
                                                                                 await user_id(harness, BOB), False)
    assert (decision.taken_outcome, decision.amount_minor, decision.over_limit) == ("full-refund", 8000, True)
    assert decision.disposition == "followed"
    [escalation] = await rows(harness, Escalation)
    assert escalation.status == "approved" and escalation.decision_id == decision.id
    assert await staff_state(harness) is None  # the flow is over

    # A second answer, and the same answer again, change nothing and say so.
    await cy.press_data(answer(escalation.id, LeadAnswer.DECLINE))
    assert cy.alerts()[-1] == "Already answered by Bob. Nothing changed."
    await bob.press_data(answer(escalation.id, LeadAnswer.APPROVE))
    assert bob.alerts()[-1] == "Already answered by Bob. Nothing changed."
    assert len(await rows(harness, Decision)) == 1
    assert (await rows(harness, Escalation))[0].status == "approved"


async def test_declined_back_to_the_outcome_card_and_the_lead_is_recorded(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await walk_to_outcome(ann)
    await ann.press(ASK)
    case = bob.screen()[0]
    assert "asks for your decision" in case and "They propose: <b>Refund in full" in case
    assert "Amount" not in case
    await bob.press("✖ Decline")
    assert bob.alerts()[-1] == "Declined. Ann is told."
    text, labels = ann.screen()
    assert "<b>Bob</b> declined. Choose another way." in text and "What did you do?" in text
    assert labels[:4] == ["✅ Done as suggested", "🔀 I did something else", "⬆ Escalated", ASK]
    await ann.press("🔀 I did something else")
    await ann.press("Offer store credit for the full current price")
    await ann.send("20")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(harness, Decision)
    assert (decision.escalation, decision.lead_user_id) == ("declined", await user_id(harness, BOB))
    assert (decision.taken_outcome, decision.on_timeout) == ("store-credit", False)
    assert "✖ Declined by <b>Bob</b>." in bob.screen()[0]


async def test_coming_over_from_a_question_the_flow_goes_on(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await ann.send("customer lost the receipt and wants money back")
    await ann.press(ASK)
    case = bob.screen()[0]
    assert "❓ Not sure: Is it something we sell" in case
    assert "To approve is to: <b>Refund in full to the original payment method</b>" in case
    await bob.press("🏃 I'll come over")
    assert bob.alerts()[-1] == "Ann is told you are coming."
    text, labels = ann.screen()
    assert "<b>Bob</b> is coming over" in text and "Is it something we sell" in text
    assert "Yes, or I can't tell" in labels
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Used, nothing wrong with it")
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(harness, Decision)
    assert (decision.escalation, decision.lead_user_id) == ("coming", await user_id(harness, BOB))
    assert "🏃 <b>Bob</b> is going over." in bob.screen()[0]


async def test_two_leads_race_one_answer_wins(harness: Harness) -> None:
    ann, bob, cy = await team(harness, on_duty=(BOB, CY))
    await over_the_limit(ann)
    await ann.press(ASK)
    assert "I asked <b>Bob</b> and <b>Cy</b>" in ann.screen()[0]
    [escalation] = await rows(harness, Escalation)
    assert len(await rows(harness, EscalationNotice)) == 2
    # Both press at the same moment: two updates handled concurrently, as polling does.
    bob_said, cy_said = await asyncio.gather(pressed(bob, answer(escalation.id, LeadAnswer.APPROVE)),
                                             pressed(cy, answer(escalation.id, LeadAnswer.DECLINE)))
    [settled] = await rows(harness, Escalation)
    assert settled.status in ("approved", "declined")
    winner, loser = (bob, cy) if settled.status == "approved" else (cy, bob)
    assert settled.answered_by == await user_id(harness, winner.telegram_id)
    said = {bob.name: bob_said, cy.name: cy_said}
    assert said[loser.name] == f"Already answered by {winner.name}. Nothing changed."
    assert said[winner.name] in ("Approved. Ann is told.", "Declined. Ann is told.")
    verdict = "Approved" if settled.status == "approved" else "Declined"
    for lead in (bob, cy):  # every copy says who answered, and has no buttons left
        text, labels = lead.screen()
        assert f"{verdict} by <b>{winner.name}</b>." in text and labels == []
    decisions = await rows(harness, Decision)
    assert len(decisions) == (1 if settled.status == "approved" else 0)
    assert f"<b>{winner.name}</b> " in ann.screen()[0]


async def test_not_a_lead_or_a_lead_of_another_team_changes_nothing(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await add(harness, DEE, "lead", "shop-2")
    await add(harness, MAX, "staff")
    dee, max_ = harness.person(DEE, "Dee"), harness.person(MAX, "Max")
    await over_the_limit(ann)
    await ann.press(ASK)
    [escalation] = await rows(harness, Escalation)
    before = ann.screen()
    await dee.press_data(answer(escalation.id, LeadAnswer.APPROVE))
    assert dee.alerts()[-1] == "This question is from another team. Nothing changed."
    await max_.press_data(answer(escalation.id, LeadAnswer.APPROVE))
    assert "not part of your role" in max_.alerts()[-1]
    await ann.press_data(answer(escalation.id, LeadAnswer.APPROVE))  # the asker, forging a lead's button
    assert "not part of your role" in ann.alerts()[-1]
    await bob.press_data(answer(987654, LeadAnswer.APPROVE))
    assert bob.alerts()[-1] == "This question no longer exists."
    assert (await rows(harness, Escalation))[0].status == "pending"
    assert await rows(harness, Decision) == [] and ann.screen() == before
    await max_.send("/duty")
    assert "not part of your role" in max_.last_text()


async def test_timed_out_across_a_restart(config: Config) -> None:
    first = await Harness.start(config)
    ann, bob, _ = await team(first)
    await over_the_limit(ann, "250")  # above a lead's limit too: the timeout allows up to €200
    await ann.press(ASK)
    await ann.send("He is a regular")
    [escalation] = await rows(first, Escalation)
    staff_message = escalation.staff_message_id
    screens, last = dict(first.session.screens), dict(first.session.last_with_keyboard)
    await first.stop()  # the process is gone; only the database remains

    second = await Harness.start(config)
    second.session.screens.update(screens)
    second.session.last_with_keyboard.update(last)
    desk = Desk(second.dp, second.bot)
    assert await desk.run_due(utcnow()) == 0  # not due yet
    due = escalation.due_at + timedelta(seconds=1)
    assert await desk.sweep(due) == 1
    assert await desk.run_due(due + timedelta(minutes=5)) == 0  # settled once

    [decision] = await rows(second, Decision)
    assert (decision.escalation, decision.on_timeout, decision.lead_user_id) == ("timeout", True, None)
    assert (decision.taken_outcome, decision.amount_minor, decision.over_limit) == ("full-refund", 20000, True)
    assert decision.note == "He is a regular"
    ann, bob = second.person(STAFF_ID, "Ann"), second.person(BOB, "Bob")
    text = edits_of(second, STAFF_ID, staff_message)[-1].text
    assert "No lead answered within 3 minutes" in text and "up to €200.00" in text
    assert "Recorded as decided on timeout" in text and f"Decision #{decision.id} recorded" in text
    case, labels = bob.screen()
    assert "⏱ Nobody answered in time: they went ahead with <b>Refund in full" in case and labels == []
    assert "Note: “He is a regular”" in case
    assert await staff_state(second) is None

    await bob.press_data(answer(escalation.id, LeadAnswer.APPROVE))
    assert bob.alerts()[-1] == "Too late: nobody answered in time, so Ann went ahead. Nothing changed."
    assert len(await rows(second, Decision)) == 1
    await second.stop()


async def test_nobody_on_duty_asks_every_lead_then_the_managers(harness: Harness) -> None:
    ann, _, _ = await team(harness, on_duty=())
    await walk_to_outcome(ann)
    await ann.press(ASK)
    assert len(messages_to(harness, BOB)) == 1 and len(messages_to(harness, CY)) == 1

    await add(harness, BOB, "staff")
    await add(harness, CY, "staff")
    await add(harness, MAX, "manager")
    await ann.press("↩ Decide myself")
    await ann.press(ASK)
    assert len(messages_to(harness, MAX)) == 1 and len(messages_to(harness, BOB)) == 1


async def test_nobody_at_all_says_so_at_once_and_staff_decide(harness: Harness) -> None:
    await add(harness, STAFF_ID, "staff")
    ann = harness.person(STAFF_ID, "Ann")
    await walk_to_outcome(ann)
    await ann.press(ASK)
    text, labels = ann.screen()
    assert "Nobody to ask right now" in text and "What did you do?" in text
    assert "✅ Done as suggested" in labels
    assert await rows(harness, Escalation) == []
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(harness, Decision)
    assert decision.escalation is None


async def test_decide_myself_while_waiting_tells_the_leads(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await over_the_limit(ann)
    await ann.press(ASK)
    await ann.press("↩ Decide myself")
    text, labels = ann.screen()
    assert "You decide yourself" in text and "above your limit" in text and ASK in labels
    assert "↩ Ann no longer waits for an answer." in bob.screen()[0] and bob.screen()[1] == []
    [escalation] = await rows(harness, Escalation)
    assert escalation.status == "cancelled"
    await bob.press_data(answer(escalation.id, LeadAnswer.APPROVE))
    assert bob.alerts()[-1] == "Ann no longer waits for an answer. Nothing changed."
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(harness, Decision)
    assert decision.over_limit and decision.escalation is None


async def test_cancel_while_waiting_and_leaving_with_a_command(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await walk_to_outcome(ann)
    await ann.press(ASK)
    await ann.press("✖ Cancel")
    assert "Nothing was recorded" in ann.screen()[0]
    await walk_to_outcome(ann)
    await ann.press(ASK)
    await ann.send("/cancel")  # leaves the flow: the question is closed at once, the leads are told
    assert [e.status for e in await rows(harness, Escalation)] == ["cancelled", "cancelled"]
    assert "Ann no longer waits for an answer." in bob.screen()[0] and bob.screen()[1] == []
    second = (await rows(harness, Escalation))[-1]
    await bob.press_data(answer(second.id, LeadAnswer.APPROVE))
    assert bob.alerts()[-1] == "Ann no longer waits for an answer. Nothing changed."
    assert [e.status for e in await rows(harness, Escalation)] == ["cancelled", "cancelled"]
    await walk_to_outcome(ann)
    await ann.press(ASK)
    await ann.send("/start")  # the menu: the same
    assert [e.status for e in await rows(harness, Escalation)] == ["cancelled"] * 3
    assert await rows(harness, Decision) == []


async def test_a_note_typed_while_waiting_reaches_the_leads_escaped(harness: Harness) -> None:
    ann, bob, _ = await team(harness)
    await over_the_limit(ann)
    await ann.press(ASK)
    await ann.send("<b>VIP</b> & friend of the owner")
    text, labels = ann.screen()
    assert "Your note for the lead: &lt;b&gt;VIP&lt;/b&gt; &amp; friend of the owner" in text
    assert labels == ["↩ Decide myself", "✖ Cancel"]
    assert "Note: “&lt;b&gt;VIP&lt;/b&gt; &amp; friend of the owner”" in bob.screen()[0]
    assert bob.screen()[1] == ["✅ Approve", "✖ Decline", "🏃 I'll come over"]
    await ann.send("x" * 400)
    assert "400 characters; the most is 300" in ann.screen()[0]
    await bob.press("✅ Approve")
    assert "Decision #1 recorded" in ann.screen()[0]
    [decision] = await rows(harness, Decision)
    assert decision.note == "<b>VIP</b> & friend of the owner"


async def test_duty_switches(harness: Harness) -> None:
    _, bob, _ = await team(harness, on_duty=())
    await bob.send("/duty on")
    assert "You are <b>on duty</b>" in bob.last_text() and "<b>Bob</b>" in bob.last_text()
    await bob.send("/duty on")
    assert "You are <b>on duty</b>" in bob.last_text()
    await bob.send("/duty")
    assert "You are <b>off duty</b>" in bob.last_text() and "nobody" in bob.last_text()


async def test_the_guarded_update_lets_exactly_one_of_two_processes_win(harness: Harness) -> None:
    """Two database connections (two bot processes) answer at once: one row changes, once."""
    from storage import escalations as store
    from storage.db import Database

    ann, _, _ = await team(harness, on_duty=(BOB, CY))
    await over_the_limit(ann)
    await ann.press(ASK)
    [escalation] = await rows(harness, Escalation)
    bob_id, cy_id = await user_id(harness, BOB), await user_id(harness, CY)
    engines = [Database(harness.config.database_url) for _ in range(2)]
    try:
        async def claim(db: Database, status: str, lead: int) -> bool:
            async with db.session() as session:
                return await store.claim(session, escalation.id, status, answered_by=lead)

        results = await asyncio.gather(claim(engines[0], "approved", bob_id), claim(engines[1], "declined", cy_id))
    finally:
        for db in engines:
            await db.dispose()
    assert sorted(results) == [False, True]
    [settled] = await rows(harness, Escalation)
    assert (settled.status, settled.answered_by) == (("approved", bob_id) if results[0] else ("declined", cy_id))
    async with harness.app.db.session() as session:  # and a timeout after that changes nothing either
        assert not await store.claim(session, escalation.id, "timeout", due_by=escalation.due_at)
