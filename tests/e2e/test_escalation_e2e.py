"""Asking a lead end to end: two people in two chats, the real bot process, the real HTTP protocol."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import Stack

REFUND = "customer lost the receipt and wants money back"


async def test_a_lead_on_duty_approves_an_amount_above_the_limit(stack: Stack) -> None:
    ann = await stack.staff(2101)
    bob = await stack.staff(2102, "Bob", role="lead")
    await bob.send("/duty")
    assert "You are on duty" in bob.screen().text

    await ann.send(REFUND)
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Unused, can be sold again")
    await ann.press("✅ Done as suggested")
    await ann.send("80")
    assert "above your limit of €50.00" in ann.screen().text
    await ann.press("🙋 Ask a lead")
    waiting = ann.screen()
    assert "Waiting for a lead… I asked Bob." in waiting.text
    assert waiting.labels == ["↩ Decide myself", "✖ Cancel"]

    # The case reaches Bob's chat on its own: no update of his brought it.
    await stack.api.wait_until(lambda: "asks you to approve" in bob.screen().text, 10, "Bob's copy of the case")
    case = bob.screen()
    assert "Ann (shop-1) asks you to approve an amount above their limit" in case.text
    assert "Amount: €80.00 (their limit €50.00, yours €200.00)" in case.text
    await bob.press("✅ Approve")
    assert "Approved by Bob." in bob.screen().text and bob.screen().labels == []

    await stack.api.wait_until(lambda: "Decision #1 recorded" in ann.screen().text, 10, "Ann's message updated")
    assert ann.screen().message_id == waiting.message_id  # edited in place
    assert "Bob approved: Refund in full to the original payment method." in ann.screen().text
    [decision] = await stack.bot.decisions()
    assert (decision.escalation, decision.on_timeout, decision.amount_minor) == ("approved", False, 8000)
    assert decision.lead_user_id is not None and decision.lead_user_id != decision.user_id


async def test_nobody_answers_and_the_timer_outlives_a_kill_9(stack: Stack) -> None:
    # A two-second timeout for this bot process and the next.
    environment = stack.bot.env
    stack.bot.env = lambda: {**environment(), "MOMENTS_ESCALATION_TIMEOUT": "2"}  # type: ignore[method-assign]
    await stack.bot.kill9()
    await stack.bot.start()
    ann = await stack.staff(2103)
    bob = await stack.staff(2104, "Bob", role="lead")
    await bob.send("/duty on")
    await ann.send(REFUND)
    await ann.press("Yes, or I can't tell")
    await ann.press("No, no trace at all")
    await ann.press("🙋 Ask a lead")
    assert "within 2 seconds" in ann.screen().text
    waiting = ann.screen()
    await stack.bot.kill9()  # the timer was in this process... and in the database
    await asyncio.sleep(1)  # with the start-up time, the question falls due while the bot is down
    await stack.bot.start()
    await stack.api.wait_until(lambda: "No lead answered" in ann.screen().text, 15, "the timeout after the restart")
    assert ann.screen().message_id == waiting.message_id
    assert "Go ahead in the customer's favour: Offer store credit for the full current price" in ann.screen().text
    await stack.api.wait_until(lambda: "Nobody answered in time" in bob.screen().text, 10, "Bob's copy updated")
    assert bob.screen().labels == []
    [decision] = await stack.bot.decisions()
    assert (decision.escalation, decision.on_timeout, decision.taken_outcome) == ("timeout", True, "store-credit")
