"""Two processes on one database, as two apps in this one: a publish, roll back, retire or sync made by one
reaches the other's catalog, matcher and training cards at its next look (bot/playbook_refresh.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot import playbook_refresh
from bot.config import Config, ConfigError, load_config
from bot.core.authoring import sync_files
from bot.core.catalog import Catalog
from bot.core.loader import parse_playbook
from bot.playbook_refresh import PlaybookRefresh
from storage import playbooks as store
from storage.models import Decision, TrainingCard
from tests.conftest import ADMIN_ID, ROOT, STAFF_ID
from tests.harness import Harness
from tests.test_authoring import NEW_TITLE, OLD_TITLE, REFUND_FILE, edited, people, rows, walk_to_outcome

REFUND = "refund-without-receipt"


@pytest.fixture
async def other(config: Config, harness: Harness) -> AsyncIterator[Harness]:
    """A second process on the harness's database (started after it, as a second replica would be)."""
    h = await Harness.start(config)
    try:
        yield h
    finally:
        await h.stop()


async def publish_through(h: Harness) -> None:
    mia, _ = await people(h)
    await mia.send_document(edited(), "refund.yaml", caption="More room for staff")
    await mia.press("🚀 Publish")
    assert "is live for everyone now" in mia.last_text()


def refresh_of(h: Harness) -> PlaybookRefresh:
    assert h.app.refresh is not None
    return h.app.refresh


async def test_a_publish_elsewhere_reaches_this_process_at_its_next_look(harness: Harness, other: Harness) -> None:
    old = other.app.catalog.live(REFUND)
    assert old is not None
    assert not await refresh_of(other).check()  # nothing changed yet: nothing swapped

    await publish_through(harness)
    assert other.app.catalog.live(REFUND) is old  # not before it looks
    assert await refresh_of(other).check()
    live = other.app.catalog.live(REFUND)
    assert live is not None and live.version != old.version
    assert live.outcomes["full-refund"].title.get() == NEW_TITLE
    assert other.app.catalog.signature() == harness.app.catalog.signature()
    assert not await refresh_of(other).check()  # the marker is unchanged: no second reload
    assert refresh_of(other).reloads == 1

    ann = other.person(STAFF_ID, "Ann")  # added through the first process: the people are shared
    await walk_to_outcome(ann)  # the other process's matcher and screens serve the new version
    assert NEW_TITLE in ann.screen()[0] and "€60.00" in ann.screen()[0]


async def test_a_flow_started_before_the_swap_finishes_on_its_version(harness: Harness, other: Harness) -> None:
    await people(harness)
    old_version = other.app.catalog.live(REFUND).version  # type: ignore[union-attr]
    ann = other.person(STAFF_ID, "Ann")
    await walk_to_outcome(ann)  # mid-flow, pinned to the old version
    assert OLD_TITLE in ann.screen()[0]

    await publish_through(harness)
    assert await refresh_of(other).check()
    await ann.press("✅ Done as suggested")
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(other, Decision)
    assert decision.playbook_id == REFUND and decision.playbook_version == old_version


async def test_retire_and_roll_back_elsewhere_are_followed(harness: Harness, other: Harness) -> None:
    mia, _ = await people(harness)
    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    await mia.press("📦 Retire")
    assert await refresh_of(other).check()
    assert other.app.catalog.live(REFUND) is None
    assert all(m.playbook_id != REFUND for m in other.app.catalog.matcher.search("lost receipt refund"))

    await mia.press("♻ Bring back")
    assert await refresh_of(other).check()
    assert other.app.catalog.live(REFUND) is not None
    assert other.app.catalog.signature() == harness.app.catalog.signature()


async def test_a_sync_from_a_changed_folder_is_followed(harness: Harness, tmp_path: Path) -> None:
    """`moments playbooks sync` is a process of its own: it writes the database and swaps nothing here."""
    text = REFUND_FILE.read_text(encoding="utf-8").replace(OLD_TITLE, NEW_TITLE)
    changed, _ = parse_playbook(text, "playbooks/retail/refund-without-receipt.yaml", "retail")
    assert changed is not None
    report = await sync_files(harness.app.db, [changed])
    assert report.published == ["playbooks/retail/refund-without-receipt.yaml"]
    assert harness.app.catalog.live(REFUND).version != changed.version  # type: ignore[union-attr]
    assert await refresh_of(harness).check()
    assert harness.app.catalog.live(REFUND).version == changed.version  # type: ignore[union-attr]


