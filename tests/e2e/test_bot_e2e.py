"""The real bot process, the real HTTP Bot API protocol (a local stand-in), real restarts."""

from __future__ import annotations

import csv
import io

from bot.devtools.botapi import SimUser
from tests.e2e.conftest import Stack

REFUND = "customer lost the receipt and wants money back"


async def to_outcome(ann: SimUser) -> None:
    await ann.send(REFUND)
    assert "Is it something we sell" in ann.screen().text
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Unused, can be sold again")
    assert "You may spend up to €50.00 without asking anyone" in ann.screen().text


async def decide(ann: SimUser) -> None:
    """A whole decision: the refund playbook to its outcome, done as suggested, 35 spent, no note, happy."""
    await to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("35")
    await ann.press("Skip")
    await ann.press("😊 Happy")


async def test_free_text_to_confirmation_then_export(stack: Stack) -> None:
    ann = await stack.staff(2001)
    await decide(ann)
    assert "Decision #1 recorded" in ann.screen().text

    rows = list(csv.DictReader(io.StringIO(await stack.bot.cli("export", "decisions"))))
    assert len(rows) == 1
    assert rows[0]["decision_id"] == "1" and rows[0]["telegram_id"] == "2001"
    assert rows[0]["taken_outcome"] == "full-refund" and rows[0]["amount"] == "35.00"
    assert rows[0]["reaction"] == "happy"


async def test_kill_9_mid_playbook_then_the_next_button_continues(stack: Stack) -> None:
    ann = await stack.staff(2002)
    await ann.send(REFUND)
    await ann.press("Yes, or I can't tell")
    assert "Can you find the purchase" in ann.screen().text
    await stack.bot.kill9()
    await stack.bot.start()
    await ann.press("Yes, found it")
    assert "What state is the item in?" in ann.screen().text
    await ann.press("Used, nothing wrong with it")
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await stack.bot.decisions()
    assert [s["step"] for s in decision.path] == ["ours", "proof", "condition"]
    assert decision.taken_outcome == "store-credit"


async def test_repeated_update_and_forged_callback(stack: Stack) -> None:
    ann = await stack.staff(2003)
    await to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    before = len(ann.messages)
    # Press the last button, then have Telegram deliver that very update again.
    await ann.press("Skip")
    last_update = stack.api.queue.next_id - 1
    assert "callback_query" in stack.api.queue.original(last_update)
    await stack.api.redeliver(last_update)
    assert len(await stack.bot.decisions()) == 1
    assert len(ann.messages) == before

    answer = await ann.press_data("f:forged00:d:0:0")
    assert answer is not None and "expired" in (answer.text or "")
    answer = await ann.press_data("nonsense")
    assert answer is not None and "expired" in (answer.text or "")
    assert len(await stack.bot.decisions()) == 1


async def test_html_in_a_note_is_shown_literally_and_long_notes_are_handled(stack: Stack) -> None:
    ann = await stack.staff(2004)
    await to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("5")
    await ann.send("x" * 5000)
    assert "5000 characters; the most is 300" in ann.screen().text
    note = "<b>bold</b> </i> AT&T <script>alert(1)</script>"
    await ann.send(note)
    await ann.press("Skip")
    assert note in ann.screen().text  # the plain text Telegram shows: literally what was typed
    [decision] = await stack.bot.decisions()
    assert decision.note == note


async def test_unknown_user_refused_and_blocked_user_does_not_stop_the_bot(stack: Stack) -> None:
    stranger = stack.api.user(6666, "Eve")
    await stranger.send(REFUND)
    assert "only for registered staff" in stranger.screen().text
    assert len(stranger.messages) == 1

    ann = await stack.staff(2005)
    bob = await stack.staff(2006, "Bob")
    await ann.send(REFUND)
    ann.block()
    await ann.press("Yes, or I can't tell", expect_answer=False)  # the bot's reply is refused with 403
    stack.expected_errors.append(("editMessageText", 403))
    stack.expected_errors.append(("sendMessage", 403))
    await bob.send(REFUND)
    assert "Is it something we sell" in bob.screen().text


async def test_flood_control_on_the_confirmation_is_waited_out(stack: Stack) -> None:
    ann = await stack.staff(2007)
    await to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    stack.api.faults.fail_next("editMessageText", 1, status=429, retry_after=1)
    await ann.press("Skip", timeout=15)
    # The first edit met flood control; the bot waits retry_after and edits again.
    await stack.api.wait_until(lambda: "Decision #1 recorded" in ann.screen().text, 15, "the confirmation")
    assert len(stack.api.faults.fired) == 1
    assert len(await stack.bot.decisions()) == 1
