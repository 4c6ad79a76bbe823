"""Training through the real Dispatcher, fed real Updates: /train, answering, "How sure were you?", walking the
playbook, /progress with pause and resume, /results and /push for managers, forged buttons, nudges."""

from __future__ import annotations

from sqlmodel import select

from storage.models import TrainingAnswer, TrainingDelivery, TrainingMemory, TrainingProfile, User
from tests.conftest import ADMIN_ID
from tests.harness import Harness, Person
from tests.test_handlers_flow import staff, walk_to_outcome


async def rows(h: Harness, model: type) -> list:  # type: ignore[type-arg]
    async with h.app.db.session() as session:
        return list((await session.exec(select(model))).all())


async def user_id(h: Harness, telegram_id: int) -> int:
    async with h.app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
    assert user.id is not None
    return user.id


def choices(person: Person) -> list[str]:
    return [label for label in person.screen()[1] if label[:4] in ("A · ", "B · ", "C · ", "D · ")]


async def answer_right(h: Harness, person: Person, right: bool = True) -> None:
    """Press the right (or a wrong) choice of the card on screen, found from the stored card."""
    delivery = max(await rows(h, TrainingDelivery), key=lambda d: d.id)
    card = await h.app.training.card(delivery.card_id)
    assert card is not None
    index = card.correct_index if right else (card.correct_index + 1) % len(card.choices)
    await person.press(choices(person)[index])


