"""The weekly digest: every figure against a small hand-computed week, week boundaries in Europe/Rome (also across
the October DST change), escaping, the 4,096 split, the chart, the once-per-week claim and the role checks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.methods import SendMessage
from sqlmodel import select

from bot import jobs, scheduler
from bot.app import Running
from bot.core.digest import (
    Change,
    change,
    day_index,
    last_complete_week,
    make_week,
    median_offsets,
    parse_week,
    week_of,
)
from bot.handlers.digest import build, push
from bot.ui import digest as ui
from bot.ui.digest_chart import render_chart
from bot.ui.render import MESSAGE_LIMIT
from storage import digest as store
from storage.models import Decision, DigestSent, Team, TeamOversight, User
from tests.harness import Harness

ROME = ZoneInfo("Europe/Rome")
W47 = parse_week("2026-W47", "Europe/Rome")  # Monday 16 to Sunday 22 November 2026, CET (UTC+1)
_tokens = itertools.count(1)
HOSTILE = "<b>bold</b> & <script>alert(1)</script>"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME).astimezone(UTC)


async def add(h: Harness, rows: list[Any]) -> list[Any]:
    async with h.app.db.session() as session:
        for row in rows:
            session.add(row)
        await session.commit()
        for row in rows:
            await session.refresh(row)
    return rows


async def setup_teams(h: Harness) -> dict[str, Any]:
    shop1, shop2 = await add(h, [Team(name="shop-1", timezone="Europe/Rome", currency="EUR"),
                                 Team(name="shop-2", timezone="UTC", currency="EUR")])
    people = await add(h, [
        User(telegram_id=501, name="Ann", role="staff", team_id=shop1.id),
        User(telegram_id=502, name="Bob", role="staff", team_id=shop1.id),
        User(telegram_id=503, name="Mia", role="manager", team_id=shop1.id),
        User(telegram_id=504, name="Sue", role="supervisor", team_id=shop1.id),
        User(telegram_id=505, name="Leo", role="lead", team_id=shop1.id),
        User(telegram_id=506, name="Max", role="manager", team_id=shop2.id),
        User(telegram_id=507, name="Zoe", role="supervisor", team_id=shop2.id),  # oversees shop-1
        User(telegram_id=508, name="Old", role="manager", team_id=shop1.id, active=False),
    ])
    await add(h, [TeamOversight(user_id=people[6].id, team_id=shop1.id)])
    return {"shop1": shop1, "shop2": shop2, **{u.name: u for u in people}}


def decision(user: User, team: Team, at: datetime, **values: Any) -> Decision:
    base: dict[str, Any] = {
        "flow_token": f"t{next(_tokens)}", "playbook_id": "refund", "playbook_version": "1",
        "path": [{"step": "ours", "answer": "yes"}, {"step": "condition", "answer": "unused"}],
        "recommended_outcome": "full-refund", "taken_outcome": "full-refund", "disposition": "followed",
        "followed": True, "favours_customer": True, "amount_minor": None, "currency": "EUR", "limit_minor": 5000,
        "seconds_to_decide": 10.0,
    }
    base.update(values)
    return Decision(user_id=user.id, team_id=team.id, created_at=at, **base)


async def hand_week(h: Harness) -> dict[str, Any]:
    """The hand-computed data set (see the expected figures in test_every_figure)."""
    s = await setup_teams(h)
    t, ann, bob = s["shop1"], s["Ann"], s["Bob"]
    await add(h, [
        decision(ann, t, local(2026, 11, 16, 10, 0), amount_minor=3000, reaction="happy", seconds_to_decide=30),
        decision(ann, t, local(2026, 11, 17, 11, 0), taken_outcome="store-credit", disposition="other",
                 followed=False, favours_customer=False, reaction="unhappy", seconds_to_decide=60, note=HOSTILE),
        decision(bob, t, local(2026, 11, 18, 12, 0), disposition="escalated", followed=False, amount_minor=8000,
                 over_limit=True, escalation="approved", lead_user_id=s["Leo"].id, note="asked the lead",
                 reaction="neutral", seconds_to_decide=120),
        # Sunday 23:30 in Rome (22:30 UTC): still week 47.
        decision(bob, t, local(2026, 11, 22, 23, 30), playbook_id="late-delivery",
                 path=[{"step": "delay", "answer": "days"}], recommended_outcome="voucher", taken_outcome="voucher",
                 disposition="escalated", followed=False, amount_minor=1500, escalation="timeout", on_timeout=True,
                 seconds_to_decide=200),
        # Monday 00:30 in Rome (Sunday 23:30 UTC): week 48, not in this digest.
        decision(ann, t, local(2026, 11, 23, 0, 30), amount_minor=99999, seconds_to_decide=999),
        # Another team's decision in the same week: not in this digest.
        decision(s["Max"], s["shop2"], local(2026, 11, 18, 9, 0), amount_minor=50000),
        # Previous week (W46): two followed decisions, €10 each, 20 s and 40 s.
        decision(ann, t, local(2026, 11, 10, 9, 0), amount_minor=1000, seconds_to_decide=20),
        decision(bob, t, local(2026, 11, 12, 9, 0), amount_minor=1000, seconds_to_decide=40),
    ])
    return s


async def figures_of(h: Harness, team: Team, week: Any = W47) -> Any:
    async with h.app.db.session() as session:
        return await store.figures(session, team, week, "EUR")


# ---- pure: weeks ------------------------------------------------------------------------------------------------


def test_week_bounds_in_rome_and_labels() -> None:
    assert W47.label == "2026-W47"
    assert W47.start == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)  # Monday 00:00 CET
    assert W47.end == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert W47.previous().label == "2026-W46"
    assert parse_week("2027-w01", "UTC").label == "2027-W01"
    assert week_of(datetime(2026, 11, 22).date(), "Europe/Rome").label == "2026-W47"
    # Monday 08:00 in Rome: the last complete week is the one that ended at midnight.
    assert last_complete_week(local(2026, 11, 23, 8, 0), "Europe/Rome").label == "2026-W47"
    # Sunday 23:59 in Rome is still week 47 itself: the last complete one is 46.
    assert last_complete_week(local(2026, 11, 22, 23, 59), "Europe/Rome").label == "2026-W46"
    with pytest.raises(ValueError):
        parse_week("2026-W54", "UTC")
    with pytest.raises(ValueError):
        parse_week("last week", "UTC")


def test_a_dst_week_has_169_hours_and_days_fall_right() -> None:
    week = week_of(datetime(2026, 10, 25).date(), "Europe/Rome")
    assert week.label == "2026-W43"
    assert week.hours == 169  # clocks go back on Sunday 25 October at 03:00 CEST
    assert week.start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)  # Monday 00:00 CEST
    assert week.end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # Monday 00:00 CET
    assert week.day_starts()[6] == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # Sunday 00:00 CEST
    assert day_index(datetime(2026, 10, 24, 21, 30, tzinfo=UTC), week) == 5  # Saturday 23:30 CEST
    assert day_index(datetime(2026, 10, 24, 22, 30, tzinfo=UTC), week) == 6  # Sunday 00:30 CEST
    assert day_index(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), week) == 6  # Sunday 02:30 CET, after the change
    assert make_week(2026, 44, "Europe/Rome").hours == 168


def test_median_offsets_and_changes() -> None:
    assert median_offsets(0) == (0, 0)
    assert median_offsets(1) == (0, 1)
    assert median_offsets(4) == (1, 2)
    assert median_offsets(5) == (2, 1)
    assert change(4, 2) == Change("▲", 2)
    assert change(25, 100) == Change("▼", -75)
    assert change(3, 3) == Change("=", 0)
    assert change(1, None) is None
    assert change(4, 2).text_delta == "+2" and change(25, 100).text_delta == "−75"  # type: ignore[union-attr]


def test_pack_keeps_sections_whole_and_every_message_under_the_limit() -> None:
    parts = ["a" * 3000, "b" * 1000, "c" * 1000, "d" * 4096]
    messages = ui.pack(parts)
    assert messages == ["a" * 3000 + "\n\n" + "b" * 1000, "c" * 1000, "d" * 4096]
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)


# ---- figures in SQL, on SQLite and PostgreSQL ---------------------------------------------------------------------


async def test_every_figure(harness: Harness) -> None:
    s = await hand_week(harness)
    f = await figures_of(harness, s["shop1"])
    t = f.totals
    assert (t.decisions, t.followed, t.favouring, t.escalated) == (4, 1, 3, 2)
    assert t.followed_share == 0.25 and t.favouring_share == 0.75
    assert t.median_seconds == 90  # 30 60 | 120 200 → (60 + 120) / 2
    assert (t.spent_minor, t.over_limit, t.approved_by_lead, t.on_timeout) == (12500, 1, 1, 1)
    p = f.previous
    assert (p.decisions, p.followed, p.spent_minor, p.median_seconds) == (2, 2, 2000, 30)

    assert [(r.playbook_id, r.outcome, r.decisions, r.spent_minor) for r in f.outcomes] == [
        ("late-delivery", "voucher", 1, 1500), ("refund", "full-refund", 2, 11000), ("refund", "store-credit", 1, 0)]
    assert [(x.amount_minor, x.user_name, x.playbook_id, x.outcome, x.note, x.over_limit) for x in f.largest] == [
        (8000, "Bob", "refund", "full-refund", "asked the lead", True),
        (3000, "Ann", "refund", "full-refund", None, False),
        (1500, "Bob", "late-delivery", "voucher", None, False)]
    assert [(r.playbook_id, r.step, r.recommended, r.count, r.other, r.escalated, r.notes) for r in f.reviews] == [
        ("refund", "condition", "full-refund", 2, 1, 1, ["asked the lead", HOSTILE]),  # latest note first
        ("late-delivery", "delay", "voucher", 1, 0, 1, [])]
    assert [(r.playbook_id, r.happy, r.neutral, r.unhappy) for r in f.reactions] == [("refund", 1, 1, 1)]
    assert [(x.name, x.decisions, x.over_limit) for x in f.people] == [("Ann", 2, 0), ("Bob", 2, 1)]
    assert [(d.day.day, d.followed, d.other, d.escalated, d.spent_minor, d.over_limit) for d in f.days] == [
        (16, 1, 0, 0, 3000, 0), (17, 0, 1, 0, 0, 0), (18, 0, 0, 1, 8000, 1), (19, 0, 0, 0, 0, 0),
        (20, 0, 0, 0, 0, 0), (21, 0, 0, 0, 0, 0), (22, 0, 0, 1, 1500, 0)]
    assert f.unmatched == []  # the table exists here (the unmatched feature), and holds nothing this week
    assert f.spent_by_outcome() == [("refund", "full-refund", 11000), ("late-delivery", "voucher", 1500)]

    # The Monday 00:30 decision is week 48's.
    f48 = await figures_of(harness, s["shop1"], parse_week("2026-W48", "Europe/Rome"))
    assert f48.totals.decisions == 1 and f48.totals.spent_minor == 99999

    text = "\n\n".join(ui.messages(harness.app.renderer, f, "en"))
    assert "<b>Decisions: 4</b> (▲ +2 vs previous week)" in text
    assert "followed the recommendation: 25% (▼ −75 pts vs previous week)" in text
    assert "favoured the customer: 75% (▼ −25 pts vs previous week)" in text
    assert "median time to decide: 90 s (▲ +60 s vs previous week)" in text
    assert "€125.00 spent</b> (▲ +105 EUR vs previous week)" in text
    assert "over the limit: 1 · approved by a lead: 1 · decided on timeout: 1" in text
    assert "1. €80.00 ⚠️ · Bob · refund → full-refund · “asked the lead”" in text
    assert "store-credit: 1" in text
    assert "<b>refund</b> · step condition · recommended full-refund: 2 times (1 otherwise, 1 escalated)" in text
    assert "refund: 😊 1 · 😐 1 · 😞 1" in text
    assert "Bob: 2 · ⚠️ 1" in text
    assert "2026-W47: 16 Nov – 22 Nov 2026 (Europe/Rome)" in text


async def test_hostile_notes_and_names_are_escaped(harness: Harness) -> None:
    s = await hand_week(harness)
    async with harness.app.db.session() as session:
        bob = await session.get(User, s["Bob"].id)
        assert bob is not None
        bob.name = "<i>Bob</i> & co"
        session.add(bob)
        await session.commit()
    text = "\n".join(ui.messages(harness.app.renderer, await figures_of(harness, s["shop1"]), "en"))
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;i&gt;Bob&lt;/i&gt; &amp; co" in text
    assert "<script>" not in text and "<i>Bob" not in text


async def test_a_dst_week_in_sql(harness: Harness) -> None:
    s = await setup_teams(harness)
    t, ann = s["shop1"], s["Ann"]
    await add(harness, [
        decision(ann, t, datetime(2026, 10, 18, 21, 30, tzinfo=UTC)),  # Sunday 23:30 CEST: week 42
        decision(ann, t, datetime(2026, 10, 18, 22, 30, tzinfo=UTC)),  # Monday 00:30 CEST: week 43, Monday
        decision(ann, t, datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # Sunday 02:30 CEST, before the change
        decision(ann, t, datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),  # Sunday 02:30 CET, after it
        decision(ann, t, datetime(2026, 10, 25, 22, 30, tzinfo=UTC)),  # Sunday 23:30 CET: still week 43
        decision(ann, t, datetime(2026, 10, 25, 23, 30, tzinfo=UTC)),  # Monday 00:30 CET: week 44
    ])
    week = parse_week("2026-W43", "Europe/Rome")
    f = await figures_of(harness, t, week)
    assert f.totals.decisions == 4
    assert [d.decisions for d in f.days] == [1, 0, 0, 0, 0, 0, 3]
    assert f.previous.decisions == 1
    assert (await figures_of(harness, t, parse_week("2026-W44", "Europe/Rome"))).totals.decisions == 1


async def test_an_empty_week_says_so_in_one_line(harness: Harness) -> None:
    s = await setup_teams(harness)
    digest = await build(harness.app.db, harness.app.renderer, harness.config, s["shop1"], W47, "en")
    assert digest.messages == ["📊 <b>shop-1</b> · 2026-W47: no decisions this week."]
    assert digest.chart is None and digest.csv is None


async def test_the_4096_split_falls_between_sections(harness: Harness) -> None:
    s = await setup_teams(harness)
    t = s["shop1"]
    rows = []
    for group in range(10):  # ten rules worked around, each with long notes: far over one message
        for n in range(4):
            rows.append(decision(s["Ann"], t, W47.start + timedelta(hours=group * 10 + n), disposition="other",
                                 followed=False, playbook_id=f"playbook-{group}", amount_minor=100 + group,
                                 note=f"note {group}.{n} " + "long & <odd> words " * 20))
    await add(harness, rows)
    messages = ui.messages(harness.app.renderer, await figures_of(harness, t), "en")
    assert len(messages) >= 2
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    starts = ("📊", "<b>Decisions", "💶", "🔧", "🙂", "❓", "🎯", "👥")
    assert all(m.startswith(starts) for m in messages), [m[:20] for m in messages]
    reviews = next(m for m in messages if m.startswith("🔧"))
    # One section longer than a message: cut at a line and marked; the next section may follow it.
    assert reviews.endswith("\n…") or "\n…\n\n🎯" in reviews or "\n…\n\n👥" in reviews
    assert "&lt;odd&gt;" in reviews


async def test_the_chart_is_a_png(harness: Harness, tmp_path: Any) -> None:
    s = await hand_week(harness)
    f = await figures_of(harness, s["shop1"])
    data = render_chart(f, ui.chart_labels(harness.app.renderer, "en"))
    assert data.startswith(b"\x89PNG")
    (tmp_path / "digest.png").write_bytes(data)


async def test_the_csv_holds_the_weeks_decisions_of_the_team(harness: Harness) -> None:
    s = await hand_week(harness)
    digest = await build(harness.app.db, harness.app.renderer, harness.config, s["shop1"], W47, "en",
                         with_chart=False)
    assert digest.csv is not None
    lines = digest.csv.decode().strip().splitlines()
    assert lines[0].startswith("decision_id,created_at") and len(lines) == 1 + 4
    assert digest.filename == "decisions-shop-1-2026-W47"


# ---- delivery: once per team and week, recipients, roles ----------------------------------------------------------


async def test_push_goes_once_per_team_and_week_even_after_a_restart(harness: Harness) -> None:
    s = await hand_week(harness)
    team_id = s["shop1"].id
    now = local(2026, 11, 23, 8, 0)
    harness.session.blocked.add(504)  # Sue blocked the bot: skipped, counted
    app = harness.app
    report = await push(app.db, app.renderer, app.config, harness.bot, team_id, now=now)
    assert report is not None and report.claimed and report.week == "2026-W47"
    # Mia (manager), Sue (supervisor, blocked), Zoe (supervisor of shop-2 overseeing shop-1); not the inactive one.
    assert (report.recipients, report.sent, report.blocked) == (3, 2, 1)
    chats = {int(r.chat_id) for r in harness.session.sent(SendMessage)}
    assert chats == {503, 504, 507}
    assert {chat for chat, _, _ in harness.session.photos} == {503, 507}
    assert {(chat, name) for chat, name, _ in harness.session.documents} == {
        (503, "decisions-shop-1-2026-W47.csv"), (507, "decisions-shop-1-2026-W47.csv")}
    sent_before = len(harness.session.requests)

    again = await push(app.db, app.renderer, app.config, harness.bot, team_id, now=now)
    assert again is not None and not again.claimed
    assert len(harness.session.requests) == sent_before

    restarted = await Harness.start(harness.config)  # a second process, or the same after a restart
    try:
        third = await push(restarted.app.db, restarted.app.renderer, restarted.app.config, restarted.bot, team_id,
                           now=now + timedelta(hours=1))
        assert third is not None and not third.claimed
        assert restarted.session.requests == []
    finally:
        await restarted.stop()
    async with app.db.session() as session:
        [row] = (await session.exec(select(DigestSent))).all()
    assert (row.week, row.recipients, row.blocked) == ("2026-W47", 3, 1)


async def test_claim_twice_only_the_first_wins(harness: Harness) -> None:
    s = await setup_teams(harness)
    async with harness.app.db.session() as one, harness.app.db.session() as two:
        assert await store.claim(one, s["shop1"].id, "2026-W47")
        assert not await store.claim(two, s["shop1"].id, "2026-W47")
        assert await store.claim(two, s["shop1"].id, "2026-W48")


async def test_digest_command_role_checks(harness: Harness) -> None:
    await hand_week(harness)
    for telegram_id in (501, 505):  # staff, lead: no DIGESTS permission
        await harness.person(telegram_id).send("/digest shop-1 2026-W47")
        assert "not part of your role" in harness.person(telegram_id).last_text()
    harness.session.clear()
    max_ = harness.person(506, "Max")
    await max_.send("/digest shop-1 2026-W47")  # a manager of another team
    assert "not one of the teams you cover" in max_.last_text()
    assert len(harness.session.sent(SendMessage)) == 1 and not harness.session.photos
    assert not harness.session.documents

    zoe = harness.person(507, "Zoe")
    await zoe.send("/digest shop-1 2026-W47")  # a supervisor overseeing shop-1
    texts = [r.text for r in harness.session.sent(SendMessage) if int(r.chat_id) == 507]
    assert texts[0].startswith("📊 <b>Weekly digest · shop-1</b>")
    assert [chat for chat, _, _ in harness.session.photos] == [507]
    assert [chat for chat, _, _ in harness.session.documents] == [507]


async def test_digest_command_defaults_to_own_team_and_last_complete_week(harness: Harness) -> None:
    await setup_teams(harness)
    mia = harness.person(503, "Mia")
    await mia.send("/digest")
    expected = last_complete_week(datetime.now(UTC), "Europe/Rome").label
    assert mia.last_text() == f"📊 <b>shop-1</b> · {expected}: no decisions this week."
    await mia.send("/digest shop-1 2026-W60")
    assert "is not a week" in mia.last_text()
    await mia.send("/digest nowhere")
    assert "There is no team <b>nowhere</b>" in mia.last_text()


async def test_one_weekly_job_per_team_in_its_time_zone(harness: Harness) -> None:
    s = await setup_teams(harness)
    scheduler.start(Running(harness.app, harness.bot, harness.dp), harness.config.database_url)
    try:
        ids = await jobs.schedule_weekly_digests(harness.app)
        assert f"digest-{s['shop1'].id}" in ids and f"digest-{s['shop2'].id}" in ids
        job = scheduler._running().get_job(f"digest-{s['shop1'].id}")
        assert job.func_ref == "bot.jobs:weekly_digest" and job.kwargs == {"team_id": s["shop1"].id}
        after = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        fire = job.trigger.get_next_fire_time(None, after)
        assert fire.astimezone(ROME).replace(tzinfo=None) == datetime(2026, 11, 23, 8, 0)
        # Re-registering at the next start replaces, never duplicates.
        await jobs.schedule_weekly_digests(harness.app)
        assert sorted(i for i in scheduler.job_ids() if i.startswith("digest-")) == sorted(ids)
    finally:
        for job_id in scheduler.job_ids():
            scheduler.cancel(job_id)
        await scheduler.shutdown()


def test_money_figures_are_decimals() -> None:
    from bot.core.money import from_minor

    assert from_minor(12500, 2) == Decimal("125.00")


# ---- the command line ---------------------------------------------------------------------------------------------


async def test_cli_digest_show_prints_text_and_the_chart_path(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from tests.test_cli import cli, env

    await hand_week(harness)
    env(monkeypatch, harness.config)
    capsys.readouterr()
    assert await cli("digest", "show", "--team", "shop-1", "--week", "2026-W47") == 0
    out = capsys.readouterr().out
    assert "📊 Weekly digest · shop-1\n" in out and "<b>Weekly" not in out and "<b>Decisions" not in out
    assert "<b>bold</b> & <script>" in out  # tags stripped from the template, the note's own text shown as typed
    chart = Path(out.strip().splitlines()[-1].removeprefix("chart: "))
    assert chart.read_bytes().startswith(b"\x89PNG")
    chart.unlink()
    assert await cli("digest", "show", "--team", "nowhere") == 1


def test_cli_digest_push_without_a_token_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    from tests.test_cli import ROOT

    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["digest", "push", "--team", "shop-1"]) == 2
    assert "@BotFather" in capsys.readouterr().err
