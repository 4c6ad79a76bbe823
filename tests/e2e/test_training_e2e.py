"""Training end to end: the real bot process sends pushed cards on its own (the fan-out), people answer them,
and a restart in between loses and doubles nothing."""

from __future__ import annotations

from tests.e2e.conftest import Stack


async def test_a_pushed_card_arrives_and_is_answered(stack: Stack) -> None:
    ann = await stack.staff(2201)
    bob = await stack.staff(2202, "Bob")
    manager = await stack.staff(2203, "Mia", role="manager")
    for person in (ann, bob):
        await person.send("/start")  # Telegram lets a bot write only to people who started it
    await manager.send("/push item-out-of-stock")
    assert any("Pushed:" in m.text for m in manager.messages)

    # The cards come to Ann's and Bob's chats by themselves: no update of theirs asked for them.
    cards = len([line for line in (await stack.bot.cli("training", "cards")).splitlines()
                 if ",item-out-of-stock," in line])
    for person in (ann, bob):
        await stack.api.wait_until(
            lambda p=person: sum("refresher from your manager" in m.text for m in p.messages) == cards, 20,
            f"{person.name}'s pushed cards")
    card = ann.screen()
    assert "What do you do?" in card.text and 2 <= len(card.labels) <= 4
    await ann.press(card.labels[0])
    answered = ann.screen().text
    assert ("Right." in answered or "Not quite." in answered) and "💡" in answered

    # Pushing the same cards again under the same name from the shell sends nothing twice.
    out = await stack.bot.cli("training", "push", "--team", "shop-1", "--playbook", "item-out-of-stock",
                              "--id", "again")
    assert f"{cards} card(s) to 3 member(s) of shop-1" in out
    out = await stack.bot.cli("training", "push", "--team", "shop-1", "--playbook", "item-out-of-stock",
                              "--id", "again")
    assert ": 0 new deliveries" in out


async def test_cards_pushed_while_the_bot_is_down_arrive_after_a_kill_9(stack: Stack) -> None:
    ann = await stack.staff(2211)
    await ann.send("/start")
    await stack.bot.kill9()
    out = await stack.bot.cli("training", "push", "--team", "shop-1", "--card", "authored:cost-of-a-lost-customer")
    assert "1 card(s)" in out
    await stack.bot.start()
    await stack.api.wait_until(lambda: "refresher from your manager" in ann.screen().text, 20, "the card after start")
    assert sum("refresher from your manager" in m.text for m in ann.messages) == 1
    await ann.send("/progress")
    assert "Your training" in ann.screen().text