async def test_train_answer_and_confidence(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/train")
    text, labels = ann.screen()
    assert "Practice" in text and ("What do you do?" in text or "?" in text)
    assert 2 <= len(choices(ann)) <= 4
    [delivery] = await rows(harness, TrainingDelivery)
    assert delivery.status == "sent" and delivery.kind == "practice" and delivery.message_id is not None

    await answer_right(harness, ann)
    text, labels = ann.screen()
    assert "Right." in text and "💡" in text and "How sure were you?" in text
    assert labels[:3] == ["🎲 Guessed", "🙂 Fairly sure", "💯 Certain"]
    assert "🏋 Another card" in labels
    [answer] = await rows(harness, TrainingAnswer)
    assert answer.correct and answer.confidence is None

    await ann.press("💯 Certain")
    assert "Noted, thank you." in ann.alerts()
    text, labels = ann.screen()
    assert "certain" in text and "• 💯 Certain •" in labels
    [answer] = await rows(harness, TrainingAnswer)
    assert answer.confidence == "sure"
    [memory] = await rows(harness, TrainingMemory)
    assert memory.reviews == 1


async def test_a_wrong_answer_shows_the_right_one_and_the_why(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/train")
    await answer_right(harness, ann, right=False)
    text, _ = ann.screen()
    assert "Not quite." in text and "💡" in text
    [memory] = await rows(harness, TrainingMemory)
    assert memory.lapses == 1


async def test_walk_through_the_playbook_records_nothing(harness: Harness) -> None:
    ann = await staff(harness)
    # Practise until a card from a playbook comes up (generated cards link their playbook).
    for _ in range(40):
        await ann.send("/train")
        if "📖 Walk through the playbook" in (await _answered(harness, ann)):
            break
    await ann.press("📖 Walk through the playbook")
    _text, labels = ann.screen()
    assert (labels and "◀ Back" in labels) or "✖ Cancel" in labels
    from storage.models import Decision

    assert await rows(harness, Decision) == []


async def _answered(h: Harness, person: Person) -> list[str]:
    await answer_right(h, person)
    return person.screen()[1]


async def test_forged_and_stale_training_buttons_change_nothing(harness: Harness) -> None:
    ann = await staff(harness)
    bob = await staff(harness, telegram_id=2001)
    await ann.send("/train")
    [delivery] = await rows(harness, TrainingDelivery)
    await bob.press_data(f"t:a:{delivery.id}:0:")  # someone else's card
    await ann.press_data("t:a:999999:0:")  # no such delivery
    await ann.press_data(f"t:a:{delivery.id}:9:")  # no such choice
    await ann.press_data(f"t:s:{delivery.id}:2:")  # confidence before any answer
    await ann.press_data("t:zz:1:1:")  # not an action at all
    assert await rows(harness, TrainingAnswer) == []
    assert sum("no longer available" in alert for alert in ann.alerts() + bob.alerts()) >= 4


async def test_progress_pause_and_resume(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/train")
    await answer_right(harness, ann)
    await ann.send("/progress")
    text, labels = ann.screen()
    assert "Your training" in text and "1</b> answered" in text and "100%" in text
    assert "⏸ Pause training" in labels and "👥 Team results" not in labels  # staff: no team results
    await ann.press("⏸ Pause training")
    [profile] = await rows(harness, TrainingProfile)
    assert profile.paused_at is not None
    text, labels = ann.screen()
    assert "Paused" in text and "▶️ Resume training" in labels
    await ann.press("▶️ Resume training")
    [profile] = await rows(harness, TrainingProfile)
    assert profile.paused_at is None


async def test_results_and_push_are_for_managers(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/results")
    await ann.send("/push")
    assert "not part of your role" in ann.last_text()
    assert await rows(harness, TrainingDelivery) == []

    manager = await staff(harness, telegram_id=2500, role="manager")
    await ann.send("/train")
    await answer_right(harness, ann)
    await manager.send("/results")
    text = manager.last_text()
    assert "Training results, shop-1" in text and "1 answered, 100% right" in text

    await manager.send("/push")
    text, labels = manager.screen()
    assert "Push a refresher to shop-1" in text
    playbook_button = next(label for label in labels if label.startswith("Refund without a receipt"))
    before = len(await rows(harness, TrainingDelivery))
    await manager.press(playbook_button)
    assert "Pushed:" in manager.last_text()
    pushed = [d for d in await rows(harness, TrainingDelivery) if d.kind == "push"]
    cards = harness.app.training.cards_of_playbook("refund-without-receipt")
    assert len(pushed) == 2 * len(cards) and len(await rows(harness, TrainingDelivery)) == before + len(pushed)

    await manager.send("/push no-such-thing")
    assert "No card or playbook is called no-such-thing" in manager.last_text()
    await manager.send("/push item-out-of-stock")
    assert "Pushed:" in manager.last_text()


async def test_deviating_brings_the_playbook_back_sooner(harness: Harness) -> None:
    ann = await staff(harness)
    await walk_to_outcome(ann)
    await ann.press("🔀 I did something else")
    await ann.press("Offer store credit for the full current price")
    await ann.send("20")
    await ann.press("Skip")
    await ann.press("😐 Neutral")
    uid = await user_id(harness, ann.telegram_id)
    memories = [m for m in await rows(harness, TrainingMemory) if m.user_id == uid]
    cards = {card.id for card in harness.app.training.cards_of_playbook("refund-without-receipt")}
    assert {m.card_id for m in memories} == cards  # every card of that playbook is now due for Ann


async def test_blocking_the_bot_stops_refreshers_until_they_come_back(harness: Harness) -> None:
    from datetime import UTC, datetime

    from aiogram.types import ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, Update

    from tests.fakes import BOT_USER

    ann = await staff(harness)
    uid = await user_id(harness, ann.telegram_id)

    def change(old: object, new: object, update_id: int) -> Update:
        event = ChatMemberUpdated(chat=ann.chat, from_user=ann.user, date=datetime.now(UTC), old_chat_member=old,
                                  new_chat_member=new)
        return Update(update_id=update_id, my_chat_member=event)

    member = ChatMemberMember(user=BOT_USER)
    banned = ChatMemberBanned(user=BOT_USER, until_date=0)
    await harness.feed(change(member, banned, 900_001))
    [profile] = await rows(harness, TrainingProfile)
    assert profile.user_id == uid and profile.unreachable_since is not None
    await harness.feed(change(banned, member, 900_002))
    [profile] = await rows(harness, TrainingProfile)
    assert profile.unreachable_since is None


async def test_admin_sees_train_in_help(harness: Harness) -> None:
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/help")
    assert "/train" in admin.last_text()


async def test_writing_to_the_bot_again_makes_a_person_reachable(harness: Harness) -> None:
    from datetime import UTC, datetime

    from storage import training as store

    ann = await staff(harness)
    await store.set_reachable(harness.app.db, ann.telegram_id, datetime.now(UTC))  # a 403 from the fan-out
    [profile] = await rows(harness, TrainingProfile)
    assert profile.unreachable_since is not None
    await ann.send("/progress")
    assert "Your training" in ann.last_text() and "Messages to you failed" not in ann.last_text()
    [profile] = await rows(harness, TrainingProfile)
    assert profile.unreachable_since is None


async def test_forgetme_removes_training_memory_and_the_chat_id(harness: Harness) -> None:
    ann = await staff(harness)
    await ann.send("/train")
    await answer_right(harness, ann)
    await ann.send("/forgetme")
    await ann.press(next(label for label in ann.screen()[1] if "Delete" in label or "delete" in label))
    assert await rows(harness, TrainingMemory) == []
    [delivery] = await rows(harness, TrainingDelivery)
    assert delivery.chat_id < 0 and delivery.chat_id != ann.telegram_id
    [answer] = await rows(harness, TrainingAnswer)  # kept, anonymous, for the team's figures
    assert answer.correct