async def test_the_training_cards_follow_the_new_live_set(harness: Harness, other: Harness) -> None:
    await publish_through(harness)  # the publishing process does not store new cards by itself

    def refund_cards(cards: list[TrainingCard]) -> str:
        return json.dumps([c.content for c in cards if c.playbook_id == REFUND and c.active])

    assert NEW_TITLE not in refund_cards(await rows(other, TrainingCard))
    assert await refresh_of(other).check()
    assert NEW_TITLE in refund_cards(await rows(other, TrainingCard))
    assert any(NEW_TITLE in json.dumps(c.to_content()) for c in other.app.training.cards())


async def test_a_change_made_here_is_not_reloaded_but_still_syncs_the_cards(harness: Harness) -> None:
    calls: list[int] = []

    async def after() -> None:
        calls.append(1)

    refresh = PlaybookRefresh(harness.app.db, harness.app.catalog, 1, after=after)
    assert not await refresh.check() and calls == [1]  # the first look takes what is served as seen
    await publish_through(harness)  # swapped here at once by the authoring code
    assert not await refresh.check()
    assert refresh.reloads == 0 and calls == [1, 1]
    assert not await refresh.check() and calls == [1, 1]


async def test_a_reload_overtaken_by_a_change_here_is_dropped(harness: Harness, other: Harness,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    await publish_through(harness)
    real = playbook_refresh.playbooks_of
    parses: list[int] = []

    def slow_parse(*args: object) -> object:
        if not parses:  # the first time, a publish in this process swaps the catalog while the reload parses
            other.app.catalog.generation += 1
        parses.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(playbook_refresh, "playbooks_of", slow_parse)
    before = other.app.catalog.live(REFUND)
    assert not await refresh_of(other).check()
    assert other.app.catalog.live(REFUND) is before  # nothing older was put in place of the newer set
    assert await refresh_of(other).check()  # the next look compares again
    assert other.app.catalog.live(REFUND).outcomes["full-refund"].title.get() == NEW_TITLE  # type: ignore[union-attr]


async def test_the_marker_is_the_live_set(harness: Harness) -> None:
    async with harness.app.db.session() as session:
        marker = await store.live_marker(session)
    assert marker == harness.app.catalog.signature()
    assert (REFUND, harness.app.catalog.live(REFUND).version, "retail") in marker  # type: ignore[union-attr]


async def test_the_loop_survives_a_database_that_is_away(harness: Harness, other: Harness,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    real = store.live_marker
    failures = [3]

    async def flaky(session: object) -> object:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return await real(session)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "live_marker", flaky)
    await publish_through(harness)
    refresh = PlaybookRefresh(other.app.db, other.app.catalog, 0.02, after=other.app.training.sync)
    with caplog.at_level(logging.INFO, logger="bot.playbook_refresh"):
        refresh.start()
        try:
            for _ in range(200):
                if any("works again" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
        finally:
            await refresh.stop()
    assert refresh.reloads == 1 and failures == [0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "connection refused" in warnings[0].getMessage()  # once, not every look
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert other.app.catalog.live(REFUND).outcomes["full-refund"].title.get() == NEW_TITLE  # type: ignore[union-attr]


async def test_an_interval_of_zero_never_starts_and_stop_is_safe() -> None:
    refresh = PlaybookRefresh(None, Catalog([]), 0)  # type: ignore[arg-type]
    refresh.start()
    assert refresh._task is None
    await refresh.stop()


def test_the_interval_is_configured_with_an_environment_override() -> None:
    base = {"BOT_TOKEN": "42:TEST", "MOMENTS_ADMINS": str(ADMIN_ID)}
    assert load_config(ROOT / "config.yaml", environ=base).playbooks.refresh_seconds == 5
    assert load_config(ROOT / "config.yaml",
                       environ={**base, "MOMENTS_PLAYBOOKS_REFRESH": "0.5"}).playbooks.refresh_seconds == 0.5
    assert load_config(ROOT / "config.yaml",
                       environ={**base, "MOMENTS_PLAYBOOKS_REFRESH": "0"}).playbooks.refresh_seconds == 0
    with pytest.raises(ConfigError, match="refresh_seconds"):
        load_config(ROOT / "config.yaml", environ={**base, "MOMENTS_PLAYBOOKS_REFRESH": "-1"})
