"""Training as the bot runs it, on a real database (SQLite and PostgreSQL): planning refreshers into shifts,
answers and confidence, nudges from decisions, pushes, progress and the digest's training section."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.config import Config
from bot.core.people import Person
from bot.core.training.service import TrainingService
from storage import people
from storage import training as store
from storage.models import TrainingDelivery, TrainingMemory, User

WEDNESDAY = datetime(2026, 11, 25, tzinfo=UTC)  # a working day in the default shift (Mon-Fri 09-17)


@pytest.fixture
async def app(config: Config) -> App:
    app = await build_app(config)
    yield app  # type: ignore[misc]
    await app.close()


async def add_person(app: App, telegram_id: int, team: str = "shop-1", role: str = "staff",
                     shift: dict[str, object] | None = None) -> Person:
    async with app.db.session() as session:
        await people.upsert_user(session, telegram_id, role=role, team=team, name=f"P{telegram_id}")
        user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
        if shift is not None:
            user.shift = shift
            session.add(user)
            await session.commit()
        team_row = await people.team_by_name(session, team)
    assert user.id is not None and team_row is not None
    return Person(user.id, telegram_id, user.name, role, team_row.id, team, "en", timezone=team_row.timezone)


async def deliveries(app: App, user_id: int | None = None) -> list[TrainingDelivery]:
    async with app.db.session() as session:
        query = select(TrainingDelivery).order_by(TrainingDelivery.id)
        if user_id is not None:
            query = query.where(TrainingDelivery.user_id == user_id)
        return list((await session.exec(query)).all())


async def memory(app: App, user_id: int, card_id: str) -> TrainingMemory | None:
    async with app.db.session() as session:
        return await session.get(TrainingMemory, (user_id, card_id))


def at(hour: int, minute: int = 0, day: datetime = WEDNESDAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


async def test_cards_are_stored_at_start_and_follow_the_playbooks(app: App) -> None:
    async with app.db.session() as session:
        stored = await store.active_cards(session)
    ids = {card.id for card in app.training.cards()}
    assert {row.id for row in stored} == ids
    assert any(row.source == "authored" for row in stored) and any(row.source == "playbook" for row in stored)
    # A playbook that is no longer live: its cards are retired, not deleted (answers keep pointing at them).
    gone = app.catalog.all()[0]
    app.catalog.replace([p for p in app.catalog.all() if p.id != gone.id])
    report = await app.training.sync()
    assert report is not None and report.retired == len([c for c in ids if c]) - len(app.training.cards())
    async with app.db.session() as session:
        assert all(row.playbook_id != gone.id for row in await store.active_cards(session)
                   if row.source == "playbook")
        retired = next(c.id for c in stored if c.playbook_id == gone.id and c.source == "playbook")
        assert await store.get_card(session, retired) is not None


async def test_refreshers_come_in_the_shift_spread_out_and_capped(app: App) -> None:
    ann = await add_person(app, 3001)
    training: TrainingService = app.training
    per_day = app.config.training.per_day
    training.settings = training.settings.model_copy(update={"new_per_day": per_day})  # all new cards today
    assert await training.plan(at(7)) == 0  # before the shift
    # Minute by minute through the day: never more than per_day, never outside the shift, never two at once.
    sent_at = []
    for minute in range(0, 24 * 60, 5):
        now = WEDNESDAY + timedelta(minutes=minute)
        if await training.plan(now):
            sent_at.append(now)
    rows = await deliveries(app, ann.user_id)
    assert len(rows) == per_day == len(sent_at)
    assert all(9 <= moment.hour < 17 for moment in sent_at)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert all(gap >= timedelta(hours=1) for gap in gaps)
    assert len({row.card_id for row in rows}) == per_day  # three different cards
    assert len({row.slot for row in rows}) == per_day and all(row.slot.startswith("2026-11-25#") for row in rows)
    # Saturday is not in the default shift.
    saturday = WEDNESDAY + timedelta(days=3)
    assert sum([await training.plan(saturday + timedelta(hours=h)) for h in range(24)]) == 0


async def test_new_cards_are_capped_per_day(app: App) -> None:
    ann = await add_person(app, 3009)
    for minute in range(0, 24 * 60, 5):
        await app.training.plan(WEDNESDAY + timedelta(minutes=minute))
    rows = await deliveries(app, ann.user_id)
    # Nothing is due yet for a newcomer, so only new cards could go, and at most new_per_day of them.
    assert len(rows) == app.config.training.new_per_day and all(row.new_card for row in rows)


async def test_a_restart_after_downtime_catches_up_without_a_burst(app: App) -> None:
    await add_person(app, 3002)
    # The bot was down all morning: at 15:00 it finds the day's first two slots missed.
    assert await app.training.plan(at(15)) == 1
    assert await app.training.plan(at(15, 1)) == 0  # the second one waits for the gap, not a burst


async def test_paused_and_unreachable_people_get_no_refreshers(app: App) -> None:
    paused = await add_person(app, 3003)
    gone = await add_person(app, 3004)
    await app.training.pause(paused, True)
    await store.set_reachable(app.db, gone.telegram_id, at(8))
    assert await app.training.plan(at(16, 59)) == 0
    await app.training.pause(paused, False)
    await store.set_reachable(app.db, gone.telegram_id, None)
    assert await app.training.plan(at(16, 59)) == 2


async def test_a_night_shift_in_another_timezone(app: App, config: Config) -> None:
    night = await add_person(app, 3005, team="night", shift={"days": [0, 1, 2, 3, 4, 5, 6], "start": "22:00",
                                                            "end": "06:00"})
    async with app.db.session() as session:
        team = await people.team_by_name(session, "night")
        assert team is not None
        team.timezone = "Asia/Tokyo"
        session.add(team)
        await session.commit()
    # Quiet hours (21:00-08:00 local) cover the whole night shift: a night worker gets no refresher.
    total = 0
    for minute in range(0, 24 * 60, 10):
        total += await app.training.plan(WEDNESDAY + timedelta(minutes=minute))
    assert total == 0 and await deliveries(app, night.user_id) == []


async def test_an_answer_updates_memory_once_and_wrong_comes_back_sooner(app: App) -> None:
    right_person = await add_person(app, 3010)
    wrong_person = await add_person(app, 3011)
    training = app.training
    first = await training.practice(right_person, "train:1")
    assert first is not None
    card = await training.card(first.card_id)
    assert card is not None
    # The same card to the other person (as a scheduled slot would send it), answered wrongly.
    async with app.db.session() as session:
        other_id = await store.insert_claimed(session, user_id=wrong_person.user_id, card_id=card.id, slot="train:2",
                                              chat_id=wrong_person.telegram_id, new_card=True, at=at(10))
    assert other_id is not None
    wrong_choice = next(i for i, choice in enumerate(card.choices) if not choice.correct)

    answered = await training.answer(right_person, first.id, card.correct_index)
    assert answered.status == "answered" and answered.correct
    missed = await training.answer(wrong_person, other_id, wrong_choice)
    assert missed.status == "answered" and not missed.correct

    good = await memory(app, right_person.user_id, card.id)
    bad = await memory(app, wrong_person.user_id, card.id)
    assert good is not None and bad is not None
    assert bad.due < good.due and bad.lapses == 1 and good.reviews == bad.reviews == 1

    # Pressed again (or a forged press on the same card): the first answer stands, memory unchanged.
    again = await training.answer(right_person, first.id, wrong_choice)
    assert again.status == "again" and again.correct
    assert (await memory(app, right_person.user_id, card.id)).due == good.due  # type: ignore[union-attr]
    # Someone else's card, or a choice that does not exist: unknown, nothing changes.
    assert (await training.answer(wrong_person, first.id, 0)).status == "unknown"
    assert (await training.answer(right_person, first.id, 9)).status == "unknown"
    assert (await training.answer(right_person, 999_999, 0)).status == "unknown"


async def test_confidence_regrades_the_same_review(app: App) -> None:
    ann = await add_person(app, 3020)
    job = await app.training.practice(ann, "train:c")
    assert job is not None
    card = await app.training.card(job.card_id)
    assert card is not None
    await app.training.answer(ann, job.id, card.correct_index)
    plain = await memory(app, ann.user_id, card.id)
    sure = await app.training.set_confidence(ann, job.id, 2)
    assert sure.confidence == "sure"
    certain = await memory(app, ann.user_id, card.id)
    guessed_answer = await app.training.set_confidence(ann, job.id, 0)
    assert guessed_answer.confidence == "guessed"
    guessed = await memory(app, ann.user_id, card.id)
    assert plain is not None and certain is not None and guessed is not None
    assert certain.reviews == guessed.reviews == 1  # re-graded, not reviewed twice
    assert guessed.due < plain.due < certain.due
    assert (await app.training.set_confidence(ann, job.id, 7)).status == "unknown"


async def test_push_reaches_every_member_once(app: App) -> None:
    team = [await add_person(app, 3040 + i) for i in range(3)]
    await add_person(app, 3050, team="elsewhere")
    cards = [card.id for card in app.training.cards_of_playbook("item-out-of-stock")]
    assert team[0].team_id is not None
    members, added = await app.training.push(team[0].team_id, cards, "p1")
    assert members == 3 and added == 3 * len(cards)
    assert await app.training.push(team[0].team_id, cards, "p1") == (3, 0)  # the same push again: nothing new
    rows = await deliveries(app)
    assert {row.user_id for row in rows} == {p.user_id for p in team}
    assert all(row.kind == "push" and row.status == "pending" for row in rows)


async def test_progress_and_team_results(app: App) -> None:
    ann = await add_person(app, 3060)
    bob = await add_person(app, 3061)
    for n in range(4):
        job = await app.training.practice(ann, f"train:a{n}")
        assert job is not None
        card = await app.training.card(job.card_id)
        assert card is not None
        choice = card.correct_index if n else (card.correct_index + 1) % len(card.choices)
        await app.training.answer(ann, job.id, choice)
    figures = await app.training.progress(ann)
    assert figures.answered == 4 and figures.accuracy == pytest.approx(0.75)
    assert figures.streak == 1 and not figures.paused
    assert ann.team_id is not None
    results = await app.training.team_results(ann.team_id)
    by_name = {row.name: row for row in results}
    assert by_name[ann.name].answered == 4 and by_name[bob.name].answered == 0
    assert by_name[ann.name].last_trained is not None


async def test_the_digest_counts_the_weeks_training(app: App) -> None:
    from bot.core.digest import week_of
    from storage import digest as digest_store

    ann = await add_person(app, 3070)
    job = await app.training.practice(ann, "train:d")
    assert job is not None
    card = await app.training.card(job.card_id)
    assert card is not None
    await app.training.answer(ann, job.id, card.correct_index)
    now = datetime.now(UTC)
    week = week_of(now.date(), "UTC")
    assert ann.team_id is not None
    async with app.db.session() as session:
        figures = await digest_store.training(session, ann.team_id, week.start, week.end)
    assert figures.answered == 1 and figures.correct == 1 and figures.people_trained == 1 and figures.members == 1
